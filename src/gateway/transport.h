#pragma once
// The byte stream of one client connection: plain TCP, or TLS over TCP, chosen at runtime by the
// listener that accepted it. Everything above (the HTTP session, GuardedStream, Beast's WebSocket
// stream) is written once against this type; only reads, writes, the TLS handshake and the
// WebSocket teardown look at which of the two it is.
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
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
    // Beast's get_lowest_layer() walks next_layer() down to this, for timeouts and closing.
    using next_layer_type = boost::beast::tcp_stream;
    using executor_type = next_layer_type::executor_type;

    // Plain TCP.
    explicit Transport(next_layer_type&& tcp) : plain_(std::move(tcp)) {}
    // TLS over `tcp`; async_handshake() must complete before anything else is read or written.
    Transport(next_layer_type&& tcp, boost::asio::ssl::context& tls)
        : tls_(std::in_place, std::move(tcp), tls) {}

    bool is_tls() const noexcept { return tls_.has_value(); }

    executor_type get_executor() noexcept { return next_layer().get_executor(); }
    next_layer_type& next_layer() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
    const next_layer_type& next_layer() const noexcept {
        return tls_ ? tls_->next_layer() : *plain_;
    }

    template <class MutableBufferSequence, class ReadHandler>
    auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
        return boost::asio::async_initiate<ReadHandler,
                                           void(boost::system::error_code, std::size_t)>(
            [this](auto h, const MutableBufferSequence& bufs) {
                if (tls_)
                    tls_->async_read_some(bufs, std::move(h));
                else
                    plain_->async_read_some(bufs, std::move(h));
            },
            handler, buffers);
    }

    template <class ConstBufferSequence, class WriteHandler>
    auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
        return boost::asio::async_initiate<WriteHandler,
                                           void(boost::system::error_code, std::size_t)>(
            [this](auto h, const ConstBufferSequence& bufs) {
                if (tls_)
                    tls_->async_write_some(bufs, std::move(h));
                else
                    plain_->async_write_some(bufs, std::move(h));
            },
            handler, buffers);
    }

    // The server side of the TLS handshake, bounded by the TCP stream's expiry. Call only on TLS.
    template <class Handler>
    auto async_handshake(Handler&& handler) {
        return tls_->async_handshake(boost::asio::ssl::stream_base::server,
                                     std::forward<Handler>(handler));
    }

    // Sends TLS's close_notify and waits for the peer's, bounded by the TCP stream's expiry. Call
    // only on TLS.
    template <class Handler>
    auto async_shutdown(Handler&& handler) {
        return tls_->async_shutdown(std::forward<Handler>(handler));
    }

    // Beast's closing handshake tears down the layer below through these (found by ADL): over TLS
    // a close_notify exchange, then the TCP teardown.
    friend void teardown(boost::beast::role_type role, Transport& t,
                         boost::system::error_code& ec) {
        using boost::beast::websocket::teardown;
        if (t.tls_)
            teardown(role, *t.tls_, ec);
        else
            teardown(role, t.plain_->socket(), ec);
    }
    template <class TeardownHandler>
    friend void async_teardown(boost::beast::role_type role, Transport& t,
                               TeardownHandler&& handler) {
        using boost::beast::websocket::async_teardown;
        if (t.tls_)
            async_teardown(role, *t.tls_, std::forward<TeardownHandler>(handler));
        else
            async_teardown(role, *t.plain_, std::forward<TeardownHandler>(handler));
    }

  private:
    // Exactly one is engaged.
    std::optional<next_layer_type> plain_;
    std::optional<boost::beast::ssl_stream<next_layer_type>> tls_;
};

// The polite end of a connection we close: over TLS, a close_notify (so the peer can tell the end
// from a truncation), waiting at most `grace` for the peer's; then no more sending on TCP.
boost::asio::awaitable<void> shutdown_send(Transport& t, std::chrono::milliseconds grace);

}  // namespace wsgate::gateway
