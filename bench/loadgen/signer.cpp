#include "signer.h"

#include <array>
#include <chrono>
#include <vector>

namespace loadgen {

namespace http = boost::beast::http;
namespace auth = wsgate::auth;

Signer::Signer(std::string access_key, std::string secret_key, std::string session_token,
               std::string region)
    : access_key_(std::move(access_key)),
      secret_key_(std::move(secret_key)),
      session_token_(std::move(session_token)),
      region_(std::move(region)),
      signed_headers_(session_token_.empty() ? "host;x-amz-date"
                                             : "host;x-amz-date;x-amz-security-token") {}

void Signer::refresh_clock() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    if (now == second_) return;
    second_ = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    amz_date_ = buf;
    const std::string day = amz_date_.substr(0, 8);
    if (day != day_) {
        day_ = day;
        key_ = auth::derive_signing_key(secret_key_, day_, region_, "execute-api");
        scope_ = day_ + "/" + region_ + "/execute-api/aws4_request";
    }
}

void Signer::sign(http::request<http::string_body>& req) {
    refresh_clock();
    req.set("x-amz-date", amz_date_);
    if (!session_token_.empty()) req.set("x-amz-security-token", session_token_);
    std::array<auth::Header, 3> headers{{
        {"host", req[http::field::host]},
        {"x-amz-date", amz_date_},
        {"x-amz-security-token", session_token_},
    }};
    const std::size_t n = session_token_.empty() ? 2 : 3;
    const auth::SigV4Request sreq{req.method_string(), req.target(),
                                  std::span<const auth::Header>(headers.data(), n), req.body()};
    const std::string creq =
        auth::canonical_request(sreq, signed_headers_, auth::hex_sha256(req.body()));
    const std::string signature = auth::sign(key_, auth::string_to_sign(amz_date_, scope_, creq));
    req.set(http::field::authorization, "AWS4-HMAC-SHA256 Credential=" + access_key_ + "/" +
                                            scope_ + ", SignedHeaders=" + signed_headers_ +
                                            ", Signature=" + signature);
}

std::string uri_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() + 8);
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

}  // namespace loadgen
