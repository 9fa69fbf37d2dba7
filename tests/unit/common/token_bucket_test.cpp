// Token bucket with AWS throttling semantics (rate = ThrottlingRateLimit, burst =
// ThrottlingBurstLimit). Time is injected, so every count below is exact.
#include "common/token_bucket.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using wsgate::TokenBucket;
using Clock = TokenBucket::Clock;

// Far from the clock's epoch, like a real steady_clock reading.
const Clock::time_point kT0{std::chrono::hours(24 * 365)};

int drain(TokenBucket& b, Clock::time_point now, int max_attempts = 1'000'000) {
    int n = 0;
    for (int i = 0; i < max_attempts && b.try_acquire(now); ++i) ++n;
    return n;
}

TEST(TokenBucket, StartsFullWithBurst) {
    TokenBucket b(10, 5);
    EXPECT_DOUBLE_EQ(b.available(kT0), 5.0);
    EXPECT_EQ(drain(b, kT0), 5);
    EXPECT_FALSE(b.try_acquire(kT0));
    EXPECT_DOUBLE_EQ(b.available(kT0), 0.0);
}

TEST(TokenBucket, RefillsAtRate) {
    TokenBucket b(10, 5);  // one token per 100 ms
    ASSERT_EQ(drain(b, kT0), 5);
    EXPECT_FALSE(b.try_acquire(kT0 + 99ms));
    EXPECT_TRUE(b.try_acquire(kT0 + 100ms));
    EXPECT_FALSE(b.try_acquire(kT0 + 100ms));
    // 1 s later 10 tokens have accrued, but the bucket holds only 5.
    EXPECT_EQ(drain(b, kT0 + 1100ms), 5);

    TokenBucket big(10, 20);
    ASSERT_EQ(drain(big, kT0), 20);
    EXPECT_EQ(drain(big, kT0 + 1s), 10);  // exactly rate * 1 s
    EXPECT_EQ(drain(big, kT0 + 1500ms), 5);
}

TEST(TokenBucket, SteadyStateIsRate) {
    TokenBucket b(2000, 100);  // AWS's route-level example
    ASSERT_EQ(drain(b, kT0), 100);
    // Draining every millisecond: exactly 2 tokens per ms, 2000 per second.
    int total = 0;
    for (int ms = 1; ms <= 1000; ++ms) total += drain(b, kT0 + std::chrono::milliseconds(ms));
    EXPECT_EQ(total, 2000);
}

TEST(TokenBucket, FractionalRefill) {
    TokenBucket b(2.5, 1);  // 400 ms per token
    EXPECT_EQ(b.interval_ns(), 400'000'000);
    ASSERT_TRUE(b.try_acquire(kT0));
    EXPECT_FALSE(b.try_acquire(kT0 + 399ms));
    EXPECT_TRUE(b.try_acquire(kT0 + 400ms));
    EXPECT_FALSE(b.try_acquire(kT0 + 799ms));
    EXPECT_TRUE(b.try_acquire(kT0 + 800ms));

    // Partial tokens accumulate: 0.5 token per 200 ms is visible in available().
    TokenBucket c(2.5, 4);
    ASSERT_EQ(drain(c, kT0), 4);
    EXPECT_NEAR(c.available(kT0 + 200ms), 0.5, 1e-9);
    EXPECT_FALSE(c.try_acquire(kT0 + 200ms));
    EXPECT_NEAR(c.available(kT0 + 600ms), 1.5, 1e-9);
    EXPECT_TRUE(c.try_acquire(kT0 + 600ms));
    EXPECT_NEAR(c.available(kT0 + 600ms), 0.5, 1e-9);
    EXPECT_FALSE(c.try_acquire(kT0 + 600ms));
}

TEST(TokenBucket, SubOneRate) {
    TokenBucket b(0.5, 1);  // one token every 2 s
    ASSERT_TRUE(b.try_acquire(kT0));
    EXPECT_FALSE(b.try_acquire(kT0 + 1999ms));
    EXPECT_TRUE(b.try_acquire(kT0 + 2s));
}

TEST(TokenBucket, NonIntegralIntervalRoundsUpNeverFaster) {
    TokenBucket b(3, 1);
    EXPECT_EQ(b.interval_ns(), 333'333'334);
    ASSERT_TRUE(b.try_acquire(kT0));
    EXPECT_FALSE(b.try_acquire(kT0 + 333'333'333ns));
    EXPECT_TRUE(b.try_acquire(kT0 + 333'333'334ns));
    // Over 1000 s at most 3000 tokens (plus the initial burst), never more; rounding costs at
    // most one. (Burst 10, so that draining once a second never overflows the bucket.)
    TokenBucket c(3, 10);
    int total = drain(c, kT0);
    for (int s = 1; s <= 1000; ++s) total += drain(c, kT0 + std::chrono::seconds(s));
    EXPECT_LE(total, 10 + 3000);
    EXPECT_GE(total, 10 + 3000 - 1);
}

TEST(TokenBucket, LongIdleCapsAtBurst) {
    TokenBucket b(100, 7);
    ASSERT_EQ(drain(b, kT0), 7);
    EXPECT_DOUBLE_EQ(b.available(kT0 + 24h), 7.0);
    EXPECT_EQ(drain(b, kT0 + 24h), 7);
    // And refills normally afterwards.
    EXPECT_FALSE(b.try_acquire(kT0 + 24h + 9ms));
    EXPECT_TRUE(b.try_acquire(kT0 + 24h + 10ms));
}

TEST(TokenBucket, OlderTimestampSeesFewerTokens) {
    TokenBucket b(10, 2);
    ASSERT_EQ(drain(b, kT0 + 1s), 2);
    // A caller whose `now` lags behind cannot get tokens "from the past".
    EXPECT_FALSE(b.try_acquire(kT0));
    EXPECT_FALSE(b.try_acquire(kT0 + 1s));
    EXPECT_TRUE(b.try_acquire(kT0 + 1100ms));
}

