// The messages nodes exchange over Redis pub/sub: exact wire format, round trips (bodies with
// newlines, NULs and arbitrary bytes included), and rejection of anything that is not ours.
#include "cluster/bus_message.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

using wsgate::cluster::BusReply;
using wsgate::cluster::BusRequest;
using wsgate::cluster::decode_reply;
using wsgate::cluster::decode_request;
using wsgate::cluster::encode;
using wsgate::gateway::RemoteOp;
using Kind = wsgate::gateway::RemoteOutcome::Kind;

using namespace std::string_literals;

BusRequest request(RemoteOp op, std::string_view body = {}) {
    BusRequest r;
    r.op = op;
    r.request_id = 42;
    r.reply_node = "node-a#Ab3_-xYz";
    r.deadline_ms = 1'700'000'000'123;
    r.connection_id = "L0SM9cOFvHcCIhw=";
    r.body = body;
    return r;
}

// True when `part` lies inside `whole` (decoded bodies are views into the payload).
bool points_into(std::string_view part, const std::string& whole) {
    return part.empty() ||
           (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// ---- Wire format -----------------------------------------------------------------------------

TEST(BusMessageFormat, RequestIsOneHeaderLineThenTheBody) {
    EXPECT_EQ(encode(request(RemoteOp::post, "hello")),
              "wsgate1 REQ POST 42 node-a#Ab3_-xYz 1700000000123 L0SM9cOFvHcCIhw=\nhello");
    EXPECT_EQ(encode(request(RemoteOp::get)),
              "wsgate1 REQ GET 42 node-a#Ab3_-xYz 1700000000123 L0SM9cOFvHcCIhw=\n");
    EXPECT_EQ(encode(request(RemoteOp::del)),
              "wsgate1 REQ DELETE 42 node-a#Ab3_-xYz 1700000000123 L0SM9cOFvHcCIhw=\n");
}

TEST(BusMessageFormat, ReplyIsOneHeaderLineThenTheBody) {
    EXPECT_EQ(encode(BusReply{7, Kind::done, "{\"x\":1}"}), "wsgate1 REP 7 done\n{\"x\":1}");
    EXPECT_EQ(encode(BusReply{8, Kind::gone, ""}), "wsgate1 REP 8 gone\n");
    EXPECT_EQ(encode(BusReply{9, Kind::queue_full, ""}), "wsgate1 REP 9 queue_full\n");
    EXPECT_EQ(encode(BusReply{10, Kind::unavailable, ""}), "wsgate1 REP 10 unavailable\n");
    EXPECT_EQ(encode(BusReply{11, Kind::timeout, ""}), "wsgate1 REP 11 timeout\n");
}

// ---- Round trips -----------------------------------------------------------------------------

TEST(BusMessageRoundTrip, EveryOperation) {
    for (const RemoteOp op : {RemoteOp::post, RemoteOp::get, RemoteOp::del}) {
        const std::string wire = encode(request(op, op == RemoteOp::post ? "payload" : ""));
        const auto r = decode_request(wire);
        ASSERT_TRUE(r) << wire;
        EXPECT_EQ(r->op, op);
        EXPECT_EQ(r->request_id, 42u);
        EXPECT_EQ(r->reply_node, "node-a#Ab3_-xYz");
        EXPECT_EQ(r->deadline_ms, 1'700'000'000'123);
        EXPECT_EQ(r->connection_id, "L0SM9cOFvHcCIhw=");
        EXPECT_EQ(r->body, op == RemoteOp::post ? "payload" : "");
        EXPECT_TRUE(points_into(r->body, wire));
    }
}

TEST(BusMessageRoundTrip, BodiesWithNewlinesNulsAndAnyByteSurvive) {
    std::string every_byte;
    for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
    const std::vector<std::string> bodies = {
        "",
        "\n",
        "\n\n\n",
        "line one\nline two\r\nline three\n",
        "\0\0\0"s,
        "a\0b\nc\0"s,
        "wsgate1 REQ POST 1 n 2 id\nnested header",  // a message that looks like a message
        "wsgate1 REP 1 done\n",
        " leading and trailing spaces ",
        every_byte,
        every_byte + every_byte + "\xff\xfe",
        std::string(200'000, 'x') + "\n" + std::string(1000, '\0'),
        "{\"action\":\"x\",\"emoji\":\"\xF0\x9F\x98\x80\"}",
    };
    for (const auto& body : bodies) {
        const std::string wire = encode(request(RemoteOp::post, body));
        const auto r = decode_request(wire);
        ASSERT_TRUE(r) << "body of " << body.size() << " bytes";
        EXPECT_EQ(r->body, body) << "body of " << body.size() << " bytes";
        EXPECT_EQ(r->connection_id, "L0SM9cOFvHcCIhw=");

        const std::string rwire = encode(BusReply{5, Kind::done, body});
        const auto rep = decode_reply(rwire);
        ASSERT_TRUE(rep);
        EXPECT_EQ(rep->body, body);
        EXPECT_EQ(rep->outcome, Kind::done);
        EXPECT_TRUE(points_into(rep->body, rwire));
    }
}

TEST(BusMessageRoundTrip, EveryOutcome) {
    for (const Kind k : {Kind::done, Kind::gone, Kind::queue_full, Kind::unavailable, Kind::timeout, Kind::limit,
                         Kind::not_member}) {
        // Named: the decoded view points into the encoded text.
        const std::string wire1 = encode(BusReply{123456789, k, "b"});
        const auto r = decode_reply(wire1);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->request_id, 123456789u);
        EXPECT_EQ(r->outcome, k);
        EXPECT_EQ(r->body, "b");
    }
}

TEST(BusMessageRoundTrip, ExtremeNumbers) {
    auto req = request(RemoteOp::get);
    req.request_id = std::numeric_limits<std::uint64_t>::max();
    req.deadline_ms = std::numeric_limits<std::int64_t>::max();
    // Named: the decoded view points into the encoded text.
    const std::string wire2 = encode(req);
    auto r = decode_request(wire2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->request_id, std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(r->deadline_ms, std::numeric_limits<std::int64_t>::max());

    req.request_id = 0;
    req.deadline_ms = 0;
    // Named: the decoded view points into the encoded text.
    const std::string wire3 = encode(req);
    r = decode_request(wire3);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->request_id, 0u);
    EXPECT_EQ(r->deadline_ms, 0);

    // Named: the decoded view points into the encoded text.
    const std::string wire4 = encode(BusReply{std::numeric_limits<std::uint64_t>::max(), Kind::gone, ""});
    const auto rep = decode_reply(wire4);
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->request_id, std::numeric_limits<std::uint64_t>::max());
}

TEST(BusMessageRoundTrip, NodeIdsOfTheirDocumentedAlphabet) {
    auto req = request(RemoteOp::post, "x");
    req.reply_node = "ip-10-0-3-17.eu-west-1.compute.internal#a_B-9zZ0";
    req.connection_id = "-_-_-_-_-_-_-_-=";
    // Named: the decoded view points into the encoded text.
    const std::string wire5 = encode(req);
    const auto r = decode_request(wire5);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->reply_node, req.reply_node);
    EXPECT_EQ(r->connection_id, req.connection_id);
}

