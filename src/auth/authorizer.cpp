#include "auth/authorizer.h"

#include "common/event_json.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <iterator>

namespace wsgate::auth {
namespace json = boost::json;

namespace {

constexpr std::string_view kHeaderPrefix = "route.request.header.";
constexpr std::string_view kQueryPrefix = "route.request.querystring.";
constexpr std::string_view kInvokeAction = "execute-api:Invoke";

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

// RFC 9110 tchar.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool alnum =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
            return false;
    }
    return true;
}

bool is_query_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == ',') return false;
    return true;
}

// Backend text quoted into a log detail: bounded, so a large answer cannot flood the log.
std::string excerpt(std::string_view s) {
    constexpr std::size_t kMax = 200;
    if (s.size() <= kMax) return std::string(s);
    return std::string(s.substr(0, kMax)) + "...";
}

// ---- Policy evaluation ----

enum class PolicyResult { allow, explicit_deny, implicit_deny, malformed };

struct PolicyVerdict {
    PolicyResult result = PolicyResult::malformed;
    std::string detail;
};

// A string or a list of strings; nullopt when it is anything else.
std::optional<std::vector<std::string_view>> string_or_list(const json::value& v) {
    std::vector<std::string_view> out;
    if (v.is_string()) {
        out.emplace_back(v.get_string());
        return out;
    }
    if (!v.is_array()) return std::nullopt;
    for (const auto& e : v.get_array()) {
        if (!e.is_string()) return std::nullopt;
        out.emplace_back(e.get_string());
    }
    return out;
}

bool any_matches(const std::vector<std::string_view>& patterns, std::string_view text,
                 bool case_insensitive) {
    for (auto p : patterns)
        if (wildcard_match(p, text, case_insensitive)) return true;
    return false;
}

PolicyVerdict malformed(std::string detail) {
    return {PolicyResult::malformed, "malformed policyDocument: " + std::move(detail)};
}

// One of `positive` / `negative` (Action/NotAction, Resource/NotResource): whether it matches.
// nullopt + `err` set when the statement is malformed.
std::optional<bool> element_matches(const json::object& st, std::string_view positive,
                                    std::string_view negative, std::string_view text,
                                    bool case_insensitive, std::string& err) {
    const json::value* pos = st.if_contains(positive);
    const json::value* neg = st.if_contains(negative);
    if ((pos == nullptr) == (neg == nullptr)) {
        err = "a statement needs exactly one of " + std::string(positive) + " and " +
              std::string(negative);
        return std::nullopt;
    }
    const bool is_negative = neg != nullptr;
    auto list = string_or_list(is_negative ? *neg : *pos);
    if (!list) {
        err = std::string(is_negative ? negative : positive) +
              " must be a string or a list of strings";
        return std::nullopt;
    }
    const bool hit = any_matches(*list, text, case_insensitive);
    return is_negative ? !hit : hit;
}

PolicyVerdict evaluate_policy(const json::value& doc_value, std::string_view method_arn) {
    if (!doc_value.is_object()) return malformed("not an object");
    const json::object& doc = doc_value.get_object();
    for (const auto& kv : doc) {
        const std::string_view k = kv.key();
        if (k != "Version" && k != "Statement" && k != "Id")
            return malformed("unsupported key \"" + excerpt(k) + "\"");
    }
    if (const json::value* ver = doc.if_contains("Version")) {
        if (!ver->is_string() ||
            (ver->get_string() != "2012-10-17" && ver->get_string() != "2008-10-17"))
            return malformed("Version must be \"2012-10-17\" or \"2008-10-17\"");
    }
    const json::value* stmts = doc.if_contains("Statement");
    if (stmts == nullptr) return malformed("no Statement");

    std::vector<const json::object*> statements;
    if (stmts->is_object()) {
        statements.push_back(&stmts->get_object());
    } else if (stmts->is_array()) {
        for (const auto& s : stmts->get_array()) {
            if (!s.is_object()) return malformed("a Statement entry is not an object");
            statements.push_back(&s.get_object());
        }
    } else {
        return malformed("Statement must be an object or a list of objects");
    }

    // Validate every statement before deciding: IAM rejects a policy with any bad statement.
    bool allowed = false;
    bool denied = false;
    std::size_t deny_index = 0;
    for (std::size_t i = 0; i < statements.size(); ++i) {
        const json::object& st = *statements[i];
        const std::string where = "Statement[" + std::to_string(i) + "]: ";
        for (const auto& kv : st) {
            const std::string_view k = kv.key();
            if (k != "Sid" && k != "Effect" && k != "Action" && k != "NotAction" &&
                k != "Resource" && k != "NotResource")
                return malformed(where + "unsupported key \"" + excerpt(k) + "\"");
        }
        const json::value* effect = st.if_contains("Effect");
        if (effect == nullptr || !effect->is_string() ||
            (effect->get_string() != "Allow" && effect->get_string() != "Deny"))
            return malformed(where + "Effect must be \"Allow\" or \"Deny\"");
        const bool is_allow = effect->get_string() == "Allow";

        std::string err;
        // IAM compares action names case-insensitively, resources (ARNs) case-sensitively.
        auto action = element_matches(st, "Action", "NotAction", kInvokeAction, true, err);
        if (!action) return malformed(where + err);
        auto resource = element_matches(st, "Resource", "NotResource", method_arn, false, err);
        if (!resource) return malformed(where + err);

        if (*action && *resource) {
            if (is_allow) {
                allowed = true;
            } else if (!denied) {
                denied = true;
                deny_index = i;
            }
        }
    }
    if (denied)
        return {PolicyResult::explicit_deny, "explicit Deny in Statement[" +
                                                 std::to_string(deny_index) + "] for " +
                                                 std::string(method_arn)};
    if (allowed) return {PolicyResult::allow, "allowed for " + std::string(method_arn)};
    return {PolicyResult::implicit_deny,
            "no Allow statement covers execute-api:Invoke on " + std::string(method_arn)};
}

