#pragma once
// Lambda-proxy events exactly as API Gateway sends them (contract §3): CONNECT, MESSAGE,
// DISCONNECT. Pure functions: everything they print comes in through their arguments.
#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time_format.h"

namespace wsgate::integration {

// What every event of one connection repeats in requestContext.
struct ConnectionContext {
    std::string connection_id;
    std::string api_id;
    std::string stage;
    std::string domain_name;
    std::string source_ip;
    std::optional<std::string> user_agent;  // omitted from identity when the client sent none
    std::int64_t connected_at_ms = 0;
    std::optional<std::string> api_key;     // identity.apiKey, when $connect required one
    std::optional<std::string> access_key;  // identity.accessKey, when $connect was AWS_IAM-signed
    // requestContext.authorizer ({"principalId", ...context}) when a $connect authorizer allowed
    // the connection; repeated on every event of the connection, as on AWS.
    std::shared_ptr<const boost::json::object> authorizer;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;  // wire order, original case

struct EventIds {
    std::string request_id;  // also extendedRequestId
    SystemTime time;         // requestTime / requestTimeEpoch
};

// `headers`: the upgrade request's headers to report (the caller drops hop-by-hop ones).
// `query`: decoded query parameters in order; empty vector and `has_query == false` when the URL
// had no query string (AWS then omits both query fields).
std::string connect_event(const ConnectionContext& c, const EventIds& ids, const HeaderList& headers,
                          const HeaderList& query, bool has_query);

// `body_is_base64`: a binary message, delivered base64-encoded with isBase64Encoded: true.
std::string message_event(const ConnectionContext& c, const EventIds& ids, std::string_view route_key,
                          std::string_view message_id, std::string_view body, bool body_is_base64 = false);

// Standard base64 (with padding), for binary message bodies.
std::string base64_encode(std::string_view bytes);

std::string disconnect_event(const ConnectionContext& c, const EventIds& ids, std::string_view host,
                             int status_code, std::string_view reason);

// The error frames AWS sends on a message route, e.g. {"message": "Forbidden", "connectionId":"…",
// "requestId":"…"} with AWS's spacing.
std::string error_frame(std::string_view message, std::string_view connection_id, std::string_view request_id);

}  // namespace wsgate::integration