TEST(TokenBucket, ZeroLimitsBlockEverything) {
    TokenBucket both(0, 0);
    TokenBucket no_rate(0, 10);
    TokenBucket no_burst(100, 0);
    TokenBucket negative(-1, 10);
    TokenBucket nan(std::numeric_limits<double>::quiet_NaN(), 10);
    for (TokenBucket* b : {&both, &no_rate, &no_burst, &negative, &nan}) {
        EXPECT_TRUE(b->blocks_everything());
        EXPECT_FALSE(b->is_unlimited());
        EXPECT_FALSE(b->try_acquire(kT0));
        EXPECT_FALSE(b->try_acquire(kT0 + 24h));
        EXPECT_EQ(b->available(kT0 + 24h), 0.0);
    }
}

TEST(TokenBucket, UnlimitedAdmitsEverything) {
    TokenBucket b = TokenBucket::unlimited();
    EXPECT_TRUE(b.is_unlimited());
    EXPECT_FALSE(b.blocks_everything());
    for (int i = 0; i < 100000; ++i) ASSERT_TRUE(b.try_acquire(kT0));
    EXPECT_TRUE(std::isinf(b.available(kT0)));
}

TEST(TokenBucket, ExtremeParametersDoNotOverflow) {
    TokenBucket tiny_rate(1e-9, 10);  // T clamped to 4.6e17 ns (~14.6 years)
    EXPECT_EQ(tiny_rate.interval_ns(), 460'000'000'000'000'000);
    EXPECT_EQ(drain(tiny_rate, kT0), 10);
    EXPECT_FALSE(tiny_rate.try_acquire(kT0 + 24h * 365));

    TokenBucket big_burst_tiny_rate(1e-9, 1'000'000);  // burst * T still fits
    EXPECT_EQ(drain(big_burst_tiny_rate, kT0, 2'000'000), 1'000'000);
    EXPECT_FALSE(big_burst_tiny_rate.try_acquire(kT0 + 1h));

    TokenBucket huge_rate(1e12, 3);  // 1 ns resolution
    EXPECT_EQ(huge_rate.interval_ns(), 1);
    EXPECT_EQ(drain(huge_rate, kT0), 3);
    EXPECT_EQ(drain(huge_rate, kT0 + 10ns), 3);

    TokenBucket huge_burst(1, std::numeric_limits<std::uint32_t>::max());
    EXPECT_TRUE(huge_burst.try_acquire(kT0));

    // Times at and before the clock's epoch are fine too.
    TokenBucket at_epoch(1, 1);
    EXPECT_TRUE(at_epoch.try_acquire(Clock::time_point{}));
    EXPECT_FALSE(at_epoch.try_acquire(Clock::time_point{} + 999ms));
    TokenBucket before_epoch(1, 1);
    EXPECT_TRUE(before_epoch.try_acquire(Clock::time_point{} - 1h));
}

// Four threads acquire in lock-step phases: in phase p every thread uses now = t0 + p * step, and
// a barrier separates phases. At a fixed `now` the number of successes is fully determined by the
// state, whatever the interleaving, so the total is exact: burst + rate * elapsed.
TEST(TokenBucket, ConcurrentPhasesAreExact) {
    constexpr int kThreads = 4;
    constexpr int kPhases = 200;
    constexpr auto kStep = 10ms;
    constexpr std::uint64_t kBurst = 50;
    TokenBucket b(1000, kBurst);  // 10 tokens per phase
    std::atomic<std::int64_t> total{0};
    std::barrier sync(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int p = 0; p <= kPhases; ++p) {
                const auto now = kT0 + p * kStep;
                std::int64_t got = 0;
                for (int i = 0; i < 100; ++i) got += b.try_acquire(now) ? 1 : 0;
                total.fetch_add(got, std::memory_order_relaxed);
                sync.arrive_and_wait();
            }
        });
    }
    for (auto& th : threads) th.join();
    // 1000 tokens/s * 10 ms = 10 tokens per phase after the first.
    EXPECT_EQ(total.load(), static_cast<std::int64_t>(kBurst) + 10 * kPhases);
}

// Free-running: each thread walks its own clock forward at its own pace, so threads pass
// interleaved, out-of-order `now`s. The admissions can never exceed burst + rate * (t_max - t_min).
TEST(TokenBucket, ConcurrentNeverExceedsBurstPlusRateTimesElapsed) {
    constexpr int kThreads = 4;
    constexpr std::uint64_t kBurst = 20;
    constexpr double kRate = 500;  // 2 ms per token
    TokenBucket b(kRate, kBurst);
    std::atomic<std::int64_t> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::int64_t got = 0;
            // Thread t advances 100 us * (t + 1) per attempt; all stop at or before t0 + 2 s.
            const auto step = std::chrono::microseconds(100 * (t + 1));
            for (auto now = kT0; now <= kT0 + 2s; now += step) got += b.try_acquire(now) ? 1 : 0;
            total.fetch_add(got, std::memory_order_relaxed);
        });
    }
    for (auto& th : threads) th.join();
    const std::int64_t bound =
        static_cast<std::int64_t>(kBurst) + static_cast<std::int64_t>(kRate * 2);
    EXPECT_LE(total.load(), bound);
    EXPECT_GE(total.load(), static_cast<std::int64_t>(kBurst));
    // Once everyone is done, the tokens left at t_max account for the rest exactly.
    const auto rest = drain(b, kT0 + 2s);
    EXPECT_LE(total.load() + rest, bound);
}

}  // namespace
