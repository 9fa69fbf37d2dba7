#include "gateway/ws_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <mutex>
#include <vector>

#include "common/ids.h"
#include "common/log.h"
#include "common/utf8.h"
#include "channels/channel_index.h"
#include "gateway/channel_ops.h"
#include "gateway/disconnect.h"
#include "integration/context_lookup.h"
#include "integration/echo_integration.h"
#include "integration/http_integration.h"
#include "integration/integration.h"
#include "observability/metrics.h"

namespace wsgate::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using integration::Failure;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

SystemTime now() { return std::chrono::system_clock::now(); }

// Allocates exactly what an operation needs. Asio's default recycles a small per-thread cache of
// blocks, and a block freed by a large operation (an HTTP read, a write) is reused for any smaller
// one. That is right for short operations; an operation that stays pending for the whole life of an
// idle connection (its wait for the next message) would pin a block several times its size, so it
// allocates with this instead (and so does the watchdogs' timer).
template <class T>
struct ExactAllocator {
    using value_type = T;
    ExactAllocator() noexcept = default;
    template <class U>
    ExactAllocator(const ExactAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
    friend bool operator==(const ExactAllocator&, const ExactAllocator&) noexcept { return true; }
};

// Headers AWS leaves out of the CONNECT event (they describe the hop, not the client).
bool hop_header(std::string_view name) {
    return beast::iequals(name, "Connection") || beast::iequals(name, "Upgrade") ||
           beast::iequals(name, "Content-Length");
}

integration::HeaderList connect_headers(const HttpRequest& req, const std::string& source_ip, unsigned short port,
                                        std::string_view proto) {
    integration::HeaderList out;
    std::string forwarded_for;
    for (const auto& f : req) {
        if (hop_header(f.name_string())) continue;
        if (beast::iequals(f.name_string(), "X-Forwarded-For")) {
            forwarded_for = std::string(f.value());
            continue;
        }
        out.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    // As API Gateway does, say who connected and on which port, appending to a proxy's list.
    out.emplace_back("X-Forwarded-For", forwarded_for.empty() ? source_ip : forwarded_for + ", " + source_ip);
    out.emplace_back("X-Forwarded-Port", std::to_string(port));
    out.emplace_back("X-Forwarded-Proto", std::string(proto));
    return out;
}

// RFC 6455 §4.2.1 checks, made before $connect runs so that a malformed upgrade never reaches the
// backend. Returns the HTTP status to refuse with, or 0.
unsigned handshake_problem(const HttpRequest& req) {
    if (req.method() != http::verb::get || req.version() < 11) return 400;
    const auto key = req[http::field::sec_websocket_key];
    // A nonce is 16 bytes, base64-encoded: 22 characters and "==".
    if (key.size() != 24 || key.substr(22) != "==") return 400;
    if (req[http::field::sec_websocket_version] != "13") return 426;
    return 0;
}

bool query_params(std::string_view target, integration::HeaderList& out) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return false;
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return true;  // unparsable query: present but empty
    for (const auto& p : parsed->params()) out.emplace_back(p.key, p.has_value ? p.value : "");
    return true;
}

}  // namespace

// ---- The watchdog ----
//
// Two AWS limits apply to every connection: no data in either direction for idle_timeout, and
// max_duration since it opened. A steady_timer per connection with a wait always pending cost an
// idle connection ~330 bytes; instead each io_context has one timer and a min-heap of (deadline,
// session) under a mutex. A session knows its slot in the heap, so moving or removing its deadline
// is O(log n), and removes itself when it ends (or is destroyed). When a deadline passes, the
// session's on_watchdog() is posted to its strand, holding it only if it is still alive.
class WsSession::Watchdogs : public std::enable_shared_from_this<WsSession::Watchdogs> {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    // The instance of `ex`'s io_context: created on first use, shut down with the io_context.
    static std::shared_ptr<Watchdogs> of(const net::any_io_executor& ex) {
        return net::use_service<Service>(net::query(ex, net::execution::context)).watchdogs;
    }

    // Sets (or moves) `s`'s deadline. `ex`: an executor of the io_context, for the timer.
    void schedule(WsSession& s, time_point at, const net::any_io_executor& ex) {
        const std::lock_guard lock(m_);
        if (stopped_) return;
        if (!timer_) timer_.emplace(timer_executor(ex));
        if (s.watchdog_slot_ == kNoSlot) {
            heap_.push_back({at, &s});
            s.watchdog_slot_ = heap_.size() - 1;
        } else {
            heap_[s.watchdog_slot_].at = at;
        }
        place(s.watchdog_slot_);
        arm();
    }

    void cancel(WsSession& s) {
        const std::lock_guard lock(m_);
        if (s.watchdog_slot_ != kNoSlot) remove_at(s.watchdog_slot_);
        // A deadline that moved later or went away leaves the timer early: it then finds nothing
        // due and sleeps until the next one.
    }

  private:
    struct Entry {
        time_point at;
        WsSession* session;
    };

    class Service final : public net::execution_context::service {
      public:
        static net::execution_context::id id;
        explicit Service(net::execution_context& ctx)
            : net::execution_context::service(ctx), watchdogs(std::make_shared<Watchdogs>()) {}
        const std::shared_ptr<Watchdogs> watchdogs;

      private:
        void shutdown() override { watchdogs->shutdown(); }
    };

    // The timer runs on the io_context itself rather than on the first session's strand.
    static net::any_io_executor timer_executor(const net::any_io_executor& ex) {
        if (const auto* strand = ex.target<net::strand<net::io_context::executor_type>>()) {
            return strand->get_inner_executor();
        }
        return ex;
    }

    void shutdown() {
        const std::lock_guard lock(m_);
        stopped_ = true;
        timer_.reset();
    }

