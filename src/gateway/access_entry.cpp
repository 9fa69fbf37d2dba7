#include "gateway/access_entry.h"

#include "common/time_format.h"

#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

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
    // $context.authorizer.principalId and .<key>: the $connect authorizer's answer, flattened as
    // in requestContext.authorizer. Non-string context values print as their JSON text (3, false).
    std::vector<observability::AuthorizerProperty> props;
    std::vector<std::string> rendered;
    if (c.authorizer) {
        props.reserve(c.authorizer->size());
        rendered.reserve(c.authorizer->size());  // no reallocation: the views below point into it
        for (const auto& kv : *c.authorizer) {
            std::string_view value;
            if (const auto* str = kv.value().if_string()) {
                value = *str;
            } else {
                rendered.push_back(boost::json::serialize(kv.value()));
                value = rendered.back();
            }
            if (kv.key() == "principalId")
                f.authorizer_principal_id = value;
            else
                props.push_back({kv.key(), value});
        }
        f.authorizer = props;
    }
    ctx.access_log->log(f);
}

}  // namespace wsgate::gateway
