#include "management/connections_target.h"

#include <vector>

namespace wsgate::management {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

bool mentions_connections(std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    if (path.find("/@connections") != std::string_view::npos ||
        path.find("/@channels") != std::string_view::npos) {
        return true;
    }
    // "%40connections", hex digits in either case
    for (std::size_t at = path.find('%'); at != std::string_view::npos;
         at = path.find('%', at + 1)) {
        if (at == 0 || path[at - 1] != '/') continue;
        if (iequals_ascii(path.substr(at, 14), "%40connections") ||
            iequals_ascii(path.substr(at, 11), "%40channels")) {
            return true;
        }
    }
    return false;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        std::string raw(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        for (auto& c : raw) {
            if (c == '+') c = ' ';
        }
        return percent_decode(raw);
    }
    return std::nullopt;
}

ConnectionsTarget parse_connections_target(std::string_view target) {
    ConnectionsTarget out;
    const auto path = target.substr(0, target.find('?'));
    std::vector<std::string> segs;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        const auto slash = path.find('/', pos);
        const auto raw = path.substr(
            pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (!raw.empty()) {
            auto decoded = percent_decode(raw);
            if (!decoded) {
                out.shape = ConnectionsTarget::Shape::bad_encoding;
                return out;
            }
            segs.push_back(std::move(*decoded));
        }
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    if (!segs.empty() && segs[0] == "@connections") {
        out.shape = ConnectionsTarget::Shape::no_stage;
        return out;
    }
    if (segs.size() == 2 && segs[1] == "@connections") {
        out.shape = ConnectionsTarget::Shape::connection_list;
        out.stage = std::move(segs[0]);
        return out;
    }
    if (segs.size() == 5 && segs[1] == "@connections" && segs[3] == "channels") {
        out.shape = ConnectionsTarget::Shape::connection_channel;
        out.stage = std::move(segs[0]);
        out.connection_id = std::move(segs[2]);
        out.channel = std::move(segs[4]);
        return out;
    }
    if (segs.size() == 3 && segs[1] == "@channels") {
        out.shape = ConnectionsTarget::Shape::channel;
        out.stage = std::move(segs[0]);
        out.channel = std::move(segs[2]);
        return out;
    }
    if (segs.size() == 3 && segs[1] == "@connections") {
        out.shape = ConnectionsTarget::Shape::connection;
        out.stage = std::move(segs[0]);
        out.connection_id = std::move(segs[2]);
        return out;
    }
    if (!segs.empty()) out.stage = segs[0];
    return out;
}

}  // namespace wsgate::management