    void on_timer(const boost::system::error_code& ec) {
        if (ec) return;  // cancelled: re-armed for an earlier deadline, or shut down
        std::vector<std::shared_ptr<WsSession>> due;
        {
            const std::lock_guard lock(m_);
            if (stopped_) return;
            armed_ = time_point::max();
            const auto t = std::chrono::steady_clock::now();
            while (!heap_.empty() && heap_.front().at <= t) {
                WsSession* s = heap_.front().session;
                remove_at(0);
                // Null if s is being destroyed (its destructor waits for this lock to cancel).
                if (auto self = s->weak_from_this().lock()) due.push_back(std::move(self));
            }
            arm();
        }
        for (auto& s : due) {
            const auto ex = s->ws_.get_executor();
            net::post(ex, [s = std::move(s)] { s->on_watchdog(); });
        }
    }

    // With m_ held: make sure a wait is pending that ends no later than the earliest deadline.
    void arm() {
        if (stopped_ || heap_.empty() || !timer_) return;
        const time_point at = heap_.front().at;
        if (at >= armed_) return;
        armed_ = at;
        timer_->expires_at(at);  // a pending wait, if any, completes with operation_aborted
        timer_->async_wait(net::bind_allocator(
            ExactAllocator<void>(),
            [self = shared_from_this()](const boost::system::error_code& ec) { self->on_timer(ec); }));
    }

    void swap_entries(std::size_t i, std::size_t j) {
        std::swap(heap_[i], heap_[j]);
        heap_[i].session->watchdog_slot_ = i;
        heap_[j].session->watchdog_slot_ = j;
    }

    // Restores the heap order around slot i (whose deadline just changed).
    void place(std::size_t i) {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (heap_[parent].at <= heap_[i].at) break;
            swap_entries(i, parent);
            i = parent;
        }
        for (;;) {
            const std::size_t left = 2 * i + 1;
            const std::size_t right = left + 1;
            std::size_t least = i;
            if (left < heap_.size() && heap_[left].at < heap_[least].at) least = left;
            if (right < heap_.size() && heap_[right].at < heap_[least].at) least = right;
            if (least == i) break;
            swap_entries(i, least);
            i = least;
        }
    }

    void remove_at(std::size_t i) {
        heap_[i].session->watchdog_slot_ = kNoSlot;
        const std::size_t last = heap_.size() - 1;
        if (i != last) {
            heap_[i] = heap_[last];
            heap_[i].session->watchdog_slot_ = i;
        }
        heap_.pop_back();
        if (i < heap_.size()) place(i);
        if (heap_.capacity() > 1024 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
    }

    std::mutex m_;
    std::vector<Entry> heap_;
    std::optional<net::steady_timer> timer_;
    time_point armed_ = time_point::max();  // when the pending wait ends (max: none pending)
    bool stopped_ = false;
};

net::execution_context::id WsSession::Watchdogs::Service::id;

WsSession::WsSession(GatewayContext& ctx, Transport stream, std::string stage, net::ip::tcp::endpoint peer)
    : ctx_(ctx), ws_(std::move(stream)) {
    ctx_.live_sessions.fetch_add(1);
    context_.api_id = ctx.settings.api_id;
    context_.stage = std::move(stage);
    context_.source_ip = peer.address().to_string();
}

// Normally released by run() (refused upgrades) or finish(); this covers a session destroyed with
// its handlers still pending (the io_context going away).
WsSession::~WsSession() {
    if (watchdogs_) watchdogs_->cancel(*this);
    release_live();
}

void WsSession::release_live() {
    if (!live_) return;
    live_ = false;
    ctx_.live_sessions.fetch_sub(1);
}

ConnectionInfo WsSession::info() const {
    return {connected_at_, SystemTime(std::chrono::milliseconds(last_active_ms_.load())), context_.source_ip,
            context_.user_agent.value_or("")};
}

void WsSession::touch() { last_active_ms_.store(epoch_millis(now()), std::memory_order_relaxed); }

