// Lambda REQUEST authorizer on $connect (contract §2.3, §3.5, §5): identity sources, the input
// event field by field, every decision branch of the answer, wildcard ARNs, the
// requestContext.authorizer object and the optional cache.
#include "auth/authorizer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace wsgate::auth {
void PrintTo(AuthorizerOutcome o, std::ostream* os) {
    *os << outcome_name(o);
}
}  // namespace wsgate::auth

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using wsgate::auth::add_authorizer_to_request_context;
using wsgate::auth::authorizer_cache_key;
using wsgate::auth::authorizer_event;
using wsgate::auth::authorizer_object;
using wsgate::auth::AuthorizerCache;
using wsgate::auth::AuthorizerDecision;
using wsgate::auth::AuthorizerEventInput;
using wsgate::auth::AuthorizerOutcome;
using wsgate::auth::connect_method_arn;
using wsgate::auth::HeaderList;
using wsgate::auth::identity_present;
using wsgate::auth::identity_value;
using wsgate::auth::IdentitySource;
using wsgate::auth::kMaxAuthorizerResponseBytes;
using wsgate::auth::parse_authorizer_response;
using wsgate::auth::parse_identity_sources;
using wsgate::auth::QueryList;
using wsgate::auth::wildcard_match;

constexpr std::string_view kArn =
    "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect";

json::object parse_object(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    EXPECT_FALSE(ec) << ec.message() << "\n" << text;
    EXPECT_TRUE(v.is_object()) << text;
    if (ec || !v.is_object()) return {};
    return std::move(v.get_object());
}

std::vector<std::string> keys_in_order(const json::object& o) {
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    return keys;
}

// ---------------------------------------------------------------------------------------------
// Identity sources

TEST(IdentitySources, ParsesHeaderAndQuery) {
    std::string err;
    auto s =
        parse_identity_sources("route.request.header.Auth, route.request.querystring.token", &err);
    ASSERT_TRUE(s) << err;
    ASSERT_EQ(s->size(), 2u);
    EXPECT_EQ((*s)[0], (IdentitySource{IdentitySource::Kind::header, "Auth"}));
    EXPECT_EQ((*s)[1], (IdentitySource{IdentitySource::Kind::query, "token"}));
}

TEST(IdentitySources, SingleEntryAndSurroundingBlanks) {
    auto s = parse_identity_sources("  route.request.header.X-Api-Token\t", nullptr);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->size(), 1u);
    EXPECT_EQ((*s)[0].name, "X-Api-Token");
}

TEST(IdentitySources, EmptyStringIsEmptyList) {
    auto s = parse_identity_sources("", nullptr);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->empty());
    auto blank = parse_identity_sources("   ", nullptr);
    ASSERT_TRUE(blank);
    EXPECT_TRUE(blank->empty());
}

TEST(IdentitySources, StageVariablesAndContextAreNamedInTheError) {
    std::string err;
    EXPECT_FALSE(parse_identity_sources("stageVariables.authKey", &err));
    EXPECT_NE(err.find("stageVariables.authKey"), std::string::npos) << err;
    EXPECT_NE(err.find("not supported"), std::string::npos) << err;

    err.clear();
    EXPECT_FALSE(parse_identity_sources("route.request.header.Auth,context.requestId", &err));
    EXPECT_NE(err.find("context.requestId"), std::string::npos) << err;
}

TEST(IdentitySources, RejectsMalformedEntries) {
    for (std::string_view bad : {
             "route.request.header.",          // no name
             "route.request.querystring.",     // no name
             "route.request.header.Bad Name",  // not a token
             "route.request.header.Auth,",     // empty entry
             ",route.request.header.Auth",     // empty entry
             "route.request.header.A,,route.request.header.B",
             "method.request.header.Auth",     // REST spelling
             "$request.header.Auth",           // HTTP API spelling
             "route.request.body.token",       // not an identity source
             "Route.Request.Header.Auth",      // prefixes are case-sensitive
             "route.request.querystring.a b",  // blank inside a query name
         }) {
        std::string err;
        EXPECT_FALSE(parse_identity_sources(bad, &err)) << bad;
        EXPECT_FALSE(err.empty()) << bad;
    }
}

TEST(IdentitySources, HeaderPresenceIsCaseInsensitive) {
    auto s = *parse_identity_sources("route.request.header.Auth", nullptr);
    EXPECT_TRUE(identity_present(s, {{"auth", "x"}}, {}));
    EXPECT_TRUE(identity_present(s, {{"AUTH", "x"}}, {}));
    EXPECT_TRUE(identity_present(s, {{"Host", "h"}, {"Auth", "x"}}, {}));
    EXPECT_FALSE(identity_present(s, {{"Host", "h"}}, {}));
    EXPECT_FALSE(identity_present(s, {{"Authorization", "x"}}, {}));
}

TEST(IdentitySources, QueryPresenceIsCaseSensitive) {
    auto s = *parse_identity_sources("route.request.querystring.token", nullptr);
    EXPECT_TRUE(identity_present(s, {}, {{"token", "abc"}}));
    EXPECT_FALSE(identity_present(s, {}, {{"Token", "abc"}}));
    EXPECT_FALSE(identity_present(s, {}, {{"TOKEN", "abc"}}));
    // A header of the same name does not count.
    EXPECT_FALSE(identity_present(s, {{"token", "abc"}}, {}));
}

