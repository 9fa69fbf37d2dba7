// The `tls` section: off by default, its keys and defaults, and errors that name the key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "config/load.h"

namespace {

using wsgate::config::CommandLine;
using wsgate::config::ConfigError;
using wsgate::config::kEmbeddedDefault;
using wsgate::config::load;
using wsgate::config::parse_yaml;
using wsgate::config::Settings;
using wsgate::config::TlsSettings;
using wsgate::config::validate;

// The message of the ConfigError that parse_yaml (then validate) throws for `yaml`, or "" if none.
std::string error_of(const std::string& yaml) {
    try {
        validate(parse_yaml(yaml, "tls.yaml"));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return {};
}

void expect_error(const std::string& yaml, const std::string& key, const std::string& detail = {}) {
    const std::string what = error_of(yaml);
    ASSERT_FALSE(what.empty()) << "accepted:\n" << yaml;
    EXPECT_EQ(what.rfind("config: " + key + ": ", 0), 0u)
        << "does not name " << key << ": " << what;
    if (!detail.empty()) {
        EXPECT_NE(what.find(detail), std::string::npos) << what;
    }
}

constexpr const char* kMinimal =
    "tls:\n  cert_file: /etc/wsgate/cert.pem\n  key_file: /etc/wsgate/key.pem\n";

TEST(TlsConfig, OffByDefaultAndInTheEmbeddedDefault) {
    const Settings defaults;
    EXPECT_FALSE(defaults.tls.enabled);
    const Settings embedded = parse_yaml(kEmbeddedDefault, "embedded default");
    EXPECT_FALSE(embedded.tls.enabled);
    EXPECT_FALSE(parse_yaml("listen: 127.0.0.1:9000\n", "x").tls.enabled);
    EXPECT_FALSE(parse_yaml("", "empty").tls.enabled);
}

TEST(TlsConfig, MinimalSectionTakesTheDocumentedDefaults) {
    const Settings s = parse_yaml(kMinimal, "tls.yaml");
    EXPECT_TRUE(s.tls.enabled);
    EXPECT_EQ(s.tls.listen_address, "127.0.0.1");
    EXPECT_EQ(s.tls.listen_port, 8443);
    EXPECT_EQ(s.tls.cert_file, "/etc/wsgate/cert.pem");
    EXPECT_EQ(s.tls.key_file, "/etc/wsgate/key.pem");
    EXPECT_EQ(s.tls.min_version, TlsSettings::MinVersion::tls1_2);
    // The plain listener is untouched: both run side by side.
    EXPECT_EQ(s.listen_address, "127.0.0.1");
    EXPECT_EQ(s.listen_port, 8080);
    EXPECT_NO_THROW(validate(s));
}

TEST(TlsConfig, EveryKey) {
    const Settings s = parse_yaml(R"(
listen: 0.0.0.0:8080
tls:
  listen: "[::1]:9443"
  cert_file: certs/chain.pem
  key_file: certs/key.pem
  min_version: "1.3"
)",
                                  "tls.yaml");
    EXPECT_TRUE(s.tls.enabled);
    EXPECT_EQ(s.tls.listen_address, "::1");
    EXPECT_EQ(s.tls.listen_port, 9443);
    EXPECT_EQ(s.tls.cert_file, "certs/chain.pem");
    EXPECT_EQ(s.tls.key_file, "certs/key.pem");
    EXPECT_EQ(s.tls.min_version, TlsSettings::MinVersion::tls1_3);
    EXPECT_EQ(s.listen_port, 8080);
}

TEST(TlsConfig, MinVersionAcceptsOnlyOnePointTwoAndOnePointThree) {
    // Unquoted, YAML reads 1.2 as a number; the text is what counts.
    EXPECT_EQ(parse_yaml(std::string(kMinimal) + "  min_version: 1.2\n", "x").tls.min_version,
              TlsSettings::MinVersion::tls1_2);
    EXPECT_EQ(parse_yaml(std::string(kMinimal) + "  min_version: 1.3\n", "x").tls.min_version,
              TlsSettings::MinVersion::tls1_3);
    for (const char* bad : {"1.1", "1.0", "1", "1.20", "TLSv1.2", "tls1.2", "\"\"", "[1.2]"}) {
        expect_error(std::string(kMinimal) + "  min_version: " + bad + "\n", "tls.min_version");
    }
    expect_error(std::string(kMinimal) + "  min_version: 1.1\n", "tls.min_version",
                 "expected 1.2 or 1.3, got '1.1'");
}

TEST(TlsConfig, CertificateAndKeyAreRequiredAndNonEmpty) {
    expect_error("tls:\n  key_file: k.pem\n", "tls.cert_file", "required");
    expect_error("tls:\n  cert_file: c.pem\n", "tls.key_file", "required");
    expect_error("tls: {}\n", "tls.cert_file", "required");
    expect_error("tls:\n  cert_file: \"\"\n  key_file: k.pem\n", "tls.cert_file",
                 "must not be empty");
    expect_error("tls:\n  cert_file: c.pem\n  key_file: \"\"\n", "tls.key_file",
                 "must not be empty");
    expect_error("tls:\n  cert_file: [a, b]\n  key_file: k.pem\n", "tls.cert_file",
                 "expected a string");
    expect_error("tls:\n  cert_file: c.pem\n  key_file:\n", "tls.key_file", "expected a string");
}

TEST(TlsConfig, UnknownKeysAndWrongShapesAreErrors) {
    expect_error(std::string(kMinimal) + "  ciphers: HIGH\n", "tls.ciphers", "unknown key");
    expect_error(std::string(kMinimal) + "  cert: c.pem\n", "tls.cert", "unknown key");
    expect_error("tls: true\n", "tls", "expected a mapping");
    expect_error("tls:\n", "tls", "expected a mapping");
    expect_error("tls: [cert.pem, key.pem]\n", "tls", "expected a mapping");
}

TEST(TlsConfig, ListenIsAnAddressAndAPort) {
    EXPECT_EQ(parse_yaml(std::string(kMinimal) + "  listen: 0.0.0.0:0\n", "x").tls.listen_port, 0);
    expect_error(std::string(kMinimal) + "  listen: 8443\n", "tls.listen", "expected HOST:PORT");
    expect_error(std::string(kMinimal) + "  listen: localhost:8443\n", "tls.listen",
                 "expected an IP address");
    expect_error(std::string(kMinimal) + "  listen: 127.0.0.1:65536\n", "tls.listen",
                 "between 0 and 65535");
    expect_error(std::string(kMinimal) + "  listen: 127.0.0.1:https\n", "tls.listen",
                 "expected an integer");
}

TEST(TlsConfig, ListenMustDifferFromThePlainAndAdminListeners) {
    expect_error("listen: 127.0.0.1:9000\n" + std::string(kMinimal) + "  listen: 127.0.0.1:9000\n",
                 "tls.listen", "the same address as listen");
    expect_error(
        "admin: {listen: 127.0.0.1:9100}\n" + std::string(kMinimal) + "  listen: 127.0.0.1:9100\n",
        "tls.listen", "the same address as admin.listen");
    // Port 0 picks a free port each time, so two listeners on :0 never clash.
    EXPECT_EQ(error_of("listen: 127.0.0.1:0\n" + std::string(kMinimal) + "  listen: 127.0.0.1:0\n"),
              "");
    EXPECT_EQ(
        error_of("listen: 127.0.0.1:9000\n" + std::string(kMinimal) + "  listen: 127.0.0.1:9001\n"),
        "");
}

std::optional<std::string> no_env(const char*) {
    return std::nullopt;
}

TEST(TlsConfig, ThePlainListenerMovedByTheCommandLineIsCheckedToo) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("wsgate_tls_config_test_" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path) << kMinimal << "  listen: 127.0.0.1:9443\n";
    CommandLine cl;
    cl.config_file = path.string();
    EXPECT_TRUE(load(cl, no_env).tls.enabled);
    cl.listen = "127.0.0.1:9443";
    try {
        (void)load(cl, no_env);
        ADD_FAILURE() << "--listen on the TLS address was accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("config: tls.listen: ", 0), 0u) << e.what();
    }
    std::filesystem::remove(path);
}

}  // namespace