AuthorizerDecision make_error(std::string detail) {
    AuthorizerDecision d;
    d.outcome = AuthorizerOutcome::error;
    d.detail = std::move(detail);
    return d;
}

AuthorizerDecision make_unauthorized(std::string detail) {
    AuthorizerDecision d;
    d.outcome = AuthorizerOutcome::unauthorized;
    d.detail = std::move(detail);
    return d;
}

}  // namespace

// ---- Identity sources ----

std::optional<std::vector<IdentitySource>> parse_identity_sources(std::string_view comma_separated,
                                                                  std::string* error) {
    auto fail = [&](std::string msg) -> std::optional<std::vector<IdentitySource>> {
        if (error != nullptr) *error = std::move(msg);
        return std::nullopt;
    };
    std::vector<IdentitySource> out;
    if (trim(comma_separated).empty()) return out;

    std::string_view rest = comma_separated;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view entry = trim(rest.substr(0, comma));
        if (entry.empty()) return fail("empty entry in identity source list");

        if (entry.starts_with(kHeaderPrefix)) {
            const auto name = entry.substr(kHeaderPrefix.size());
            if (!is_token(name))
                return fail("identity source \"" + std::string(entry) +
                            "\": header name missing or not a valid token");
            out.push_back({IdentitySource::Kind::header, std::string(name)});
        } else if (entry.starts_with(kQueryPrefix)) {
            const auto name = entry.substr(kQueryPrefix.size());
            if (!is_query_name(name))
                return fail("identity source \"" + std::string(entry) +
                            "\": query parameter name missing or invalid");
            out.push_back({IdentitySource::Kind::query, std::string(name)});
        } else if (entry.starts_with("stageVariables.") || entry.starts_with("context.")) {
            return fail("identity source \"" + std::string(entry) +
                        "\": stageVariables.* and context.* sources are not supported (use "
                        "route.request.header.<name> or route.request.querystring.<name>)");
        } else {
            return fail("identity source \"" + std::string(entry) +
                        "\": expected route.request.header.<name> or "
                        "route.request.querystring.<name>");
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<std::string_view> identity_value(const IdentitySource& source,
                                               const HeaderList& headers, const QueryList& query) {
    std::optional<std::string_view> found;
    if (source.kind == IdentitySource::Kind::header) {
        for (const auto& [k, v] : headers)
            if (iequals(k, source.name)) found = v;
    } else {
        for (const auto& [k, v] : query)
            if (k == source.name) found = v;
    }
    return found;
}

bool identity_present(const std::vector<IdentitySource>& sources, const HeaderList& headers,
                      const QueryList& query) {
    for (const auto& s : sources) {
        const auto v = identity_value(s, headers, query);
        if (!v) return false;
        if (s.kind == IdentitySource::Kind::header ? trim(*v).empty() : v->empty()) return false;
    }
    return true;
}

// ---- The authorizer's input ----

std::string connect_method_arn(std::string_view region, std::string_view account_id,
                               std::string_view api_id, std::string_view stage) {
    std::string arn = "arn:aws:execute-api:";
    arn.reserve(arn.size() + region.size() + account_id.size() + api_id.size() + stage.size() + 12);
    arn += region;
    arn += ':';
    arn += account_id;
    arn += ':';
    arn += api_id;
    arn += '/';
    arn += stage;
    arn += "/$connect";
    return arn;
}

std::string authorizer_event(const AuthorizerEventInput& in, const HeaderList& headers,
                             const QueryList& query, bool has_query) {
    json::object e;
    e["type"] = "REQUEST";
    e["methodArn"] = connect_method_arn(in.region, in.account_id, in.api_id, in.stage);
    add_single_and_multi(e, "headers", "multiValueHeaders", headers);
    if (has_query)
        add_single_and_multi(e, "queryStringParameters", "multiValueQueryStringParameters", query);
    e["stageVariables"] = json::object();

    // The CONNECT event's requestContext, in the order AWS's captures show.
    json::object identity;
    if (in.user_agent) identity["userAgent"] = *in.user_agent;
    identity["sourceIp"] = in.source_ip;

    json::object rc;
    rc["routeKey"] = "$connect";
    rc["eventType"] = "CONNECT";
    rc["extendedRequestId"] = in.request_id;
    rc["requestTime"] = in.request_time;
    rc["messageDirection"] = "IN";
    rc["stage"] = in.stage;
    rc["connectedAt"] = in.connected_at_ms;
    rc["requestTimeEpoch"] = in.request_time_epoch_ms;
    rc["identity"] = std::move(identity);
    rc["requestId"] = in.request_id;
    rc["domainName"] = in.domain_name;
    rc["connectionId"] = in.connection_id;
    rc["apiId"] = in.api_id;
    e["requestContext"] = std::move(rc);
    return json::serialize(e);
}

// ---- The authorizer's answer ----

std::string_view outcome_name(AuthorizerOutcome o) {
    switch (o) {
        case AuthorizerOutcome::allow:
            return "allow";
        case AuthorizerOutcome::deny:
            return "deny";
        case AuthorizerOutcome::unauthorized:
            return "unauthorized";
        case AuthorizerOutcome::error:
            return "error";
    }
    return "error";
}

unsigned http_status(AuthorizerOutcome o) {
    switch (o) {
        case AuthorizerOutcome::allow:
            return 0;
        case AuthorizerOutcome::deny:
            return 403;
        case AuthorizerOutcome::unauthorized:
            return 401;
        case AuthorizerOutcome::error:
            return 500;
    }
    return 500;
}

bool wildcard_match(std::string_view pattern, std::string_view text, bool case_insensitive) {
    auto same = [case_insensitive](char p, char t) {
        return case_insensitive ? lower(p) == lower(t) : p == t;
    };
    // Greedy with backtracking to the last '*': each '*' only ever extends its run, so the
    // worst case is O(|pattern|·|text|).
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star = std::string_view::npos;
    std::size_t star_text = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            star_text = t;
        } else if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], text[t]))) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++star_text;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

