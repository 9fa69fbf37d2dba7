// Server-push client for Pushpin (bench/run scenario 5): N WebSocket clients, each subscribed to its
// own channel c0..c{N-1} (through http_echo_backend's "?ch=" OPEN subscription), and P publishers
// POSTing to Pushpin's HTTP publish API.
//   push_client HOST WS_PORT PUBLISH_PORT [--conns N] [--publishers P] [--seconds D] [--warmup W]
// Phase 1 (steady): each publisher POSTs one item at a time (closed loop), channel round-robin; the
// message is the send time (steady clock, ns, 16 hex digits). Counts POSTs answered 2xx and messages
// delivered in [W, W+D) and the delivery latency (POST start -> client read).
// Phase 2 (burst): one POST holding one item per channel; the time until the last client has it.
// Last stdout line: JSON with posts_per_s, delivered_per_s, p50_us, p99_us, burst_last_ms,
// burst_deliveries_per_s.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct State {
    std::string host;
    unsigned short ws_port = 0;
    unsigned short pub_port = 0;
    int conns = 1000;
    int opened = 0;
    int failed = 0;
    int next_open = 0;
    std::int64_t win_start = 0, win_end = 0;  // ns
    bool steady_over = false;
    std::uint64_t posts_ok = 0, posts_bad = 0, delivered = 0, delivered_total = 0;
    std::vector<std::uint32_t> lat_us;
    // burst phase
    bool burst = false;
    int burst_got = 0;
    std::int64_t burst_last = 0;
    std::uint64_t next_channel = 0;
    std::vector<std::unique_ptr<websocket::stream<tcp::socket>>> sockets;
};

net::awaitable<void> reader(State& st, websocket::stream<tcp::socket>& ws) {
    try {
        beast::flat_buffer buf;
        for (;;) {
            co_await ws.async_read(buf, net::use_awaitable);
            const std::string msg = beast::buffers_to_string(buf.data());
            buf.consume(buf.size());
            const std::int64_t t = now_ns();
            if (msg.size() < 16) continue;
            const std::int64_t sent = static_cast<std::int64_t>(std::strtoull(msg.substr(0, 16).c_str(), nullptr, 16));
            if (msg.size() > 16 && msg[16] == 'b') {  // burst message
                ++st.burst_got;
                st.burst_last = std::max(st.burst_last, t);
                continue;
            }
            ++st.delivered_total;
            if (t >= st.win_start && t < st.win_end) {
                ++st.delivered;
                st.lat_us.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, t - sent) / 1000));
            }
        }
    } catch (const std::exception&) {
    }
}

net::awaitable<void> opener(State& st) {
    auto ex = co_await net::this_coro::executor;
    while (st.next_open < st.conns) {
        const int i = st.next_open++;
        try {
            auto ws = std::make_unique<websocket::stream<tcp::socket>>(ex);
            co_await beast::get_lowest_layer(*ws).async_connect(
                tcp::endpoint(net::ip::make_address(st.host), st.ws_port), net::use_awaitable);
            beast::get_lowest_layer(*ws).set_option(tcp::no_delay(true));
            co_await ws->async_handshake(st.host, "/push?ch=c" + std::to_string(i), net::use_awaitable);
            ++st.opened;
            net::co_spawn(ex, reader(st, *ws), net::detached);
            st.sockets.push_back(std::move(ws));
        } catch (const std::exception&) {
            ++st.failed;
        }
    }
}

std::string stamp(char kind) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx%c", static_cast<unsigned long long>(now_ns()), kind);
    return buf;
}

// One POST /publish/ on a (re)connected stream; returns true for 2xx.
net::awaitable<bool> publish(beast::tcp_stream& s, bool& connected, const State& st, const std::string& body) {
    if (!connected) {
        s.socket().close();
        co_await s.async_connect(tcp::endpoint(net::ip::make_address(st.host), st.pub_port), net::use_awaitable);
        s.socket().set_option(tcp::no_delay(true));
        connected = true;
    }
    http::request<http::string_body> req{http::verb::post, "/publish/", 11};
    req.set(http::field::host, st.host);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    co_await http::async_write(s, req, net::use_awaitable);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    co_await http::async_read(s, buf, res, net::use_awaitable);
    if (!res.keep_alive()) connected = false;
    co_return res.result_int() / 100 == 2;
}

net::awaitable<void> publisher(State& st) {
    beast::tcp_stream s(co_await net::this_coro::executor);
    bool connected = false;
    while (now_ns() < st.win_end) {
        const std::string ch = "c" + std::to_string(st.next_channel++ % static_cast<std::uint64_t>(st.opened));
        const std::string body = R"({"items":[{"channel":")" + ch + R"(","formats":{"ws-message":{"content":")" +
                                 stamp('s') + R"("}}}]})";
        bool ok = false;
        try {
            ok = co_await publish(s, connected, st, body);
        } catch (const std::exception&) {
            connected = false;
        }
        const std::int64_t t = now_ns();
        if (t >= st.win_start && t < st.win_end) ok ? ++st.posts_ok : ++st.posts_bad;
    }
}

net::awaitable<void> sleep_ms(int ms) {
    net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(net::use_awaitable);
}

