#pragma once
// The three load modes. Each runs as one coroutine on the shared io_context and leaves its results
// in the per-thread Stats (common.h) and in RunInfo; report.h turns them into output once the I/O
// threads are joined.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"
#include "options.h"

namespace loadgen {

struct RunInfo {
    Window window;
    bool started = false;              // the measured phase began (setup succeeded)
    std::size_t connections_open = 0;  // echo/post: connections that completed the setup
    double setup_seconds = 0;
    std::atomic<std::int64_t> last_done_ns{0};  // connect: when the last attempt finished
    std::string sample_error;  // post: body of the first non-200 answer, for diagnosis
    std::mutex mu;             // guards sample_error
};

// Runs fn(0) .. fn(n-1), at most `parallel` at a time, each worker on its own strand.
net::awaitable<void> for_each_parallel(net::io_context& ioc, std::size_t n, unsigned parallel,
                                       std::function<net::awaitable<void>(std::size_t)> fn);

// The window for a run whose load starts now.
Window make_window(const Options& o, std::chrono::milliseconds tail);

net::awaitable<void> run_echo(net::io_context& ioc, const Options& o, const Target& t,
                              RunInfo& info);
net::awaitable<void> run_connect(net::io_context& ioc, const Options& o, const Target& t,
                                 RunInfo& info);

// The whoami backend of post mode: a tiny Lambda-proxy HTTP server answering every MESSAGE event
// with {"statusCode":200,"body":"<requestContext.connectionId>"} (other events: statusCode 200).
class Backend : public std::enable_shared_from_this<Backend> {
  public:
    // Binds HOST:PORT at once; throws std::runtime_error when it cannot.
    Backend(net::io_context& ioc, const std::string& host_port);
    // Serves until stop() (and never past `deadline`).
    void start(TimePoint deadline);
    // Closes the listener and every connection.
    void stop();
    std::string address() const;

  private:
    net::awaitable<void> accept_loop(TimePoint deadline);
    net::awaitable<void> session(tcp::socket socket, TimePoint deadline);
    net::io_context& ioc_;
    tcp::acceptor acceptor_;
    std::mutex mu_;
    bool stopped_ = false;
    std::vector<std::weak_ptr<beast::tcp_stream>> sessions_;
};

net::awaitable<void> run_post(net::io_context& ioc, const Options& o, const Target& t,
                              RunInfo& info, std::shared_ptr<Backend> backend);

}  // namespace loadgen
