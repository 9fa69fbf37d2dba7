#pragma once
// An integration is the backend behind a route. The gateway hands it one Lambda-proxy event and
// gets back one result; it never sees sockets or sessions.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace wsgate::integration {

// What AWS's Lambda-proxy integration response carries that the gateway uses (contract §3.6).
struct ProxyResponse {
    int status_code = 200;
    std::optional<std::string> body;  // absent: nothing to send back
    std::string subprotocol;          // headers["Sec-WebSocket-Protocol"], for $connect
    // wsgate's broadcast extension: headers["X-Wsgate-Channels"] / ["X-Wsgate-Leave-Channels"],
    // comma-separated channel names the caller joins / leaves (docs/broadcast.md).
    std::optional<std::string> join_channels;
    std::optional<std::string> leave_channels;
};

enum class Failure {
    none,
    unreachable,   // connect refused, reset, DNS failure
    bad_response,  // non-2xx HTTP status, or a body that is not a Lambda-proxy response
    timeout,       // no complete answer within the integration's timeout
    overloaded,    // the backend's request queue is full; the request was never sent
};

struct Result {
    Failure failure = Failure::none;
    ProxyResponse response;
    std::string detail;  // for logs: what went wrong
    bool ok() const { return failure == Failure::none; }
};

// Values a request-parameter mapping may read, by AWS's source names: "context.connectionId",
// "context.routeKey", "route.request.header.Auth" ($connect only), ... nullopt when unknown.
using ParameterLookup = std::function<std::optional<std::string>(std::string_view source)>;

struct Invocation {
    std::string event_json;    // the Lambda-proxy event (empty if !wants_event())
    std::string message_body;  // the client's message (MESSAGE events), for integrations that need it
    ParameterLookup lookup;    // for integrations that map request parameters (HTTP_PROXY)
    std::optional<std::chrono::milliseconds> timeout;  // the route's, overriding the integration's
};

class Integration {
  public:
    virtual ~Integration() = default;
    // False for integrations that never look at the event (the built-in echo), so the gateway can
    // skip building it.
    virtual bool wants_event() const = 0;
    // True for integrations that read request parameters through Invocation::lookup.
    virtual bool wants_parameters() const { return false; }
    // Runs on the caller's executor; never throws.
    virtual boost::asio::awaitable<Result> invoke(Invocation inv) = 0;
};

const char* to_string(Failure f);

}  // namespace wsgate::integration
