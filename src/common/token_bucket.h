#pragma once
// A token bucket with AWS API Gateway's throttling semantics (contract.md §6): `rate` tokens per
// second refill a bucket of capacity `burst` (ThrottlingRateLimit / ThrottlingBurstLimit). The
// bucket starts full; one request takes one token.
//
// Implementation: GCRA (the "virtual scheduling" form of a token bucket). The whole state is one
// 64-bit "theoretical arrival time" (TAT, nanoseconds): the instant at which the bucket would be
// full again. With T = 1/rate per token and capacity B, a request at `now` is admitted iff
//     max(TAT, now) + T - now <= B * T,
// and then TAT becomes max(TAT, now) + T. Tokens available at `now` = B - (TAT - now) / T.
// Because the state is a single word, try_acquire() is one load plus a compare-and-swap loop:
// lock-free, no packing of (tokens, timestamp) into a word and no lost precision from packing,
// and no spinlock that a preempted holder could stall. Relaxed ordering suffices: the bucket
// publishes no other memory.
//
// Time is injected (steady_clock time points), so tests are deterministic. Callers on different
// threads may pass slightly different `now`s, even out of order: an older `now` just sees fewer
// tokens. Whatever the interleaving, the number of admissions between times t0 and t1 never
// exceeds burst + rate * (t1 - t0).
//
// Precision: T is rounded UP to whole nanoseconds, so the effective rate never exceeds `rate`
// (3/s gives T = 333333334 ns) and rates above 1e9/s behave as 1e9/s. So that burst * T fits in
// 63 bits, T is at most 4.6e18 / burst ns: absurdly low rates are raised to burst / 4.6e9 per
// second (with burst 5000: one token per ~10.6 days).
#include <atomic>
#include <chrono>
#include <cstdint>

namespace wsgate {

class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;

    // rate in tokens per second (fractions allowed), burst = capacity in tokens. AWS semantics:
    // a limit of 0 blocks everything, so rate <= 0 (or NaN) or burst == 0 admits nothing — not
    // even an initial burst. Use unlimited() for "no throttling".
    TokenBucket(double rate_per_second, std::uint64_t burst);

    // A bucket that admits everything.
    static TokenBucket unlimited();

    TokenBucket(const TokenBucket&) = delete;
    TokenBucket& operator=(const TokenBucket&) = delete;

    // Takes one token if available at `now`. Thread-safe, lock-free.
    bool try_acquire(Clock::time_point now);

    // Tokens available at `now` (fractional), for metrics and tests; +inf when unlimited.
    double available(Clock::time_point now) const;

    bool is_unlimited() const { return mode_ == Mode::unlimited; }
    bool blocks_everything() const { return mode_ == Mode::closed; }
    // Nanoseconds per token (0 when unlimited or closed).
    std::int64_t interval_ns() const { return interval_ns_; }
    std::uint64_t burst() const { return burst_; }

  private:
    enum class Mode { limited, unlimited, closed };
    struct UnlimitedTag {};
    explicit TokenBucket(UnlimitedTag);

    Mode mode_ = Mode::closed;
    std::uint64_t burst_ = 0;
    std::int64_t interval_ns_ = 0;   // T
    std::int64_t tolerance_ns_ = 0;  // B * T
    // TAT in nanoseconds since the clock's epoch; the minimum means "full since forever".
    std::atomic<std::int64_t> tat_;
};

}  // namespace wsgate
