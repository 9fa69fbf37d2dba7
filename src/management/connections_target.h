#pragma once
// Parsing the request-target of a management call: "/{stage}/@connections/{id}". Routing works
// on the decoded path (SigV4 works on the raw one; see auth/sigv4.h).
#include <optional>
#include <string>
#include <string_view>

namespace wsgate::management {

struct ConnectionsTarget {
    enum class Shape {
        connection,  // /{stage}/@connections/{id}
        // wsgate's broadcast extension (docs/broadcast.md):
        connection_list,     // /{stage}/@connections
        connection_channel,  // /{stage}/@connections/{id}/channels/{channel}
        channel,             // /{stage}/@channels/{channel}
        no_stage,            // /@connections/... (an endpoint URL without the stage)
        other,               // anything else under @connections
        bad_encoding         // a segment with malformed percent-encoding
    };
    Shape shape = Shape::other;
    std::string stage;
    std::string connection_id;  // percent-decoded once; '+' stays '+'
    std::string channel;        // percent-decoded once
};

// One query parameter's value, percent-decoded ('+' is a space here, as in forms); nullopt when
// absent or malformed.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

// Cheap test on the raw target: does it name @connections or @channels (raw or %40-encoded)?
bool mentions_connections(std::string_view target);

// Empty segments are skipped, so the JS SDK's "/dev//@connections/{id}" (from an endpoint with a
// trailing slash) routes like "/dev/@connections/{id}".
ConnectionsTarget parse_connections_target(std::string_view target);

// Decodes %XX once. nullopt on a malformed escape. '+' is not a space in a path.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace wsgate::management
