#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "common/time_format.h"

namespace wsgate::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
bool enabled(Level l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void write(Level l, std::string_view msg) {
    std::string line = rfc3339_millis(std::chrono::system_clock::now());
    line += ' ';
    line += kNames[static_cast<int>(l)];
    line += ' ';
    line += msg;
    line += '\n';
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace wsgate::log