// ---- Rejection -------------------------------------------------------------------------------

TEST(BusMessageReject, NotOurMagic) {
    for (const char* p : {
             "wsgate2 REQ POST 1 node 2 id\nbody",
             "WSGATE1 REQ POST 1 node 2 id\nbody",
             "wsgate REQ POST 1 node 2 id\nbody",
             "xwsgate1 REQ POST 1 node 2 id\nbody",
             " wsgate1 REQ POST 1 node 2 id\nbody",
             "\nwsgate1 REQ POST 1 node 2 id\nbody",
             "hello\n",
             "",
             "\n",
         }) {
        EXPECT_FALSE(decode_request(p)) << p;
    }
    for (const char* p : {"wsgate2 REP 1 done\n", "WSGATE1 REP 1 done\n", "", "\n", "REP 1 done\n"}) {
        EXPECT_FALSE(decode_reply(p)) << p;
    }
}

TEST(BusMessageReject, NoNewline) {
    EXPECT_FALSE(decode_request("wsgate1 REQ POST 1 node 2 id"));
    EXPECT_FALSE(decode_reply("wsgate1 REP 1 done"));
}

TEST(BusMessageReject, RequestFieldsMissingOrExtra) {
    for (const char* p : {
             "wsgate1\n",
             "wsgate1 REQ\n",
             "wsgate1 REQ POST\n",
             "wsgate1 REQ POST 1\n",
             "wsgate1 REQ POST 1 node\n",
             "wsgate1 REQ POST 1 node 2\n",            // no connection id
             "wsgate1 REQ POST 1 node 2 id extra\n",   // one field too many
             "wsgate1 REQ POST 1  2 id\n",             // empty reply node (two spaces)
             "wsgate1 REQ POST 1 node 2 \n",           // empty connection id
             "wsgate1  REQ POST 1 node 2 id\n",        // doubled separator
         }) {
        EXPECT_FALSE(decode_request(p)) << p;
    }
}

