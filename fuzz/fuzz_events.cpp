// Lambda-proxy events (src/integration/events.h) built from fuzzed strings.
//
// Input: read with libFuzzer's FuzzedDataProvider: the connection context (connection id, api id,
// stage, domain name, source ip, optional user agent, connectedAt), the event ids (request id,
// time), up to 8 headers and, optionally, up to 8 query parameters, then route key, message id,
// host, close code, reason, and the message body (the rest of the input).
// FuzzedDataProvider's strings end at a backslash followed by any other byte ("\\" is one
// backslash); integers are taken from the END of the input.
//
// Invariants checked, for CONNECT, MESSAGE and DISCONNECT events and the error frame:
//  - the event is one JSON object (Boost.JSON, strict UTF-8 when every input string is valid
//    UTF-8; otherwise, since the events copy bytes through, parsed with invalid UTF-8 allowed).
//  - every string round-trips exactly: body, routeKey, messageId, the whole requestContext,
//    identity (userAgent present iff given), headers/multiValueHeaders (last value wins / all
//    values in order), the query fields (present iff has_query), disconnect code and reason.
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_format.h"
#include "common/utf8.h"
#include "fuzz_check.h"
#include "integration/events.h"

namespace {

using namespace wsgate::integration;
namespace json = boost::json;

bool all_utf8 = true;

std::string take(FuzzedDataProvider& in, std::size_t max) {
    std::string s = in.ConsumeRandomLengthString(max);
    all_utf8 = all_utf8 && wsgate::is_valid_utf8(s);
    return s;
}

json::value parse(const std::string& text) {
    json::parse_options opt;
    opt.allow_invalid_utf8 = !all_utf8;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, {}, opt);
    FUZZ_CHECK_MSG(!ec, "event is not JSON (%s): %s", ec.message().c_str(), text.c_str());
    FUZZ_CHECK(v.is_object());
    return v;
}

const json::value& at(const json::value& v, std::string_view key) {
    const json::value* p = v.as_object().if_contains(key);
    FUZZ_CHECK_MSG(p != nullptr, "missing key %.*s", static_cast<int>(key.size()), key.data());
    return *p;
}

void expect_string(const json::value& v, std::string_view key, std::string_view expected) {
    const json::value& s = at(v, key);
    FUZZ_CHECK(s.is_string());
    FUZZ_CHECK_MSG(std::string_view(s.get_string()) == expected, "%.*s does not round-trip",
                   static_cast<int>(key.size()), key.data());
}

void expect_int(const json::value& v, std::string_view key, std::int64_t expected) {
    const json::value& n = at(v, key);
    FUZZ_CHECK(n.is_int64() || n.is_uint64());
    FUZZ_CHECK(n.is_int64() ? n.get_int64() == expected
                            : expected >= 0 && n.get_uint64() == static_cast<std::uint64_t>(expected));
}

void check_context(const json::value& rc, const ConnectionContext& c, const EventIds& ids,
                   std::string_view route_key, std::string_view event_type) {
    expect_string(rc, "routeKey", route_key);
    expect_string(rc, "eventType", event_type);
    expect_string(rc, "extendedRequestId", ids.request_id);
    expect_string(rc, "requestId", ids.request_id);
    expect_string(rc, "requestTime", wsgate::clf_time(ids.time));
    expect_int(rc, "requestTimeEpoch", wsgate::epoch_millis(ids.time));
    expect_string(rc, "messageDirection", "IN");
    expect_string(rc, "stage", c.stage);
    expect_int(rc, "connectedAt", c.connected_at_ms);
    expect_string(rc, "domainName", c.domain_name);
    expect_string(rc, "connectionId", c.connection_id);
    expect_string(rc, "apiId", c.api_id);
    const json::value& id = at(rc, "identity");
    FUZZ_CHECK(id.is_object());
    expect_string(id, "sourceIp", c.source_ip);
    if (c.user_agent) {
        expect_string(id, "userAgent", *c.user_agent);
        FUZZ_CHECK(id.as_object().size() == 2);
    } else {
        FUZZ_CHECK(id.as_object().size() == 1);
    }
}

