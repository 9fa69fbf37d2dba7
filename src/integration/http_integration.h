#pragma once
// A Lambda-proxy integration over HTTP: each event is POSTed as JSON to the backend's URL and the
// answer is read as a Lambda-proxy response. Keep-alive connections are pooled; at most
// `max_connections` requests are in flight, further ones wait (bounded by `max_queued` and by
// their own deadline).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "config/settings.h"
#include "integration/integration.h"

namespace wsgate::observability {
class Gauge;
}

namespace wsgate::integration {

class HttpIntegration final : public Integration, public std::enable_shared_from_this<HttpIntegration> {
  public:
    // `in_use`, if given, follows the number of pool slots lent out (wsgate_backend_pool_in_use).
    HttpIntegration(boost::asio::io_context& ioc, config::IntegrationSettings settings,
                    observability::Gauge* in_use = nullptr);
    ~HttpIntegration() override;

    bool wants_event() const override { return true; }
    // The caller's executor must be a strand (or single-threaded): waiting for a pool slot uses a
    // timer on it that another thread cancels through a post.
    boost::asio::awaitable<Result> invoke(Invocation inv) override;

    // The raw exchange under invoke(): POST `body` as JSON, return the HTTP status and body as
    // they came (used for authorizers, whose answer is not a Lambda-proxy response).
    struct RawResponse {
        Failure failure = Failure::none;
        unsigned status = 0;
        std::string body;
        std::string detail;
    };
    boost::asio::awaitable<RawResponse> post(std::string body,
                                             std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    // Sends a request the caller built (method, target, headers, body; Host is set here).
    using Request = boost::beast::http::request<boost::beast::http::string_body>;
    boost::asio::awaitable<RawResponse> send(std::shared_ptr<Request> req,
                                             std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    const config::IntegrationSettings& settings() const { return settings_; }

  private:
    struct Connection;
    struct Waiter;
    using Clock = std::chrono::steady_clock;
    struct Slot {
        Failure failure = Failure::none;
        std::unique_ptr<Connection> conn;  // null: open a new one
    };

    boost::asio::awaitable<Slot> acquire(Clock::time_point deadline);
    void release(std::unique_ptr<Connection> conn);
    boost::asio::awaitable<RawResponse> exchange(Connection& c, std::shared_ptr<Request> req,
                                                 Clock::time_point deadline);

    void publish_in_use();  // under mu_

    boost::asio::io_context& ioc_;
    const config::IntegrationSettings settings_;
    observability::Gauge* const in_use_gauge_;

    std::mutex mu_;  // guards everything below
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t in_use_ = 0;  // slots handed out (<= max_connections)
    std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace wsgate::integration
