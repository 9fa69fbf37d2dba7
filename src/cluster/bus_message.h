#pragma once
// The messages nodes exchange over Redis pub/sub when a management call reaches a node that does
// not hold the connection. One line of space-separated fields, then the raw body:
//   request: "wsgate1 REQ <op> <request-id> <reply-node> <deadline-ms> <connection-id>\n<body>"
//   reply:   "wsgate1 REP <request-id> <outcome>\n<body>"
// Every field is free of spaces and newlines by construction (ids, node ids, integers).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/remote_connections.h"

namespace wsgate::cluster {

struct BusRequest {
    gateway::RemoteOp op = gateway::RemoteOp::post;
    std::uint64_t request_id = 0;
    std::string reply_node;
    std::int64_t deadline_ms = 0;  // epoch ms; the owner drops a request it sees after this
    std::string connection_id;
    std::string_view body;  // into the decoded payload
};

struct BusReply {
    std::uint64_t request_id = 0;
    gateway::RemoteOutcome::Kind outcome = gateway::RemoteOutcome::Kind::gone;
    std::string_view body;
};

// A question for all nodes (published on one shared channel):
//   "wsgate1 FAN <op> <request-id> <reply-node> <deadline-ms> <stage> <channel|-> <exclude|->
//   <0|1>\n<body>" "wsgate1 FANREP <request-id> <delivered> <dropped>\n<ids, one per line>"
struct BusFanOut {
    gateway::FanOut::Op op = gateway::FanOut::Op::publish;
    std::uint64_t request_id = 0;
    std::string reply_node;
    std::int64_t deadline_ms = 0;
    std::string stage;
    std::string channel;
    std::string exclude;
    bool text = true;
    std::string_view body;
};

struct BusFanOutReply {
    std::uint64_t request_id = 0;
    std::size_t delivered = 0;
    std::size_t dropped = 0;
    std::string_view ids;  // newline-separated
};

std::string encode(const BusFanOut& r);
std::string encode(const BusFanOutReply& r);
std::optional<BusFanOut> decode_fan_out(std::string_view payload);
std::optional<BusFanOutReply> decode_fan_out_reply(std::string_view payload);

std::string encode(const BusRequest& r);
std::string encode(const BusReply& r);
// nullopt: not a message of ours (another version, or garbage on the channel).
std::optional<BusRequest> decode_request(std::string_view payload);
std::optional<BusReply> decode_reply(std::string_view payload);

}  // namespace wsgate::cluster