AuthorizerDecision parse_authorizer_response(unsigned http_status, std::string_view body,
                                             std::string_view method_arn) {
    if (http_status == 401) return make_unauthorized("authorizer answered HTTP 401");
    if (http_status < 200 || http_status > 299)
        return make_error("authorizer answered HTTP " + std::to_string(http_status));
    if (body.size() > kMaxAuthorizerResponseBytes)
        return make_error("authorizer result is " + std::to_string(body.size()) +
                          " bytes, above the " + std::to_string(kMaxAuthorizerResponseBytes) +
                          "-byte limit");

    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return make_error("authorizer result is not JSON: " + ec.message());
    if (!v.is_object()) return make_error("authorizer result is not a JSON object");
    const json::object& o = v.get_object();

    // A Lambda function error, as Lambda's Invoke API returns it.
    if (const json::value* msg = o.if_contains("errorMessage")) {
        if (msg->is_string() && msg->get_string() == "Unauthorized")
            return make_unauthorized("authorizer failed with \"Unauthorized\"");
        const std::string text =
            msg->is_string() ? std::string(msg->get_string()) : json::serialize(*msg);
        return make_error("authorizer failed: " + excerpt(text));
    }

    const json::value* principal = o.if_contains("principalId");
    if (principal == nullptr) return make_error("authorizer result has no principalId");
    if (!principal->is_string()) return make_error("authorizer principalId is not a string");

    const json::value* doc = o.if_contains("policyDocument");
    if (doc == nullptr) return make_error("authorizer result has no policyDocument");
    PolicyVerdict verdict = evaluate_policy(*doc, method_arn);
    if (verdict.result == PolicyResult::malformed) return make_error(std::move(verdict.detail));

    AuthorizerDecision d;
    d.principal_id = std::string(principal->get_string());

    if (const json::value* ctx = o.if_contains("context"); ctx != nullptr && !ctx->is_null()) {
        if (!ctx->is_object()) return make_error("authorizer context is not an object");
        for (const auto& kv : ctx->get_object()) {
            const json::value& val = kv.value();
            if (!val.is_string() && !val.is_number() && !val.is_bool())
                return make_error("authorizer context value \"" + excerpt(kv.key()) +
                                  "\" is not a string, number or boolean");
            d.context.emplace_back(std::string(kv.key()), json::serialize(val));
        }
    }

    if (const json::value* key = o.if_contains("usageIdentifierKey");
        key != nullptr && !key->is_null()) {
        if (!key->is_string()) return make_error("authorizer usageIdentifierKey is not a string");
        d.usage_identifier_key = std::string(key->get_string());
    }

    d.outcome =
        verdict.result == PolicyResult::allow ? AuthorizerOutcome::allow : AuthorizerOutcome::deny;
    d.detail = std::move(verdict.detail);
    return d;
}

