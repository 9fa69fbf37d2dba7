#pragma once
// Access logs in AWS's `$context` template syntax (contract §8):
//
//     auto t = AccessLogTemplate::compile(kDefaultAccessLogFormat, &error);   // once, at startup
//     AccessLogFields f;  f.request_id = ...;  f.status = 200;  ...
//     std::string line;  t->render(f, line);   // appends one line, '\n' included
//     sink->write(line);                       // one write(2)
//
// Template syntax
// - A variable is "$context." followed by a dotted name: [A-Za-z0-9_]+ ("." [A-Za-z0-9_]+)*,
//   longest match. A dot counts only when a name character follows it, so the "." in
//   "$context.status." is literal. Everything else is literal text, including "$" not followed by
//   "context." plus a name character. The "${context.x}" form is not AWS syntax and stays literal.
// - Variables the gateway fills (see AccessLogFields) render their value; an absent value (empty
//   string_view, negative number, no time) renders "-", as on AWS. Variables AWS documents but
//   the gateway never has (identity.caller, identity.user, waf.*, authorize.*, authenticate.*,
//   authorizer.latency, ...) always render "-". Unknown names also render "-" and are listed by
//   unrecognized_variables() so the configuration loader can warn about typos.
// - "$context.authorizer.<key>" (any key but the reserved authorizer.* names) looks <key> up in
//   AccessLogFields::authorizer.
// - A template must be 1..3072 bytes (AWS's 3 KB limit) and a single line (no CR or LF).
//
// Escaping (log injection is not possible in either mode: a rendered value never contains a
// control character, and never ends a JSON string or a quoted text field):
// - JSON mode: the template's first non-blank character is "{". Values are JSON string contents:
//   `"` -> \", `\` -> \\, \b \f \n \r \t, other bytes below 0x20 and 0x7F -> \u00XX; every byte
//   that is not part of well-formed UTF-8 -> \ufffd. Values are placed between the template's own
//   quotes, so numbers should be quoted too ("status":"$context.status"): an absent one is "-".
// - Text mode: valid UTF-8 passes through; `"`, `\`, bytes below 0x20, 0x7F and bytes that are not
//   part of well-formed UTF-8 become \xHH (nginx's escape=default, minus its escaping of UTF-8).
// - $context.error.messageString is error.message in double quotes (AWS: "the quoted value of
//   $context.error.message"), the contents escaped as above; absent -> - (without quotes).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_format.h"

namespace wsgate::observability {

struct AuthorizerProperty {
    std::string_view key;
    std::string_view value;
};

// What the gateway knows about one event. Plain views and numbers: building one allocates
// nothing. Empty views, negative numbers and an empty request_time mean "absent" ("-").
struct AccessLogFields {
    std::string_view request_id;             // requestId
    std::string_view extended_request_id;    // extendedRequestId
    std::string_view connection_id;          // connectionId
    std::string_view event_type;             // eventType: CONNECT | MESSAGE | DISCONNECT
    std::string_view route_key;              // routeKey
    std::string_view stage;                  // stage
    std::string_view api_id;                 // apiId
    std::string_view domain_name;            // domainName
    std::string_view message_id;             // messageId
    std::string_view source_ip;              // identity.sourceIp
    std::string_view user_agent;             // identity.userAgent
    int status = -1;                         // status: the response status (101/4xx/5xx, 200, ...)
    std::optional<SystemTime> request_time;  // requestTime (CLF, UTC), requestTimeEpoch (ms)
    std::int64_t connected_at_ms = -1;       // connectedAt (ms since the epoch)
    int integration_status = -1;             // integration.status and integration.integrationStatus
    std::int64_t integration_latency_ms = -1;        // integration.latency and integrationLatency
    std::string_view integration_error;              // integration.error
    std::string_view integration_request_id;         // integration.requestId
    std::string_view error_message;                  // error.message, error.messageString
    std::string_view error_response_type;            // error.responseType
    std::string_view authorizer_principal_id;        // authorizer.principalId
    std::span<const AuthorizerProperty> authorizer;  // authorizer.<key>
};

// An AWS-like JSON line: who, when, what, the outcome and the integration's part in it.
inline constexpr std::string_view kDefaultAccessLogFormat =
    R"({"requestId":"$context.requestId","ip":"$context.identity.sourceIp",)"
    R"("requestTime":"$context.requestTime","eventType":"$context.eventType",)"
    R"("routeKey":"$context.routeKey","status":"$context.status",)"
    R"("connectionId":"$context.connectionId","messageId":"$context.messageId",)"
    R"("integrationStatus":"$context.integration.status",)"
    R"("integrationLatency":"$context.integrationLatency","error":"$context.error.message"})";

// The console's CLF preset for WebSocket APIs (identity.caller/user are always "-" here).
inline constexpr std::string_view kCommonLogFormat =
    R"($context.identity.sourceIp $context.identity.caller $context.identity.user )"
    R"([$context.requestTime] "$context.eventType $context.routeKey $context.connectionId" )"
    R"($context.status $context.requestId)";

class AccessLogTemplate {
  public:
    static constexpr std::size_t kMaxBytes = 3072;  // AWS: "Access log template: 3 KB"

