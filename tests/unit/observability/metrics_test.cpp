// Registry, the Prometheus text exposition (format 0.0.4), GatewayMetrics and NodeMetrics.
#include "observability/metrics.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using wsgate::observability::Counter;
using wsgate::observability::GatewayMetrics;
using wsgate::observability::Gauge;
using wsgate::observability::Histogram;
using wsgate::observability::kLatencyBuckets;
using wsgate::observability::kNoRoute;
using wsgate::observability::NodeMetrics;
using wsgate::observability::Registry;
using wsgate::observability::RouteMetrics;
using wsgate::observability::SigV4Failure;

constexpr int kThreads = 4;

bool contains_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Counter, IncrementsByOneOrN) {
    Registry r;
    Counter& c = r.counter("c_total", "help");
    EXPECT_EQ(c.value(), 0u);
    c.inc();
    c.inc(41);
    EXPECT_EQ(c.value(), 42u);
}

TEST(Gauge, SetAddSubIncDec) {
    Registry r;
    Gauge& g = r.gauge("g", "help");
    g.set(10);
    g.add(5);
    g.sub(20);
    EXPECT_EQ(g.value(), -5);
    g.inc();
    g.inc();
    g.dec();
    EXPECT_EQ(g.value(), -4);
}

TEST(Registry, SameNameAndLabelsReturnTheSameObject) {
    Registry r;
    Counter& a = r.counter("x_total", "help", {{"api", "a"}, {"stage", "dev"}});
    Counter& b = r.counter("x_total", "help", {{"api", "a"}, {"stage", "dev"}});
    Counter& c = r.counter("x_total", "help", {{"api", "a"}, {"stage", "prod"}});
    EXPECT_EQ(&a, &b);
    EXPECT_NE(&a, &c);
    a.inc();
    EXPECT_EQ(b.value(), 1u);
    EXPECT_EQ(c.value(), 0u);

    Histogram& h1 = r.histogram("h_seconds", "help", kLatencyBuckets, {{"route", "x"}});
    Histogram& h2 = r.histogram("h_seconds", "help", kLatencyBuckets, {{"route", "x"}});
    EXPECT_EQ(&h1, &h2);
    EXPECT_EQ(&r.gauge("g", "help"), &r.gauge("g", "help"));
}

