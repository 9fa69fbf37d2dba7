#pragma once
// The admin port: GET /metrics (Prometheus text), /healthz (the process answers), /readyz (it
// accepts new connections: 503 once draining). Separate from the public port so that metrics are
// never exposed to WebSocket clients by accident.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/gateway_context.h"

namespace wsgate::gateway {

boost::asio::awaitable<void> serve_admin(const observability::Registry& metrics, const GatewayContext& ctx,
                                         boost::asio::ip::tcp::socket socket);

}  // namespace wsgate::gateway