TEST(BusMessageReject, RequestBadOpOrNumbers) {
    for (const char* p : {
             "wsgate1 REQ PATCH 1 node 2 id\n",
             "wsgate1 REQ post 1 node 2 id\n",       // ops are upper case
             "wsgate1 REQ POST x node 2 id\n",       // request id not a number
             "wsgate1 REQ POST 1x node 2 id\n",
             "wsgate1 REQ POST -1 node 2 id\n",      // unsigned
             "wsgate1 REQ POST +1 node 2 id\n",
             "wsgate1 REQ POST 0x10 node 2 id\n",
             "wsgate1 REQ POST 1.5 node 2 id\n",
             "wsgate1 REQ POST 18446744073709551616 node 2 id\n",  // 2^64
             "wsgate1 REQ POST 1 node soon id\n",    // deadline not a number
             "wsgate1 REQ POST 1 node 2s id\n",
             "wsgate1 REQ POST 1 node 9223372036854775808 id\n",   // 2^63
             "wsgate1 REP 1 done\n",                 // a reply is not a request
         }) {
        EXPECT_FALSE(decode_request(p)) << p;
    }
}

TEST(BusMessageReject, ReplyBadFields) {
    for (const char* p : {
             "wsgate1 REP\n",
             "wsgate1 REP 1\n",
             "wsgate1 REP 1 done extra\n",
             "wsgate1 REP x done\n",
             "wsgate1 REP -1 done\n",
             "wsgate1 REP 1 exploded\n",
             "wsgate1 REP 1 DONE\n",
             "wsgate1 REP 1 \n",
             "wsgate1 REQ 1 done\n",
             "wsgate1 REQ POST 1 node 2 id\n",      // a request is not a reply
         }) {
        EXPECT_FALSE(decode_reply(p)) << p;
    }
}

TEST(BusMessageReject, GarbageNeverCrashes) {
    // Deterministic junk of every length up to 300 bytes, some starting with our magic word.
    std::uint32_t x = 12345;
    for (int n = 0; n < 300; ++n) {
        for (const std::string prefix : {"", "wsgate1 ", "wsgate1 REQ ", "wsgate1 REP "}) {
            std::string junk = prefix;
            for (int i = 0; i < n; ++i) {
                x = x * 1664525u + 1013904223u;
                junk.push_back(static_cast<char>(x >> 24));
            }
            (void)decode_request(junk);
            (void)decode_reply(junk);
        }
    }
    SUCCEED();
}

}  // namespace