TEST(IdentitySources, EmptyValueCountsAsMissing) {
    auto h = *parse_identity_sources("route.request.header.Auth", nullptr);
    EXPECT_FALSE(identity_present(h, {{"Auth", ""}}, {}));
    EXPECT_FALSE(identity_present(h, {{"Auth", " \t "}}, {}));  // only optional whitespace
    auto q = *parse_identity_sources("route.request.querystring.token", nullptr);
    EXPECT_FALSE(identity_present(q, {}, {{"token", ""}}));
    EXPECT_TRUE(identity_present(q, {}, {{"token", " "}}));  // "%20" is a real value
}

TEST(IdentitySources, AllSourcesMustBePresent) {
    auto s = *parse_identity_sources("route.request.header.Auth,route.request.querystring.token",
                                     nullptr);
    EXPECT_TRUE(identity_present(s, {{"Auth", "a"}}, {{"token", "t"}}));
    EXPECT_FALSE(identity_present(s, {{"Auth", "a"}}, {}));
    EXPECT_FALSE(identity_present(s, {}, {{"token", "t"}}));
    EXPECT_FALSE(identity_present(s, {{"Auth", "a"}}, {{"token", ""}}));
    // No sources: nothing to check, the authorizer is always invoked.
    EXPECT_TRUE(identity_present({}, {}, {}));
}

TEST(IdentitySources, RepeatedNameUsesLastValue) {
    auto s =
        *parse_identity_sources("route.request.header.Auth,route.request.querystring.t", nullptr);
    HeaderList headers{{"Auth", "first"}, {"auth", "second"}};
    QueryList query{{"t", "1"}, {"t", ""}};
    EXPECT_EQ(identity_value(s[0], headers, query), "second");
    EXPECT_EQ(identity_value(s[1], headers, query), "");
    EXPECT_FALSE(identity_present(s, headers, query));  // last query value is empty
}

// ---------------------------------------------------------------------------------------------
// Authorizer input event (contract §3.5)

AuthorizerEventInput make_input(bool with_user_agent = true) {
    AuthorizerEventInput in;
    in.region = "us-east-1";
    in.account_id = "123456789012";
    in.api_id = "abcdef123";
    in.stage = "prod";
    in.connection_id = "R1kmxc2VNjMCFIA=";
    in.domain_name = "abcdef123.execute-api.us-east-1.amazonaws.com";
    in.source_ip = "198.51.100.7";
    if (with_user_agent) in.user_agent = "wscat/5";
    in.request_id = "R1kmxGc4yQ0FsSA=";
    in.request_time = "20/Jan/2024:11:54:57 +0000";
    in.request_time_epoch_ms = 1705751697420;
    in.connected_at_ms = 1705751697419;
    return in;
}

const HeaderList kUpgradeHeaders{
    {"Host", "abcdef123.execute-api.us-east-1.amazonaws.com"},
    {"Connection", "upgrade"},
    {"Upgrade", "websocket"},
    {"content-length", "0"},
    {"Sec-WebSocket-Key", "bnfeqmh9SSPr5Sg9DvFIBw=="},
    {"Sec-WebSocket-Version", "13"},
    {"HeaderAuth1", "headerValue1"},
    {"X-Multi", "a"},
    {"X-Multi", "b"},
};

TEST(AuthorizerEvent, MethodArn) {
    EXPECT_EQ(connect_method_arn("us-east-1", "123456789012", "abcdef123", "prod"), kArn);
}

TEST(AuthorizerEvent, TopLevelShapeAndOrder) {
    auto e = parse_object(
        authorizer_event(make_input(), kUpgradeHeaders, {{"QueryString1", "queryValue1"}}, true));
    EXPECT_EQ(keys_in_order(e),
              (std::vector<std::string>{"type", "methodArn", "headers", "multiValueHeaders",
                                        "queryStringParameters", "multiValueQueryStringParameters",
                                        "stageVariables", "requestContext"}));
    EXPECT_EQ(e.at("type"), "REQUEST");
    EXPECT_EQ(e.at("methodArn").as_string(), kArn);
    EXPECT_EQ(e.at("stageVariables"), json::object());
    EXPECT_FALSE(e.contains("pathParameters"));
    EXPECT_FALSE(e.contains("body"));
    EXPECT_FALSE(e.contains("isBase64Encoded"));
}

TEST(AuthorizerEvent, AllHeadersIncludingHopByHop) {
    auto e = parse_object(authorizer_event(make_input(), kUpgradeHeaders, {}, false));
    const auto& h = e.at("headers").as_object();
    EXPECT_EQ(h.at("Connection"), "upgrade");
    EXPECT_EQ(h.at("Upgrade"), "websocket");
    EXPECT_EQ(h.at("content-length"), "0");
    EXPECT_EQ(h.at("HeaderAuth1"), "headerValue1");
    EXPECT_EQ(h.at("Host"), "abcdef123.execute-api.us-east-1.amazonaws.com");
    EXPECT_EQ(h.at("X-Multi"), "b");  // last value wins
    EXPECT_EQ(h.size(), 8u);

    const auto& m = e.at("multiValueHeaders").as_object();
    EXPECT_EQ(m.size(), 8u);
    EXPECT_EQ(m.at("X-Multi"), (json::array{"a", "b"}));
    EXPECT_EQ(m.at("Connection"), (json::array{"upgrade"}));
    // Original case and wire order are kept.
    EXPECT_EQ(keys_in_order(h).front(), "Host");
    EXPECT_EQ(keys_in_order(h)[3], "content-length");
}

