#include "observability/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace wsgate::observability {
namespace {

bool is_metric_name(std::string_view s) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) return false;
    }
    return true;
}

bool is_label_name(std::string_view s) {
    if (s.empty() || s.starts_with("__")) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) return false;
    }
    return true;
}

std::string_view type_name(MetricType t) {
    switch (t) {
        case MetricType::counter:
            return "counter";
        case MetricType::gauge:
            return "gauge";
        case MetricType::histogram:
            return "histogram";
    }
    return "untyped";
}

[[noreturn]] void fail(std::string_view name, std::string_view what) {
    std::string msg = "metric ";
    msg += name;
    msg += ": ";
    msg += what;
    throw std::invalid_argument(msg);
}

// Shortest representation that parses back to the same double; Prometheus spellings for the
// non-finite values.
void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
    }
}

template <class Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_help_escaped(std::string& out, std::string_view v) {
    for (const char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

}  // namespace

void append_label_value_escaped(std::string& out, std::string_view v) {
    for (const char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// ---- Histogram -------------------------------------------------------------------------------

static_assert(std::atomic<double>::is_always_lock_free &&
              std::atomic<std::uint64_t>::is_always_lock_free);

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(new Cell[bounds.size() + 1]) {}

void Histogram::observe(double seconds) noexcept {
    if (std::isnan(seconds)) return;
    std::size_t i = 0;
    const std::size_t n = bounds_.size();
    while (i < n && seconds > bounds_[i]) ++i;
    buckets_[i].n.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(seconds, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.cumulative.reserve(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].n.load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

// ---- Registry --------------------------------------------------------------------------------

struct Registry::Family {
    MetricType type;
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;  // histograms
    struct Series {
        std::unique_ptr<Counter> counter;
        std::unique_ptr<Gauge> gauge;
        std::unique_ptr<Histogram> histogram;
    };
    // Keyed by label values (in label_names order): the exposition's series order.
    std::map<std::vector<std::string>, Series, std::less<>> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

template <class T, class Make>
T& Registry::get_or_create(MetricType type, std::string_view name, std::string_view help,
                           std::span<const double> bounds, const Labels& labels, Make make) {
    if (!is_metric_name(name)) fail(name, "invalid metric name");
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (!is_label_name(labels[i].name))
            fail(name, "invalid label name '" + labels[i].name + "'");
        if (type == MetricType::histogram && labels[i].name == "le") {
            fail(name, "a histogram may not use the label 'le'");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (labels[j].name == labels[i].name)
                fail(name, "label '" + labels[i].name + "' repeated");
        }
    }
    if (type == MetricType::histogram) {
        for (std::size_t i = 0; i < bounds.size(); ++i) {
            if (!std::isfinite(bounds[i])) fail(name, "bucket bounds must be finite");
            if (i > 0 && !(bounds[i] > bounds[i - 1])) fail(name, "bucket bounds must increase");
        }
    }

    std::lock_guard lock(mu_);
    auto it = families_.find(name);
    if (it == families_.end()) {
        auto f = std::make_unique<Family>();
        f->type = type;
        f->name = std::string(name);
        f->help = std::string(help);
        for (const auto& l : labels) f->label_names.push_back(l.name);
        f->bounds.assign(bounds.begin(), bounds.end());
        std::string key(name);
        it = families_.emplace(std::move(key), std::move(f)).first;
    }
    Family& f = *it->second;
    if (f.type != type) {
        fail(name, "already registered as a " + std::string(type_name(f.type)) + ", not a " +
                       std::string(type_name(type)));
    }
    if (f.help != help) fail(name, "registered again with a different help text");
    bool same_names = f.label_names.size() == labels.size();
    for (std::size_t i = 0; same_names && i < labels.size(); ++i) {
        same_names = f.label_names[i] == labels[i].name;
    }
    if (!same_names) fail(name, "registered again with different label names");
    if (type == MetricType::histogram &&
        !std::equal(f.bounds.begin(), f.bounds.end(), bounds.begin(), bounds.end())) {
        fail(name, "registered again with different buckets");
    }

    std::vector<std::string> key;
    key.reserve(labels.size());
    for (const auto& l : labels) key.push_back(l.value);
    auto& series = f.series[std::move(key)];
    return make(series);
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
    return get_or_create<Counter>(MetricType::counter, name, help, {}, labels,
                                  [](Family::Series& s) -> Counter& {
                                      if (!s.counter) s.counter = std::make_unique<Counter>();
                                      return *s.counter;
                                  });
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
    return get_or_create<Gauge>(MetricType::gauge, name, help, {}, labels,
                                [](Family::Series& s) -> Gauge& {
                                    if (!s.gauge) s.gauge = std::make_unique<Gauge>();
                                    return *s.gauge;
                                });
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::span<const double> bounds, const Labels& labels) {
    return get_or_create<Histogram>(MetricType::histogram, name, help, bounds, labels,
                                    [bounds](Family::Series& s) -> Histogram& {
                                        if (!s.histogram) {
                                            s.histogram = std::make_unique<Histogram>(bounds);
                                        }
                                        return *s.histogram;
                                    });
}

namespace {

// name{a="1",b="2"} or name{a="1",le="0.5"}; no braces when there is nothing to print.
void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        const std::vector<std::string>& label_names,
                        const std::vector<std::string>& values, const double* le) {
    out += name;
    out += suffix;
    if (label_names.empty() && le == nullptr) return;
    out += '{';
    for (std::size_t i = 0; i < label_names.size(); ++i) {
        if (i > 0) out += ',';
        out += label_names[i];
        out += "=\"";
        append_label_value_escaped(out, values[i]);
        out += '"';
    }
    if (le != nullptr) {
        if (!label_names.empty()) out += ',';
        out += "le=\"";
        append_double(out, *le);
        out += '"';
    }
    out += '}';
}

}  // namespace

std::string Registry::render_prometheus() const {
    std::string out;
    std::lock_guard lock(mu_);
    for (const auto& [name, fp] : families_) {
        const Family& f = *fp;
        if (f.series.empty()) continue;
        out += "# HELP ";
        out += f.name;
        out += ' ';
        append_help_escaped(out, f.help);
        out += "\n# TYPE ";
        out += f.name;
        out += ' ';
        out += type_name(f.type);
        out += '\n';
        for (const auto& [values, s] : f.series) {
            switch (f.type) {
                case MetricType::counter:
                    append_series_name(out, f.name, "", f.label_names, values, nullptr);
                    out += ' ';
                    append_int(out, s.counter->value());
                    out += '\n';
                    break;
                case MetricType::gauge:
                    append_series_name(out, f.name, "", f.label_names, values, nullptr);
                    out += ' ';
                    append_int(out, s.gauge->value());
                    out += '\n';
                    break;
                case MetricType::histogram: {
                    const Histogram::Snapshot snap = s.histogram->snapshot();
                    constexpr double kInf = std::numeric_limits<double>::infinity();
                    for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
                        const double le = i < f.bounds.size() ? f.bounds[i] : kInf;
                        append_series_name(out, f.name, "_bucket", f.label_names, values, &le);
                        out += ' ';
                        append_int(out, snap.cumulative[i]);
                        out += '\n';
                    }
                    append_series_name(out, f.name, "_sum", f.label_names, values, nullptr);
                    out += ' ';
                    append_double(out, snap.sum);
                    out += '\n';
                    append_series_name(out, f.name, "_count", f.label_names, values, nullptr);
                    out += ' ';
                    append_int(out, snap.count);
                    out += '\n';
                    break;
                }
            }
        }
    }
    return out;
}

// ---- GatewayMetrics --------------------------------------------------------------------------

namespace {

constexpr std::string_view kConnectCountHelp =
    "AWS ConnectCount: messages sent to the $connect route integration.";
constexpr std::string_view kMessageCountHelp =
    "AWS MessageCount: messages sent to the WebSocket API, from or to the client.";
constexpr std::string_view kIntegrationErrorHelp =
    "AWS IntegrationError: requests that returned a 4XX/5XX response from the integration.";
constexpr std::string_view kClientErrorHelp =
    "AWS ClientError: requests answered with a 4XX by the gateway before the integration was "
    "invoked.";
constexpr std::string_view kExecutionErrorHelp =
    "AWS ExecutionError: errors that occurred when calling the integration.";
constexpr std::string_view kIntegrationLatencyHelp =
    "AWS IntegrationLatency: time between sending the request to the integration and receiving "
    "its response, in seconds.";

Labels stage_labels(const std::string& api, const std::string& stage) {
    return {{"api", api}, {"stage", stage}};
}

std::size_t hash_key(std::string_view s) noexcept {
    return std::hash<std::string_view>{}(s);
}

}  // namespace

// Open addressing with linear probing; a slot goes from null to a RouteMetrics* once and never
// changes again. Grown (copied into a table twice the size, then published) at half load.
struct GatewayMetrics::Table {
    explicit Table(std::size_t capacity)
        : mask(capacity - 1), slots(new std::atomic<RouteMetrics*>[capacity]) {
        for (std::size_t i = 0; i < capacity; ++i)
            slots[i].store(nullptr, std::memory_order_relaxed);
    }
    std::size_t mask;
    std::size_t used = 0;  // written under GatewayMetrics::mu_ only
    std::unique_ptr<std::atomic<RouteMetrics*>[]> slots;
};

GatewayMetrics::GatewayMetrics(Registry& registry, std::string api, std::string stage)
    : connect_count(registry.counter("wsgate_connect_count_total", kConnectCountHelp,
                                     stage_labels(api, stage))),
      connections_open(registry.gauge("wsgate_connections_open",
                                      "WebSocket connections currently open.",
                                      stage_labels(api, stage))),
      connections_total(registry.counter("wsgate_connections_total",
                                         "WebSocket connections accepted (101 sent).",
                                         stage_labels(api, stage))),
      send_queue_drops(registry.counter(
          "wsgate_send_queue_drops_total",
          "Outbound messages refused because the connection's send queue was over budget.",
          stage_labels(api, stage))),
      registry_(registry),
      api_(std::move(api)),
      stage_(std::move(stage)) {
    auto t = std::make_unique<Table>(64);
    table_.store(t.get(), std::memory_order_release);
    tables_.push_back(std::move(t));
}

GatewayMetrics::~GatewayMetrics() = default;

void GatewayMetrics::insert(Table& t, RouteMetrics* m) {
    std::size_t i = hash_key(m->route_key) & t.mask;
    while (t.slots[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & t.mask;
    t.slots[i].store(m, std::memory_order_release);
    ++t.used;
}

RouteMetrics& GatewayMetrics::per_route(std::string_view route_key) {
    const Table* t = table_.load(std::memory_order_acquire);
    std::size_t i = hash_key(route_key) & t->mask;
    while (RouteMetrics* m = t->slots[i].load(std::memory_order_acquire)) {
        if (m->route_key == route_key) return *m;
        i = (i + 1) & t->mask;
    }
    return create_route(route_key);
}

RouteMetrics& GatewayMetrics::create_route(std::string_view route_key) {
    std::lock_guard lock(mu_);
    Table* t = tables_.back().get();
    // Another thread may have created it since our lock-free miss.
    std::size_t i = hash_key(route_key) & t->mask;
    while (RouteMetrics* m = t->slots[i].load(std::memory_order_relaxed)) {
        if (m->route_key == route_key) return *m;
        i = (i + 1) & t->mask;
    }

    const Labels labels = {{"api", api_}, {"stage", stage_}, {"route", std::string(route_key)}};
    auto m = std::make_unique<RouteMetrics>(RouteMetrics{
        std::string(route_key),
        registry_.counter("wsgate_message_count_total", kMessageCountHelp, labels),
        registry_.counter("wsgate_integration_error_total", kIntegrationErrorHelp, labels),
        registry_.counter("wsgate_client_error_total", kClientErrorHelp, labels),
        registry_.counter("wsgate_execution_error_total", kExecutionErrorHelp, labels),
        registry_.histogram("wsgate_integration_latency_seconds", kIntegrationLatencyHelp,
                            kLatencyBuckets, labels),
    });
    RouteMetrics* raw = m.get();
    routes_.push_back(std::move(m));

    if ((t->used + 1) * 2 > t->mask + 1) {
        // Readers may still be probing the old table: it stays alive (in tables_) until the
        // destructor. The sizes double, so all tables together take at most twice the last one.
        auto bigger = std::make_unique<Table>((t->mask + 1) * 2);
        for (const auto& r : routes_) insert(*bigger, r.get());
        table_.store(bigger.get(), std::memory_order_release);
        tables_.push_back(std::move(bigger));
    } else {
        insert(*t, raw);
    }
    return *raw;
}

// ---- NodeMetrics -----------------------------------------------------------------------------

std::string_view to_string(SigV4Failure r) noexcept {
    switch (r) {
        case SigV4Failure::missing_authentication_token:
            return "missing_authentication_token";
        case SigV4Failure::incomplete_signature:
            return "incomplete_signature";
        case SigV4Failure::unrecognized_client:
            return "unrecognized_client";
        case SigV4Failure::invalid_signature:
            return "invalid_signature";
        case SigV4Failure::signature_expired:
            return "signature_expired";
        case SigV4Failure::signature_not_yet_current:
            return "signature_not_yet_current";
    }
    return "unknown";
}

NodeMetrics::NodeMetrics(Registry& registry)
    : tls_handshake_failures(registry.counter("wsgate_tls_handshake_failures_total",
                                              "Connections to the TLS listener whose TLS handshake failed.")),
      registry_(registry) {
    for (std::size_t i = 0; i < kSigV4FailureCount; ++i) {
        const auto reason = to_string(static_cast<SigV4Failure>(i));
        sigv4_[i] = &registry_.counter("wsgate_sigv4_failures_total",
                                       "SigV4 verification failures by reason.",
                                       {{"reason", std::string(reason)}});
    }
}

Gauge& NodeMetrics::backend_pool_in_use(std::string_view integration) {
    return registry_.gauge("wsgate_backend_pool_in_use",
                           "Pooled backend connections currently lent out, per integration.",
                           {{"integration", std::string(integration)}});
}

Counter& NodeMetrics::management_request(std::string_view method, int status) {
    std::string_view m = "other";
    if (method == "GET" || method == "POST" || method == "DELETE") m = method;
    char buf[12];
    const auto r = std::to_chars(buf, buf + sizeof buf, status);
    return registry_.counter("wsgate_management_requests_total",
                             "@connections management API requests by method and response status.",
                             {{"method", std::string(m)}, {"status", std::string(buf, r.ptr)}});
}

}  // namespace wsgate::observability
