#include "integration/http_integration.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "integration/proxy_response.h"
#include "observability/metrics.h"

namespace wsgate::integration {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// A pooled keep-alive connection. Its stream lives on its own strand, and every operation on it
// runs there (see invoke), so the stream's timer and I/O never race.
struct HttpIntegration::Connection {
    explicit Connection(net::io_context& ioc) : stream(net::make_strand(ioc)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    bool reused = false;
};

struct HttpIntegration::Waiter {
    explicit Waiter(const net::any_io_executor& ex) : timer(ex) {}
    net::steady_timer timer;
    bool granted = false;  // guarded by mu_
};

namespace {

constexpr std::size_t kMaxResponseBytes = 8 << 20;

// An idle keep-alive connection the backend has since closed reads as EOF; find that before
// sending on it rather than after.
bool peer_closed(tcp::socket& s) {
    char byte;
    const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

Result failed(Failure f, std::string detail) {
    Result r;
    r.failure = f;
    r.detail = std::move(detail);
    return r;
}

}  // namespace

HttpIntegration::HttpIntegration(net::io_context& ioc, config::IntegrationSettings settings,
                                 observability::Gauge* in_use)
    : ioc_(ioc), settings_(std::move(settings)), in_use_gauge_(in_use) {}

HttpIntegration::~HttpIntegration() = default;

net::awaitable<Result> HttpIntegration::invoke(Invocation inv) {
    RawResponse raw = co_await post(std::move(inv.event_json), inv.timeout);
    if (raw.failure != Failure::none) co_return failed(raw.failure, std::move(raw.detail));
    co_return parse_proxy_response(raw.status, raw.body);
}

net::awaitable<HttpIntegration::RawResponse> HttpIntegration::post(std::string body,
                                                                  std::optional<std::chrono::milliseconds> timeout) {
    auto req = std::make_shared<Request>(http::verb::post, settings_.url.target, 11);
    req->set(http::field::content_type, "application/json");
    req->body() = std::move(body);
    co_return co_await send(std::move(req), timeout);
}

net::awaitable<HttpIntegration::RawResponse> HttpIntegration::send(std::shared_ptr<Request> req,
                                                                  std::optional<std::chrono::milliseconds> timeout) {
    auto self = shared_from_this();  // pooled connections must outlive this call
    const auto deadline = Clock::now() + timeout.value_or(settings_.timeout);
    Slot slot = co_await acquire(deadline);
    if (slot.failure != Failure::none) {
        co_return RawResponse{slot.failure, 0, {},
                              slot.failure == Failure::timeout ? "timed out waiting for a backend connection"
                                                               : "backend request queue full"};
    }
    if (slot.conn && peer_closed(slot.conn->stream.socket())) slot.conn.reset();
    if (!slot.conn) slot.conn = std::make_unique<Connection>(ioc_);

    req->set(http::field::host, settings_.url.host_header);
    if (req->find(http::field::user_agent) == req->end()) req->set(http::field::user_agent, "wsgate");
    req->prepare_payload();
    Connection& c = *slot.conn;
    // Run the exchange on the connection's strand; this coroutine resumes on its own executor.
    RawResponse r = co_await net::co_spawn(c.stream.get_executor(), exchange(c, req, deadline), net::use_awaitable);
    const bool reusable = r.failure != Failure::timeout && r.failure != Failure::unreachable && c.stream.socket().is_open();
    if (!reusable) slot.conn.reset();
    release(std::move(slot.conn));
    co_return r;
}

net::awaitable<HttpIntegration::Slot> HttpIntegration::acquire(Clock::time_point deadline) {
    const auto ex = co_await net::this_coro::executor;
    std::shared_ptr<Waiter> w;
    {
        std::lock_guard lock(mu_);
        if (in_use_ < settings_.max_connections) {
            ++in_use_;
            publish_in_use();
            Slot s;
            if (!idle_.empty()) {
                s.conn = std::move(idle_.back());
                idle_.pop_back();
            }
            co_return s;
        }
        if (waiters_.size() >= settings_.max_queued) co_return Slot{Failure::overloaded, nullptr};
        w = std::make_shared<Waiter>(ex);
        w->timer.expires_at(deadline);
        waiters_.push_back(w);
    }
    // Woken either by release() (granted) or by the deadline.
    (void)co_await w->timer.async_wait(use_tuple);
    std::lock_guard lock(mu_);
    if (!w->granted) {
        std::erase(waiters_, w);
        co_return Slot{Failure::timeout, nullptr};
    }
    Slot s;
    if (!idle_.empty()) {
        s.conn = std::move(idle_.back());
        idle_.pop_back();
    }
    co_return s;
}

void HttpIntegration::release(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mu_);
    if (conn) {
        conn->reused = true;
        idle_.push_back(std::move(conn));
    }
    if (waiters_.empty()) {
        --in_use_;
        publish_in_use();
        return;
    }
    // Hand this slot straight to the oldest waiter; its timer lives on its own executor.
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    w->granted = true;
    net::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

// A slot handed straight to a waiter stays in use, so only the two places that change in_use_
// publish it. Set rather than add: the gauge then cannot drift from the count it mirrors.
void HttpIntegration::publish_in_use() {
    if (in_use_gauge_ != nullptr) in_use_gauge_->set(static_cast<std::int64_t>(in_use_));
}

net::awaitable<HttpIntegration::RawResponse> HttpIntegration::exchange(Connection& c, std::shared_ptr<Request> request,
                                                                      Clock::time_point deadline) {
    auto failed = [](Failure f, std::string detail) { return RawResponse{f, 0, {}, std::move(detail)}; };
    const Request& req = *request;

    for (int attempt = 0;; ++attempt) {
        if (!c.stream.socket().is_open()) {
            c.reused = false;
            c.buffer.clear();
            tcp::resolver resolver(c.stream.get_executor());
            auto [rec, endpoints] = co_await resolver.async_resolve(settings_.url.host, settings_.url.port, use_tuple);
            if (rec) co_return failed(Failure::unreachable, "resolve " + settings_.url.host + ": " + rec.message());
            c.stream.expires_at(deadline);
            auto [cec, ep] = co_await c.stream.async_connect(endpoints, use_tuple);
            if (cec == beast::error::timeout) co_return failed(Failure::timeout, "connect timed out");
            if (cec) co_return failed(Failure::unreachable, "connect: " + cec.message());
        }
        c.stream.expires_at(deadline);
        auto [wec, wn] = co_await http::async_write(c.stream, req, use_tuple);
        http::response_parser<http::string_body> parser;
        parser.body_limit(kMaxResponseBytes);
        boost::system::error_code ec = wec;
        if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(c.stream, c.buffer, parser, use_tuple);
        if (ec == beast::error::timeout) {
            c.stream.close();
            co_return failed(Failure::timeout, "backend did not answer in time");
        }
        if (ec) {
            const bool stale = c.reused && attempt == 0 && !parser.got_some();
            c.stream.close();
            // A reused keep-alive connection the backend closed under us: the request never got an
            // answer, so try once more on a fresh connection.
            if (stale) continue;
            co_return failed(ec == http::error::body_limit ? Failure::bad_response : Failure::unreachable,
                             "backend exchange: " + ec.message());
        }
        c.stream.expires_never();
        auto& res = parser.get();
        if (!res.keep_alive()) c.stream.close();
        co_return RawResponse{Failure::none, res.result_int(), std::move(res.body()), {}};
    }
}

}  // namespace wsgate::integration
