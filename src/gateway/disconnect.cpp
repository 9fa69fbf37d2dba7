#include "gateway/disconnect.h"

#include "common/ids.h"
#include "common/log.h"
#include "common/time_format.h"
#include "gateway/access_entry.h"
#include "integration/context_lookup.h"
#include "observability/metrics.h"

namespace wsgate::gateway {

namespace net = boost::asio;

net::awaitable<void> run_disconnect(GatewayContext& ctx, integration::ConnectionContext c,
                                    std::string host, int code, std::string reason) {
    const std::string request_id = new_aws_id();
    const routing::Route* route = ctx.routes.find("$disconnect");
    if (route == nullptr) {
        log_access(ctx, c, {"DISCONNECT", "$disconnect", request_id, "", code, -1, -1, reason});
        co_return;
    }
    integration::Invocation inv;
    if (route->integration->wants_event()) {
        inv.event_json = integration::disconnect_event(
            c, {request_id, std::chrono::system_clock::now()}, host, code, reason);
    }
    inv.timeout = route->timeout;
    if (route->integration->wants_parameters()) {
        inv.lookup = integration::context_lookup(c, "$disconnect", "DISCONNECT", request_id, "");
    }
    const auto started = std::chrono::steady_clock::now();
    const auto r = co_await route->integration->invoke(std::move(inv));
    const auto latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count();
    log_access(ctx, c,
               {"DISCONNECT", "$disconnect", request_id, "", code,
                r.ok() ? r.response.status_code : -1, latency_ms, reason});
    // The result is ignored, as on AWS; a failure is only worth a log line.
    if (!r.ok()) {
        if (const auto* st = ctx.stage(c.stage))
            st->metrics->per_route("$disconnect").execution_error.inc();
        log::warn("$disconnect integration failed for " + c.connection_id + ": " + r.detail);
    }
}

}  // namespace wsgate::gateway