// "headers": last value per name; "multiValueHeaders": every value in order.
void check_multi(const json::value& e, std::string_view single_key, std::string_view multi_key,
                 const HeaderList& list) {
    std::map<std::string, std::vector<std::string>> expected;
    for (const auto& [k, v] : list) expected[k].push_back(v);
    const json::value& single = at(e, single_key);
    const json::value& multi = at(e, multi_key);
    FUZZ_CHECK(single.is_object() && multi.is_object());
    FUZZ_CHECK(single.as_object().size() == expected.size());
    FUZZ_CHECK(multi.as_object().size() == expected.size());
    for (const auto& [k, values] : expected) {
        expect_string(single, k, values.back());
        const json::value& arr = at(multi, k);
        FUZZ_CHECK(arr.is_array() && arr.as_array().size() == values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            FUZZ_CHECK(arr.as_array()[i].is_string());
            FUZZ_CHECK(std::string_view(arr.as_array()[i].get_string()) == values[i]);
        }
    }
}

HeaderList take_pairs(FuzzedDataProvider& in) {
    HeaderList out;
    const auto n = in.ConsumeIntegralInRange<std::size_t>(0, 8);
    for (std::size_t i = 0; i < n; ++i) {
        std::string k = take(in, 64);
        std::string v = take(in, 256);
        out.emplace_back(std::move(k), std::move(v));
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    all_utf8 = true;

    ConnectionContext c;
    c.connection_id = take(in, 64);
    c.api_id = take(in, 64);
    c.stage = take(in, 64);
    c.domain_name = take(in, 128);
    c.source_ip = take(in, 64);
    if (in.ConsumeBool()) c.user_agent = take(in, 256);
    c.connected_at_ms = in.ConsumeIntegral<std::int64_t>();
    EventIds ids;
    ids.request_id = take(in, 64);
    // 1970 to 2200: the gateway passes its own clock here, and system_clock counts nanoseconds in
    // an int64 (it ends in 2262).
    ids.time = wsgate::SystemTime(std::chrono::duration_cast<wsgate::SystemTime::duration>(
        std::chrono::milliseconds(in.ConsumeIntegralInRange<std::int64_t>(0, 7'258'118'400'000))));
    const HeaderList headers = take_pairs(in);
    const bool has_query = in.ConsumeBool();
    const HeaderList query = has_query ? take_pairs(in) : HeaderList{};
    const std::string route_key = take(in, 64);
    const std::string message_id = take(in, 64);
    const std::string host = take(in, 128);
    const int code = in.ConsumeIntegral<int>();
    const std::string reason = take(in, 128);
    const std::string body = in.ConsumeRemainingBytesAsString();
    all_utf8 = all_utf8 && wsgate::is_valid_utf8(body);

    {
        const json::value e = parse(connect_event(c, ids, headers, query, has_query));
        check_context(at(e, "requestContext"), c, ids, "$connect", "CONNECT");
        check_multi(e, "headers", "multiValueHeaders", headers);
        if (has_query) {
            check_multi(e, "queryStringParameters", "multiValueQueryStringParameters", query);
        } else {
            FUZZ_CHECK(!e.as_object().contains("queryStringParameters"));
            FUZZ_CHECK(!e.as_object().contains("multiValueQueryStringParameters"));
        }
        FUZZ_CHECK(at(e, "isBase64Encoded").is_bool() && !at(e, "isBase64Encoded").get_bool());
    }
    {
        const json::value e = parse(message_event(c, ids, route_key, message_id, body));
        const json::value& rc = at(e, "requestContext");
        check_context(rc, c, ids, route_key, "MESSAGE");
        expect_string(rc, "messageId", message_id);
        expect_string(e, "body", body);
        FUZZ_CHECK(at(e, "isBase64Encoded").is_bool() && !at(e, "isBase64Encoded").get_bool());
        FUZZ_CHECK(e.as_object().size() == 3);
    }
    {
        const json::value e = parse(disconnect_event(c, ids, host, code, reason));
        const json::value& rc = at(e, "requestContext");
        check_context(rc, c, ids, "$disconnect", "DISCONNECT");
        expect_int(rc, "disconnectStatusCode", code);
        expect_string(rc, "disconnectReason", reason);
        check_multi(e, "headers", "multiValueHeaders",
                    {{"Host", host}, {"x-api-key", ""}, {"X-Forwarded-For", ""}, {"x-restapi", ""}});
    }
    {
        // error_frame is built by hand for ids that need no escaping (base64url) and fixed messages.
        const std::string frame = error_frame("Forbidden", "R1kmxc2VNjMCFIA=", ids.request_id);
        if (ids.request_id.find_first_of("\"\\") == std::string::npos &&
            std::all_of(ids.request_id.begin(), ids.request_id.end(),
                        [](char ch) { return static_cast<unsigned char>(ch) >= 0x20; })) {
            const json::value e = parse(frame);
            expect_string(e, "message", "Forbidden");
            expect_string(e, "requestId", ids.request_id);
        }
    }
    return 0;
}
