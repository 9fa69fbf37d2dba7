// SigV4 verification (src/auth/sigv4.h) on raw HTTP request bytes.
//
// Input: an HTTP/1.1 request as it arrives on the wire ("METHOD TARGET HTTP/1.1", header lines,
// blank line, body). A tolerant parser below splits it: LF or CRLF line ends, obs-fold continuation
// lines joined with one space, a line without ':' is a header with an empty value, everything
// after the first blank line is the body. Seeds: tests/data/sigv4/{execute-api,aws-suite}.
//
// Every field is copied into a heap block of its exact size, so ASan catches a read one byte past
// any of them. The request is verified against:
//   - a caching and a non-caching CredentialStore holding AKIDEXAMPLE (no session token), and one
//     holding AKIDEXAMPLE with the session token of the *_sessiontoken vectors;
//   - service execute-api / region us-east-1 (the captures) and service "service" / any region
//     (the AWS suite), "now" = 2015-08-30T12:36:00Z, skew 5 min.
//
// Invariants checked:
//  - verify() never reports "internal error" (that text means it caught an exception: with inputs
//    this small nothing but a bug can throw).
//  - ok <=> a credential is returned and the message is empty; otherwise an error type is named.
//  - caching and non-caching stores agree (status and message), also on a repeated call.
//  - canonical_strings() agrees with verify(): same early failure, or, on a signature mismatch,
//    verify's message quotes exactly canonical_strings()'s canonical request and string-to-sign.
//  - re-signing oracle: when canonical_strings() succeeds, the request re-signed with the real
//    secret over canonical_strings()'s string-to-sign never fails with a signature mismatch. This
//    drives the fuzzer past the HMAC check, into the success path and the signing-key cache.
//  - canonical_uri(): starts with '/', only unreserved bytes, '/' and upper-case %XX, no empty,
//    "." or ".." segments. canonical_query(): only unreserved bytes, '=', '&' and %XX; idempotent.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sigv4.h"
#include "fuzz_check.h"

namespace {

using namespace wsgate::auth;
using wsgate::fuzz::ExactCopy;

constexpr std::string_view kAccessKey = "AKIDEXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSessionToken = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN+/=";
constexpr std::string_view kMismatchPrefix = "The request signature we calculated does not match";

const CredentialStore& cached_store() {
    static const CredentialStore s({{std::string(kAccessKey), std::string(kSecret), ""}}, true);
    return s;
}
const CredentialStore& uncached_store() {
    static const CredentialStore s({{std::string(kAccessKey), std::string(kSecret), ""}}, false);
    return s;
}
const CredentialStore& token_store() {
    static const CredentialStore s(
        {{std::string(kAccessKey), std::string(kSecret), std::string(kSessionToken)}}, true);
    return s;
}

std::chrono::system_clock::time_point fixed_now() {
    using namespace std::chrono;
    return sys_days{year{2015} / 8 / 30} + hours{12} + minutes{36};
}

VerifyOptions options(std::string_view service, std::string_view region) {
    VerifyOptions o;
    o.service = service;
    o.region = region;
    o.now = fixed_now();
    return o;
}

// ---- A tolerant HTTP/1.1 request parser. ----------------------------------------------------

struct ParsedRequest {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;
};

ParsedRequest parse_wire(std::string_view raw) {
    ParsedRequest r;
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    bool blank_seen = false;
    while (pos < raw.size()) {
        const std::size_t lf = raw.find('\n', pos);
        std::string_view line = raw.substr(pos, lf == std::string_view::npos ? lf : lf - pos);
        pos = lf == std::string_view::npos ? raw.size() : lf + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() && !lines.empty()) {
            blank_seen = true;
            break;
        }
        lines.push_back(line);
    }
    if (blank_seen) r.body = std::string(raw.substr(pos));
    if (lines.empty()) return r;

