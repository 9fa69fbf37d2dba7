#include "gateway/access_entry.h"

#include "common/time_format.h"

namespace wsgate::gateway {

void log_access(const GatewayContext& ctx, const integration::ConnectionContext& c,
                const AccessEntry& e) {
    if (ctx.access_log == nullptr) return;
    observability::AccessLogFields f;
    f.request_id = e.request_id;
    f.extended_request_id = e.request_id;
    f.connection_id = c.connection_id;
    f.event_type = e.event_type;
    f.route_key = e.route_key;
    f.stage = c.stage;
    f.api_id = c.api_id;
    f.domain_name = c.domain_name;
    f.message_id = e.message_id;
    f.source_ip = c.source_ip;
    if (c.user_agent) f.user_agent = *c.user_agent;
    f.status = e.status;
    f.request_time = std::chrono::system_clock::now();
    f.connected_at_ms = c.connected_at_ms;
    f.integration_status = e.integration_status;
    f.integration_latency_ms = e.integration_latency_ms;
    f.error_message = e.error;
    ctx.access_log->log(f);
}

}  // namespace wsgate::gateway
