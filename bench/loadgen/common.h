#pragma once
// Shared pieces of the load generator: clock and send stamps, the measurement window, per-thread
// statistics, a wait group for coroutines, and the WebSocket client used by every mode.
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "histogram.h"

namespace loadgen {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using net::ip::tcp;
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// ---- Send stamps: 16 lower-case hex digits of the steady clock in nanoseconds. ----

constexpr std::size_t kStampBytes = 16;

inline std::uint64_t to_ns(TimePoint t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}
inline std::uint64_t elapsed_ns(TimePoint from, TimePoint to) {
    return to <= from ? 0 : static_cast<std::uint64_t>((to - from).count());
}

// Writes the stamp for `t` over the first 16 bytes of `out` (which must be at least that long).
void write_stamp(std::string& out, TimePoint t);
// The stamp at the start of `msg`, or nullopt if it does not start with 16 hex digits.
std::optional<TimePoint> read_stamp(std::string_view msg);
// A message of `size` bytes (at least kStampBytes): a stamp placeholder padded with 'x'.
std::string make_payload(std::size_t size);

// ---- The measurement window. ----

struct Window {
    TimePoint start;    // load begins
    TimePoint measure;  // warm-up over: results from here on count
    TimePoint end;      // no new work after this
    TimePoint hard;     // every socket is closed by now, whatever state it is in
    bool contains(TimePoint t) const { return t >= measure && t < end; }
};

// ---- Statistics: each I/O thread records into its own Stats; they are merged at the end. ----

struct Stats {
    Histogram latency;             // echo round trip, handshake, or POST-to-delivery
    Histogram latency2;            // post mode: POST request round trip
    std::uint64_t ok_window = 0;   // successes whose completion fell inside the window
    std::uint64_t ok_total = 0;    // successes over the whole run (warm-up and drain included)
    std::uint64_t sent_total = 0;  // messages / requests / handshakes started
    std::uint64_t delivered_window = 0;  // post mode: messages received by the ws clients
    std::uint64_t delivered_total = 0;
    std::map<std::string, std::uint64_t, std::less<>> statuses;  // HTTP status -> count
    std::map<std::string, std::uint64_t, std::less<>> errors;    // failure kind -> count

    void count_status(std::string_view s, std::uint64_t n = 1);
    void count_error(std::string_view e, std::uint64_t n = 1);
    void merge(const Stats& o);
    std::uint64_t error_count() const;
};

// This thread's Stats. Coroutines only ever touch the calling thread's instance, so no locking.
Stats& local_stats();
// Sum over every thread's Stats. Call only once the I/O threads have been joined.
Stats merged_stats();

// ---- A wait group: wait() resumes once done() has been called as often as add() counted. ----

class WaitGroup : public std::enable_shared_from_this<WaitGroup> {
  public:
    explicit WaitGroup(const net::any_io_executor& ex) : timer_(ex) {}
    void add(std::size_t n = 1) { count_.fetch_add(n); }
    void done();
    // Must run on the executor given to the constructor.
    net::awaitable<void> wait();

  private:
    net::steady_timer timer_;
    std::atomic<std::size_t> count_{0};
};

// ---- Target and WebSocket client. ----

struct Target {
    std::string host;         // as given in the URL
    std::string port;         // "80" when the URL has none
    std::string host_header;  // host[:port] as written in the URL
    std::string path = "/";   // request target of the upgrade, e.g. "/dev"
    std::string stage;        // the first path segment
    tcp::endpoint endpoint;   // resolved once at startup
};

// Parses ws://HOST[:PORT][/PATH]; throws std::invalid_argument.
Target parse_ws_url(std::string_view url);

using WsStream = websocket::stream<beast::tcp_stream>;

// Connects and upgrades `ws` (whose lowest layer is closed) to `t`, all before `deadline`.
// Returns an empty string on success, else a failure kind for the report: "HTTP 502",
// "connect: Connection refused", "timeout", ... `http_status` is the handshake's status, 0 if none.
net::awaitable<std::string> open_ws(WsStream& ws, const Target& t, TimePoint deadline,
                                    unsigned& http_status);

// Sends a close frame and waits (until `deadline`) for the peer's; errors are ignored.
net::awaitable<void> close_ws(WsStream& ws, TimePoint deadline);

// A read error for the report: "closed by the gateway: 1009 Message too big" when the peer sent a
// close frame, else the error's message (with the close code if one arrived).
std::string describe_read_error(const WsStream& ws, const boost::system::error_code& ec);

// Human-readable duration: "850 us", "1.92 ms", "2.31 s".
std::string format_ns(std::uint64_t ns);

// Sleeps until `t` on the current executor.
net::awaitable<void> sleep_until(TimePoint t);

}  // namespace loadgen
