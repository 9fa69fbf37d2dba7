#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>

namespace wsgate::auth {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::int64_t kMaxPresignExpires = 604800;  // 7 days, the SDKs' own limit
constexpr std::size_t kHexDigestLen = 64;

// ---------------------------------------------------------------------------------------------
// Text

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

// Calls f(piece) for each piece of s between separators, empty pieces included.
template <typename F>
void split(std::string_view s, char sep, F&& f) {
    std::size_t pos = 0;
    while (true) {
        const std::size_t end = s.find(sep, pos);
        if (end == std::string_view::npos) {
            f(s.substr(pos));
            return;
        }
        f(s.substr(pos, end - pos));
        pos = end + 1;
    }
}

constexpr std::array<bool, 256> make_unreserved() {
    std::array<bool, 256> t{};
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    t['-'] = t['_'] = t['.'] = t['~'] = true;
    return t;
}
constexpr std::array<bool, 256> kUnreserved = make_unreserved();
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

// AWS UriEncode over bytes (not code points): raw UTF-8 in a request line is encoded byte by byte.
// Runs of bytes that need no escaping are copied in one go; they are most of a typical path.
void append_uri_encoded(std::string& out, std::string_view in, bool keep_slash) {
    std::size_t i = 0;
    while (i < in.size()) {
        std::size_t run = i;
        while (run < in.size() && (kUnreserved[static_cast<unsigned char>(in[run])] ||
                                   (keep_slash && in[run] == '/'))) {
            ++run;
        }
        out.append(in.data() + i, run - i);
        if (run == in.size()) return;
        const auto c = static_cast<unsigned char>(in[run]);
        const char esc[3] = {'%', kHexUpper[c >> 4], kHexUpper[c & 15]};
        out.append(esc, 3);
        i = run + 1;
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes %XX once; a '%' not followed by two hex digits stays as it is, and '+' stays a plus
// (SigV4 clients encode spaces as %20, so '+' can only mean a literal plus).
void append_percent_decoded(std::string& out, std::string_view in) {
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(in[i]);
    }
}

// Whether the percent-decoded form of `raw` equals `plain`, without allocating.
bool decoded_equals(std::string_view raw, std::string_view plain) {
    std::size_t j = 0;
    for (std::size_t i = 0; i < raw.size(); ++i, ++j) {
        char c = raw[i];
        if (c == '%' && i + 2 < raw.size()) {
            const int hi = hex_value(raw[i + 1]);
            const int lo = hex_value(raw[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        }
        if (j >= plain.size() || plain[j] != c) return false;
    }
    return j == plain.size();
}

void append_canonical_uri(std::string& out, std::string_view path) {
    const std::size_t start = out.size();
    split(path, '/', [&](std::string_view seg) {
        if (seg.empty() || seg == ".") return;
        if (seg == "..") {
            // Encoded segments never contain '/', so the last '/' starts the last segment.
            const std::size_t last = out.rfind('/');
            out.resize(last == std::string::npos || last < start ? start : last);
            return;
        }
        out.push_back('/');
        append_uri_encoded(out, seg, false);
    });
    // An empty result is the root; otherwise a trailing '/' on the wire is kept.
    if (out.size() == start || path.back() == '/') out.push_back('/');
}

void append_canonical_query(std::string& out, std::string_view raw, bool skip_signature) {
    if (raw.empty()) return;
    struct Pair {
        std::string key;
        std::string value;
    };
    std::vector<Pair> pairs;
    std::string decoded;
    split(raw, '&', [&](std::string_view part) {
        if (part.empty()) return;
        const std::size_t eq = part.find('=');
        const std::string_view key = part.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
        if (skip_signature && decoded_equals(key, "X-Amz-Signature")) return;
        Pair p;
        decoded.clear();
        append_percent_decoded(decoded, key);
        append_uri_encoded(p.key, decoded, false);
        decoded.clear();
        append_percent_decoded(decoded, value);
        append_uri_encoded(p.value, decoded, false);
        pairs.push_back(std::move(p));
    });
    std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
        return a.key != b.key ? a.key < b.key : a.value < b.value;
    });
    bool first = true;
    for (const Pair& p : pairs) {
        if (!first) out.push_back('&');
        first = false;
        out += p.key;
        out.push_back('=');
        out += p.value;
    }
}

// Trims, and collapses each inner run of whitespace to one space (SigV4 "Trimall").
void append_header_value(std::string& out, std::string_view value) {
    value = trim(value);
    while (!value.empty()) {
        std::size_t text = 0;
        while (text < value.size() && !is_space(value[text])) ++text;
        out.append(value.data(), text);
        value.remove_prefix(text);
        if (value.empty()) return;
        // Trimmed, so this run of whitespace is followed by more text.
        while (is_space(value.front())) value.remove_prefix(1);
        out.push_back(' ');
    }
}

void append_canonical_headers(std::string& out, std::span<const Header> headers,
                              std::string_view signed_headers) {
    split(signed_headers, ';', [&](std::string_view name) {
        out += name;
        out.push_back(':');
        bool first = true;
        for (const Header& h : headers) {
            if (!iequals(h.name, name)) continue;
            if (!first) out.push_back(',');
            first = false;
            append_header_value(out, h.value);
        }
        out.push_back('\n');
    });
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

void append_canonical_request(std::string& out, const SigV4Request& req,
                              std::string_view signed_headers, std::string_view payload_hash) {
    const auto [path, query] = split_target(req.target);
    out += req.method;
    out.push_back('\n');
    append_canonical_uri(out, path);
    out.push_back('\n');
    append_canonical_query(out, query, true);
    out.push_back('\n');
    append_canonical_headers(out, req.headers, signed_headers);
    out.push_back('\n');
    out += signed_headers;
    out.push_back('\n');
    out += payload_hash;
}

// ---------------------------------------------------------------------------------------------
// Crypto. HMAC is done by hand over a pre-fetched SHA-256: OpenSSL 3's one-shot HMAC() fetches
// the algorithm on every call (~1.1 us per HMAC here, against ~0.3 us this way), and a verify
// needs five of them.

const EVP_MD* sha256_md() {
    static const EVP_MD* const md = []() -> const EVP_MD* {
        if (EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr)) return m;
        return EVP_sha256();
    }();
    return md;
}

// One digest context per thread, reused: no allocation per hash, no sharing between threads.
EVP_MD_CTX* digest_ctx() {
    struct Holder {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        ~Holder() { EVP_MD_CTX_free(ctx); }
    };
    thread_local Holder holder;
    return holder.ctx;
}

using Digest = std::array<unsigned char, 32>;

std::string_view bytes_view(const unsigned char* p, std::size_t n) {
    return {reinterpret_cast<const char*>(p), n};
}

bool sha256(std::initializer_list<std::string_view> parts, unsigned char* out) {
    EVP_MD_CTX* ctx = digest_ctx();
    if (ctx == nullptr || EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1) return false;
    for (const std::string_view p : parts) {
        if (!p.empty() && EVP_DigestUpdate(ctx, p.data(), p.size()) != 1) return false;
    }
    unsigned int len = 0;
    return EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 32;
}

// HMAC-SHA256 (RFC 2104) with the key given as two pieces, so "AWS4" + secret needs no buffer.
bool hmac_sha256(std::string_view key_a, std::string_view key_b, std::string_view msg,
                 unsigned char* out) {
    constexpr std::size_t kBlock = 64;
    unsigned char key[kBlock] = {};
    bool ok = true;
    if (key_a.size() + key_b.size() > kBlock) {
        ok = sha256({key_a, key_b}, key);
    } else {
        if (!key_a.empty()) std::memcpy(key, key_a.data(), key_a.size());
        if (!key_b.empty()) std::memcpy(key + key_a.size(), key_b.data(), key_b.size());
    }
    unsigned char pad[kBlock];
    unsigned char inner[32];
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ 0x36;
    ok = ok && sha256({bytes_view(pad, kBlock), msg}, inner);
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ 0x5c;
    ok = ok && sha256({bytes_view(pad, kBlock), bytes_view(inner, 32)}, out);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok;
}

bool derive_key(std::string_view secret, std::string_view date, std::string_view region,
                std::string_view service, SigningKey& out) {
    Digest k{};
    bool ok = hmac_sha256("AWS4", secret, date, k.data());
    ok = ok && hmac_sha256(bytes_view(k.data(), k.size()), {}, region, k.data());
    ok = ok && hmac_sha256(bytes_view(k.data(), k.size()), {}, service, k.data());
    ok = ok && hmac_sha256(bytes_view(k.data(), k.size()), {}, kTerminator, out.data());
    OPENSSL_cleanse(k.data(), k.size());
    return ok;
}

void append_hex(std::string& out, const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(kHexLower[p[i] >> 4]);
        out.push_back(kHexLower[p[i] & 15]);
    }
}

// ---------------------------------------------------------------------------------------------
// Dates: X-Amz-Date is ISO 8601 basic format, "20150830T123600Z".

using std::chrono::sys_seconds;

std::optional<sys_seconds> parse_amz_date(std::string_view s) {
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
    auto number = [&](std::size_t pos, std::size_t len, int& v) {
        v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            v = v * 10 + (s[i] - '0');
        }
        return true;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!number(0, 4, y) || !number(4, 2, mo) || !number(6, 2, d) || !number(9, 2, h) ||
        !number(11, 2, mi) || !number(13, 2, sec)) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y},
                                          std::chrono::month{static_cast<unsigned>(mo)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
    return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
           std::chrono::seconds{sec};
}

