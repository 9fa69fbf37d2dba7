// Configuration: YAML, defaults, errors naming the key, validation, command line, environment.
#include "config/load.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using wsgate::config::apply_environment;
using wsgate::config::CommandLine;
using wsgate::config::ConfigError;
using wsgate::config::Credential;
using wsgate::config::IntegrationSettings;
using wsgate::config::kEmbeddedDefault;
using wsgate::config::kLocalAccessKeyId;
using wsgate::config::kLocalSecretAccessKey;
using wsgate::config::load;
using wsgate::config::ManagementSettings;
using wsgate::config::parse_command_line;
using wsgate::config::parse_yaml;
using wsgate::config::Settings;
using wsgate::config::validate;

// ---- Environment stubs (EnvLookup is a plain function pointer) ---------------------------------

std::optional<std::string> env_empty(const char*) {
    return std::nullopt;
}

std::optional<std::string> env_full(const char* name) {
    const std::string_view n = name;
    if (n == "AWS_ACCESS_KEY_ID") return "AKIAENVEXAMPLE000001";
    if (n == "AWS_SECRET_ACCESS_KEY") return "env-secret";
    if (n == "AWS_SESSION_TOKEN") return "env-token";
    return std::nullopt;
}

std::optional<std::string> env_no_token(const char* name) {
    const std::string_view n = name;
    if (n == "AWS_ACCESS_KEY_ID") return "AKIAENVEXAMPLE000002";
    if (n == "AWS_SECRET_ACCESS_KEY") return "env-secret-2";
    return std::nullopt;
}

std::optional<std::string> env_only_key_id(const char* name) {
    if (std::string_view(name) == "AWS_ACCESS_KEY_ID") return "AKIAENVEXAMPLE000003";
    return std::nullopt;
}

std::optional<std::string> env_only_secret(const char* name) {
    if (std::string_view(name) == "AWS_SECRET_ACCESS_KEY") return "lonely-secret";
    return std::nullopt;
}

// ---- Helpers ---------------------------------------------------------------------------------

// Expects parse_yaml(yaml) to throw a ConfigError whose message names `key` as "config: <key>:".
void expect_yaml_error(const std::string& yaml, const std::string& key) {
    try {
        (void)parse_yaml(yaml, "test.yaml");
        ADD_FAILURE() << "accepted:\n" << yaml;
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(key + ":"), std::string::npos)
            << "error does not name '" << key << "': " << what << "\nfor:\n"
            << yaml;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a ConfigError: " << e.what() << "\nfor:\n" << yaml;
    }
}

void expect_local_credentials(const ManagementSettings& m) {
    ASSERT_EQ(m.credentials.size(), 1u);
    EXPECT_EQ(m.credentials[0].access_key_id, kLocalAccessKeyId);
    EXPECT_EQ(m.credentials[0].secret_access_key, kLocalSecretAccessKey);
    EXPECT_EQ(m.credentials[0].session_token, "");
    EXPECT_TRUE(m.credentials_from_default);
}

