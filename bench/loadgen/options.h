#pragma once
// Command line of wsgate-loadgen.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace loadgen {

enum class Mode { echo, connect, post };

struct Options {
    Mode mode = Mode::echo;
    std::string url = "ws://127.0.0.1:8080/dev";
    unsigned threads = 1;           // I/O threads
    unsigned connections = 1;       // echo, post: WebSocket connections
    unsigned inflight = 1;          // echo: messages in flight per connection
    std::size_t size = 16;          // echo, post: message size in bytes (>= 16, the stamp)
    double duration = 5;            // seconds measured
    double warmup = -1;             // seconds before measuring; -1 = mode default (1, connect: 0)
    double timeout = 10;            // seconds allowed for one connect + handshake (and the setup)
    unsigned handshakes = 64;       // handshakes in flight (connect mode; setup of echo and post)
    bool hold = false;              // connect: keep the connections open until the end
    std::uint64_t total = 0;        // connect: stop after this many attempts (0 = duration only)
    unsigned http_connections = 4;  // post: keep-alive HTTP connections driving POSTs
    std::string access_key = "AKIAWSGATELOCAL00001";
    std::string secret_key = "wsgate-local-secret-key-not-for-production";
    std::string session_token;
    std::string region = "us-east-1";
    bool unsigned_requests = false;          // post: no SigV4 (gateway with management.auth: none)
    std::string backend = "127.0.0.1:9901";  // post: where the tool serves the whoami integration
    bool quiet = false;                      // only the JSON line
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

extern const char* const kUsage;

// Throws UsageError. A lone "--help" yields UsageError with an empty message.
Options parse_options(const std::vector<std::string>& args);

const char* mode_name(Mode m);

}  // namespace loadgen
