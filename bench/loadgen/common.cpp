#include "common.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/error.hpp>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace loadgen {

namespace {

constexpr char kHex[] = "0123456789abcdef";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::mutex g_stats_mu;
std::vector<std::unique_ptr<Stats>> g_stats;

}  // namespace

void write_stamp(std::string& out, TimePoint t) {
    std::uint64_t v = to_ns(t);
    for (std::size_t i = kStampBytes; i-- > 0;) {
        out[i] = kHex[v & 15];
        v >>= 4;
    }
}

std::optional<TimePoint> read_stamp(std::string_view msg) {
    if (msg.size() < kStampBytes) return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < kStampBytes; ++i) {
        const int d = hex_value(msg[i]);
        if (d < 0) return std::nullopt;
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(v)));
}

std::string make_payload(std::size_t size) {
    std::string s(std::max(size, kStampBytes), 'x');
    write_stamp(s, Clock::now());
    return s;
}

void Stats::count_status(std::string_view s, std::uint64_t n) {
    const auto it = statuses.find(s);
    if (it != statuses.end())
        it->second += n;
    else
        statuses.emplace(std::string(s), n);
}

void Stats::count_error(std::string_view e, std::uint64_t n) {
    const auto it = errors.find(e);
    if (it != errors.end())
        it->second += n;
    else
        errors.emplace(std::string(e), n);
}

void Stats::merge(const Stats& o) {
    latency.merge(o.latency);
    latency2.merge(o.latency2);
    ok_window += o.ok_window;
    ok_total += o.ok_total;
    sent_total += o.sent_total;
    delivered_window += o.delivered_window;
    delivered_total += o.delivered_total;
    for (const auto& [k, v] : o.statuses) count_status(k, v);
    for (const auto& [k, v] : o.errors) count_error(k, v);
}

std::uint64_t Stats::error_count() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : errors) n += v;
    return n;
}

Stats& local_stats() {
    thread_local Stats* mine = [] {
        auto owned = std::make_unique<Stats>();
        Stats* p = owned.get();
        std::lock_guard lock(g_stats_mu);
        g_stats.push_back(std::move(owned));
        return p;
    }();
    return *mine;
}

Stats merged_stats() {
    Stats all;
    std::lock_guard lock(g_stats_mu);
    for (const auto& s : g_stats) all.merge(*s);
    return all;
}

void WaitGroup::done() {
    if (count_.fetch_sub(1) == 1) {
        net::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
    }
}

net::awaitable<void> WaitGroup::wait() {
    while (count_.load() > 0) {
        timer_.expires_at(TimePoint::max());
        (void)co_await timer_.async_wait(use_tuple);
    }
}

Target parse_ws_url(std::string_view url) {
    constexpr std::string_view kWs = "ws://";
    if (url.substr(0, kWs.size()) != kWs) {
        throw std::invalid_argument("expected a ws:// URL, got '" + std::string(url) + "'");
    }
    Target t;
    std::string_view rest = url.substr(kWs.size());
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (authority.empty())
        throw std::invalid_argument("missing host in '" + std::string(url) + "'");
    t.host_header = std::string(authority);
    std::string_view host = authority;
    t.port = "80";
    const auto rb = authority.rfind(']');
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && (rb == std::string_view::npos || colon > rb)) {
        host = authority.substr(0, colon);
        t.port = std::string(authority.substr(colon + 1));
    }
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    t.host = std::string(host);
    std::string_view p = t.path;
    p = p.substr(0, p.find('?'));
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    t.stage = std::string(p.substr(0, p.find('/')));
    return t;
}

net::awaitable<std::string> open_ws(WsStream& ws, const Target& t, TimePoint deadline,
                                    unsigned& http_status) {
    http_status = 0;
    auto& tcp_layer = beast::get_lowest_layer(ws);
    tcp_layer.expires_at(deadline);
    auto [cec] = co_await tcp_layer.async_connect(t.endpoint, use_tuple);
    if (cec == beast::error::timeout) co_return "connect: timeout";
    if (cec) co_return "connect: " + cec.message();
    boost::system::error_code ignored;
    tcp_layer.socket().set_option(tcp::no_delay(true), ignored);
    // Messages above 32 KiB go out as fragments of at most 32 KiB, API Gateway's frame limit.
    ws.auto_fragment(true);
    ws.write_buffer_bytes(32 * 1024);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(http::field::user_agent, "wsgate-loadgen"); }));
    websocket::response_type res;
    auto [hec] = co_await ws.async_handshake(res, t.host_header, t.path, use_tuple);
    http_status = res.result_int();
    if (!hec) co_return std::string();
    if (hec == websocket::error::upgrade_declined && http_status != 0) {
        co_return "HTTP " + std::to_string(http_status);
    }
    if (hec == beast::error::timeout) co_return "handshake: timeout";
    co_return "handshake: " + hec.message();
}

net::awaitable<void> close_ws(WsStream& ws, TimePoint deadline) {
    if (!ws.is_open()) co_return;
    beast::get_lowest_layer(ws).expires_at(deadline);
    (void)co_await ws.async_close(websocket::close_code::normal, use_tuple);
    beast::get_lowest_layer(ws).close();
}

std::string describe_read_error(const WsStream& ws, const boost::system::error_code& ec) {
    const auto& r = ws.reason();
    std::string close;
    if (r.code != websocket::close_code::none) {
        close = std::to_string(static_cast<unsigned>(r.code));
        if (!r.reason.empty()) close += " " + std::string(r.reason.c_str());
    }
    if (ec == websocket::error::closed) {
        return "closed by the gateway: " + (close.empty() ? std::string("no status") : close);
    }
    return ec.message() + (close.empty() ? "" : " (after close frame " + close + ")");
}

std::string format_ns(std::uint64_t ns) {
    char buf[32];
    if (ns < 10'000)
        std::snprintf(buf, sizeof buf, "%.2f us", static_cast<double>(ns) / 1e3);
    else if (ns < 1'000'000)
        std::snprintf(buf, sizeof buf, "%.0f us", static_cast<double>(ns) / 1e3);
    else if (ns < 1'000'000'000)
        std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(ns) / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ns) / 1e9);
    return buf;
}

net::awaitable<void> sleep_until(TimePoint t) {
    net::steady_timer timer(co_await net::this_coro::executor);
    timer.expires_at(t);
    (void)co_await timer.async_wait(use_tuple);
}

}  // namespace loadgen
