#pragma once
// What Redis keeps about each connection in cluster mode: enough for any node to send its
// DISCONNECT event should the node holding it die (the event repeats the connection's
// requestContext: stage, identity, authorizer context, ...). JSON, versioned.
#include <optional>
#include <string>
#include <string_view>

#include "integration/events.h"

namespace wsgate::cluster {

struct ConnectionRecord {
    integration::ConnectionContext context;
    std::string host;  // the upgrade request's Host header
};

std::string encode_record(const integration::ConnectionContext& c, std::string_view host);
// nullopt when the text is not a record this version understands.
std::optional<ConnectionRecord> decode_record(std::string_view json);

}  // namespace wsgate::cluster
