// The JSON record Redis keeps per connection (what a surviving node needs to send its DISCONNECT
// event): round trips with and without the optional fields, and rejection of what is not a
// version-1 record.
#include "cluster/connection_record.h"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <memory>
#include <string>

namespace {

namespace json = boost::json;
using namespace std::string_literals;
using wsgate::cluster::decode_record;
using wsgate::cluster::encode_record;
using wsgate::integration::ConnectionContext;

ConnectionContext minimal() {
    ConnectionContext c;
    c.connection_id = "L0SM9cOFvHcCIhw=";
    c.api_id = "wsgatelocal";
    c.stage = "dev";
    c.domain_name = "127.0.0.1:8080";
    c.source_ip = "127.0.0.1";
    c.connected_at_ms = 1'700'000'000'123;
    return c;
}

ConnectionContext full() {
    ConnectionContext c = minimal();
    c.user_agent = "Mozilla/5.0 (X11; \"quoted\") \xE2\x9C\x93";
    c.api_key = "k3y-0123456789";
    c.access_key = "AKIDEXAMPLE";
    json::object auth;
    auth["principalId"] = "user-42";
    auth["tier"] = "gold";
    auth["count"] = 7;
    auth["nested"] = json::object{{"a", json::array{1, "two", nullptr, true}}};
    c.authorizer = std::make_shared<const json::object>(std::move(auth));
    return c;
}

json::object as_object(const std::string& text) {
    return json::parse(text).as_object();
}

TEST(ConnectionRecord, FullRoundTrip) {
    const ConnectionContext c = full();
    const std::string text = encode_record(c, "gw.example.com:443");
    const auto r = decode_record(text);
    ASSERT_TRUE(r) << text;
    const auto& d = r->context;
    EXPECT_EQ(d.connection_id, c.connection_id);
    EXPECT_EQ(d.api_id, c.api_id);
    EXPECT_EQ(d.stage, c.stage);
    EXPECT_EQ(d.domain_name, c.domain_name);
    EXPECT_EQ(d.source_ip, c.source_ip);
    EXPECT_EQ(d.user_agent, c.user_agent);
    EXPECT_EQ(d.connected_at_ms, c.connected_at_ms);
    EXPECT_EQ(d.api_key, c.api_key);
    EXPECT_EQ(d.access_key, c.access_key);
    ASSERT_TRUE(d.authorizer);
    EXPECT_EQ(*d.authorizer, *c.authorizer);
    EXPECT_EQ(r->host, "gw.example.com:443");
}

TEST(ConnectionRecord, MinimalRoundTripKeepsOptionalFieldsAbsent) {
    const std::string text = encode_record(minimal(), "");
    const auto o = as_object(text);
    EXPECT_EQ(o.at("v"), 1);
    for (const char* k : {"userAgent", "apiKey", "accessKey", "authorizer"}) {
        EXPECT_FALSE(o.contains(k)) << k << " written although unset: " << text;
    }
    const auto r = decode_record(text);
    ASSERT_TRUE(r) << text;
    EXPECT_EQ(r->context.connection_id, "L0SM9cOFvHcCIhw=");
    EXPECT_EQ(r->context.stage, "dev");
    EXPECT_EQ(r->context.connected_at_ms, 1'700'000'000'123);
    EXPECT_FALSE(r->context.user_agent);
    EXPECT_FALSE(r->context.api_key);
    EXPECT_FALSE(r->context.access_key);
    EXPECT_FALSE(r->context.authorizer);
    EXPECT_EQ(r->host, "");
}

TEST(ConnectionRecord, EmptyUserAgentIsNotAbsentUserAgent) {
    ConnectionContext c = minimal();
    c.user_agent = "";
    const auto r = decode_record(encode_record(c, "h"));
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->context.user_agent);
    EXPECT_EQ(*r->context.user_agent, "");
}

TEST(ConnectionRecord, EmptyAuthorizerObjectSurvives) {
    ConnectionContext c = minimal();
    c.authorizer = std::make_shared<const json::object>();
    const auto r = decode_record(encode_record(c, "h"));
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->context.authorizer);
    EXPECT_TRUE(r->context.authorizer->empty());
}

TEST(ConnectionRecord, ExtremeConnectedAt) {
    for (const std::int64_t at : {std::int64_t{0}, std::numeric_limits<std::int64_t>::max()}) {
        ConnectionContext c = minimal();
        c.connected_at_ms = at;
        const auto r = decode_record(encode_record(c, "h"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->context.connected_at_ms, at);
    }
}

TEST(ConnectionRecord, ControlCharactersAndNonAsciiInStringsSurvive) {
    ConnectionContext c = minimal();
    c.user_agent = "tab\tnewline\nnul\0end \xC3\xA9"s;
    c.domain_name = "\xE4\xBE\x8B\xE3\x81\x88.example";
    const auto r = decode_record(encode_record(c, "host\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->context.user_agent, c.user_agent);
    EXPECT_EQ(r->context.domain_name, c.domain_name);
    EXPECT_EQ(r->host, "host\r\n");
}

TEST(ConnectionRecord, UnknownFieldsAreIgnored) {
    auto o = as_object(encode_record(full(), "h"));
    o["addedInALaterVersion"] = json::array{1, 2};
    const auto r = decode_record(json::serialize(o));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->context.connection_id, "L0SM9cOFvHcCIhw=");
}

TEST(ConnectionRecord, OptionalFieldsOfTheWrongTypeAreDropped) {
    auto o = as_object(encode_record(minimal(), "h"));
    o["userAgent"] = 5;
    o["authorizer"] = "not an object";
    o["apiKey"] = nullptr;
    const auto r = decode_record(json::serialize(o));
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->context.user_agent);
    EXPECT_FALSE(r->context.authorizer);
    EXPECT_FALSE(r->context.api_key);
}

TEST(ConnectionRecordReject, NotJsonOrNotAnObject) {
    for (const char* text : {"", " ", "not json", "{", "{\"v\":1", "[]", "[{\"v\":1}]", "1", "\"v\"",
                             "null", "{\"v\":1}}", "\xff\xfe"}) {
        EXPECT_FALSE(decode_record(text)) << text;
    }
}

TEST(ConnectionRecordReject, OtherVersions) {
    const auto base = as_object(encode_record(full(), "h"));
    for (const json::value& v : {json::value(0), json::value(2), json::value(-1), json::value("1"),
                                json::value(1.0), json::value(nullptr), json::value(true)}) {
        auto o = base;
        o["v"] = v;
        EXPECT_FALSE(decode_record(json::serialize(o))) << json::serialize(o);
    }
    auto o = base;
    o.erase("v");
    EXPECT_FALSE(decode_record(json::serialize(o))) << "no version";
}

TEST(ConnectionRecordReject, RequiredFieldsMissingOrOfTheWrongType) {
    const auto base = as_object(encode_record(full(), "h"));
    for (const char* key : {"connectionId", "stage", "connectedAt"}) {
        auto o = base;
        o.erase(key);
        EXPECT_FALSE(decode_record(json::serialize(o))) << "without " << key;
    }
    const std::pair<const char*, json::value> wrong[] = {
        {"connectionId", json::value(12)},
        {"connectionId", json::value(nullptr)},
        {"stage", json::value(json::array{"dev"})},
        {"connectedAt", json::value("1700000000123")},
        {"connectedAt", json::value(1.7e12)},
        {"connectedAt", json::value(nullptr)},
    };
    for (const auto& [key, value] : wrong) {
        auto o = base;
        o[key] = value;
        EXPECT_FALSE(decode_record(json::serialize(o))) << json::serialize(o);
    }
}

}  // namespace
