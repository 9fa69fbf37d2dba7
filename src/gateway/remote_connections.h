#pragma once
// What the management API may ask of connections held by other gateway nodes (cluster mode), and
// what the registry tells the cluster about local ones. The gateway and the management API see
// only these interfaces; src/cluster implements them on Redis.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wsgate::gateway {

class Connection;

// join/leave: the broadcast extension's channel membership; the body is the channel name.
enum class RemoteOp { post, get, del, join, leave };

struct RemoteOutcome {
    enum class Kind {
        done,         // POST queued, GET answered (body holds its JSON), DELETE started
        gone,         // no such connection anywhere, or it is closing
        queue_full,   // POST: the owner's send queue for it is full; not queued
        unavailable,  // Redis is unreachable: the owner cannot be found or reached
        timeout,      // the owner did not answer in time; it drops the request unperformed
        limit,        // join: a channel limit refused it
        not_member,   // leave: the connection was not in the channel
    };
    Kind kind = Kind::gone;
    std::string body;
};

// A question for every node at once (the broadcast extension): publish to a channel's members,
// or list a channel's members or a stage's connections.
struct FanOut {
    enum class Op { publish, members, connections };
    Op op = Op::publish;
    std::string stage;
    std::string channel;  // publish, members
    std::string exclude;  // publish: a connection id to skip
    std::shared_ptr<const std::string> body;  // publish
    bool text = true;
};

struct FanOutResult {
    std::size_t delivered = 0;  // publish
    std::size_t dropped = 0;    // publish: members whose send queue was full
    std::vector<std::string> ids;  // members, connections
    std::size_t nodes = 0;           // other nodes that received the question
    std::size_t nodes_answered = 0;  // ... and answered in time
};

class RemoteConnections {
  public:
    virtual ~RemoteConnections() = default;
    // Performs `op` on a connection this node does not hold. POST: `body` is the message.
    virtual boost::asio::awaitable<RemoteOutcome> forward(
        RemoteOp op, std::string connection_id, std::shared_ptr<const std::string> body) = 0;
    // Called once at the end of the drain, after every local $disconnect: leaves the cluster
    // cleanly (no one will have to reap this node).
    virtual boost::asio::awaitable<void> leave() = 0;
    // Asks every other node; the caller adds this node's own part.
    virtual boost::asio::awaitable<FanOutResult> fan_out(FanOut q) = 0;
};

// Told about every connection the local registry gains and loses, from any thread.
class RegistryObserver {
  public:
    virtual ~RegistryObserver() = default;
    virtual void connection_added(Connection& c) = 0;
    virtual void connection_removed(std::string_view id) = 0;
};

}  // namespace wsgate::gateway
