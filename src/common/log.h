#pragma once
// Minimal leveled logging to stderr. One line per call, written with a single write(2) so lines
// from different threads never interleave.
#include <string_view>

namespace wsgate::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level l);
bool enabled(Level l);
void write(Level l, std::string_view msg);

inline void debug(std::string_view m) { if (enabled(Level::debug)) write(Level::debug, m); }
inline void info(std::string_view m) { if (enabled(Level::info)) write(Level::info, m); }
inline void warn(std::string_view m) { if (enabled(Level::warn)) write(Level::warn, m); }
inline void error(std::string_view m) { write(Level::error, m); }

}  // namespace wsgate::log