WsSession::Outbound WsSession::SendQueue::pop() {
    Outbound m = std::move(items_[head_++]);
    if (head_ == items_.size()) {
        clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
        // A queue that never drains completely must not grow for ever: drop the sent prefix.
        items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
    return m;
}

void WsSession::SendQueue::clear() {
    items_.clear();
    head_ = 0;
    // Keep room for a few messages (the common case: one at a time); give back what a burst took.
    if (items_.capacity() > 4) std::vector<Outbound>().swap(items_);
}

net::awaitable<void> WsSession::run(HttpRequest req) {
    // Unless the read loop starts below (finish() then releases it), the drain counter drops when
    // this coroutine ends, whichever way it ends.
    struct LiveGuard {
        WsSession& s;
        bool armed = true;
        ~LiveGuard() {
            if (armed) s.release_live();
        }
    } guard{*this};

    if (const unsigned bad = handshake_problem(req)) {
        co_await reject_handshake(bad, "");
        co_return;
    }
    stage_ = ctx_.stage(context_.stage);
    if (ctx_.connect_bucket && !ctx_.connect_bucket->try_acquire(std::chrono::steady_clock::now())) {
        // The new-connection rate (AWS's 500/s account quota is the model): 429, no $connect.
        co_await reject_handshake(429, R"({"message":"Too Many Requests"})");
        co_return;
    }
    const auto max_conns = ctx_.settings.connection.max_connections;
    if (max_conns != 0 && ctx_.open_connections.load() >= max_conns) {
        // Existing connections keep being served; a client may retry later.
        co_await reject_handshake(429, R"({"message":"Too Many Requests"})");
        co_return;
    }
    connected_at_ = now();
    touch();
    do context_.connection_id = new_aws_id();
    while (ctx_.registry.find(context_.connection_id));
    host_header_ = std::string(req[http::field::host]);
    context_.domain_name = ctx_.settings.domain_name.empty() ? host_header_ : ctx_.settings.domain_name;
    if (const auto ua = req.find(http::field::user_agent); ua != req.end()) context_.user_agent = std::string(ua->value());
    context_.connected_at_ms = epoch_millis(connected_at_);

    // AWS's order on $connect: API key, then the authorizer, then the $connect integration.
    if (!co_await check_api_key(req)) co_return;
    if (ctx_.connect_requires_iam && !co_await check_iam(req)) co_return;
    if (ctx_.authorizer && !co_await run_authorizer(req)) co_return;
    std::string subprotocol;
    if (!co_await run_connect_route(req, subprotocol)) co_return;

    if (ctx_.shutting_down) {
        co_await reject_handshake(503, R"({"message":"Service Unavailable"})");
        CloseStatus going_away{1001, "Going away"};  // a named value: see run_disconnect_route's note
        co_await run_disconnect_route(std::move(going_away));
        co_return;
    }

    // Only what $connect chose; a requested subprotocol is never echoed on its own (as AWS). The
    // decorator stays in the stream for its lifetime: without a subprotocol it captures nothing
    // (and needs no allocation).
    if (subprotocol.empty()) {
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(http::field::server, "wsgate"); }));
    } else {
        ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
            res.set(http::field::server, "wsgate");
            res.set(http::field::sec_websocket_protocol, subprotocol);
        }));
    }
    ws_.read_message_max(ctx_.settings.connection.max_message_bytes);
    ws_.next_layer().set_limits(ctx_.settings.connection.max_frame_bytes, ctx_.settings.connection.max_message_bytes);
    ws_.auto_fragment(false);
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = ctx_.settings.connection.handshake_timeout;
    // Server pings are off by default, as on AWS. When on, Beast pings after half of its idle
    // timeout of silence and gives up on a peer that stays silent for the other half; with twice
    // ping_interval that is a ping after one interval and a drop after one more (configuration.md).
    const auto ping = ctx_.settings.connection.ping_interval;
    t.idle_timeout = ping.count() > 0 ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(ping * 2)
                                      : websocket::stream_base::none();
    t.keep_alive_pings = ping.count() > 0;
    ws_.set_option(t);

    // Register before the 101 goes out: a client that has its 101 may at once ask its backend to
    // post to it, and that POST must find the connection. Until the handshake is written, sends
    // are queued but not written (enqueue() checks accepting_).
    auto self = shared_from_this();
    if (!ctx_.registry.add(self)) co_return;  // only if two live connections drew the same 88 random bits
    registered_ = true;
    ctx_.open_connections.fetch_add(1);
    if (connect_channels_) {
        apply_channel_headers(ctx_, self, *connect_channels_);
        connect_channels_.reset();
    }
    accepting_ = true;
    open_ = true;
    auto [aec] = co_await ws_.async_accept(req, use_tuple);
    accepting_ = false;
    if (aec) {
        log::debug("handshake failed for " + id() + ": " + aec.message());
        unregister();
        close_sent_ = true;
        drop_queue();
        if (connect_completed_) {
            CloseStatus dropped{1006, "Connection closed abnormally"};  // named: see run_disconnect_route
            co_await run_disconnect_route(std::move(dropped));
        }
        co_return;
    }
    connect_completed_ = true;
    // The WebSocket connection is open: its limits are the session's own timers, so a plain
    // transport drops the tcp_stream and keeps the bare socket (smaller, and one layer less per read).
    ws_.next_layer().next_layer().release_timeouts();
    stage_->metrics->connections_open.inc();
    stage_->metrics->connections_total.inc();
    counted_open_ = true;
    if (!queue_.empty()) start_writer();
    arm_watchdog();
    if (log::enabled(log::Level::info)) {
        log::info("connected " + id() + " stage=" + context_.stage + " from=" + context_.source_ip);
    }
    // A drain that began after the check above has already walked the registry without us.
    if (ctx_.shutting_down) close(1001, "Going away");

    // From here on the session lives in its read loop's handlers; this frame, the upgrade request
    // and serve_http()'s frame are released now.
    guard.armed = false;
    read_next();
}

net::awaitable<bool> WsSession::check_api_key(const HttpRequest& req) {
    const auto it = ctx_.settings.routes.find("$connect");
    if (it == ctx_.settings.routes.end() || !it->second.api_key_required) co_return true;
    const auto key = req["x-api-key"];
    const auto& keys = ctx_.settings.api_keys;
    if (key.empty() || std::find(keys.begin(), keys.end(), key) == keys.end()) {
        log_access({"CONNECT", "$connect", new_aws_id(), "", 403, -1, -1, "Forbidden: missing or unknown API key"});
        co_await reject_handshake(403, R"({"message":"Forbidden"})");
        co_return false;
    }
    context_.api_key = std::string(key);
    co_return true;
}

// AWS_IAM: the upgrade request is SigV4-signed for execute-api, with headers or (from browsers,
// which cannot set headers) as a presigned URL; the same verifier as the management API's.
net::awaitable<bool> WsSession::check_iam(const HttpRequest& req) {
    std::vector<auth::Header> headers;
    headers.reserve(16);
    for (const auto& f : req) headers.push_back({f.name_string(), f.value()});
    const auth::SigV4Request sreq{req.method_string(), req.target(), headers, req.body()};
    auth::VerifyOptions opt;
    opt.region = ctx_.settings.management.region;
    opt.now = now();
    const auto v = auth::verify(sreq, *ctx_.credentials, opt);
    if (v.status != auth::VerifyStatus::ok) {
        const std::string body = R"({"message":)" + boost::json::serialize(boost::json::string(v.message)) + "}";
        log_access({"CONNECT", "$connect", new_aws_id(), "", 403, -1, -1, auth::status_name(v.status)});
        co_await reject_handshake(403, body);
        co_return false;
    }
    context_.access_key = v.credential->access_key_id;
    co_return true;
}

