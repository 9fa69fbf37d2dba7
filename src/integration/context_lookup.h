#pragma once
// The values an HTTP_PROXY request-parameter mapping can read for one event
// (integration.request.header.X = context.Y / route.request.header.Z /
// route.request.querystring.Q).
#include <string>

#include "integration/events.h"
#include "integration/integration.h"

namespace wsgate::integration {

// `headers`/`query`: the upgrade request's, for $connect; empty for the other events.
ParameterLookup context_lookup(ConnectionContext c, std::string route_key, std::string event_type,
                               std::string request_id, std::string message_id,
                               HeaderList headers = {}, HeaderList query = {});

}  // namespace wsgate::integration