    // Parses `format` once. nullopt (and a message in *error) when it is empty, over kMaxBytes,
    // or contains CR/LF.
    static std::optional<AccessLogTemplate> compile(std::string_view format,
                                                    std::string* error = nullptr);

    // Appends the rendered line and a '\n' to `out`. Allocates only if `out` has to grow; safe to
    // call from many threads at once (const, no shared state).
    void render(const AccessLogFields& f, std::string& out) const;

    bool json() const noexcept { return json_; }
    std::string_view format() const noexcept { return text_; }
    // "$context.<name>" variables that are not in AWS's list (they render "-"), in template order.
    const std::vector<std::string>& unrecognized_variables() const noexcept {
        return unrecognized_;
    }

    enum class Var : std::uint8_t;  // defined in access_log.cpp

  private:
    struct Part {
        Var var;               // Var::literal: text_[offset, offset+length) verbatim
        std::uint32_t offset;  // Var::authorizer_property: the key's position in text_
        std::uint32_t length;
    };
    AccessLogTemplate() = default;

    std::string text_;
    std::vector<Part> parts_;
    std::vector<std::string> unrecognized_;
    bool json_ = false;
};

// Where access log lines go: standard output or a file opened with O_APPEND. Thread-safe without
// a lock: each line is one write(2) call, which the kernel keeps whole for regular files opened
// with O_APPEND and for pipes up to PIPE_BUF (4096) bytes. Only a short write (disk full, a signal,
// a pipe line above PIPE_BUF) is finished with further calls, and then the line may interleave.
// The write blocks the calling thread for as long as the kernel does; with a pipe that nobody
// reads, that is forever. SIGPIPE must be ignored by the process (write then fails with EPIPE).
class AccessLogSink {
  public:
    // "-" or "stdout": standard output, not closed by the sink. Anything else: a path, opened
    // O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC with mode 0644 (less the umask). nullptr and a message
    // in *error when it cannot be opened.
    static std::unique_ptr<AccessLogSink> open(std::string_view destination,
                                               std::string* error = nullptr);
    // Wraps a descriptor; `owned`: close it in the destructor.
    AccessLogSink(int fd, bool owned) noexcept : fd_(fd), owned_(owned) {}
    ~AccessLogSink();
    AccessLogSink(const AccessLogSink&) = delete;
    AccessLogSink& operator=(const AccessLogSink&) = delete;

    // Writes `line` as is (render() output already ends in '\n'). false when the write failed
    // (the line is lost; failed_writes() counts it).
    bool write(std::string_view line) noexcept;
    std::uint64_t failed_writes() const noexcept { return failed_.load(std::memory_order_relaxed); }
    int fd() const noexcept { return fd_; }

  private:
    int fd_;
    bool owned_;
    std::atomic<std::uint64_t> failed_{0};
};

// A template and a sink together: render into a per-thread buffer (no allocation once the buffer
// has grown to the longest line), then one write.
class AccessLogger {
  public:
    AccessLogger(AccessLogTemplate t, std::unique_ptr<AccessLogSink> sink)
        : template_(std::move(t)), sink_(std::move(sink)) {}
    void log(const AccessLogFields& f) const;
    const AccessLogTemplate& log_template() const noexcept { return template_; }
    AccessLogSink& sink() const noexcept { return *sink_; }

  private:
    AccessLogTemplate template_;
    std::unique_ptr<AccessLogSink> sink_;
};

}  // namespace wsgate::observability