net::awaitable<bool> WsSession::run_authorizer(const HttpRequest& req) {
    const ConnectAuthorizer& authz = *ctx_.authorizer;
    auth::HeaderList headers;  // all of them: the authorizer sees Connection and Upgrade too
    for (const auto& f : req) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    integration::HeaderList query;
    const bool has_query = query_params(req.target(), query);
    const std::string request_id = new_aws_id();

    auto refuse = [&](unsigned status, std::string_view body, std::string_view why) -> net::awaitable<bool> {
        log_access({"CONNECT", "$connect", request_id, "", static_cast<int>(status), -1, -1, why});
        co_await reject_handshake(status, body);
        co_return false;
    };
    // A missing identity source is refused without calling the authorizer, as on AWS.
    if (!auth::identity_present(authz.sources, headers, query)) {
        co_return co_await refuse(401, R"({"message":"Unauthorized"})", "identity source missing");
    }
    const auto& s = ctx_.settings;
    const std::string method_arn = auth::connect_method_arn(s.management.region, s.authorizer.account_id, s.api_id,
                                                            context_.stage);
    std::optional<auth::AuthorizerDecision> decision;
    std::string cache_key;
    if (authz.cache && !authz.sources.empty()) {
        cache_key = auth::authorizer_cache_key(method_arn, authz.sources, headers, query);
        decision = authz.cache->find(cache_key, std::chrono::steady_clock::now());
    }
    if (!decision) {
        const auto t = now();
        const std::string clf = clf_time(t);
        auth::AuthorizerEventInput in{s.management.region, s.authorizer.account_id, s.api_id, context_.stage,
                                      context_.connection_id, context_.domain_name, context_.source_ip,
                                      std::nullopt, request_id, clf, epoch_millis(t), context_.connected_at_ms};
        if (context_.user_agent) in.user_agent = *context_.user_agent;
        auto raw = co_await authz.backend->post(auth::authorizer_event(in, headers, query, has_query));
        if (raw.failure != Failure::none) {
            log::warn("authorizer failed for " + id() + ": " + raw.detail);
            co_return co_await refuse(500, R"({"message":"Internal server error"})", raw.detail);
        }
        decision = auth::parse_authorizer_response(raw.status, raw.body, method_arn);
        if (authz.cache && !cache_key.empty()) authz.cache->insert(cache_key, *decision, std::chrono::steady_clock::now());
    }
    switch (decision->outcome) {
        case auth::AuthorizerOutcome::allow:
            context_.authorizer = std::make_shared<const boost::json::object>(auth::authorizer_object(*decision));
            co_return true;
        case auth::AuthorizerOutcome::deny:
            co_return co_await refuse(403, R"({"message":"Forbidden"})", "authorizer denied");
        case auth::AuthorizerOutcome::unauthorized:
            co_return co_await refuse(401, R"({"message":"Unauthorized"})", "authorizer: Unauthorized");
        case auth::AuthorizerOutcome::error: break;
    }
    log::warn("authorizer answer unusable for " + id() + ": " + decision->detail);
    co_return co_await refuse(500, R"({"message":"Internal server error"})", decision->detail);
}

net::awaitable<bool> WsSession::run_connect_route(const HttpRequest& req, std::string& subprotocol) {
    const routing::Route* route = ctx_.routes.find("$connect");
    if (route == nullptr) co_return true;  // accepted; "connected" once the handshake is written
    integration::Invocation inv;
    const std::string request_id = new_aws_id();
    if (route->integration->wants_event()) {
        integration::HeaderList query;
        const bool has_query = query_params(req.target(), query);
        const auto port = beast::get_lowest_layer(ws_).socket().local_endpoint().port();
        const auto proto = ws_.next_layer().next_layer().is_tls() ? "https" : "http";
        inv.event_json = integration::connect_event(context_, {request_id, now()},
                                                    connect_headers(req, context_.source_ip, port, proto), query,
                                                    has_query);
    }
    inv.timeout = route->timeout;
    if (route->integration->wants_parameters()) {
        integration::HeaderList headers;
        for (const auto& f : req) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        integration::HeaderList query;
        (void)query_params(req.target(), query);
        inv.lookup = parameter_lookup("$connect", "CONNECT", request_id, "", std::move(headers), std::move(query));
    }
    stage_->metrics->connect_count.inc();
    auto& rm = stage_->metrics->per_route("$connect");
    const auto started = std::chrono::steady_clock::now();
    const integration::Result r = co_await route->integration->invoke(std::move(inv));
    const auto latency = std::chrono::steady_clock::now() - started;
    const auto latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(latency).count();
    if (!r.ok()) {
        log::warn("$connect integration failed for " + id() + ": " + r.detail);
        rm.execution_error.inc();
        // AWS answers 502 when the integration fails; a timeout is a gateway timeout.
        const bool timeout = r.failure == Failure::timeout;
        log_access({"CONNECT", "$connect", request_id, "", timeout ? 504 : 502, -1, latency_ms, r.detail});
        if (timeout) co_await reject_handshake(504, R"({"message":"Endpoint request timed out"})");
        else co_await reject_handshake(502, R"({"message":"Internal server error"})");
        co_return false;
    }
    rm.integration_latency.observe(latency);
    const int status = r.response.status_code;
    if (status >= 400) rm.integration_error.inc();
    if (status < 200) {  // a 1xx cannot end a handshake; treat it as the malformed answer it is
        log_access({"CONNECT", "$connect", request_id, "", 502, status, latency_ms, "1xx from $connect"});
        co_await reject_handshake(502, R"({"message":"Internal server error"})");
        co_return false;
    }
    log_access({"CONNECT", "$connect", request_id, "", status > 299 ? status : 200, status, latency_ms, ""});
    if (status > 299) {
        co_await reject_handshake(static_cast<unsigned>(status), "");
        co_return false;
    }
    subprotocol = r.response.subprotocol;
    // Joined once the connection is registered, just before its 101 (run()).
    connect_channels_ = std::make_unique<integration::ProxyResponse>(std::move(r.response));
    connect_completed_ = true;
    co_return true;
}

