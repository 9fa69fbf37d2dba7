#pragma once
// AWS Signature Version 4 verification, the way execute-api checks the `@connections` management
// API and IAM-authorised `$connect`. Pure: no I/O, no clock (the caller passes "now"), no
// exceptions across the boundary. The rules, and the client captures they come from, are in
// docs/contract.md §9 and tests/data/sigv4/README.md.
//
// The one rule that surprises people: the canonical URI is the path *as received on the wire*
// with dot and empty segments removed and then URI-encoded again, so `%3D` is signed as `%253D`.
// Never decode the path before verifying; decode it separately for routing.
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsgate::auth {

struct Credential {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // empty = none required (long-term key)
};

// HMAC-SHA256 key derived from a secret for one (date, region, service); see derive_signing_key.
using SigningKey = std::array<unsigned char, 32>;

namespace detail {
struct KeyCache;
}

// Immutable after construction, so find() needs no lock; safe to share between threads.
//
// It also owns a small cache of derived signing keys: two (date, region, service) entries per
// credential, least recently used out, so requests signed either side of midnight UTC both hit.
// Deriving a key costs four HMACs, about a third of a verify. Only keys whose signature verified
// are cached, so an unauthenticated caller who knows an access key id cannot push a real signer's
// key out of the cache.
class CredentialStore {
  public:
    // Access key ids should be unique; on duplicates the first one wins.
    explicit CredentialStore(std::vector<Credential> creds, bool cache_signing_keys = true);
    ~CredentialStore();
    CredentialStore(CredentialStore&&) noexcept;
    CredentialStore& operator=(CredentialStore&&) noexcept;
    CredentialStore(const CredentialStore&) = delete;
    CredentialStore& operator=(const CredentialStore&) = delete;

    // nullptr if unknown. The pointer stays valid for the store's lifetime.
    const Credential* find(std::string_view access_key_id) const;

    std::size_t size() const { return creds_.size(); }
    bool caches_signing_keys() const { return slots_ != nullptr; }

  private:
    friend struct detail::KeyCache;
    struct KeySlot;

    // Sorted by access_key_id, for a binary search with no allocation.
    std::vector<Credential> creds_;
    std::unique_ptr<KeySlot[]> slots_;  // parallel to creds_; null when caching is off
};

// One request header as received, in wire order; duplicates allowed.
struct Header {
    std::string_view name;
    std::string_view value;
};

struct SigV4Request {
    std::string_view method;  // "POST"
    // Raw request-target exactly as on the wire: path plus optional "?query".
    std::string_view target;
    std::span<const Header> headers;
    std::string_view body;
};

struct VerifyOptions {
    std::string_view service = "execute-api";
    std::string_view region;  // empty = accept any region in the credential scope
    std::chrono::system_clock::time_point now;
    std::chrono::seconds max_skew{300};  // AWS: +-5 minutes
    bool check_time = true;              // tests replaying vectors may turn it off or inject now
};

enum class VerifyStatus {
    ok,
    // No Authorization header and no X-Amz-Signature query parameter.
    // 403 MissingAuthenticationTokenException "Missing Authentication Token".
    missing_authentication_token,
    // Malformed Authorization or presigned query, missing X-Amz-Date, host (or the session token)
    // not signed, both auth forms at once. 403 IncompleteSignatureException.
    incomplete_signature,
    // Unknown access key id; session token missing, different, or sent for a long-term key.
    // 403 UnrecognizedClientException "The security token included in the request is invalid."
    unrecognized_client,
    // Signature mismatch; credential scope with the wrong date/region/service/terminator;
    // x-amz-content-sha256 != SHA-256(body). 403 InvalidSignatureException.
    invalid_signature,
    // X-Amz-Date older than now - max_skew, or a presigned URL past X-Amz-Date + X-Amz-Expires.
    // 403 InvalidSignatureException "Signature expired: ...".
    signature_expired,
    // X-Amz-Date later than now + max_skew. 403 InvalidSignatureException "Signature not yet
    // current: ...".
    signature_not_yet_current,
};

// "ok", "missing_authentication_token", ...: for logs and test output.
std::string_view status_name(VerifyStatus status);

struct VerifyResult {
    VerifyStatus status = VerifyStatus::ok;
    // The x-amzn-ErrorType to answer with ("InvalidSignatureException", ...); empty when ok.
    std::string_view error_type() const;
    // AWS-shaped text for the response's "message". A mismatch carries the canonical request and
    // string-to-sign (contract.md §9.6) so a client author can diff them; it never carries the
    // secret, a derived key or the expected signature.
    std::string message;
    const Credential* credential = nullptr;  // the matched credential when status == ok
};

// Verifies header auth (`Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...`) or presigned query auth (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-Expires, X-Amz-SignedHeaders, [X-Amz-Security-Token], X-Amz-Signature).
// Thread-safe; never throws. A malformed request yields a status, never a crash.
VerifyResult verify(const SigV4Request& req, const CredentialStore& store,
                    const VerifyOptions& opt);

// ---- Building blocks, exposed for tests, fuzzing and test-side signers. ----

// Removes empty and "." segments, resolves "..", keeps a trailing '/', then percent-encodes every
// byte outside A-Z a-z 0-9 - _ . ~ / (upper-case hex). The input is NOT decoded first.
std::string canonical_uri(std::string_view raw_path);

// Splits on '&' (empty parts are dropped), percent-decodes each key and value once, re-encodes them
// (RFC 3986 unreserved kept; '+' stays a literal plus), sorts by key then value, joins "k=v" with
// '&'.
std::string canonical_query(std::string_view raw_query);

// Lower-case hex; empty only if the crypto library fails.
std::string hex_sha256(std::string_view data);

// The canonical request of `req` for the ';'-separated `signed_headers` (used verbatim, matched
// case-insensitively) and `payload_hash`. The query's X-Amz-Signature parameter is left out, as
// the presigned form requires. LF-joined with no final newline, like the .creq test files.
std::string canonical_request(const SigV4Request& req, std::string_view signed_headers,
                              std::string_view payload_hash);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>".
std::string string_to_sign(std::string_view amz_date, std::string_view credential_scope,
                           std::string_view canonical_request);

// HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
SigningKey derive_signing_key(std::string_view secret, std::string_view date_yyyymmdd,
                              std::string_view region, std::string_view service);

// Lower-case hex HMAC-SHA256(key, string_to_sign): the value of Signature= / X-Amz-Signature.
std::string sign(const SigningKey& key, std::string_view string_to_sign);

// What verify() would hash and sign for `req`, from its own Authorization header or presigned
// query; credentials and the clock are not consulted. status is ok, or the incomplete_signature /
// missing_authentication_token that verify() would return before it got that far. For a presigned
// request without x-amz-content-sha256 the payload hash is SHA-256(body) (verify() also tries
// UNSIGNED-PAYLOAD).
struct CanonicalStrings {
    VerifyStatus status = VerifyStatus::ok;
    std::string message;
    std::string canonical_request;
    std::string string_to_sign;
};
CanonicalStrings canonical_strings(const SigV4Request& req);

}  // namespace wsgate::auth