TEST(AuthorizerEvent, QueryOnlyWhenPresent) {
    auto none = parse_object(authorizer_event(make_input(), kUpgradeHeaders, {}, false));
    EXPECT_FALSE(none.contains("queryStringParameters"));
    EXPECT_FALSE(none.contains("multiValueQueryStringParameters"));

    auto q = parse_object(authorizer_event(make_input(), kUpgradeHeaders,
                                           {{"token", "a"}, {"token", "b"}, {"x", ""}}, true));
    EXPECT_EQ(q.at("queryStringParameters"), (json::object{{"token", "b"}, {"x", ""}}));
    EXPECT_EQ(q.at("multiValueQueryStringParameters"),
              (json::object{{"token", json::array{"a", "b"}}, {"x", json::array{""}}}));

    // "?" alone: the caller says a query exists, both maps are present and empty.
    auto empty = parse_object(authorizer_event(make_input(), kUpgradeHeaders, {}, true));
    EXPECT_EQ(empty.at("queryStringParameters"), json::object());
    EXPECT_EQ(empty.at("multiValueQueryStringParameters"), json::object());
}

TEST(AuthorizerEvent, RequestContextFieldByField) {
    auto e = parse_object(authorizer_event(make_input(), kUpgradeHeaders, {}, false));
    const auto& rc = e.at("requestContext").as_object();
    EXPECT_EQ(
        keys_in_order(rc),
        (std::vector<std::string>{"routeKey", "eventType", "extendedRequestId", "requestTime",
                                  "messageDirection", "stage", "connectedAt", "requestTimeEpoch",
                                  "identity", "requestId", "domainName", "connectionId", "apiId"}));
    EXPECT_EQ(rc.at("routeKey"), "$connect");
    EXPECT_EQ(rc.at("eventType"), "CONNECT");
    EXPECT_EQ(rc.at("extendedRequestId"), "R1kmxGc4yQ0FsSA=");
    EXPECT_EQ(rc.at("requestId"), "R1kmxGc4yQ0FsSA=");
    EXPECT_EQ(rc.at("requestTime"), "20/Jan/2024:11:54:57 +0000");
    EXPECT_EQ(rc.at("messageDirection"), "IN");
    EXPECT_EQ(rc.at("stage"), "prod");
    ASSERT_TRUE(rc.at("connectedAt").is_int64());
    EXPECT_EQ(rc.at("connectedAt").as_int64(), 1705751697419);
    ASSERT_TRUE(rc.at("requestTimeEpoch").is_int64());
    EXPECT_EQ(rc.at("requestTimeEpoch").as_int64(), 1705751697420);
    EXPECT_EQ(rc.at("identity"),
              (json::object{{"userAgent", "wscat/5"}, {"sourceIp", "198.51.100.7"}}));
    EXPECT_EQ(rc.at("domainName"), "abcdef123.execute-api.us-east-1.amazonaws.com");
    EXPECT_EQ(rc.at("connectionId"), "R1kmxc2VNjMCFIA=");
    EXPECT_EQ(rc.at("apiId"), "abcdef123");
    EXPECT_FALSE(rc.contains("authorizer"));
    EXPECT_FALSE(rc.contains("messageId"));
}

TEST(AuthorizerEvent, IdentityWithoutUserAgent) {
    auto e = parse_object(authorizer_event(make_input(false), {}, {}, false));
    EXPECT_EQ(e.at("requestContext").at("identity"), (json::object{{"sourceIp", "198.51.100.7"}}));
    EXPECT_EQ(e.at("headers"), json::object());
    EXPECT_EQ(e.at("multiValueHeaders"), json::object());
}

TEST(AuthorizerEvent, EscapesHeaderValues) {
    auto e = parse_object(authorizer_event(make_input(), {{"X-Q", "a\"b\\c"}}, {}, false));
    EXPECT_EQ(e.at("headers").at("X-Q"), "a\"b\\c");
}

// ---------------------------------------------------------------------------------------------
// Authorizer answer

std::string policy(std::string_view effect, std::string_view resource_json,
                   std::string_view action_json = R"("execute-api:Invoke")",
                   std::string_view extra = "") {
    std::string s = R"({"principalId":"user-123","policyDocument":{"Version":"2012-10-17",)";
    s += R"("Statement":[{"Action":)";
    s += action_json;
    s += R"(,"Effect":")";
    s += effect;
    s += R"(","Resource":)";
    s += resource_json;
    s += "}]}";
    s += extra;
    s += "}";
    return s;
}

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

AuthorizerDecision decide(std::string_view body, unsigned status = 200) {
    return parse_authorizer_response(status, body, kArn);
}

TEST(AuthorizerResponse, AllowExactResource) {
    auto d = decide(policy("Allow", quoted(kArn)));
    EXPECT_EQ(d.outcome, AuthorizerOutcome::allow) << d.detail;
    EXPECT_EQ(d.principal_id, "user-123");
    EXPECT_TRUE(d.context.empty());
    EXPECT_FALSE(d.usage_identifier_key);
    EXPECT_EQ(wsgate::auth::http_status(d.outcome), 0u);
    // Any 2xx carries a result.
    EXPECT_EQ(decide(policy("Allow", quoted(kArn)), 201).outcome, AuthorizerOutcome::allow);
    EXPECT_EQ(decide(policy("Allow", quoted(kArn)), 299).outcome, AuthorizerOutcome::allow);
}

