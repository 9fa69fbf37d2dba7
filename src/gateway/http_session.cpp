#include "gateway/http_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "common/ids.h"
#include "common/log.h"
#include "gateway/transport.h"
#include "gateway/ws_session.h"

namespace wsgate::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr auto kKeepAliveIdle = std::chrono::seconds(60);
// How long a TLS peer has to answer our close_notify before the socket is closed anyway.
constexpr auto kTlsCloseGrace = std::chrono::milliseconds(2000);

// The TLS handshake, within the deadline already set on the TCP stream. A failure (a client that
// speaks plain HTTP or an old TLS version, bytes that are not TLS, a timeout) concerns that one
// socket: it is counted, logged at debug level, and the connection is dropped.
net::awaitable<bool> tls_handshake(GatewayContext& ctx, Transport& stream, const net::ip::tcp::endpoint& peer) {
    auto [ec] = co_await stream.async_handshake(use_tuple);
    if (!ec) co_return true;
    if (ctx.node_metrics != nullptr) ctx.node_metrics->tls_handshake_failures.inc();
    if (log::enabled(log::Level::debug)) {
        log::debug("TLS handshake failed from " + peer.address().to_string() + ":" + std::to_string(peer.port()) +
                   ": " + ec.message());
    }
    co_return false;
}

}  // namespace

std::optional<std::string_view> stage_of(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target.size() < 2 || target.front() != '/') return std::nullopt;
    target.remove_prefix(1);
    if (target.back() == '/') target.remove_suffix(1);
    if (target.empty() || target.find('/') != std::string_view::npos) return std::nullopt;
    return target;
}

HttpResponse aws_error(unsigned status, std::string_view error_type, std::string_view message, bool keep_alive) {
    HttpResponse res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "wsgate");
    res.set(http::field::date, http_date(std::chrono::system_clock::now()));
    res.set(http::field::content_type, "application/json");
    res.set("x-amzn-RequestId", new_uuid());
    res.set("x-amzn-ErrorType", error_type);
    res.body() = R"({"message":)" + boost::json::serialize(boost::json::string(message)) + "}";
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

net::awaitable<void> serve_http(GatewayContext& ctx, net::ip::tcp::socket socket, net::ssl::context* tls) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) co_return;
    Transport stream = tls != nullptr ? Transport(beast::tcp_stream(std::move(socket)), *tls)
                                      : Transport(beast::tcp_stream(std::move(socket)));
    beast::flat_buffer buffer;
    auto timeout = ctx.settings.connection.handshake_timeout;
    // One budget for the TLS handshake and the first request head together.
    stream.expires_after(timeout);
    if (stream.is_tls() && !co_await tls_handshake(ctx, stream, peer)) co_return;

    for (bool first = true;; first = false) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kHeaderLimit);
        // Beast checks Content-Length against the body limit while parsing the header, so the
        // limit must be in place before the header is read.
        parser.body_limit(ctx.http_handler != nullptr ? ctx.http_handler->max_body_bytes() : 0);
        if (!first) stream.expires_after(timeout);
        std::tie(ec, std::ignore) = co_await http::async_read_header(stream, buffer, parser, use_tuple);
        if (ec == http::error::header_limit) {
            auto res = aws_error(431, "RequestHeaderFieldsTooLarge", "Request Header Fields Too Large", false);
            (void)co_await http::async_write(stream, res, use_tuple);
            break;
        }
        const bool handled = (!ec || ec == http::error::body_limit) && ctx.http_handler != nullptr &&
                             ctx.http_handler->matches(parser.get().target());
        if (handled) {
            if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, use_tuple);
            if (ec == http::error::body_limit) {
                auto res = ctx.http_handler->body_too_large(parser.get());
                (void)co_await http::async_write(stream, res, use_tuple);
                break;  // the rest of the body is unread; the connection cannot be reused
            }
            if (ec) break;
            stream.expires_never();
            const bool client_keep_alive = parser.get().keep_alive();
            auto res = co_await ctx.http_handler->handle(parser.release(), peer);
            res.keep_alive(client_keep_alive);
            stream.expires_after(timeout);
            std::tie(ec, std::ignore) = co_await http::async_write(stream, res, use_tuple);
            if (ec || !res.keep_alive()) break;
            timeout = kKeepAliveIdle;
            continue;
        }
        if (ec) break;  // closed, timed out, not HTTP, or a body we would not read anyway
        const auto target = parser.get().target();

        const auto stage = stage_of(target);
        const bool known_stage = stage && ctx.is_stage(*stage);
        if (beast::websocket::is_upgrade(parser.get()) && known_stage) {
            if (!parser.is_done()) break;  // an upgrade request must not carry a body
            stream.expires_never();
            auto session = std::make_shared<WsSession>(ctx, std::move(stream), std::string(*stage), peer);
            co_await session->run(parser.release());
            co_return;
        }
        // A body on a request we will refuse anyway: answer and close rather than read it.
        const bool keep_alive = parser.is_done() && parser.get().keep_alive();
        HttpResponse res;
        if (known_stage) {
            res = aws_error(426, "UpgradeRequired", "Upgrade Required", keep_alive);
            res.set(http::field::upgrade, "websocket");
        } else {
            res = aws_error(403, "ForbiddenException", "Forbidden", keep_alive);
        }
        std::tie(ec, std::ignore) = co_await http::async_write(stream, res, use_tuple);
        if (ec || !keep_alive) break;
        timeout = kKeepAliveIdle;
    }
    co_await shutdown_send(stream, kTlsCloseGrace);
}

}  // namespace wsgate::gateway
