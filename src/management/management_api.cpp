#include "management/management_api.h"

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <vector>

#include "common/ids.h"
#include "common/time_format.h"
#include "common/utf8.h"
#include "gateway/http_session.h"
#include "management/connections_target.h"

namespace wsgate::management {

namespace http = boost::beast::http;
using gateway::aws_error;
using gateway::HttpRequest;
using gateway::HttpResponse;
using gateway::SendResult;

namespace {

// Message texts: the model's documentation strings (AWS's own texts are undocumented).
constexpr std::string_view kGone = "The connection with the provided id no longer exists.";
constexpr std::string_view kLimit =
    "The client is sending more than the allowed number of requests per unit of time or the "
    "WebSocket "
    "client side buffer is full.";

HttpResponse success(http::status status) {
    HttpResponse res{status, 11};
    res.set(http::field::server, "wsgate");
    res.set(http::field::date, http_date(std::chrono::system_clock::now()));
    res.set("x-amzn-RequestId", new_uuid());
    return res;
}

}  // namespace

ManagementApi::ManagementApi(const gateway::GatewayContext& ctx)
    : ctx_(ctx), settings_(ctx.settings) {}

bool ManagementApi::matches(std::string_view target) const {
    return mentions_connections(target);
}

HttpResponse ManagementApi::body_too_large(const HttpRequest& header_only) const {
    std::string msg = "The data has exceeded the maximum size allowed (" +
                      std::to_string(kMaxPostBytes) + " bytes)";
    if (const auto len = header_only[http::field::content_length]; !len.empty()) {
        msg += "; the request carried " + std::string(len) + " bytes";
    }
    return aws_error(413, "PayloadTooLargeException", msg + ".", false);
}

boost::asio::awaitable<HttpResponse> ManagementApi::handle(HttpRequest req,
                                                           const boost::asio::ip::tcp::endpoint&) {
    const bool keep_alive = req.keep_alive();
    const std::string method(req.method_string());
    ConnectionsTarget target;
    HttpResponse res;
    if (auto refused = check(req, target)) {
        res = std::move(*refused);
    } else if (const auto conn = ctx_.registry.find(target.connection_id)) {
        res = on_local(req, target, *conn);
    } else if (ctx_.remote != nullptr) {
        res = co_await on_remote(req, target);
    } else {
        res = aws_error(410, "GoneException", kGone, keep_alive);
    }
    count(method, res);
    co_return res;
}

void ManagementApi::count(std::string_view method, const HttpResponse& res) const {
    if (ctx_.node_metrics != nullptr) {
        ctx_.node_metrics->management_request(method, static_cast<int>(res.result_int())).inc();
    }
}

std::optional<HttpResponse> ManagementApi::check(HttpRequest& req,
                                                 ConnectionsTarget& target) const {
    const bool keep_alive = req.keep_alive();
    target = parse_connections_target(req.target());
    // Like AWS, a wrong path or stage is refused before any signature is looked at.
    if (target.shape == ConnectionsTarget::Shape::bad_encoding) {
        return aws_error(400, "BadRequestException", "Invalid percent-encoding in the request path",
                         keep_alive);
    }
    if (target.shape != ConnectionsTarget::Shape::connection || !ctx_.is_stage(target.stage)) {
        return aws_error(403, "ForbiddenException", "Forbidden", keep_alive);
    }
    const auto verb = req.method();
    if (verb != http::verb::post && verb != http::verb::get && verb != http::verb::delete_) {
        return aws_error(403, "ForbiddenException", "Forbidden", keep_alive);
    }

    if (settings_.management.auth == config::ManagementSettings::Auth::sigv4) {
        std::vector<auth::Header> headers;
        headers.reserve(16);
        for (const auto& f : req) headers.push_back({f.name_string(), f.value()});
        const auth::SigV4Request sreq{req.method_string(), req.target(), headers, req.body()};
        auth::VerifyOptions opt;
        opt.region = settings_.management.region;
        opt.now = std::chrono::system_clock::now();
        const auto v = auth::verify(sreq, *ctx_.credentials, opt);
        if (v.status != auth::VerifyStatus::ok) {
            if (ctx_.node_metrics != nullptr) {
                // VerifyStatus lists ok first, then the failures in SigV4Failure's order.
                ctx_.node_metrics
                    ->sigv4_failure(
                        static_cast<observability::SigV4Failure>(static_cast<int>(v.status) - 1))
                    .inc();
            }
            return aws_error(403, v.error_type(), v.message, keep_alive);
        }
    }
    // Throttled after authentication, so that unsigned noise cannot use up the signed callers'
    // rate.
    if (ctx_.management_bucket &&
        !ctx_.management_bucket->try_acquire(std::chrono::steady_clock::now())) {
        return aws_error(429, "LimitExceededException", "Rate exceeded", keep_alive);
    }
    return std::nullopt;
}

HttpResponse ManagementApi::on_local(HttpRequest& req, const ConnectionsTarget& target,
                                     gateway::Connection& conn) const {
    const bool keep_alive = req.keep_alive();
    const auto verb = req.method();
    HttpResponse res;
    if (verb == http::verb::post) {
        const bool text = is_valid_utf8(req.body());
        switch (conn.send(std::make_shared<const std::string>(std::move(req.body())), text)) {
            case SendResult::queued:
                res = success(http::status::ok);
                break;
            // Clients retry 429s, so 429 is only ever answered for a message that was not queued.
            case SendResult::queue_full:
                if (const auto* st = ctx_.stage(target.stage)) st->metrics->send_queue_drops.inc();
                return aws_error(429, "LimitExceededException", kLimit, keep_alive);
            case SendResult::gone:
                return aws_error(410, "GoneException", kGone, keep_alive);
        }
    } else if (verb == http::verb::get) {
        res = success(http::status::ok);
        res.set(http::field::content_type, "application/json");
        res.body() = gateway::connection_info_json(conn.info());
    } else {
        // AWS closes with 1000 and reports "Connection Closed Normally" to $disconnect.
        if (!conn.close(1000, "Connection Closed Normally"))
            return aws_error(410, "GoneException", kGone, keep_alive);
        res = success(http::status::no_content);
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

boost::asio::awaitable<HttpResponse> ManagementApi::on_remote(
    HttpRequest& req, const ConnectionsTarget& target) const {
    using Kind = gateway::RemoteOutcome::Kind;
    const bool keep_alive = req.keep_alive();
    const auto verb = req.method();
    const auto op = verb == http::verb::post  ? gateway::RemoteOp::post
                    : verb == http::verb::get ? gateway::RemoteOp::get
                                              : gateway::RemoteOp::del;
    std::shared_ptr<const std::string> body;
    if (op == gateway::RemoteOp::post)
        body = std::make_shared<const std::string>(std::move(req.body()));
    const gateway::RemoteOutcome out =
        co_await ctx_.remote->forward(op, target.connection_id, std::move(body));
    switch (out.kind) {
        case Kind::gone:
            co_return aws_error(410, "GoneException", kGone, keep_alive);
        case Kind::queue_full:
            co_return aws_error(429, "LimitExceededException", kLimit, keep_alive);
        // Both 5xx answers mean "not performed", so a client's automatic retry is safe.
        case Kind::unavailable:
            co_return aws_error(
                503, "ServiceUnavailableException",
                "The connection is held by another gateway node, which cannot be reached now.",
                keep_alive);
        case Kind::timeout:
            co_return aws_error(
                504, "GatewayTimeoutException",
                "The gateway node holding the connection did not answer in time; nothing was done.",
                keep_alive);
        case Kind::done:
            break;
    }
    HttpResponse res;
    if (op == gateway::RemoteOp::get) {
        res = success(http::status::ok);
        res.set(http::field::content_type, "application/json");
        res.body() = out.body;
    } else {
        res = success(op == gateway::RemoteOp::post ? http::status::ok : http::status::no_content);
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    co_return res;
}

}  // namespace wsgate::management
