#include "report.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace loadgen {

namespace json = boost::json;

namespace {

double round1(double x) {
    return std::round(x * 10.0) / 10.0;
}
double us(std::uint64_t ns) {
    return round1(static_cast<double>(ns) / 1e3);
}

void add_latency(json::object& j, const std::string& prefix, const Histogram& h) {
    j[prefix + "samples"] = h.count();
    if (h.count() == 0) {  // no latency to speak of: null rather than a misleading 0
        for (const char* k : {"p50_us", "p99_us", "p999_us", "max_us", "mean_us"})
            j[prefix + k] = nullptr;
        return;
    }
    j[prefix + "p50_us"] = us(h.percentile(0.50));
    j[prefix + "p99_us"] = us(h.percentile(0.99));
    j[prefix + "p999_us"] = us(h.percentile(0.999));
    j[prefix + "max_us"] = us(h.max());
    j[prefix + "mean_us"] = round1(h.mean() / 1e3);
}

std::string latency_line(const std::string& label, const Histogram& h) {
    if (h.count() == 0) return "  " + label + "no samples\n";
    return "  " + label + "p50 " + format_ns(h.percentile(0.50)) + "   p99 " +
           format_ns(h.percentile(0.99)) + "   p99.9 " + format_ns(h.percentile(0.999)) +
           "   max " + format_ns(h.max()) + "   (n=" + std::to_string(h.count()) + ")\n";
}

std::string per_second(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

json::object to_json(const std::map<std::string, std::uint64_t, std::less<>>& m) {
    json::object j;
    for (const auto& [k, v] : m) j[k] = v;
    return j;
}

std::string counts_line(const std::map<std::string, std::uint64_t, std::less<>>& m) {
    std::string out;
    for (const auto& [k, v] : m) {
        if (!out.empty()) out += ", ";
        out += k + ": " + std::to_string(v);
    }
    return out.empty() ? "none" : out;
}

// Like json::serialize, but doubles are written plainly with one decimal ("25257.5", not
// "2.52575E4"), which is easier on people and on shell tools.
void dump(const json::value& v, std::string& out) {
    switch (v.kind()) {
        case json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out += ',';
                first = false;
                out += json::serialize(json::string(kv.key()));
                out += ':';
                dump(kv.value(), out);
            }
            out += '}';
            break;
        }
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                dump(e, out);
            }
            out += ']';
            break;
        }
        case json::kind::double_: {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%.1f", v.get_double());
            out += buf;
            break;
        }
        default:
            out += json::serialize(v);
    }
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", s);
    return buf;
}

}  // namespace