net::awaitable<void> WsSession::reject_handshake(unsigned status, std::string_view body) {
    HttpResponse res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "wsgate");
    res.set("x-amzn-RequestId", new_uuid());
    if (status == 426) res.set(http::field::sec_websocket_version, "13");
    if (!body.empty()) res.set(http::field::content_type, "application/json");
    res.body() = std::string(body);
    res.keep_alive(false);
    res.prepare_payload();
    auto& transport = ws_.next_layer().next_layer();
    auto& tcp = beast::get_lowest_layer(ws_);
    tcp.expires_after(std::chrono::seconds(5));
    (void)co_await http::async_write(transport, res, use_tuple);
    co_await shutdown_send(transport, std::chrono::seconds(2));
    beast::error_code ignored;
    tcp.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    tcp.close();
}

// ---- The read loop ----

namespace {
// The most a body read asks for while the size of what follows is unknown.
constexpr std::size_t kReadChunk = 4096;
// The empty buffer peek() waits with. Never written to; its address only has to be real:
// Beast's UTF-8 check does pointer arithmetic on it, which a null pointer would turn into a crash.
char kNoBytes[1];
}  // namespace

void WsSession::read_next() {
    // The common idle state: a plain connection without server pings, whose last message left
    // nothing buffered above the socket. Wait for the socket itself to become readable: a
    // ~150-byte operation instead of Beast's ~480-byte read chain for every idle connection.
    // Anything that happens meanwhile (a message, a ping, a close, an error) reaches Beast below.
    auto& transport = ws_.next_layer().next_layer();
    if (!closing_ && !transport.has_timeouts() && ctx_.settings.connection.ping_interval.count() == 0 &&
        ws_.next_layer().drained(messages_read_)) {
        transport.socket().async_wait(
            net::socket_base::wait_read,
            net::bind_allocator(ExactAllocator<void>(),
                                [self = shared_from_this()](const boost::system::error_code&) { self->peek(); }));
        return;
    }
    peek();
}

void WsSession::peek() {
    // Wait for the next message with an empty buffer: Beast answers pings, handles a close, reads
    // the next data frame's header and completes with nothing copied. An idle connection holds no
    // buffer of its own; body_ is allocated once a message has started.
    ws_.async_read_some(net::mutable_buffer(kNoBytes, 0),
                        net::bind_allocator(ExactAllocator<void>(), [self = shared_from_this()](
                                                                        const boost::system::error_code& ec,
                                                                        std::size_t) { self->on_message_start(ec); }));
}

void WsSession::on_message_start(const boost::system::error_code& ec) {
    if (ec) return end_reading(ec);
    if (ws_.is_message_done()) return on_message();  // an empty message
    read_body();
}

void WsSession::read_body() {
    // While only this loop reads, Beast's hint is exact: in the last frame of a message it is what
    // is left of it, so a message in one frame is read into a string of its own size. Once a close
    // has begun (closing_ is set before the close frame is queued), Beast's close operation may run
    // between two of our reads and discard the rest of the frame; the hint then asserts (a final
    // frame with nothing left, the message not marked done: reached by SIGTERM under load on the
    // ASan build). Such a message is dropped anyway (on_message()), so a fixed chunk does; the read
    // itself waits for the close to finish and fails.
    const std::size_t want = closing_ ? kReadChunk : ws_.read_size_hint(kReadChunk);
    if (body_.size() < body_filled_ + want) body_.resize(body_filled_ + want);
    ws_.async_read_some(net::buffer(body_.data() + body_filled_, want),
                        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            self->on_body(ec, n);
                        });
}

void WsSession::on_body(const boost::system::error_code& ec, std::size_t n) {
    body_filled_ += n;
    if (ec) return end_reading(ec);
    if (!ws_.is_message_done()) return read_body();
    on_message();
}

void WsSession::on_message() {
    ++messages_read_;
    body_.resize(body_filled_);
    std::string body = std::move(body_);
    body_.clear();
    body_filled_ = 0;
    if (closing_) return read_next();  // after we sent a close frame, data frames are read and dropped
    const bool binary = !ws_.got_text();
    if (binary && !ctx_.settings.connection.deliver_binary) {
        // AWS accepts only text frames and closes on binary with 1003.
        close(1003, "Binary frames are not supported");
        return read_next();
    }
    touch();
    bool read_on = true;
    try {
        read_on = dispatch(std::move(body), binary);
    } catch (const std::exception& e) {
        // Nothing sensible is left to do with this connection: drop it; the read below fails and
        // the connection ends the normal way ($disconnect with 1006).
        log::error("message on " + id() + " failed: " + e.what());
        beast::get_lowest_layer(ws_).close();
        read_on = true;
    }
    if (read_on) read_next();
}

void WsSession::end_reading(const boost::system::error_code& ec) {
    body_ = std::string();
    body_filled_ = 0;
    CloseStatus status = classify(ec);
    auto self = shared_from_this();
    net::co_spawn(ws_.get_executor(), finish(std::move(self), std::move(status)), net::detached);
}

net::awaitable<void> WsSession::finish(std::shared_ptr<WsSession> self, CloseStatus status) {
    struct Release {
        WsSession& s;
        ~Release() { s.release_live(); }
    } release{*self};
    if (self->ws_.next_layer().limit_exceeded()) co_await self->send_close_after_limit();
    self->unregister();
    if (self->watchdogs_) self->watchdogs_->cancel(*self);
    if (log::enabled(log::Level::info)) {
        log::info("disconnected " + self->id() + " code=" + std::to_string(status.code) + " reason=\"" +
                  status.reason + "\"");
    }
    co_await self->run_disconnect_route(std::move(status));
}

