// A backend's answer parsed as a Lambda-proxy response (src/integration/proxy_response.h).
//
// Input: 2 bytes of HTTP status, then the body. Status: if the first byte is < 0x80, 200 + (second
// byte % 100), so most inputs reach the JSON parsing; otherwise the low 15 bits (0-32767), to
// cover the non-2xx refusals too.
//
// Invariants checked:
//  - no exception escapes (libFuzzer reports one as a crash).
//  - ok  => 100 <= status_code <= 599, the HTTP status was 2xx, and the body was blank or a JSON
//           object with "statusCode"; a blank body gives exactly {200, no body, no subprotocol}.
//  - !ok => failure is bad_response with a non-empty detail.
//  - a non-base64 string "body" is returned byte for byte.
//  - isBase64Encoded: when the string is canonical base64 once OpenSSL's trimming is applied, the
//    decoded bytes equal an independent RFC 4648 decoder's.
//  - parsing is deterministic.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "integration/proxy_response.h"

namespace {

using namespace wsgate::integration;
using wsgate::fuzz::ExactCopy;
namespace json = boost::json;

bool blank(std::string_view s) {
    for (const char c : s) {
        if (!(c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r')) return false;
    }
    return true;
}

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// The text OpenSSL's EVP_DecodeBlock decodes: leading blanks and tabs dropped, then trailing
// blanks, tabs, CR, LF and '-' (while more than 3 characters remain).
std::string_view openssl_trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (s.size() > 3) {
        const char c = s.back();
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '-') break;
        s.remove_suffix(1);
    }
    return s;
}

// Strict RFC 4648 decoding (alphabet only, '=' padding only at the end); nullopt otherwise.
std::optional<std::string> strict_b64(std::string_view s) {
    if (s.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    while (pad < 2 && pad < s.size() && s[s.size() - 1 - pad] == '=') ++pad;
    std::string out;
    unsigned bits = 0;
    int nbits = 0;
    for (std::size_t i = 0; i < s.size() - pad; ++i) {
        const int v = b64_value(s[i]);
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<unsigned>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out.push_back(static_cast<char>((bits >> nbits) & 0xFF));
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned status =
        data[0] < 0x80 ? 200u + data[1] % 100u : ((static_cast<unsigned>(data[0]) & 0x7Fu) << 8) | data[1];
    const ExactCopy body(std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2));

    const Result r = parse_proxy_response(status, body.view());
    const Result again = parse_proxy_response(status, body.view());
    FUZZ_CHECK(again.failure == r.failure && again.response.status_code == r.response.status_code &&
               again.response.body == r.response.body && again.response.subprotocol == r.response.subprotocol);

    if (!r.ok()) {
        FUZZ_CHECK(r.failure == Failure::bad_response);
        FUZZ_CHECK(!r.detail.empty());
        return 0;
    }
    FUZZ_CHECK_MSG(r.response.status_code >= 100 && r.response.status_code <= 599, "status_code %d",
                   r.response.status_code);
    FUZZ_CHECK(status >= 200 && status <= 299);
    if (blank(body.view())) {
        FUZZ_CHECK(r.response.status_code == 200 && !r.response.body && r.response.subprotocol.empty());
        return 0;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(json::string_view(body.view().data(), body.view().size()), ec);
    FUZZ_CHECK(!ec && v.is_object() && v.as_object().contains("statusCode"));
    const json::object& o = v.as_object();

    const json::value* b = o.if_contains("body");
    if (b == nullptr || b->is_null()) {
        FUZZ_CHECK(!r.response.body);
        return 0;
    }
    FUZZ_CHECK(r.response.body.has_value());
    const json::value* b64 = o.if_contains("isBase64Encoded");
    const bool is_b64 = b64 != nullptr && b64->is_bool() && b64->get_bool();
    if (!is_b64) {
        if (b->is_string()) FUZZ_CHECK(*r.response.body == std::string_view(b->get_string()));
        return 0;
    }
    if (!b->is_string()) return 0;  // a JSON value serialised, then base64-decoded: no claim
    const std::string_view text = b->get_string();
    // Text OpenSSL accepts and that is canonical base64 once trimmed: the bytes must be exactly
    // what it encodes. (Garbage OpenSSL tolerates, like '=' in the middle, is not judged.)
    if (const auto ref = strict_b64(openssl_trimmed(text))) {
        FUZZ_CHECK_MSG(*ref == *r.response.body, "base64 body \"%s\" decoded to %zu bytes, expected %zu",
                       std::string(text).c_str(), r.response.body->size(), ref->size());
    }
    return 0;
}
