#include "management/management_api.h"

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <vector>

#include "channels/channel_index.h"
#include "channels/channel_name.h"
#include "common/ids.h"
#include "common/time_format.h"
#include "common/utf8.h"
#include "gateway/channel_ops.h"
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
    using Shape = ConnectionsTarget::Shape;
    if (auto refused = check(req, target)) {
        res = std::move(*refused);
    } else if (target.shape == Shape::connection_channel) {
        res = co_await on_membership(req, target);
    } else if (target.shape == Shape::channel && req.method() == http::verb::post) {
        res = co_await on_publish(req, target);
    } else if (target.shape == Shape::channel || target.shape == Shape::connection_list) {
        res = co_await on_listing(req, target);
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
    using Shape = ConnectionsTarget::Shape;
    const bool known_shape =
        target.shape == Shape::connection || target.shape == Shape::connection_list ||
        target.shape == Shape::connection_channel || target.shape == Shape::channel;
    if (!known_shape || !ctx_.is_stage(target.stage)) {
        return aws_error(403, "ForbiddenException", "Forbidden", keep_alive);
    }
    const auto verb = req.method();
    bool verb_ok = false;
    switch (target.shape) {
        case Shape::connection:
            verb_ok =
                verb == http::verb::post || verb == http::verb::get || verb == http::verb::delete_;
            break;
        case Shape::connection_list:
            verb_ok = verb == http::verb::get;
            break;
        case Shape::connection_channel:
            verb_ok = verb == http::verb::put || verb == http::verb::delete_;
            break;
        case Shape::channel:
            verb_ok = verb == http::verb::post || verb == http::verb::get;
            break;
        default:
            break;
    }
    if (!verb_ok) return aws_error(403, "ForbiddenException", "Forbidden", keep_alive);

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
    if ((target.shape == Shape::channel || target.shape == Shape::connection_channel) &&
        !channels::valid_channel_name(target.channel)) {
        return aws_error(400, "BadRequestException",
                         "Invalid channel name: 1-128 characters of A-Z a-z 0-9 . _ - : @",
                         keep_alive);
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
        case Kind::limit:  // join/leave answers; never the outcome of POST, GET or DELETE
        case Kind::not_member:
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

// ---- the broadcast extension (docs/broadcast.md) --------------------------------------------

namespace {

HttpResponse json_response(http::status status, const boost::json::object& body, bool keep_alive) {
    HttpResponse res = success(status);
    res.set(http::field::content_type, "application/json");
    res.body() = boost::json::serialize(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

constexpr std::size_t kDefaultPage = 100;
constexpr std::size_t kMaxPage = 1000;

}  // namespace

boost::asio::awaitable<HttpResponse> ManagementApi::on_membership(
    HttpRequest& req, const ConnectionsTarget& target) const {
    using Kind = gateway::RemoteOutcome::Kind;
    const bool keep_alive = req.keep_alive();
    const auto op =
        req.method() == http::verb::put ? gateway::RemoteOp::join : gateway::RemoteOp::leave;
    Kind outcome = Kind::gone;
    if (const auto conn = ctx_.registry.find(target.connection_id)) {
        outcome = gateway::channel_change(ctx_, conn, op, target.channel);
    } else if (ctx_.remote != nullptr) {
        auto name = std::make_shared<const std::string>(target.channel);
        outcome = (co_await ctx_.remote->forward(op, target.connection_id, std::move(name))).kind;
    }
    switch (outcome) {
        case Kind::done:
            break;
        case Kind::gone:
            co_return aws_error(410, "GoneException", kGone, keep_alive);
        case Kind::limit:
            co_return aws_error(
                429, "LimitExceededException",
                "Channel limit reached (channels.max_per_connection or channels.max_members).",
                keep_alive);
        case Kind::not_member:
            co_return aws_error(404, "NotFoundException",
                                "The connection is not a member of this channel.", keep_alive);
        case Kind::queue_full:
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
    }
    HttpResponse res = success(http::status::no_content);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    co_return res;
}

boost::asio::awaitable<HttpResponse> ManagementApi::on_publish(
    HttpRequest& req, const ConnectionsTarget& target) const {
    const bool keep_alive = req.keep_alive();
    const std::string exclude = query_parameter(req.target(), "exclude").value_or("");
    const bool text = is_valid_utf8(req.body());
    // One buffer for every member on this node (and one per node in a cluster).
    const auto payload = std::make_shared<const std::string>(std::move(req.body()));
    const auto local = ctx_.channels->publish(target.stage, target.channel, payload, text, exclude);
    if (local.dropped > 0) {
        if (const auto* st = ctx_.stage(target.stage))
            st->metrics->send_queue_drops.inc(local.dropped);
    }
    boost::json::object body;
    body["channel"] = target.channel;
    std::size_t delivered = local.delivered;
    std::size_t dropped = local.dropped;
    if (ctx_.remote != nullptr) {
        gateway::FanOut q;
        q.op = gateway::FanOut::Op::publish;
        q.stage = target.stage;
        q.channel = target.channel;
        q.exclude = exclude;
        q.body = payload;
        q.text = text;
        const auto remote = co_await ctx_.remote->fan_out(std::move(q));
        delivered += remote.delivered;
        dropped += remote.dropped;
        body["nodes"] = remote.nodes + 1;
        body["nodesAnswered"] = remote.nodes_answered + 1;
    }
    body["delivered"] = delivered;
    body["dropped"] = dropped;
    co_return json_response(http::status::ok, body, keep_alive);
}

boost::asio::awaitable<HttpResponse> ManagementApi::on_listing(
    HttpRequest& req, const ConnectionsTarget& target) const {
    const bool keep_alive = req.keep_alive();
    std::size_t limit = kDefaultPage;
    if (const auto l = query_parameter(req.target(), "limit")) {
        std::size_t v = 0;
        const auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
        if (ec != std::errc{} || p != l->data() + l->size() || v < 1 || v > kMaxPage) {
            co_return aws_error(400, "BadRequestException",
                                "limit must be an integer from 1 to 1000", keep_alive);
        }
        limit = v;
    }
    const std::string after = query_parameter(req.target(), "nextToken").value_or("");
    const bool channel = target.shape == ConnectionsTarget::Shape::channel;

    std::vector<std::string> ids;
    if (channel) {
        ids = ctx_.channels->members(target.stage, target.channel);
    } else {
        ctx_.registry.for_each([&](gateway::Connection& c) {
            if (c.event_context().stage == target.stage) ids.push_back(c.id());
        });
    }
    if (ctx_.remote != nullptr) {
        gateway::FanOut q;
        q.op = channel ? gateway::FanOut::Op::members : gateway::FanOut::Op::connections;
        q.stage = target.stage;
        q.channel = target.channel;
        auto remote = co_await ctx_.remote->fan_out(std::move(q));
        ids.insert(ids.end(), std::make_move_iterator(remote.ids.begin()),
                   std::make_move_iterator(remote.ids.end()));
    }
    // Sorted ids make the page token simple and stable: the last id of the previous page.
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const auto first =
        after.empty() ? ids.begin() : std::upper_bound(ids.begin(), ids.end(), after);
    const auto last = static_cast<std::size_t>(ids.end() - first) > limit
                          ? first + static_cast<std::ptrdiff_t>(limit)
                          : ids.end();
    boost::json::array page;
    for (auto it = first; it != last; ++it) page.emplace_back(*it);
    boost::json::object body;
    if (channel) {
        body["channel"] = target.channel;
        body["memberCount"] = ids.size();
        body["members"] = std::move(page);
    } else {
        body["connectionCount"] = ids.size();
        body["connections"] = std::move(page);
    }
    if (last != ids.end()) body["nextToken"] = *(last - 1);
    co_return json_response(http::status::ok, body, keep_alive);
}

}  // namespace wsgate::management