WsSession::CloseStatus WsSession::classify(const boost::system::error_code& ec) const {
    if (server_close_) return *server_close_;
    if (ec == websocket::error::closed) {
        const auto& r = ws_.reason();
        if (r.code == websocket::close_code::none) return {1005, "Client-side close frame status not set"};
        return {static_cast<int>(r.code), std::string(r.reason.c_str())};
    }
    if (ec == websocket::error::message_too_big) return {1009, "Message too big"};
    if (ec == websocket::error::bad_frame_payload) return {1007, "Invalid frame payload data"};
    if (ec == websocket::condition::protocol_violation) return {1002, "Protocol error"};
    return {1006, "Connection closed abnormally"};
}

namespace {
// The built-in echo: its answer is the message itself, so the session answers it without calling it.
bool is_builtin_echo(const routing::Route& route) {
    return dynamic_cast<const integration::EchoIntegration*>(route.integration.get()) != nullptr;
}
}  // namespace

bool WsSession::dispatch(std::string body, bool binary) {
    // Binary messages (when delivered at all) and non-JSON text go to $default.
    const auto key = binary ? std::nullopt : ctx_.selection.evaluate(body);
    const routing::Route* route = key ? ctx_.routes.select(*key) : ctx_.routes.find("$default");
    if (route == nullptr) {
        const std::string request_id = new_aws_id();
        stage_->metrics->per_route(observability::kNoRoute).client_error.inc();
        log_access({"MESSAGE", "", request_id, "", 403, -1, -1, "Forbidden"});
        send_local(integration::error_frame("Forbidden", id(), request_id));
        return true;
    }
    auto& rm = stage_->metrics->per_route(route->key);
    rm.message_count.inc();
    if (TokenBucket* bucket = stage_->bucket_for(route->key);
        bucket != nullptr && !bucket->try_acquire(std::chrono::steady_clock::now())) {
        // Over the route's (or stage's) rate: AWS-shaped frame, the integration is not called.
        const std::string request_id = new_aws_id();
        rm.client_error.inc();
        log_access({"MESSAGE", route->key, request_id, "", 429, -1, -1, "Too Many Requests"});
        send_local(integration::error_frame("Too Many Requests", id(), request_id));
        return true;
    }
    if (is_builtin_echo(*route)) {
        echo(*route, std::move(body), binary);
        return true;
    }
    std::string request_id = new_aws_id();
    std::string message_id = new_aws_id();
    if (!route->integration->wants_event()) {
        // A built-in integration that does I/O (HTTP_PROXY): the next message is read once this
        // one has been answered.
        net::co_spawn(ws_.get_executor(),
                      [self = shared_from_this(), route, body = std::move(body), binary,
                       request_id = std::move(request_id),
                       message_id = std::move(message_id)]() mutable -> net::awaitable<void> {
                          try {
                              co_await self->call_route(route, std::move(body), binary, std::move(request_id),
                                                        std::move(message_id));
                          } catch (const std::exception& e) {
                              log::error("route " + route->key + " failed on " + self->id() + ": " + e.what());
                          }
                          self->read_next();
                      },
                      net::detached);
        return false;
    }
    // Backpressure: stop reading while this connection has its quota of calls in flight.
    if (inflight_ >= ctx_.settings.connection.max_inflight_messages && !aborted_) {
        parked_ = std::make_unique<Parked>(
            Parked{route, std::move(body), binary, std::move(request_id), std::move(message_id)});
        return false;
    }
    start_backend_call(route, std::move(body), binary, std::move(request_id), std::move(message_id));
    return true;
}

void WsSession::echo(const routing::Route& route, std::string body, bool binary) {
    // What call_route() does with the built-in echo's answer, without its two coroutines, and with
    // ids only for an access log (nothing else would see them).
    if (ctx_.access_log != nullptr) {
        const std::string request_id = new_aws_id();
        const std::string message_id = new_aws_id();
        log_access({"MESSAGE", route.key, request_id, message_id, 200, 200, -1, ""});
    }
    if (!route.route_response) return;
    // A text message passed Beast's UTF-8 check on the way in; a binary one goes out as text only
    // when it is valid UTF-8, which is what send_local() decides for any other answer.
    const bool text = !binary || is_valid_utf8(body);
    send_local(std::move(body), text);
}

void WsSession::start_backend_call(const routing::Route* route, std::string body, bool binary,
                                   std::string request_id, std::string message_id) {
    ++inflight_;
    net::co_spawn(ws_.get_executor(),
                  [self = shared_from_this(), route, body = std::move(body), binary, request_id = std::move(request_id),
                   message_id = std::move(message_id)]() mutable -> net::awaitable<void> {
                      try {
                          co_await self->call_route(route, std::move(body), binary, std::move(request_id),
                                                    std::move(message_id));
                      } catch (const std::exception& e) {
                          log::error("route " + route->key + " failed on " + self->id() + ": " + e.what());
                      }
                      self->backend_call_done();
                  },
                  net::detached);
}

void WsSession::backend_call_done() {
    --inflight_;
    if (parked_ && inflight_ < ctx_.settings.connection.max_inflight_messages) unpark();
}

void WsSession::unpark() {
    auto p = std::move(parked_);
    start_backend_call(p->route, std::move(p->body), p->binary, std::move(p->request_id), std::move(p->message_id));
    read_next();
}

