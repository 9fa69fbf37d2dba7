#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>

#include "modes.h"

namespace loadgen {

net::awaitable<void> for_each_parallel(net::io_context& ioc, std::size_t n, unsigned parallel,
                                       std::function<net::awaitable<void>(std::size_t)> fn) {
    if (n == 0) co_return;
    auto wg = std::make_shared<WaitGroup>(co_await net::this_coro::executor);
    auto next = std::make_shared<std::atomic<std::size_t>>(0);
    auto shared_fn = std::make_shared<decltype(fn)>(std::move(fn));
    const std::size_t workers = std::min<std::size_t>(parallel, n);
    wg->add(workers);
    for (std::size_t w = 0; w < workers; ++w) {
        net::co_spawn(
            net::make_strand(ioc),
            [wg, next, shared_fn, n]() -> net::awaitable<void> {
                for (std::size_t i = next->fetch_add(1); i < n; i = next->fetch_add(1)) {
                    try {
                        co_await (*shared_fn)(i);
                    } catch (const std::exception& e) {
                        local_stats().count_error(std::string("exception: ") + e.what());
                    }
                }
                wg->done();
            },
            net::detached);
    }
    co_await wg->wait();
}

Window make_window(const Options& o, std::chrono::milliseconds tail) {
    using std::chrono::duration_cast;
    using Sec = std::chrono::duration<double>;
    Window w;
    w.start = Clock::now();
    w.measure = w.start + duration_cast<Clock::duration>(Sec(o.warmup));
    w.end = w.measure + duration_cast<Clock::duration>(Sec(o.duration));
    w.hard = w.end + tail;
    return w;
}

}  // namespace loadgen