json::object authorizer_object(const AuthorizerDecision& d) {
    json::object out;
    if (d.outcome != AuthorizerOutcome::allow) return out;
    out["principalId"] = d.principal_id;
    for (const auto& [k, text] : d.context) {
        if (k == "principalId") continue;
        boost::system::error_code ec;
        json::value v = json::parse(text, ec);
        // The text came from json::serialize; a decision built by hand with bad text keeps it
        // as a string rather than losing the key.
        out[k] = ec ? json::value(text) : std::move(v);
    }
    return out;
}

void add_authorizer_to_request_context(json::object& rc, const AuthorizerDecision& d) {
    if (d.outcome != AuthorizerOutcome::allow) return;
    rc["authorizer"] = authorizer_object(d);
}

// ---- Cache ----

std::string authorizer_cache_key(std::string_view method_arn,
                                 const std::vector<IdentitySource>& sources,
                                 const HeaderList& headers, const QueryList& query) {
    std::string key;
    auto append = [&key](std::string_view part) {
        key += std::to_string(part.size());
        key += ':';
        key += part;
    };
    append(method_arn);
    for (const auto& s : sources) append(identity_value(s, headers, query).value_or(""));
    return key;
}

AuthorizerCache::AuthorizerCache(std::chrono::milliseconds ttl, std::size_t max_entries)
    : ttl_(ttl), max_entries_(max_entries) {}

std::optional<AuthorizerDecision> AuthorizerCache::find(std::string_view key,
                                                        Clock::time_point now) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (now >= it->second->expires) {
        order_.erase(it->second);
        index_.erase(it);
        return std::nullopt;
    }
    return it->second->decision;
}

void AuthorizerCache::insert(std::string key, AuthorizerDecision d, Clock::time_point now) {
    if (ttl_ <= std::chrono::milliseconds::zero() || max_entries_ == 0) return;
    if (d.outcome != AuthorizerOutcome::allow && d.outcome != AuthorizerOutcome::deny) return;

    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
        auto node = it->second;
        index_.erase(it);
        order_.erase(node);
    }
    // Oldest first: with one TTL for every entry that is also soonest-to-expire first. Expired
    // entries leave first; if the cache is still full, the one closest to expiry goes.
    while (!order_.empty() && now >= order_.front().expires) {
        index_.erase(std::string_view(order_.front().key));
        order_.pop_front();
    }
    while (order_.size() >= max_entries_) {
        index_.erase(std::string_view(order_.front().key));
        order_.pop_front();
    }
    order_.push_back(Entry{std::move(key), std::move(d), now + ttl_});
    auto last = std::prev(order_.end());
    index_.emplace(std::string_view(last->key), last);
}

std::size_t AuthorizerCache::size() const {
    std::lock_guard lock(mu_);
    return order_.size();
}

void AuthorizerCache::clear() {
    std::lock_guard lock(mu_);
    index_.clear();
    order_.clear();
}

}  // namespace wsgate::auth
