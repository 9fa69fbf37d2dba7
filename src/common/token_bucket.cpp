#include "common/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wsgate {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

std::int64_t to_ns(TokenBucket::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

TokenBucket::TokenBucket(double rate_per_second, std::uint64_t burst)
    : burst_(burst), tat_(kNever) {
    // `!(rate > 0)` also catches NaN.
    if (!(rate_per_second > 0) || burst == 0) {
        mode_ = Mode::closed;
        return;
    }
    mode_ = Mode::limited;
    // T = ceil(1e9 / rate) ns, except that a quotient within floating-point noise of a whole
    // number (1e9 / 2.5) stays that number instead of being bumped up by one.
    const double exact = 1e9 / rate_per_second;
    // Keep B * T well inside int64 so TAT arithmetic cannot overflow: ~146 years of tolerance.
    const double max_interval = 4.6e18 / static_cast<double>(burst);
    double interval = std::min(exact, max_interval);
    const double nearest = std::round(interval);
    const double noise = std::max(1e-3, nearest * 1e-14);
    interval = std::abs(interval - nearest) <= noise ? nearest : std::ceil(interval);
    interval_ns_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(interval));
    tolerance_ns_ = static_cast<std::int64_t>(burst) * interval_ns_;
}

TokenBucket::TokenBucket(UnlimitedTag) : mode_(Mode::unlimited), tat_(kNever) {}

TokenBucket TokenBucket::unlimited() {
    return TokenBucket(UnlimitedTag{});
}

bool TokenBucket::try_acquire(Clock::time_point now) {
    if (mode_ == Mode::unlimited) return true;
    if (mode_ == Mode::closed) return false;
    const std::int64_t now_ns = to_ns(now);
    std::int64_t tat = tat_.load(std::memory_order_relaxed);
    while (true) {
        const std::int64_t next = std::max(tat, now_ns) + interval_ns_;
        if (next - now_ns > tolerance_ns_) return false;
        if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) return true;
        // `tat` now holds the current value; retry.
    }
}

double TokenBucket::available(Clock::time_point now) const {
    if (mode_ == Mode::unlimited) return std::numeric_limits<double>::infinity();
    if (mode_ == Mode::closed) return 0;
    const std::int64_t now_ns = to_ns(now);
    const std::int64_t tat = std::max(tat_.load(std::memory_order_relaxed), now_ns);
    const double used = static_cast<double>(tat - now_ns) / static_cast<double>(interval_ns_);
    return std::max(0.0, static_cast<double>(burst_) - used);
}

}  // namespace wsgate