    const std::string_view request_line = lines[0];
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.rfind(' ');  // the target may contain spaces
    r.method = std::string(request_line.substr(0, sp1));
    if (sp1 != std::string_view::npos) {
        r.target = std::string(sp2 > sp1 ? request_line.substr(sp1 + 1, sp2 - sp1 - 1)
                                         : request_line.substr(sp1 + 1));
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        if ((l[0] == ' ' || l[0] == '\t') && !r.headers.empty()) {  // obs-fold
            while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
            r.headers.back().second += ' ';
            r.headers.back().second += l;
            continue;
        }
        const std::size_t colon = l.find(':');
        r.headers.emplace_back(std::string(l.substr(0, colon)),
                               colon == std::string_view::npos ? std::string()
                                                               : std::string(l.substr(colon + 1)));
    }
    return r;
}

// The parsed request in exact-size heap blocks, and a SigV4Request viewing them.
struct OwnedRequest {
    std::vector<ExactCopy> blocks;
    std::vector<Header> headers;
    SigV4Request req;

    OwnedRequest(const ParsedRequest& p, std::string_view target_override = {},
                 std::optional<std::size_t> header_override = std::nullopt,
                 std::string_view header_value = {}) {
        blocks.reserve(3 + 2 * p.headers.size());
        auto copy = [&](std::string_view s) {
            blocks.emplace_back(s);
            return blocks.back().view();
        };
        req.method = copy(p.method);
        req.target = copy(target_override.data() != nullptr ? target_override : p.target);
        req.body = copy(p.body);
        for (std::size_t i = 0; i < p.headers.size(); ++i) {
            const std::string_view value =
                header_override == i ? header_value : std::string_view(p.headers[i].second);
            headers.push_back({copy(p.headers[i].first), copy(value)});
        }
        req.headers = headers;
    }
    OwnedRequest(const OwnedRequest&) = delete;
};

