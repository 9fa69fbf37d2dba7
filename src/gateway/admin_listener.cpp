#include "gateway/admin_listener.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace wsgate::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

net::awaitable<void> serve_admin(const observability::Registry& metrics, const GatewayContext& ctx,
                                 net::ip::tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
        if (ec) break;
        const auto path = req.target().substr(0, req.target().find('?'));
        HttpResponse res{http::status::ok, req.version()};
        res.set(http::field::server, "wsgate");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
            res.body() = "GET only\n";
        } else if (path == "/metrics") {
            res.set(http::field::content_type, observability::kPrometheusContentType);
            res.body() = metrics.render_prometheus();
        } else if (path == "/healthz") {
            res.body() = "ok\n";
        } else if (path == "/readyz") {
            const bool ready = !ctx.shutting_down.load();
            res.result(ready ? http::status::ok : http::status::service_unavailable);
            res.body() = ready ? "ready\n" : "draining\n";
        } else {
            res.result(http::status::not_found);
            res.body() = "not found: try /metrics, /healthz or /readyz\n";
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        std::tie(ec, n) = co_await http::async_write(stream, res, use_tuple);
        if (ec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace wsgate::gateway
