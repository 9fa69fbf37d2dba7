#include "cluster/cluster_node.h"

#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_set>
#include <vector>

#include "channels/channel_index.h"
#include "cluster/connection_record.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time_format.h"
#include "common/utf8.h"
#include "gateway/channel_ops.h"
#include "gateway/connection.h"
#include "gateway/disconnect.h"

namespace wsgate::cluster {

namespace net = boost::asio;
using gateway::RemoteOp;
using gateway::RemoteOutcome;
using Kind = gateway::RemoteOutcome::Kind;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Lua keeps each multi-key step atomic on the Redis side (a standalone Redis, not Redis Cluster:
// the scripts build key names from their arguments).

// KEYS: conn:<id>, conns:<node>. ARGV: node, record, id. 0 if another node holds the id.
constexpr std::string_view kRegister = R"(
local owner = redis.call('HGET', KEYS[1], 'node')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'rec', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1)";

// KEYS: conn:<id>, conns:<node>. ARGV: node, id.
constexpr std::string_view kUnregister = R"(
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[2])
return 1)";

// KEYS: conn:<id>. ARGV: the prefix of liveness keys. {owner, 1 if the owner is alive} or nil.
constexpr std::string_view kLocate = R"(
local owner = redis.call('HGET', KEYS[1], 'node')
if not owner then return nil end
return {owner, redis.call('EXISTS', ARGV[1] .. owner)})";

// KEYS: nodes. ARGV: the prefix of liveness keys. The registered nodes whose liveness key expired.
constexpr std::string_view kDeadNodes = R"(
local dead = {}
for _, n in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. n) == 0 then dead[#dead + 1] = n end
end
return dead)";

