// Lambda-proxy events (contract §3.1-§3.4): every field, its type, and its presence per event type.
#include "integration/events.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using wsgate::SystemTime;
using wsgate::integration::connect_event;
using wsgate::integration::ConnectionContext;
using wsgate::integration::disconnect_event;
using wsgate::integration::error_frame;
using wsgate::integration::EventIds;
using wsgate::integration::HeaderList;
using wsgate::integration::message_event;

constexpr std::int64_t kConnectedAt = 1705751697419;
constexpr std::int64_t kRequestEpoch = 1705751697420;  // 2024-01-20T11:54:57.420Z
constexpr std::string_view kRequestTimeClf = "20/Jan/2024:11:54:57 +0000";
constexpr std::string_view kRequestId = "R1kmxGc4yQ0FsSA=";
constexpr std::string_view kConnectionId = "R1kmxc2VNjMCFIA=";
constexpr std::string_view kUserAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)";
constexpr std::string_view kDomain = "abcdef123.execute-api.us-east-1.amazonaws.com";

ConnectionContext make_context(bool with_user_agent = true) {
    ConnectionContext c;
    c.connection_id = std::string(kConnectionId);
    c.api_id = "abcdef123";
    c.stage = "prod";
    c.domain_name = std::string(kDomain);
    c.source_ip = "198.51.100.7";
    if (with_user_agent) c.user_agent = std::string(kUserAgent);
    c.connected_at_ms = kConnectedAt;
    return c;
}

EventIds make_ids() {
    return EventIds{std::string(kRequestId), SystemTime{std::chrono::milliseconds{kRequestEpoch}}};
}

json::object parse_object(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    EXPECT_FALSE(ec) << "event is not valid JSON: " << ec.message() << "\n" << text;
    EXPECT_TRUE(v.is_object()) << text;
    if (ec || !v.is_object()) return {};
    return std::move(v.get_object());
}

std::set<std::string> keys_of(const json::object& o) {
    std::set<std::string> keys;
    for (const auto& kv : o) keys.emplace(kv.key());
    return keys;
}

const json::object& obj_at(const json::object& o, std::string_view key) {
    static const json::object empty;
    const auto* v = o.if_contains(key);
    EXPECT_NE(v, nullptr) << "missing " << key;
    if (v == nullptr) return empty;
    EXPECT_TRUE(v->is_object()) << key << " is not an object: " << json::serialize(*v);
    return v->is_object() ? v->get_object() : empty;
}

// Expects o[key] to be a JSON string equal to `want`.
void expect_string(const json::object& o, std::string_view key, std::string_view want) {
    const auto* v = o.if_contains(key);
    ASSERT_NE(v, nullptr) << "missing " << key;
    ASSERT_TRUE(v->is_string()) << key << " is not a string: " << json::serialize(*v);
    EXPECT_EQ(std::string_view(v->get_string()), want) << key;
}

// Expects o[key] to be a JSON integer equal to `want`.
void expect_int(const json::object& o, std::string_view key, std::int64_t want) {
    const auto* v = o.if_contains(key);
    ASSERT_NE(v, nullptr) << "missing " << key;
    ASSERT_TRUE(v->is_int64() || v->is_uint64())
        << key << " is not an integer: " << json::serialize(*v);
    EXPECT_EQ(v->to_number<std::int64_t>(), want) << key;
}

void expect_false(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    ASSERT_NE(v, nullptr) << "missing " << key;
    ASSERT_TRUE(v->is_bool()) << key << " is not a bool: " << json::serialize(*v);
    EXPECT_FALSE(v->get_bool()) << key;
}

// Checks the requestContext fields every event carries.
void expect_common_context(const json::object& rc, std::string_view route_key,
                           std::string_view event_type, bool with_user_agent = true) {
    expect_string(rc, "routeKey", route_key);
    expect_string(rc, "eventType", event_type);
    expect_string(rc, "extendedRequestId", kRequestId);
    expect_string(rc, "requestId", kRequestId);
    expect_string(rc, "requestTime", kRequestTimeClf);
    expect_int(rc, "requestTimeEpoch", kRequestEpoch);
    expect_string(rc, "messageDirection", "IN");
    expect_string(rc, "stage", "prod");
    expect_int(rc, "connectedAt", kConnectedAt);
    expect_string(rc, "domainName", kDomain);
    expect_string(rc, "connectionId", kConnectionId);
    expect_string(rc, "apiId", "abcdef123");
    const auto& identity = obj_at(rc, "identity");
    expect_string(identity, "sourceIp", "198.51.100.7");
    if (with_user_agent) {
        EXPECT_EQ(keys_of(identity), (std::set<std::string>{"userAgent", "sourceIp"}));
        expect_string(identity, "userAgent", kUserAgent);
    } else {
        EXPECT_EQ(keys_of(identity), (std::set<std::string>{"sourceIp"}));
    }
}

