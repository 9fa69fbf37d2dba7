// post: C WebSocket clients learn their connection ids through the 'whoami' route (whose HTTP
// integration is the Backend below, served by this tool), then P drivers POST stamped messages to
// /{stage}/@connections/{id} over keep-alive HTTP connections, round-robin over the clients. The
// clients time each delivery against the stamp.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <stdexcept>
#include <vector>

#include "modes.h"
#include "signer.h"

namespace loadgen {

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// ---- The whoami backend. ----

std::string backend_answer(std::string_view event) {
    boost::system::error_code ec;
    const json::value v = json::parse(json::string_view(event.data(), event.size()), ec);
    const json::object* rc = nullptr;
    if (!ec && v.is_object()) {
        if (const auto* p = v.get_object().if_contains("requestContext"); p && p->is_object()) {
            rc = &p->get_object();
        }
    }
    if (rc == nullptr) return R"({"statusCode":400,"body":"not a Lambda-proxy event"})";
    const auto* type = rc->if_contains("eventType");
    const auto* id = rc->if_contains("connectionId");
    if (type && type->is_string() && type->get_string() == "MESSAGE" && id && id->is_string()) {
        json::object out;
        out["statusCode"] = 200;
        out["body"] = id->get_string();
        return json::serialize(out);
    }
    return R"({"statusCode":200})";
}

// ---- WebSocket clients. ----

struct PostConn {
    explicit PostConn(net::io_context& ioc) : ws(net::make_strand(ioc)) {}
    WsStream ws;
    beast::flat_buffer buffer;
    std::string id;
    bool closing = false;
};

// Connects, sends {"action":"whoami"} and reads the id back. Returns a failure kind or "".
net::awaitable<std::string> open_and_identify(PostConn& c, const Target& t, TimePoint deadline) {
    unsigned status = 0;
    std::string err = co_await open_ws(c.ws, t, deadline, status);
    if (!err.empty()) co_return err;
    static const std::string kWhoami = R"({"action":"whoami"})";
    c.ws.text(true);
    auto [wec, wn] = co_await c.ws.async_write(net::buffer(kWhoami), use_tuple);
    if (wec) co_return "whoami write: " + wec.message();
    auto [rec, rn] = co_await c.ws.async_read(c.buffer, use_tuple);
    if (rec == beast::error::timeout) co_return "whoami: no answer before the setup deadline";
    if (rec) co_return "whoami read: " + describe_read_error(c.ws, rec);
    const auto data = c.buffer.cdata();
    std::string reply(static_cast<const char*>(data.data()), data.size());
    c.buffer.consume(rn);
    // An id is short base64url (+ '='); anything else is an error frame from the gateway
    // ({"message": "Internal server error", ...} when the backend is unreachable, say) or a
    // route that is not ours (the echo would send {"action":"whoami"} back).
    if (reply.empty() || reply.size() > 128 || reply.find_first_of("{}\" ") != std::string::npos) {
        boost::system::error_code jec;
        const json::value v = json::parse(reply, jec);
        const json::value* msg =
            !jec && v.is_object() ? v.get_object().if_contains("message") : nullptr;
        if (msg != nullptr && msg->is_string()) {
            co_return "whoami: the gateway answered \"" + std::string(msg->get_string()) +
                "\" (is the whoami route's backend this tool's --backend?)";
        }
        if (!jec && v.is_object() && v.get_object().contains("action")) {
            co_return "whoami: the message came back as is (no whoami route in the gateway's config?)";
        }
        if (reply.size() > 100) reply = reply.substr(0, 100) + "...";
        co_return "whoami: unexpected reply " + reply;
    }
    c.id = std::move(reply);
    co_return std::string();
}

net::awaitable<void> delivery_reader(PostConn& c, const Window& w) {
    for (;;) {
        auto [ec, n] = co_await c.ws.async_read(c.buffer, use_tuple);
        if (ec) {
            if (!c.closing) local_stats().count_error("ws read: " + describe_read_error(c.ws, ec));
            co_return;
        }
        const TimePoint now = Clock::now();
        const auto data = c.buffer.cdata();
        const auto stamp =
            read_stamp(std::string_view(static_cast<const char*>(data.data()), data.size()));
        Stats& st = local_stats();
        if (!stamp) {
            st.count_error("ws: unexpected message");
        } else {
            ++st.delivered_total;
            if (w.contains(now)) {
                ++st.delivered_window;
                st.latency.record(elapsed_ns(*stamp, now));
            }
        }
        c.buffer.consume(n);
    }
}

net::awaitable<void> delivery_closer(PostConn& c, const Window& w) {
    // Deliveries of the last POSTs may still be on their way at the end: give them a second.
    co_await sleep_until(std::min(w.end + 1s, w.hard - 1s));
    c.closing = true;
    co_await close_ws(c.ws, w.hard);
}

// ---- POST drivers. ----

struct DriverShared {
    std::vector<std::string> targets;  // one request-target per connection id
    std::atomic<std::uint64_t> next{0};
};

net::awaitable<void> post_driver(const Options& o, const Target& t, RunInfo& info,
                                 std::shared_ptr<DriverShared> shared) {
    const Window& w = info.window;
    const auto timeout =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout));
    beast::tcp_stream stream(co_await net::this_coro::executor);
    beast::flat_buffer buffer;
    Signer signer(o.access_key, o.secret_key, o.session_token, o.region);
    std::string body = make_payload(o.size);
    bool open = false;
    while (Clock::now() < w.end) {
        if (!open) {
            stream.expires_at(std::min(Clock::now() + timeout, w.hard));
            auto [cec] = co_await stream.async_connect(t.endpoint, use_tuple);
            if (cec) {
                local_stats().count_error("http connect: " + cec.message());
                co_await sleep_until(Clock::now() + 1ms);
                continue;
            }
            boost::system::error_code ignored;
            stream.socket().set_option(tcp::no_delay(true), ignored);
            buffer.clear();
            open = true;
        }
        const std::string& target =
            shared->targets[shared->next.fetch_add(1) % shared->targets.size()];
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, t.host_header);
        req.set(http::field::user_agent, "wsgate-loadgen");
        req.set(http::field::content_type, "text/plain");
        req.keep_alive(true);
        const TimePoint t0 = Clock::now();
        write_stamp(body, t0);
        req.body() = body;
        req.prepare_payload();
        if (!o.unsigned_requests) signer.sign(req);
        ++local_stats().sent_total;
        stream.expires_at(std::min(t0 + timeout, w.hard));
        auto [ec, wn] = co_await http::async_write(stream, req, use_tuple);
        http::response_parser<http::string_body> parser;
        parser.body_limit(1 << 20);
        if (!ec)
            std::tie(ec, std::ignore) =
                co_await http::async_read(stream, buffer, parser, use_tuple);
        const TimePoint t1 = Clock::now();
        Stats& st = local_stats();
        if (ec) {
            st.count_error("http: " +
                           (ec == beast::error::timeout ? std::string("timeout") : ec.message()));
            stream.close();
            open = false;
            continue;
        }
        const auto& res = parser.get();
        const unsigned status = res.result_int();
        st.count_status(std::to_string(status));
        if (status == 200) {
            ++st.ok_total;
            if (w.contains(t1)) {
                ++st.ok_window;
                st.latency2.record(elapsed_ns(t0, t1));
            }
        } else {
            const auto type = res["x-amzn-ErrorType"];
            st.count_error("HTTP " + std::to_string(status) + (type.empty() ? "" : " ") +
                           std::string(type));
            std::lock_guard lock(info.mu);
            if (info.sample_error.empty()) {
                info.sample_error =
                    "HTTP " + std::to_string(status) + " " + res.body().substr(0, 600);
            }
        }
        if (!res.keep_alive()) {
            stream.close();
            open = false;
        }
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
}

}  // namespace

