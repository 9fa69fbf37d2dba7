#pragma once
// One WebSocket connection, from its upgrade request to its $disconnect. The session owns its
// stream; every handler runs on the stream's strand, so its state needs no locks. Other threads
// reach it only through the Connection interface, which posts onto that strand.
//
// Memory: an open connection is mostly idle, so while it waits for the client it holds no
// coroutine frame and no read buffer. run() is a coroutine only until the 101 is written; after
// that the read and write loops are completion handlers on the strand (each keeps the session
// alive through a shared_ptr), a message is read straight into the std::string it is dispatched
// as, and the end of the connection ($disconnect) runs in a coroutine of its own. An idle plain
// connection waits on its socket rather than inside a Beast read, and its idle timeout and maximum
// duration are an entry in one heap per io_context (docs/benchmarks.md, "Profile and changes").
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

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

    // Runs $connect and the upgrade; once the 101 is written, starts the message loop and
    // returns. The session then lives on in its handlers until its $disconnect has run.
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
        std::string owned;                          // a route response or error frame
        std::shared_ptr<const std::string> shared;  // a message sent through send() (maybe to many)
        bool text = true;
        bool close = false;  // the close frame: code and reason are server_close_
        const std::string& data() const { return shared ? *shared : owned; }
    };
    // FIFO of Outbound that allocates nothing until the first message and keeps its (small)
    // capacity for the next one.
    class SendQueue {
      public:
        bool empty() const { return head_ == items_.size(); }
        void push(Outbound m) { items_.push_back(std::move(m)); }
        Outbound pop();
        template <class F>
        void for_each(F f) const {
            for (std::size_t i = head_; i < items_.size(); ++i) f(items_[i]);
        }
        void clear();

      private:
        std::vector<Outbound> items_;
        std::size_t head_ = 0;
    };
    struct CloseStatus {
        int code;
        std::string reason;
    };
    // A message read while max_inflight_messages calls were in flight: it is dispatched, and
    // reading resumes, when one of them returns.
    struct Parked {
        const routing::Route* route;
        std::string body;
        bool binary;
        std::string request_id;
        std::string message_id;
    };

    boost::asio::awaitable<bool> check_api_key(const HttpRequest& req);
    boost::asio::awaitable<bool> check_iam(const HttpRequest& req);
    boost::asio::awaitable<bool> run_authorizer(const HttpRequest& req);
    boost::asio::awaitable<bool> run_connect_route(const HttpRequest& req, std::string& subprotocol);
    boost::asio::awaitable<void> reject_handshake(unsigned status, std::string_view body);

    // The read loop (strand only): wait for the next message without a buffer (on the socket
    // itself when nothing is buffered above it), read it into body_, dispatch it, repeat; a failed
    // read ends the connection (finish()).
    void read_next();
    void peek();
    void on_message_start(const boost::system::error_code& ec);
    void read_body();
    void on_body(const boost::system::error_code& ec, std::size_t n);
    void on_message();
    void end_reading(const boost::system::error_code& ec);
    // Routes one message; false when reading must wait (backpressure, or an HTTP_PROXY call that
    // answers before the next message is read), in which case whoever ends the wait reads on.
    bool dispatch(std::string body, bool binary);
    void echo(const routing::Route& route, std::string body, bool binary);
    void start_backend_call(const routing::Route* route, std::string body, bool binary, std::string request_id,
                            std::string message_id);
    void backend_call_done();
    void unpark();
    boost::asio::awaitable<void> call_route(const routing::Route* route, std::string body, bool binary,
                                            std::string request_id, std::string message_id);
    // After the read loop: the 1009 close after a broken limit, unregistering, $disconnect.
    static boost::asio::awaitable<void> finish(std::shared_ptr<WsSession> self, CloseStatus status);
    boost::asio::awaitable<void> send_close_after_limit();
    void arm_watchdog();
    void on_watchdog();
    void unregister();
    void release_live();
    void log_access(const AccessEntry& e) const;
    // The values an HTTP_PROXY request-parameter mapping can read for one event.
    integration::ParameterLookup parameter_lookup(std::string route_key, std::string event_type,
                                                  std::string request_id, std::string message_id,
                                                  integration::HeaderList headers = {},
                                                  integration::HeaderList query = {}) const;
    // By value, and callers pass a named object: GCC 12 destroys a braced temporary passed to a
    // co_awaited coroutine twice (found by the fault tests). A coroutine should own its arguments
    // anyway (C++ Core Guidelines CP.53).
    boost::asio::awaitable<void> run_disconnect_route(CloseStatus status);
    void enqueue(Outbound m);  // on the strand
    void drop_queue();         // on the strand
    // The write loop (strand only): exactly one write in flight, writing_ while it runs.
    void start_writer();
    void write_next();
    void write_chunk();
    void on_written(const boost::system::error_code& ec);
    void writer_stopped();
    // On the strand: a route response or error frame; `text` is its opcode. The overload without
    // it sends valid UTF-8 as text and anything else as binary.
    void send_local(std::string payload, bool text);
    void send_local(std::string payload);
    CloseStatus classify(const boost::system::error_code& ec) const;
    void touch();

    GatewayContext& ctx_;
    // No permessage-deflate: never negotiated (as on AWS), so the stream need not carry its state.
    boost::beast::websocket::stream<GuardedStream, false> ws_;
    integration::ConnectionContext context_;  // immutable once run() starts the handshake
    std::string host_header_;
    SystemTime connected_at_;
    std::atomic<std::int64_t> last_active_ms_{0};

    // Send queue: bounded in bytes; exactly one write in flight (writing_), the message being
    // written is out_ (the queue no longer holds it).
    SendQueue queue_;
    Outbound out_;
    std::size_t out_offset_ = 0;  // fragmented writes: bytes of out_ already written
    std::atomic<std::size_t> queued_bytes_{0};

    // The message being read: body_ holds body_filled_ bytes (and room for the read in flight).
    std::string body_;
    std::size_t body_filled_ = 0;
    std::uint64_t messages_read_ = 0;  // data messages Beast has returned (for GuardedStream::drained)

    std::atomic<bool> open_{false};     // registered and accepting sends
    std::atomic<bool> closing_{false};  // a server close was requested
    std::optional<CloseStatus> server_close_;  // strand only
    // Cluster mode: another node already ran $disconnect for this connection (it declared this node
    // dead while it was cut off from Redis); the session must not run it a second time.
    std::atomic<bool> disconnect_delivered_elsewhere_{false};

    std::size_t inflight_ = 0;  // integration calls in flight (strand only)
    std::unique_ptr<Parked> parked_;  // strand only; set while reading waits for backpressure
    // The idle timeout and maximum duration: one timer per io_context for all sessions (see
    // ws_session.cpp), set when the watchdog is first armed; the slot is guarded by its mutex.
    class Watchdogs;
    static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
    std::shared_ptr<Watchdogs> watchdogs_;
    std::size_t watchdog_slot_ = kNoSlot;
    // Created by send_close_after_limit() if it has to wait; cancelled when the write loop stops.
    std::unique_ptr<boost::asio::steady_timer> writer_idle_;
    const StageState* stage_ = nullptr;  // this connection's stage: metrics and throttles
    // $connect's answer, kept until the connection is registered, for its channel headers.
    std::unique_ptr<integration::ProxyResponse> connect_channels_;

    bool writing_ = false;
    bool close_sent_ = false;  // strand only: no data frame may follow a close frame
    bool accepting_ = false;   // strand only: the 101 is being written; queue but do not write
    bool registered_ = false;
    bool counted_open_ = false;        // included in the connections_open gauge
    bool connect_completed_ = false;   // $disconnect runs only after a successful $connect
    bool aborted_ = false;             // strand only: abort() dropped the socket
    bool live_ = true;                 // still counted in ctx_.live_sessions
};

}  // namespace wsgate::gateway
