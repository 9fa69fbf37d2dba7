#include "channels/channel_name.h"

namespace wsgate::channels {

bool valid_channel_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxChannelName) return false;
    for (const char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == ':' ||
                        c == '@';
        if (!ok) return false;
    }
    return true;
}

std::optional<std::vector<std::string>> parse_channel_list(std::string_view list,
                                                           std::string* bad) {
    std::vector<std::string> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item.empty()) continue;
        if (!valid_channel_name(item)) {
            if (bad != nullptr) *bad = std::string(item);
            return std::nullopt;
        }
        out.emplace_back(item);
    }
    return out;
}

}  // namespace wsgate::channels