const std::set<std::string> kCommonContextKeys{
    "routeKey",    "eventType",        "extendedRequestId",
    "requestTime", "messageDirection", "stage",
    "connectedAt", "requestTimeEpoch", "identity",
    "requestId",   "domainName",       "connectionId",
    "apiId"};

std::set<std::string> with(std::set<std::string> base, std::initializer_list<std::string> more) {
    base.insert(more.begin(), more.end());
    return base;
}

// Expects headers-style object `single` and its multi-value twin to hold exactly `want`.
void expect_header_pair(const json::object& single, const json::object& multi,
                        const std::vector<std::pair<std::string, std::vector<std::string>>>& want) {
    std::set<std::string> want_keys;
    for (const auto& [k, values] : want) {
        want_keys.insert(k);
        expect_string(single, k, values.back());  // last value wins
        const auto* arr = multi.if_contains(k);
        ASSERT_NE(arr, nullptr) << "multi value missing " << k;
        ASSERT_TRUE(arr->is_array()) << k;
        ASSERT_EQ(arr->get_array().size(), values.size()) << k;
        for (std::size_t i = 0; i < values.size(); ++i) {
            ASSERT_TRUE(arr->get_array()[i].is_string()) << k << "[" << i << "]";
            EXPECT_EQ(std::string_view(arr->get_array()[i].get_string()), values[i]) << k;
        }
    }
    EXPECT_EQ(keys_of(single), want_keys);
    EXPECT_EQ(keys_of(multi), want_keys);
}

// ---- CONNECT ---------------------------------------------------------------------------------

TEST(ConnectEvent, AllFieldsWithQuery) {
    const HeaderList headers{{"Host", std::string(kDomain)},
                             {"Origin", "https://app.example.com"},
                             {"Sec-WebSocket-Key", "bnfeqmh9SSPr5Sg9DvFIBw=="},
                             {"User-Agent", std::string(kUserAgent)},
                             {"X-Forwarded-For", "198.51.100.7"}};
    const HeaderList query{{"token", "abc"}};
    const auto e = parse_object(connect_event(make_context(), make_ids(), headers, query, true));

    EXPECT_EQ(keys_of(e),
              (std::set<std::string>{"headers", "multiValueHeaders", "queryStringParameters",
                                     "multiValueQueryStringParameters", "requestContext",
                                     "isBase64Encoded"}));
    expect_header_pair(obj_at(e, "headers"), obj_at(e, "multiValueHeaders"),
                       {{"Host", {std::string(kDomain)}},
                        {"Origin", {"https://app.example.com"}},
                        {"Sec-WebSocket-Key", {"bnfeqmh9SSPr5Sg9DvFIBw=="}},
                        {"User-Agent", {std::string(kUserAgent)}},
                        {"X-Forwarded-For", {"198.51.100.7"}}});
    expect_header_pair(obj_at(e, "queryStringParameters"),
                       obj_at(e, "multiValueQueryStringParameters"), {{"token", {"abc"}}});
    const auto& rc = obj_at(e, "requestContext");
    expect_common_context(rc, "$connect", "CONNECT");
    EXPECT_EQ(keys_of(rc), kCommonContextKeys);  // no messageId, no disconnect fields
    expect_false(e, "isBase64Encoded");
    EXPECT_FALSE(e.contains("body"));
}

TEST(ConnectEvent, NoQueryOmitsBothQueryFields) {
    const HeaderList headers{{"Host", "h.example"}};
    const auto e = parse_object(connect_event(make_context(), make_ids(), headers, {}, false));
    EXPECT_EQ(keys_of(e), (std::set<std::string>{"headers", "multiValueHeaders", "requestContext",
                                                 "isBase64Encoded"}));
    expect_header_pair(obj_at(e, "headers"), obj_at(e, "multiValueHeaders"),
                       {{"Host", {"h.example"}}});
    expect_common_context(obj_at(e, "requestContext"), "$connect", "CONNECT");
    expect_false(e, "isBase64Encoded");
}

TEST(ConnectEvent, RepeatedHeaderLastWinsAndAllKept) {
    const HeaderList headers{{"Host", "h.example"},
                             {"X-Multi", "first"},
                             {"Cookie", "a=1"},
                             {"X-Multi", "second"},
                             {"X-Multi", "third"}};
    const auto e = parse_object(connect_event(make_context(), make_ids(), headers, {}, false));
    expect_header_pair(
        obj_at(e, "headers"), obj_at(e, "multiValueHeaders"),
        {{"Host", {"h.example"}}, {"X-Multi", {"first", "second", "third"}}, {"Cookie", {"a=1"}}});
}