// A temporary file removed when the test ends.
class TempFile {
  public:
    explicit TempFile(std::string_view contents) {
        path_ = fs::temp_directory_path() / ("wsgate_config_test_" + std::to_string(::getpid()) +
                                             "_" + std::to_string(counter_++) + ".yaml");
        std::ofstream(path_) << contents;
    }
    ~TempFile() {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    std::string path() const { return path_.string(); }

  private:
    static inline int counter_ = 0;
    fs::path path_;
};

// ---- Defaults --------------------------------------------------------------------------------

TEST(SettingsDefaults, EveryField) {
    const Settings s;
    EXPECT_EQ(s.listen_address, "127.0.0.1");
    EXPECT_EQ(s.listen_port, 8080);
    EXPECT_EQ(s.threads, 0u);
    EXPECT_EQ(s.api_id, "wsgatelocal");
    EXPECT_EQ(s.domain_name, "");
    EXPECT_EQ(s.route_selection_expression, "$request.body.action");
    EXPECT_EQ(s.stages, (std::vector<std::string>{"dev"}));
    EXPECT_TRUE(s.integrations.empty());
    EXPECT_TRUE(s.routes.empty());
    EXPECT_EQ(s.connection.send_queue_max_bytes, 1024u * 1024u);
    EXPECT_EQ(s.connection.max_inflight_messages, 16u);
    EXPECT_EQ(s.connection.max_message_bytes, 128u * 1024u);
    EXPECT_EQ(s.connection.outbound_frame_bytes, 32u * 1024u);
    EXPECT_EQ(s.connection.handshake_timeout, 10'000ms);
    EXPECT_EQ(s.management.auth, ManagementSettings::Auth::sigv4);
    EXPECT_EQ(s.management.region, "us-east-1");
    EXPECT_TRUE(s.management.credentials.empty());
    EXPECT_FALSE(s.management.credentials_from_default);
    EXPECT_EQ(s.drain_timeout, 10'000ms);

    const IntegrationSettings it;
    EXPECT_EQ(it.type, IntegrationSettings::Type::http);
    EXPECT_EQ(it.timeout, 29'000ms);
    EXPECT_EQ(it.max_connections, 64u);
    EXPECT_EQ(it.max_queued, 10'000u);
    EXPECT_EQ(it.url.scheme, "http");
    EXPECT_EQ(it.url.host, "");
    EXPECT_EQ(it.url.port, "80");
    EXPECT_EQ(it.url.target, "/");
    EXPECT_EQ(it.url.host_header, "");

    const wsgate::config::RouteSettings r;
    EXPECT_EQ(r.integration, "");
    EXPECT_FALSE(r.route_response);
}

TEST(SettingsDefaults, EmptyDocumentGivesDefaultsPlusEcho) {
    for (const char* doc : {"", "# only a comment\n", "~\n"}) {
        const Settings s = parse_yaml(doc, "empty");
        const Settings d;
        EXPECT_EQ(s.listen_address, d.listen_address) << doc;
        EXPECT_EQ(s.listen_port, d.listen_port) << doc;
        EXPECT_EQ(s.threads, d.threads) << doc;
        EXPECT_EQ(s.api_id, d.api_id) << doc;
        EXPECT_EQ(s.route_selection_expression, d.route_selection_expression) << doc;
        EXPECT_EQ(s.stages, d.stages) << doc;
        EXPECT_TRUE(s.routes.empty()) << doc;
        ASSERT_EQ(s.integrations.size(), 1u) << doc;
        ASSERT_TRUE(s.integrations.contains("echo")) << doc;
        EXPECT_EQ(s.integrations.at("echo").type, IntegrationSettings::Type::echo) << doc;
        EXPECT_EQ(s.connection.max_message_bytes, d.connection.max_message_bytes) << doc;
        EXPECT_EQ(s.management.auth, d.management.auth) << doc;
        EXPECT_TRUE(s.management.credentials.empty()) << doc;
        EXPECT_EQ(s.drain_timeout, d.drain_timeout) << doc;
    }
}

TEST(EmbeddedDefault, ParsesToEchoOnDefault) {
    const Settings s = parse_yaml(kEmbeddedDefault, "embedded default");
    EXPECT_EQ(s.listen_address, "127.0.0.1");
    EXPECT_EQ(s.listen_port, 8080);
    EXPECT_EQ(s.stages, (std::vector<std::string>{"dev"}));
    ASSERT_EQ(s.routes.size(), 1u);
    ASSERT_TRUE(s.routes.contains("$default"));
    EXPECT_EQ(s.routes.at("$default").integration, "echo");
    EXPECT_TRUE(s.routes.at("$default").route_response);
    ASSERT_EQ(s.integrations.size(), 1u);
    ASSERT_TRUE(s.integrations.contains("echo"));
    EXPECT_EQ(s.integrations.at("echo").type, IntegrationSettings::Type::echo);
    EXPECT_EQ(s.route_selection_expression, "$request.body.action");
    EXPECT_EQ(s.api_id, "wsgatelocal");
    EXPECT_EQ(s.management.auth, ManagementSettings::Auth::sigv4);
    EXPECT_NO_THROW(validate(s));
}

// ---- A full configuration --------------------------------------------------------------------

constexpr std::string_view kFullConfig = R"yaml(
listen: 0.0.0.0:9001
threads: 4
api:
  id: myapi123
  domain_name: ws.example.com
  route_selection_expression: "${request.body.service}/${request.body.action}"
stages: [prod, beta-2, test_3]
integrations:
  backend:
    type: http
    url: http://localhost:3000/events?x=1
    timeout_ms: 5000
    max_connections: 8
    max_queued: 100
  second:
    url: http://[::1]:4000
  local:
    type: echo
routes:
  $connect:
    integration: backend
  $disconnect:
    integration: backend
    route_response: false
  $default:
    integration: echo
    route_response: true
  chat/join:
    integration: second
    route_response: true
connection:
  send_queue_max_bytes: 2048
  max_inflight_messages: 4
  max_message_bytes: 65536
  outbound_frame_bytes: 1024
  handshake_timeout_ms: 500
management:
  auth: none
  region: eu-west-1
  credentials:
    - access_key_id: AKID1
      secret_access_key: SECRET1
      session_token: TOKEN1
    - access_key_id: AKID2
      secret_access_key: SECRET2
shutdown:
  drain_timeout_ms: 2500
)yaml";

TEST(FullConfig, EveryKeyParses) {
    const Settings s = parse_yaml(kFullConfig, "full.yaml");
    EXPECT_EQ(s.listen_address, "0.0.0.0");
    EXPECT_EQ(s.listen_port, 9001);
    EXPECT_EQ(s.threads, 4u);
    EXPECT_EQ(s.api_id, "myapi123");
    EXPECT_EQ(s.domain_name, "ws.example.com");
    EXPECT_EQ(s.route_selection_expression, "${request.body.service}/${request.body.action}");
    EXPECT_EQ(s.stages, (std::vector<std::string>{"prod", "beta-2", "test_3"}));

    ASSERT_EQ(s.integrations.size(), 4u);  // backend, second, local + built-in echo
    const auto& b = s.integrations.at("backend");
    EXPECT_EQ(b.type, IntegrationSettings::Type::http);
    EXPECT_EQ(b.url.host, "localhost");
    EXPECT_EQ(b.url.port, "3000");
    EXPECT_EQ(b.url.target, "/events?x=1");
    EXPECT_EQ(b.url.host_header, "localhost:3000");
    EXPECT_EQ(b.timeout, 5000ms);
    EXPECT_EQ(b.max_connections, 8u);
    EXPECT_EQ(b.max_queued, 100u);
    const auto& second = s.integrations.at("second");
    EXPECT_EQ(second.type, IntegrationSettings::Type::http);  // type defaults to http
    EXPECT_EQ(second.url.host, "::1");
    EXPECT_EQ(second.url.port, "4000");
    EXPECT_EQ(second.url.target, "/");
    EXPECT_EQ(second.timeout, 29'000ms);
    EXPECT_EQ(second.max_connections, 64u);
    EXPECT_EQ(second.max_queued, 10'000u);
    EXPECT_EQ(s.integrations.at("local").type, IntegrationSettings::Type::echo);
    EXPECT_EQ(s.integrations.at("echo").type, IntegrationSettings::Type::echo);

    ASSERT_EQ(s.routes.size(), 4u);
    EXPECT_EQ(s.routes.at("$connect").integration, "backend");
    EXPECT_FALSE(s.routes.at("$connect").route_response);
    EXPECT_EQ(s.routes.at("$disconnect").integration, "backend");
    EXPECT_FALSE(s.routes.at("$disconnect").route_response);
    EXPECT_EQ(s.routes.at("$default").integration, "echo");
    EXPECT_TRUE(s.routes.at("$default").route_response);
    EXPECT_EQ(s.routes.at("chat/join").integration, "second");
    EXPECT_TRUE(s.routes.at("chat/join").route_response);

    EXPECT_EQ(s.connection.send_queue_max_bytes, 2048u);
    EXPECT_EQ(s.connection.max_inflight_messages, 4u);
    EXPECT_EQ(s.connection.max_message_bytes, 65536u);
    EXPECT_EQ(s.connection.outbound_frame_bytes, 1024u);
    EXPECT_EQ(s.connection.handshake_timeout, 500ms);

    EXPECT_EQ(s.management.auth, ManagementSettings::Auth::none);
    EXPECT_EQ(s.management.region, "eu-west-1");
    ASSERT_EQ(s.management.credentials.size(), 2u);
    EXPECT_EQ(s.management.credentials[0].access_key_id, "AKID1");
    EXPECT_EQ(s.management.credentials[0].secret_access_key, "SECRET1");
    EXPECT_EQ(s.management.credentials[0].session_token, "TOKEN1");
    EXPECT_EQ(s.management.credentials[1].access_key_id, "AKID2");
    EXPECT_EQ(s.management.credentials[1].secret_access_key, "SECRET2");
    EXPECT_EQ(s.management.credentials[1].session_token, "");
    EXPECT_FALSE(s.management.credentials_from_default);

    EXPECT_EQ(s.drain_timeout, 2500ms);
    EXPECT_NO_THROW(validate(s));
}

TEST(FullConfig, PartialSectionsKeepOtherDefaults) {
    const Settings s = parse_yaml(
        "connection:\n  max_message_bytes: 1000\nmanagement:\n  region: ap-south-1\n", "p");
    EXPECT_EQ(s.connection.max_message_bytes, 1000u);
    EXPECT_EQ(s.connection.send_queue_max_bytes, 1024u * 1024u);
    EXPECT_EQ(s.connection.max_inflight_messages, 16u);
    EXPECT_EQ(s.connection.outbound_frame_bytes, 32u * 1024u);
    EXPECT_EQ(s.connection.handshake_timeout, 10'000ms);
    EXPECT_EQ(s.management.region, "ap-south-1");
    EXPECT_EQ(s.management.auth, ManagementSettings::Auth::sigv4);
    EXPECT_EQ(s.listen_port, 8080);
}

TEST(FullConfig, ListenForms) {
    Settings s = parse_yaml("listen: \"[::1]:9000\"\n", "l");
    EXPECT_EQ(s.listen_address, "::1");
    EXPECT_EQ(s.listen_port, 9000);
    s = parse_yaml("listen: 0.0.0.0:65535\n", "l");
    EXPECT_EQ(s.listen_port, 65535);
}

// The listener binds an address, not a name: a host name is a config error naming the key, not a
// failure later at bind time.
TEST(FullConfig, ListenHostMustBeAnIpAddress) {
    try {
        (void)parse_yaml("listen: localhost:0\n", "l");
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("listen"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("localhost"), std::string::npos) << e.what();
    }
}

TEST(FullConfig, EchoIntegrationRejectsHttpKeys) {
    EXPECT_THROW((void)parse_yaml("integrations:\n  e2:\n    type: echo\n    url: http://x/\n", "l"), ConfigError);
}

TEST(FullConfig, RouteResponseOnlyOnMessageRoutes) {
    EXPECT_THROW((void)parse_yaml("routes:\n  $connect: {integration: echo, route_response: true}\n", "l"),
                 ConfigError);
    EXPECT_NO_THROW((void)parse_yaml("routes:\n  $connect: {integration: echo, route_response: false}\n", "l"));
}

TEST(FullConfig, BoundaryValuesAccepted) {
    const Settings s = parse_yaml(R"yaml(
threads: 1024
integrations:
  b:
    url: http://h/
    timeout_ms: 50
    max_connections: 1
    max_queued: 0
connection:
  send_queue_max_bytes: 1024
  max_inflight_messages: 1
  max_message_bytes: 1
  outbound_frame_bytes: 125
  handshake_timeout_ms: 100
shutdown:
  drain_timeout_ms: 0
)yaml",
                                  "b");
    EXPECT_EQ(s.threads, 1024u);
    EXPECT_EQ(s.integrations.at("b").timeout, 50ms);
    EXPECT_EQ(s.integrations.at("b").max_connections, 1u);
    EXPECT_EQ(s.integrations.at("b").max_queued, 0u);
    EXPECT_EQ(s.connection.send_queue_max_bytes, 1024u);
    EXPECT_EQ(s.connection.max_inflight_messages, 1u);
    EXPECT_EQ(s.connection.max_message_bytes, 1u);
    EXPECT_EQ(s.connection.outbound_frame_bytes, 125u);
    EXPECT_EQ(s.connection.handshake_timeout, 100ms);
    EXPECT_EQ(s.drain_timeout, 0ms);
}

TEST(FullConfig, StageNameOf128CharactersIsAccepted) {
    const std::string name(128, 's');
    const Settings s = parse_yaml("stages: [" + name + "]\n", "s");
    EXPECT_EQ(s.stages, (std::vector<std::string>{name}));
}

// ---- Unknown keys: the error names the full key path ------------------------------------------

TEST(UnknownKeys, TopLevel) {
    expect_yaml_error("bogus: 1\n", "config: bogus");
}

TEST(UnknownKeys, Api) {
    expect_yaml_error("api:\n  id: x\n  bogus: 1\n", "api.bogus");
}

TEST(UnknownKeys, Integration) {
    expect_yaml_error("integrations:\n  backend:\n    url: http://h/\n    bogus: 1\n",
                      "integrations.backend.bogus");
}

TEST(UnknownKeys, Route) {
    expect_yaml_error("routes:\n  $default:\n    integration: echo\n    bogus: 1\n",
                      "routes.$default.bogus");
    expect_yaml_error("routes:\n  join:\n    integration: echo\n    routeResponse: true\n",
                      "routes.join.routeResponse");
}

TEST(UnknownKeys, Connection) {
    expect_yaml_error("connection:\n  bogus: 1\n", "connection.bogus");
}

TEST(UnknownKeys, Management) {
    expect_yaml_error("management:\n  bogus: 1\n", "management.bogus");
}

TEST(UnknownKeys, ManagementCredential) {
    expect_yaml_error(
        "management:\n  credentials:\n    - access_key_id: A\n      secret_access_key: S\n      "
        "bogus: 1\n",
        "management.credentials[0].bogus");
    expect_yaml_error(
        "management:\n  credentials:\n    - access_key_id: A\n      secret_access_key: S\n"
        "    - access_key_id: B\n      secret_access_key: T\n      bogus: 1\n",
        "management.credentials[1].bogus");
}

TEST(UnknownKeys, Shutdown) {
    expect_yaml_error("shutdown:\n  bogus: 1\n", "shutdown.bogus");
}

TEST(UnknownKeys, KeysAreCaseSensitive) {
    expect_yaml_error("Listen: 127.0.0.1:1\n", "config: Listen");
}

// ---- Bad values: the error names the key ------------------------------------------------------

TEST(BadValues, NonInteger) {
    expect_yaml_error("threads: four\n", "threads");
    expect_yaml_error("threads: 1.5\n", "threads");
    expect_yaml_error("threads: 0x10\n", "threads");
    expect_yaml_error("connection:\n  max_message_bytes: 10kb\n", "connection.max_message_bytes");
    expect_yaml_error("shutdown:\n  drain_timeout_ms: soon\n", "shutdown.drain_timeout_ms");
    expect_yaml_error("integrations:\n  b:\n    url: http://h/\n    timeout_ms: [1]\n",
                      "integrations.b.timeout_ms");
}

TEST(BadValues, OutOfRange) {
    expect_yaml_error("threads: 1025\n", "threads");
    expect_yaml_error("threads: -1\n", "threads");
    expect_yaml_error("integrations:\n  b:\n    url: http://h/\n    timeout_ms: 49\n",
                      "integrations.b.timeout_ms");
    expect_yaml_error("integrations:\n  b:\n    url: http://h/\n    timeout_ms: 3600001\n",
                      "integrations.b.timeout_ms");
    expect_yaml_error("integrations:\n  b:\n    url: http://h/\n    max_connections: 0\n",
                      "integrations.b.max_connections");
    expect_yaml_error("integrations:\n  b:\n    url: http://h/\n    max_queued: -1\n",
                      "integrations.b.max_queued");
    expect_yaml_error("connection:\n  send_queue_max_bytes: 1023\n",
                      "connection.send_queue_max_bytes");
    expect_yaml_error("connection:\n  max_inflight_messages: 0\n",
                      "connection.max_inflight_messages");
    expect_yaml_error("connection:\n  max_inflight_messages: 10001\n",
                      "connection.max_inflight_messages");
    expect_yaml_error("connection:\n  max_message_bytes: 0\n", "connection.max_message_bytes");
    expect_yaml_error("connection:\n  max_message_bytes: 67108865\n",
                      "connection.max_message_bytes");
    expect_yaml_error("connection:\n  outbound_frame_bytes: 124\n",
                      "connection.outbound_frame_bytes");
    expect_yaml_error("connection:\n  handshake_timeout_ms: 99\n",
                      "connection.handshake_timeout_ms");
    expect_yaml_error("shutdown:\n  drain_timeout_ms: 600001\n", "shutdown.drain_timeout_ms");
    expect_yaml_error("threads: 99999999999999999999999\n", "threads");
}

TEST(BadValues, Boolean) {
    expect_yaml_error("routes:\n  $default:\n    integration: echo\n    route_response: maybe\n",
                      "routes.$default.route_response");
    expect_yaml_error("routes:\n  $default:\n    integration: echo\n    route_response: 1\n",
                      "routes.$default.route_response");
}

TEST(BadValues, Url) {
    expect_yaml_error("integrations:\n  b:\n    url: https://h/\n", "integrations.b.url");
    expect_yaml_error("integrations:\n  b:\n    url: http://\n", "integrations.b.url");
    expect_yaml_error("integrations:\n  b:\n    url: http://h:99999/\n", "integrations.b.url");
    expect_yaml_error("integrations:\n  b:\n    type: http\n", "integrations.b.url");  // required
    expect_yaml_error("integrations:\n  b:\n    url: [http://h/]\n", "integrations.b.url");
}

TEST(BadValues, IntegrationType) {
    expect_yaml_error("integrations:\n  b:\n    type: lambda\n    url: http://h/\n",
                      "integrations.b.type");
}

TEST(BadValues, IntegrationNamedEcho) {
    expect_yaml_error("integrations:\n  echo:\n    url: http://h/\n", "integrations.echo");
    expect_yaml_error("integrations:\n  echo:\n    type: echo\n", "integrations.echo");
}

TEST(BadValues, IntegrationsNotAMapping) {
    expect_yaml_error("integrations: [a, b]\n", "integrations");
    expect_yaml_error("integrations:\n  b: http://h/\n", "integrations.b");
}

TEST(BadValues, Listen) {
    expect_yaml_error("listen: 8080\n", "listen");
    expect_yaml_error("listen: localhost\n", "listen");
    expect_yaml_error("listen: \":8080\"\n", "listen");
    expect_yaml_error("listen: localhost:65536\n", "listen");
    expect_yaml_error("listen: localhost:http\n", "listen");
    expect_yaml_error("listen: \"localhost:\"\n", "listen");
    expect_yaml_error("listen: [a, b]\n", "listen");
}

TEST(BadValues, StageNames) {
    expect_yaml_error("stages: [\"bad stage\"]\n", "stages[0]");
    expect_yaml_error("stages: [ok, \"bad/stage\"]\n", "stages[1]");
    expect_yaml_error("stages: [\"\"]\n", "stages[0]");
    expect_yaml_error("stages: [" + std::string(129, 's') + "]\n", "stages[0]");
    expect_yaml_error("stages: []\n", "stages");
    expect_yaml_error("stages: dev\n", "stages");
}

TEST(BadValues, ReservedRouteKey) {
    expect_yaml_error("routes:\n  $foo:\n    integration: echo\n", "routes.$foo");
    expect_yaml_error("routes:\n  $Default:\n    integration: echo\n", "routes.$Default");
    expect_yaml_error("routes:\n  $:\n    integration: echo\n", "routes.$");
}

TEST(BadValues, RouteNeedsIntegration) {
    expect_yaml_error("routes:\n  join:\n    route_response: true\n", "routes.join.integration");
    expect_yaml_error("routes:\n  join: echo\n", "routes.join");
    expect_yaml_error("routes: [join]\n", "routes");
}

TEST(BadValues, ManagementAuth) {
    expect_yaml_error("management:\n  auth: iam\n", "management.auth");
}

TEST(BadValues, ManagementCredentials) {
    expect_yaml_error("management:\n  credentials:\n    access_key_id: A\n",
                      "management.credentials");
    expect_yaml_error("management:\n  credentials:\n    - access_key_id: A\n",
                      "management.credentials[0]");
    expect_yaml_error("management:\n  credentials:\n    - secret_access_key: S\n",
                      "management.credentials[0]");
}

TEST(BadValues, SectionsMustBeMappings) {
    expect_yaml_error("api: 5\n", "api");
    expect_yaml_error("connection: [1]\n", "connection");
    expect_yaml_error("management: none\n", "management");
    expect_yaml_error("shutdown: 10\n", "shutdown");
}

TEST(BadValues, YamlSyntaxErrorNamesTheSource) {
    try {
        (void)parse_yaml("listen: [unclosed\n", "my-file.yaml");
        ADD_FAILURE() << "accepted malformed YAML";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("my-file.yaml"), std::string::npos) << e.what();
    }
}

TEST(BadValues, TopLevelNotAMapping) {
    EXPECT_THROW((void)parse_yaml("- a\n- b\n", "seq.yaml"), ConfigError);
    EXPECT_THROW((void)parse_yaml("just a string\n", "str.yaml"), ConfigError);
}

// ---- validate() ------------------------------------------------------------------------------

TEST(Validate, RouteToUnknownIntegration) {
    const Settings s = parse_yaml("routes:\n  join:\n    integration: nowhere\n", "v");
    try {
        validate(s);
        ADD_FAILURE() << "validate accepted a route to an unknown integration";
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("routes.join.integration"), std::string::npos) << what;
        EXPECT_NE(what.find("nowhere"), std::string::npos) << what;
    }
}

TEST(Validate, RouteToDeclaredOrBuiltinIntegrationIsFine) {
    const Settings s = parse_yaml(
        "integrations:\n  b:\n    url: http://h/\nroutes:\n  $connect:\n    integration: b\n"
        "  $default:\n    integration: echo\n",
        "v");
    EXPECT_NO_THROW(validate(s));
}

TEST(Validate, DuplicateStages) {
    const Settings s = parse_yaml("stages: [dev, prod, dev]\n", "v");
    try {
        validate(s);
        ADD_FAILURE() << "validate accepted duplicate stages";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("stages"), std::string::npos) << e.what();
    }
}

// ---- parse_command_line ----------------------------------------------------------------------

TEST(CommandLineParse, NoArguments) {
    const CommandLine cl = parse_command_line({});
    EXPECT_FALSE(cl.config_file);
    EXPECT_FALSE(cl.integration_url);
    EXPECT_FALSE(cl.listen);
    EXPECT_FALSE(cl.threads);
    EXPECT_FALSE(cl.help);
    EXPECT_FALSE(cl.version);
    EXPECT_FALSE(cl.print_default_config);
}

TEST(CommandLineParse, AllOptions) {
    const CommandLine cl = parse_command_line(
        {"--config", "gw.yaml", "--integration", "http://127.0.0.1:3000/ws", "--listen",
         "0.0.0.0:9000", "--threads", "3", "--help", "--version", "--print-default-config"});
    EXPECT_EQ(cl.config_file, std::optional<std::string>("gw.yaml"));
    EXPECT_EQ(cl.integration_url, std::optional<std::string>("http://127.0.0.1:3000/ws"));
    EXPECT_EQ(cl.listen, std::optional<std::string>("0.0.0.0:9000"));
    EXPECT_EQ(cl.threads, std::optional<unsigned>(3));
    EXPECT_TRUE(cl.help);
    EXPECT_TRUE(cl.version);
    EXPECT_TRUE(cl.print_default_config);
}

TEST(CommandLineParse, ShortHelpAndThreadsZero) {
    const CommandLine cl = parse_command_line({"-h", "--threads", "0"});
    EXPECT_TRUE(cl.help);
    EXPECT_EQ(cl.threads, std::optional<unsigned>(0));
    EXPECT_FALSE(cl.version);
}

TEST(CommandLineParse, LastOccurrenceWins) {
    const CommandLine cl = parse_command_line({"--listen", "a:1", "--listen", "b:2"});
    EXPECT_EQ(cl.listen, std::optional<std::string>("b:2"));
}

TEST(CommandLineParse, UnknownOption) {
    try {
        (void)parse_command_line({"--bogus"});
        ADD_FAILURE() << "accepted --bogus";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("--bogus"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)parse_command_line({"--listen", "a:1", "extra"}), ConfigError);
    EXPECT_THROW((void)parse_command_line({"--Config", "x"}), ConfigError);
}

TEST(CommandLineParse, MissingValue) {
    for (const char* opt : {"--config", "--integration", "--listen", "--threads"}) {
        try {
            (void)parse_command_line({"--version", opt});
            ADD_FAILURE() << opt << " accepted without a value";
        } catch (const ConfigError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(opt), std::string::npos) << what;
            EXPECT_NE(what.find("needs a value"), std::string::npos) << what;
        }
    }
}

TEST(CommandLineParse, BadThreads) {
    for (const char* v : {"many", "-1", "1025", "2.5", ""}) {
        try {
            (void)parse_command_line({"--threads", v});
            ADD_FAILURE() << "--threads accepted '" << v << "'";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("--threads"), std::string::npos) << e.what();
        }
    }
}

// ---- load() ----------------------------------------------------------------------------------

TEST(Load, EmbeddedDefaultWithLocalCredentials) {
    const Settings s = load(CommandLine{}, env_empty);
    EXPECT_EQ(s.listen_address, "127.0.0.1");
    EXPECT_EQ(s.listen_port, 8080);
    ASSERT_EQ(s.routes.size(), 1u);
    EXPECT_EQ(s.routes.at("$default").integration, "echo");
    EXPECT_TRUE(s.routes.at("$default").route_response);
    expect_local_credentials(s.management);
}

TEST(Load, IntegrationUrlRoutesEverythingToBackend) {
    CommandLine cl;
    cl.integration_url = "http://127.0.0.1:3000/ws?k=v";
    const Settings s = load(cl, env_empty);
    ASSERT_TRUE(s.integrations.contains("backend"));
    const auto& b = s.integrations.at("backend");
    EXPECT_EQ(b.type, IntegrationSettings::Type::http);
    EXPECT_EQ(b.url.host, "127.0.0.1");
    EXPECT_EQ(b.url.port, "3000");
    EXPECT_EQ(b.url.target, "/ws?k=v");
    EXPECT_EQ(b.timeout, 29'000ms);
    EXPECT_TRUE(s.integrations.contains("echo"));

    ASSERT_EQ(s.routes.size(), 3u);
    EXPECT_EQ(s.routes.at("$connect").integration, "backend");
    EXPECT_FALSE(s.routes.at("$connect").route_response);
    EXPECT_EQ(s.routes.at("$disconnect").integration, "backend");
    EXPECT_FALSE(s.routes.at("$disconnect").route_response);
    EXPECT_EQ(s.routes.at("$default").integration, "backend");
    EXPECT_TRUE(s.routes.at("$default").route_response);
}

TEST(Load, IntegrationUrlReplacesConfiguredRoutes) {
    TempFile f("routes:\n  join:\n    integration: echo\n  $default:\n    integration: echo\n");
    CommandLine cl;
    cl.config_file = f.path();
    cl.integration_url = "http://backend.internal/";
    const Settings s = load(cl, env_empty);
    ASSERT_EQ(s.routes.size(), 3u);
    EXPECT_FALSE(s.routes.contains("join"));
    EXPECT_EQ(s.routes.at("$default").integration, "backend");
    EXPECT_EQ(s.integrations.at("backend").url.host, "backend.internal");
}

TEST(Load, BadIntegrationUrl) {
    CommandLine cl;
    cl.integration_url = "https://example.com/";
    try {
        (void)load(cl, env_empty);
        ADD_FAILURE() << "accepted an https integration";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("--integration"), std::string::npos) << e.what();
    }
}

TEST(Load, ListenAndThreadsOverrideTheFile) {
    TempFile f("listen: 10.0.0.1:1111\nthreads: 2\n");
    CommandLine cl;
    cl.config_file = f.path();
    cl.listen = "0.0.0.0:2222";
    cl.threads = 7;
    const Settings s = load(cl, env_empty);
    EXPECT_EQ(s.listen_address, "0.0.0.0");
    EXPECT_EQ(s.listen_port, 2222);
    EXPECT_EQ(s.threads, 7u);
}

TEST(Load, ConfigFileValuesWithoutOverrides) {
    TempFile f("listen: 10.0.0.1:1111\nthreads: 2\nstages: [prod]\n");
    CommandLine cl;
    cl.config_file = f.path();
    const Settings s = load(cl, env_empty);
    EXPECT_EQ(s.listen_address, "10.0.0.1");
    EXPECT_EQ(s.listen_port, 1111);
    EXPECT_EQ(s.threads, 2u);
    EXPECT_EQ(s.stages, (std::vector<std::string>{"prod"}));
    EXPECT_TRUE(s.routes.empty());
}

TEST(Load, BadListenOverride) {
    CommandLine cl;
    cl.listen = "nope";
    try {
        (void)load(cl, env_empty);
        ADD_FAILURE() << "accepted --listen nope";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("--listen"), std::string::npos) << e.what();
    }
}

