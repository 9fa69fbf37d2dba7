#pragma once
// The gateway's settings: parsed once at startup (config/load.h), immutable afterwards. Inner
// layers receive the struct they need, never the YAML tree. Every field's default here is the
// default documented in docs/configuration.md.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wsgate::config {

using std::chrono::milliseconds;

struct HttpUrl {
    std::string scheme = "http";
    std::string host;
    std::string port = "80";
    std::string target = "/";  // path + query sent on the request line
    std::string host_header;   // "host:port" (port omitted when 80)
};

struct IntegrationSettings {
    // http: Lambda-proxy events over HTTP. http_proxy: the raw message as the request body and the
    // backend's body as the answer (AWS HTTP_PROXY). echo: built in.
    enum class Type { http, http_proxy, echo };
    Type type = Type::http;
    std::string method = "POST";  // http_proxy only
    // http_proxy only: AWS request parameter mapping, target -> source, e.g.
    // "integration.request.header.ConnectionId" -> "context.connectionId".
    std::vector<std::pair<std::string, std::string>> request_parameters;
    HttpUrl url;                          // type == http
    milliseconds timeout{29'000};         // AWS's maximum and default
    std::size_t max_connections = 64;     // keep-alive pool size (= requests in flight) per backend
    std::size_t max_queued = 10'000;      // requests waiting for a pool slot; beyond: failure
};

struct RouteSettings {
    std::string integration;   // key of Settings::integrations
    bool route_response = false;  // two-way: send the integration's body back to the client
    bool api_key_required = false;  // $connect only: x-api-key must name a configured key
    bool aws_iam = false;           // $connect only: the upgrade must be SigV4-signed (AWS_IAM)
    std::optional<milliseconds> timeout;  // overrides the integration's timeout_ms for this route
};

// A Lambda REQUEST authorizer on $connect, reached over HTTP: it receives AWS's authorizer event
// and answers with what the Lambda would return (principalId, policyDocument, context).
struct AuthorizerSettings {
    std::string integration;      // empty: no authorizer
    std::string identity_source;  // e.g. "route.request.header.Auth,route.request.querystring.token"
    milliseconds cache_ttl{0};    // 0: no caching (AWS does not cache WebSocket authorizers)
    std::string account_id = "123456789012";  // for the methodArn
};

struct ConnectionSettings {
    std::size_t send_queue_max_bytes = 1 << 20;   // queued outbound bytes per connection
    std::size_t max_inflight_messages = 16;       // integration calls in flight per connection
    std::size_t max_message_bytes = 128 * 1024;   // inbound message limit (close 1009 beyond)
    std::size_t max_frame_bytes = 32 * 1024;      // inbound frame limit (close 1009 beyond)
    std::size_t outbound_frame_bytes = 32 * 1024; // outbound messages are fragmented at this size
    milliseconds handshake_timeout{10'000};       // to receive the upgrade request headers
    milliseconds idle_timeout{600'000};           // AWS: 10 min without data either way; 0 = off
    milliseconds max_duration{7'200'000};         // AWS: 2 h per connection; 0 = off
    milliseconds ping_interval{0};                // server pings to find dead peers; 0 = off (AWS)
    std::size_t max_connections = 0;              // per node; 0 = no limit
    bool deliver_binary = false;                  // AWS closes with 1003; true: base64 to $default
};

struct Credential {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
};

struct ManagementSettings {
    enum class Auth { sigv4, none };
    Auth auth = Auth::sigv4;
    std::string region = "us-east-1";
    std::vector<Credential> credentials;  // filled from the environment or a local pair if empty
    bool credentials_from_default = false;  // true when the built-in local pair is in use
};

// AWS's ThrottlingRateLimit / ThrottlingBurstLimit. Absent = no throttling.
struct ThrottleSettings {
    bool enabled = false;
    double rate_limit = 0;       // tokens per second, steady state
    std::uint64_t burst_limit = 0;  // bucket capacity
};

struct ThrottlingSettings {
    ThrottleSettings messages;                       // per stage, every route without its own limit
    std::map<std::string, ThrottleSettings> routes;  // per stage and route key
    ThrottleSettings connections;                    // new connections per second, per node
    ThrottleSettings management;                     // @connections calls per second, per node
};

struct ObservabilitySettings {
    std::string admin_address;  // /metrics, /healthz, /readyz; empty = no admin listener
    std::uint16_t admin_port = 0;
    std::string access_log_destination;  // empty = off, "-" = stdout, else a file path
    std::string access_log_format = "default";  // "default", "clf", or an AWS $context template
};

// A second listener speaking TLS (wss://, https://) next to the plain one. Off unless the
// configuration has a `tls` section; the certificate and key are loaded when the server starts.
struct TlsSettings {
    enum class MinVersion { tls1_2, tls1_3 };
    bool enabled = false;
    std::string listen_address = "127.0.0.1";
    std::uint16_t listen_port = 8443;
    std::string cert_file;  // PEM: the server certificate, then any intermediates
    std::string key_file;   // PEM: its private key, unencrypted
    MinVersion min_version = MinVersion::tls1_2;
};

// The broadcast extension (docs/broadcast.md).
struct ChannelSettings {
    std::size_t max_per_connection = 100;  // channels one connection may be in
    std::size_t max_members = 0;           // members per channel on one node; 0 = no limit
};

// Cluster mode (docs/clustering.md): off unless `redis` is set.
struct ClusterSettings {
    bool enabled = false;
    std::string redis_host;        // from cluster.redis: redis://[[user]:password@]host[:port][/db]
    std::uint16_t redis_port = 6379;
    std::string redis_username;    // Redis 6 ACL user; empty = AUTH with the password only
    std::string redis_password;    // empty = no AUTH
    unsigned redis_db = 0;
    std::string key_prefix = "wsgate:";
    std::string node_id;           // empty: the host name; each process adds a random incarnation
    milliseconds heartbeat{1'000};     // how often a node refreshes its liveness key
    milliseconds node_ttl{5'000};      // a node silent this long is dead; its connections are reaped
    milliseconds forward_timeout{2'000};  // a management call forwarded to another node
};

struct Settings {
    std::string listen_address = "127.0.0.1";
    std::uint16_t listen_port = 8080;
    unsigned threads = 0;  // 0 = one per core
    std::string api_id = "wsgatelocal";
    std::string domain_name;  // empty: the Host header the client sent
    std::string route_selection_expression = "$request.body.action";
    std::vector<std::string> stages{"dev"};
    std::map<std::string, IntegrationSettings> integrations;  // always holds the built-in "echo"
    std::map<std::string, RouteSettings> routes;
    ConnectionSettings connection;
    ManagementSettings management;
    milliseconds drain_timeout{10'000};
    std::string log_level = "info";  // debug | info | warn | error
    ThrottlingSettings throttling;
    ObservabilitySettings observability;
    AuthorizerSettings authorizer;
    std::vector<std::string> api_keys;  // values accepted in x-api-key
    TlsSettings tls;
    ClusterSettings cluster;
    ChannelSettings channels;
};

}  // namespace wsgate::config