std::string format_amz_date(sys_seconds t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{t - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

// "5 min." as AWS words it; a skew that is not whole minutes is given in seconds.
std::string format_span(std::chrono::seconds s) {
    if (s.count() % 60 == 0) return std::to_string(s.count() / 60) + " min.";
    return std::to_string(s.count()) + " sec.";
}

// ---------------------------------------------------------------------------------------------
// Parsing the request's authentication.

// Headers verify() needs, found in one pass.
struct Scan {
    std::string_view path;
    std::string_view query;
    const Header* authorization = nullptr;
    int authorization_count = 0;
    const Header* amz_date = nullptr;
    const Header* content_sha256 = nullptr;
    const Header* token = nullptr;
    int token_count = 0;
    bool query_has_signature = false;
};

Scan scan_request(const SigV4Request& req) {
    Scan s;
    std::tie(s.path, s.query) = split_target(req.target);
    for (const Header& h : req.headers) {
        if (iequals(h.name, "authorization")) {
            if (s.authorization_count++ == 0) s.authorization = &h;
        } else if (iequals(h.name, "x-amz-date")) {
            if (s.amz_date == nullptr) s.amz_date = &h;
        } else if (iequals(h.name, "x-amz-content-sha256")) {
            if (s.content_sha256 == nullptr) s.content_sha256 = &h;
        } else if (iequals(h.name, "x-amz-security-token")) {
            if (s.token_count++ == 0) s.token = &h;
        }
    }
    if (!s.query.empty()) {
        split(s.query, '&', [&](std::string_view part) {
            if (decoded_equals(part.substr(0, part.find('=')), "X-Amz-Signature")) {
                s.query_has_signature = true;
            }
        });
    }
    return s;
}

// The authentication parameters of one request, in either form. Views point into the request or,
// for the presigned form, into the decoded copies below; hence the object is never moved.
struct Auth {
    bool presigned = false;
    std::string_view access_key;
    std::string_view scope;  // "<date>/<region>/<service>/aws4_request"
    std::string_view scope_date;
    std::string_view region;
    std::string_view service;
    std::string_view terminator;
    std::string_view signed_headers;
    std::string_view signature;
    std::string_view amz_date;
    std::int64_t expires = 0;  // presigned only

    bool token_present = false;
    bool token_ambiguous = false;  // sent more than once
    bool token_signed = false;
    std::string_view token;

    std::string credential_buf, signed_headers_buf, signature_buf, date_buf, token_buf;

    Auth() = default;
    Auth(const Auth&) = delete;
    Auth& operator=(const Auth&) = delete;
};

struct Failure {
    VerifyStatus status;
    std::string message;
};

Failure incomplete(std::string message) {
    return {VerifyStatus::incomplete_signature, std::move(message)};
}

std::optional<Failure> parse_credential(std::string_view cred, Auth& a) {
    const std::size_t slash = cred.find('/');
    if (slash == std::string_view::npos || slash == 0) {
        return incomplete(
            "Credential is malformed; expected "
            "'<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request'.");
    }
    a.access_key = cred.substr(0, slash);
    a.scope = cred.substr(slash + 1);
    std::string_view parts[4];
    std::size_t n = 0;
    bool bad = false;
    split(a.scope, '/', [&](std::string_view p) {
        if (n == 4 || p.empty()) {
            bad = true;
            return;
        }
        parts[n++] = p;
    });
    if (bad || n != 4) {
        return incomplete(
            "Credential is malformed; expected "
            "'<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request'.");
    }
    a.scope_date = parts[0];
    a.region = parts[1];
    a.service = parts[2];
    a.terminator = parts[3];
    return std::nullopt;
}

std::optional<Failure> parse_authorization_header(std::string_view value, Auth& a) {
    value = trim(value);
    if (value.substr(0, kAlgorithm.size()) != kAlgorithm ||
        (value.size() > kAlgorithm.size() && !is_space(value[kAlgorithm.size()]))) {
        return incomplete(
            "Authorization header must use the AWS4-HMAC-SHA256 algorithm: "
            "'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'.");
    }
    std::optional<std::string_view> credential, signed_headers, signature;
    std::optional<Failure> failure;
    split(value.substr(kAlgorithm.size()), ',', [&](std::string_view part) {
        part = trim(part);
        if (part.empty() || failure) return;
        const std::size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
            failure =
                incomplete("Invalid key=value pair (missing equal-sign) in Authorization header.");
            return;
        }
        const std::string_view key = trim(part.substr(0, eq));
        const std::string_view val = trim(part.substr(eq + 1));
        std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                                : key == "SignedHeaders" ? &signed_headers
                                                : key == "Signature"     ? &signature
                                                                         : nullptr;
        if (slot == nullptr) return;  // unknown parameters are ignored, as the SDKs never send any
        if (slot->has_value()) {
            failure = incomplete("Authorization header has a duplicate '" + std::string(key) +
                                 "' parameter.");
            return;
        }
        *slot = val;
    });
    if (failure) return failure;
    std::string missing;
    if (!credential) missing += "Authorization header requires 'Credential' parameter. ";
    if (!signature) missing += "Authorization header requires 'Signature' parameter. ";
    if (!signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
    if (!missing.empty()) {
        missing.pop_back();
        return incomplete(std::move(missing));
    }
    a.signed_headers = *signed_headers;
    a.signature = *signature;
    return parse_credential(*credential, a);
}

std::optional<Failure> parse_presigned_query(std::string_view query, Auth& a) {
    a.presigned = true;
    struct Param {
        std::string_view name;
        std::string* buf;
        bool seen = false;
    };
    std::string algorithm, expires;
    Param params[] = {
        {"X-Amz-Algorithm", &algorithm},
        {"X-Amz-Credential", &a.credential_buf},
        {"X-Amz-Date", &a.date_buf},
        {"X-Amz-Expires", &expires},
        {"X-Amz-SignedHeaders", &a.signed_headers_buf},
        {"X-Amz-Signature", &a.signature_buf},
        {"X-Amz-Security-Token", &a.token_buf},
    };
    std::optional<Failure> failure;
    split(query, '&', [&](std::string_view part) {
        if (failure) return;
        const std::size_t eq = part.find('=');
        const std::string_view key = part.substr(0, eq);
        for (Param& p : params) {
            if (!decoded_equals(key, p.name)) continue;
            if (p.seen) {
                failure = incomplete("Query parameter '" + std::string(p.name) +
                                     "' must not appear more than once.");
                return;
            }
            p.seen = true;
            if (eq != std::string_view::npos) append_percent_decoded(*p.buf, part.substr(eq + 1));
            return;
        }
    });
    if (failure) return failure;
    for (std::size_t i = 0; i < 6; ++i) {  // all but the token are required
        if (!params[i].seen) {
            return incomplete(
                "AWS query-string parameters must include 'X-Amz-Algorithm', "
                "'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', "
                "and 'X-Amz-Expires'. Re-examine the query-string parameters.");
        }
    }
    if (algorithm != kAlgorithm) {
        return incomplete("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".");
    }
    std::int64_t secs = 0;
    bool digits = !expires.empty() && expires.size() <= 7;
    for (const char c : expires) {
        if (c < '0' || c > '9') digits = false;
        secs = secs * 10 + (c - '0');
    }
    if (!digits) return incomplete("X-Amz-Expires must be a non-negative integer of seconds.");
    if (secs > kMaxPresignExpires) {
        return incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800.");
    }
    a.expires = secs;
    a.amz_date = a.date_buf;
    a.signed_headers = a.signed_headers_buf;
    a.signature = a.signature_buf;
    if (params[6].seen) {
        a.token_present = true;
        a.token_signed = true;  // query parameters are part of the canonical query
        a.token = a.token_buf;
    }
    return parse_credential(a.credential_buf, a);
}

bool lists_header(std::string_view signed_headers, std::string_view name) {
    bool found = false;
    split(signed_headers, ';', [&](std::string_view h) { found = found || iequals(h, name); });
    return found;
}

// Everything that can be said about the request without credentials or a clock.
std::optional<Failure> parse_auth(const Scan& s, Auth& a) {
    if (s.authorization == nullptr && !s.query_has_signature) {
        return Failure{VerifyStatus::missing_authentication_token, "Missing Authentication Token"};
    }
    if (s.authorization != nullptr && s.query_has_signature) {
        return incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified");
    }
    if (s.authorization_count > 1) {
        return incomplete("Only one Authorization header is allowed.");
    }
    std::optional<Failure> f = s.authorization != nullptr
                                   ? parse_authorization_header(s.authorization->value, a)
                                   : parse_presigned_query(s.query, a);
    if (f) return f;

    bool empty_name = false;
    split(a.signed_headers, ';', [&](std::string_view h) { empty_name = empty_name || h.empty(); });
    if (empty_name)
        return incomplete("SignedHeaders must be a ';'-separated list of header names.");
    if (!lists_header(a.signed_headers, "host")) {
        return incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    }

    if (!a.presigned) {
        if (s.amz_date == nullptr) {
            return incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
        }
        a.amz_date = trim(s.amz_date->value);
    }

    // The session token: the header for header auth (signed only when listed), the query
    // parameter for presigned URLs; either form falls back to the other.
    if (s.token != nullptr && (!a.presigned || !a.token_present)) {
        a.token_present = true;
        a.token_ambiguous = s.token_count > 1;
        a.token = trim(s.token->value);
        a.token_signed = lists_header(a.signed_headers, "x-amz-security-token");
    } else if (!a.presigned && !s.query.empty()) {
        split(s.query, '&', [&](std::string_view part) {
            const std::size_t eq = part.find('=');
            if (!decoded_equals(part.substr(0, eq), "X-Amz-Security-Token")) return;
            if (a.token_present) {
                a.token_ambiguous = true;
                return;
            }
            a.token_present = true;
            a.token_signed = true;
            if (eq != std::string_view::npos)
                append_percent_decoded(a.token_buf, part.substr(eq + 1));
        });
        if (a.token_present) a.token = a.token_buf;
    }
    return std::nullopt;
}

std::string mismatch_message(std::string_view creq, std::string_view sts) {
    std::string m =
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.\n\nThe Canonical String for this request should have been\n'";
    m += creq;
    m += "'\n\nThe String-to-Sign should have been\n'";
    m += sts;
    m += "'\n";
    return m;
}

void append_string_to_sign(std::string& out, std::string_view amz_date, std::string_view scope,
                           const unsigned char* creq_hash) {
    out += kAlgorithm;
    out.push_back('\n');
    out += amz_date;
    out.push_back('\n');
    out += scope;
    out.push_back('\n');
    append_hex(out, creq_hash, 32);
}

constexpr std::size_t kMaxCachedScopePart = 32;

bool constant_time_equals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CredentialStore and its signing-key cache.

struct CredentialStore::KeySlot {
    struct Entry {
        bool used = false;
        std::uint64_t last_use = 0;
        char date[8] = {};
        std::uint8_t region_len = 0;
        std::uint8_t service_len = 0;
        char region[kMaxCachedScopePart] = {};
        char service[kMaxCachedScopePart] = {};
        SigningKey key{};

        bool matches(std::string_view d, std::string_view r, std::string_view s) const {
            return used && std::string_view(date, 8) == d &&
                   std::string_view(region, region_len) == r &&
                   std::string_view(service, service_len) == s;
        }
    };

    std::mutex mu;
    std::uint64_t clock = 0;
    std::array<Entry, 2> entries{};

    ~KeySlot() { OPENSSL_cleanse(entries.data(), sizeof entries); }
};

namespace detail {
struct KeyCache {
    static bool cacheable(std::string_view date, std::string_view region,
                          std::string_view service) {
        return date.size() == 8 && region.size() <= kMaxCachedScopePart &&
               service.size() <= kMaxCachedScopePart;
    }

    static CredentialStore::KeySlot* slot(const CredentialStore& store, const Credential* c) {
        if (!store.slots_) return nullptr;
        return &store.slots_[static_cast<std::size_t>(c - store.creds_.data())];
    }

    static bool lookup(const CredentialStore& store, const Credential* c, std::string_view date,
                       std::string_view region, std::string_view service, SigningKey& out) {
        CredentialStore::KeySlot* s = slot(store, c);
        if (s == nullptr || !cacheable(date, region, service)) return false;
        const std::lock_guard lock(s->mu);
        for (auto& e : s->entries) {
            if (e.matches(date, region, service)) {
                e.last_use = ++s->clock;
                out = e.key;
                return true;
            }
        }
        return false;
    }

    static void remember(const CredentialStore& store, const Credential* c, std::string_view date,
                         std::string_view region, std::string_view service, const SigningKey& key) {
        CredentialStore::KeySlot* s = slot(store, c);
        if (s == nullptr || !cacheable(date, region, service)) return;
        const std::lock_guard lock(s->mu);
        auto* victim = &s->entries[0];
        for (auto& e : s->entries) {
            if (e.matches(date, region, service)) return;  // another thread got here first
            if (!e.used || (victim->used && e.last_use < victim->last_use)) victim = &e;
        }
        victim->used = true;
        victim->last_use = ++s->clock;
        std::memcpy(victim->date, date.data(), 8);
        victim->region_len = static_cast<std::uint8_t>(region.size());
        std::memcpy(victim->region, region.data(), region.size());
        victim->service_len = static_cast<std::uint8_t>(service.size());
        std::memcpy(victim->service, service.data(), service.size());
        victim->key = key;
    }
};
}  // namespace detail

CredentialStore::CredentialStore(std::vector<Credential> creds, bool cache_signing_keys)
    : creds_(std::move(creds)) {
    std::stable_sort(creds_.begin(), creds_.end(), [](const Credential& a, const Credential& b) {
        return a.access_key_id < b.access_key_id;
    });
    creds_.erase(std::unique(creds_.begin(), creds_.end(),
                             [](const Credential& a, const Credential& b) {
                                 return a.access_key_id == b.access_key_id;
                             }),
                 creds_.end());
    if (cache_signing_keys) slots_ = std::make_unique<KeySlot[]>(creds_.size());
}

CredentialStore::~CredentialStore() = default;
CredentialStore::CredentialStore(CredentialStore&&) noexcept = default;
CredentialStore& CredentialStore::operator=(CredentialStore&&) noexcept = default;

const Credential* CredentialStore::find(std::string_view access_key_id) const {
    const auto it = std::lower_bound(
        creds_.begin(), creds_.end(), access_key_id,
        [](const Credential& c, std::string_view key) { return c.access_key_id < key; });
    if (it == creds_.end() || it->access_key_id != access_key_id) return nullptr;
    return &*it;
}

// ---------------------------------------------------------------------------------------------
// Public functions.

std::string_view status_name(VerifyStatus status) {
    switch (status) {
        case VerifyStatus::ok:
            return "ok";
        case VerifyStatus::missing_authentication_token:
            return "missing_authentication_token";
        case VerifyStatus::incomplete_signature:
            return "incomplete_signature";
        case VerifyStatus::unrecognized_client:
            return "unrecognized_client";
        case VerifyStatus::invalid_signature:
            return "invalid_signature";
        case VerifyStatus::signature_expired:
            return "signature_expired";
        case VerifyStatus::signature_not_yet_current:
            return "signature_not_yet_current";
    }
    return "unknown";
}

std::string_view VerifyResult::error_type() const {
    switch (status) {
        case VerifyStatus::ok:
            return {};
        case VerifyStatus::missing_authentication_token:
            return "MissingAuthenticationTokenException";
        case VerifyStatus::incomplete_signature:
            return "IncompleteSignatureException";
        case VerifyStatus::unrecognized_client:
            return "UnrecognizedClientException";
        case VerifyStatus::invalid_signature:
        case VerifyStatus::signature_expired:
        case VerifyStatus::signature_not_yet_current:
            return "InvalidSignatureException";
    }
    return "InvalidSignatureException";
}

std::string canonical_uri(std::string_view raw_path) {
    std::string out;
    out.reserve(raw_path.size() * 3 + 1);
    append_canonical_uri(out, raw_path);
    return out;
}

std::string canonical_query(std::string_view raw_query) {
    std::string out;
    append_canonical_query(out, raw_query, false);
    return out;
}

std::string hex_sha256(std::string_view data) {
    Digest d{};
    if (!sha256({data}, d.data())) return {};
    std::string out;
    out.reserve(kHexDigestLen);
    append_hex(out, d.data(), d.size());
    return out;
}

std::string canonical_request(const SigV4Request& req, std::string_view signed_headers,
                              std::string_view payload_hash) {
    std::string out;
    append_canonical_request(out, req, signed_headers, payload_hash);
    return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view credential_scope,
                           std::string_view canonical_request) {
    Digest d{};
    if (!sha256({canonical_request}, d.data())) return {};
    std::string out;
    append_string_to_sign(out, amz_date, credential_scope, d.data());
    return out;
}

SigningKey derive_signing_key(std::string_view secret, std::string_view date_yyyymmdd,
                              std::string_view region, std::string_view service) {
    SigningKey key{};
    if (!derive_key(secret, date_yyyymmdd, region, service, key)) key.fill(0);
    return key;
}

std::string sign(const SigningKey& key, std::string_view string_to_sign) {
    Digest d{};
    if (!hmac_sha256(bytes_view(key.data(), key.size()), {}, string_to_sign, d.data())) return {};
    std::string out;
    out.reserve(kHexDigestLen);
    append_hex(out, d.data(), d.size());
    return out;
}

CanonicalStrings canonical_strings(const SigV4Request& req) {
    CanonicalStrings out;
    try {
        const Scan s = scan_request(req);
        Auth a;
        if (std::optional<Failure> f = parse_auth(s, a)) {
            out.status = f->status;
            out.message = std::move(f->message);
            return out;
        }
        const std::string payload_hash = s.content_sha256 != nullptr
                                             ? std::string(trim(s.content_sha256->value))
                                             : hex_sha256(req.body);
        out.canonical_request = canonical_request(req, a.signed_headers, payload_hash);
        out.string_to_sign = string_to_sign(a.amz_date, a.scope, out.canonical_request);
    } catch (...) {  // allocation failure; nothing else throws
        out.status = VerifyStatus::invalid_signature;
        out.message = "internal error";
    }
    return out;
}

namespace {

VerifyResult verify_impl(const SigV4Request& req, const CredentialStore& store,
                         const VerifyOptions& opt) {
    VerifyResult r;
    auto fail = [&r](VerifyStatus status, std::string message) {
        r.status = status;
        r.message = std::move(message);
        r.credential = nullptr;
        return std::move(r);
    };

    const Scan s = scan_request(req);
    Auth a;
    if (std::optional<Failure> f = parse_auth(s, a)) {
        return fail(f->status, std::move(f->message));
    }

    const std::optional<sys_seconds> date = parse_amz_date(a.amz_date);
    if (!date) {
        return fail(VerifyStatus::incomplete_signature,
                    "Date must be in ISO-8601 'basic format'. Got '" + std::string(a.amz_date) +
                        "'. See http://en.wikipedia.org/wiki/ISO_8601");
    }

    // The credential scope must name this day, service and (if configured) region: a key derived
    // for another scope must not verify here even with a correct HMAC.
    if (a.scope_date != a.amz_date.substr(0, 8)) {
        return fail(VerifyStatus::invalid_signature,
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                    "date from HTTP: '" +
                        std::string(a.scope_date) + "' != '" +
                        std::string(a.amz_date.substr(0, 8)) + "', from '" +
                        std::string(a.amz_date) + "'.");
    }
    if (a.terminator != kTerminator) {
        return fail(VerifyStatus::invalid_signature,
                    "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                        std::string(a.terminator) + "'.");
    }
    if (a.service != opt.service) {
        return fail(
            VerifyStatus::invalid_signature,
            "Credential should be scoped to correct service: '" + std::string(opt.service) + "'.");
    }
    if (!opt.region.empty() && a.region != opt.region) {
        return fail(
            VerifyStatus::invalid_signature,
            "Credential should be scoped to a valid region, not '" + std::string(a.region) + "'.");
    }

    if (opt.check_time) {
        const auto now = std::chrono::floor<std::chrono::seconds>(opt.now);
        if (*date > now + opt.max_skew) {
            return fail(VerifyStatus::signature_not_yet_current,
                        "Signature not yet current: " + std::string(a.amz_date) +
                            " is still later than " + format_amz_date(now + opt.max_skew) + " (" +
                            format_amz_date(now) + " + " + format_span(opt.max_skew) + ")");
        }
        // A presigned URL lives for X-Amz-Expires; a header signature for the skew window.
        const std::chrono::seconds lifetime =
            a.presigned ? std::chrono::seconds{a.expires} : opt.max_skew;
        if (*date < now - lifetime) {
            return fail(VerifyStatus::signature_expired,
                        "Signature expired: " + std::string(a.amz_date) + " is now earlier than " +
                            format_amz_date(now - lifetime) + " (" + format_amz_date(now) + " - " +
                            format_span(lifetime) + ")");
        }
    }

    const Credential* cred = store.find(a.access_key);
    constexpr std::string_view kBadToken = "The security token included in the request is invalid.";
    if (cred == nullptr) return fail(VerifyStatus::unrecognized_client, std::string(kBadToken));
    if (cred->session_token.empty()) {
        if (a.token_present) return fail(VerifyStatus::unrecognized_client, std::string(kBadToken));
    } else {
        if (!a.token_present || a.token_ambiguous ||
            !constant_time_equals(a.token, cred->session_token)) {
            return fail(VerifyStatus::unrecognized_client, std::string(kBadToken));
        }
        if (!a.token_signed) {
            return fail(
                VerifyStatus::incomplete_signature,
                "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.");
        }
    }

    // Payload hash: the client's x-amz-content-sha256 when sent (the JS SDK always sends it),
    // otherwise SHA-256 of the body as received. The body is hashed in both cases because a
    // signed header can still lie about a body that was swapped in transit.
    std::string body_hash = hex_sha256(req.body);
    if (body_hash.empty()) return fail(VerifyStatus::invalid_signature, "internal error");
    const std::string_view header_hash =
        s.content_sha256 != nullptr ? trim(s.content_sha256->value) : std::string_view{};
    const std::string_view payload_hash = s.content_sha256 != nullptr ? header_hash : body_hash;

    std::string creq;
    creq.reserve(req.method.size() + req.target.size() * 3 + 256 + a.signed_headers.size() * 2 +
                 [&] {
                     std::size_t n = 0;
                     for (const Header& h : req.headers) n += h.value.size() + h.name.size() + 2;
                     return n;
                 }());
    append_canonical_request(creq, req, a.signed_headers, payload_hash);

    SigningKey key{};
    const bool cached =
        detail::KeyCache::lookup(store, cred, a.scope_date, a.region, a.service, key);
    if (!cached && !derive_key(cred->secret_access_key, a.scope_date, a.region, a.service, key)) {
        return fail(VerifyStatus::invalid_signature, "internal error");
    }

    std::string sts;
    sts.reserve(kAlgorithm.size() + a.amz_date.size() + a.scope.size() + kHexDigestLen + 3);
    auto signature_matches = [&](std::string_view canonical) {
        Digest h{};
        Digest mac{};
        sts.clear();
        if (!sha256({canonical}, h.data())) return false;
        append_string_to_sign(sts, a.amz_date, a.scope, h.data());
        if (!hmac_sha256(bytes_view(key.data(), key.size()), {}, sts, mac.data())) return false;
        char hex[kHexDigestLen];
        for (std::size_t i = 0; i < mac.size(); ++i) {
            hex[2 * i] = kHexLower[mac[i] >> 4];
            hex[2 * i + 1] = kHexLower[mac[i] & 15];
        }
        const bool eq = constant_time_equals(a.signature, std::string_view(hex, sizeof hex));
        OPENSSL_cleanse(mac.data(), mac.size());
        OPENSSL_cleanse(hex, sizeof hex);
        return eq;
    };

    bool ok = signature_matches(creq);
    if (!ok && a.presigned && s.content_sha256 == nullptr) {
        // Presigned URLs may be signed over UNSIGNED-PAYLOAD instead of the body's hash; the
        // failure message keeps showing the body-hash variant.
        std::string body_sts = sts;
        std::string alt = creq.substr(0, creq.size() - payload_hash.size());
        alt += kUnsignedPayload;
        ok = signature_matches(alt);
        if (!ok) sts = std::move(body_sts);
    }
    if (!ok) {
        OPENSSL_cleanse(key.data(), key.size());
        return fail(VerifyStatus::invalid_signature, mismatch_message(creq, sts));
    }
    if (!cached) detail::KeyCache::remember(store, cred, a.scope_date, a.region, a.service, key);
    OPENSSL_cleanse(key.data(), key.size());

    // Checked after the signature so that a forger learns nothing from this message.
    const bool unsigned_allowed = a.presigned && header_hash == kUnsignedPayload;
    if (s.content_sha256 != nullptr && !unsigned_allowed && header_hash != body_hash) {
        return fail(VerifyStatus::invalid_signature,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    r.status = VerifyStatus::ok;
    r.credential = cred;
    return r;
}

}  // namespace

VerifyResult verify(const SigV4Request& req, const CredentialStore& store,
                    const VerifyOptions& opt) {
    try {
        return verify_impl(req, store, opt);
    } catch (...) {  // allocation failure; nothing else throws. Fail closed.
        VerifyResult r;
        r.status = VerifyStatus::invalid_signature;
        r.message = "internal error";
        return r;
    }
}

}  // namespace wsgate::auth
