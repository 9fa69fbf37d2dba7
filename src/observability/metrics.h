#pragma once
// Prometheus-style metrics for the hot path: counters, gauges and histograms whose label values
// are fixed when the series is registered. Registration (a mutex, a map lookup, an allocation)
// happens once, at startup or on the first use of a route; what it returns is a stable reference
// whose update is one relaxed atomic operation: no lock, no allocation, no label lookup.
//
//     Registry registry;
//     Counter& c = registry.counter("wsgate_message_count_total", "Messages to/from clients.",
//                                   {{"api", "x"}, {"stage", "dev"}, {"route", "join"}});
//     c.inc();                          // any thread, lock-free
//     std::string page = registry.render_prometheus();   // GET /metrics
//
// Rules (checked at registration; a violation is a programming error and throws
// std::invalid_argument, never on the hot path):
// - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do not
//   start with "__"; a histogram may not use the label "le"; a series may not repeat a label name.
// - one name = one family: the same type, the same help text, the same label names in the same
//   order (and for histograms the same buckets) on every registration.
// - registering the same name + label values again returns the object registered the first time.
//
// References stay valid for the Registry's lifetime; series are never removed.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsgate::observability {

// One label of a series, e.g. {"stage", "dev"}. Values may hold any bytes; the exposition
// escapes backslash, double quote and newline.
struct Label {
    std::string name;
    std::string value;
};
using Labels = std::vector<Label>;

enum class MetricType { counter, gauge, histogram };

// Monotonic count. Cache-line aligned so two hot counters never share a line.
class alignas(64) Counter {
  public:
    Counter() = default;
    Counter(const Counter&) = delete;
    Counter& operator=(const Counter&) = delete;

    void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> v_{0};
};

// A value that goes up and down. Integer-valued (open connections, pool slots in use): add and
// sub are a single fetch_add, which a double gauge could not offer.
class alignas(64) Gauge {
  public:
    Gauge() = default;
    Gauge(const Gauge&) = delete;
    Gauge& operator=(const Gauge&) = delete;

    void set(std::int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
    void add(std::int64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    void sub(std::int64_t n = 1) noexcept { v_.fetch_sub(n, std::memory_order_relaxed); }
    void inc() noexcept { add(1); }
    void dec() noexcept { sub(1); }
    std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::int64_t> v_{0};
};

// Integration latency buckets in seconds: 1 ms .. 30 s (AWS's integration timeout is at most
// 29 s, so the last finite bucket holds every call that completed).
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// Prometheus histogram with fixed upper bounds (seconds, "le" = less than or equal) plus the
// implicit +Inf bucket. observe() is lock-free: a short linear scan over the bounds, one relaxed
// fetch_add on that bucket's count and one on the sum (std::atomic<double>::fetch_add, a CAS loop).
// The count is not stored separately: it is the sum of the bucket counts, so `_count` always
// equals the `+Inf` bucket. Under concurrent observe() a scrape may see a sum that lags or leads
// the count by the in-flight observations (as in most Prometheus clients).
class Histogram {
  public:
    // `bounds` must be finite and strictly increasing (checked by the Registry).
    explicit Histogram(std::span<const double> bounds);
    Histogram(const Histogram&) = delete;
    Histogram& operator=(const Histogram&) = delete;

    // NaN is ignored (it would make the sum NaN forever); -Inf/+Inf land in the first/+Inf bucket.
    void observe(double seconds) noexcept;
    template <class Rep, class Period>
    void observe(std::chrono::duration<Rep, Period> d) noexcept {
        observe(std::chrono::duration<double>(d).count());
    }

    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
        std::uint64_t count = 0;
        double sum = 0;
    };
    Snapshot snapshot() const;
    std::span<const double> bounds() const noexcept { return bounds_; }

  private:
    struct alignas(64) Cell {
        std::atomic<std::uint64_t> n{0};
    };
    std::vector<double> bounds_;
    std::unique_ptr<Cell[]> buckets_;  // bounds_.size() + 1 (non-cumulative), +Inf last
    alignas(64) std::atomic<double> sum_{0.0};
};

class Registry {
  public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Each returns the series for (name, labels), creating it (and its family) on first use.
    // Thread-safe (one mutex); not meant for the hot path. Throws std::invalid_argument on the
    // rule violations listed at the top of this file.
    Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
    Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
    Histogram& histogram(std::string_view name, std::string_view help,
                         std::span<const double> bounds, const Labels& labels = {});

    // Prometheus text exposition format 0.0.4 (Content-Type: kPrometheusContentType). Families in
    // name order, each with "# HELP" and "# TYPE"; series in order of their label values; label
    // values escaped (\\, \", \n); HELP text escaped (\\, \n). A family with no series is omitted.
    // Values are read with relaxed loads while registration is blocked, so it may run at any time.
    std::string render_prometheus() const;

