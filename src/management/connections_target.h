#pragma once
// Parsing the request-target of a management call: "/{stage}/@connections/{id}". Routing works
// on the decoded path (SigV4 works on the raw one; see auth/sigv4.h).
#include <optional>
#include <string>
#include <string_view>

namespace wsgate::management {

struct ConnectionsTarget {
    enum class Shape {
        connection,   // /{stage}/@connections/{id}
        no_stage,     // /@connections/... (an endpoint URL without the stage)
        other,        // anything else under @connections
        bad_encoding  // a segment with malformed percent-encoding
    };
    Shape shape = Shape::other;
    std::string stage;
    std::string connection_id;  // percent-decoded once; '+' stays '+'
};

// Cheap test on the raw target: does it name @connections (raw or as %40connections)?
bool mentions_connections(std::string_view target);

// Empty segments are skipped, so the JS SDK's "/dev//@connections/{id}" (from an endpoint with a
// trailing slash) routes like "/dev/@connections/{id}".
ConnectionsTarget parse_connections_target(std::string_view target);

// Decodes %XX once. nullopt on a malformed escape. '+' is not a space in a path.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace wsgate::management
