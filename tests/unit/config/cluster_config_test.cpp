// The cluster section and --redis: URL forms, defaults, node ids, timing bounds, errors naming
// the key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/load.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using wsgate::config::ClusterSettings;
using wsgate::config::CommandLine;
using wsgate::config::ConfigError;
using wsgate::config::load;
using wsgate::config::parse_command_line;
using wsgate::config::parse_yaml;
using wsgate::config::Settings;

std::optional<std::string> env_empty(const char*) {
    return std::nullopt;
}

ClusterSettings cluster_of(const std::string& yaml) {
    return parse_yaml(yaml, "cluster.yaml").cluster;
}

// "cluster:\n  redis: <url>\n" parsed.
ClusterSettings with_url(const std::string& url) {
    return cluster_of("cluster:\n  redis: \"" + url + "\"\n");
}

// Expects a ConfigError whose message names `key` (and holds `also`).
template <typename Fn>
void expect_error(Fn&& fn, const std::string& key, const std::string& what, std::string_view also = {}) {
    try {
        (void)fn();
        ADD_FAILURE() << "accepted: " << what;
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        // "config: <key>: ..." or "config: <key> (detail): ..."
        const auto at = msg.find("config: " + key);
        const auto after = at == std::string::npos ? ' ' : msg[at + 8 + key.size()];
        EXPECT_TRUE(at != std::string::npos && (after == ':' || after == ' '))
            << "error does not name '" << key << "': " << msg << "\nfor: " << what;
        if (!also.empty()) {
            EXPECT_NE(msg.find(also), std::string::npos) << msg << "\nfor: " << what;
        }
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a ConfigError: " << e.what() << "\nfor: " << what;
    }
}

void expect_yaml_error(const std::string& yaml, const std::string& key, std::string_view also = {}) {
    expect_error([&] { return parse_yaml(yaml, "cluster.yaml"); }, key, yaml, also);
}

void expect_url_error(const std::string& url, std::string_view also = {}) {
    expect_yaml_error("cluster:\n  redis: \"" + url + "\"\n", "cluster.redis", also);
}

