// echo: C connections, each keeping K stamped messages in flight through the gateway's echo route.
// Per connection a writer and a reader coroutine share one strand; the writer sends while fewer
// than K messages are outstanding, the reader takes each echo, records its round trip and wakes
// the writer.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <vector>

#include "modes.h"

namespace loadgen {

namespace {

using namespace std::chrono_literals;

struct EchoConn {
    explicit EchoConn(net::io_context& ioc) : ws(net::make_strand(ioc)), wake(ws.get_executor()) {}
    WsStream ws;
    beast::flat_buffer buffer;
    net::steady_timer wake;  // the writer waits here for a free slot
    std::string payload;
    unsigned inflight = 0;
    bool writer_done = false;
    bool failed = false;
};

net::awaitable<void> echo_writer(EchoConn& c, const Options& o, const Window& w) {
    while (!c.failed && Clock::now() < w.end) {
        if (c.inflight >= o.inflight) {
            c.wake.expires_at(w.end);
            (void)co_await c.wake.async_wait(use_tuple);
            continue;
        }
        write_stamp(c.payload, Clock::now());
        ++c.inflight;
        ++local_stats().sent_total;
        auto [ec, n] = co_await c.ws.async_write(net::buffer(c.payload), use_tuple);
        if (ec) {
            // After the reader saw the connection end, a failed write is only its echo.
            if (!c.failed) local_stats().count_error("write: " + ec.message());
            c.failed = true;
        }
    }
    // Let the last echoes come back (bounded), then close.
    const TimePoint drain = std::min(w.hard - 1s, w.end + 1s);
    while (!c.failed && c.inflight > 0 && Clock::now() < drain) {
        c.wake.expires_at(drain);
        (void)co_await c.wake.async_wait(use_tuple);
    }
    c.writer_done = true;
    co_await close_ws(c.ws, w.hard);
}

net::awaitable<void> echo_reader(EchoConn& c, const Window& w) {
    for (;;) {
        auto [ec, n] = co_await c.ws.async_read(c.buffer, use_tuple);
        if (ec) {
            if (!c.writer_done) {
                local_stats().count_error("read: " + describe_read_error(c.ws, ec));
                c.failed = true;
                c.wake.cancel();
            }
            co_return;
        }
        const TimePoint now = Clock::now();
        const auto data = c.buffer.cdata();
        const std::string_view msg(static_cast<const char*>(data.data()), data.size());
        const auto stamp = read_stamp(msg);
        Stats& st = local_stats();
        if (!stamp || msg.size() != c.payload.size()) {
            st.count_error("unexpected message (not an echo of ours)");
        } else {
            ++st.ok_total;
            if (w.contains(now)) {
                ++st.ok_window;
                st.latency.record(elapsed_ns(*stamp, now));
            }
            if (c.inflight > 0) --c.inflight;
        }
        c.buffer.consume(n);
        c.wake.cancel();
    }
}

}  // namespace

net::awaitable<void> run_echo(net::io_context& ioc, const Options& o, const Target& t,
                              RunInfo& info) {
    using namespace net::experimental::awaitable_operators;
    std::vector<std::shared_ptr<EchoConn>> conns(o.connections);
    const TimePoint setup_start = Clock::now();
    const TimePoint setup_deadline = setup_start + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(o.timeout));
    co_await for_each_parallel(
        ioc, conns.size(), o.handshakes, [&](std::size_t i) -> net::awaitable<void> {
            auto c = std::make_shared<EchoConn>(ioc);
            unsigned status = 0;
            const std::string err = co_await net::co_spawn(
                c->ws.get_executor(), open_ws(c->ws, t, setup_deadline, status),
                net::use_awaitable);
            if (!err.empty()) {
                local_stats().count_error("setup: " + err);
                co_return;
            }
            c->payload = make_payload(o.size);
            conns[i] = std::move(c);
        });
    std::erase(conns, nullptr);
    info.setup_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();
    info.connections_open = conns.size();
    if (conns.empty()) co_return;

    info.window = make_window(o, 3s);
    info.started = true;
    const Window& w = info.window;
    auto wg = std::make_shared<WaitGroup>(co_await net::this_coro::executor);
    wg->add(conns.size());
    for (auto& c : conns) {
        beast::get_lowest_layer(c->ws).expires_at(w.hard);  // the hard stop for every operation
        net::co_spawn(
            c->ws.get_executor(),
            [c, &o, &w, wg]() -> net::awaitable<void> {
                co_await (echo_writer(*c, o, w) && echo_reader(*c, w));
                wg->done();
            },
            net::detached);
    }
    co_await wg->wait();
}

}  // namespace loadgen