TEST(ConnectEvent, HeaderNamesKeepTheirCase) {
    const HeaderList headers{
        {"Host", "h"}, {"x-lower", "1"}, {"X-UPPER", "2"}, {"Sec-WebSocket-Protocol", "chat"}};
    const auto e = parse_object(connect_event(make_context(), make_ids(), headers, {}, false));
    expect_header_pair(obj_at(e, "headers"), obj_at(e, "multiValueHeaders"),
                       {{"Host", {"h"}},
                        {"x-lower", {"1"}},
                        {"X-UPPER", {"2"}},
                        {"Sec-WebSocket-Protocol", {"chat"}}});
}

TEST(ConnectEvent, RepeatedQueryParameterLastWinsAndAllKept) {
    const HeaderList query{{"a", "1"}, {"b", "x y"}, {"a", "2"}, {"empty", ""}};
    const auto e =
        parse_object(connect_event(make_context(), make_ids(), {{"Host", "h"}}, query, true));
    expect_header_pair(obj_at(e, "queryStringParameters"),
                       obj_at(e, "multiValueQueryStringParameters"),
                       {{"a", {"1", "2"}}, {"b", {"x y"}}, {"empty", {""}}});
}

TEST(ConnectEvent, ValuesNeedingEscapesRoundTrip) {
    const std::string tricky = "quote\" backslash\\ tab\t caf\xC3\xA9 \xF0\x9F\x98\x80";
    const HeaderList headers{{"Host", "h"}, {"X-Tricky", tricky}};
    const HeaderList query{{"q", tricky}};
    const auto e = parse_object(connect_event(make_context(), make_ids(), headers, query, true));
    expect_string(obj_at(e, "headers"), "X-Tricky", tricky);
    expect_string(obj_at(e, "queryStringParameters"), "q", tricky);
}

TEST(ConnectEvent, IdentityWithoutUserAgent) {
    const auto e =
        parse_object(connect_event(make_context(false), make_ids(), {{"Host", "h"}}, {}, false));
    const auto& rc = obj_at(e, "requestContext");
    expect_common_context(rc, "$connect", "CONNECT", /*with_user_agent=*/false);
    EXPECT_EQ(keys_of(rc), kCommonContextKeys);
}

TEST(ConnectEvent, EmptyHeaderListGivesEmptyObjects) {
    const auto e = parse_object(connect_event(make_context(), make_ids(), {}, {}, false));
    EXPECT_TRUE(obj_at(e, "headers").empty());
    EXPECT_TRUE(obj_at(e, "multiValueHeaders").empty());
}

// ---- MESSAGE ---------------------------------------------------------------------------------

TEST(MessageEvent, AllFields) {
    const std::string body = R"({"action":"sendmessage","data":"hello"})";
    const auto e = parse_object(
        message_event(make_context(), make_ids(), "sendmessage", "R1knPc2ntjMCFIA=", body));
    EXPECT_EQ(keys_of(e), (std::set<std::string>{"requestContext", "body", "isBase64Encoded"}));
    const auto& rc = obj_at(e, "requestContext");
    expect_common_context(rc, "sendmessage", "MESSAGE");
    expect_string(rc, "messageId", "R1knPc2ntjMCFIA=");
    EXPECT_EQ(keys_of(rc), with(kCommonContextKeys, {"messageId"}));
    expect_string(e, "body", body);
    expect_false(e, "isBase64Encoded");
}

