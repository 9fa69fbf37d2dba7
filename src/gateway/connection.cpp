#include "gateway/connection.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace wsgate::gateway {

std::string connection_info_json(const ConnectionInfo& info) {
    boost::json::object identity;
    identity["sourceIp"] = info.source_ip;
    identity["userAgent"] = info.user_agent;
    boost::json::object body;
    body["connectedAt"] = rfc3339_millis(info.connected_at);
    body["identity"] = std::move(identity);
    body["lastActiveAt"] = rfc3339_millis(info.last_active_at);
    return boost::json::serialize(body);
}

}  // namespace wsgate::gateway