TEST(Load, UnreadableConfigFile) {
    CommandLine cl;
    cl.config_file = "/nonexistent/wsgate/config.yaml";
    try {
        (void)load(cl, env_empty);
        ADD_FAILURE() << "loaded a file that does not exist";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/wsgate/config.yaml"), std::string::npos)
            << e.what();
    }
}

TEST(Load, ErrorsInTheFileNameTheKey) {
    TempFile f("routes:\n  join:\n    integration: echo\n    bogus: 1\n");
    CommandLine cl;
    cl.config_file = f.path();
    try {
        (void)load(cl, env_empty);
        ADD_FAILURE() << "accepted an unknown key";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("routes.join.bogus"), std::string::npos) << e.what();
    }
}

TEST(Load, ValidatesCrossReferences) {
    TempFile f("routes:\n  join:\n    integration: missing\n");
    CommandLine cl;
    cl.config_file = f.path();
    try {
        (void)load(cl, env_empty);
        ADD_FAILURE() << "accepted a route to a missing integration";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("routes.join.integration"), std::string::npos)
            << e.what();
    }
}

TEST(Load, AppliesTheEnvironment) {
    const Settings s = load(CommandLine{}, env_full);
    ASSERT_EQ(s.management.credentials.size(), 1u);
    EXPECT_EQ(s.management.credentials[0].access_key_id, "AKIAENVEXAMPLE000001");
    EXPECT_FALSE(s.management.credentials_from_default);
}