TEST(MessageEvent, BodyIsAStringWithEscapedQuotes) {
    const std::string body = R"({"action":"x"})";
    const std::string text = message_event(make_context(), make_ids(), "$default", "m", body);
    // The body travels as a JSON string, so its quotes appear escaped in the raw event.
    EXPECT_NE(text.find(R"("body":"{\"action\":\"x\"}")"), std::string::npos) << text;
}

TEST(MessageEvent, BodyExactWithUnicodeAndSpecialCharacters) {
    const std::string body =
        "{\"text\":\"caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80 \\\"q\\\" back\\\\slash\"}\n\t\x01 "
        "end";
    const auto e = parse_object(message_event(make_context(), make_ids(), "$default", "m", body));
    expect_string(e, "body", body);
}

TEST(MessageEvent, NonJsonAndEmptyBodies) {
    auto e = parse_object(message_event(make_context(), make_ids(), "$default", "m", "plain text"));
    expect_string(e, "body", "plain text");
    e = parse_object(message_event(make_context(), make_ids(), "$default", "m", ""));
    expect_string(e, "body", "");
}

TEST(MessageEvent, DefaultRouteKey) {
    const auto e =
        parse_object(message_event(make_context(false), make_ids(), "$default", "mid", "x"));
    const auto& rc = obj_at(e, "requestContext");
    expect_common_context(rc, "$default", "MESSAGE", /*with_user_agent=*/false);
    expect_string(rc, "messageId", "mid");
}

// ---- DISCONNECT ------------------------------------------------------------------------------

TEST(DisconnectEvent, AllFields) {
    const auto e =
        parse_object(disconnect_event(make_context(), make_ids(), kDomain, 1001, "Going away"));
    EXPECT_EQ(keys_of(e), (std::set<std::string>{"headers", "multiValueHeaders", "requestContext",
                                                 "isBase64Encoded"}));
    expect_header_pair(obj_at(e, "headers"), obj_at(e, "multiValueHeaders"),
                       {{"Host", {std::string(kDomain)}},
                        {"x-api-key", {""}},
                        {"X-Forwarded-For", {""}},
                        {"x-restapi", {""}}});
    const auto& rc = obj_at(e, "requestContext");
    expect_common_context(rc, "$disconnect", "DISCONNECT");
    expect_int(rc, "disconnectStatusCode", 1001);
    expect_string(rc, "disconnectReason", "Going away");
    EXPECT_EQ(keys_of(rc), with(kCommonContextKeys, {"disconnectStatusCode", "disconnectReason"}));
    expect_false(e, "isBase64Encoded");
}

TEST(DisconnectEvent, EmptyReasonAndOtherCodes) {
    auto e = parse_object(disconnect_event(make_context(false), make_ids(), "h:8080", 1005,
                                           "Client-side close frame status not set"));
    auto rc = obj_at(e, "requestContext");
    expect_common_context(rc, "$disconnect", "DISCONNECT", /*with_user_agent=*/false);
    expect_int(rc, "disconnectStatusCode", 1005);
    expect_string(rc, "disconnectReason", "Client-side close frame status not set");
    expect_string(obj_at(e, "headers"), "Host", "h:8080");

    e = parse_object(disconnect_event(make_context(), make_ids(), "h", 1000, ""));
    rc = obj_at(e, "requestContext");
    expect_int(rc, "disconnectStatusCode", 1000);
    expect_string(rc, "disconnectReason", "");
}

TEST(DisconnectEvent, ReasonNeedingEscapes) {
    const std::string reason = "bye \"now\" \xC3\xA9";
    const auto e = parse_object(disconnect_event(make_context(), make_ids(), "h", 4000, reason));
    expect_string(obj_at(e, "requestContext"), "disconnectReason", reason);
}

// ---- Times in requestContext ------------------------------------------------------------------

TEST(EventTimes, RequestTimeIsClfOfTheEventTime) {
    // 2000-03-01T09:05:03.999Z: one-digit hour/minute/second and day are zero-padded; milliseconds
    // are truncated in requestTime but kept in requestTimeEpoch.
    EventIds ids{"rid", SystemTime{std::chrono::milliseconds{951901503999}}};
    const auto e = parse_object(message_event(make_context(), ids, "$default", "m", "x"));
    const auto& rc = obj_at(e, "requestContext");
    expect_string(rc, "requestTime", "01/Mar/2000:09:05:03 +0000");
    expect_int(rc, "requestTimeEpoch", 951901503999);
    expect_string(rc, "requestId", "rid");
    expect_string(rc, "extendedRequestId", "rid");
}

TEST(EventTimes, ConnectedAtIsPassedThrough) {
    auto c = make_context();
    c.connected_at_ms = 2147483648000;  // past 2^31 seconds: must not be truncated to 32 bits
    const auto e = parse_object(message_event(c, make_ids(), "$default", "m", "x"));
    expect_int(obj_at(e, "requestContext"), "connectedAt", 2147483648000);
}

// ---- Error frames ----------------------------------------------------------------------------

TEST(ErrorFrame, ForbiddenExactBytes) {
    EXPECT_EQ(
        error_frame("Forbidden", "R1kmxc2VNjMCFIA=", "R1knPH17NjMFftw="),
        R"({"message": "Forbidden", "connectionId":"R1kmxc2VNjMCFIA=", "requestId":"R1knPH17NjMFftw="})");
}

TEST(ErrorFrame, InternalServerErrorExactBytes) {
    EXPECT_EQ(error_frame("Internal server error", "abc=", "def="),
              R"({"message": "Internal server error", "connectionId":"abc=", "requestId":"def="})");
}

TEST(ErrorFrame, IsValidJson) {
    const auto o = parse_object(error_frame("Forbidden", "P-S_9e-7liACH9A=", "d4NsecoByQ0CH-Q="));
    EXPECT_EQ(keys_of(o), (std::set<std::string>{"message", "connectionId", "requestId"}));
    expect_string(o, "message", "Forbidden");
    expect_string(o, "connectionId", "P-S_9e-7liACH9A=");
    expect_string(o, "requestId", "d4NsecoByQ0CH-Q=");
}

}  // namespace
