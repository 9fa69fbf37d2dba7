#pragma once
// AWS's HTTP_PROXY integration for WebSocket routes: the client's message is the request body,
// request parameters map context values (connectionId, routeKey, ...) to headers and query
// parameters, and the backend's response body is the answer (sent back when the route has a route
// response). No Lambda-proxy event, no client headers forwarded: only what the mapping names.
#include <memory>

#include "config/settings.h"
#include "integration/http_integration.h"
#include "integration/integration.h"

namespace wsgate::integration {

class HttpProxyIntegration final : public Integration {
  public:
    // `transport` is the keep-alive pool for the integration's URL.
    HttpProxyIntegration(std::shared_ptr<HttpIntegration> transport, config::IntegrationSettings settings);

    bool wants_event() const override { return false; }
    bool wants_parameters() const override { return true; }
    boost::asio::awaitable<Result> invoke(Invocation inv) override;

    // The request invoke() would send for `body` with these lookups (exposed for tests).
    std::shared_ptr<HttpIntegration::Request> build_request(std::string body, const ParameterLookup& lookup) const;

  private:
    std::shared_ptr<HttpIntegration> transport_;
    const config::IntegrationSettings settings_;
};

}  // namespace wsgate::integration