TEST(AuthorizerResponse, DenyIs403) {
    auto d = decide(policy("Deny", quoted(kArn)));
    EXPECT_EQ(d.outcome, AuthorizerOutcome::deny) << d.detail;
    EXPECT_EQ(d.principal_id, "user-123");
    EXPECT_EQ(wsgate::auth::http_status(d.outcome), 403u);
}

TEST(AuthorizerResponse, AllowForAnotherResourceIsImplicitDeny) {
    for (std::string_view other : {
             "arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/$connect",  // other stage
             "arn:aws:execute-api:us-east-1:123456789012:otherapi/prod/$connect",
             "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$default",
             "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$CONNECT",  // case
         }) {
        auto d = decide(policy("Allow", quoted(other)));
        EXPECT_EQ(d.outcome, AuthorizerOutcome::deny) << other;
        EXPECT_NE(d.detail.find("no Allow"), std::string::npos) << d.detail;
    }
}

TEST(AuthorizerResponse, WrongActionIsImplicitDeny) {
    EXPECT_EQ(decide(policy("Allow", quoted(kArn), R"("execute-api:ManageConnections")")).outcome,
              AuthorizerOutcome::deny);
    EXPECT_EQ(decide(policy("Allow", quoted(kArn), R"("lambda:InvokeFunction")")).outcome,
              AuthorizerOutcome::deny);
}

TEST(AuthorizerResponse, ActionWildcardsAndCase) {
    for (std::string_view action :
         {R"("execute-api:*")", R"("*")", R"("execute-api:Inv*")", R"("execute-api:invoke")",
          R"("EXECUTE-API:INVOKE")", R"("execute-api:Invok?")"}) {
        EXPECT_EQ(decide(policy("Allow", quoted(kArn), action)).outcome, AuthorizerOutcome::allow)
            << action;
    }
}

TEST(AuthorizerResponse, ResourceWildcards) {
    for (std::string_view res : {
             "*",
             "arn:aws:execute-api:*:*:abcdef123/*/$connect",
             "arn:aws:execute-api:*:*:abcdef123/*",
             "arn:aws:execute-api:us-east-1:123456789012:abcdef123/*",
             "arn:aws:execute-api:us-east-1:123456789012:*",
             "arn:aws:execute-api:*",  // '*' crosses ':' and '/'
             "arn:aws:execute-api:us-east-?:123456789012:abcdef123/pro?/$connect",
             "*/$connect",
         }) {
        EXPECT_EQ(decide(policy("Allow", quoted(res))).outcome, AuthorizerOutcome::allow) << res;
    }
    for (std::string_view res : {
             "arn:aws:execute-api:*:*:otherapi/*/$connect",
             "arn:aws:execute-api:*:*:abcdef123/dev/*", "arn:aws:execute-api:us-west-?:*",
             "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect?",  // ? needs one
         }) {
        EXPECT_EQ(decide(policy("Allow", quoted(res))).outcome, AuthorizerOutcome::deny) << res;
    }
}

