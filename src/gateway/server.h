#pragma once
// Owns the I/O threads, the listener and the shared context; runs until SIGINT/SIGTERM, then
// drains: stop accepting, close every connection with 1001, let each $disconnect run, exit.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <memory>
#include <optional>

#include "channels/channel_index.h"
#include "config/settings.h"
#include "gateway/connection_registry.h"
#include "gateway/gateway_context.h"
#include "observability/access_log.h"
#include "observability/metrics.h"

namespace boost::asio::ssl {
class context;
}

namespace wsgate::integration {
class Integration;
}

namespace wsgate::gateway {

class Server {
  public:
    // Builds integrations and routes and binds the listening socket; throws std::runtime_error
    // (startup only) if the address cannot be bound or the configuration cannot be realised.
    explicit Server(const config::Settings& settings);
    ~Server();

    LocalRegistry& registry() { return registry_; }
    boost::asio::any_io_executor executor() { return ioc_.get_executor(); }
    GatewayContext& context() { return *ctx_; }
    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    // The admin listener's address, if one is configured.
    std::optional<boost::asio::ip::tcp::endpoint> admin_endpoint() const;
    // The TLS listener's address, if TLS is configured.
    std::optional<boost::asio::ip::tcp::endpoint> tls_endpoint() const;
    void set_http_handler(HttpHandler* h) { ctx_->http_handler = h; }

    // Blocks until shutdown has completed.
    void run();
    // Begins the drain; safe from any thread (the signal handler calls it).
    void stop();

  private:
    // The executor an accepted connection's handlers run on: its own strand, or with one I/O
    // thread the io_context itself (one thread already runs every handler in order, and a strand
    // would only add a lock, a queue and executor copies to each operation).
    boost::asio::any_io_executor connection_executor();
    // `tls`: the context for connections from this acceptor, or null for plain ones.
    boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor,
                                             boost::asio::ssl::context* tls);
    void open_tls_listener();
    boost::asio::awaitable<void> admin_accept_loop();
    void build_stages();
    void open_access_log();
    boost::asio::awaitable<void> drain();

    const config::Settings& settings_;
    unsigned threads_;
    boost::asio::io_context ioc_;
    std::map<std::string, std::shared_ptr<integration::Integration>> integrations_;
    LocalRegistry registry_;
    observability::Registry metrics_;
    observability::NodeMetrics node_metrics_{metrics_};
    std::vector<std::unique_ptr<observability::GatewayMetrics>> stage_metrics_;
    std::unique_ptr<observability::AccessLogger> access_log_;
    std::unique_ptr<channels::ChannelIndex> channels_;
    std::unique_ptr<GatewayContext> ctx_;
    // The accept loops and the drain that closes the acceptors run on this strand: closing an
    // acceptor while another thread starts an accept on it is a data race (a SIGTERM right after
    // startup, before the first accept began, could crash the process).
    boost::asio::strand<boost::asio::io_context::executor_type> acceptor_strand_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::ip::tcp::acceptor admin_acceptor_;
    std::unique_ptr<boost::asio::ssl::context> tls_context_;  // null: TLS is off
    boost::asio::ip::tcp::acceptor tls_acceptor_;
    boost::asio::signal_set signals_;
    std::atomic<bool> stopping_{false};
};

}  // namespace wsgate::gateway