// KEYS: conns:<dead>, reaped:<dead>, node:<dead>. ARGV: batch size, prefix of conn keys, dead node,
// marker TTL (ms). Pops a batch of the dead node's connections and returns their records; SPOP
// hands each id to one caller only, which is what makes $disconnect run once. Stops (returns an
// empty list) if the node came back meanwhile.
constexpr std::string_view kReapBatch = R"(
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local ids = redis.call('SPOP', KEYS[1], ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  local k = ARGV[2] .. id
  local rec = redis.call('HGET', k, 'rec')
  if redis.call('HGET', k, 'node') == ARGV[3] then redis.call('DEL', k) end
  redis.call('SADD', KEYS[2], id)
  if rec then out[#out + 1] = rec end
end
if #ids > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return out)";

constexpr std::size_t kReapBatchSize = 200;
// How long a returning node can learn which of its connections were reaped while it was away.
constexpr std::chrono::hours kReapedMarkerTtl{1};
constexpr std::chrono::seconds kReapLockTtl{30};

std::string host_name() {
    std::array<char, 256> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "node";
    std::string h(buf.data());
    for (auto& ch : h) {
        const bool ok =
            std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
        if (!ok) ch = '_';
    }
    return h;
}

std::int64_t epoch_ms_now() {
    return epoch_millis(std::chrono::system_clock::now());
}

std::string ms(std::chrono::milliseconds d) {
    return std::to_string(d.count());
}

}  // namespace

ClusterNode::ClusterNode(gateway::GatewayContext& ctx, const net::any_io_executor& ex)
    : ctx_(ctx),
      settings_(ctx.settings.cluster),
      ex_(ex),
      strand_(net::make_strand(ex)),
      prefix_(settings_.key_prefix) {
    // The incarnation: 8 characters of a fresh random id.
    node_id_ = (settings_.node_id.empty() ? host_name() : settings_.node_id) + "#" +
               new_aws_id().substr(0, 8);
    rpc_channel_ = key("rpc:" + node_id_);
    reply_channel_ = key("reply:" + node_id_);
    fan_out_channel_ = key("fanout");
    RedisEndpoint ep;
    ep.host = settings_.redis_host;
    ep.port = settings_.redis_port;
    ep.username = settings_.redis_username;
    ep.password = settings_.redis_password;
    ep.db = settings_.redis_db;
    commands_ = std::make_shared<RedisClient>(ex, ep, "commands");
    bus_ = std::make_shared<RedisClient>(ex, ep, "bus");
    const auto reply_timeout = std::max(settings_.node_ttl, std::chrono::milliseconds(1'000));
    commands_->set_reply_timeout(reply_timeout);
    bus_->set_reply_timeout(reply_timeout);
}

ClusterNode::~ClusterNode() {
    commands_->stop();
    bus_->stop();
}

void ClusterNode::start() {
    bus_->set_subscriptions({rpc_channel_, reply_channel_, fan_out_channel_},
                            [this](std::string_view channel, std::string_view payload) {
                                on_bus_message(channel, payload);
                            });
    commands_->set_on_connected([this] { net::co_spawn(strand_, rejoin(), net::detached); });
    commands_->start();
    bus_->start();
    net::co_spawn(strand_, heartbeat_loop(), net::detached);
    log::info("cluster: node " + node_id_ + " using redis://" + settings_.redis_host + ":" +
              std::to_string(settings_.redis_port) + " (key prefix \"" + prefix_ + "\")");
}

// ---- registration ---------------------------------------------------------------------------

void ClusterNode::register_connection(gateway::Connection& c) {
    const std::string& id = c.id();
    commands_->command(
        {"EVAL", std::string(kRegister), "2", key("conn:" + id), key("conns:" + node_id_), node_id_,
         encode_record(c.event_context(), c.host_header()), id},
        [this, id](boost::system::error_code ec, const RedisReply& r) {
            if (ec)
                return;  // Redis is down: rejoin() registers every live connection when it returns
            if (r.is_error()) {
                log::warn("cluster: registering " + id + " failed: " + r.str);
                return;
            }
            if (r.integer == 0) {
                // Two nodes drew the same 86 random bits. The newcomer leaves; the id stays unique.
                log::error("cluster: connection id " + id +
                           " is already held by another node; closing it here");
                if (auto conn = ctx_.registry.find(id)) conn->close(1011, "Internal server error");
            }
        });
}

void ClusterNode::connection_added(gateway::Connection& c) {
    std::lock_guard lock(registration_mu_);
    register_connection(c);
}

void ClusterNode::connection_removed(std::string_view id) {
    std::lock_guard lock(registration_mu_);
    unregister_pending_.emplace(id);
    send_unregister(std::string(id));
}

// Under registration_mu_. The id stays in unregister_pending_ until Redis has applied the removal:
// one that fails (Redis unreachable) is sent again by rejoin(); a stale record would otherwise
// outlive the connection and earn it a second $disconnect should this node die later.
void ClusterNode::send_unregister(std::string id) {
    commands_->command({"EVAL", std::string(kUnregister), "2", key("conn:" + id),
                        key("conns:" + node_id_), node_id_, id},
                       [this, id](boost::system::error_code ec, const RedisReply& r) {
                           if (ec || r.is_error()) return;
                           std::lock_guard lock(registration_mu_);
                           unregister_pending_.erase(id);
                       });
}

// After every (re)connect of the command connection: liveness first (so no one starts reaping
// this node), then the connections other nodes reaped while this one was cut off, then every
// live local connection registered again (Redis may have restarted empty).
net::awaitable<void> ClusterNode::rejoin() {
    if (leaving_) co_return;
    std::vector<std::string> cmd0{"SET", key("node:" + node_id_), std::to_string(epoch_ms_now()),
                                  "PX", ms(settings_.node_ttl)};
    (void)co_await commands_->async_command(std::move(cmd0), use_tuple);
    std::vector<std::string> cmd1{"SADD", key("nodes"), node_id_};
    (void)co_await commands_->async_command(std::move(cmd1), use_tuple);
    std::vector<std::string> cmd2{"SMEMBERS", key("reaped:" + node_id_)};
    auto [ec, reaped] = co_await commands_->async_command(std::move(cmd2), use_tuple);
    if (ec) co_return;  // dropped again; the next connect runs rejoin() anew
    std::unordered_set<std::string> gone;
    for (const auto& e : reaped.elements) gone.insert(e.str);
    if (!gone.empty()) {
        log::warn("cluster: this node was declared dead while cut off from Redis; " +
                  std::to_string(gone.size()) +
                  " of its connections already had $disconnect run elsewhere and are closed now");
        for (const auto& id : gone) {
            if (auto c = ctx_.registry.find(id)) c->close_after_remote_disconnect();
        }
        commands_->command({"DEL", key("reaped:" + node_id_)});
    }
    std::size_t n = 0;
    ctx_.registry.for_each([&](gateway::Connection& c) {
        if (gone.contains(c.id())) return;
        std::lock_guard lock(registration_mu_);
        // Looked up again under the lock: a connection removed since the snapshot must not be
        // registered after its removal was queued.
        if (!ctx_.registry.find(c.id())) return;
        register_connection(c);
        ++n;
    });
    if (n > 0)
        log::info("cluster: registered " + std::to_string(n) +
                  " connection(s) again after reconnecting");
    {
        std::lock_guard lock(registration_mu_);
        for (const auto& id : unregister_pending_) send_unregister(id);
    }
}

// ---- liveness and reaping -------------------------------------------------------------------

net::awaitable<void> ClusterNode::heartbeat_loop() {
    net::steady_timer tick(strand_);
    while (!leaving_) {
        if (commands_->connected()) {
            // GET returns the previous value: none means the key had expired — this node was
            // stalled (a VM pause, a stopped process) or cut off for longer than node_ttl_ms and
            // may have been reaped while its connection to Redis stayed open. rejoin() finds out.
            std::vector<std::string> beat{
                "SET", key("node:" + node_id_), std::to_string(epoch_ms_now()),
                "PX",  ms(settings_.node_ttl),  "GET"};
            auto [hec, previous] = co_await commands_->async_command(std::move(beat), use_tuple);
            if (!hec && previous.is_nil() && !leaving_) {
                log::warn(
                    "cluster: this node's liveness key had expired; checking whether it was "
                    "reaped");
                co_await rejoin();
            }
            commands_->command({"SADD", key("nodes"), node_id_});
            std::vector<std::string> cmd3{"EVAL", std::string(kDeadNodes), "1", key("nodes"),
                                          key("node:")};
            auto [ec, dead] = co_await commands_->async_command(std::move(cmd3), use_tuple);
            for (const auto& d : ec ? std::vector<RedisReply>{} : dead.elements) {
                if (d.str == node_id_) continue;
                std::vector<std::string> cmd4{
                    "SET",
                    key("reaping:" + d.str),
                    node_id_,
                    "NX",
                    "PX",
                    ms(std::chrono::duration_cast<std::chrono::milliseconds>(kReapLockTtl))};
                auto [lec, lock] = co_await commands_->async_command(std::move(cmd4), use_tuple);
                if (!lec && lock.type == RedisReply::Type::status)
                    net::co_spawn(strand_, reap(d.str), net::detached);
            }
        }
        tick.expires_after(settings_.heartbeat);
        (void)co_await tick.async_wait(use_tuple);
    }
}

net::awaitable<void> ClusterNode::reap(std::string dead) {
    log::warn("cluster: node " + dead +
              " missed its heartbeat; running $disconnect for its connections");
    std::size_t total = 0;
    for (;;) {
        std::vector<std::string> cmd5{
            "EVAL",
            std::string(kReapBatch),
            "3",
            key("conns:" + dead),
            key("reaped:" + dead),
            key("node:" + dead),
            std::to_string(kReapBatchSize),
            key("conn:"),
            dead,
            ms(std::chrono::duration_cast<std::chrono::milliseconds>(kReapedMarkerTtl))};
        auto [ec, batch] = co_await commands_->async_command(std::move(cmd5), use_tuple);
        if (ec || batch.is_error()) {
            // Redis went away mid-way: the lock expires and whoever holds it next goes on.
            log::warn("cluster: reaping " + dead + " interrupted" + (ec ? "" : ": " + batch.str));
            co_return;
        }
        if (batch.elements.empty()) break;
        // The DISCONNECT events of one batch go out concurrently (the integration's pool bounds
        // them); the next batch waits for this one.
        auto remaining = std::make_shared<std::size_t>(batch.elements.size());
        net::steady_timer all_done(strand_, std::chrono::steady_clock::time_point::max());
        for (const auto& e : batch.elements) {
            auto rec = decode_record(e.str);
            if (!rec) {
                log::warn("cluster: unreadable connection record of " + dead + " skipped");
                if (--*remaining == 0) all_done.cancel();
                continue;
            }
            ++total;
            auto done = [remaining, &all_done](std::exception_ptr) {
                if (--*remaining == 0) all_done.cancel();
            };
            // The client saw its TCP connection drop with the node: AWS reports that as 1006.
            net::co_spawn(
                strand_,
                gateway::run_disconnect(ctx_, std::move(rec->context), std::move(rec->host), 1006,
                                        "Connection closed abnormally"),
                net::bind_executor(strand_, std::move(done)));
        }
        if (*remaining > 0) (void)co_await all_done.async_wait(use_tuple);
    }
    commands_->command({"SREM", key("nodes"), dead});
    commands_->command({"DEL", key("reaping:" + dead), key("conns:" + dead)});
    log::warn("cluster: node " + dead + " reaped; $disconnect ran for " + std::to_string(total) +
              " connection(s)");
}

net::awaitable<void> ClusterNode::leave() {
    leaving_ = true;
    if (commands_->connected()) {
        // Every local connection has run $disconnect and queued its removal; these go after them
        // on the same connection, so when the last one answers, Redis holds nothing of this node.
        std::vector<std::string> cmd6{"SREM", key("nodes"), node_id_};
        (void)co_await commands_->async_command(std::move(cmd6), use_tuple);
        std::vector<std::string> cmd7{"DEL", key("node:" + node_id_), key("conns:" + node_id_),
                                      key("reaped:" + node_id_)};
        (void)co_await commands_->async_command(std::move(cmd7), use_tuple);
        log::info("cluster: node " + node_id_ + " left the cluster");
    }
    commands_->stop();
    bus_->stop();
}

// ---- forwarding -----------------------------------------------------------------------------

net::awaitable<RemoteOutcome> ClusterNode::forward(RemoteOp op, std::string connection_id,
                                                   std::shared_ptr<const std::string> body) {
    if (!commands_->connected() || !bus_->connected())
        co_return RemoteOutcome{Kind::unavailable, {}};
    std::vector<std::string> cmd8{"EVAL", std::string(kLocate), "1", key("conn:" + connection_id),
                                  key("node:")};
    auto [ec, loc] = co_await commands_->async_command(std::move(cmd8), use_tuple);
    if (ec || loc.is_error()) co_return RemoteOutcome{Kind::unavailable, {}};
    if (loc.is_nil() || loc.elements.size() != 2) co_return RemoteOutcome{Kind::gone, {}};
    const std::string owner = loc.elements[0].str;
    // A dead owner's connections are gone (their $disconnect is on its way); a record naming this
    // node but absent from the local registry is a connection that just ended.
    if (loc.elements[1].integer == 0 || owner == node_id_) co_return RemoteOutcome{Kind::gone, {}};

    const auto ex = co_await net::this_coro::executor;
    auto pending = std::make_shared<PendingForward>(ex);
    const std::uint64_t request_id = next_request_.fetch_add(1);
    {
        std::lock_guard lock(pending_mu_);
        pending_.emplace(request_id, pending);
    }
    auto forget = [&] {
        std::lock_guard lock(pending_mu_);
        pending_.erase(request_id);
    };
    BusRequest req;
    req.op = op;
    req.request_id = request_id;
    req.reply_node = node_id_;
    req.deadline_ms = epoch_ms_now() + settings_.forward_timeout.count();
    req.connection_id = connection_id;
    if (body) req.body = *body;
    pending->timer.expires_after(settings_.forward_timeout);
    std::vector<std::string> cmd9{"PUBLISH", key("rpc:" + owner), encode(req)};
    auto [pec, receivers] = co_await commands_->async_command(std::move(cmd9), use_tuple);
    if (pec || receivers.is_error()) {
        forget();
        co_return RemoteOutcome{Kind::unavailable, {}};
    }
    if (receivers.integer == 0) {
        // Alive by its key but not listening: it is reconnecting to Redis, or just died.
        forget();
        co_return RemoteOutcome{Kind::unavailable, {}};
    }
    {
        std::lock_guard lock(pending_mu_);
        if (pending->outcome) {
            pending_.erase(request_id);
            co_return std::move(*pending->outcome);
        }
    }
    // The reply handler cancels the timer on this coroutine's executor, so it cannot slip in
    // between the check above and this wait.
    (void)co_await pending->timer.async_wait(use_tuple);
    std::lock_guard lock(pending_mu_);
    pending_.erase(request_id);
    if (pending->outcome) co_return std::move(*pending->outcome);
    co_return RemoteOutcome{Kind::timeout, {}};
}

void ClusterNode::on_bus_message(std::string_view channel, std::string_view payload) {
    if (channel == rpc_channel_) {
        if (auto r = decode_request(payload)) {
            handle_request(*r);
        } else {
            log::warn("cluster: unreadable request on " + std::string(channel) + " ignored");
        }
    } else if (channel == reply_channel_) {
        if (auto r = decode_reply(payload)) {
            handle_reply(*r);
        } else if (auto fr = decode_fan_out_reply(payload)) {
            handle_fan_out_reply(*fr);
        }
    } else if (channel == fan_out_channel_) {
        if (auto r = decode_fan_out(payload)) handle_fan_out(*r);
    }
}

// On the bus connection's strand, one request at a time, in the order they were published: a
// caller's successive posts reach the connection's send queue in that order.
void ClusterNode::handle_request(const BusRequest& r) {
    if (epoch_ms_now() > r.deadline_ms) {
        // The caller has already answered 504 "nothing was done"; doing it now would make that a
        // lie.
        log::warn("cluster: forwarded request for " + r.connection_id +
                  " arrived after its deadline; dropped");
        return;
    }
    BusReply reply;
    reply.request_id = r.request_id;
    std::string body;
    const auto conn = ctx_.registry.find(r.connection_id);
    if (!conn) {
        reply.outcome = Kind::gone;
    } else if (r.op == RemoteOp::post) {
        const bool text = is_valid_utf8(r.body);
        switch (conn->send(std::make_shared<const std::string>(r.body), text)) {
            case gateway::SendResult::queued:
                reply.outcome = Kind::done;
                break;
            case gateway::SendResult::queue_full:
                reply.outcome = Kind::queue_full;
                if (const auto* st = ctx_.stage(conn->event_context().stage))
                    st->metrics->send_queue_drops.inc();
                break;
            case gateway::SendResult::gone:
                reply.outcome = Kind::gone;
                break;
        }
    } else if (r.op == RemoteOp::get) {
        body = gateway::connection_info_json(conn->info());
        reply.outcome = Kind::done;
    } else if (r.op == RemoteOp::join || r.op == RemoteOp::leave) {
        reply.outcome = gateway::channel_change(ctx_, conn, r.op, r.body);
    } else {
        reply.outcome = conn->close(1000, "Connection Closed Normally") ? Kind::done : Kind::gone;
    }
    reply.body = body;
    commands_->command({"PUBLISH", key("reply:" + r.reply_node), encode(reply)});
}

void ClusterNode::handle_reply(const BusReply& r) {
    std::lock_guard lock(pending_mu_);
    const auto it = pending_.find(r.request_id);
    if (it == pending_.end()) return;  // the caller gave up already
    auto p = it->second;
    p->outcome = RemoteOutcome{r.outcome, std::string(r.body)};
    net::post(p->timer.get_executor(), [p] { p->timer.cancel(); });
}

// ---- fan-out (broadcast extension) ----------------------------------------------------------

net::awaitable<gateway::FanOutResult> ClusterNode::fan_out(gateway::FanOut q) {
    gateway::FanOutResult none;
    if (!commands_->connected() || !bus_->connected()) co_return none;
    const auto ex = co_await net::this_coro::executor;
    auto pending = std::make_shared<PendingFanOut>(ex);
    const std::uint64_t request_id = next_request_.fetch_add(1);
    {
        std::lock_guard lock(pending_mu_);
        pending_fan_outs_.emplace(request_id, pending);
    }
    BusFanOut m;
    m.op = q.op;
    m.request_id = request_id;
    m.reply_node = node_id_;
    m.deadline_ms = epoch_ms_now() + settings_.forward_timeout.count();
    m.stage = q.stage;
    m.channel = q.channel;
    m.exclude = q.exclude;
    m.text = q.text;
    if (q.body) m.body = *q.body;
    pending->timer.expires_after(settings_.forward_timeout);
    std::vector<std::string> cmd{"PUBLISH", fan_out_channel_, encode(m)};
    auto [ec, receivers] = co_await commands_->async_command(std::move(cmd), use_tuple);
    {
        std::lock_guard lock(pending_mu_);
        // Every subscribed node, this one included, received it; this node answers for itself
        // directly (the caller adds its local part).
        const std::size_t others = (ec || receivers.is_error() || receivers.integer < 1)
                                       ? 0
                                       : static_cast<std::size_t>(receivers.integer - 1);
        pending->expected = others;
        pending->result.nodes = others;
        if (pending->result.nodes_answered >= others) {
            auto out = std::move(pending->result);
            pending_fan_outs_.erase(request_id);
            co_return out;
        }
    }
    (void)co_await pending->timer.async_wait(use_tuple);
    std::lock_guard lock(pending_mu_);
    pending_fan_outs_.erase(request_id);
    co_return std::move(pending->result);
}

void ClusterNode::handle_fan_out(const BusFanOut& r) {
    if (r.reply_node == node_id_) return;  // our own question: answered locally by the caller
    // Unlike a forwarded @connections call, a publish was already answered 200: a late node still
    // delivers it (its members must not miss a message the publisher was told went out); only
    // its counts are too late to be included. A late listing is simply not needed any more.
    const bool late = epoch_ms_now() > r.deadline_ms;
    if (late && r.op != gateway::FanOut::Op::publish) {
        log::warn("cluster: listing request arrived after its deadline; dropped");
        return;
    }
    BusFanOutReply reply;
    reply.request_id = r.request_id;
    std::string ids;
    if (r.op == gateway::FanOut::Op::publish) {
        if (ctx_.channels != nullptr) {
            const auto n = ctx_.channels->publish(
                r.stage, r.channel, std::make_shared<const std::string>(r.body), r.text, r.exclude);
            reply.delivered = n.delivered;
            reply.dropped = n.dropped;
        }
    } else if (r.op == gateway::FanOut::Op::members) {
        if (ctx_.channels != nullptr) {
            for (const auto& id : ctx_.channels->members(r.stage, r.channel))
                ids.append(id).append("\n");
        }
    } else {
        ctx_.registry.for_each([&](gateway::Connection& c) {
            if (c.event_context().stage == r.stage) ids.append(c.id()).append("\n");
        });
    }
    if (late) {
        log::warn(
            "cluster: a publish arrived after its deadline; delivered, but the publisher's counts "
            "omit this node");
        return;
    }
    reply.ids = ids;
    commands_->command({"PUBLISH", key("reply:" + r.reply_node), encode(reply)});
}

void ClusterNode::handle_fan_out_reply(const BusFanOutReply& r) {
    std::lock_guard lock(pending_mu_);
    const auto it = pending_fan_outs_.find(r.request_id);
    if (it == pending_fan_outs_.end()) return;  // too late: the caller answered without it
    auto p = it->second;
    auto& res = p->result;
    res.delivered += r.delivered;
    res.dropped += r.dropped;
    std::string_view ids = r.ids;
    while (!ids.empty()) {
        const auto nl = ids.find('\n');
        if (nl != 0) res.ids.emplace_back(ids.substr(0, nl));
        if (nl == std::string_view::npos) break;
        ids.remove_prefix(nl + 1);
    }
    ++res.nodes_answered;
    if (res.nodes_answered >= p->expected)
        net::post(p->timer.get_executor(), [p] { p->timer.cancel(); });
}

}  // namespace wsgate::cluster
