#pragma once
// Channel names (wsgate's broadcast extension, docs/broadcast.md): 1-128 characters of
// A-Z a-z 0-9 and . _ - : @ — safe in a URL path segment, a header list and a Redis key.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsgate::channels {

inline constexpr std::size_t kMaxChannelName = 128;

bool valid_channel_name(std::string_view name);

// "room-1, user-42" -> {"room-1", "user-42"}: comma-separated, spaces around names ignored, empty
// items skipped. nullopt (and `bad` set to the offending item) when a name is invalid.
std::optional<std::vector<std::string>> parse_channel_list(std::string_view list,
                                                           std::string* bad = nullptr);

}  // namespace wsgate::channels