int report(const Options& o, RunInfo& info, const Stats& s, std::ostream& out) {
    const Window& w = info.window;
    double seconds = o.duration;
    if (o.mode == Mode::connect && info.started) {
        // With --total the run may end before the duration does.
        const auto last = TimePoint(std::chrono::duration_cast<Clock::duration>(
            std::chrono::nanoseconds(info.last_done_ns.load())));
        if (last > w.measure && last < w.end) {
            seconds = std::chrono::duration<double>(last - w.measure).count();
        }
    }
    const double rate =
        info.started && seconds > 0 ? static_cast<double>(s.ok_window) / seconds : 0;

    json::object j;
    j["mode"] = mode_name(o.mode);
    j["url"] = o.url;
    j["threads"] = o.threads;
    j["duration_s"] = round1(seconds);
    j["warmup_s"] = o.warmup;
    std::string h;
    int status = 0;
    switch (o.mode) {
        case Mode::echo: {
            j["connections"] = o.connections;
            j["connections_open"] = info.connections_open;
            j["inflight"] = o.inflight;
            j["size"] = o.size;
            j["msgs_per_s"] = round1(rate);
            j["messages"] = s.ok_window;
            j["sent_total"] = s.sent_total;
            j["received_total"] = s.ok_total;
            add_latency(j, "", s.latency);
            h += "echo: " + std::to_string(info.connections_open) + "/" +
                 std::to_string(o.connections) + " connections, " + std::to_string(o.inflight) +
                 " in flight each, " + std::to_string(o.size) + " B messages\n";
            h += "  throughput:  " + per_second(rate) + " msgs/s (" + std::to_string(s.ok_window) +
                 " round trips in " + seconds_text(seconds) + " s)\n";
            h += "  totals:      sent " + std::to_string(s.sent_total) + ", echoed " +
                 std::to_string(s.ok_total) + "\n";
            h += latency_line("round trip:  ", s.latency);
            status = s.ok_window > 0 ? 0 : 1;
            break;
        }
        case Mode::connect: {
            j["handshakes_in_flight"] = o.handshakes;
            j["hold"] = o.hold;
            j["connects_per_s"] = round1(rate);
            j["connects"] = s.ok_window;
            j["attempts_total"] = s.sent_total;
            j["ok_total"] = s.ok_total;
            j["failed_total"] = s.error_count();
            j["statuses"] = to_json(s.statuses);
            add_latency(j, "", s.latency);
            h += "connect: " + std::to_string(o.handshakes) + " handshakes in flight" +
                 (o.hold ? ", holding connections" : ", closing each at once") + "\n";
            h += "  throughput:  " + per_second(rate) + " connects/s (" +
                 std::to_string(s.ok_window) + " in " + seconds_text(seconds) + " s)\n";
            h += "  totals:      attempts " + std::to_string(s.sent_total) + ", upgraded " +
                 std::to_string(s.ok_total) + ", failed " + std::to_string(s.error_count()) + "\n";
            h += "  statuses:    " + counts_line(s.statuses) + "\n";
            h += latency_line("handshake:   ", s.latency);
            status = s.ok_total > 0 ? 0 : 1;
            break;
        }
        case Mode::post: {
            j["connections"] = o.connections;
            j["connections_open"] = info.connections_open;
            j["http_connections"] = o.http_connections;
            j["size"] = o.size;
            j["signed"] = !o.unsigned_requests;
            j["posts_per_s"] = round1(rate);
            j["posts_ok"] = s.ok_window;
            j["delivered_per_s"] = round1(static_cast<double>(s.delivered_window) / seconds);
            j["posts_total"] = s.sent_total;
            j["posts_ok_total"] = s.ok_total;
            j["delivered_total"] = s.delivered_total;
            const auto lost = static_cast<std::int64_t>(s.ok_total) -
                              static_cast<std::int64_t>(s.delivered_total);
            j["undelivered"] = lost;
            j["statuses"] = to_json(s.statuses);
            add_latency(j, "", s.latency);
            add_latency(j, "post_", s.latency2);
            h += "post: " + std::to_string(info.connections_open) + "/" +
                 std::to_string(o.connections) + " connections, " +
                 std::to_string(o.http_connections) + " HTTP connections, " +
                 std::to_string(o.size) + " B, " +
                 (o.unsigned_requests ? "unsigned" : "SigV4-signed") + "\n";
            h += "  throughput:  " + per_second(rate) + " POSTs/s answered 200, " +
                 per_second(static_cast<double>(s.delivered_window) / seconds) + " deliveries/s\n";
            h += "  statuses:    " + counts_line(s.statuses) + "\n";
            h += "  totals:      POSTs " + std::to_string(s.sent_total) + ", 200 " +
                 std::to_string(s.ok_total) + ", delivered " + std::to_string(s.delivered_total) +
                 " (" + std::to_string(lost) + " answered 200 but not delivered)\n";
            h += latency_line("delivery:    ", s.latency);
            h += latency_line("POST rtt:    ", s.latency2);
            status = s.ok_window > 0 ? 0 : 1;
            break;
        }
    }
    j["errors"] = to_json(s.errors);
    if (!s.errors.empty()) h += "  errors:      " + counts_line(s.errors) + "\n";
    if (!info.sample_error.empty()) h += "  first error answer: " + info.sample_error + "\n";
    if (info.setup_seconds > 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "  setup:       %.2f s\n", info.setup_seconds);
        h += buf;
    }
    j["ok"] = status == 0;
    if (!o.quiet) out << h;
    std::string line;
    dump(j, line);
    out << line << std::endl;
    return status;
}

}  // namespace loadgen
