#include "integration/http_proxy_integration.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace wsgate::integration {

namespace http = boost::beast::http;

HttpProxyIntegration::HttpProxyIntegration(std::shared_ptr<HttpIntegration> transport,
                                           config::IntegrationSettings settings)
    : transport_(std::move(transport)), settings_(std::move(settings)) {}

std::shared_ptr<HttpIntegration::Request> HttpProxyIntegration::build_request(std::string body,
                                                                               const ParameterLookup& lookup) const {
    constexpr std::string_view kHeader = "integration.request.header.";
    constexpr std::string_view kQuery = "integration.request.querystring.";
    std::string target = settings_.url.target;
    auto req = std::make_shared<HttpIntegration::Request>(http::string_to_verb(settings_.method), "", 11);
    req->set(http::field::content_type, "text/plain; charset=utf-8");
    for (const auto& [to, from] : settings_.request_parameters) {
        std::optional<std::string> value;
        if (from.size() >= 2 && from.front() == '\'' && from.back() == '\'') {
            value = from.substr(1, from.size() - 2);
        } else if (lookup) {
            value = lookup(from);
        }
        if (!value) continue;  // AWS leaves out a parameter whose source has no value
        if (std::string_view(to).starts_with(kHeader)) {
            req->set(std::string_view(to).substr(kHeader.size()), *value);
        } else {
            target += target.find('?') == std::string::npos ? '?' : '&';
            target += boost::urls::encode(std::string_view(to).substr(kQuery.size()), boost::urls::unreserved_chars);
            target += '=';
            target += boost::urls::encode(*value, boost::urls::unreserved_chars);
        }
    }
    req->target(target);
    req->body() = std::move(body);
    return req;
}

boost::asio::awaitable<Result> HttpProxyIntegration::invoke(Invocation inv) {
    auto req = build_request(std::move(inv.message_body), inv.lookup);
    auto raw = co_await transport_->send(std::move(req), inv.timeout);
    Result r;
    if (raw.failure != Failure::none) {
        r.failure = raw.failure;
        r.detail = std::move(raw.detail);
        co_return r;
    }
    // The backend's status decides a $connect handshake; on message routes its body is the answer
    // whatever the status, as with a Lambda-proxy route response.
    r.response.status_code = static_cast<int>(raw.status);
    if (!raw.body.empty()) r.response.body = std::move(raw.body);
    co_return r;
}

}  // namespace wsgate::integration
