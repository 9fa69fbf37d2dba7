// connect: handshakes as fast as possible, at most H in flight (one worker coroutine per slot).
// Each new connection is closed at once by a detached coroutine, so closing does not hold a
// handshake slot; with --hold they are all kept open until the duration is over.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <vector>

#include "modes.h"

namespace loadgen {

namespace {

using namespace std::chrono_literals;

net::awaitable<void> connect_worker(net::io_context& ioc, const Options& o, const Target& t,
                                    RunInfo& info,
                                    std::shared_ptr<std::atomic<std::uint64_t>> attempts) {
    const Window& w = info.window;
    const auto timeout =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout));
    std::vector<std::shared_ptr<WsStream>> held;
    while (Clock::now() < w.end) {
        if (o.total != 0 && attempts->fetch_add(1) >= o.total) break;
        // Each connection gets its own strand, so that its close can run beside the next handshake.
        auto ws = std::make_shared<WsStream>(net::make_strand(ioc));
        ++local_stats().sent_total;
        const TimePoint t0 = Clock::now();
        unsigned status = 0;
        const std::string err = co_await net::co_spawn(
            ws->get_executor(), open_ws(*ws, t, std::min(t0 + timeout, w.hard), status),
            net::use_awaitable);
        const TimePoint t1 = Clock::now();
        std::int64_t done = static_cast<std::int64_t>(to_ns(t1));
        std::int64_t prev = info.last_done_ns.load();
        while (prev < done && !info.last_done_ns.compare_exchange_weak(prev, done)) {
        }
        Stats& st = local_stats();
        if (status != 0) st.count_status(std::to_string(status));
        if (!err.empty()) {
            st.count_error(err);
            // Refused / out of ports: fail fast but do not spin.
            if (err.starts_with("connect:")) co_await sleep_until(Clock::now() + 1ms);
            continue;
        }
        ++st.ok_total;
        if (w.contains(t1)) {
            ++st.ok_window;
            st.latency.record(elapsed_ns(t0, t1));
        }
        if (o.hold) {
            held.push_back(std::move(ws));
            continue;
        }
        net::co_spawn(
            ws->get_executor(),
            [ws, hard = w.hard]() -> net::awaitable<void> {
                co_await close_ws(*ws, std::min(Clock::now() + 2s, hard));
            },
            net::detached);
    }
    // Held connections stay open for the whole duration (with -n, after the last attempt too).
    if (!held.empty()) co_await sleep_until(w.end);
    for (auto& ws : held) {
        net::co_spawn(
            ws->get_executor(),
            [ws, hard = w.hard]() -> net::awaitable<void> { co_await close_ws(*ws, hard); },
            net::detached);
    }
}

}  // namespace

net::awaitable<void> run_connect(net::io_context& ioc, const Options& o, const Target& t,
                                 RunInfo& info) {
    info.window = make_window(o, 3s);
    info.started = true;
    auto attempts = std::make_shared<std::atomic<std::uint64_t>>(0);
    co_await for_each_parallel(ioc, o.handshakes, o.handshakes,
                               [&](std::size_t) -> net::awaitable<void> {
                                   co_await connect_worker(ioc, o, t, info, attempts);
                               });
}

}  // namespace loadgen
