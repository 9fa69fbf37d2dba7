#pragma once
// What the management API may ask of connections held by other gateway nodes (cluster mode), and
// what the registry tells the cluster about local ones. The gateway and the management API see
// only these interfaces; src/cluster implements them on Redis.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>

namespace wsgate::gateway {

class Connection;

enum class RemoteOp { post, get, del };

struct RemoteOutcome {
    enum class Kind {
        done,         // POST queued, GET answered (body holds its JSON), DELETE started
        gone,         // no such connection anywhere, or it is closing
        queue_full,   // POST: the owner's send queue for it is full; not queued
        unavailable,  // Redis is unreachable: the owner cannot be found or reached
        timeout,      // the owner did not answer in time; it drops the request unperformed
    };
    Kind kind = Kind::gone;
    std::string body;
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
};

// Told about every connection the local registry gains and loses, from any thread.
class RegistryObserver {
  public:
    virtual ~RegistryObserver() = default;
    virtual void connection_added(Connection& c) = 0;
    virtual void connection_removed(std::string_view id) = 0;
};

}  // namespace wsgate::gateway
