#pragma once
// The layer under Beast's websocket::stream: a Transport (TCP or TLS) whose reads pass through a
// FrameScanner, which sees the WebSocket bytes after decryption.
// When a client frame breaks the frame or message limit, the read that would deliver its header
// fails with websocket::error::message_too_big instead, before Beast buffers any of the payload;
// the session then sends the 1009 close itself (Beast sends none for a failed read).
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <memory>
#include <utility>

#include "gateway/frame_scanner.h"
#include "gateway/transport.h"

namespace wsgate::gateway {

class GuardedStream {
  public:
    using next_layer_type = Transport;
    using executor_type = next_layer_type::executor_type;

    explicit GuardedStream(next_layer_type&& s) : next_(std::move(s)), scanner_(SIZE_MAX, SIZE_MAX) {}

    void set_limits(std::size_t max_frame, std::size_t max_message) { scanner_ = FrameScanner(max_frame, max_message); }
    bool limit_exceeded() const { return tripped_; }
    // True when everything read so far ends with the end of message number `messages` (counting
    // every data message since the handshake): once the reader above has returned that many
    // messages it holds no unread byte, and the next one can only come from the socket. False
    // when in doubt (a limit tripped).
    bool drained(std::uint64_t messages) const {
        return !tripped_ && scanner_.messages() == messages && scanner_.message_end() == scanner_.fed();
    }

    executor_type get_executor() noexcept { return next_.get_executor(); }
    next_layer_type& next_layer() noexcept { return next_; }
    const next_layer_type& next_layer() const noexcept { return next_; }

    template <class MutableBufferSequence, class ReadHandler>
    auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
        return boost::asio::async_initiate<ReadHandler, void(boost::system::error_code, std::size_t)>(
            [this](auto h, const MutableBufferSequence& bufs) {
                if (tripped_) {
                    auto ex = boost::asio::get_associated_executor(h, get_executor());
                    boost::asio::post(ex, [h = std::move(h)]() mutable {
                        std::move(h)(boost::beast::websocket::error::message_too_big, 0);
                    });
                    return;
                }
                next_.async_read_some(bufs, ScanOp<MutableBufferSequence, decltype(h)>{this, bufs, std::move(h)});
            },
            handler, buffers);
    }

    // The completion of a read from the transport: the bytes go through the scanner before the
    // reader (Beast) sees them. Every association of the reader's handler (executor, allocator,
    // cancellation slot) carries over (see the associator below), so this adds no state but the
    // buffers; it is part of every pending read of every connection.
    template <class MutableBufferSequence, class Handler>
    struct ScanOp {
        GuardedStream* self;
        MutableBufferSequence bufs;
        Handler h;

        void operator()(boost::system::error_code ec, std::size_t n) {
            if (!ec) n = self->inspect(bufs, n, ec);
            std::move(h)(ec, n);
        }
        friend bool asio_handler_is_continuation(ScanOp* op) {
            using boost::asio::asio_handler_is_continuation;
            return asio_handler_is_continuation(std::addressof(op->h));
        }
    };

    template <class ConstBufferSequence, class WriteHandler>
    auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
        return next_.async_write_some(buffers, std::forward<WriteHandler>(handler));
    }

    // Beast's closing handshake tears down the layer below through these (found by ADL).
    friend void teardown(boost::beast::role_type role, GuardedStream& s, boost::system::error_code& ec) {
        teardown(role, s.next_, ec);
    }
    template <class TeardownHandler>
    friend void async_teardown(boost::beast::role_type role, GuardedStream& s, TeardownHandler&& handler) {
        async_teardown(role, s.next_, std::forward<TeardownHandler>(handler));
    }

  private:
    template <class MutableBufferSequence>
    std::size_t inspect(const MutableBufferSequence& bufs, std::size_t n, boost::system::error_code& ec) {
        std::size_t passed = 0;
        for (auto it = boost::asio::buffer_sequence_begin(bufs); it != boost::asio::buffer_sequence_end(bufs) && n > 0;
             ++it) {
            const boost::asio::mutable_buffer b = *it;
            const std::size_t len = std::min(b.size(), n);
            const auto v = scanner_.feed(static_cast<const std::uint8_t*>(b.data()), len);
            passed += v.pass;
            n -= len;
            if (v.too_big) {
                tripped_ = true;
                // Bytes before the offending header go up now; the next read reports the error.
                if (passed == 0) ec = boost::beast::websocket::error::message_too_big;
                return passed;
            }
        }
        return passed;
    }

    next_layer_type next_;
    FrameScanner scanner_;
    bool tripped_ = false;
};

}  // namespace wsgate::gateway

namespace boost::asio {
template <template <typename, typename> class Associator, class Buffers, class Handler, class DefaultCandidate>
struct associator<Associator, wsgate::gateway::GuardedStream::ScanOp<Buffers, Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const wsgate::gateway::GuardedStream::ScanOp<Buffers, Handler>& op) noexcept {
        return Associator<Handler, DefaultCandidate>::get(op.h);
    }
    static auto get(const wsgate::gateway::GuardedStream::ScanOp<Buffers, Handler>& op,
                    const DefaultCandidate& c) noexcept -> decltype(Associator<Handler, DefaultCandidate>::get(op.h, c)) {
        return Associator<Handler, DefaultCandidate>::get(op.h, c);
    }
};
}  // namespace boost::asio