double pct(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) return -1;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

net::awaitable<void> run(State& st, int publishers, double seconds, double warmup) {
    auto ex = co_await net::this_coro::executor;
    for (int h = 0; h < 32; ++h) net::co_spawn(ex, opener(st), net::detached);  // <= 32 upgrades in flight
    for (int i = 0; i < 600 && st.opened + st.failed < st.conns; ++i) co_await sleep_ms(100);
    if (st.opened == 0) co_return;
    co_await sleep_ms(1000);  // let the subscriptions settle
    const std::int64_t t0 = now_ns();
    st.win_start = t0 + static_cast<std::int64_t>(warmup * 1e9);
    st.win_end = st.win_start + static_cast<std::int64_t>(seconds * 1e9);
    for (int p = 0; p < publishers; ++p) net::co_spawn(ex, publisher(st), net::detached);
    while (now_ns() < st.win_end + 6'000'000'000LL) {  // the window, then up to 6 s of held deliveries
        co_await sleep_ms(100);
    }
    // Burst: one POST with one item per open connection.
    std::string body = R"({"items":[)";
    const std::string msg = stamp('b');
    for (int i = 0; i < st.opened; ++i) {
        if (i) body += ',';
        body += R"({"channel":"c)" + std::to_string(i) + R"(","formats":{"ws-message":{"content":")" + msg + R"("}}})";
    }
    body += "]}";
    beast::tcp_stream s(ex);
    bool connected = false;
    const std::int64_t b0 = now_ns();
    try {
        co_await publish(s, connected, st, body);
    } catch (const std::exception&) {
    }
    for (int i = 0; i < 100 && st.burst_got < st.opened; ++i) co_await sleep_ms(50);
    st.burst = st.burst_got > 0;
    if (st.burst) st.burst_last -= b0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: push_client HOST WS_PORT PUBLISH_PORT [--conns N] [--publishers P] "
                     "[--seconds D] [--warmup W]\n";
        return 2;
    }
    net::io_context ioc(1);  // before the state: the sockets in it must go before their io_context
    State st;
    st.host = argv[1];
    st.ws_port = static_cast<unsigned short>(std::atoi(argv[2]));
    st.pub_port = static_cast<unsigned short>(std::atoi(argv[3]));
    int publishers = 4;
    double seconds = 5, warmup = 1;
    for (int i = 4; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--conns") st.conns = std::max(1, std::atoi(argv[i + 1]));
        else if (a == "--publishers") publishers = std::max(1, std::atoi(argv[i + 1]));
        else if (a == "--seconds") seconds = std::atof(argv[i + 1]);
        else if (a == "--warmup") warmup = std::atof(argv[i + 1]);
    }
    try {
        bool done = false;
        net::co_spawn(ioc, run(st, publishers, seconds, warmup), [&](std::exception_ptr) {
            done = true;
            ioc.stop();
        });
        // Bound everything: setup 60 s + run + held deliveries + burst.
        net::steady_timer guard(ioc, std::chrono::seconds(75 + static_cast<int>(seconds + warmup)));
        guard.async_wait([&](const boost::system::error_code&) { ioc.stop(); });
        ioc.run();
        (void)done;
    } catch (const std::exception& e) {
        std::cerr << "push_client: " << e.what() << "\n";
        return 1;
    }
    std::sort(st.lat_us.begin(), st.lat_us.end());
    const double posts = static_cast<double>(st.posts_ok) / seconds;
    const double deliv = static_cast<double>(st.delivered) / seconds;
    const double p50 = pct(st.lat_us, 0.5), p99 = pct(st.lat_us, 0.99);
    const double burst_ms = st.burst ? static_cast<double>(st.burst_last) / 1e6 : -1;
    const double burst_rate = st.burst && st.burst_last > 0 ? st.burst_got / (static_cast<double>(st.burst_last) / 1e9) : 0;
    std::printf("push: %d/%d open (%d failed); steady %.1f POST/s (%llu bad), %.1f delivered/s in window, "
                "p50 %.0f us, p99 %.0f us; %llu steady messages delivered in all; burst %d/%d in %.1f ms (%.0f deliveries/s)\n",
                st.opened, st.conns, st.failed, posts, static_cast<unsigned long long>(st.posts_bad), deliv, p50,
                p99, static_cast<unsigned long long>(st.delivered_total), st.burst_got, st.opened, burst_ms,
                burst_rate);
    std::printf("{\"mode\":\"pushpin-push\",\"connections_open\":%d,\"posts_per_s\":%.1f,\"delivered_per_s\":%.1f,"
                "\"steady_delivered_total\":%llu,\"p50_us\":%s,\"p99_us\":%s,\"burst_got\":%d,\"burst_last_ms\":%.1f,\"burst_deliveries_per_s\":%.1f,"
                "\"ok\":%s}\n",
                st.opened, posts, deliv, static_cast<unsigned long long>(st.delivered_total), p50 < 0 ? "null" : std::to_string(p50).c_str(),
                p99 < 0 ? "null" : std::to_string(p99).c_str(), st.burst_got, burst_ms, burst_rate,
                st.opened > 0 ? "true" : "false");
    return st.opened > 0 ? 0 : 1;
}