Backend::Backend(net::io_context& ioc, const std::string& host_port)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)) {
    const auto colon = host_port.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--backend: expected HOST:PORT");
    std::string host = host_port.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    const auto addr = net::ip::make_address(host, ec);
    if (ec) throw std::runtime_error("--backend: '" + host + "' is not an IP address");
    unsigned long port = 0;
    try {
        port = std::stoul(host_port.substr(colon + 1));
    } catch (const std::exception&) {
        throw std::runtime_error("--backend: bad port in '" + host_port + "'");
    }
    if (port > 65535) throw std::runtime_error("--backend: bad port in '" + host_port + "'");
    const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) throw std::runtime_error("--backend: cannot bind " + host_port + ": " + ec.message());
    acceptor_.listen(net::socket_base::max_listen_connections);
}

std::string Backend::address() const {
    boost::system::error_code ec;
    const auto ep = acceptor_.local_endpoint(ec);
    return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void Backend::start(TimePoint deadline) {
    net::co_spawn(acceptor_.get_executor(), accept_loop(deadline), net::detached);
}

void Backend::stop() {
    std::vector<std::shared_ptr<beast::tcp_stream>> live;
    {
        std::lock_guard lock(mu_);
        stopped_ = true;
        for (const auto& weak : sessions_) {
            if (auto s = weak.lock()) live.push_back(std::move(s));
        }
        sessions_.clear();
    }
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
    });
    for (auto& s : live) net::post(s->get_executor(), [s] { s->close(); });
}

