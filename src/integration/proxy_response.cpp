#include "integration/proxy_response.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

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

std::optional<std::string> base64_decode(std::string_view in) {
    std::string out(3 * (in.size() / 4) + 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return std::nullopt;
    std::size_t len = static_cast<std::size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes; trim them back off.
    for (auto it = in.rbegin(); it != in.rend() && *it == '=' && len > 0; ++it) --len;
    out.resize(len);
    return out;
}

// Sec-WebSocket-Protocol from "headers" (a string) or "multiValueHeaders" (first element).
std::string find_subprotocol(const json::object& o) {
    if (const auto* h = o.if_contains("headers"); h && h->is_object()) {
        for (const auto& kv : h->get_object()) {
            if (iequals(kv.key(), "Sec-WebSocket-Protocol") && kv.value().is_string()) {
                return std::string(kv.value().get_string());
            }
        }
    }
    if (const auto* h = o.if_contains("multiValueHeaders"); h && h->is_object()) {
        for (const auto& kv : h->get_object()) {
            const auto* arr = kv.value().if_array();
            if (iequals(kv.key(), "Sec-WebSocket-Protocol") && arr && !arr->empty() && (*arr)[0].is_string()) {
                return std::string((*arr)[0].get_string());
            }
        }
    }
    return {};
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
    r.response.subprotocol = find_subprotocol(o);
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
