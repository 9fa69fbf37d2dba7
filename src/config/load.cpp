#include "config/load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <boost/url/parse.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

namespace wsgate::config {

const std::string_view kEmbeddedDefault = R"yaml(# wsgate's embedded default configuration.
listen: 127.0.0.1:8080
stages: [dev]
routes:
  $default:
    integration: echo
    route_response: true
)yaml";

const std::string_view kUsage = R"(usage: wsgate [options]

  --config FILE        YAML configuration (see docs/configuration.md); default: embedded
  --integration URL    send $connect, $disconnect and every message to this HTTP backend
                       (Lambda-proxy events; $default answers the client)
  --listen HOST:PORT   address to listen on (port 0 picks a free port)
  --threads N          I/O threads (0 = one per core)
  --redis URL          cluster mode: share connections with other nodes through this Redis
                       (redis://[:PASSWORD@]HOST:PORT[/DB]; see docs/clustering.md)
  --print-default-config  print the embedded default configuration and exit
  publish ...          send one signed message to a channel (wsgate publish --help)
  --version            print the version and exit
  --help               this text
)";

namespace {

[[noreturn]] void fail(std::string_view key, std::string_view what) {
    throw ConfigError("config: " + std::string(key) + ": " + std::string(what));
}

std::string join(std::string_view a, std::string_view b) {
    return a.empty() ? std::string(b) : std::string(a) + "." + std::string(b);
}

// Every mapping is checked against the keys it may hold, so a typo is an error, not a silent default.
void expect_keys(const YAML::Node& n, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
    if (!n.IsMap()) fail(path.empty() ? "(top level)" : path, "expected a mapping");
    for (const auto& kv : n) {
        if (!kv.first.IsScalar()) fail(path.empty() ? "(top level)" : path, "keys must be plain strings");
        const auto key = kv.first.Scalar();
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            fail(join(path, key), "unknown key");
        }
    }
}

std::string scalar(const YAML::Node& n, std::string_view key) {
    if (!n.IsScalar()) fail(key, "expected a string");
    return n.Scalar();
}

template <typename Int>
Int integer(const YAML::Node& n, std::string_view key, Int lo, Int hi) {
    const std::string s = scalar(n, key);
    long long v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) fail(key, "expected an integer, got '" + s + "'");
    if (v < static_cast<long long>(lo) || v > static_cast<long long>(hi)) {
        fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + s);
    }
    return static_cast<Int>(v);
}

bool boolean(const YAML::Node& n, std::string_view key) {
    const std::string s = scalar(n, key);
    if (s == "true") return true;
    if (s == "false") return false;
    fail(key, "expected true or false, got '" + s + "'");
}

milliseconds millis(const YAML::Node& n, std::string_view key, long long lo, long long hi) {
    return milliseconds(integer<long long>(n, key, lo, hi));
}

struct HostPort {
    std::string host;
    std::uint16_t port;
};

HostPort parse_host_port(std::string_view v, std::string_view key);

void parse_listen(std::string_view v, std::string_view key, Settings& s) {
    const auto hp = parse_host_port(v, key);
    s.listen_address = hp.host;
    s.listen_port = hp.port;
}

