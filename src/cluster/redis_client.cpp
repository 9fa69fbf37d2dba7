#include "cluster/redis_client.h"

#include <hiredis/hiredis.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/log.h"

namespace wsgate::cluster {

namespace net = boost::asio;
using net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2'000};
constexpr std::chrono::milliseconds kConnectTimeout{2'000};

RedisReply convert(const redisReply* r) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::string;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::status;
            break;
        case REDIS_REPLY_ERROR:
            out.type = RedisReply::Type::error;
            break;
        default:
            out.type = RedisReply::Type::nil;
            break;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR) {
        out.str.assign(r->str, r->len);
    }
    out.integer = r->integer;
    if (r->type == REDIS_REPLY_ARRAY) {
        out.elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i)
            out.elements.push_back(convert(r->element[i]));
    }
    return out;
}

// Pub/sub pushes (and a subscribed connection's PING answer, ["pong", ""]) arrive as arrays whose
// first element names the kind.
std::string_view push_kind(const RedisReply& r) {
    if (r.type != RedisReply::Type::array || r.elements.empty()) return {};
    return r.elements[0].str;
}

}  // namespace

RedisClient::RedisClient(const net::any_io_executor& ex, RedisEndpoint endpoint, std::string name)
    : strand_(net::make_strand(ex)),
      endpoint_(std::move(endpoint)),
      name_("redis[" + std::move(name) + "]"),
      socket_(strand_),
      backoff_(strand_),
      reader_(nullptr, &redisReaderFree) {}

RedisClient::~RedisClient() = default;

void RedisClient::set_subscriptions(std::vector<std::string> channels, MessageHandler handler) {
    channels_ = std::move(channels);
    on_message_ = std::move(handler);
}

void RedisClient::set_on_connected(std::function<void()> fn) {
    on_connected_ = std::move(fn);
}

void RedisClient::start() {
    net::co_spawn(strand_, run(), net::detached);
}

void RedisClient::stop() {
    net::dispatch(strand_, [self = shared_from_this()] {
        self->stopped_ = true;
        self->backoff_.cancel();
        self->drop_connection();
    });
}

void RedisClient::command(std::vector<std::string> args, Callback cb) {
    net::dispatch(
        strand_, [self = shared_from_this(), args = std::move(args), cb = std::move(cb)]() mutable {
            if (!self->connected_.load(std::memory_order_relaxed)) {
                if (cb) cb(net::error::not_connected, RedisReply{});
                return;
            }
            self->send_now(args, std::move(cb));
        });
}

void RedisClient::send_now(const std::vector<std::string>& args, Callback cb) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* cmd = nullptr;
    const int len =
        redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), lens.data());
    if (len < 0 || cmd == nullptr) {
        if (cb) cb(net::error::no_memory, RedisReply{});
        return;
    }
    out_.append(cmd, static_cast<std::size_t>(len));
    redisFreeCommand(cmd);
    pending_.push_back({std::move(cb), std::chrono::steady_clock::now()});
    if (!writing_) {
        writing_ = true;
        net::co_spawn(strand_, write_loop(generation_), net::detached);
    }
}

net::awaitable<void> RedisClient::write_loop(std::uint64_t gen) {
    auto self = shared_from_this();
    std::string buf;
    while (!out_.empty() && gen == generation_) {
        buf.clear();
        buf.swap(out_);
        auto [ec, n] = co_await net::async_write(socket_, net::buffer(buf), use_tuple);
        if (ec) {
            if (gen == generation_) drop_connection();
            break;
        }
    }
    writing_ = false;
    // Commands queued for a newer connection while this loop was finishing with the old one.
    if (!out_.empty() && connected_.load(std::memory_order_relaxed)) {
        writing_ = true;
        net::co_spawn(strand_, write_loop(generation_), net::detached);
    }
}

net::awaitable<boost::system::error_code> RedisClient::connect_once() {
    tcp::resolver resolver(strand_);
    auto [rec, results] =
        co_await resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), use_tuple);
    if (rec) co_return rec;
    // The connect gets its own deadline: a black-holed Redis address must not stall the retries.
    net::steady_timer deadline(strand_, kConnectTimeout);
    deadline.async_wait([this](boost::system::error_code ec) {
        if (!ec) socket_.close();
    });
    boost::system::error_code ec;
    socket_ = tcp::socket(strand_);
    auto [cec, ep] = co_await net::async_connect(socket_, results, use_tuple);
    deadline.cancel();
    if (cec) co_return cec;
    socket_.set_option(tcp::no_delay(true), ec);
    co_return boost::system::error_code{};
}