// ---- apply_environment -----------------------------------------------------------------------

TEST(ApplyEnvironment, KeyPairAndSessionToken) {
    Settings s;
    apply_environment(s, env_full);
    ASSERT_EQ(s.management.credentials.size(), 1u);
    EXPECT_EQ(s.management.credentials[0].access_key_id, "AKIAENVEXAMPLE000001");
    EXPECT_EQ(s.management.credentials[0].secret_access_key, "env-secret");
    EXPECT_EQ(s.management.credentials[0].session_token, "env-token");
    EXPECT_FALSE(s.management.credentials_from_default);
}

TEST(ApplyEnvironment, KeyPairWithoutSessionToken) {
    Settings s;
    apply_environment(s, env_no_token);
    ASSERT_EQ(s.management.credentials.size(), 1u);
    EXPECT_EQ(s.management.credentials[0].access_key_id, "AKIAENVEXAMPLE000002");
    EXPECT_EQ(s.management.credentials[0].secret_access_key, "env-secret-2");
    EXPECT_EQ(s.management.credentials[0].session_token, "");
    EXPECT_FALSE(s.management.credentials_from_default);
}

TEST(ApplyEnvironment, AbsentGivesLocalPair) {
    Settings s;
    apply_environment(s, env_empty);
    expect_local_credentials(s.management);
}

