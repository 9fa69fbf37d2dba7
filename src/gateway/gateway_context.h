#pragma once
// The state every session shares: immutable settings and routes, the registry, and the shutdown
// flag. Built once by Server before the first connection is accepted.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "auth/authorizer.h"
#include "auth/sigv4.h"
#include "common/token_bucket.h"
#include "observability/access_log.h"
#include "observability/metrics.h"

#include "config/settings.h"
#include "gateway/connection_registry.h"
#include "gateway/http_handler.h"
#include "gateway/remote_connections.h"
#include "routing/route_table.h"
#include "routing/selection_expression.h"

namespace wsgate::integration {
class HttpIntegration;
}
namespace wsgate::channels {
class ChannelIndex;
}

namespace wsgate::gateway {

// The $connect Lambda REQUEST authorizer, reached over HTTP.
struct ConnectAuthorizer {
    std::shared_ptr<integration::HttpIntegration> backend;
    std::vector<auth::IdentitySource> sources;  // all must be present, else 401 without a call
    std::unique_ptr<auth::AuthorizerCache> cache;  // null: every connection asks
};

// What one stage has of its own: its metric series and its throttles.
struct StageState {
    observability::GatewayMetrics* metrics = nullptr;
    std::unique_ptr<TokenBucket> messages;  // null: not throttled
    std::unordered_map<std::string, std::unique_ptr<TokenBucket>> routes;

    // The bucket a message on `route_key` draws from, or nullptr (AWS: route settings override the
    // stage's defaults).
    TokenBucket* bucket_for(const std::string& route_key) const {
        if (const auto it = routes.find(route_key); it != routes.end()) return it->second.get();
        return messages.get();
    }
};

struct GatewayContext {
    GatewayContext(const config::Settings& s, routing::SelectionExpression sel, routing::RouteTable rt,
                   ConnectionRegistry& reg)
        : settings(s), selection(std::move(sel)), routes(std::move(rt)), registry(reg) {}

    const config::Settings& settings;
    const routing::SelectionExpression selection;
    const routing::RouteTable routes;
    ConnectionRegistry& registry;
    HttpHandler* http_handler = nullptr;  // the management API; set before start

    // Built by Server before the first accept, immutable afterwards (the buckets and metrics
    // themselves are thread-safe).
    std::map<std::string, StageState, std::less<>> stages;
    std::unique_ptr<TokenBucket> connect_bucket;     // null: new connections not throttled
    std::unique_ptr<TokenBucket> management_bucket;  // null: management calls not throttled
    observability::NodeMetrics* node_metrics = nullptr;
    const observability::AccessLogger* access_log = nullptr;  // null: no access log
    std::unique_ptr<ConnectAuthorizer> authorizer;            // null: no authorizer on $connect
    // Who may sign: the management API and AWS_IAM on $connect verify against the same store (and
    // share its signing-key cache).
    std::unique_ptr<auth::CredentialStore> credentials;
    bool connect_requires_iam = false;  // routes.$connect.authorization_type: AWS_IAM
    // Cluster mode: connections held by other nodes. Null on a single node.
    RemoteConnections* remote = nullptr;
    // The broadcast extension's channel memberships of local connections.
    channels::ChannelIndex* channels = nullptr;

    std::atomic<bool> shutting_down{false};
    // WebSocket sessions from the upgrade request until their $disconnect has returned; the drain
    // waits for this to reach zero.
    std::atomic<std::size_t> live_sessions{0};
    // Connections past their handshake and still registered; bounded by connection.max_connections.
    std::atomic<std::size_t> open_connections{0};

    bool is_stage(std::string_view name) const { return stages.find(name) != stages.end(); }
    const StageState* stage(std::string_view name) const {
        const auto it = stages.find(name);
        return it == stages.end() ? nullptr : &it->second;
    }
};

}  // namespace wsgate::gateway