// ---- Small copies of the verifier's own text rules (sigv4.cpp), for the re-signing oracle. ----

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}
template <typename F>
void split(std::string_view s, char sep, F&& f) {
    for (std::size_t pos = 0;;) {
        const std::size_t end = s.find(sep, pos);
        f(s.substr(pos, end == std::string_view::npos ? end : end - pos));
        if (end == std::string_view::npos) return;
        pos = end + 1;
    }
}
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
std::string percent_decoded(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

// The signature `canonical_strings(req)` implies, computed with the real secret.
std::optional<std::string> correct_signature(std::string_view sts) {
    // "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex>": the scope runs from the 2nd to the last LF.
    const std::size_t nl1 = sts.find('\n');
    const std::size_t nl2 = nl1 == std::string_view::npos ? nl1 : sts.find('\n', nl1 + 1);
    const std::size_t last = sts.rfind('\n');
    if (nl2 == std::string_view::npos || last <= nl2) return std::nullopt;
    const std::string_view scope = sts.substr(nl2 + 1, last - nl2 - 1);
    std::vector<std::string_view> parts;
    split(scope, '/', [&](std::string_view p) { parts.push_back(p); });
    if (parts.size() != 4) return std::nullopt;
    return sign(derive_signing_key(kSecret, parts[0], parts[1], parts[2]), sts);
}

// Re-signs `p` (header or presigned form) over `sts`; nullopt when the oracle does not apply.
std::optional<bool> resign_and_check(const ParsedRequest& p, const SigV4Request& original,
                                     const CanonicalStrings& cs) {
    const auto sig = correct_signature(cs.string_to_sign);
    if (!sig) return std::nullopt;

    std::optional<std::size_t> auth_index;
    int auth_count = 0;
    for (std::size_t i = 0; i < p.headers.size(); ++i) {
        if (iequals(p.headers[i].first, "authorization")) {
            ++auth_count;
            auth_index = i;
        }
    }
    const std::size_t q = p.target.find('?');
    std::string new_header, new_target;
    if (auth_count == 1) {
        // Header form: replace the Signature parameter's value, keep every other byte.
        const std::string_view full = p.headers[*auth_index].second;
        const std::string_view value = trim(full);
        constexpr std::size_t kAlgLen = sizeof("AWS4-HMAC-SHA256") - 1;
        std::optional<std::string_view> old_sig;
        split(value.substr(kAlgLen), ',', [&](std::string_view part) {
            part = trim(part);
            const std::size_t eq = part.find('=');
            if (eq == std::string_view::npos) return;
            if (trim(part.substr(0, eq)) == "Signature") old_sig = trim(part.substr(eq + 1));
        });
        if (!old_sig) return std::nullopt;
        // Authorization itself signed: re-signing changes what was signed.
        bool signs_authorization = false;
        const std::size_t sh = cs.canonical_request.rfind('\n');  // payload hash follows the last LF
        const std::size_t sh_start = cs.canonical_request.rfind('\n', sh - 1);
        split(std::string_view(cs.canonical_request).substr(sh_start + 1, sh - sh_start - 1), ';',
              [&](std::string_view h) { signs_authorization |= iequals(h, "authorization"); });
        if (signs_authorization) return std::nullopt;
        const std::size_t at = static_cast<std::size_t>(old_sig->data() - full.data());
        new_header = std::string(full.substr(0, at)) + *sig + std::string(full.substr(at + old_sig->size()));
    } else {
        if (q == std::string::npos) return std::nullopt;
        // Presigned form: replace the X-Amz-Signature query parameter's value.
        new_target = p.target.substr(0, q + 1);
        bool first = true;
        split(std::string_view(p.target).substr(q + 1), '&', [&](std::string_view part) {
            if (!first) new_target += '&';
            first = false;
            const std::string_view key = part.substr(0, part.find('='));
            if (percent_decoded(key) == "X-Amz-Signature") {
                new_target += key;
                new_target += '=';
                new_target += *sig;
            } else {
                new_target += part;
            }
        });
    }
    const OwnedRequest resigned(p, auth_count == 1 ? std::string_view(p.target) : std::string_view(new_target),
                                auth_count == 1 ? auth_index : std::nullopt, new_header);
    (void)original;
    // The canonical strings must not move: only the signature changed.
    const CanonicalStrings cs2 = canonical_strings(resigned.req);
    FUZZ_CHECK(cs2.status == VerifyStatus::ok);
    FUZZ_CHECK(cs2.canonical_request == cs.canonical_request);
    FUZZ_CHECK(cs2.string_to_sign == cs.string_to_sign);

    bool any_ok = false;
    for (const VerifyOptions& o : {options("execute-api", "us-east-1"), options("service", "")}) {
        const VerifyResult r = verify(resigned.req, cached_store(), o);
        FUZZ_CHECK_MSG(r.message.compare(0, kMismatchPrefix.size(), kMismatchPrefix) != 0,
                       "re-signed request still mismatches:\n%s", r.message.c_str());
        const VerifyResult r2 = verify(resigned.req, uncached_store(), o);
        FUZZ_CHECK(r2.status == r.status && r2.message == r.message);
        any_ok |= r.status == VerifyStatus::ok;
    }
    return any_ok;
}

// ---- Invariants of the building blocks. ----------------------------------------------------

bool is_unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}
bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// Only unreserved bytes, `extra` and well-formed upper-case %XX.
bool encoded_only(std::string_view s, std::string_view extra) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size() || !is_upper_hex(s[i + 1]) || !is_upper_hex(s[i + 2])) return false;
            i += 2;
        } else if (!is_unreserved(s[i]) && extra.find(s[i]) == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

void check_canonical_uri(std::string_view path) {
    const std::string u = canonical_uri(path);
    FUZZ_CHECK(!u.empty() && u.front() == '/');
    FUZZ_CHECK_MSG(encoded_only(u, "/"), "canonical_uri('%.*s') = '%s'", static_cast<int>(path.size()),
                   path.data(), u.c_str());
    // Segments between slashes: never empty (a trailing '/' aside), never "." or "..".
    const std::string_view body = std::string_view(u).substr(1);
    std::size_t n = 0;
    split(body, '/', [&](std::string_view seg) {
        ++n;
        FUZZ_CHECK(seg != "." && seg != "..");
        (void)seg;
    });
    std::size_t i = 0;
    split(body, '/', [&](std::string_view seg) {
        ++i;
        if (i < n) FUZZ_CHECK_MSG(!seg.empty(), "empty segment in canonical_uri: '%s'", u.c_str());
    });
}

void check_canonical_query(std::string_view query) {
    const std::string cq = canonical_query(query);
    FUZZ_CHECK_MSG(encoded_only(cq, "=&"), "canonical_query = '%s'", cq.c_str());
    FUZZ_CHECK_MSG(canonical_query(cq) == cq, "canonical_query not idempotent: '%s' -> '%s'", cq.c_str(),
                   canonical_query(cq).c_str());
}

void check_result(const VerifyResult& r) {
    FUZZ_CHECK_MSG(r.message != "internal error", "verify() swallowed an exception");
    if (r.status == VerifyStatus::ok) {
        FUZZ_CHECK(r.credential != nullptr);
        FUZZ_CHECK(r.message.empty());
        FUZZ_CHECK(r.error_type().empty());
    } else {
        FUZZ_CHECK(r.credential == nullptr);
        FUZZ_CHECK(!r.message.empty());
        FUZZ_CHECK(!r.error_type().empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ParsedRequest parsed = parse_wire(std::string_view(reinterpret_cast<const char*>(data), size));
    const OwnedRequest owned(parsed);
    const SigV4Request& req = owned.req;

    {
        const std::size_t q = req.target.find('?');
        const ExactCopy path(req.target.substr(0, q));
        check_canonical_uri(path.view());
        if (q != std::string_view::npos) {
            const ExactCopy query(req.target.substr(q + 1));
            check_canonical_query(query.view());
        }
    }

    const CanonicalStrings cs = canonical_strings(req);
    FUZZ_CHECK_MSG(cs.message != "internal error", "canonical_strings() swallowed an exception");
    if (cs.status == VerifyStatus::ok) {
        FUZZ_CHECK(cs.message.empty());
        FUZZ_CHECK(cs.string_to_sign.compare(0, 17, "AWS4-HMAC-SHA256\n") == 0);
        FUZZ_CHECK(cs.canonical_request.compare(0, req.method.size(), req.method) == 0);
    } else {
        FUZZ_CHECK(cs.status == VerifyStatus::missing_authentication_token ||
                   cs.status == VerifyStatus::incomplete_signature);
        FUZZ_CHECK(!cs.message.empty());
    }

    for (const VerifyOptions& o : {options("execute-api", "us-east-1"), options("service", "")}) {
        const VerifyResult r1 = verify(req, cached_store(), o);
        const VerifyResult r2 = verify(req, uncached_store(), o);
        const VerifyResult r3 = verify(req, cached_store(), o);
        for (const VerifyResult* r : {&r1, &r2, &r3}) {
            check_result(*r);
            FUZZ_CHECK_MSG(r->status == r1.status && r->message == r1.message,
                           "cached/uncached stores disagree: %s vs %s", std::string(status_name(r1.status)).c_str(),
                           std::string(status_name(r->status)).c_str());
        }
        if (cs.status != VerifyStatus::ok) {
            FUZZ_CHECK(r1.status == cs.status && r1.message == cs.message);
        } else if (r1.message.compare(0, kMismatchPrefix.size(), kMismatchPrefix) == 0) {
            FUZZ_CHECK(r1.status == VerifyStatus::invalid_signature);
            FUZZ_CHECK_MSG(r1.message.find("\n'" + cs.canonical_request + "'\n") != std::string::npos,
                           "mismatch message does not quote canonical_strings():\n%s\n----\n%s",
                           r1.message.c_str(), cs.canonical_request.c_str());
            FUZZ_CHECK(r1.message.find("\n'" + cs.string_to_sign + "'\n") != std::string::npos);
        }
        check_result(verify(req, token_store(), o));
    }

    if (cs.status == VerifyStatus::ok) (void)resign_and_check(parsed, req, cs);
    return 0;
}
