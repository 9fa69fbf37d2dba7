#pragma once
// The byte stream of one client connection: plain TCP, or TLS over TCP, chosen at runtime by the
// listener that accepted it. Everything above (the HTTP session, GuardedStream, Beast's WebSocket
// stream) is written once against this type; only reads, writes, the TLS handshake and the
// WebSocket teardown look at which of the two it is.
//
// Transport is the lowest layer Beast sees (beast::get_lowest_layer() stops here): timeouts,
// close() and socket() are its own. While the HTTP request is read (and for the whole life of a
// TLS connection) the socket lives in a beast::tcp_stream, whose expires_after() bounds every
// read and write. An open plain WebSocket connection needs none of that (its limits are timers of
// the session's own), so release_timeouts() keeps only the bare socket: no tcp_stream state, three
// timers fewer per connection, and one layer less in every pending read.
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <chrono>
#include <optional>
#include <utility>

namespace wsgate::gateway {

class Transport {
  public:
    using executor_type = boost::beast::tcp_stream::executor_type;

    // Plain TCP.
    explicit Transport(boost::beast::tcp_stream&& tcp) : ex_(tcp.get_executor()), timed_(std::move(tcp)) {}
    // TLS over `tcp`; async_handshake() must complete before anything else is read or written.
    Transport(boost::beast::tcp_stream&& tcp, boost::asio::ssl::context& tls)
        : ex_(tcp.get_executor()), tls_(std::in_place, std::move(tcp), tls) {}

    // A moved-from Transport holds nothing (and frees what it held at once).
    Transport(Transport&& o) noexcept
        : ex_(o.ex_), timed_(std::move(o.timed_)), bare_(std::move(o.bare_)), tls_(std::move(o.tls_)) {
        o.timed_.reset();
        o.bare_.reset();
        o.tls_.reset();
    }
    Transport& operator=(Transport&&) = delete;

    bool is_tls() const noexcept { return tls_.has_value(); }

    // Plain connections only (a no-op on TLS): keep the bare socket and drop the tcp_stream with
    // its timeouts. Nothing may be in flight; expires_after() is unavailable afterwards.
    void release_timeouts() {
        if (!timed_) return;
        bare_.emplace(timed_->release_socket());
        timed_.reset();
    }
    bool has_timeouts() const noexcept { return !bare_; }

    // Safe from any thread: the management API posts to a session's executor while the session's
    // own strand may be swapping timed_ for bare_ (release_timeouts() right after the 101), so the
    // executor must not be read through those optionals.
    executor_type get_executor() const noexcept { return ex_; }
    boost::asio::ip::tcp::socket& socket() noexcept {
        if (bare_) return *bare_;
        return tls_ ? tls_->next_layer().socket() : timed_->socket();
    }

    // Bound the reads and writes from now on (see beast::tcp_stream); only while has_timeouts().
    template <class Duration>
    void expires_after(Duration d) {
        timed_stream().expires_after(d);
    }
    void expires_never() {
        if (has_timeouts()) timed_stream().expires_never();
    }
    // Closes the socket; pending operations complete with an error.
    void close() {
        if (bare_) {
            boost::system::error_code ignored;
            bare_->close(ignored);
        } else {
            timed_stream().close();
        }
    }
    // What Beast calls (through beast::close_socket()) when its own WebSocket timeouts fire.
    friend void beast_close_socket(Transport& t) { t.close(); }

    template <class MutableBufferSequence, class ReadHandler>
    auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
        return boost::asio::async_initiate<ReadHandler, void(boost::system::error_code, std::size_t)>(
            [this](auto h, const MutableBufferSequence& bufs) {
                if (bare_)
                    bare_->async_read_some(bufs, std::move(h));
                else if (tls_)
                    tls_->async_read_some(bufs, std::move(h));
                else
                    timed_->async_read_some(bufs, std::move(h));
            },
            handler, buffers);
    }

    template <class ConstBufferSequence, class WriteHandler>
    auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
        return boost::asio::async_initiate<WriteHandler, void(boost::system::error_code, std::size_t)>(
            [this](auto h, const ConstBufferSequence& bufs) {
                if (bare_)
                    bare_->async_write_some(bufs, std::move(h));
                else if (tls_)
                    tls_->async_write_some(bufs, std::move(h));
                else
                    timed_->async_write_some(bufs, std::move(h));
            },
            handler, buffers);
    }

    // The server side of the TLS handshake, bounded by the TCP stream's expiry. Call only on TLS.
    template <class Handler>
    auto async_handshake(Handler&& handler) {
        return tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
    }

    // Sends TLS's close_notify and waits for the peer's, bounded by the TCP stream's expiry. Call
    // only on TLS.
    template <class Handler>
    auto async_shutdown(Handler&& handler) {
        return tls_->async_shutdown(std::forward<Handler>(handler));
    }

    // Beast's closing handshake tears down the layer below through these (found by ADL): over TLS
    // a close_notify exchange, then the TCP teardown.
    friend void teardown(boost::beast::role_type role, Transport& t, boost::system::error_code& ec) {
        using boost::beast::websocket::teardown;
        if (t.tls_)
            teardown(role, *t.tls_, ec);
        else
            teardown(role, t.socket(), ec);
    }
    template <class TeardownHandler>
    friend void async_teardown(boost::beast::role_type role, Transport& t, TeardownHandler&& handler) {
        using boost::beast::websocket::async_teardown;
        if (t.tls_)
            async_teardown(role, *t.tls_, std::forward<TeardownHandler>(handler));
        else
            async_teardown(role, t.socket(), std::forward<TeardownHandler>(handler));
    }

  private:
    boost::beast::tcp_stream& timed_stream() noexcept { return tls_ ? tls_->next_layer() : *timed_; }

    executor_type ex_;  // the socket's (a strand), fixed for the life of the connection
    // Exactly one is engaged: timed_ (plain, with timeouts), bare_ (plain, after
    // release_timeouts()) or tls_.
    std::optional<boost::beast::tcp_stream> timed_;
    std::optional<boost::asio::ip::tcp::socket> bare_;
    std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

// The polite end of a connection we close: over TLS, a close_notify (so the peer can tell the end
// from a truncation), waiting at most `grace` for the peer's; then no more sending on TCP.
boost::asio::awaitable<void> shutdown_send(Transport& t, std::chrono::milliseconds grace);

}  // namespace wsgate::gateway