  private:
    struct Family;
    template <class T, class Make>
    T& get_or_create(MetricType type, std::string_view name, std::string_view help,
                     std::span<const double> bounds, const Labels& labels, Make make);

    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Appends `v` escaped as a Prometheus label value (backslash, double quote, newline).
void append_label_value_escaped(std::string& out, std::string_view v);

// ---------------------------------------------------------------------------------------------
// The gateway's metric set, declared in one place.
//
// AWS's CloudWatch metrics (contract §8) keep their meaning under Prometheus names, labelled
// api and stage like AWS's ApiId,Stage dimension, plus route where AWS offers ApiId,Stage,Route:
//
// - wsgate_connect_count_total{api,stage}: ConnectCount, messages sent to the $connect route
//   integration. Its route would always be $connect, so it has no route label.
// - wsgate_message_count_total{api,stage,route}: MessageCount, messages from or to the client.
// - wsgate_integration_error_total{api,stage,route}: IntegrationError, 4xx/5xx answers from the
//   integration.
// - wsgate_client_error_total{api,stage,route}: ClientError, 4xx from the gateway before the
//   integration is invoked.
// - wsgate_execution_error_total{api,stage,route}: ExecutionError, the call to the integration
//   failed (connect error, timeout, malformed response).
// - wsgate_integration_latency_seconds{api,stage,route}: IntegrationLatency, a histogram with
//   kLatencyBuckets. Not observed for the built-in echo (AWS: not for mock integrations).
//
// Traffic with no route (a message that matched no route and no $default, @connections POSTs,
// which AWS also counts in MessageCount) uses route "-", as the access log does: kNoRoute.
//
// Internals of this implementation, per (api, stage):
// - wsgate_connections_open{api,stage}: gauge, WebSocket connections currently open.
// - wsgate_connections_total{api,stage}: connections accepted (101 sent).
// - wsgate_send_queue_drops_total{api,stage}: outbound messages refused, send queue over budget.
// and process-wide (NodeMetrics):
// - wsgate_backend_pool_in_use{integration}: gauge, pooled backend connections lent out.
// - wsgate_sigv4_failures_total{reason}: SigV4 verification failures, one series per reason.
// - wsgate_management_requests_total{method,status}: @connections requests by answer.
// - wsgate_tls_handshake_failures_total: connections to the TLS listener dropped because their
//   TLS handshake failed (plain HTTP, an old protocol version, garbage, a timeout).
// ---------------------------------------------------------------------------------------------

inline constexpr std::string_view kNoRoute = "-";

// The per-route series: references into the Registry, valid for its lifetime.
struct RouteMetrics {
    std::string route_key;
    Counter& message_count;
    Counter& integration_error;
    Counter& client_error;
    Counter& execution_error;
    Histogram& integration_latency;
};

// One per (api, stage). The stage-level series are registered by the constructor.
//
// per_route(): the first call for a route key registers its series under a mutex; every later
// call is a lock-free read of an open-addressing table (hash, a few probes, an acquire load).
// Route keys come from the configuration (at most ~300 per API on AWS) plus kNoRoute; do not pass
// client-controlled strings, since every distinct key creates series that are never removed.
// Callers may also resolve each route once at startup and keep the RouteMetrics& next to the
// route: the hot path is then a single atomic add.
class GatewayMetrics {
  public:
    GatewayMetrics(Registry& registry, std::string api, std::string stage);
    ~GatewayMetrics();
    GatewayMetrics(const GatewayMetrics&) = delete;
    GatewayMetrics& operator=(const GatewayMetrics&) = delete;

    // Stage-level series, lock-free.
    Counter& connect_count;
    Gauge& connections_open;
    Counter& connections_total;
    Counter& send_queue_drops;

    RouteMetrics& per_route(std::string_view route_key);

    const std::string& api() const noexcept { return api_; }
    const std::string& stage() const noexcept { return stage_; }

  private:
    struct Table;
    RouteMetrics& create_route(std::string_view route_key);
    static void insert(Table& t, RouteMetrics* m);

    Registry& registry_;
    std::string api_;
    std::string stage_;
    std::atomic<const Table*> table_{nullptr};
    std::mutex mu_;                               // guards everything below
    std::vector<std::unique_ptr<Table>> tables_;  // current + outgrown (kept: readers may hold)
    std::vector<std::unique_ptr<RouteMetrics>> routes_;
};

// Why a SigV4 verification failed; the order and names are those of auth::VerifyStatus without ok.
enum class SigV4Failure : std::uint8_t {
    missing_authentication_token,
    incomplete_signature,
    unrecognized_client,
    invalid_signature,
    signature_expired,
    signature_not_yet_current,
};
inline constexpr std::size_t kSigV4FailureCount = 6;
std::string_view to_string(SigV4Failure r) noexcept;

// Process-wide internals, one per Registry.
class NodeMetrics {
  public:
    explicit NodeMetrics(Registry& registry);
    NodeMetrics(const NodeMetrics&) = delete;
    NodeMetrics& operator=(const NodeMetrics&) = delete;

    // All six series exist from the start (so they render as 0). Lock-free.
    Counter& sigv4_failure(SigV4Failure r) noexcept { return *sigv4_[static_cast<std::size_t>(r)]; }

    // Lock-free; exists from the start, TLS listener or not.
    Counter& tls_handshake_failures;

    // Registers on first use (Registry mutex): call once per integration at startup and keep it.
    Gauge& backend_pool_in_use(std::string_view integration);

    // method: GET, POST and DELETE keep their name, anything else becomes "other"; status: the
    // HTTP status sent. Goes through the Registry (one mutex, a map lookup): cheap next to the
    // SigV4 verification every management request pays anyway.
    Counter& management_request(std::string_view method, int status);

  private:
    Registry& registry_;
    std::array<Counter*, kSigV4FailureCount> sigv4_{};
};

}  // namespace wsgate::observability
