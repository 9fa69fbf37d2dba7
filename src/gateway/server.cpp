#include "gateway/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/log.h"
#include "config/load.h"
#include "gateway/admin_listener.h"
#include "gateway/http_session.h"
#include "gateway/tls.h"
#include "integration/echo_integration.h"
#include "integration/http_integration.h"
#include "integration/http_proxy_integration.h"

namespace wsgate::gateway {

namespace net = boost::asio;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

unsigned thread_count(unsigned configured) {
    if (configured != 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Server::Server(const config::Settings& settings)
    : settings_(settings),
      threads_(thread_count(settings.threads)),
      ioc_(static_cast<int>(threads_)),
      acceptor_strand_(net::make_strand(ioc_)),
      acceptor_(acceptor_strand_),
      admin_acceptor_(acceptor_strand_),
      tls_acceptor_(acceptor_strand_),
      signals_(ioc_, SIGINT, SIGTERM) {
    for (const auto& [name, is] : settings.integrations) {
        switch (is.type) {
            case config::IntegrationSettings::Type::echo:
                integrations_[name] = std::make_shared<integration::EchoIntegration>();
                break;
            case config::IntegrationSettings::Type::http:
                integrations_[name] = std::make_shared<integration::HttpIntegration>(
                    ioc_, is, &node_metrics_.backend_pool_in_use(name));
                break;
            case config::IntegrationSettings::Type::http_proxy:
                integrations_[name] = std::make_shared<integration::HttpProxyIntegration>(
                    std::make_shared<integration::HttpIntegration>(ioc_, is, &node_metrics_.backend_pool_in_use(name)),
                    is);
                break;
        }
    }
    routing::RouteTable routes;
    for (const auto& [key, rs] : settings.routes) {
        routes.add({key, integrations_.at(rs.integration), rs.route_response, rs.timeout});
    }
    std::string err;
    auto sel = routing::SelectionExpression::compile(settings.route_selection_expression, &err);
    if (!sel) throw config::ConfigError("config: api.route_selection_expression: " + err);
    ctx_ =
        std::make_unique<GatewayContext>(settings, std::move(*sel), std::move(routes), registry_);
    build_stages();
    open_access_log();
    if (settings.tls.enabled) {
        // Before anything listens: a bad certificate or key is a configuration error.
        std::string tls_err;
        tls_context_ = make_tls_context(settings.tls, &tls_err);
        if (!tls_context_) throw config::ConfigError("config: " + tls_err);
    }

    boost::system::error_code ec;
    const auto addr = net::ip::make_address(settings.listen_address, ec);
    if (ec) throw std::runtime_error("listen: bad address '" + settings.listen_address + "'");
    const tcp::endpoint ep(addr, settings.listen_port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec)
        throw std::runtime_error("listen: cannot bind " + settings.listen_address + ":" +
                                 std::to_string(settings.listen_port) + ": " + ec.message());
    acceptor_.listen(net::socket_base::max_listen_connections);

    const auto& obs = settings.observability;
    if (!obs.admin_address.empty()) {
        const tcp::endpoint admin(net::ip::make_address(obs.admin_address), obs.admin_port);
        admin_acceptor_.open(admin.protocol());
        admin_acceptor_.set_option(tcp::acceptor::reuse_address(true));
        admin_acceptor_.bind(admin, ec);
        if (ec)
            throw std::runtime_error("admin.listen: cannot bind " + obs.admin_address + ":" +
                                     std::to_string(obs.admin_port) + ": " + ec.message());
        admin_acceptor_.listen();
    }
    if (tls_context_) open_tls_listener();

    // Installed before main() prints the banner: a SIGTERM that follows the banner at once must
    // still drain rather than kill the process.
    signals_.async_wait([this](const boost::system::error_code& sig_ec, int sig) {
        if (sig_ec) return;
        log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                  ", draining");
        stop();
    });
}

Server::~Server() = default;

namespace {

std::unique_ptr<TokenBucket> make_bucket(const config::ThrottleSettings& t) {
    if (!t.enabled) return nullptr;
    return std::make_unique<TokenBucket>(t.rate_limit, t.burst_limit);
}

}  // namespace

void Server::build_stages() {
    const auto& t = settings_.throttling;
    for (const auto& name : settings_.stages) {
        auto metrics =
            std::make_unique<observability::GatewayMetrics>(metrics_, settings_.api_id, name);
        // Register every configured route's series now, so that a route with no traffic yet still
        // shows as zero and the message path never takes the registration lock.
        for (const auto& [key, route] : settings_.routes) (void)metrics->per_route(key);
        (void)metrics->per_route(observability::kNoRoute);
        StageState st;
        st.metrics = metrics.get();
        st.messages = make_bucket(t.messages);
        for (const auto& [key, limits] : t.routes) st.routes[key] = make_bucket(limits);
        ctx_->stages.emplace(name, std::move(st));
        stage_metrics_.push_back(std::move(metrics));
    }
    ctx_->connect_bucket = make_bucket(t.connections);
    std::vector<auth::Credential> creds;
    for (const auto& c : settings_.management.credentials) {
        creds.push_back({c.access_key_id, c.secret_access_key, c.session_token});
    }
    ctx_->credentials = std::make_unique<auth::CredentialStore>(std::move(creds));
    const auto connect = settings_.routes.find("$connect");
    ctx_->connect_requires_iam = connect != settings_.routes.end() && connect->second.aws_iam;
    if (const auto& a = settings_.authorizer; !a.integration.empty()) {
        auto authz = std::make_unique<ConnectAuthorizer>();
        authz->backend = std::dynamic_pointer_cast<integration::HttpIntegration>(
            integrations_.at(a.integration));
        std::string err;
        auto sources = auth::parse_identity_sources(a.identity_source, &err);
        if (!sources) throw config::ConfigError("config: authorizer.identity_source: " + err);
        authz->sources = std::move(*sources);
        if (a.cache_ttl.count() > 0)
            authz->cache = std::make_unique<auth::AuthorizerCache>(a.cache_ttl, 10'000);
        ctx_->authorizer = std::move(authz);
    }
    ctx_->management_bucket = make_bucket(t.management);
    channels_ = std::make_unique<channels::ChannelIndex>(channels::ChannelLimits{
        settings_.channels.max_per_connection, settings_.channels.max_members});
    ctx_->channels = channels_.get();
    ctx_->node_metrics = &node_metrics_;
}

void Server::open_access_log() {
    const auto& obs = settings_.observability;
    if (obs.access_log_destination.empty()) return;
    const std::string_view format =
        obs.access_log_format == "default" ? observability::kDefaultAccessLogFormat
        : obs.access_log_format == "clf"   ? observability::kCommonLogFormat
                                           : std::string_view(obs.access_log_format);
    std::string err;
    auto tmpl = observability::AccessLogTemplate::compile(format, &err);
    if (!tmpl) throw config::ConfigError("config: access_log.format: " + err);
    for (const auto& v : tmpl->unrecognized_variables()) {
        log::warn("access_log.format: unknown variable $context." + v + " (it will print as -)");
    }
    auto sink = observability::AccessLogSink::open(obs.access_log_destination, &err);
    if (!sink) throw config::ConfigError("config: access_log.destination: " + err);
    access_log_ = std::make_unique<observability::AccessLogger>(std::move(*tmpl), std::move(sink));
    ctx_->access_log = access_log_.get();
}

std::optional<tcp::endpoint> Server::admin_endpoint() const {
    if (!admin_acceptor_.is_open()) return std::nullopt;
    return admin_acceptor_.local_endpoint();
}

// wss:// and https:// on a port of their own, served exactly like the plain port once the TLS
// handshake is done.
void Server::open_tls_listener() {
    const auto& t = settings_.tls;
    boost::system::error_code ec;
    const tcp::endpoint ep(net::ip::make_address(t.listen_address), t.listen_port);
    tls_acceptor_.open(ep.protocol());
    tls_acceptor_.set_option(tcp::acceptor::reuse_address(true));
    tls_acceptor_.bind(ep, ec);
    if (ec) throw std::runtime_error("tls.listen: cannot bind " + t.listen_address + ":" +
                                     std::to_string(t.listen_port) + ": " + ec.message());
    tls_acceptor_.listen(net::socket_base::max_listen_connections);
}

std::optional<tcp::endpoint> Server::tls_endpoint() const {
    if (!tls_acceptor_.is_open()) return std::nullopt;
    return tls_acceptor_.local_endpoint();
}

void Server::run() {
    net::co_spawn(acceptor_strand_, accept_loop(acceptor_, nullptr), net::detached);
    if (tls_acceptor_.is_open()) {
        net::co_spawn(acceptor_strand_, accept_loop(tls_acceptor_, tls_context_.get()), net::detached);
    }
    if (admin_acceptor_.is_open()) net::co_spawn(acceptor_strand_, admin_accept_loop(), net::detached);

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads_; ++i) pool.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : pool) t.join();
}

void Server::stop() {
    if (stopping_.exchange(true)) return;
    net::co_spawn(acceptor_strand_, drain(), net::detached);
}

net::any_io_executor Server::connection_executor() {
    if (threads_ == 1) return ioc_.get_executor();
    return net::make_strand(ioc_);
}

net::awaitable<void> Server::accept_loop(tcp::acceptor& acceptor, net::ssl::context* tls) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(connection_executor(), use_tuple);
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or similar: back off briefly rather than spin; existing
            // connections keep being served meanwhile.
            log::warn("accept failed: " + ec.message());
            net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(50));
            (void)co_await t.async_wait(use_tuple);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        const auto ex = socket.get_executor();
        net::co_spawn(ex, serve_http(*ctx_, std::move(socket), tls), net::detached);
    }
}