TEST(ApplyEnvironment, HalfAPairGivesLocalPair) {
    Settings a;
    apply_environment(a, env_only_key_id);
    expect_local_credentials(a.management);
    Settings b;
    apply_environment(b, env_only_secret);
    expect_local_credentials(b.management);
}

TEST(ApplyEnvironment, ConfiguredCredentialsWin) {
    Settings s = parse_yaml(
        "management:\n  credentials:\n    - access_key_id: CFGKEY\n      secret_access_key: "
        "CFGSECRET\n",
        "c");
    apply_environment(s, env_full);
    ASSERT_EQ(s.management.credentials.size(), 1u);
    EXPECT_EQ(s.management.credentials[0].access_key_id, "CFGKEY");
    EXPECT_EQ(s.management.credentials[0].secret_access_key, "CFGSECRET");
    EXPECT_EQ(s.management.credentials[0].session_token, "");
    EXPECT_FALSE(s.management.credentials_from_default);

    apply_environment(s, env_empty);
    ASSERT_EQ(s.management.credentials.size(), 1u);
    EXPECT_EQ(s.management.credentials[0].access_key_id, "CFGKEY");
    EXPECT_FALSE(s.management.credentials_from_default);
}

TEST(ApplyEnvironment, LocalPairIsWellFormed) {
    // The documented local pair: a 20-character AKIA-style id and a non-empty secret.
    EXPECT_EQ(kLocalAccessKeyId.size(), 20u);
    EXPECT_EQ(kLocalAccessKeyId.substr(0, 4), "AKIA");
    EXPECT_FALSE(kLocalSecretAccessKey.empty());
}

TEST(ProcessEnv, ReadsTheRealEnvironment) {
    constexpr const char* kName = "WSGATE_CONFIG_TEST_ONLY_VARIABLE";
    ASSERT_EQ(::setenv(kName, "value-1", 1), 0);
    EXPECT_EQ(wsgate::config::process_env(kName), std::optional<std::string>("value-1"));
    ASSERT_EQ(::setenv(kName, "", 1), 0);
    EXPECT_EQ(wsgate::config::process_env(kName), std::nullopt);  // empty counts as unset
    ASSERT_EQ(::unsetenv(kName), 0);
    EXPECT_EQ(wsgate::config::process_env(kName), std::nullopt);
}

}  // namespace
