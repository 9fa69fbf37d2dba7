#include "integration/proxy_response.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace wsgate::integration {
namespace json = boost::json;

namespace {

Result bad(std::string detail) {
    Result r;
    r.failure = Failure::bad_response;
    r.detail = std::move(detail);
    return r;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// Strict RFC 4648 base64 (standard alphabet, '=' padding), surrounding whitespace ignored.
// OpenSSL's EVP_DecodeBlock is not used: it also skips trailing '-' and counts padding as data.
std::optional<std::string> base64_decode(std::string_view in) {
    while (!in.empty() && std::isspace(static_cast<unsigned char>(in.back()))) in.remove_suffix(1);
    while (!in.empty() && std::isspace(static_cast<unsigned char>(in.front()))) in.remove_prefix(1);
    if (in.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    if (!in.empty() && in.back() == '=') pad = (in.size() >= 2 && in[in.size() - 2] == '=') ? 2 : 1;
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const bool is_pad = last && j >= 4 - pad;
            const int d = is_pad ? 0 : value(in[i + j]);
            if (d < 0) return std::nullopt;
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out += static_cast<char>((v >> 16) & 0xff);
        if (!(last && pad == 2)) out += static_cast<char>((v >> 8) & 0xff);
        if (!(last && pad >= 1)) out += static_cast<char>(v & 0xff);
    }
    return out;
}

// A response header from "headers" (a string) or "multiValueHeaders" (the first element; for the
// channel headers, every element joined with commas).
std::optional<std::string> find_header(const json::object& o, std::string_view name, bool join_all = false) {
    if (const auto* h = o.if_contains("headers"); h && h->is_object()) {
        for (const auto& kv : h->get_object()) {
            if (iequals(kv.key(), name) && kv.value().is_string()) return std::string(kv.value().get_string());
        }
    }
    if (const auto* h = o.if_contains("multiValueHeaders"); h && h->is_object()) {
        for (const auto& kv : h->get_object()) {
            const auto* arr = kv.value().if_array();
            if (!iequals(kv.key(), name) || !arr || arr->empty()) continue;
            std::string out;
            for (const auto& v : *arr) {
                if (!v.is_string()) continue;
                if (!out.empty()) out += ',';
                out += v.get_string();
                if (!join_all) break;
            }
            return out;
        }
    }
    return std::nullopt;
}

}  // namespace

Result parse_proxy_response(unsigned http_status, std::string_view body) {
    if (http_status < 200 || http_status > 299) {
        return bad("backend answered HTTP " + std::to_string(http_status));
    }
    Result r;
    if (std::all_of(body.begin(), body.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
        return r;  // a bare 2xx: accepted, nothing to send back
    }
    boost::system::error_code ec;
    const json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
    if (ec || !v.is_object()) return bad("backend body is not a JSON object (Lambda-proxy response expected)");
    const auto& o = v.get_object();
    const auto* sc = o.if_contains("statusCode");
    if (sc == nullptr) return bad("Lambda-proxy response has no statusCode");
    // Read without conversions that can throw (a uint64 beyond long long, say): invoke() must not.
    long long code = -1;
    if (sc->is_int64()) {
        code = sc->get_int64();
    } else if (sc->is_uint64()) {
        code = sc->get_uint64() > 999 ? -1 : static_cast<long long>(sc->get_uint64());
    } else if (sc->is_string()) {
        // Lambda's own runtime accepts "200" too.
        const auto& str = sc->get_string();
        if (str.size() == 3 && std::all_of(str.begin(), str.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            code = (str[0] - '0') * 100 + (str[1] - '0') * 10 + (str[2] - '0');
        }
    } else {
        return bad("statusCode is not a number");
    }
    if (code < 100 || code > 599) return bad("statusCode missing or out of range (100-599)");
    r.response.status_code = static_cast<int>(code);
    if (const auto* b = o.if_contains("body"); b && !b->is_null()) {
        std::string text = b->is_string() ? std::string(b->get_string()) : json::serialize(*b);
        const auto* b64 = o.if_contains("isBase64Encoded");
        if (b64 && b64->is_bool() && b64->get_bool()) {
            auto decoded = base64_decode(text);
            if (!decoded) return bad("isBase64Encoded body is not valid base64");
            text = std::move(*decoded);
        }
        r.response.body = std::move(text);
    }
    r.response.subprotocol = find_header(o, "Sec-WebSocket-Protocol").value_or("");
    r.response.join_channels = find_header(o, "X-Wsgate-Channels", true);
    r.response.leave_channels = find_header(o, "X-Wsgate-Leave-Channels", true);
    return r;
}

const char* to_string(Failure f) {
    switch (f) {
        case Failure::none: return "none";
        case Failure::unreachable: return "unreachable";
        case Failure::bad_response: return "bad_response";
        case Failure::timeout: return "timeout";
        case Failure::overloaded: return "overloaded";
    }
    return "?";
}

}  // namespace wsgate::integration