net::awaitable<void> RedisClient::run() {
    auto self = shared_from_this();
    auto delay = kMinBackoff;
    bool logged_down = false;
    while (!stopped_) {
        const auto ec = co_await connect_once();
        if (!ec && !stopped_) {
            delay = kMinBackoff;
            logged_down = false;
            ++generation_;
            reader_.reset(redisReaderCreate());
            connected_.store(true, std::memory_order_release);
            log::info(name_ + " connected to " + endpoint_.host + ":" +
                      std::to_string(endpoint_.port));
            // The handshake goes first on the wire; whatever on_connected_ queues follows it.
            if (!endpoint_.password.empty()) {
                std::vector<std::string> auth{"AUTH"};
                if (!endpoint_.username.empty()) auth.push_back(endpoint_.username);
                auth.push_back(endpoint_.password);
                send_now(auth, [this](boost::system::error_code e, const RedisReply& r) {
                    if (!e && r.is_error()) {
                        log::error(name_ + " AUTH refused: " + r.str);
                        drop_connection();
                    }
                });
            }
            if (endpoint_.db != 0) {
                send_now({"SELECT", std::to_string(endpoint_.db)},
                         [this](boost::system::error_code e, const RedisReply& r) {
                             if (!e && r.is_error()) {
                                 log::error(name_ + " SELECT refused: " + r.str);
                                 drop_connection();
                             }
                         });
            }
            if (!channels_.empty()) {
                std::vector<std::string> sub{"SUBSCRIBE"};
                sub.insert(sub.end(), channels_.begin(), channels_.end());
                // Its confirmations arrive as pushes, not as a reply to a pending command.
                send_now(sub, {});
                pending_.pop_back();
            }
            net::co_spawn(strand_, watch_replies(generation_), net::detached);
            if (on_connected_) on_connected_();
            co_await read_loop();
            connected_.store(false, std::memory_order_release);
            fail_pending(net::error::connection_reset);
            if (!stopped_) log::warn(name_ + " connection lost; reconnecting");
        } else if (!stopped_ && !logged_down) {
            log::warn(name_ + " cannot connect to " + endpoint_.host + ":" +
                      std::to_string(endpoint_.port) + ": " + ec.message() + " (retrying)");
            logged_down = true;
        }
        if (stopped_) break;
        backoff_.expires_after(delay);
        (void)co_await backoff_.async_wait(use_tuple);
        delay = std::min(delay * 2, kMaxBackoff);
    }
    connected_.store(false, std::memory_order_release);
    fail_pending(net::error::operation_aborted);
}

net::awaitable<void> RedisClient::read_loop() {
    std::array<char, 16 * 1024> buf{};
    for (;;) {
        auto [ec, n] = co_await socket_.async_read_some(net::buffer(buf), use_tuple);
        if (ec) break;
        if (redisReaderFeed(reader_.get(), buf.data(), n) != REDIS_OK) break;
        for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
                log::error(name_ + " protocol error; reconnecting");
                drop_connection();
                co_return;
            }
            if (raw == nullptr) break;
            RedisReply r = convert(static_cast<redisReply*>(raw));
            freeReplyObject(raw);
            dispatch(std::move(r));
        }
        if (!socket_.is_open()) break;
    }
    boost::system::error_code ignored;
    socket_.close(ignored);
}

void RedisClient::dispatch(RedisReply r) {
    if (!channels_.empty()) {
        const auto kind = push_kind(r);
        if (kind == "message" && r.elements.size() == 3) {
            if (on_message_) on_message_(r.elements[1].str, r.elements[2].str);
            return;
        }
        if (kind == "subscribe" || kind == "unsubscribe") return;
    }
    if (pending_.empty()) {
        log::warn(name_ + " unexpected reply; reconnecting");
        drop_connection();
        return;
    }
    auto p = std::move(pending_.front());
    pending_.pop_front();
    if (p.cb) p.cb({}, r);
}

void RedisClient::fail_pending(boost::system::error_code ec) {
    auto pending = std::move(pending_);
    pending_.clear();
    out_.clear();
    for (auto& p : pending) {
        if (p.cb) p.cb(ec, RedisReply{});
    }
}

void RedisClient::drop_connection() {
    connected_.store(false, std::memory_order_release);
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

net::awaitable<void> RedisClient::watch_replies(std::uint64_t gen) {
    auto self = shared_from_this();
    net::steady_timer tick(strand_);
    while (gen == generation_ && connected_.load(std::memory_order_relaxed)) {
        tick.expires_after(std::chrono::milliseconds(250));
        (void)co_await tick.async_wait(use_tuple);
        if (gen != generation_ || pending_.empty()) continue;
        if (std::chrono::steady_clock::now() - pending_.front().sent > reply_timeout_) {
            log::warn(name_ + " no reply within " + std::to_string(reply_timeout_.count()) +
                      " ms; reconnecting");
            drop_connection();
        }
    }
}

}  // namespace wsgate::cluster
