// A fast keep-alive HTTP/1.1 backend that echoes WebSocket messages, in both shapes bench/run needs:
//  * Lambda-proxy events (wsgate's HTTP integration): MESSAGE -> {"statusCode":200,"body":<body>},
//    CONNECT / DISCONNECT -> {"statusCode":200}.
//  * WebSocket-over-HTTP (Pushpin's over_http routes, Content-Type: application/websocket-events):
//    OPEN -> OPEN (with "Sec-WebSocket-Extensions: grip; message-prefix=\"\"", so echoed messages
//    are not dropped as unprefixed), TEXT/BINARY -> the same event back, PING -> PONG,
//    CLOSE -> CLOSE, DISCONNECT -> nothing. A client URL with "?ch=NAME" is subscribed to the GRIP
//    channel NAME on OPEN (bench/run's push scenario: one channel per connection).
//   http_echo_backend [--host H] [--port P]     prints "listening on HOST:PORT" first
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

// Lambda-proxy event -> Lambda-proxy response.
std::string lambda_echo(const std::string& body) {
    json::error_code ec;
    const json::value ev = json::parse(body, ec);
    if (ec || !ev.is_object()) return R"({"statusCode":400})";
    const json::object& o = ev.get_object();
    std::string_view event_type;
    if (const auto* rc = o.if_contains("requestContext"); rc && rc->is_object()) {
        if (const auto* et = rc->get_object().if_contains("eventType"); et && et->is_string())
            event_type = et->get_string();
    }
    if (event_type != "MESSAGE") return R"({"statusCode":200})";
    json::object out;
    out["statusCode"] = 200;
    if (const auto* b = o.if_contains("body"); b && b->is_string()) out["body"] = b->get_string();
    else out["body"] = "";
    return json::serialize(out);
}

// WebSocket-over-HTTP events -> reply events. Returns false on a malformed body.
// `subscribe` (from "?ch=NAME" on the client's URL) is a GRIP channel to join on OPEN.
bool wsoh_echo(std::string_view in, std::string& out, bool& opened, std::string_view subscribe) {
    while (!in.empty()) {
        const auto eol = in.find("\r\n");
        if (eol == std::string_view::npos) return false;
        const std::string_view line = in.substr(0, eol);
        in.remove_prefix(eol + 2);
        const auto sp = line.find(' ');
        const std::string_view type = line.substr(0, sp);
        std::string_view payload;
        bool has_payload = false;
        if (sp != std::string_view::npos) {
            const std::string len_hex(line.substr(sp + 1));
            const std::size_t len = std::strtoul(len_hex.c_str(), nullptr, 16);
            if (in.size() < len + 2) return false;
            payload = in.substr(0, len);
            in.remove_prefix(len + 2);
            has_payload = true;
        }
        auto emit = [&](std::string_view t, std::string_view p, bool with) {
            out.append(t);
            if (with) {
                char hex[32];
                std::snprintf(hex, sizeof hex, " %zx", p.size());
                out.append(hex);
                out.append("\r\n");
                out.append(p);
            }
            out.append("\r\n");
        };
        if (type == "OPEN") {
            opened = true;
            emit("OPEN", {}, false);
            if (!subscribe.empty()) {
                std::string ctl = R"(c:{"type":"subscribe","channel":")";
                ctl.append(subscribe);
                ctl.append("\"}");
                emit("TEXT", ctl, true);
            }
        } else if (type == "TEXT" || type == "BINARY") {
            emit(type, payload, true);
        } else if (type == "PING") {
            emit("PONG", payload, has_payload);
        } else if (type == "CLOSE") {
            emit("CLOSE", payload, has_payload);
        }
        // DISCONNECT, PONG: nothing to answer
    }
    return true;
}

net::awaitable<void> http_conn(tcp::socket sock) {
    try {
        sock.set_option(tcp::no_delay(true));
        beast::tcp_stream s(std::move(sock));
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            co_await http::async_read(s, buf, req, net::use_awaitable);
            http::response<http::string_body> res{http::status::ok, req.version()};
            res.keep_alive(req.keep_alive());
            const std::string_view ctype = req[http::field::content_type];
            if (ctype.starts_with("application/websocket-events")) {
                bool opened = false;
                std::string_view channel;
                const std::string_view target = req.target();
                if (const auto q = target.find("ch="); q != std::string_view::npos) {
                    channel = target.substr(q + 3);
                    channel = channel.substr(0, channel.find('&'));
                }
                if (!wsoh_echo(req.body(), res.body(), opened, channel)) {
                    res.result(http::status::bad_request);
                    res.body().clear();
                } else {
                    res.set(http::field::content_type, "application/websocket-events");
                    if (opened) res.set("Sec-WebSocket-Extensions", "grip; message-prefix=\"\"");
                }
            } else {
                res.set(http::field::content_type, "application/json");
                res.body() = lambda_echo(req.body());
            }
            res.prepare_payload();
            co_await http::async_write(s, res, net::use_awaitable);
            if (!res.keep_alive()) break;
        }
    } catch (const std::exception&) {
    }
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
        net::co_spawn(acceptor.get_executor(), http_conn(std::move(s)), net::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc || (a != "--host" && a != "--port")) {
            std::cerr << "usage: http_echo_backend [--host H] [--port P]\n";
            return 2;
        }
        if (a == "--host") host = argv[++i];
        else port = static_cast<unsigned short>(std::atoi(argv[++i]));
    }
    try {
        net::io_context ioc(1);
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address(host), port));
        std::printf("listening on %s:%u\n", host.c_str(),
                    static_cast<unsigned>(acceptor.local_endpoint().port()));
        std::fflush(stdout);
        net::co_spawn(ioc, accept_loop(acceptor), net::detached);
        net::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
        ioc.run();
    } catch (const std::exception& e) {
        std::cerr << "http_echo_backend: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
