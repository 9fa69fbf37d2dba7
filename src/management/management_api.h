#pragma once
// The @connections management API (PostToConnection, GetConnection, DeleteConnection) on the
// gateway's own port, as on AWS. Every answer has AWS's shape: the status, x-amzn-ErrorType and a
// JSON {"message"} on errors, x-amzn-RequestId and an accurate Date always (docs/contract.md §1).
#include "auth/sigv4.h"
#include "config/settings.h"
#include "gateway/connection_registry.h"
#include "gateway/gateway_context.h"
#include "gateway/http_handler.h"
#include "management/connections_target.h"

namespace wsgate::management {

// PostToConnection's model limit for Data.
inline constexpr std::size_t kMaxPostBytes = 131072;

class ManagementApi final : public gateway::HttpHandler {
  public:
    // The context supplies the settings, the registry, the credentials, the node's metrics and the
    // management throttle.
    explicit ManagementApi(const gateway::GatewayContext& ctx);

    bool matches(std::string_view target) const override;
    gateway::HttpResponse body_too_large(const gateway::HttpRequest& header_only) const override;
    std::size_t max_body_bytes() const override { return kMaxPostBytes; }
    boost::asio::awaitable<gateway::HttpResponse> handle(
        gateway::HttpRequest req, const boost::asio::ip::tcp::endpoint& peer) override;

  private:
    // Path, stage, method, signature and throttle: an answer when the call goes no further.
    std::optional<gateway::HttpResponse> check(gateway::HttpRequest& req,
                                               ConnectionsTarget& target) const;
    // The call on a connection this node holds (synchronous: nothing waits on I/O).
    gateway::HttpResponse on_local(gateway::HttpRequest& req, const ConnectionsTarget& target,
                                   gateway::Connection& conn) const;
    // Cluster mode: the call forwarded to the node that holds the connection.
    boost::asio::awaitable<gateway::HttpResponse> on_remote(gateway::HttpRequest& req,
                                                            const ConnectionsTarget& target) const;
    void count(std::string_view method, const gateway::HttpResponse& res) const;
    // The broadcast extension: PUT/DELETE .../@connections/{id}/channels/{name}, POST and GET
    // /{stage}/@channels/{name}, GET /{stage}/@connections.
    boost::asio::awaitable<gateway::HttpResponse> on_membership(
        gateway::HttpRequest& req, const ConnectionsTarget& target) const;
    boost::asio::awaitable<gateway::HttpResponse> on_publish(gateway::HttpRequest& req,
                                                             const ConnectionsTarget& target) const;
    boost::asio::awaitable<gateway::HttpResponse> on_listing(gateway::HttpRequest& req,
                                                             const ConnectionsTarget& target) const;

    const gateway::GatewayContext& ctx_;
    const config::Settings& settings_;
};

}  // namespace wsgate::management