net::awaitable<void> WsSession::call_route(const routing::Route* route, std::string body, bool binary,
                                           std::string request_id, std::string message_id) {
    integration::Invocation inv;
    if (route->integration->wants_event()) {
        inv.event_json = binary ? integration::message_event(context_, {request_id, now()}, route->key, message_id,
                                                             integration::base64_encode(body), true)
                                : integration::message_event(context_, {request_id, now()}, route->key, message_id, body);
    } else {
        inv.message_body = std::move(body);
    }
    inv.timeout = route->timeout;
    if (route->integration->wants_parameters()) inv.lookup = parameter_lookup(route->key, "MESSAGE", request_id, message_id);
    auto& rm = stage_->metrics->per_route(route->key);
    const bool backend = route->integration->wants_event();
    const auto started = std::chrono::steady_clock::now();
    integration::Result r = co_await route->integration->invoke(std::move(inv));
    const auto latency = std::chrono::steady_clock::now() - started;
    const auto latency_ms = backend ? std::chrono::duration_cast<std::chrono::milliseconds>(latency).count() : -1;
    if (!r.ok()) {
        log::warn("integration for route " + route->key + " failed on " + id() + ": " + r.detail);
        rm.execution_error.inc();
        const bool timeout = r.failure == Failure::timeout;
        log_access({"MESSAGE", route->key, request_id, message_id, timeout ? 504 : 500, -1, latency_ms, r.detail});
        send_local(integration::error_frame(timeout ? "Endpoint request timed out" : "Internal server error", id(),
                                            request_id));
        co_return;
    }
    if (backend) rm.integration_latency.observe(latency);
    if (r.response.status_code >= 400) rm.integration_error.inc();
    log_access({"MESSAGE", route->key, request_id, message_id, 200, r.response.status_code, latency_ms, ""});
    // One-way routes drop the answer, as AWS does without a route response.
    if (r.response.join_channels || r.response.leave_channels) apply_channel_headers(ctx_, shared_from_this(), r.response);
    if (route->route_response && r.response.body) send_local(std::move(*r.response.body));
}

void WsSession::send_local(std::string payload) {
    if (!open_ || closing_) return;
    const bool text = is_valid_utf8(payload);
    send_local(std::move(payload), text);
}

void WsSession::send_local(std::string payload, bool text) {
    if (!open_ || closing_) return;
    const auto n = payload.size();
    if (queued_bytes_.fetch_add(n) + n > ctx_.settings.connection.send_queue_max_bytes) {
        queued_bytes_.fetch_sub(n);
        stage_->metrics->send_queue_drops.inc();
        log::debug("send queue full on " + id() + ": route response dropped");
        return;
    }
    Outbound m;
    m.owned = std::move(payload);
    m.text = text;
    enqueue(std::move(m));
}

SendResult WsSession::send(std::shared_ptr<const std::string> payload, bool text) {
    if (!open_ || closing_) return SendResult::gone;
    const auto n = payload->size();
    if (queued_bytes_.fetch_add(n) + n > ctx_.settings.connection.send_queue_max_bytes) {
        queued_bytes_.fetch_sub(n);
        return SendResult::queue_full;
    }
    // dispatch, not post: a caller already on this session's executor (always, with one I/O
    // thread and so no strands; see Server::connection_executor()) queues and starts the write at
    // once instead of allocating a handler for later. A broadcast to N members is then one loop
    // rather than N handlers. Anyone else is posted to, in order, as before.
    net::dispatch(ws_.get_executor(), [self = shared_from_this(), payload = std::move(payload), text]() mutable {
        Outbound m;
        m.shared = std::move(payload);
        m.text = text;
        self->enqueue(std::move(m));
    });
    return SendResult::queued;
}

bool WsSession::close(int code, std::string reason) {
    if (closing_.exchange(true)) return false;
    net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
        // The close frame is written with these (write_next() reads them back).
        self->server_close_ = CloseStatus{code, std::move(reason)};
        Outbound m;
        m.close = true;
        self->enqueue(std::move(m));
    });
    return true;
}

void WsSession::close_after_remote_disconnect() {
    disconnect_delivered_elsewhere_ = true;
    close(1001, "Going away");
}

void WsSession::abort() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
        if (!self->server_close_) self->server_close_ = CloseStatus{1001, "Going away"};
        self->aborted_ = true;
        beast::get_lowest_layer(self->ws_).close();
        // A read loop parked on backpressure must see the abort: it dispatches the message it holds
        // and reads again, which fails at once.
        if (self->parked_) self->unpark();
    });
}

void WsSession::enqueue(Outbound m) {
    if (close_sent_) {  // raced with a close: the message is dropped, its bytes released
        if (!m.close) queued_bytes_.fetch_sub(m.data().size());
        return;
    }
    queue_.push(std::move(m));
    if (!writing_ && !accepting_) start_writer();
}

// ---- The write loop ----

void WsSession::start_writer() {
    writing_ = true;
    write_next();
}

void WsSession::write_next() {
    if (queue_.empty()) return writer_stopped();
    out_ = queue_.pop();
    if (out_.close) {
        const CloseStatus cs = server_close_.value_or(CloseStatus{1000, ""});
        websocket::close_reason cr(static_cast<websocket::close_code>(cs.code), cs.reason);
        close_sent_ = true;
        drop_queue();
        ws_.async_close(cr, [self = shared_from_this()](const boost::system::error_code&) { self->writer_stopped(); });
        return;
    }
    ws_.text(out_.text);
    out_offset_ = 0;
    write_chunk();
}

void WsSession::write_chunk() {
    const std::string& data = out_.data();
    const std::size_t frame = ctx_.settings.connection.outbound_frame_bytes;
    if (data.size() <= frame) {
        ws_.async_write(net::buffer(data), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                        std::size_t) { self->on_written(ec); });
        return;
    }
    // Large messages go out as a fragmented message of frames no larger than `frame`, as API
    // Gateway splits anything above its 32 KB frame limit.
    const std::size_t len = std::min(frame, data.size() - out_offset_);
    const bool fin = out_offset_ + len == data.size();
    ws_.async_write_some(fin, net::buffer(data.data() + out_offset_, len),
                         [self = shared_from_this(), len](const boost::system::error_code& ec, std::size_t) {
                             self->out_offset_ += len;
                             if (ec || self->out_offset_ >= self->out_.data().size()) return self->on_written(ec);
                             self->write_chunk();
                         });
}

