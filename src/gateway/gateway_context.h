#pragma once
// The state every session shares: immutable settings and routes, the registry, and the shutdown
// flag. Built once by Server before the first connection is accepted.
#include <algorithm>
#include <atomic>
#include <string_view>

#include "config/settings.h"
#include "gateway/connection_registry.h"
#include "gateway/http_handler.h"
#include "routing/route_table.h"
#include "routing/selection_expression.h"

namespace wsgate::gateway {

struct GatewayContext {
    GatewayContext(const config::Settings& s, routing::SelectionExpression sel, routing::RouteTable rt,
                   ConnectionRegistry& reg)
        : settings(s), selection(std::move(sel)), routes(std::move(rt)), registry(reg) {}

    const config::Settings& settings;
    const routing::SelectionExpression selection;
    const routing::RouteTable routes;
    ConnectionRegistry& registry;
    HttpHandler* http_handler = nullptr;  // the management API; set before start

    std::atomic<bool> shutting_down{false};
    // WebSocket sessions from the upgrade request until their $disconnect has returned; the drain
    // waits for this to reach zero.
    std::atomic<std::size_t> live_sessions{0};
    // Connections past their handshake and still registered; bounded by connection.max_connections.
    std::atomic<std::size_t> open_connections{0};

    bool is_stage(std::string_view name) const {
        return std::find(settings.stages.begin(), settings.stages.end(), name) != settings.stages.end();
    }
};

}  // namespace wsgate::gateway
