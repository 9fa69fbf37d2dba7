#pragma once
// One access-log line for an event of a connection (when an access log is configured).
#include <cstdint>
#include <string_view>

#include "gateway/gateway_context.h"
#include "integration/events.h"

namespace wsgate::gateway {

struct AccessEntry {
    std::string_view event_type;
    std::string_view route_key;
    std::string_view request_id;
    std::string_view message_id;
    int status = -1;
    int integration_status = -1;
    std::int64_t integration_latency_ms = -1;
    std::string_view error;
};

void log_access(const GatewayContext& ctx, const integration::ConnectionContext& c,
                const AccessEntry& e);

}  // namespace wsgate::gateway