void WsSession::on_written(const boost::system::error_code& ec) {
    queued_bytes_.fetch_sub(out_.data().size());
    out_ = Outbound{};
    if (ec) {
        close_sent_ = true;  // the stream is dead; nothing more can be written
        drop_queue();
        return writer_stopped();
    }
    touch();
    write_next();
}

void WsSession::writer_stopped() {
    out_ = Outbound{};
    writing_ = false;
    if (writer_idle_) writer_idle_->cancel();
}

// The frame scanner failed the read, so Beast sent no close frame: send AWS's 1009 "Message too
// big" by hand, once no write is in flight, then drop the connection.
net::awaitable<void> WsSession::send_close_after_limit() {
    close_sent_ = true;
    drop_queue();
    if (writing_) {
        if (!writer_idle_) writer_idle_ = std::make_unique<net::steady_timer>(ws_.get_executor());
        writer_idle_->expires_after(std::chrono::seconds(2));  // a write stuck on a dead peer
        (void)co_await writer_idle_->async_wait(use_tuple);
    }
    // Every step below is bounded: a timer closes the socket if the peer stalls (the transport may
    // have no timeouts of its own by now, see Transport::release_timeouts()).
    auto& transport = ws_.next_layer().next_layer();
    net::steady_timer deadline(ws_.get_executor());
    const auto bound = [&](std::chrono::seconds d) {
        deadline.expires_after(d);  // cancels the previous bound, if any
        deadline.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->ws_.next_layer().next_layer().close();
        });
    };
    if (!writing_) {
        static constexpr char kReason[] = "Message too big";
        std::string frame;
        frame += static_cast<char>(0x88);  // FIN + close
        frame += static_cast<char>(2 + sizeof kReason - 1);
        frame += static_cast<char>(1009 >> 8);
        frame += static_cast<char>(1009 & 0xff);
        frame += kReason;
        bound(std::chrono::seconds(2));
        (void)co_await net::async_write(transport, net::buffer(frame), use_tuple);  // TCP or TLS
    }
    // Lingering close: the rest of the oversized message is still arriving. Closing with unread
    // input would send a reset, and the peer would lose the close frame with it (browsers then
    // report 1006). So stop sending, drain what comes (the raw TCP bytes) for a moment, then close.
    auto& socket = transport.socket();
    beast::error_code ignored;
    socket.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    bound(std::chrono::seconds(2));
    std::array<char, 16 * 1024> sink;
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(net::buffer(sink), use_tuple);
        if (ec) break;
    }
    deadline.cancel();
    transport.close();
}

integration::ParameterLookup WsSession::parameter_lookup(std::string route_key, std::string event_type,
                                                         std::string request_id, std::string message_id,
                                                         integration::HeaderList headers,
                                                         integration::HeaderList query) const {
    return integration::context_lookup(context_, std::move(route_key), std::move(event_type), std::move(request_id),
                                       std::move(message_id), std::move(headers), std::move(query));
}

void WsSession::log_access(const AccessEntry& e) const { gateway::log_access(ctx_, context_, e); }

void WsSession::unregister() {
    open_ = false;
    if (counted_open_) {
        stage_->metrics->connections_open.dec();
        counted_open_ = false;
    }
    if (!registered_) return;
    registered_ = false;
    if (ctx_.channels != nullptr) ctx_.channels->leave_all(id());
    ctx_.registry.remove(id());
    ctx_.open_connections.fetch_sub(1);
}

void WsSession::arm_watchdog() {
    const auto& c = ctx_.settings.connection;
    if (c.idle_timeout.count() == 0 && c.max_duration.count() == 0) return;
    const auto wall = now();
    auto next = std::chrono::steady_clock::time_point::max();
    const auto steady = std::chrono::steady_clock::now();
    if (c.idle_timeout.count() > 0) {
        const auto idle_end = SystemTime(std::chrono::milliseconds(last_active_ms_.load())) + c.idle_timeout;
        next = std::min(next, steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(idle_end - wall));
    }
    if (c.max_duration.count() > 0) {
        next = std::min(next, steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                           connected_at_ + c.max_duration - wall));
    }
    const auto ex = ws_.get_executor();
    if (!watchdogs_) watchdogs_ = Watchdogs::of(ex);
    watchdogs_->schedule(*this, next, ex);
}

void WsSession::on_watchdog() {
    if (!open_ || closing_) return;
    const auto& c = ctx_.settings.connection;
    const auto t = now();
    const bool too_old = c.max_duration.count() > 0 && t >= connected_at_ + c.max_duration;
    const bool idle = c.idle_timeout.count() > 0 &&
                      t >= SystemTime(std::chrono::milliseconds(last_active_ms_.load())) + c.idle_timeout;
    // AWS documents neither close code; 1001 "Going away" is what a server leaving says.
    if (too_old || idle) {
        log::info(std::string(too_old ? "maximum duration" : "idle timeout") + " reached on " + id());
        close(1001, "Going away");
        return;
    }
    arm_watchdog();  // activity moved the idle deadline: sleep until the new one
}

void WsSession::drop_queue() {
    queue_.for_each([this](const Outbound& m) {
        if (!m.close) queued_bytes_.fetch_sub(m.data().size());
    });
    queue_.clear();
}

net::awaitable<void> WsSession::run_disconnect_route(CloseStatus status) {
    if (!connect_completed_ || disconnect_delivered_elsewhere_) co_return;
    co_await run_disconnect(ctx_, context_, host_header_, status.code, std::move(status.reason));
}

}  // namespace wsgate::gateway
