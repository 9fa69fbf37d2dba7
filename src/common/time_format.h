#pragma once
// The three timestamp shapes AWS uses on this API.
#include <chrono>
#include <cstdint>
#include <string>

namespace wsgate {

using SystemTime = std::chrono::system_clock::time_point;

// Milliseconds since the Unix epoch: connectedAt, requestTimeEpoch.
std::int64_t epoch_millis(SystemTime t);

// Common Log Format in UTC, "20/Jan/2024:11:54:57 +0000": requestTime.
std::string clf_time(SystemTime t);

// RFC 3339 in UTC with milliseconds, "2020-04-30T20:10:33.236Z": GetConnection's timestamps.
std::string rfc3339_millis(SystemTime t);

// RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": the HTTP Date header.
std::string http_date(SystemTime t);

}  // namespace wsgate
