// The management API's request-target parsing (src/management/connections_target.h).
//
// Input: a raw request-target, e.g. "/dev/@connections/R0oXAdfD0kwCH6w%3D?x=1".
//
// Invariants checked:
//  - percent_decode: nullopt exactly when some '%' is not followed by two hex digits; otherwise the
//    output is never longer than the input, has no '%' it did not decode, and re-encoding every
//    byte as %XX decodes back to it.
//  - parse_connections_target:
//      connection   => stage and connection_id non-empty, the stage is the first non-empty decoded
//                      segment, the second is "@connections", there are exactly three;
//                      and, when that segment is spelled "@connections" or "%40connections" on
//                      the wire, mentions_connections(target) is true.
//      no_stage     => the first non-empty segment decodes to "@connections"; stage/id empty.
//      bad_encoding => percent_decode fails on some non-empty segment; stage/id empty.
//      other        => connection_id empty.
//    Nothing after the first '?' matters: target and target-without-query parse the same.
//  - mentions_connections: true exactly when the path holds "/@connections" or "/@channels", or
//    "/%40connections" or "/%40channels" in any letter case; ignores the query.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "management/connections_target.h"

namespace {

using namespace wsgate::management;
using wsgate::fuzz::ExactCopy;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool well_formed_escapes(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') continue;
        if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
        i += 2;
    }
    return true;
}

std::vector<std::string_view> nonempty_segments(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (true) {
        const std::size_t slash = path.find('/', pos);
        const auto seg = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
        if (!seg.empty()) out.push_back(seg);
        if (slash == std::string_view::npos) return out;
        pos = slash + 1;
    }
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

void check_percent_decode(std::string_view s) {
    const ExactCopy in(s);
    const auto d = percent_decode(in.view());
    FUZZ_CHECK(d.has_value() == well_formed_escapes(s));
    if (!d) return;
    FUZZ_CHECK(d->size() <= s.size());
    // Round trip: encode every byte, decode again.
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string encoded;
    for (const char c : *d) {
        const auto b = static_cast<unsigned char>(c);
        encoded += '%';
        encoded += kHex[b >> 4];
        encoded += kHex[b & 15];
    }
    const auto back = percent_decode(encoded);
    FUZZ_CHECK(back.has_value() && *back == *d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const ExactCopy target(input);
    const std::string_view path = input.substr(0, input.find('?'));

    check_percent_decode(input);

    const bool mentions = mentions_connections(target.view());
    {
        const std::string lower = to_lower(path);
        // The management paths: @connections, and the broadcast extension's @channels.
        const bool could = path.find("/@connections") != std::string_view::npos ||
                           path.find("/@channels") != std::string_view::npos ||
                           lower.find("/%40connections") != std::string::npos ||
                           lower.find("/%40channels") != std::string::npos;
        FUZZ_CHECK(mentions == could);
        const ExactCopy path_only(path);
        FUZZ_CHECK(mentions_connections(path_only.view()) == mentions);
    }

    const ConnectionsTarget t = parse_connections_target(target.view());
    {
        const ExactCopy path_only(path);
        const ConnectionsTarget t2 = parse_connections_target(path_only.view());
        FUZZ_CHECK(t2.shape == t.shape && t2.stage == t.stage && t2.connection_id == t.connection_id);
    }
    const auto segs = nonempty_segments(path);
    std::vector<std::optional<std::string>> decoded;
    bool any_bad = false;
    for (const auto s : segs) {
        decoded.push_back(percent_decode(s));
        any_bad |= !decoded.back().has_value();
    }

    switch (t.shape) {
        case ConnectionsTarget::Shape::connection:
            FUZZ_CHECK(!any_bad);
            FUZZ_CHECK(segs.size() == 3);
            FUZZ_CHECK(!t.stage.empty());
            FUZZ_CHECK(!t.connection_id.empty());
            FUZZ_CHECK(*decoded[0] == t.stage && *decoded[1] == "@connections" && *decoded[2] == t.connection_id);
            FUZZ_CHECK(*decoded[0] != "@connections");
            // Spelled "@connections" or "%40connections" on the wire, the gateway must hand the
            // request to the management API. (Other spellings that decode to "@connections", such
            // as "@connection%73", are not recognised by the cheap test; see fuzz/README.md.)
            if (segs[1] == "@connections" || to_lower(segs[1]) == "%40connections") {
                FUZZ_CHECK_MSG(mentions, "parsed as a connection but mentions_connections() is false");
            }
            break;
        case ConnectionsTarget::Shape::no_stage:
            FUZZ_CHECK(!any_bad);
            FUZZ_CHECK(!segs.empty() && *decoded[0] == "@connections");
            FUZZ_CHECK(t.stage.empty() && t.connection_id.empty());
            break;
        case ConnectionsTarget::Shape::bad_encoding:
            FUZZ_CHECK(any_bad);
            FUZZ_CHECK(t.stage.empty() && t.connection_id.empty());
            break;
        // The broadcast extension's shapes.
        case ConnectionsTarget::Shape::connection_list:
            FUZZ_CHECK(!any_bad);
            FUZZ_CHECK(segs.size() == 2 && *decoded[0] == t.stage && *decoded[1] == "@connections");
            FUZZ_CHECK(t.connection_id.empty() && t.channel.empty());
            break;
        case ConnectionsTarget::Shape::connection_channel:
            FUZZ_CHECK(!any_bad);
            FUZZ_CHECK(segs.size() == 5 && *decoded[0] == t.stage && *decoded[1] == "@connections");
            FUZZ_CHECK(*decoded[2] == t.connection_id && *decoded[3] == "channels" && *decoded[4] == t.channel);
            break;
        case ConnectionsTarget::Shape::channel:
            FUZZ_CHECK(!any_bad);
            FUZZ_CHECK(segs.size() == 3 && *decoded[0] == t.stage && *decoded[1] == "@channels");
            FUZZ_CHECK(*decoded[2] == t.channel && t.connection_id.empty());
            break;
        case ConnectionsTarget::Shape::other:
            FUZZ_CHECK(!any_bad);
            FUZZ_CHECK(t.connection_id.empty());
            FUZZ_CHECK(!(segs.size() == 3 && *decoded[1] == "@connections"));
            FUZZ_CHECK(!(segs.size() == 2 && *decoded[1] == "@connections"));
            FUZZ_CHECK(!(segs.size() == 3 && *decoded[1] == "@channels"));
            FUZZ_CHECK(segs.empty() || *decoded[0] != "@connections");
            FUZZ_CHECK(segs.empty() ? t.stage.empty() : t.stage == *decoded[0]);
            break;
    }
    return 0;
}
