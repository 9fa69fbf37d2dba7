#pragma once
// Channel membership changes of one local connection (wsgate's broadcast extension), from the
// management API, from a node forwarding one, or from an integration's response headers.
#include <memory>
#include <string_view>

#include "gateway/connection.h"
#include "gateway/gateway_context.h"
#include "gateway/remote_connections.h"
#include "integration/integration.h"

namespace wsgate::gateway {

// The response headers an integration uses to change the caller's memberships.
inline constexpr std::string_view kJoinChannelsHeader = "X-Wsgate-Channels";
inline constexpr std::string_view kLeaveChannelsHeader = "X-Wsgate-Leave-Channels";

// op: join or leave; the channel is named within the connection's own stage. done, limit (join
// refused by a limit) or not_member (leave).
RemoteOutcome::Kind channel_change(const GatewayContext& ctx, const std::shared_ptr<Connection>& c,
                                   RemoteOp op, std::string_view channel);

// Applies X-Wsgate-Leave-Channels, then X-Wsgate-Channels. Invalid names and refused joins are
// logged and skipped: the client cannot fix a backend's answer.
void apply_channel_headers(const GatewayContext& ctx, const std::shared_ptr<Connection>& c,
                           const integration::ProxyResponse& r);

}  // namespace wsgate::gateway
