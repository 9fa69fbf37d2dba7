// The observability layer's hot operations: what a message costs in metrics and access logging.
// Counter/histogram updates single-threaded and contended (4 threads on one series), the
// per-route lookup, and rendering one access-log line (JSON default, CLF).
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <string>

#include "observability/access_log.h"
#include "observability/metrics.h"

namespace {

using namespace std::chrono_literals;
using namespace wsgate::observability;

Registry& registry() {
    static Registry r;
    return r;
}

GatewayMetrics& gateway() {
    static GatewayMetrics m(registry(), "abc123defg", "dev");
    return m;
}

void BM_CounterInc(benchmark::State& state) {
    static Counter& c = registry().counter("bench_counter_total", "h");
    for (auto _ : state) c.inc();
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(4)->UseRealTime();

void BM_GaugeAddSub(benchmark::State& state) {
    static Gauge& g = registry().gauge("bench_gauge", "h");
    for (auto _ : state) {
        g.inc();
        g.dec();
    }
}
BENCHMARK(BM_GaugeAddSub);

void BM_HistogramObserve(benchmark::State& state) {
    static Histogram& h = registry().histogram("bench_latency_seconds", "h", kLatencyBuckets);
    double v = 0.0004;
    for (auto _ : state) {
        h.observe(v);
        v = v < 20 ? v * 1.7 : 0.0004;  // walk every bucket
    }
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(4)->UseRealTime();

void BM_PerRouteLookup(benchmark::State& state) {
    GatewayMetrics& m = gateway();
    for (int i = 0; i < 50; ++i) m.per_route("route" + std::to_string(i));
    const std::string key = "sendmessage";
    m.per_route(key);
    for (auto _ : state) benchmark::DoNotOptimize(&m.per_route(key));
}
BENCHMARK(BM_PerRouteLookup);

// What the gateway does per message: look the route up, count it, observe the latency.
void BM_PerMessageMetrics(benchmark::State& state) {
    GatewayMetrics& m = gateway();
    for (auto _ : state) {
        RouteMetrics& r = m.per_route("sendmessage");
        r.message_count.inc();
        r.integration_latency.observe(3ms);
    }
}
BENCHMARK(BM_PerMessageMetrics);

AccessLogFields fields() {
    AccessLogFields f;
    f.request_id = "Llf7PFSNNjMFZeA=";
    f.connection_id = "Llf4ceE2NjMCF7w=";
    f.event_type = "MESSAGE";
    f.route_key = "sendmessage";
    f.message_id = "Llf7PfAENjMCF7w=";
    f.source_ip = "203.0.113.7";
    f.status = 200;
    f.request_time = std::chrono::system_clock::now();
    f.integration_status = 200;
    f.integration_latency_ms = 3;
    return f;
}

void BM_AccessLogRender(benchmark::State& state, std::string_view format) {
    const auto t = AccessLogTemplate::compile(format);
    const AccessLogFields f = fields();
    std::string out;
    for (auto _ : state) {
        out.clear();
        t->render(f, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK_CAPTURE(BM_AccessLogRender, json_default, kDefaultAccessLogFormat);
BENCHMARK_CAPTURE(BM_AccessLogRender, clf, kCommonLogFormat);

void BM_RenderPrometheus(benchmark::State& state) {
    Registry r;
    GatewayMetrics m(r, "abc123defg", "dev");
    NodeMetrics n(r);
    for (int i = 0; i < 20; ++i) m.per_route("route" + std::to_string(i)).message_count.inc();
    for (auto _ : state) benchmark::DoNotOptimize(r.render_prometheus());
}
BENCHMARK(BM_RenderPrometheus);

}  // namespace

BENCHMARK_MAIN();
