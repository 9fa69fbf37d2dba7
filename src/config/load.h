#pragma once
// Turning YAML and the command line into Settings. Errors name the offending key.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"

namespace wsgate::config {

// Thrown only at startup; main() prints it and exits 2.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The configuration used when no --config is given: built-in echo on $default, stage "dev".
extern const std::string_view kEmbeddedDefault;

// Parses a YAML document. `source` names it in error messages.
Settings parse_yaml(std::string_view yaml, std::string_view source);

// Environment lookup, injectable for tests.
using EnvLookup = std::optional<std::string> (*)(const char* name);
std::optional<std::string> process_env(const char* name);

// Fills what the file left open from the environment: management credentials from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the documented local pair.
void apply_environment(Settings& s, EnvLookup env);

// Checks cross-references (routes -> integrations) and bounds. Throws ConfigError.
void validate(const Settings& s);

struct CommandLine {
    std::optional<std::string> config_file;
    std::optional<std::string> integration_url;
    std::optional<std::string> listen;  // HOST:PORT
    std::optional<unsigned> threads;
    std::optional<std::string> redis;  // cluster mode: redis://HOST:PORT
    bool help = false;
    bool version = false;
    bool print_default_config = false;
};
CommandLine parse_command_line(const std::vector<std::string>& args);
extern const std::string_view kUsage;

// The whole startup path: file or embedded default, then command-line overrides, environment,
// validation.
Settings load(const CommandLine& cl, EnvLookup env);

HttpUrl parse_http_url(std::string_view url, std::string_view key);

// The local credential pair used when neither the config nor the environment gives one.
inline constexpr std::string_view kLocalAccessKeyId = "AKIAWSGATELOCAL00001";
inline constexpr std::string_view kLocalSecretAccessKey = "wsgate-local-secret-key-not-for-production";

}  // namespace wsgate::config
