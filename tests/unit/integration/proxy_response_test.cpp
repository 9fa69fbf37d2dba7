// Backend answers parsed as Lambda-proxy responses (contract §3.6).
#include "integration/proxy_response.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>

namespace wsgate::integration {
// Lets gtest print failures by name.
void PrintTo(Failure f, std::ostream* os) {
    *os << to_string(f);
}
}  // namespace wsgate::integration

namespace {

using wsgate::integration::Failure;
using wsgate::integration::parse_proxy_response;
using wsgate::integration::Result;

void expect_bad(const Result& r, const char* what) {
    EXPECT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.failure, Failure::bad_response) << what;
    EXPECT_FALSE(r.detail.empty()) << what << ": a failure should say why";
}

TEST(ProxyResponse, Bare2xxEmptyBodyIsOk200WithoutBody) {
    for (unsigned status : {200u, 201u, 204u, 299u}) {
        const auto r = parse_proxy_response(status, "");
        EXPECT_TRUE(r.ok()) << status;
        EXPECT_EQ(r.failure, Failure::none) << status;
        EXPECT_EQ(r.response.status_code, 200) << status;
        EXPECT_EQ(r.response.body, std::nullopt) << status;
        EXPECT_EQ(r.response.subprotocol, "") << status;
    }
}

TEST(ProxyResponse, WhitespaceOnlyBodyCountsAsEmpty) {
    const auto r = parse_proxy_response(200, " \r\n\t ");
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.response.status_code, 200);
    EXPECT_EQ(r.response.body, std::nullopt);
}

