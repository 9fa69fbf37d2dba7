#pragma once
// The first hop of every TCP connection: the TLS handshake (on the TLS listener), then read HTTP
// requests and decide what each one is — a WebSocket upgrade for a stage, a request for the HTTP
// handler (management API), or a plain request that gets AWS's answer (426 on a stage URL, 403
// elsewhere).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string_view>

#include "gateway/gateway_context.h"

namespace boost::asio::ssl {
class context;
}

namespace wsgate::gateway {

// Runs on the socket's executor (a strand) until the connection ends. `tls`: the TLS listener's
// context, or null on the plain listener.
boost::asio::awaitable<void> serve_http(GatewayContext& ctx, boost::asio::ip::tcp::socket socket,
                                        boost::asio::ssl::context* tls);

// "/dev", "/dev/", "/dev?x=1" -> "dev"; anything else -> nullopt.
std::optional<std::string_view> stage_of(std::string_view target);

// AWS's error shape: status, x-amzn-ErrorType, JSON {"message": ...}, a request id and a Date.
HttpResponse aws_error(unsigned status, std::string_view error_type, std::string_view message, bool keep_alive);

}  // namespace wsgate::gateway
