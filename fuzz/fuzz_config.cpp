// The YAML configuration (src/config/load.h): parse_yaml, then validate.
//
// Input: a YAML document. parse_yaml and validate may throw config::ConfigError (main() prints it
// and exits 2): that is the documented failure. Any other exception escaping is a finding: nothing
// catches it, so std::terminate runs at the throw site (libstdc++ prints the exception's type and
// what(), and libFuzzer's stack trace shows the throwing call). Deep nesting: yaml-cpp recurses
// per level (0.7 stops at a depth limit with its own exception); fuzz/run bounds the input size
// with -max_len, so a stack overflow would be a finding, not noise.
//
// Invariants checked on success: at least one stage, each a valid stage name; the built-in "echo"
// integration present; threads within range; http integrations have a host; credentials are
// filled by apply_environment; validate() throws nothing but ConfigError.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/load.h"
#include "fuzz_check.h"

using namespace wsgate::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view yaml(reinterpret_cast<const char*>(data), size);
    Settings s;
    try {
        s = parse_yaml(yaml, "fuzz");
    } catch (const ConfigError& e) {
        FUZZ_CHECK(std::string_view(e.what()).substr(0, 8) == "config: ");
        return 0;
    }  // anything else escapes: std::terminate at the throw site, so the report shows where
    FUZZ_CHECK(!s.stages.empty());
    for (const auto& st : s.stages) FUZZ_CHECK(!st.empty() && st.size() <= 128);
    FUZZ_CHECK(s.integrations.contains("echo"));
    FUZZ_CHECK(s.integrations.at("echo").type == IntegrationSettings::Type::echo);
    FUZZ_CHECK(s.threads <= 1024);
    for (const auto& [name, it] : s.integrations) {
        if (it.type == IntegrationSettings::Type::http) FUZZ_CHECK(!it.url.host.empty());
    }
    try {
        apply_environment(s, [](const char*) -> std::optional<std::string> { return std::nullopt; });
        FUZZ_CHECK(!s.management.credentials.empty());
        validate(s);
    } catch (const ConfigError&) {
    }
    return 0;
}
