#pragma once
// The `$connect` Lambda REQUEST authorizer (contract.md §2.3, §3.5, §5), as pure building
// blocks: identity sources, the authorizer's input event, the policy evaluation of its answer, the
// `requestContext.authorizer` object, and an optional result cache. No I/O and no clock: the
// caller invokes the backend and passes times in.
//
// Flow in the gateway:
//   1. parse_identity_sources() once at configuration time;
//   2. identity_present() false → answer 401 without calling the authorizer;
//   3. (optional) AuthorizerCache::find(authorizer_cache_key(...));
//   4. POST authorizer_event(...) to the authorizer backend;
//   5. parse_authorizer_response(status, body, method_arn) → allow / deny (403) /
//      unauthorized (401) / error (500), see http_status();
//   6. on allow, authorizer_object() goes into requestContext.authorizer of the CONNECT event and
//      of every MESSAGE and DISCONNECT event of that connection.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace wsgate::auth {

// Request headers in wire order with their original case, duplicates allowed; the same type as
// integration::HeaderList, so the gateway can pass one vector to both.
using HeaderList = std::vector<std::pair<std::string, std::string>>;
// Decoded query parameters in wire order, duplicates allowed.
using QueryList = std::vector<std::pair<std::string, std::string>>;

// ---- Identity sources ----

// One entry of the authorizer's IdentitySource, e.g. `route.request.header.Auth`.
struct IdentitySource {
    enum class Kind { header, query };
    Kind kind = Kind::header;
    std::string name;  // header name (matched case-insensitively) or query key (case-sensitive)

    friend bool operator==(const IdentitySource&, const IdentitySource&) = default;
};

// Parses AWS's comma-separated list: `route.request.header.<Name>` and
// `route.request.querystring.<Name>` (whitespace around entries is ignored). `stageVariables.<x>`
// and `context.<x>`, which AWS also accepts, are not supported and give an error naming them; so
// do empty entries, empty names, header names that are not RFC 9110 tokens and anything else.
// An empty (or all-blank) string is an empty list: the authorizer is then always invoked.
// On failure returns nullopt and, if `error` is not null, sets it to a one-line explanation.
std::optional<std::vector<IdentitySource>> parse_identity_sources(std::string_view comma_separated,
                                                                  std::string* error);

// The value a source takes in this request, or nullopt when absent. A repeated header or query
// key yields its last value, as `headers` / `queryStringParameters` show it.
std::optional<std::string_view> identity_value(const IdentitySource& source,
                                               const HeaderList& headers, const QueryList& query);

// True when every source is present with a non-empty value: a header whose value is empty or only
// blanks (SP/HTAB are optional whitespace in HTTP) counts as missing; a query value counts as
// missing only when empty (`?token=` or `?token`). False → the gateway answers 401 and does not
// invoke the authorizer (contract §5).
bool identity_present(const std::vector<IdentitySource>& sources, const HeaderList& headers,
                      const QueryList& query);

// ---- The authorizer's input (contract §3.5) ----

// Everything authorizer_event() prints, as plain values. Timestamps come pre-formatted so this
// library needs no clock and no wsgate_common: request_time is common/time_format.h's clf_time(),
// the two epochs are epoch_millis().
struct AuthorizerEventInput {
    std::string_view region;      // methodArn's region, e.g. "us-east-1"
    std::string_view account_id;  // methodArn's account, e.g. "123456789012"
    std::string_view api_id;
    std::string_view stage;
    std::string_view connection_id;  // already assigned when the authorizer runs (AWS does too)
    std::string_view domain_name;
    std::string_view source_ip;
    std::optional<std::string_view> user_agent;  // identity.userAgent, omitted when absent
    std::string_view request_id;                 // also extendedRequestId
    std::string_view request_time;               // CLF, "20/Jan/2024:11:54:57 +0000"
    std::int64_t request_time_epoch_ms = 0;
    std::int64_t connected_at_ms = 0;
};

// "arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect".
std::string connect_method_arn(std::string_view region, std::string_view account_id,
                               std::string_view api_id, std::string_view stage);

// The REQUEST authorizer event, keys in the order of contract §3.5: type, methodArn, headers and
// multiValueHeaders (ALL request headers, Connection/Upgrade included; `headers` keeps the last of
// repeated names), queryStringParameters / multiValueQueryStringParameters (only if has_query),
// stageVariables ({}), requestContext (the CONNECT event's fields).
std::string authorizer_event(const AuthorizerEventInput& in, const HeaderList& headers,
                             const QueryList& query, bool has_query);

// ---- The authorizer's answer ----

// AWS's limit on the authorizer result (DG-quotas: 8 KB).
inline constexpr std::size_t kMaxAuthorizerResponseBytes = 8192;

enum class AuthorizerOutcome {
    allow,         // continue with the $connect integration
    deny,          // explicit Deny, or no Allow covering the methodArn → 403
    unauthorized,  // the Lambda error "Unauthorized" → 401
    error,         // anything else wrong with the authorizer or its answer → 500
};

// "allow", "deny", "unauthorized", "error".
std::string_view outcome_name(AuthorizerOutcome o);

struct AuthorizerDecision {
    AuthorizerOutcome outcome = AuthorizerOutcome::error;
    std::string principal_id;  // set for allow and deny
    // The authorizer's `context`, in its order: key → the value's JSON text (`"t1"`, `42`,
    // `true`), always a string, number or boolean.
    std::vector<std::pair<std::string, std::string>> context;
    std::optional<std::string> usage_identifier_key;
    std::string detail;  // for logs: why this outcome (never sent to the client)
};