TEST(AuthorizerResponse, ListForms) {
    // Resource list.
    EXPECT_EQ(decide(policy("Allow", R"(["arn:aws:execute-api:*:*:other/*", ")" +
                                         std::string(kArn) + R"("])"))
                  .outcome,
              AuthorizerOutcome::allow);
    // Action list.
    EXPECT_EQ(
        decide(policy("Allow", quoted(kArn), R"(["s3:GetObject","execute-api:Invoke"])")).outcome,
        AuthorizerOutcome::allow);
    // Empty lists match nothing.
    EXPECT_EQ(decide(policy("Allow", "[]")).outcome, AuthorizerOutcome::deny);
    EXPECT_EQ(decide(policy("Allow", quoted(kArn), "[]")).outcome, AuthorizerOutcome::deny);
    // Statement as a single object.
    const std::string single =
        R"({"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":)"
        R"({"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}}})";
    EXPECT_EQ(decide(single).outcome, AuthorizerOutcome::allow);
    // No statements at all: implicit deny.
    EXPECT_EQ(
        decide(R"({"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]}})")
            .outcome,
        AuthorizerOutcome::deny);
}

TEST(AuthorizerResponse, DenyOverridesAllow) {
    const std::string both =
        R"({"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[)"
        R"({"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"},)"
        R"({"Action":"execute-api:*","Effect":"Deny",)"
        R"("Resource":"arn:aws:execute-api:*:*:abcdef123/prod/*"}]}})";
    auto d = decide(both);
    EXPECT_EQ(d.outcome, AuthorizerOutcome::deny);
    EXPECT_NE(d.detail.find("explicit Deny"), std::string::npos) << d.detail;
    EXPECT_NE(d.detail.find("Statement[1]"), std::string::npos) << d.detail;

    // Order does not matter.
    const std::string deny_first =
        R"({"principalId":"u","policyDocument":{"Statement":[)"
        R"({"Action":"execute-api:Invoke","Effect":"Deny","Resource":"*"},)"
        R"({"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}})";
    EXPECT_EQ(decide(deny_first).outcome, AuthorizerOutcome::deny);

    // A Deny that does not cover this ARN leaves the Allow standing.
    const std::string other_deny =
        R"({"principalId":"u","policyDocument":{"Statement":[)"
        R"({"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"},)"
        R"({"Action":"execute-api:Invoke","Effect":"Deny",)"
        R"("Resource":"arn:aws:execute-api:*:*:abcdef123/dev/*"}]}})";
    EXPECT_EQ(decide(other_deny).outcome, AuthorizerOutcome::allow);
}

TEST(AuthorizerResponse, NotActionAndNotResource) {
    const std::string not_resource =
        R"({"principalId":"u","policyDocument":{"Statement":[)"
        R"({"Action":"execute-api:Invoke","Effect":"Allow",)"
        R"("NotResource":"arn:aws:execute-api:*:*:abcdef123/dev/*"}]}})";
    EXPECT_EQ(decide(not_resource).outcome, AuthorizerOutcome::allow);
    const std::string not_action =
        R"({"principalId":"u","policyDocument":{"Statement":[)"
        R"({"NotAction":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}})";
    EXPECT_EQ(decide(not_action).outcome, AuthorizerOutcome::deny);
    const std::string deny_not = R"({"principalId":"u","policyDocument":{"Statement":[)"
                                 R"({"Action":"*","Effect":"Allow","Resource":"*"},)"
                                 R"({"NotAction":"s3:*","Effect":"Deny","Resource":"*"}]}})";
    EXPECT_EQ(decide(deny_not).outcome, AuthorizerOutcome::deny);
}

TEST(AuthorizerResponse, VersionAndSidAndId) {
    const std::string ok =
        R"({"principalId":"u","policyDocument":{"Version":"2008-10-17","Id":"p1","Statement":[)"
        R"({"Sid":"s1","Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}})";
    EXPECT_EQ(decide(ok).outcome, AuthorizerOutcome::allow);
    const std::string no_version =
        R"({"principalId":"u","policyDocument":{"Statement":[)"
        R"({"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}})";
    EXPECT_EQ(decide(no_version).outcome, AuthorizerOutcome::allow);
}

TEST(AuthorizerResponse, UnauthorizedBothSpellings) {
    auto a = decide("", 401);
    EXPECT_EQ(a.outcome, AuthorizerOutcome::unauthorized);
    EXPECT_EQ(wsgate::auth::http_status(a.outcome), 401u);
    EXPECT_EQ(decide(R"({"message":"whatever"})", 401).outcome, AuthorizerOutcome::unauthorized);
    EXPECT_EQ(decide(std::string(kMaxAuthorizerResponseBytes + 10, 'x'), 401).outcome,
              AuthorizerOutcome::unauthorized);

    auto b = decide(R"({"errorMessage":"Unauthorized"})");
    EXPECT_EQ(b.outcome, AuthorizerOutcome::unauthorized) << b.detail;
    // Lambda's full error shape.
    EXPECT_EQ(
        decide(R"({"errorMessage":"Unauthorized","errorType":"Error","stackTrace":[]})").outcome,
        AuthorizerOutcome::unauthorized);
}

TEST(AuthorizerResponse, OtherErrorsAre500) {
    struct Case {
        unsigned status;
        std::string body;
    };
    const std::vector<Case> cases{
        {500, policy("Allow", "\"*\"")},  // non-2xx other than 401
        {403, policy("Allow", "\"*\"")},
        {404, ""},
        {502, ""},
        {302, ""},
        {200, R"({"errorMessage":"unauthorized"})"},  // case matters
        {200, R"({"errorMessage":"Something broke","errorType":"TypeError"})"},
        {200, R"({"errorMessage":42})"},
        {200, R"({"statusCode":401})"},  // proxy-shaped answer (serverless#557)
        {200, ""},                       // empty
        {200, "not json"},
        {200, R"("Unauthorized")"},  // a bare string
        {200, "[]"},
        {200, R"({"principalId":"u"})"},  // no policyDocument
        {200, R"({"principalId":"u","policyDocument":"Allow"})"},
        {200,
         R"({"policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}})"},
        {200, R"({"principalId":42,"policyDocument":{"Statement":)"
              R"([{"Action":"*","Effect":"Allow","Resource":"*"}]}})"},
        {200, R"({"principalId":null,"policyDocument":{"Statement":)"
              R"([{"Action":"*","Effect":"Allow","Resource":"*"}]}})"},
    };
    for (const auto& c : cases) {
        auto d = parse_authorizer_response(c.status, c.body, kArn);
        EXPECT_EQ(d.outcome, AuthorizerOutcome::error) << c.status << " " << c.body;
        EXPECT_FALSE(d.detail.empty());
        EXPECT_EQ(wsgate::auth::http_status(d.outcome), 500u);
    }
}

TEST(AuthorizerResponse, MalformedPolicyIs500) {
    const std::string pre = R"({"principalId":"u","policyDocument":)";
    for (std::string_view doc : {
             R"({})",  // no Statement
             R"({"Version":"2012-10-17"})",
             R"({"Version":"2020-01-01","Statement":[]})",  // unknown version
             R"({"Version":20121017,"Statement":[]})",
             R"({"Statement":"Allow"})",
             R"({"Statement":["x"]})",
             R"({"Statement":[{"Action":"*","Effect":"allow","Resource":"*"}]})",  // Effect case
             R"({"Statement":[{"Action":"*","Resource":"*"}]})",                   // no Effect
             R"({"Statement":[{"Action":"*","Effect":"Allow"}]})",                 // no Resource
             R"({"Statement":[{"Effect":"Allow","Resource":"*"}]})",               // no Action
             R"({"Statement":[{"Action":"*","NotAction":"s3:*","Effect":"Allow","Resource":"*"}]})",
             R"({"Statement":[{"Action":"*","Effect":"Allow","Resource":"*","NotResource":"x"}]})",
             R"({"Statement":[{"Action":42,"Effect":"Allow","Resource":"*"}]})",
             R"({"Statement":[{"Action":["*",1],"Effect":"Allow","Resource":"*"}]})",
             R"({"Statement":[{"Action":"*","Effect":"Allow","Resource":{"a":1}}]})",
             R"({"Statement":[{"Action":"*","Effect":"Allow","Resource":"*","Condition":{}}]})",
             R"({"Statement":[{"Action":"*","Effect":"Allow","Resource":"*","Principal":"*"}]})",
             R"({"Statement":[],"Extra":1})",
             // A malformed statement spoils the policy even after a matching Allow.
             R"({"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"},{"Effect":"Deny"}]})",
         }) {
        auto d = decide(pre + std::string(doc) + "}");
        EXPECT_EQ(d.outcome, AuthorizerOutcome::error) << doc;
        EXPECT_NE(d.detail.find("policyDocument"), std::string::npos) << d.detail;
    }
}

TEST(AuthorizerResponse, ContextScalarsKeepTheirJsonType) {
    auto d = decide(policy("Allow", "\"*\"", R"("execute-api:Invoke")",
                           R"(,"context":{"tenant":"t1","n":42,"neg":-7,"pi":1.5,"ok":true,)"
                           R"("no":false,"empty":""},"usageIdentifierKey":"key-123")"));
    ASSERT_EQ(d.outcome, AuthorizerOutcome::allow) << d.detail;
    ASSERT_EQ(d.context.size(), 7u);
    EXPECT_EQ(d.context[0], (std::pair<std::string, std::string>{"tenant", "\"t1\""}));
    EXPECT_EQ(d.context[1], (std::pair<std::string, std::string>{"n", "42"}));
    EXPECT_EQ(d.context[2], (std::pair<std::string, std::string>{"neg", "-7"}));
    EXPECT_EQ(d.context[3].first, "pi");
    EXPECT_DOUBLE_EQ(json::parse(d.context[3].second).as_double(), 1.5);
    EXPECT_EQ(d.context[4], (std::pair<std::string, std::string>{"ok", "true"}));
    EXPECT_EQ(d.context[5], (std::pair<std::string, std::string>{"no", "false"}));
    EXPECT_EQ(d.context[6], (std::pair<std::string, std::string>{"empty", "\"\""}));
    EXPECT_EQ(d.usage_identifier_key, "key-123");

    // Deny also carries what the authorizer said (for logs).
    auto deny =
        decide(policy("Deny", "\"*\"", R"("execute-api:Invoke")", R"(,"context":{"a":"b"})"));
    EXPECT_EQ(deny.outcome, AuthorizerOutcome::deny);
    EXPECT_EQ(deny.context.size(), 1u);
}

TEST(AuthorizerResponse, ContextNullOrAbsentIsEmpty) {
    auto a =
        decide(policy("Allow", "\"*\"", R"("*")", R"(,"context":null,"usageIdentifierKey":null)"));
    EXPECT_EQ(a.outcome, AuthorizerOutcome::allow) << a.detail;
    EXPECT_TRUE(a.context.empty());
    EXPECT_FALSE(a.usage_identifier_key);
    auto b = decide(policy("Allow", "\"*\"", R"("*")", R"(,"context":{})"));
    EXPECT_EQ(b.outcome, AuthorizerOutcome::allow);
    EXPECT_TRUE(b.context.empty());
}

TEST(AuthorizerResponse, NonScalarContextIs500) {
    for (std::string_view ctx :
         {R"(,"context":{"o":{"a":1}})", R"(,"context":{"a":[1]})", R"(,"context":{"n":null})",
          R"(,"context":"str")", R"(,"context":[])", R"(,"usageIdentifierKey":5)"}) {
        auto d = decide(policy("Allow", "\"*\"", R"("*")", ctx));
        EXPECT_EQ(d.outcome, AuthorizerOutcome::error) << ctx;
    }
}

TEST(AuthorizerResponse, SizeLimit8KB) {
    // A valid Allow result padded with a context string to exactly `total` bytes.
    auto make = [](std::size_t total) {
        std::string base = R"({"principalId":"u","policyDocument":{"Statement":)"
                           R"({"Action":"*","Effect":"Allow","Resource":"*"}},"context":{"pad":")";
        const std::string tail = "\"}}";
        base += std::string(total - base.size() - tail.size(), 'x');
        base += tail;
        EXPECT_EQ(base.size(), total);
        return base;
    };
    auto at = decide(make(kMaxAuthorizerResponseBytes));
    EXPECT_EQ(at.outcome, AuthorizerOutcome::allow) << at.detail;
    auto over = decide(make(kMaxAuthorizerResponseBytes + 1));
    EXPECT_EQ(over.outcome, AuthorizerOutcome::error);
    EXPECT_NE(over.detail.find("8192"), std::string::npos) << over.detail;
    EXPECT_EQ(kMaxAuthorizerResponseBytes, 8192u);
}

TEST(AuthorizerResponse, DetailIsBounded) {
    std::string big_msg = R"({"errorMessage":")" + std::string(5000, 'e') + "\"}";
    auto d = decide(big_msg);
    EXPECT_EQ(d.outcome, AuthorizerOutcome::error);
    EXPECT_LT(d.detail.size(), 300u);
}

TEST(AuthorizerResponse, MethodArnIsWhatGetsMatched) {
    const std::string body =
        policy("Allow", R"("arn:aws:execute-api:*:*:abcdef123/prod/$connect")");
    EXPECT_EQ(parse_authorizer_response(200, body, kArn).outcome, AuthorizerOutcome::allow);
    EXPECT_EQ(parse_authorizer_response(200, body,
                                        connect_method_arn("eu-west-1", "1", "abcdef123", "dev"))
                  .outcome,
              AuthorizerOutcome::deny);
}

// ---------------------------------------------------------------------------------------------
// Wildcard matching

TEST(WildcardMatch, Basics) {
    EXPECT_TRUE(wildcard_match("", ""));
    EXPECT_FALSE(wildcard_match("", "a"));
    EXPECT_TRUE(wildcard_match("*", ""));
    EXPECT_TRUE(wildcard_match("*", "anything/at:all"));
    EXPECT_TRUE(wildcard_match("**", "x"));
    EXPECT_FALSE(wildcard_match("?", ""));
    EXPECT_TRUE(wildcard_match("?", "a"));
    EXPECT_FALSE(wildcard_match("?", "ab"));
    EXPECT_TRUE(wildcard_match("a*b*c", "aXXbYYc"));
    EXPECT_TRUE(wildcard_match("a*b*c", "abc"));
    EXPECT_FALSE(wildcard_match("a*b*c", "aXXbYY"));
    EXPECT_TRUE(wildcard_match("*c", "abcabc"));
    EXPECT_TRUE(wildcard_match("a*a*a", "aaaaa"));
    EXPECT_FALSE(wildcard_match("a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    EXPECT_TRUE(wildcard_match("$connect", "$connect"));  // '$' is literal
    EXPECT_FALSE(wildcard_match("ABC", "abc"));
    EXPECT_TRUE(wildcard_match("ABC", "abc", true));
    EXPECT_TRUE(wildcard_match("A?C*", "abcdef", true));
}

// ---------------------------------------------------------------------------------------------
// requestContext.authorizer

AuthorizerDecision allow_with_context() {
    return decide(policy("Allow", "\"*\"", R"("*")",
                         R"(,"context":{"tenant":"t1","n":42,"ok":true,"pi":1.5})"));
}

TEST(RequestContextAuthorizer, PrincipalThenContextWithTypes) {
    auto d = allow_with_context();
    ASSERT_EQ(d.outcome, AuthorizerOutcome::allow) << d.detail;
    json::object rc{{"routeKey", "$connect"}};
    add_authorizer_to_request_context(rc, d);
    ASSERT_TRUE(rc.contains("authorizer"));
    const auto& a = rc.at("authorizer").as_object();
    EXPECT_EQ(keys_in_order(a),
              (std::vector<std::string>{"principalId", "tenant", "n", "ok", "pi"}));
    EXPECT_EQ(a.at("principalId"), "user-123");
    EXPECT_EQ(a.at("tenant"), "t1");
    ASSERT_TRUE(a.at("n").is_int64());
    EXPECT_EQ(a.at("n").as_int64(), 42);
    ASSERT_TRUE(a.at("ok").is_bool());
    EXPECT_TRUE(a.at("ok").as_bool());
    ASSERT_TRUE(a.at("pi").is_double());
    EXPECT_DOUBLE_EQ(a.at("pi").as_double(), 1.5);
    EXPECT_EQ(rc.at("routeKey"), "$connect");  // the rest is untouched
}

TEST(RequestContextAuthorizer, PrincipalOnly) {
    auto d = decide(policy("Allow", "\"*\""));
    json::object rc;
    add_authorizer_to_request_context(rc, d);
    EXPECT_EQ(rc.at("authorizer"), (json::object{{"principalId", "user-123"}}));
}

TEST(RequestContextAuthorizer, ContextCannotOverridePrincipal) {
    auto d =
        decide(policy("Allow", "\"*\"", R"("*")", R"(,"context":{"principalId":"evil","k":"v"})"));
    ASSERT_EQ(d.outcome, AuthorizerOutcome::allow);
    auto a = authorizer_object(d);
    EXPECT_EQ(a, (json::object{{"principalId", "user-123"}, {"k", "v"}}));
}

TEST(RequestContextAuthorizer, NothingUnlessAllowed) {
    for (const auto& d : {decide(policy("Deny", "\"*\"")), decide("", 401), decide("junk")}) {
        json::object rc;
        add_authorizer_to_request_context(rc, d);
        EXPECT_FALSE(rc.contains("authorizer")) << outcome_name(d.outcome);
        EXPECT_TRUE(authorizer_object(d).empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Cache

using CacheClock = AuthorizerCache::Clock;
const CacheClock::time_point kT0{std::chrono::hours(1000)};

AuthorizerDecision allow_as(std::string principal) {
    AuthorizerDecision d;
    d.outcome = AuthorizerOutcome::allow;
    d.principal_id = std::move(principal);
    return d;
}

TEST(AuthorizerCacheKey, ValuesAndArnAreUnambiguous) {
    auto s =
        *parse_identity_sources("route.request.header.Auth,route.request.querystring.t", nullptr);
    const auto k1 = authorizer_cache_key(kArn, s, {{"auth", "ab"}}, {{"t", "c"}});
    EXPECT_EQ(k1, authorizer_cache_key(kArn, s, {{"AUTH", "ab"}}, {{"t", "c"}}));
    EXPECT_NE(k1, authorizer_cache_key(kArn, s, {{"auth", "a"}}, {{"t", "bc"}}));
    EXPECT_NE(k1, authorizer_cache_key("arn:other", s, {{"auth", "ab"}}, {{"t", "c"}}));
    // Unrelated headers do not change the key.
    EXPECT_EQ(k1, authorizer_cache_key(kArn, s, {{"auth", "ab"}, {"X-Other", "1"}}, {{"t", "c"}}));
}

TEST(AuthorizerCacheTest, HitUntilTtl) {
    AuthorizerCache c(300s, 10);
    c.insert("k", allow_as("p"), kT0);
    auto hit = c.find("k", kT0 + 299s);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->principal_id, "p");
    EXPECT_EQ(hit->outcome, AuthorizerOutcome::allow);
    EXPECT_FALSE(c.find("other", kT0));
    EXPECT_FALSE(c.find("k", kT0 + 300s));  // expired exactly at ttl
    EXPECT_EQ(c.size(), 0u);                // and removed
}

TEST(AuthorizerCacheTest, StoresAllowAndDenyOnly) {
    AuthorizerCache c(60s, 10);
    AuthorizerDecision deny;
    deny.outcome = AuthorizerOutcome::deny;
    AuthorizerDecision unauth;
    unauth.outcome = AuthorizerOutcome::unauthorized;
    AuthorizerDecision err;
    err.outcome = AuthorizerOutcome::error;
    c.insert("a", allow_as("p"), kT0);
    c.insert("d", deny, kT0);
    c.insert("u", unauth, kT0);
    c.insert("e", err, kT0);
    EXPECT_EQ(c.size(), 2u);
    EXPECT_EQ(c.find("d", kT0)->outcome, AuthorizerOutcome::deny);
    EXPECT_FALSE(c.find("u", kT0));
    EXPECT_FALSE(c.find("e", kT0));
}

TEST(AuthorizerCacheTest, ReplaceRefreshesTtl) {
    AuthorizerCache c(10s, 10);
    c.insert("k", allow_as("old"), kT0);
    c.insert("k", allow_as("new"), kT0 + 8s);
    EXPECT_EQ(c.size(), 1u);
    auto hit = c.find("k", kT0 + 15s);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->principal_id, "new");
}

TEST(AuthorizerCacheTest, BoundedEvictsOldestFirst) {
    AuthorizerCache c(60s, 3);
    c.insert("a", allow_as("a"), kT0);
    c.insert("b", allow_as("b"), kT0 + 1s);
    c.insert("c", allow_as("c"), kT0 + 2s);
    c.insert("d", allow_as("d"), kT0 + 3s);
    EXPECT_EQ(c.size(), 3u);
    EXPECT_FALSE(c.find("a", kT0 + 3s));
    EXPECT_TRUE(c.find("b", kT0 + 3s));
    EXPECT_TRUE(c.find("d", kT0 + 3s));
    // Re-inserting "b" makes it the newest; "c" is now the oldest.
    c.insert("b", allow_as("b2"), kT0 + 4s);
    c.insert("e", allow_as("e"), kT0 + 5s);
    EXPECT_FALSE(c.find("c", kT0 + 5s));
    EXPECT_EQ(c.find("b", kT0 + 5s)->principal_id, "b2");
}

TEST(AuthorizerCacheTest, ExpiredEntriesLeaveOnInsert) {
    AuthorizerCache c(10s, 100);
    for (int i = 0; i < 50; ++i) c.insert("k" + std::to_string(i), allow_as("p"), kT0);
    EXPECT_EQ(c.size(), 50u);
    c.insert("fresh", allow_as("p"), kT0 + 10s);
    EXPECT_EQ(c.size(), 1u);
}

TEST(AuthorizerCacheTest, DisabledByZeroTtlOrSize) {
    AuthorizerCache no_ttl(0s, 10);
    no_ttl.insert("k", allow_as("p"), kT0);
    EXPECT_FALSE(no_ttl.find("k", kT0));
    AuthorizerCache no_room(60s, 0);
    no_room.insert("k", allow_as("p"), kT0);
    EXPECT_FALSE(no_room.find("k", kT0));
    EXPECT_EQ(no_room.size(), 0u);
}

TEST(AuthorizerCacheTest, ClearEmpties) {
    AuthorizerCache c(60s, 10);
    c.insert("k", allow_as("p"), kT0);
    c.clear();
    EXPECT_EQ(c.size(), 0u);
    EXPECT_FALSE(c.find("k", kT0));
}

TEST(AuthorizerCacheTest, ConcurrentUseStaysBounded) {
    AuthorizerCache c(60s, 64);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&c, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string key = "k" + std::to_string((i * 7 + t) % 200);
                const auto now = kT0 + std::chrono::milliseconds(i);
                if (i % 3 == 0) {
                    c.insert(key, allow_as(key), now);
                } else if (auto hit = c.find(key, now)) {
                    EXPECT_EQ(hit->principal_id, key);
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_LE(c.size(), 64u);
}

}  // namespace