class TempFile {
  public:
    explicit TempFile(std::string_view contents) {
        path_ = fs::temp_directory_path() / ("wsgate_cluster_config_test_" + std::to_string(::getpid()) +
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

TEST(ClusterConfigDefaults, OffWithoutASection) {
    const ClusterSettings c = parse_yaml("", "empty.yaml").cluster;
    EXPECT_FALSE(c.enabled);
    EXPECT_EQ(c.redis_host, "");
    EXPECT_EQ(c.redis_port, 6379);
    EXPECT_EQ(c.redis_username, "");
    EXPECT_EQ(c.redis_password, "");
    EXPECT_EQ(c.redis_db, 0u);
    EXPECT_EQ(c.key_prefix, "wsgate:");
    EXPECT_EQ(c.node_id, "");
    EXPECT_EQ(c.heartbeat, 1'000ms);
    EXPECT_EQ(c.node_ttl, 5'000ms);
    EXPECT_EQ(c.forward_timeout, 2'000ms);
    EXPECT_FALSE(load(CommandLine{}, env_empty).cluster.enabled) << "the embedded default is not clustered";
}

TEST(ClusterConfigDefaults, OnlyTheUrlGiven) {
    const ClusterSettings c = with_url("redis://10.0.0.5:7000");
    EXPECT_TRUE(c.enabled);
    EXPECT_EQ(c.redis_host, "10.0.0.5");
    EXPECT_EQ(c.redis_port, 7000);
    EXPECT_EQ(c.redis_username, "");
    EXPECT_EQ(c.redis_password, "");
    EXPECT_EQ(c.redis_db, 0u);
    EXPECT_EQ(c.key_prefix, "wsgate:");
    EXPECT_EQ(c.heartbeat, 1'000ms);
    EXPECT_EQ(c.node_ttl, 5'000ms);
    EXPECT_EQ(c.forward_timeout, 2'000ms);
}

TEST(ClusterConfig, EveryKey) {
    const ClusterSettings c = cluster_of(
        "cluster:\n"
        "  redis: redis://cache.internal:6380/2\n"
        "  password: from-a-secret\n"
        "  key_prefix: \"prod:ws:\"\n"
        "  node_id: gw-1.eu_west\n"
        "  heartbeat_ms: 250\n"
        "  node_ttl_ms: 1500\n"
        "  forward_timeout_ms: 750\n");
    EXPECT_TRUE(c.enabled);
    EXPECT_EQ(c.redis_host, "cache.internal");
    EXPECT_EQ(c.redis_port, 6380);
    EXPECT_EQ(c.redis_db, 2u);
    EXPECT_EQ(c.redis_password, "from-a-secret");
    EXPECT_EQ(c.key_prefix, "prod:ws:");
    EXPECT_EQ(c.node_id, "gw-1.eu_west");
    EXPECT_EQ(c.heartbeat, 250ms);
    EXPECT_EQ(c.node_ttl, 1'500ms);
    EXPECT_EQ(c.forward_timeout, 750ms);
}

// ---- URL forms -------------------------------------------------------------------------------

TEST(ClusterConfigUrl, HostAndPort) {
    auto c = with_url("redis://localhost:6390");
    EXPECT_EQ(c.redis_host, "localhost");
    EXPECT_EQ(c.redis_port, 6390);
    c = with_url("redis://127.0.0.1:1");
    EXPECT_EQ(c.redis_host, "127.0.0.1");
    EXPECT_EQ(c.redis_port, 1);
    c = with_url("redis://127.0.0.1:65535");
    EXPECT_EQ(c.redis_port, 65535);
}

TEST(ClusterConfigUrl, DefaultPort) {
    auto c = with_url("redis://redis.example");
    EXPECT_EQ(c.redis_host, "redis.example");
    EXPECT_EQ(c.redis_port, 6379);
    c = with_url("redis://redis.example/");
    EXPECT_EQ(c.redis_port, 6379);
    EXPECT_EQ(c.redis_db, 0u);
}

TEST(ClusterConfigUrl, Ipv6Host) {
    const auto c = with_url("redis://[::1]:6400");
    EXPECT_EQ(c.redis_host, "::1");
    EXPECT_EQ(c.redis_port, 6400);
}

TEST(ClusterConfigUrl, PasswordOnly) {
    const auto c = with_url("redis://:s3cret@h:6379");
    EXPECT_EQ(c.redis_username, "");
    EXPECT_EQ(c.redis_password, "s3cret");
    EXPECT_EQ(c.redis_host, "h");
}

TEST(ClusterConfigUrl, UserAndPassword) {
    const auto c = with_url("redis://gateway:pa55@h:6379");
    EXPECT_EQ(c.redis_username, "gateway");
    EXPECT_EQ(c.redis_password, "pa55");
}

TEST(ClusterConfigUrl, PercentEncodedPasswordIsDecoded) {
    const auto c = with_url("redis://:p%40ss%3Aw%2Fd@h");
    EXPECT_EQ(c.redis_password, "p@ss:w/d");
    EXPECT_EQ(c.redis_host, "h");
    EXPECT_EQ(c.redis_port, 6379);
}

TEST(ClusterConfigUrl, Database) {
    EXPECT_EQ(with_url("redis://h:6379/0").redis_db, 0u);
    EXPECT_EQ(with_url("redis://h:6379/3").redis_db, 3u);
    EXPECT_EQ(with_url("redis://h/15").redis_db, 15u);
    const auto c = with_url("redis://u:p@h:1234/7");
    EXPECT_EQ(c.redis_username, "u");
    EXPECT_EQ(c.redis_password, "p");
    EXPECT_EQ(c.redis_port, 1234);
    EXPECT_EQ(c.redis_db, 7u);
}

TEST(ClusterConfigUrl, PasswordKeyOverridesTheUrl) {
    const auto c = cluster_of("cluster:\n  redis: redis://:in-url@h\n  password: in-key\n");
    EXPECT_EQ(c.redis_password, "in-key");
}

TEST(ClusterConfigUrl, TlsIsRefusedWithAReason) {
    expect_url_error("rediss://x:1", "rediss");
    expect_url_error("rediss://:pw@cache.example:6380/0", "rediss");
}

TEST(ClusterConfigUrl, OtherSchemesAreRefused) {
    for (const char* url : {"http://x", "https://x:6379", "redis+sentinel://x:26379", "unix:///tmp/redis.sock",
                            "REDIS-X://x", "tcp://x:6379"}) {
        expect_url_error(url);
    }
}

TEST(ClusterConfigUrl, MalformedUrlsAreRefused) {
    for (const char* url : {"", "redis", "localhost:6379", "redis://", "redis://:6379", "redis://h:0",
                            "redis://h:65536", "redis://h:port", "redis://h:6379/db", "redis://h:6379/-1",
                            "redis://h:6379/1/2", "redis://h:6379?db=1", "redis://h:6379#frag",
                            "redis://h o:6379", "//h:6379"}) {
        expect_url_error(url);
    }
}

// ---- The rest of the section -----------------------------------------------------------------

TEST(ClusterConfig, UrlIsRequired) {
    expect_yaml_error("cluster:\n  node_id: a\n", "cluster.redis");
    expect_yaml_error("cluster: {}\n", "cluster.redis");
}

TEST(ClusterConfig, UnknownKeysAreNamed) {
    expect_yaml_error("cluster:\n  redis: redis://h\n  bogus: 1\n", "cluster.bogus", "unknown key");
    expect_yaml_error("cluster:\n  redis: redis://h\n  heartbeat: 100\n", "cluster.heartbeat");
    expect_yaml_error("cluster:\n  redis: redis://h\n  Node_Id: a\n", "cluster.Node_Id");
}

TEST(ClusterConfig, SectionMustBeAMapping) {
    expect_yaml_error("cluster: redis://h:6379\n", "cluster");
    expect_yaml_error("cluster:\n  - redis://h:6379\n", "cluster");
}

TEST(ClusterConfigNodeId, ValidIds) {
    for (const std::string& id : std::vector<std::string>{"a", "gw-1", "node_2", "ip-10-0-0-1.ec2.internal", "A.b-C_d",
                                 std::string(64, 'n')}) {
        EXPECT_EQ(cluster_of("cluster:\n  redis: redis://h\n  node_id: \"" + id + "\"\n").node_id, id);
    }
}

TEST(ClusterConfigNodeId, InvalidIds) {
    for (const std::string& id : std::vector<std::string>{"", "has space", "a#b", "a:b", "a/b", "caf\xC3\xA9", "tab\there", "new\\nline",
                                 std::string(65, 'n')}) {
        expect_yaml_error("cluster:\n  redis: redis://h\n  node_id: \"" + id + "\"\n", "cluster.node_id");
    }
}

TEST(ClusterConfigTimings, Bounds) {
    const std::string base = "cluster:\n  redis: redis://h\n";
    EXPECT_EQ(cluster_of(base + "  heartbeat_ms: 50\n  node_ttl_ms: 200\n").heartbeat, 50ms);
    EXPECT_EQ(cluster_of(base + "  heartbeat_ms: 50\n  node_ttl_ms: 200\n").node_ttl, 200ms);
    EXPECT_EQ(cluster_of(base + "  forward_timeout_ms: 10\n").forward_timeout, 10ms);
    EXPECT_EQ(cluster_of(base + "  forward_timeout_ms: 60000\n").forward_timeout, 60'000ms);
    expect_yaml_error(base + "  heartbeat_ms: 49\n", "cluster.heartbeat_ms");
    expect_yaml_error(base + "  heartbeat_ms: 60001\n  node_ttl_ms: 600000\n", "cluster.heartbeat_ms");
    expect_yaml_error(base + "  heartbeat_ms: 50\n  node_ttl_ms: 199\n", "cluster.node_ttl_ms");
    expect_yaml_error(base + "  node_ttl_ms: 600001\n", "cluster.node_ttl_ms");
    expect_yaml_error(base + "  forward_timeout_ms: 9\n", "cluster.forward_timeout_ms");
    expect_yaml_error(base + "  forward_timeout_ms: 60001\n", "cluster.forward_timeout_ms");
    expect_yaml_error(base + "  heartbeat_ms: fast\n", "cluster.heartbeat_ms");
    expect_yaml_error(base + "  node_ttl_ms: -5\n", "cluster.node_ttl_ms");
}

TEST(ClusterConfigTimings, NodeTtlAtLeastTwiceTheHeartbeat) {
    const std::string base = "cluster:\n  redis: redis://h\n";
    const auto ok = cluster_of(base + "  heartbeat_ms: 100\n  node_ttl_ms: 200\n");
    EXPECT_EQ(ok.heartbeat, 100ms);
    EXPECT_EQ(ok.node_ttl, 200ms);
    expect_yaml_error(base + "  heartbeat_ms: 150\n  node_ttl_ms: 299\n", "cluster.node_ttl_ms", "twice");
    expect_yaml_error(base + "  heartbeat_ms: 300\n  node_ttl_ms: 500\n", "cluster.node_ttl_ms", "twice");
    // Against the default heartbeat (1 s) too.
    expect_yaml_error(base + "  node_ttl_ms: 1999\n", "cluster.node_ttl_ms", "twice");
    EXPECT_EQ(cluster_of(base + "  node_ttl_ms: 2000\n").node_ttl, 2'000ms);
    // And the default TTL (5 s) against a heartbeat.
    expect_yaml_error(base + "  heartbeat_ms: 2501\n", "cluster.node_ttl_ms", "twice");
}

// ---- --redis ---------------------------------------------------------------------------------

TEST(ClusterCommandLine, RedisFlagParses) {
    const CommandLine cl = parse_command_line({"--redis", "redis://h:1"});
    EXPECT_EQ(cl.redis, std::optional<std::string>("redis://h:1"));
    EXPECT_FALSE(parse_command_line({}).redis);
}

TEST(ClusterCommandLine, RedisFlagNeedsAValue) {
    try {
        (void)parse_command_line({"--redis"});
        ADD_FAILURE() << "--redis accepted without a value";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("--redis"), std::string::npos) << e.what();
    }
}

TEST(ClusterCommandLine, RedisFlagEnablesClusterModeOnTheEmbeddedDefault) {
    CommandLine cl;
    cl.redis = "redis://:pw@10.1.2.3:6390/4";
    const Settings s = load(cl, env_empty);
    EXPECT_TRUE(s.cluster.enabled);
    EXPECT_EQ(s.cluster.redis_host, "10.1.2.3");
    EXPECT_EQ(s.cluster.redis_port, 6390);
    EXPECT_EQ(s.cluster.redis_password, "pw");
    EXPECT_EQ(s.cluster.redis_db, 4u);
    EXPECT_EQ(s.cluster.key_prefix, "wsgate:");
    EXPECT_EQ(s.cluster.heartbeat, 1'000ms);
}

TEST(ClusterCommandLine, RedisFlagReplacesTheFileUrlAndKeepsTheOtherKeys) {
    TempFile f(
        "cluster:\n"
        "  redis: redis://from-file:7000/1\n"
        "  key_prefix: \"file:\"\n"
        "  node_id: file-node\n"
        "  heartbeat_ms: 200\n"
        "  node_ttl_ms: 800\n");
    CommandLine cl;
    cl.config_file = f.path();
    cl.redis = "redis://from-flag:7001";
    const Settings s = load(cl, env_empty);
    EXPECT_TRUE(s.cluster.enabled);
    EXPECT_EQ(s.cluster.redis_host, "from-flag");
    EXPECT_EQ(s.cluster.redis_port, 7001);
    EXPECT_EQ(s.cluster.key_prefix, "file:");
    EXPECT_EQ(s.cluster.node_id, "file-node");
    EXPECT_EQ(s.cluster.heartbeat, 200ms);
    EXPECT_EQ(s.cluster.node_ttl, 800ms);
}

TEST(ClusterCommandLine, BadRedisFlagIsAConfigError) {
    for (const char* url : {"rediss://h:6379", "http://h", "h:6379", "redis://h:99999"}) {
        CommandLine cl;
        cl.redis = url;
        expect_error([&] { return load(cl, env_empty); }, "cluster.redis", std::string("--redis ") + url);
    }
}

}  // namespace