net::awaitable<void> Server::admin_accept_loop() {
    for (;;) {
        auto [ec, socket] =
            co_await admin_acceptor_.async_accept(connection_executor(), use_tuple);
        if (ec == net::error::operation_aborted || !admin_acceptor_.is_open()) co_return;
        if (ec) continue;
        const auto ex = socket.get_executor();
        net::co_spawn(ex, serve_admin(metrics_, *ctx_, std::move(socket)), net::detached);
    }
}

net::awaitable<void> Server::drain() {
    ctx_->shutting_down = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    tls_acceptor_.close(ec);
    registry_.for_each([](Connection& c) { c.close(1001, "Going away"); });

    // Wait for every session to finish its close handshake and $disconnect, within the bound.
    net::steady_timer tick(ioc_);
    const auto deadline = std::chrono::steady_clock::now() + settings_.drain_timeout;
    bool aborted = false;
    while (ctx_->live_sessions.load() > 0) {
        if (!aborted &&
            std::chrono::steady_clock::now() >= deadline - settings_.drain_timeout / 2) {
            // Half the budget is gone: peers that ignore our close frame lose their socket, which
            // still ends their session through the normal path ($disconnect with 1001).
            registry_.for_each([](Connection& c) { c.abort(); });
            aborted = true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            log::warn(std::to_string(ctx_->live_sessions.load()) +
                      " session(s) still open at the drain deadline");
            break;
        }
        tick.expires_after(std::chrono::milliseconds(10));
        (void)co_await tick.async_wait(use_tuple);
    }
    // Cluster mode: every local $disconnect has run; tell the cluster this node leaves on purpose.
    if (ctx_->remote != nullptr) co_await ctx_->remote->leave();
    admin_acceptor_.close(ec);
    log::info("drained; exiting");
    ioc_.stop();
}

}  // namespace wsgate::gateway
