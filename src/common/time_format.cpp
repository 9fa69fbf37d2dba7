#include "common/time_format.h"

#include <ctime>

namespace wsgate {
namespace {

std::tm utc_tm(SystemTime t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

std::string format(SystemTime t, const char* fmt) {
    const std::tm tm = utc_tm(t);
    char buf[64];
    // The C locale is in force (the gateway never calls setlocale), so month names are English.
    const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
    return std::string(buf, n);
}

}  // namespace

std::int64_t epoch_millis(SystemTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string clf_time(SystemTime t) { return format(t, "%d/%b/%Y:%H:%M:%S +0000"); }

std::string rfc3339_millis(SystemTime t) {
    std::string s = format(t, "%Y-%m-%dT%H:%M:%S");
    const auto ms = epoch_millis(t) % 1000;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms < 0 ? ms + 1000 : ms));
    return s + frac;
}

std::string http_date(SystemTime t) { return format(t, "%a, %d %b %Y %H:%M:%S GMT"); }

}  // namespace wsgate