TEST(ProxyResponse, StatusAndStringBody) {
    const auto r = parse_proxy_response(200, R"({"statusCode":200,"body":"x"})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.status_code, 200);
    EXPECT_EQ(r.response.body, std::optional<std::string>("x"));
    EXPECT_EQ(r.response.subprotocol, "");
}

TEST(ProxyResponse, StatusOnlyHasNoBody) {
    const auto r = parse_proxy_response(200, R"({"statusCode":204})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.status_code, 204);
    EXPECT_EQ(r.response.body, std::nullopt);
}

TEST(ProxyResponse, NullBodyIsNoBody) {
    const auto r = parse_proxy_response(200, R"({"statusCode":200,"body":null})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::nullopt);
}

TEST(ProxyResponse, EmptyStringBodyIsAnEmptyBody) {
    const auto r = parse_proxy_response(200, R"({"statusCode":200,"body":""})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>(""));
}

TEST(ProxyResponse, BodyWithEscapesIsUnescaped) {
    const auto r =
        parse_proxy_response(200, R"({"statusCode":200,"body":"{\"a\":\"caf\u00e9\"}\n"})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>("{\"a\":\"caf\xC3\xA9\"}\n"));
}

TEST(ProxyResponse, Non2xxStatusCodeInsideTheResponseIsStillOk) {
    // The Lambda's own statusCode is data, not a failure: a 500 body is still delivered.
    const auto r = parse_proxy_response(200, R"({"statusCode":500,"body":"oops"})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.status_code, 500);
    EXPECT_EQ(r.response.body, std::optional<std::string>("oops"));
    const auto r400 = parse_proxy_response(200, R"({"statusCode":400})");
    ASSERT_TRUE(r400.ok()) << r400.detail;
    EXPECT_EQ(r400.response.status_code, 400);
}

TEST(ProxyResponse, StatusCodeAsString) {
    const auto r = parse_proxy_response(200, R"({"statusCode":"201","body":"b"})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.status_code, 201);
    EXPECT_EQ(r.response.body, std::optional<std::string>("b"));
}

TEST(ProxyResponse, StatusCodeBounds) {
    EXPECT_EQ(parse_proxy_response(200, R"({"statusCode":100})").response.status_code, 100);
    EXPECT_EQ(parse_proxy_response(200, R"({"statusCode":599})").response.status_code, 599);
    EXPECT_TRUE(parse_proxy_response(200, R"({"statusCode":599})").ok());
}

TEST(ProxyResponse, StatusCodeOutOfRangeIsBadResponse) {
    expect_bad(parse_proxy_response(200, R"({"statusCode":700})"), "700");
    expect_bad(parse_proxy_response(200, R"({"statusCode":600})"), "600");
    expect_bad(parse_proxy_response(200, R"({"statusCode":99})"), "99");
    expect_bad(parse_proxy_response(200, R"({"statusCode":0})"), "0");
    expect_bad(parse_proxy_response(200, R"({"statusCode":-200})"), "-200");
}

TEST(ProxyResponse, HugeStatusCodeIsBadResponseNotAnException) {
    // Beyond int64: Boost.JSON stores it as uint64; the parser must reject it, not throw.
    Result r;
    EXPECT_NO_THROW(r = parse_proxy_response(200, R"({"statusCode":18446744073709551615})"));
    expect_bad(r, "uint64 max");
    EXPECT_NO_THROW(r = parse_proxy_response(200, R"({"statusCode":1e3})"));
    expect_bad(r, "double");
}

TEST(ProxyResponse, StringStatusCodeOutOfRangeIsBadResponse) {
    // The same range applies whether the Lambda returned 700 or "700".
    expect_bad(parse_proxy_response(200, R"({"statusCode":"700"})"), R"("700")");
    expect_bad(parse_proxy_response(200, R"({"statusCode":"600"})"), R"("600")");
    expect_bad(parse_proxy_response(200, R"({"statusCode":"099"})"), R"("099")");
}

TEST(ProxyResponse, MalformedStatusCodeIsBadResponse) {
    expect_bad(parse_proxy_response(200, R"({"statusCode":"abc"})"), "abc");
    expect_bad(parse_proxy_response(200, R"({"statusCode":"20"})"), "20");
    expect_bad(parse_proxy_response(200, R"({"statusCode":""})"), "empty");
    expect_bad(parse_proxy_response(200, R"({"statusCode":true})"), "bool");
    expect_bad(parse_proxy_response(200, R"({"statusCode":null})"), "null");
    expect_bad(parse_proxy_response(200, R"({"statusCode":[200]})"), "array");
}

TEST(ProxyResponse, MissingStatusCodeIsBadResponse) {
    expect_bad(parse_proxy_response(200, R"({"body":"x"})"), "no statusCode");
    expect_bad(parse_proxy_response(200, "{}"), "empty object");
    expect_bad(parse_proxy_response(200, R"({"StatusCode":200})"), "wrong case");
}

TEST(ProxyResponse, NonJsonIsBadResponse) {
    expect_bad(parse_proxy_response(200, "hello"), "text");
    expect_bad(parse_proxy_response(200, R"({"statusCode":200)"), "truncated");
    expect_bad(parse_proxy_response(200, "<html></html>"), "html");
}

TEST(ProxyResponse, NonObjectJsonIsBadResponse) {
    expect_bad(parse_proxy_response(200, R"([{"statusCode":200}])"), "array");
    expect_bad(parse_proxy_response(200, "200"), "number");
    expect_bad(parse_proxy_response(200, R"("ok")"), "string");
    expect_bad(parse_proxy_response(200, "null"), "null");
}

TEST(ProxyResponse, HttpErrorStatusIsBadResponse) {
    expect_bad(parse_proxy_response(500, R"({"statusCode":200,"body":"x"})"), "500");
    expect_bad(parse_proxy_response(500, ""), "500 empty");
    expect_bad(parse_proxy_response(404, ""), "404");
    expect_bad(parse_proxy_response(302, ""), "302");
    expect_bad(parse_proxy_response(199, ""), "199");
    expect_bad(parse_proxy_response(300, R"({"statusCode":200})"), "300");
}

TEST(ProxyResponse, NonStringBodyIsSerializedJson) {
    auto r = parse_proxy_response(200, R"({"statusCode":200,"body":{"a":1,"b":[true,null]}})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>(R"({"a":1,"b":[true,null]})"));
    r = parse_proxy_response(200, R"({"statusCode":200,"body":42})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>("42"));
    r = parse_proxy_response(200, R"({"statusCode":200,"body":[1,"x"]})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>(R"([1,"x"])"));
}

TEST(ProxyResponse, Base64BodyIsDecoded) {
    struct Case {
        const char* encoded;
        const char* decoded;
    };
    for (const auto& c : {Case{"aGk=", "hi"}, Case{"aGVsbG8=", "hello"}, Case{"aA==", "h"},
                          Case{"aGVsbG8h", "hello!"}, Case{"", ""}}) {
        const std::string body =
            std::string(R"({"statusCode":200,"isBase64Encoded":true,"body":")") + c.encoded + "\"}";
        const auto r = parse_proxy_response(200, body);
        ASSERT_TRUE(r.ok()) << c.encoded << ": " << r.detail;
        EXPECT_EQ(r.response.body, std::optional<std::string>(c.decoded)) << c.encoded;
    }
}

TEST(ProxyResponse, Base64BodyMayDecodeToBinary) {
    const auto r =
        parse_proxy_response(200, R"({"statusCode":200,"isBase64Encoded":true,"body":"AAH/"})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>(std::string("\x00\x01\xFF", 3)));
}

TEST(ProxyResponse, InvalidBase64IsBadResponse) {
    expect_bad(
        parse_proxy_response(200, R"({"statusCode":200,"isBase64Encoded":true,"body":"!!!!"})"),
        "bad chars");
}

TEST(ProxyResponse, Base64FlagFalseLeavesBodyAlone) {
    const auto r =
        parse_proxy_response(200, R"({"statusCode":200,"isBase64Encoded":false,"body":"aGk="})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, std::optional<std::string>("aGk="));
}

TEST(ProxyResponse, SubprotocolFromHeadersCaseInsensitive) {
    for (const char* name :
         {"Sec-WebSocket-Protocol", "sec-websocket-protocol", "SEC-WEBSOCKET-PROTOCOL"}) {
        const std::string body = std::string(R"({"statusCode":200,"headers":{"X-Other":"y",")") +
                                 name + R"(":"myprotocol"}})";
        const auto r = parse_proxy_response(200, body);
        ASSERT_TRUE(r.ok()) << name << ": " << r.detail;
        EXPECT_EQ(r.response.subprotocol, "myprotocol") << name;
        EXPECT_EQ(r.response.body, std::nullopt) << name;
    }
}

TEST(ProxyResponse, SubprotocolFromMultiValueHeaders) {
    const auto r = parse_proxy_response(
        200,
        R"({"statusCode":200,"multiValueHeaders":{"sec-websocket-protocol":["chat","other"]}})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.subprotocol, "chat");
}

TEST(ProxyResponse, NoSubprotocolWhenHeaderAbsent) {
    const auto r = parse_proxy_response(200, R"({"statusCode":200,"headers":{"X-Other":"y"}})");
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.subprotocol, "");
}

TEST(ProxyResponse, Failure) {
    EXPECT_STREQ(wsgate::integration::to_string(Failure::none), "none");
    EXPECT_STREQ(wsgate::integration::to_string(Failure::unreachable), "unreachable");
    EXPECT_STREQ(wsgate::integration::to_string(Failure::bad_response), "bad_response");
    EXPECT_STREQ(wsgate::integration::to_string(Failure::timeout), "timeout");
    EXPECT_STREQ(wsgate::integration::to_string(Failure::overloaded), "overloaded");
}

}  // namespace
