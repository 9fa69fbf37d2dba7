#include "common/ids.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace wsgate {
namespace {

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
    std::array<unsigned char, N> b{};
    // RAND_bytes only fails when the system entropy source is broken; serving ids that may repeat
    // would be worse than stopping.
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) std::abort();
    return b;
}

}  // namespace

std::string new_aws_id() {
    const auto b = random_bytes<11>();
    std::string out;
    out.reserve(16);
    // 11 bytes = 3 full 24-bit groups (12 chars) + 2 bytes (3 chars) + one '=' of padding.
    for (int i = 0; i < 9; i += 3) {
        const std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
        out += kBase64Url[(v >> 18) & 63];
        out += kBase64Url[(v >> 12) & 63];
        out += kBase64Url[(v >> 6) & 63];
        out += kBase64Url[v & 63];
    }
    const std::uint32_t v = (b[9] << 16) | (b[10] << 8);
    out += kBase64Url[(v >> 18) & 63];
    out += kBase64Url[(v >> 12) & 63];
    out += kBase64Url[(v >> 6) & 63];
    out += '=';
    return out;
}

bool looks_like_aws_id(std::string_view s) {
    if (s.size() != 16 || s.back() != '=') return false;
    for (std::size_t i = 0; i < 15; ++i) {
        if (kBase64Url.find(s[i]) == std::string_view::npos) return false;
    }
    // The last data character carries 2 padding bits that must be zero (4 of 64 values are legal).
    return (kBase64Url.find(s[14]) & 3) == 0;
}

std::string new_uuid() {
    auto b = random_bytes<16>();
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 15];
    }
    return out;
}

}  // namespace wsgate
