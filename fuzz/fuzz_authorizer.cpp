// The $connect authorizer's answer and identity sources (src/auth/authorizer.h).
//
// Input: 2 bytes of HTTP status (200 + second byte % 100 when the first is < 0x80, else the low
// 15 bits), then the body; the first line of the body, when it starts with "route.", is also
// parsed as an identity-source list.
//
// Invariants checked:
//  - no exception escapes (libFuzzer reports one as a crash);
//  - allow only for a 2xx answer of at most 8 KB; http_status() is 0 for allow, else 401/403/500;
//  - an allow's authorizer object has a string principalId and only scalar context values;
//  - parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/authorizer.h"
#include "fuzz_check.h"

using namespace wsgate::auth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned status = data[0] < 0x80 ? 200u + data[1] % 100u : ((data[0] << 8 | data[1]) & 0x7fffu);
    const std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
    constexpr std::string_view kArn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/$connect";

    const AuthorizerDecision d = parse_authorizer_response(status, body, kArn);
    if (d.outcome == AuthorizerOutcome::allow) {
        FUZZ_CHECK(status >= 200 && status <= 299);
        FUZZ_CHECK(body.size() <= kMaxAuthorizerResponseBytes);
        FUZZ_CHECK(http_status(d.outcome) == 0);
        const auto obj = authorizer_object(d);
        const auto* pid = obj.if_contains("principalId");
        FUZZ_CHECK(pid != nullptr && pid->is_string());
        for (const auto& kv : obj) FUZZ_CHECK(!kv.value().is_object() && !kv.value().is_array());
    } else {
        const unsigned s = http_status(d.outcome);
        FUZZ_CHECK(s == 401 || s == 403 || s == 500);
    }
    const AuthorizerDecision again = parse_authorizer_response(status, body, kArn);
    FUZZ_CHECK(again.outcome == d.outcome && again.principal_id == d.principal_id && again.context == d.context);

    if (body.starts_with("route.")) {
        std::string error;
        const auto line = std::string_view(body).substr(0, body.find('\n'));
        const auto sources = parse_identity_sources(line, &error);
        FUZZ_CHECK(sources.has_value() || !error.empty());
        if (sources) {
            for (const auto& s : *sources) FUZZ_CHECK(!s.name.empty());
        }
    }
    return 0;
}
