#pragma once
// Cluster mode: this gateway node's membership in a cluster that shares one Redis.
//
//  - Every local connection is registered in Redis (who holds it, and what its DISCONNECT event
//    needs), and removed when it ends.
//  - A management call for a connection held by another node is forwarded to that node over
//    Redis pub/sub; the owner performs it and publishes the outcome back.
//  - Each node refreshes a liveness key; a node whose key expires is dead, and one surviving node
//    runs $disconnect for each of its connections, exactly once.
//
// docs/clustering.md describes the keys, channels and timings.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cluster/bus_message.h"
#include "cluster/redis_client.h"
#include "config/settings.h"
#include "gateway/gateway_context.h"
#include "gateway/remote_connections.h"

namespace wsgate::cluster {

class ClusterNode final : public gateway::RemoteConnections, public gateway::RegistryObserver {
  public:
    ClusterNode(gateway::GatewayContext& ctx, const boost::asio::any_io_executor& ex);
    ~ClusterNode() override;

    // Connects to Redis (retrying in the background) and starts the heartbeat. Call once, before
    // the first connection is accepted.
    void start();
    // "<node_id>#<incarnation>": unique per process, so a restarted node never inherits the
    // registrations of the process it replaced.
    const std::string& node_id() const { return node_id_; }

    // RemoteConnections
    boost::asio::awaitable<gateway::RemoteOutcome> forward(
        gateway::RemoteOp op, std::string connection_id,
        std::shared_ptr<const std::string> body) override;
    boost::asio::awaitable<void> leave() override;
    boost::asio::awaitable<gateway::FanOutResult> fan_out(gateway::FanOut q) override;

    // RegistryObserver
    void connection_added(gateway::Connection& c) override;
    void connection_removed(std::string_view id) override;

  private:
    struct PendingForward {
        explicit PendingForward(const boost::asio::any_io_executor& ex) : timer(ex) {}
        boost::asio::steady_timer timer;  // the caller's executor; cancelled by the reply
        std::optional<gateway::RemoteOutcome> outcome;  // guarded by pending_mu_
    };

    std::string key(std::string_view suffix) const { return prefix_ + std::string(suffix); }
    void register_connection(gateway::Connection& c);  // under registration_mu_
    void send_unregister(std::string id);              // under registration_mu_
    boost::asio::awaitable<void> rejoin();
    boost::asio::awaitable<void> heartbeat_loop();
    boost::asio::awaitable<void> reap(std::string dead_node);
    void on_bus_message(std::string_view channel, std::string_view payload);
    void handle_request(const BusRequest& r);
    void handle_reply(const BusReply& r);
    void handle_fan_out(const BusFanOut& r);
    void handle_fan_out_reply(const BusFanOutReply& r);

    gateway::GatewayContext& ctx_;
    const config::ClusterSettings& settings_;
    boost::asio::any_io_executor ex_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;  // heartbeat and rejoin
    std::string prefix_;
    std::string node_id_;
    std::string rpc_channel_;
    std::string reply_channel_;
    std::string fan_out_channel_;  // shared by every node
    std::shared_ptr<RedisClient> commands_;
    std::shared_ptr<RedisClient> bus_;  // subscribed to this node's two channels

    // Registration commands and the re-registration after a reconnect must reach Redis in the
    // order the registry saw adds and removes; this lock makes "look up, then queue" atomic.
    std::mutex registration_mu_;
    std::unordered_set<std::string> unregister_pending_;  // removals Redis has not applied yet

    std::mutex pending_mu_;
    std::unordered_map<std::uint64_t, std::shared_ptr<PendingForward>> pending_;
    struct PendingFanOut {
        explicit PendingFanOut(const boost::asio::any_io_executor& ex) : timer(ex) {}
        boost::asio::steady_timer timer;
        std::size_t expected = SIZE_MAX;  // known once PUBLISH answers; guarded by pending_mu_
        gateway::FanOutResult result;     // guarded by pending_mu_
    };
    std::unordered_map<std::uint64_t, std::shared_ptr<PendingFanOut>> pending_fan_outs_;
    std::atomic<std::uint64_t> next_request_{1};
    std::atomic<bool> leaving_{false};
};

}  // namespace wsgate::cluster