HostPort parse_host_port(std::string_view v, std::string_view key) {
    const auto colon = v.rfind(':');
    if (colon == std::string_view::npos || colon == 0) fail(key, "expected HOST:PORT, got '" + std::string(v) + "'");
    std::string host(v.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned char addr[sizeof(in6_addr)];
    if (inet_pton(AF_INET, host.c_str(), addr) != 1 && inet_pton(AF_INET6, host.c_str(), addr) != 1) {
        fail(key, "expected an IP address (e.g. 127.0.0.1, 0.0.0.0, [::1]), got '" + host + "'");
    }
    return {host, integer<std::uint16_t>(YAML::Node(std::string(v.substr(colon + 1))), key, 0, 65535)};
}

ThrottleSettings parse_throttle(const YAML::Node& n, const std::string& path) {
    expect_keys(n, path, {"rate_limit", "burst_limit"});
    if (!n["rate_limit"] || !n["burst_limit"]) fail(path, "needs rate_limit and burst_limit");
    ThrottleSettings t;
    t.enabled = true;
    t.rate_limit = static_cast<double>(integer<long long>(n["rate_limit"], join(path, "rate_limit"), 0, 1'000'000'000));
    t.burst_limit = integer<std::uint64_t>(n["burst_limit"], join(path, "burst_limit"), 0, 1'000'000'000);
    return t;
}

void parse_throttling(const YAML::Node& n, ThrottlingSettings& t) {
    expect_keys(n, "throttling", {"messages", "routes", "connections", "management"});
    if (n["messages"]) t.messages = parse_throttle(n["messages"], "throttling.messages");
    if (n["connections"]) t.connections = parse_throttle(n["connections"], "throttling.connections");
    if (n["management"]) t.management = parse_throttle(n["management"], "throttling.management");
    if (const auto routes = n["routes"]) {
        if (!routes.IsMap()) fail("throttling.routes", "expected a mapping of route key -> limits");
        for (const auto& kv : routes) {
            if (!kv.first.IsScalar()) fail("throttling.routes", "route keys must be plain strings");
            const auto key = kv.first.Scalar();
            t.routes[key] = parse_throttle(kv.second, "throttling.routes." + key);
        }
    }
}

bool valid_stage(std::string_view st) {
    if (st.empty() || st.size() > 128) return false;
    return std::all_of(st.begin(), st.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

// AWS's mapping grammar, the part that applies to a WebSocket HTTP_PROXY integration: targets
// integration.request.header.X / .querystring.X; sources context.X, route.request.header.X,
// route.request.querystring.X ($connect only), or a 'static' value. Hop-by-hop and framing
// headers cannot be targets.
bool valid_parameter_mapping(std::string_view target, std::string_view source, std::string* why) {
    constexpr std::string_view kHeader = "integration.request.header.";
    constexpr std::string_view kQuery = "integration.request.querystring.";
    std::string_view name;
    if (target.starts_with(kHeader)) {
        name = target.substr(kHeader.size());
        static constexpr std::string_view kForbidden[] = {"connection", "upgrade", "host", "content-length",
                                                          "transfer-encoding", "keep-alive", "te", "trailer",
                                                          "proxy-authorization", "proxy-connection"};
        std::string lower(name);
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (std::find(std::begin(kForbidden), std::end(kForbidden), lower) != std::end(kForbidden)) {
            *why = "hop-by-hop and framing headers cannot be mapped";
            return false;
        }
    } else if (target.starts_with(kQuery)) {
        name = target.substr(kQuery.size());
    } else {
        *why = "targets are integration.request.header.NAME or integration.request.querystring.NAME";
        return false;
    }
    if (name.empty()) {
        *why = "missing the header or query parameter name";
        return false;
    }
    const bool quoted = source.size() >= 2 && source.front() == '\'' && source.back() == '\'';
    if (!quoted && !source.starts_with("context.") && !source.starts_with("route.request.header.") &&
        !source.starts_with("route.request.querystring.")) {
        *why = "sources are context.NAME, route.request.header.NAME, route.request.querystring.NAME or 'static'";
        return false;
    }
    return true;
}

IntegrationSettings parse_integration(const YAML::Node& n, const std::string& path) {
    expect_keys(n, path, {"type", "url", "timeout_ms", "max_connections", "max_queued", "method",
                          "request_parameters"});
    IntegrationSettings it;
    const std::string type = n["type"] ? scalar(n["type"], join(path, "type")) : "http";
    if (type == "http" || type == "http_proxy") {
        it.type = type == "http" ? IntegrationSettings::Type::http : IntegrationSettings::Type::http_proxy;
        if (!n["url"]) fail(join(path, "url"), "required for an " + type + " integration");
        it.url = parse_http_url(scalar(n["url"], join(path, "url")), join(path, "url"));
        if (it.type == IntegrationSettings::Type::http) {
            for (const char* k : {"method", "request_parameters"}) {
                if (n[k]) fail(join(path, k), "only for http_proxy integrations");
            }
        }
        if (n["method"]) {
            it.method = scalar(n["method"], join(path, "method"));
            static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
            if (std::find(std::begin(kMethods), std::end(kMethods), it.method) == std::end(kMethods)) {
                fail(join(path, "method"), "expected GET, POST, PUT, PATCH or DELETE, got '" + it.method + "'");
            }
        }
        if (const auto rp = n["request_parameters"]) {
            if (!rp.IsMap()) fail(join(path, "request_parameters"), "expected a mapping of target -> source");
            for (const auto& kv : rp) {
                if (!kv.first.IsScalar()) fail(join(path, "request_parameters"), "targets must be plain strings");
                const std::string target = kv.first.Scalar();
                const std::string key = join(path, "request_parameters." + target);
                const std::string source = scalar(kv.second, key);
                std::string why;
                if (!valid_parameter_mapping(target, source, &why)) fail(key, why);
                it.request_parameters.emplace_back(target, source);
            }
        }
    } else if (type == "echo") {
        it.type = IntegrationSettings::Type::echo;
        for (const char* k : {"url", "timeout_ms", "max_connections", "max_queued", "method", "request_parameters"}) {
            if (n[k]) fail(join(path, k), "not used by an echo integration");
        }
    } else {
        fail(join(path, "type"), "expected http, http_proxy or echo, got '" + type + "'");
    }
    // AWS allows 50 ms to 29 s; longer is allowed here because self-hosted backends may need it.
    if (n["timeout_ms"]) it.timeout = millis(n["timeout_ms"], join(path, "timeout_ms"), 50, 3'600'000);
    if (n["max_connections"]) it.max_connections = integer<std::size_t>(n["max_connections"], join(path, "max_connections"), 1, 100'000);
    if (n["max_queued"]) it.max_queued = integer<std::size_t>(n["max_queued"], join(path, "max_queued"), 0, 10'000'000);
    return it;
}

void parse_management(const YAML::Node& n, ManagementSettings& m) {
    expect_keys(n, "management", {"auth", "region", "credentials"});
    if (n["auth"]) {
        const std::string a = scalar(n["auth"], "management.auth");
        if (a == "sigv4") m.auth = ManagementSettings::Auth::sigv4;
        else if (a == "none") m.auth = ManagementSettings::Auth::none;
        else fail("management.auth", "expected sigv4 or none, got '" + a + "'");
    }
    if (n["region"]) m.region = scalar(n["region"], "management.region");
    if (n["credentials"]) {
        const auto& list = n["credentials"];
        if (!list.IsSequence()) fail("management.credentials", "expected a list");
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string p = "management.credentials[" + std::to_string(i) + "]";
            expect_keys(list[i], p, {"access_key_id", "secret_access_key", "session_token"});
            Credential c;
            if (!list[i]["access_key_id"] || !list[i]["secret_access_key"]) {
                fail(p, "needs access_key_id and secret_access_key");
            }
            c.access_key_id = scalar(list[i]["access_key_id"], join(p, "access_key_id"));
            c.secret_access_key = scalar(list[i]["secret_access_key"], join(p, "secret_access_key"));
            if (list[i]["session_token"]) c.session_token = scalar(list[i]["session_token"], join(p, "session_token"));
            m.credentials.push_back(std::move(c));
        }
    }
}

void parse_connection(const YAML::Node& n, ConnectionSettings& c) {
    expect_keys(n, "connection", {"send_queue_max_bytes", "max_inflight_messages", "max_message_bytes",
                                  "outbound_frame_bytes", "max_frame_bytes", "handshake_timeout_ms", "idle_timeout_ms",
                                  "max_duration_ms", "ping_interval_ms", "max_connections", "binary_frames"});
    if (n["send_queue_max_bytes"]) c.send_queue_max_bytes = integer<std::size_t>(n["send_queue_max_bytes"], "connection.send_queue_max_bytes", 1024, std::size_t{1} << 32);
    if (n["max_inflight_messages"]) c.max_inflight_messages = integer<std::size_t>(n["max_inflight_messages"], "connection.max_inflight_messages", 1, 10'000);
    if (n["max_message_bytes"]) c.max_message_bytes = integer<std::size_t>(n["max_message_bytes"], "connection.max_message_bytes", 1, std::size_t{64} << 20);
    if (n["max_frame_bytes"]) c.max_frame_bytes = integer<std::size_t>(n["max_frame_bytes"], "connection.max_frame_bytes", 1, std::size_t{64} << 20);
    if (n["outbound_frame_bytes"]) c.outbound_frame_bytes = integer<std::size_t>(n["outbound_frame_bytes"], "connection.outbound_frame_bytes", 125, std::size_t{16} << 20);
    if (n["handshake_timeout_ms"]) c.handshake_timeout = millis(n["handshake_timeout_ms"], "connection.handshake_timeout_ms", 100, 600'000);
    constexpr long long kDay = 86'400'000;
    if (n["idle_timeout_ms"]) c.idle_timeout = millis(n["idle_timeout_ms"], "connection.idle_timeout_ms", 0, 7 * kDay);
    if (n["max_duration_ms"]) c.max_duration = millis(n["max_duration_ms"], "connection.max_duration_ms", 0, 365 * kDay);
    if (n["ping_interval_ms"]) c.ping_interval = millis(n["ping_interval_ms"], "connection.ping_interval_ms", 0, kDay);
    if (n["max_connections"]) c.max_connections = integer<std::size_t>(n["max_connections"], "connection.max_connections", 0, 100'000'000);
    if (n["binary_frames"]) {
        const std::string b = scalar(n["binary_frames"], "connection.binary_frames");
        if (b == "close") c.deliver_binary = false;
        else if (b == "deliver") c.deliver_binary = true;
        else fail("connection.binary_frames", "expected close or deliver, got '" + b + "'");
    }
}

// Only what YAML can tell: the files themselves are read (and the key checked against the
// certificate) when the server builds its TLS context, which reports errors under these same keys.
void parse_tls(const YAML::Node& n, TlsSettings& t) {
    expect_keys(n, "tls", {"listen", "cert_file", "key_file", "min_version"});
    t.enabled = true;
    if (n["listen"]) {
        const auto hp = parse_host_port(scalar(n["listen"], "tls.listen"), "tls.listen");
        t.listen_address = hp.host;
        t.listen_port = hp.port;
    }
    const auto file = [&](const char* k) {
        const std::string key = join("tls", k);
        if (!n[k]) fail(key, "required when tls is configured");
        std::string path = scalar(n[k], key);
        if (path.empty()) fail(key, "must not be empty");
        return path;
    };
    t.cert_file = file("cert_file");
    t.key_file = file("key_file");
    if (n["min_version"]) {
        const std::string v = scalar(n["min_version"], "tls.min_version");
        if (v == "1.2") t.min_version = TlsSettings::MinVersion::tls1_2;
        else if (v == "1.3") t.min_version = TlsSettings::MinVersion::tls1_3;
        else fail("tls.min_version", "expected 1.2 or 1.3, got '" + v + "'");
    }
}

void add_builtin_integrations(Settings& s) {
    IntegrationSettings echo;
    echo.type = IntegrationSettings::Type::echo;
    s.integrations.emplace("echo", echo);
}

}  // namespace

HttpUrl parse_http_url(std::string_view url, std::string_view key) {
    constexpr std::string_view kHttp = "http://";
    if (url.substr(0, kHttp.size()) != kHttp) {
        fail(key, "expected an http:// URL, got '" + std::string(url) + "'");
    }
    HttpUrl u;
    std::string_view rest = url.substr(kHttp.size());
    const auto slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (!u.target.empty() && u.target.front() == '?') u.target = "/" + u.target;
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
        fail(key, "expected http://HOST[:PORT][/PATH], got '" + std::string(url) + "'");
    }
    u.host_header = std::string(authority);
    if (u.host_header.size() > 3 && u.host_header.ends_with(":80")) u.host_header.resize(u.host_header.size() - 3);
    std::string_view host = authority;
    const auto rb = authority.rfind(']');
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && (rb == std::string_view::npos || colon > rb)) {
        host = authority.substr(0, colon);
        u.port = std::string(authority.substr(colon + 1));
        (void)integer<std::uint16_t>(YAML::Node(u.port), key, 1, 65535);
    }
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (host.empty()) fail(key, "missing host in '" + std::string(url) + "'");
    u.host = std::string(host);
    return u;
}

namespace {
Settings parse_tree(const YAML::Node& root);
}

Settings parse_yaml(std::string_view yaml, std::string_view source) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        throw ConfigError("config: " + std::string(source) + ": " + e.what());
    }
    try {
        return parse_tree(root);
    } catch (const YAML::Exception& e) {
        // A shape the checks above did not foresee: still a config error, never a crash.
        throw ConfigError("config: " + std::string(source) + ": " + e.what());
    }
}

namespace {

// redis://[[user]:password@]host[:port][/db]. rediss:// (TLS) is refused: Debian's hiredis 0.14
// has no TLS; docs/clustering.md shows a TLS tunnel instead.
void parse_redis_url(const std::string& url, ClusterSettings& c) {
    constexpr std::string_view key = "cluster.redis";
    const auto u = boost::urls::parse_uri(url);
    if (!u) fail(key, "expected redis://HOST:PORT, got '" + url + "'");
    if (u->scheme() == "rediss") fail(key, "rediss:// (TLS) is not supported; see docs/clustering.md");
    if (u->scheme() != "redis") fail(key, "expected the redis:// scheme, got '" + std::string(u->scheme()) + "'");
    if (u->host().empty()) fail(key, "no host in '" + url + "'");
    c.redis_host = u->host_name().empty() ? std::string(u->host_address()) : std::string(u->host_name());
    if (u->host_type() == boost::urls::host_type::ipv6) c.redis_host = u->host_ipv6_address().to_string();
    if (u->has_port()) c.redis_port = integer<std::uint16_t>(YAML::Node(std::string(u->port())), key, 1, 65535);
    if (u->has_userinfo()) {
        c.redis_username = u->user();
        c.redis_password = u->password();
    }
    const std::string path = u->path();
    if (!path.empty() && path != "/") {
        c.redis_db = integer<unsigned>(YAML::Node(path.substr(1)), "cluster.redis (database number)", 0, 1'000'000);
    }
    if (u->has_query() || u->has_fragment()) fail(key, "no query or fragment expected in '" + url + "'");
}

void parse_cluster(const YAML::Node& n, ClusterSettings& c) {
    expect_keys(n, "cluster", {"redis", "password", "key_prefix", "node_id", "heartbeat_ms", "node_ttl_ms",
                               "forward_timeout_ms"});
    if (!n["redis"]) fail("cluster.redis", "required when a cluster section is present");
    parse_redis_url(scalar(n["redis"], "cluster.redis"), c);
    // A password kept out of the URL (for example from a secrets file templated into the config).
    if (n["password"]) c.redis_password = scalar(n["password"], "cluster.password");
    if (n["key_prefix"]) c.key_prefix = scalar(n["key_prefix"], "cluster.key_prefix");
    if (n["node_id"]) {
        c.node_id = scalar(n["node_id"], "cluster.node_id");
        const bool ok = !c.node_id.empty() && c.node_id.size() <= 64 &&
                        std::all_of(c.node_id.begin(), c.node_id.end(), [](unsigned char ch) {
                            return std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.';
                        });
        if (!ok) fail("cluster.node_id", "1-64 characters of [A-Za-z0-9._-], got '" + c.node_id + "'");
    }
    if (n["heartbeat_ms"]) c.heartbeat = millis(n["heartbeat_ms"], "cluster.heartbeat_ms", 50, 60'000);
    if (n["node_ttl_ms"]) c.node_ttl = millis(n["node_ttl_ms"], "cluster.node_ttl_ms", 200, 600'000);
    if (n["forward_timeout_ms"]) {
        c.forward_timeout = millis(n["forward_timeout_ms"], "cluster.forward_timeout_ms", 10, 60'000);
    }
    if (c.node_ttl < 2 * c.heartbeat) fail("cluster.node_ttl_ms", "must be at least twice cluster.heartbeat_ms");
    c.enabled = true;
}

Settings parse_tree(const YAML::Node& root) {
    Settings s;
    add_builtin_integrations(s);
    if (root.IsNull()) return s;
    expect_keys(root, "", {"listen", "threads", "api", "stages", "integrations", "routes", "connection",
                           "management", "shutdown", "log_level", "throttling", "admin", "access_log",
                           "authorizer", "api_keys", "tls", "cluster", "channels"});
    if (const auto ch = root["channels"]) {
        expect_keys(ch, "channels", {"max_per_connection", "max_members"});
        if (ch["max_per_connection"]) {
            s.channels.max_per_connection =
                integer<std::size_t>(ch["max_per_connection"], "channels.max_per_connection", 1, 100'000);
        }
        if (ch["max_members"]) {
            s.channels.max_members = integer<std::size_t>(ch["max_members"], "channels.max_members", 0, 100'000'000);
        }
    }
    if (const auto c = root["cluster"]) parse_cluster(c, s.cluster);
    if (const auto a = root["authorizer"]) {
        expect_keys(a, "authorizer", {"integration", "identity_source", "cache_ttl_ms", "account_id"});
        if (!a["integration"]) fail("authorizer.integration", "required");
        s.authorizer.integration = scalar(a["integration"], "authorizer.integration");
        if (a["identity_source"]) s.authorizer.identity_source = scalar(a["identity_source"], "authorizer.identity_source");
        if (a["cache_ttl_ms"]) s.authorizer.cache_ttl = millis(a["cache_ttl_ms"], "authorizer.cache_ttl_ms", 0, 3'600'000);
        if (a["account_id"]) s.authorizer.account_id = scalar(a["account_id"], "authorizer.account_id");
    }
    if (const auto keys = root["api_keys"]) {
        if (!keys.IsSequence()) fail("api_keys", "expected a list of key values");
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const std::string k = "api_keys[" + std::to_string(i) + "]";
            std::string v = scalar(keys[i], k);
            if (v.size() < 20) fail(k, "API keys are at least 20 characters (as on AWS)");
            s.api_keys.push_back(std::move(v));
        }
    }
    if (root["throttling"]) parse_throttling(root["throttling"], s.throttling);
    if (root["tls"]) parse_tls(root["tls"], s.tls);
    if (const auto admin = root["admin"]) {
        expect_keys(admin, "admin", {"listen"});
        if (admin["listen"]) {
            const auto hp = parse_host_port(scalar(admin["listen"], "admin.listen"), "admin.listen");
            s.observability.admin_address = hp.host;
            s.observability.admin_port = hp.port;
        }
    }
    if (const auto al = root["access_log"]) {
        expect_keys(al, "access_log", {"destination", "format"});
        if (al["destination"]) s.observability.access_log_destination = scalar(al["destination"], "access_log.destination");
        if (al["format"]) s.observability.access_log_format = scalar(al["format"], "access_log.format");
        if (s.observability.access_log_format.empty()) fail("access_log.format", "must not be empty");
    }
    if (root["log_level"]) {
        s.log_level = scalar(root["log_level"], "log_level");
        if (s.log_level != "debug" && s.log_level != "info" && s.log_level != "warn" && s.log_level != "error") {
            fail("log_level", "expected debug, info, warn or error, got '" + s.log_level + "'");
        }
    }
    if (root["listen"]) parse_listen(scalar(root["listen"], "listen"), "listen", s);
    if (root["threads"]) s.threads = integer<unsigned>(root["threads"], "threads", 0, 1024);
    if (const auto api = root["api"]) {
        expect_keys(api, "api", {"id", "domain_name", "route_selection_expression"});
        if (api["id"]) s.api_id = scalar(api["id"], "api.id");
        if (api["domain_name"]) s.domain_name = scalar(api["domain_name"], "api.domain_name");
        if (api["route_selection_expression"]) {
            s.route_selection_expression = scalar(api["route_selection_expression"], "api.route_selection_expression");
        }
    }
    if (const auto st = root["stages"]) {
        if (!st.IsSequence() || st.size() == 0) fail("stages", "expected a non-empty list of stage names");
        s.stages.clear();
        for (std::size_t i = 0; i < st.size(); ++i) {
            const std::string key = "stages[" + std::to_string(i) + "]";
            std::string name = scalar(st[i], key);
            if (!valid_stage(name)) fail(key, "stage names are 1-128 of A-Z a-z 0-9 - _, got '" + name + "'");
            s.stages.push_back(std::move(name));
        }
    }
    if (const auto ints = root["integrations"]) {
        if (!ints.IsMap()) fail("integrations", "expected a mapping of name -> integration");
        for (const auto& kv : ints) {
            if (!kv.first.IsScalar()) fail("integrations", "names must be plain strings");
            const auto name = kv.first.Scalar();
            if (name == "echo") fail("integrations.echo", "'echo' is the built-in echo integration; pick another name");
            s.integrations[name] = parse_integration(kv.second, "integrations." + name);
        }
    }
    if (const auto routes = root["routes"]) {
        if (!routes.IsMap()) fail("routes", "expected a mapping of route key -> route");
        for (const auto& kv : routes) {
            if (!kv.first.IsScalar()) fail("routes", "route keys must be plain strings");
            const auto key = kv.first.Scalar();
            const std::string path = "routes." + key;
            if (key.empty()) fail(path, "route keys must not be empty");
            if (key.front() == '$' && key != "$connect" && key != "$disconnect" && key != "$default") {
                fail(path, "keys starting with '$' are reserved for $connect, $disconnect and $default");
            }
            expect_keys(kv.second, path,
                        {"integration", "route_response", "api_key_required", "timeout_ms", "authorization_type"});
            RouteSettings r;
            if (!kv.second["integration"]) fail(join(path, "integration"), "required");
            r.integration = scalar(kv.second["integration"], join(path, "integration"));
            if (kv.second["route_response"]) {
                r.route_response = boolean(kv.second["route_response"], join(path, "route_response"));
                // AWS has route responses only on message routes; elsewhere it would do nothing.
                if (r.route_response && (key == "$connect" || key == "$disconnect")) {
                    fail(join(path, "route_response"), "only message routes can answer the client");
                }
            }
            if (kv.second["api_key_required"]) {
                r.api_key_required = boolean(kv.second["api_key_required"], join(path, "api_key_required"));
                // The key travels on the upgrade request, so $connect is where it can be checked.
                if (r.api_key_required && key != "$connect") {
                    fail(join(path, "api_key_required"), "API keys are checked on $connect only");
                }
            }
            if (kv.second["authorization_type"]) {
                const std::string at = scalar(kv.second["authorization_type"], join(path, "authorization_type"));
                if (at == "AWS_IAM") r.aws_iam = true;
                else if (at != "NONE") fail(join(path, "authorization_type"), "expected NONE or AWS_IAM, got '" + at + "'");
                if (r.aws_iam && key != "$connect") {
                    fail(join(path, "authorization_type"), "authorization applies to $connect only");
                }
            }
            if (kv.second["timeout_ms"]) {
                r.timeout = millis(kv.second["timeout_ms"], join(path, "timeout_ms"), 50, 3'600'000);
            }
            s.routes[key] = std::move(r);
        }
    }
    if (root["connection"]) parse_connection(root["connection"], s.connection);
    if (root["management"]) parse_management(root["management"], s.management);
    if (const auto sd = root["shutdown"]) {
        expect_keys(sd, "shutdown", {"drain_timeout_ms"});
        if (sd["drain_timeout_ms"]) s.drain_timeout = millis(sd["drain_timeout_ms"], "shutdown.drain_timeout_ms", 0, 600'000);
    }
    return s;
}

}  // namespace

std::optional<std::string> process_env(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
}

void apply_environment(Settings& s, EnvLookup env) {
    auto& m = s.management;
    if (!m.credentials.empty()) return;
    const auto id = env("AWS_ACCESS_KEY_ID");
    const auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (id && secret) {
        m.credentials.push_back({*id, *secret, env("AWS_SESSION_TOKEN").value_or("")});
    } else {
        m.credentials.push_back({std::string(kLocalAccessKeyId), std::string(kLocalSecretAccessKey), ""});
        m.credentials_from_default = true;
    }
}

void validate(const Settings& s) {
    if (!s.authorizer.integration.empty()) {
        const auto it = s.integrations.find(s.authorizer.integration);
        if (it == s.integrations.end()) {
            fail("authorizer.integration", "no integration named '" + s.authorizer.integration + "'");
        }
        if (it->second.type != IntegrationSettings::Type::http) {
            fail("authorizer.integration", "must be an http integration (Lambda-style answers)");
        }
    }
    for (const auto& [key, route] : s.routes) {
        if (route.api_key_required && s.api_keys.empty()) {
            fail("routes." + key + ".api_key_required", "no api_keys are configured");
        }
    }
    for (const auto& [key, t] : s.throttling.routes) {
        if (!s.routes.contains(key)) fail("throttling.routes." + key, "no route with this key");
    }
    for (const auto& [key, route] : s.routes) {
        if (!s.integrations.contains(route.integration)) {
            fail("routes." + key + ".integration", "no integration named '" + route.integration + "'");
        }
    }
    // Checked here rather than at parse time: --listen may have moved the plain listener.
    if (s.tls.enabled && s.tls.listen_port != 0) {
        const auto same = [&](const std::string& addr, std::uint16_t port) {
            return port == s.tls.listen_port && addr == s.tls.listen_address;
        };
        if (same(s.listen_address, s.listen_port)) fail("tls.listen", "the same address as listen; pick another port");
        if (same(s.observability.admin_address, s.observability.admin_port)) {
            fail("tls.listen", "the same address as admin.listen; pick another port");
        }
    }
    for (std::size_t i = 0; i < s.stages.size(); ++i) {
        if (std::count(s.stages.begin(), s.stages.end(), s.stages[i]) > 1) fail("stages", "duplicate stage '" + s.stages[i] + "'");
    }
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
    CommandLine cl;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size()) throw ConfigError("wsgate: " + a + " needs a value");
            return args[++i];
        };
        if (a == "--config") cl.config_file = value();
        else if (a == "--integration") cl.integration_url = value();
        else if (a == "--listen") cl.listen = value();
        else if (a == "--threads") cl.threads = integer<unsigned>(YAML::Node(value()), "--threads", 0, 1024);
        else if (a == "--redis") cl.redis = value();
        else if (a == "--help" || a == "-h") cl.help = true;
        else if (a == "--version") cl.version = true;
        else if (a == "--print-default-config") cl.print_default_config = true;
        else throw ConfigError("wsgate: unknown option '" + a + "' (see --help)");
    }
    return cl;
}

Settings load(const CommandLine& cl, EnvLookup env) {
    Settings s;
    if (cl.config_file) {
        std::ifstream in(*cl.config_file);
        if (!in) throw ConfigError("config: cannot read '" + *cl.config_file + "'");
        std::stringstream buf;
        buf << in.rdbuf();
        s = parse_yaml(buf.str(), *cl.config_file);
    } else {
        s = parse_yaml(kEmbeddedDefault, "embedded default");
    }
    if (cl.listen) parse_listen(*cl.listen, "--listen", s);
    if (cl.threads) s.threads = *cl.threads;
    if (cl.redis) {
        parse_redis_url(*cl.redis, s.cluster);
        s.cluster.enabled = true;
    }
    if (cl.integration_url) {
        // One backend for everything, as a Lambda-proxy function behind every route would be.
        IntegrationSettings backend;
        backend.url = parse_http_url(*cl.integration_url, "--integration");
        s.integrations["backend"] = backend;
        s.routes.clear();
        s.routes["$connect"] = {"backend", false};
        s.routes["$disconnect"] = {"backend", false};
        s.routes["$default"] = {"backend", true};
    }
    apply_environment(s, env);
    validate(s);
    return s;
}

}  // namespace wsgate::config