TEST(Registry, SameNameWithAnotherShapeThrows) {
    Registry r;
    r.counter("m", "help", {{"a", "1"}});
    EXPECT_THROW(r.gauge("m", "help", {{"a", "1"}}), std::invalid_argument);
    EXPECT_THROW(r.histogram("m", "help", kLatencyBuckets, {{"a", "1"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("m", "other help", {{"a", "1"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("m", "help", {{"b", "1"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("m", "help", {{"a", "1"}, {"b", "2"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("m", "help"), std::invalid_argument);

    const std::array<double, 2> b1 = {0.1, 1};
    const std::array<double, 2> b2 = {0.1, 2};
    r.histogram("h", "help", b1);
    EXPECT_THROW(r.histogram("h", "help", b2), std::invalid_argument);
    EXPECT_NO_THROW(r.histogram("h", "help", b1));
    EXPECT_NO_THROW(r.counter("m", "help", {{"a", "2"}}));
}

TEST(Registry, InvalidNamesAndBoundsThrow) {
    Registry r;
    EXPECT_THROW(r.counter("", "h"), std::invalid_argument);
    EXPECT_THROW(r.counter("1abc", "h"), std::invalid_argument);
    EXPECT_THROW(r.counter("a-b", "h"), std::invalid_argument);
    EXPECT_NO_THROW(r.counter("ns:sub_name1", "h"));
    EXPECT_THROW(r.counter("ok", "h", {{"", "v"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("ok", "h", {{"__reserved", "v"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("ok", "h", {{"a:b", "v"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("ok", "h", {{"9a", "v"}}), std::invalid_argument);
    EXPECT_THROW(r.counter("ok", "h", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
    EXPECT_THROW(r.histogram("hh", "h", kLatencyBuckets, {{"le", "1"}}), std::invalid_argument);
    EXPECT_NO_THROW(r.counter("ok2", "h", {{"le", "fine on a counter"}}));

    const std::array<double, 2> equal = {1, 1};
    const std::array<double, 2> down = {2, 1};
    const std::array<double, 2> inf = {1, std::numeric_limits<double>::infinity()};
    const std::array<double, 1> nan = {std::numeric_limits<double>::quiet_NaN()};
    EXPECT_THROW(r.histogram("h1", "h", equal), std::invalid_argument);
    EXPECT_THROW(r.histogram("h2", "h", down), std::invalid_argument);
    EXPECT_THROW(r.histogram("h3", "h", inf), std::invalid_argument);
    EXPECT_THROW(r.histogram("h4", "h", nan), std::invalid_argument);
    EXPECT_NO_THROW(r.histogram("h5", "h", std::span<const double>{}));
}

TEST(Exposition, GoldenText) {
    Registry r;
    // Registered out of order: families render by name, series by label values.
    r.gauge("wsgate_open", "Open things.", {{"stage", "prod"}}).set(-3);
    r.gauge("wsgate_open", "Open things.", {{"stage", "dev"}}).set(7);
    Counter& plain = r.counter("wsgate_a_total", "Plain counter.");
    plain.inc(5);
    Counter& b = r.counter("wsgate_b_total", "Two labels.", {{"api", "x"}, {"route", "send"}});
    Counter& a = r.counter("wsgate_b_total", "Two labels.", {{"api", "x"}, {"route", "join"}});
    b.inc(2);
    a.inc();
    const std::array<double, 3> bounds = {0.125, 0.5, 1};
    Histogram& h = r.histogram("wsgate_lat_seconds", "Latency.", bounds, {{"api", "x"}});
    for (double v : {0.0625, 0.125, 0.25, 2.0}) h.observe(v);
    r.histogram("wsgate_nolabels_seconds", "No labels.", bounds).observe(0.5);

    EXPECT_EQ(r.render_prometheus(),
              "# HELP wsgate_a_total Plain counter.\n"
              "# TYPE wsgate_a_total counter\n"
              "wsgate_a_total 5\n"
              "# HELP wsgate_b_total Two labels.\n"
              "# TYPE wsgate_b_total counter\n"
              "wsgate_b_total{api=\"x\",route=\"join\"} 1\n"
              "wsgate_b_total{api=\"x\",route=\"send\"} 2\n"
              "# HELP wsgate_lat_seconds Latency.\n"
              "# TYPE wsgate_lat_seconds histogram\n"
              "wsgate_lat_seconds_bucket{api=\"x\",le=\"0.125\"} 2\n"
              "wsgate_lat_seconds_bucket{api=\"x\",le=\"0.5\"} 3\n"
              "wsgate_lat_seconds_bucket{api=\"x\",le=\"1\"} 3\n"
              "wsgate_lat_seconds_bucket{api=\"x\",le=\"+Inf\"} 4\n"
              "wsgate_lat_seconds_sum{api=\"x\"} 2.4375\n"
              "wsgate_lat_seconds_count{api=\"x\"} 4\n"
              "# HELP wsgate_nolabels_seconds No labels.\n"
              "# TYPE wsgate_nolabels_seconds histogram\n"
              "wsgate_nolabels_seconds_bucket{le=\"0.125\"} 0\n"
              "wsgate_nolabels_seconds_bucket{le=\"0.5\"} 1\n"
              "wsgate_nolabels_seconds_bucket{le=\"1\"} 1\n"
              "wsgate_nolabels_seconds_bucket{le=\"+Inf\"} 1\n"
              "wsgate_nolabels_seconds_sum 0.5\n"
              "wsgate_nolabels_seconds_count 1\n"
              "# HELP wsgate_open Open things.\n"
              "# TYPE wsgate_open gauge\n"
              "wsgate_open{stage=\"dev\"} 7\n"
              "wsgate_open{stage=\"prod\"} -3\n");
}

TEST(Exposition, EmptyRegistryRendersNothing) {
    Registry r;
    EXPECT_EQ(r.render_prometheus(), "");
}

TEST(Exposition, LabelValuesAndHelpAreEscaped) {
    Registry r;
    r.counter("esc_total", "Help with \\ backslash\nand \"quotes\".",
              {{"v", "a\\b\"c\nd"}, {"w", "plain {},=é"}})
        .inc();
    EXPECT_EQ(r.render_prometheus(),
              "# HELP esc_total Help with \\\\ backslash\\nand \"quotes\".\n"
              "# TYPE esc_total counter\n"
              "esc_total{v=\"a\\\\b\\\"c\\nd\",w=\"plain {},=é\"} 1\n");
}

TEST(Exposition, BucketBoundsUseShortestRoundTripSpelling) {
    Registry r;
    r.histogram("lat_seconds", "h", kLatencyBuckets).observe(0.003);
    const std::string text = r.render_prometheus();
    for (const char* le : {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                           "0.5", "1", "2.5", "5", "10", "30", "+Inf"}) {
        EXPECT_NE(text.find(std::string("lat_seconds_bucket{le=\"") + le + "\"}"),
                  std::string::npos)
            << le;
    }
    EXPECT_TRUE(contains_line(text, "lat_seconds_bucket{le=\"0.0025\"} 0")) << text;
    EXPECT_TRUE(contains_line(text, "lat_seconds_bucket{le=\"0.005\"} 1")) << text;
    EXPECT_TRUE(contains_line(text, "lat_seconds_sum 0.003")) << text;
}

TEST(Histogram, BucketsSumAndCountAfterKnownObservations) {
    const std::array<double, 3> bounds = {0.01, 0.1, 1};
    Histogram h(bounds);
    h.observe(0.01);   // == bound: le is inclusive
    h.observe(0.005);  // first bucket
    h.observe(0.5);
    h.observe(1.0);
    h.observe(7.0);                                       // +Inf only
    h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored
    h.observe(250ms);                                     // chrono overload: 0.25 s
    const auto s = h.snapshot();
    ASSERT_EQ(s.cumulative.size(), 4u);
    EXPECT_EQ(s.cumulative[0], 2u);
    EXPECT_EQ(s.cumulative[1], 2u);
    EXPECT_EQ(s.cumulative[2], 5u);
    EXPECT_EQ(s.cumulative[3], 6u);
    EXPECT_EQ(s.count, 6u);
    EXPECT_DOUBLE_EQ(s.sum, 0.01 + 0.005 + 0.5 + 1.0 + 7.0 + 0.25);
}

TEST(Histogram, InfinitiesLandInTheEdgeBuckets) {
    const std::array<double, 2> bounds = {1, 2};
    Histogram h(bounds);
    h.observe(-std::numeric_limits<double>::infinity());
    h.observe(-1.0);
    const auto s1 = h.snapshot();
    EXPECT_EQ(s1.cumulative[0], 2u);
    h.observe(std::numeric_limits<double>::infinity());
    const auto s2 = h.snapshot();
    EXPECT_EQ(s2.cumulative[1], 2u);
    EXPECT_EQ(s2.cumulative[2], 3u);
}

TEST(Concurrency, FourThreadsIncrementingSumExactly) {
    constexpr int kPerThread = 100'000;
    Registry r;
    Counter& c = r.counter("c_total", "h");
    Gauge& g = r.gauge("g", "h");
    const std::array<double, 2> bounds = {0.25, 1};
    Histogram& h = r.histogram("h_seconds", "h", bounds);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                c.inc();
                g.add(2);
                g.sub(1);
                h.observe(t % 2 == 0 ? 0.5 : 0.125);  // exact in binary: the sum is exact too
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), std::uint64_t{kThreads} * kPerThread);
    EXPECT_EQ(g.value(), std::int64_t{kThreads} * kPerThread);
    const auto s = h.snapshot();
    EXPECT_EQ(s.count, std::uint64_t{kThreads} * kPerThread);
    EXPECT_EQ(s.cumulative[0], std::uint64_t{kThreads / 2} * kPerThread);
    EXPECT_EQ(s.sum, (kThreads / 2) * kPerThread * (0.5 + 0.125));
}

TEST(Concurrency, RenderWhileUpdatingAndRegistering) {
    Registry r;
    Counter& c = r.counter("c_total", "h");
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        int i = 0;
        while (!stop.load()) {
            c.inc();
            r.counter("d_total", "h", {{"n", std::to_string(i++ % 50)}}).inc();
        }
    });
    for (int i = 0; i < 200; ++i) {
        const std::string text = r.render_prometheus();
        ASSERT_EQ(text.rfind("# HELP c_total h\n", 0), 0u);
    }
    stop = true;
    writer.join();
    EXPECT_TRUE(contains_line(r.render_prometheus(), "c_total " + std::to_string(c.value())));
}

TEST(GatewayMetrics, StageSeriesExistFromConstruction) {
    Registry r;
    GatewayMetrics m(r, "abc123", "dev");
    m.connect_count.inc();
    m.connections_open.inc();
    m.connections_total.inc(3);
    m.send_queue_drops.inc(2);
    const std::string text = r.render_prometheus();
    EXPECT_TRUE(contains_line(text, "wsgate_connect_count_total{api=\"abc123\",stage=\"dev\"} 1"))
        << text;
    EXPECT_TRUE(contains_line(text, "wsgate_connections_open{api=\"abc123\",stage=\"dev\"} 1"));
    EXPECT_TRUE(contains_line(text, "wsgate_connections_total{api=\"abc123\",stage=\"dev\"} 3"));
    EXPECT_TRUE(
        contains_line(text, "wsgate_send_queue_drops_total{api=\"abc123\",stage=\"dev\"} 2"));
    EXPECT_TRUE(contains_line(text, "# TYPE wsgate_connections_open gauge"));
    EXPECT_TRUE(contains_line(text, "# TYPE wsgate_connect_count_total counter"));
    EXPECT_EQ(text.find("wsgate_message_count_total"), std::string::npos);  // no route used yet
}

TEST(GatewayMetrics, PerRouteSeriesAreCachedAndLabelled) {
    Registry r;
    GatewayMetrics dev(r, "abc123", "dev");
    GatewayMetrics prod(r, "abc123", "prod");
    RouteMetrics& join = dev.per_route("join");
    EXPECT_EQ(&join, &dev.per_route("join"));
    EXPECT_EQ(join.route_key, "join");
    EXPECT_NE(&join.message_count, &prod.per_route("join").message_count);
    EXPECT_NE(&join.message_count, &dev.per_route("$default").message_count);
    // The same series as a direct registration with the documented labels.
    EXPECT_EQ(&join.message_count,
              &r.counter("wsgate_message_count_total",
                         "AWS MessageCount: messages sent to the WebSocket API, from or to the "
                         "client.",
                         {{"api", "abc123"}, {"stage", "dev"}, {"route", "join"}}));

    join.message_count.inc(2);
    join.integration_error.inc();
    join.client_error.inc(3);
    join.execution_error.inc(4);
    join.integration_latency.observe(0.02);
    dev.per_route(kNoRoute).client_error.inc();

    const std::string text = r.render_prometheus();
    const std::string l = "{api=\"abc123\",stage=\"dev\",route=\"join\"}";
    EXPECT_TRUE(contains_line(text, "wsgate_message_count_total" + l + " 2")) << text;
    EXPECT_TRUE(contains_line(text, "wsgate_integration_error_total" + l + " 1"));
    EXPECT_TRUE(contains_line(text, "wsgate_client_error_total" + l + " 3"));
    EXPECT_TRUE(contains_line(text, "wsgate_execution_error_total" + l + " 4"));
    EXPECT_TRUE(
        contains_line(text,
                      "wsgate_integration_latency_seconds_bucket{api=\"abc123\",stage=\"dev\","
                      "route=\"join\",le=\"0.025\"} 1"));
    EXPECT_TRUE(
        contains_line(text,
                      "wsgate_integration_latency_seconds_bucket{api=\"abc123\",stage=\"dev\","
                      "route=\"join\",le=\"0.01\"} 0"));
    EXPECT_TRUE(contains_line(text, "wsgate_integration_latency_seconds_count" + l + " 1"));
    EXPECT_TRUE(contains_line(
        text, "wsgate_client_error_total{api=\"abc123\",stage=\"dev\",route=\"-\"} 1"));
    EXPECT_TRUE(contains_line(text, "# TYPE wsgate_integration_latency_seconds histogram"));
}

TEST(GatewayMetrics, ManyRoutesSurviveTableGrowth) {
    Registry r;
    GatewayMetrics m(r, "api", "dev");
    std::vector<RouteMetrics*> first;
    for (int i = 0; i < 400; ++i) first.push_back(&m.per_route("route" + std::to_string(i)));
    std::set<RouteMetrics*> distinct(first.begin(), first.end());
    EXPECT_EQ(distinct.size(), 400u);
    for (int i = 0; i < 400; ++i) {
        RouteMetrics& again = m.per_route("route" + std::to_string(i));
        ASSERT_EQ(&again, first[static_cast<std::size_t>(i)]) << i;
        ASSERT_EQ(again.route_key, "route" + std::to_string(i));
    }
}

TEST(GatewayMetrics, ConcurrentFirstUseCreatesOneSeriesPerRoute) {
    constexpr int kRoutes = 100;
    constexpr int kRounds = 20;
    Registry r;
    GatewayMetrics m(r, "api", "dev");
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int round = 0; round < kRounds; ++round) {
                for (int i = 0; i < kRoutes; ++i) {
                    m.per_route("r" + std::to_string(i)).message_count.inc();
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kRoutes; ++i) {
        EXPECT_EQ(m.per_route("r" + std::to_string(i)).message_count.value(),
                  std::uint64_t{kThreads} * kRounds)
            << i;
    }
}

TEST(NodeMetrics, SigV4ReasonsManagementAndPool) {
    Registry r;
    NodeMetrics n(r);
    n.sigv4_failure(SigV4Failure::signature_expired).inc();
    n.sigv4_failure(SigV4Failure::invalid_signature).inc(2);
    n.management_request("POST", 200).inc();
    n.management_request("POST", 200).inc();
    n.management_request("PATCH", 405).inc();
    n.management_request("GET", 410).inc();
    EXPECT_EQ(&n.management_request("PUT", 405), &n.management_request("PATCH", 405));
    Gauge& pool = n.backend_pool_in_use("orders");
    EXPECT_EQ(&pool, &n.backend_pool_in_use("orders"));
    pool.set(4);

    const std::string text = r.render_prometheus();
    for (const char* reason : {"missing_authentication_token", "incomplete_signature",
                               "unrecognized_client", "signature_not_yet_current"}) {
        EXPECT_TRUE(contains_line(
            text, std::string("wsgate_sigv4_failures_total{reason=\"") + reason + "\"} 0"))
            << reason << "\n"
            << text;
    }
    EXPECT_TRUE(contains_line(text, "wsgate_sigv4_failures_total{reason=\"signature_expired\"} 1"));
    EXPECT_TRUE(contains_line(text, "wsgate_sigv4_failures_total{reason=\"invalid_signature\"} 2"));
    EXPECT_TRUE(
        contains_line(text, "wsgate_management_requests_total{method=\"POST\",status=\"200\"} 2"));
    EXPECT_TRUE(
        contains_line(text, "wsgate_management_requests_total{method=\"other\",status=\"405\"} 1"));
    EXPECT_TRUE(
        contains_line(text, "wsgate_management_requests_total{method=\"GET\",status=\"410\"} 1"));
    EXPECT_TRUE(contains_line(text, "wsgate_backend_pool_in_use{integration=\"orders\"} 4"));
}

TEST(NodeMetrics, ReasonNamesMatchTheAuthLayer) {
    EXPECT_EQ(to_string(SigV4Failure::missing_authentication_token),
              "missing_authentication_token");
    EXPECT_EQ(to_string(SigV4Failure::signature_not_yet_current), "signature_not_yet_current");
    EXPECT_EQ(static_cast<int>(SigV4Failure::signature_not_yet_current) + 1,
              static_cast<int>(wsgate::observability::kSigV4FailureCount));
}

}  // namespace
