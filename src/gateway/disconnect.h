#pragma once
// $disconnect for one connection: the DISCONNECT event to the route's integration, the access-log
// line and the metrics. A session calls it when its connection ends; in cluster mode a surviving
// node calls it for the connections of a node that died.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "gateway/gateway_context.h"
#include "integration/events.h"

namespace wsgate::gateway {

// `host`: the Host header of the upgrade request (the event repeats it). The integration's answer
// is ignored, as on AWS.
boost::asio::awaitable<void> run_disconnect(GatewayContext& ctx, integration::ConnectionContext c,
                                            std::string host, int code, std::string reason);

}  // namespace wsgate::gateway
