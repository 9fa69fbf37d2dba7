#include "options.h"

#include <charconv>
#include <cmath>

namespace loadgen {

const char* const kUsage = R"(usage: wsgate-loadgen MODE [options]

modes
  echo      C connections, each keeping K messages in flight through the gateway's echo route;
            reports messages/s and round-trip latency
  connect   opens connections as fast as possible (at most H handshakes in flight) and closes
            each at once (or keeps it, --hold); reports connects/s and handshake latency
  post      opens C connections, learns their ids through the 'whoami' route (served by this tool,
            see --backend), then POSTs /{stage}/@connections/{id} round-robin over P keep-alive
            HTTP connections; reports POSTs/s, status counts and delivery latency

options
  --url URL             gateway WebSocket URL (default ws://127.0.0.1:8080/dev)
  -t, --threads N       I/O threads (default 1)
  -c, --connections C   WebSocket connections (echo, post; default 1)
  -k, --inflight K      messages in flight per connection (echo; default 1)
  -s, --size S          message size in bytes, at least 16 (default 16)
  -d, --duration D      seconds to measure (default 5)
  -w, --warmup W        seconds of load before measuring (default 1; connect: 0)
  --timeout T           seconds for one connect + handshake, and for the setup phase (default 10)
  -H, --handshakes H    handshakes in flight (connect; also the setup of echo/post; default 64)
  --hold                connect: keep every connection open until the end
  -n, --total N         connect: stop after N attempts (default: run for the duration)
  -p, --http-connections P   post: keep-alive HTTP connections (default 4)
  --access-key ID       post: SigV4 access key id (default AKIAWSGATELOCAL00001)
  --secret-key KEY      post: SigV4 secret (default wsgate-local-secret-key-not-for-production)
  --session-token TOK   post: signed as x-amz-security-token
  --region R            post: SigV4 region (default us-east-1)
  --unsigned            post: send no signature (gateway with management: {auth: none})
  --backend HOST:PORT   post: where this tool serves the whoami HTTP integration
                        (default 127.0.0.1:9901; must match the gateway's config)
  -q, --quiet           print only the final JSON line
  -h, --help            this text

The last line of output is one JSON object with the results, for scripts.
)";

namespace {

template <typename T>
T parse_uint(const std::string& opt, const std::string& v, T lo, T hi) {
    unsigned long long x = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || p != v.data() + v.size() || x < lo || x > hi) {
        throw UsageError(opt + ": expected an integer from " + std::to_string(lo) + " to " +
                         std::to_string(hi) + ", got '" + v + "'");
    }
    return static_cast<T>(x);
}

double parse_seconds(const std::string& opt, const std::string& v, double lo) {
    double x = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || p != v.data() + v.size() || !std::isfinite(x) || x < lo || x > 86400) {
        throw UsageError(opt + ": expected a number of seconds (at least " + std::to_string(lo) +
                         "), got '" + v + "'");
    }
    return x;
}

}  // namespace

const char* mode_name(Mode m) {
    switch (m) {
        case Mode::echo:
            return "echo";
        case Mode::connect:
            return "connect";
        case Mode::post:
            return "post";
    }
    return "?";
}

Options parse_options(const std::vector<std::string>& args) {
    Options o;
    bool have_mode = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
            return args[++i];
        };
        if (a == "-h" || a == "--help")
            throw UsageError("");
        else if (a == "--url")
            o.url = value();
        else if (a == "-t" || a == "--threads")
            o.threads = parse_uint<unsigned>(a, value(), 1, 256);
        else if (a == "-c" || a == "--connections")
            o.connections = parse_uint<unsigned>(a, value(), 1, 1'000'000);
        else if (a == "-k" || a == "--inflight")
            o.inflight = parse_uint<unsigned>(a, value(), 1, 100'000);
        else if (a == "-s" || a == "--size")
            o.size = parse_uint<std::size_t>(a, value(), 16, std::size_t{64} << 20);
        else if (a == "-d" || a == "--duration")
            o.duration = parse_seconds(a, value(), 0.1);
        else if (a == "-w" || a == "--warmup")
            o.warmup = parse_seconds(a, value(), 0);
        else if (a == "--timeout")
            o.timeout = parse_seconds(a, value(), 0.1);
        else if (a == "-H" || a == "--handshakes")
            o.handshakes = parse_uint<unsigned>(a, value(), 1, 100'000);
        else if (a == "--hold")
            o.hold = true;
        else if (a == "-n" || a == "--total")
            o.total = parse_uint<std::uint64_t>(a, value(), 1, UINT64_MAX);
        else if (a == "-p" || a == "--http-connections")
            o.http_connections = parse_uint<unsigned>(a, value(), 1, 100'000);
        else if (a == "--access-key")
            o.access_key = value();
        else if (a == "--secret-key")
            o.secret_key = value();
        else if (a == "--session-token")
            o.session_token = value();
        else if (a == "--region")
            o.region = value();
        else if (a == "--unsigned")
            o.unsigned_requests = true;
        else if (a == "--backend")
            o.backend = value();
        else if (a == "-q" || a == "--quiet")
            o.quiet = true;
        else if (!a.empty() && a.front() != '-' && !have_mode) {
            if (a == "echo")
                o.mode = Mode::echo;
            else if (a == "connect")
                o.mode = Mode::connect;
            else if (a == "post")
                o.mode = Mode::post;
            else
                throw UsageError("unknown mode '" + a + "' (echo, connect or post)");
            have_mode = true;
        } else {
            throw UsageError("unknown option '" + a + "' (see --help)");
        }
    }
    if (!have_mode) throw UsageError("a mode is required: echo, connect or post");
    if (o.warmup < 0) o.warmup = o.mode == Mode::connect ? 0 : 1;
    return o;
}

}  // namespace loadgen
