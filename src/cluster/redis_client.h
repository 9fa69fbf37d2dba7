#pragma once
// One connection to Redis: hiredis's RESP reader and command formatter over an Asio socket.
// hiredis parses and formats; Asio owns the socket, the timers and the reconnects, so every
// callback runs on this client's strand and nothing blocks an I/O thread.
//
// The client reconnects by itself with a capped backoff. While it is down, commands fail at once
// (their callback gets an error) instead of queueing: callers such as a forwarded management call
// must answer now, not when Redis returns.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace wsgate::cluster {

struct RedisReply {
    enum class Type { nil, string, array, integer, status, error };
    Type type = Type::nil;
    std::string str;  // string, status and error replies
    long long integer = 0;
    std::vector<RedisReply> elements;

    bool is_error() const { return type == Type::error; }
    bool is_nil() const { return type == Type::nil; }
};

struct RedisEndpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string username;  // empty: AUTH with the password alone
    std::string password;  // empty: no AUTH
    unsigned db = 0;
};

class RedisClient : public std::enable_shared_from_this<RedisClient> {
  public:
    // error: the connection is down, dropped before the reply, or the client stopped.
    using Callback = std::function<void(boost::system::error_code, const RedisReply&)>;
    using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;

    // `name` appears in log lines ("redis[commands]").
    RedisClient(const boost::asio::any_io_executor& ex, RedisEndpoint endpoint, std::string name);
    ~RedisClient();

    // Set before start(): channels to SUBSCRIBE to on every (re)connect, and who gets their
    // messages. A subscribing client still answers PING.
    void set_subscriptions(std::vector<std::string> channels, MessageHandler handler);
    // Set before start(): runs on the strand after each successful (re)connect (AUTH, SELECT and
    // SUBSCRIBE done), before any queued work; the place to re-register state.
    void set_on_connected(std::function<void()> fn);
    // A reply slower than this means Redis is stuck: the connection is dropped and retried.
    void set_reply_timeout(std::chrono::milliseconds t) { reply_timeout_ = t; }

    void start();
    // Closes the connection; pending callbacks get operation_aborted. Any thread.
    void stop();

    // Any thread. `cb` (may be empty) runs on the strand.
    void command(std::vector<std::string> args, Callback cb = {});

    // command() for coroutines: `auto [ec, reply] = co_await c.async_command(args,
    // as_tuple(use_awaitable))`. The completion runs on the awaiting coroutine's executor.
    template <typename Token>
    auto async_command(std::vector<std::string> args, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, RedisReply)>(
            [this](auto handler, std::vector<std::string> a) {
                auto h = std::make_shared<decltype(handler)>(std::move(handler));
                command(std::move(a), [h](boost::system::error_code ec, const RedisReply& r) {
                    auto ex = boost::asio::get_associated_executor(*h);
                    boost::asio::dispatch(
                        ex, [h, ec, r]() mutable { std::move (*h)(ec, std::move(r)); });
                });
            },
            token, std::move(args));
    }

    bool connected() const { return connected_.load(std::memory_order_acquire); }
    const boost::asio::strand<boost::asio::any_io_executor>& strand() const { return strand_; }

  private:
    struct Pending {
        Callback cb;
        std::chrono::steady_clock::time_point sent;
    };

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<boost::system::error_code> connect_once();
    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> write_loop(std::uint64_t gen);
    boost::asio::awaitable<void> watch_replies(std::uint64_t gen);
    void send_now(const std::vector<std::string>& args, Callback cb);  // strand, connected
    void dispatch(RedisReply r);
    void fail_pending(boost::system::error_code ec);
    void drop_connection();

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    RedisEndpoint endpoint_;
    std::string name_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer backoff_;
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader_;

    std::vector<std::string> channels_;
    MessageHandler on_message_;
    std::function<void()> on_connected_;
    std::chrono::milliseconds reply_timeout_{3'000};

    // Strand only.
    std::deque<Pending> pending_;
    std::string out_;  // formatted commands not yet handed to the socket
    bool writing_ = false;
    bool stopped_ = false;
    std::uint64_t generation_ = 0;  // bumped per connection so stale loops exit

    std::atomic<bool> connected_{false};
};

}  // namespace wsgate::cluster