net::awaitable<void> Backend::accept_loop(TimePoint deadline) {
    auto self = shared_from_this();
    for (;;) {
        auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), use_tuple);
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
        if (ec) {
            co_await sleep_until(Clock::now() + 10ms);
            continue;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const auto ex = socket.get_executor();
        net::co_spawn(ex, session(std::move(socket), deadline), net::detached);
    }
}

net::awaitable<void> Backend::session(tcp::socket socket, TimePoint deadline) {
    auto self = shared_from_this();
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    {
        std::lock_guard lock(mu_);
        if (stopped_) co_return;
        std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
        sessions_.push_back(stream);
    }
    beast::flat_buffer buffer;
    stream->expires_at(deadline);
    for (;;) {
        http::request<http::string_body> req;
        auto [ec, n] = co_await http::async_read(*stream, buffer, req, use_tuple);
        if (ec) break;
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::server, "wsgate-loadgen");
        res.set(http::field::content_type, "application/json");
        res.keep_alive(req.keep_alive());
        res.body() = backend_answer(req.body());
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(*stream, res, use_tuple);
        if (wec || !res.keep_alive()) break;
    }
    stream->close();
}

net::awaitable<void> run_post(net::io_context& ioc, const Options& o, const Target& t,
                              RunInfo& info, std::shared_ptr<Backend> backend) {
    using namespace net::experimental::awaitable_operators;
    const auto timeout =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout));
    const TimePoint setup_start = Clock::now();
    const TimePoint setup_deadline = setup_start + timeout;
    // Served through the whole run: a gateway may also route $connect/$disconnect here.
    backend->start(setup_deadline +
                   std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(o.warmup + o.duration)) +
                   5s);
    struct StopBackend {
        std::shared_ptr<Backend> b;
        ~StopBackend() { b->stop(); }
    } stop_backend{backend};

    std::vector<std::shared_ptr<PostConn>> conns(o.connections);
    co_await for_each_parallel(
        ioc, conns.size(), o.handshakes, [&](std::size_t i) -> net::awaitable<void> {
            auto c = std::make_shared<PostConn>(ioc);
            const std::string err = co_await net::co_spawn(
                c->ws.get_executor(), open_and_identify(*c, t, setup_deadline), net::use_awaitable);
            if (!err.empty()) {
                local_stats().count_error("setup: " + err);
                co_return;
            }
            conns[i] = std::move(c);
        });
    std::erase(conns, nullptr);
    info.setup_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();
    info.connections_open = conns.size();
    if (conns.empty()) co_return;

    auto shared = std::make_shared<DriverShared>();
    for (const auto& c : conns) {
        shared->targets.push_back("/" + uri_encode(t.stage) + "/@connections/" + uri_encode(c->id));
    }

    info.window = make_window(o, 3s);
    info.started = true;
    const Window& w = info.window;
    auto wg = std::make_shared<WaitGroup>(co_await net::this_coro::executor);
    wg->add(conns.size() + o.http_connections);
    for (auto& c : conns) {
        beast::get_lowest_layer(c->ws).expires_at(w.hard);
        net::co_spawn(
            c->ws.get_executor(),
            [c, &w, wg]() -> net::awaitable<void> {
                co_await (delivery_reader(*c, w) && delivery_closer(*c, w));
                wg->done();
            },
            net::detached);
    }
    for (unsigned i = 0; i < o.http_connections; ++i) {
        net::co_spawn(
            net::make_strand(ioc),
            [&o, &t, &info, shared, wg]() -> net::awaitable<void> {
                co_await post_driver(o, t, info, shared);
                wg->done();
            },
            net::detached);
    }
    co_await wg->wait();
}

}  // namespace loadgen
