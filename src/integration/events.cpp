#include "integration/events.h"

#include "common/event_json.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>

namespace wsgate::integration {
namespace json = boost::json;

namespace {

json::object identity(const ConnectionContext& c) {
    json::object id;
    if (c.user_agent) id["userAgent"] = *c.user_agent;
    id["sourceIp"] = c.source_ip;
    if (c.api_key) id["apiKey"] = *c.api_key;
    if (c.access_key) id["accessKey"] = *c.access_key;
    return id;
}

// requestContext in the order AWS's captures show; event-specific fields are added by callers.
json::object request_context(const ConnectionContext& c, const EventIds& ids, std::string_view route_key,
                             std::string_view event_type) {
    json::object rc;
    rc["routeKey"] = route_key;
    rc["eventType"] = event_type;
    rc["extendedRequestId"] = ids.request_id;
    rc["requestTime"] = clf_time(ids.time);
    rc["messageDirection"] = "IN";
    rc["stage"] = c.stage;
    rc["connectedAt"] = c.connected_at_ms;
    rc["requestTimeEpoch"] = epoch_millis(ids.time);
    rc["identity"] = identity(c);
    rc["requestId"] = ids.request_id;
    rc["domainName"] = c.domain_name;
    rc["connectionId"] = c.connection_id;
    rc["apiId"] = c.api_id;
    if (c.authorizer) rc["authorizer"] = *c.authorizer;
    return rc;
}

}  // namespace

std::string connect_event(const ConnectionContext& c, const EventIds& ids, const HeaderList& headers,
                          const HeaderList& query, bool has_query) {
    json::object e;
    add_single_and_multi(e, "headers", "multiValueHeaders", headers);
    if (has_query) add_single_and_multi(e, "queryStringParameters", "multiValueQueryStringParameters", query);
    e["requestContext"] = request_context(c, ids, "$connect", "CONNECT");
    e["isBase64Encoded"] = false;
    return json::serialize(e);
}

std::string message_event(const ConnectionContext& c, const EventIds& ids, std::string_view route_key,
                          std::string_view message_id, std::string_view body, bool body_is_base64) {
    json::object e;
    auto rc = request_context(c, ids, route_key, "MESSAGE");
    rc["messageId"] = message_id;
    e["requestContext"] = std::move(rc);
    e["body"] = body;
    e["isBase64Encoded"] = body_is_base64;
    return json::serialize(e);
}

std::string disconnect_event(const ConnectionContext& c, const EventIds& ids, std::string_view host,
                             int status_code, std::string_view reason) {
    json::object e;
    // AWS sends this fixed header set on DISCONNECT, whatever the upgrade request carried.
    const HeaderList headers{{"Host", std::string(host)}, {"x-api-key", ""}, {"X-Forwarded-For", ""}, {"x-restapi", ""}};
    add_single_and_multi(e, "headers", "multiValueHeaders", headers);
    auto rc = request_context(c, ids, "$disconnect", "DISCONNECT");
    rc["disconnectStatusCode"] = status_code;
    rc["disconnectReason"] = reason;
    e["requestContext"] = std::move(rc);
    e["isBase64Encoded"] = false;
    return json::serialize(e);
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string error_frame(std::string_view message, std::string_view connection_id, std::string_view request_id) {
    // Built by hand to keep AWS's exact spacing; the ids are base64url and need no escaping, and
    // `message` is one of a few fixed strings.
    std::string out;
    out.reserve(80 + message.size());
    out += R"({"message": ")";
    out += message;
    out += R"(", "connectionId":")";
    out += connection_id;
    out += R"(", "requestId":")";
    out += request_id;
    out += R"("})";
    return out;
}

}  // namespace wsgate::integration
