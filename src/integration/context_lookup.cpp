#include "integration/context_lookup.h"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>

namespace wsgate::integration {

namespace beast = boost::beast;

ParameterLookup context_lookup(ConnectionContext c, std::string route_key, std::string event_type,
                               std::string request_id, std::string message_id, HeaderList headers,
                               HeaderList query) {
    return [c, route_key = std::move(route_key), event_type = std::move(event_type),
            request_id = std::move(request_id), message_id = std::move(message_id),
            headers = std::move(headers),
            query = std::move(query)](std::string_view source) -> std::optional<std::string> {
        constexpr std::string_view kHeader = "route.request.header.";
        constexpr std::string_view kQuery = "route.request.querystring.";
        if (source.starts_with(kHeader)) {  // $connect only: the upgrade request's headers
            const auto name = source.substr(kHeader.size());
            for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
                if (beast::iequals(it->first, name)) return it->second;
            }
            return std::nullopt;
        }
        if (source.starts_with(kQuery)) {
            const auto name = source.substr(kQuery.size());
            for (auto it = query.rbegin(); it != query.rend(); ++it) {
                if (it->first == name) return it->second;
            }
            return std::nullopt;
        }
        const std::string_view v = source.substr(std::string_view("context.").size());
        if (v == "connectionId") return c.connection_id;
        if (v == "routeKey") return route_key;
        if (v == "eventType") return event_type;
        if (v == "stage") return c.stage;
        if (v == "apiId") return c.api_id;
        if (v == "domainName") return c.domain_name;
        if (v == "requestId" || v == "extendedRequestId") return request_id;
        if (v == "messageId")
            return message_id.empty() ? std::nullopt : std::optional<std::string>(message_id);
        if (v == "connectedAt") return std::to_string(c.connected_at_ms);
        if (v == "identity.sourceIp") return c.source_ip;
        if (v == "identity.userAgent") return c.user_agent;
        if (v == "identity.apiKey") return c.api_key;
        if (v.starts_with("authorizer.") && c.authorizer) {
            if (const auto* val =
                    c.authorizer->if_contains(v.substr(std::string_view("authorizer.").size()))) {
                return val->is_string() ? std::string(val->get_string())
                                        : boost::json::serialize(*val);
            }
        }
        return std::nullopt;
    };
}

}  // namespace wsgate::integration
