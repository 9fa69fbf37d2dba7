// Raw TCP ping-pong on loopback: the ceiling for any WebSocket server on this machine.
//   tcp_pingpong server [--host H] [--port P]          echoes every byte back; prints
//                                                     "listening on HOST:PORT" first
//   tcp_pingpong client HOST PORT [--conns N] [--size S] [--seconds D] [--warmup W]
// The client keeps one S-byte message in flight per connection, counts round trips completed in
// [W, W+D) and prints a human line, then one JSON line with the same keys as wsgate-loadgen
// ("msgs_per_s", "p50_us", "p99_us", "p999_us", "max_us", "ok").
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

int usage() {
    std::cerr << "usage: tcp_pingpong server [--host H] [--port P]\n"
                 "       tcp_pingpong client HOST PORT [--conns N] [--size S] [--seconds D] "
                 "[--warmup W]\n";
    return 2;
}

net::awaitable<void> echo_conn(tcp::socket s) {
    try {
        s.set_option(tcp::no_delay(true));
        std::array<char, 65536> buf{};
        for (;;) {
            const std::size_t n = co_await s.async_read_some(net::buffer(buf), net::use_awaitable);
            co_await net::async_write(s, net::buffer(buf.data(), n), net::use_awaitable);
        }
    } catch (const std::exception&) {
    }
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
        net::co_spawn(acceptor.get_executor(), echo_conn(std::move(s)), net::detached);
    }
}

int run_server(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        if (a == "--host") host = argv[++i];
        else if (a == "--port") port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else return usage();
    }
    net::io_context ioc(1);
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address(host), port));
    std::printf("listening on %s:%u\n", host.c_str(),
                static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    net::co_spawn(ioc, accept_loop(acceptor), net::detached);
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
    ioc.run();
    return 0;
}

struct Stats {
    std::uint64_t count = 0;
    std::uint64_t errors = 0;
    std::vector<std::uint32_t> lat_ns;  // round trips completed inside the window
};

net::awaitable<void> client_conn(tcp::endpoint ep, std::size_t size, Clock::time_point win_start,
                                 Clock::time_point win_end, Stats& st) {
    try {
        tcp::socket s(co_await net::this_coro::executor);
        co_await s.async_connect(ep, net::use_awaitable);
        s.set_option(tcp::no_delay(true));
        std::string out(size, 'x');
        std::string in(size, '\0');
        while (Clock::now() < win_end) {
            const auto t0 = Clock::now();
            co_await net::async_write(s, net::buffer(out), net::use_awaitable);
            co_await net::async_read(s, net::buffer(in), net::use_awaitable);
            const auto t1 = Clock::now();
            if (t1 >= win_start && t1 < win_end) {
                ++st.count;
                const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
                st.lat_ns.push_back(static_cast<std::uint32_t>(std::min<long long>(ns, 0xffffffffLL)));
            }
        }
    } catch (const std::exception&) {
        ++st.errors;
    }
}

double pct_us(const std::vector<std::uint32_t>& sorted, double p) {
    if (sorted.empty()) return 0.0;
    auto idx = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    idx = std::min(idx, sorted.size() - 1);
    return static_cast<double>(sorted[idx]) / 1000.0;
}

int run_client(int argc, char** argv) {
    if (argc < 4) return usage();
    const std::string host = argv[2];
    const auto port = static_cast<unsigned short>(std::atoi(argv[3]));
    int conns = 100;
    std::size_t size = 16;
    double seconds = 5.0;
    double warmup = 1.0;
    for (int i = 4; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        if (a == "--conns") conns = std::max(1, std::atoi(argv[++i]));
        else if (a == "--size") size = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
        else if (a == "--seconds") seconds = std::atof(argv[++i]);
        else if (a == "--warmup") warmup = std::atof(argv[++i]);
        else return usage();
    }
    net::io_context ioc(1);
    const tcp::endpoint ep(net::ip::make_address(host), port);
    const auto start = Clock::now();
    const auto win_start = start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(warmup));
    const auto win_end = win_start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(seconds));
    Stats st;
    st.lat_ns.reserve(1 << 20);
    for (int c = 0; c < conns; ++c) net::co_spawn(ioc, client_conn(ep, size, win_start, win_end, st), net::detached);
    // Bound the run: anything still waiting 3 s after the window is cut.
    net::steady_timer guard(ioc, win_end + std::chrono::seconds(3));
    guard.async_wait([&](const boost::system::error_code&) { ioc.stop(); });
    ioc.run();
    std::sort(st.lat_ns.begin(), st.lat_ns.end());
    const double rate = static_cast<double>(st.count) / seconds;
    const double p50 = pct_us(st.lat_ns, 0.50), p99 = pct_us(st.lat_ns, 0.99),
                 p999 = pct_us(st.lat_ns, 0.999),
                 mx = st.lat_ns.empty() ? 0.0 : static_cast<double>(st.lat_ns.back()) / 1000.0;
    std::printf("tcp ping-pong: %d conns, %zu B: %.1f msgs/s, p50 %.0f us, p99 %.0f us, errors %llu\n",
                conns, size, rate, p50, p99, static_cast<unsigned long long>(st.errors));
    std::printf("{\"mode\":\"tcp\",\"connections\":%d,\"size\":%zu,\"duration_s\":%.1f,\"msgs_per_s\":%.1f,"
                "\"messages\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
                "\"errors\":{\"broken\":%llu},\"ok\":%s}\n",
                conns, size, seconds, rate, static_cast<unsigned long long>(st.count), p50, p99, p999, mx,
                static_cast<unsigned long long>(st.errors), st.count > 0 ? "true" : "false");
    return st.count > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const std::string mode = argv[1];
    try {
        if (mode == "server") return run_server(argc, argv);
        if (mode == "client") return run_client(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "tcp_pingpong: " << e.what() << "\n";
        return 1;
    }
    return usage();
}