// The status the upgrade request gets: 0 for allow (continue), 403, 401 or 500.
unsigned http_status(AuthorizerOutcome o);

// Interprets the authorizer backend's HTTP answer. The backend answers the way the Lambda
// function would return:
//   * 2xx with the authorizer result as the body:
//       {"principalId": "...",
//        "policyDocument": {
//          "Version": "2012-10-17",
//          "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
//                         "Resource": "arn:aws:execute-api:...:api/stage/$connect"}]},
//        "context": {"k": "string | number | boolean"},     (optional)
//        "usageIdentifierKey": "..."}                          (optional)
//   * the Lambda error "Unauthorized", in either of two spellings: HTTP 401 (any body), or a 2xx
//     body {"errorMessage": "Unauthorized"} (what Lambda's Invoke returns when the function
//     fails with that message). Any other errorMessage is an error.
//
// Outcomes:
//   allow        an Allow statement matches and no Deny does;
//   deny         a matching Deny statement (Deny overrides Allow, as in IAM), or no matching Allow
//                (implicit deny);
//   unauthorized see above;
//   error        body > kMaxAuthorizerResponseBytes, non-2xx other than 401, not a JSON object,
//                principalId missing or not a string, policyDocument missing or malformed,
//                context not an object or with a value that is not a string/number/boolean (null
//                included), usageIdentifierKey not a string.
//
// Policy rules. Version, if present, is "2012-10-17" or "2008-10-17". Statement is one object or
// a list; each has Effect ("Allow" | "Deny", case-sensitive), Action or NotAction, Resource or
// NotResource (each a string or a list of strings), and optionally Sid. Condition, Principal and
// any other key make the policy malformed (they cannot be honoured, and ignoring a Deny's
// Condition would be unsafe). A statement matches when its Action matches `execute-api:Invoke`
// (NotAction: does not match) and its Resource matches `method_arn` (NotResource: does not).
// Matching is wildcard_match(): actions case-insensitively, resources case-sensitively.
AuthorizerDecision parse_authorizer_response(unsigned http_status, std::string_view body,
                                             std::string_view method_arn);

// IAM-style wildcard match of a whole string: `*` matches any run of characters (empty included)
// within and across ARN segments (':' and '/' are not special), `?` exactly one character. No
// escapes, no policy variables. Linear for patterns with one `*`, at worst O(|pattern|·|text|).
bool wildcard_match(std::string_view pattern, std::string_view text, bool case_insensitive = false);

// {"principalId": ..., k: v, ...}: context values keep the JSON type the authorizer returned
// (contract: typing is [U]; E-go's fixture has a number). A context key named "principalId" is
// dropped in favour of the real principalId. Empty object unless outcome == allow.
boost::json::object authorizer_object(const AuthorizerDecision& d);

// rc["authorizer"] = authorizer_object(d); no-op unless d.outcome == allow.
void add_authorizer_to_request_context(boost::json::object& rc, const AuthorizerDecision& d);

// ---- Optional result cache ----
//
// AWS does not cache WebSocket authorizer results (the model's AuthorizerResultTtlInSeconds: "not
// currently supported"; the authorizer runs once per connection), so the gateway should keep this
// off by default; it exists for users who want REST/HTTP-API-like caching in front of a slow
// authorizer.

// The cache key: method_arn plus every identity source's value, each length-prefixed so no two
// different requests share a key. The ARN is part of the key because a cached policy may cover
// one stage and not another. Meaningful only when identity_present() is true.
std::string authorizer_cache_key(std::string_view method_arn,
                                 const std::vector<IdentitySource>& sources,
                                 const HeaderList& headers, const QueryList& query);

// Thread-safe (one mutex, held for a map lookup), bounded, TTL'd. Only allow and deny decisions
// are stored (REST caches the policy either way); unauthorized and error are never cached. When
// full, expired entries go first, then the oldest insertion (with one TTL for all entries, the
// one that expires soonest). ttl == 0 or max_entries == 0 disables the cache.
class AuthorizerCache {
  public:
    using Clock = std::chrono::steady_clock;

    AuthorizerCache(std::chrono::milliseconds ttl, std::size_t max_entries);
    AuthorizerCache(const AuthorizerCache&) = delete;
    AuthorizerCache& operator=(const AuthorizerCache&) = delete;

    // The cached decision if present and now < insertion time + ttl; an expired entry is removed.
    std::optional<AuthorizerDecision> find(std::string_view key, Clock::time_point now);

    // Stores (or replaces) `d` under `key` until now + ttl. Ignored for unauthorized/error.
    void insert(std::string key, AuthorizerDecision d, Clock::time_point now);

    std::size_t size() const;
    void clear();

  private:
    struct Entry {
        std::string key;
        AuthorizerDecision decision;
        Clock::time_point expires;
    };
    using Order = std::list<Entry>;

    const std::chrono::milliseconds ttl_;
    const std::size_t max_entries_;
    mutable std::mutex mu_;
    Order order_;  // oldest insertion first
    // Keys view Entry::key inside order_'s nodes, which never move.
    std::unordered_map<std::string_view, Order::iterator> index_;
};

}  // namespace wsgate::auth
