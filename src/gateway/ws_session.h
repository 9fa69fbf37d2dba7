#pragma once
// One WebSocket connection, from its upgrade request to its $disconnect. The session owns its
// stream; every handler runs on the stream's strand, so its state needs no locks. Other threads
// reach it only through the Connection interface, which posts onto that strand.
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>

#include "gateway/access_entry.h"
#include "gateway/connection.h"
#include "gateway/gateway_context.h"
#include "gateway/guarded_stream.h"
#include "integration/events.h"
#include "integration/integration.h"

namespace wsgate::gateway {

class WsSession final : public Connection, public std::enable_shared_from_this<WsSession> {
  public:
    WsSession(GatewayContext& ctx, Transport stream, std::string stage,
              boost::asio::ip::tcp::endpoint peer);
    ~WsSession() override;

    // Runs $connect, the upgrade, the message loop and $disconnect. Completes when all is done.
    boost::asio::awaitable<void> run(HttpRequest req);

    // Connection (any thread)
    const std::string& id() const override { return context_.connection_id; }
    ConnectionInfo info() const override;
    SendResult send(std::shared_ptr<const std::string> payload, bool text) override;
    bool close(int code, std::string reason) override;
    void abort() override;
    const integration::ConnectionContext& event_context() const override { return context_; }
    const std::string& host_header() const override { return host_header_; }
    void close_after_remote_disconnect() override;

  private:
    struct Outbound {
        std::shared_ptr<const std::string> payload;  // null: a close frame
        bool text = true;
        int close_code = 0;
        std::string close_reason;
    };
    struct CloseStatus {
        int code;
        std::string reason;
    };

    boost::asio::awaitable<bool> check_api_key(const HttpRequest& req);
    boost::asio::awaitable<bool> check_iam(const HttpRequest& req);
    boost::asio::awaitable<bool> run_authorizer(const HttpRequest& req);
    boost::asio::awaitable<bool> run_connect_route(const HttpRequest& req, std::string& subprotocol);
    boost::asio::awaitable<void> reject_handshake(unsigned status, std::string_view body);
    boost::asio::awaitable<CloseStatus> read_loop();
    boost::asio::awaitable<void> dispatch(std::string body, bool binary);
    boost::asio::awaitable<void> call_route(const routing::Route* route, std::string body, bool binary,
                                            std::string request_id, std::string message_id);
    boost::asio::awaitable<void> send_close_after_limit();
    void arm_watchdog();
    void on_watchdog();
    void unregister();
    void log_access(const AccessEntry& e) const;
    // The values an HTTP_PROXY request-parameter mapping can read for one event.
    integration::ParameterLookup parameter_lookup(std::string route_key, std::string event_type,
                                                  std::string request_id, std::string message_id,
                                                  integration::HeaderList headers = {},
                                                  integration::HeaderList query = {}) const;
    boost::asio::awaitable<void> write_loop();
    // By value, and callers pass a named object: GCC 12 destroys a braced temporary passed to a
    // co_awaited coroutine twice (found by the fault tests). A coroutine should own its arguments
    // anyway (C++ Core Guidelines CP.53).
    boost::asio::awaitable<void> run_disconnect_route(CloseStatus status);
    void enqueue(Outbound m);  // on the strand
    void drop_queue();         // on the strand
    void start_writer();       // on the strand
    void send_local(std::string payload);  // on the strand: a route response or error frame
    CloseStatus classify(const boost::system::error_code& ec) const;
    void touch();

    GatewayContext& ctx_;
    boost::beast::websocket::stream<GuardedStream> ws_;
    integration::ConnectionContext context_;  // immutable once run() starts the handshake
    std::string host_header_;
    SystemTime connected_at_;
    std::atomic<std::int64_t> last_active_ms_{0};

    // Send queue: bounded in bytes; exactly one write in flight.
    std::deque<Outbound> queue_;
    std::atomic<std::size_t> queued_bytes_{0};
    bool writing_ = false;
    bool close_sent_ = false;
    bool accepting_ = false;   // strand only: the 101 is being written; queue but do not write  // strand only: no data frame may follow a close frame

    std::atomic<bool> open_{false};     // registered and accepting sends
    std::atomic<bool> closing_{false};  // a server close was requested
    std::optional<CloseStatus> server_close_;  // strand only

    std::size_t inflight_ = 0;  // integration calls in flight (strand only)
    boost::asio::steady_timer inflight_wake_;
    boost::asio::steady_timer watchdog_;  // idle timeout and maximum duration
    boost::asio::steady_timer writer_idle_;  // cancelled when the write loop stops
    bool registered_ = false;
    bool counted_open_ = false;        // included in the connections_open gauge
    const StageState* stage_ = nullptr;  // this connection's stage: metrics and throttles
    bool connect_completed_ = false;
    // Cluster mode: another node already ran $disconnect for this connection (it declared this node
    // dead while it was cut off from Redis); the session must not run it a second time.
    std::atomic<bool> disconnect_delivered_elsewhere_{false};
    // $connect's answer, kept until the connection is registered, for its channel headers.
    std::optional<integration::ProxyResponse> connect_channels_;
    bool aborted_ = false;  // strand only: abort() dropped the socket  // $disconnect runs only after a successful $connect
};

}  // namespace wsgate::gateway
