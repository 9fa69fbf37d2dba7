// The three timestamp shapes (contract §2.2, §1.2) and epoch milliseconds, for fixed instants.
#include "common/time_format.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace {

using namespace std::chrono_literals;
using wsgate::clf_time;
using wsgate::epoch_millis;
using wsgate::http_date;
using wsgate::rfc3339_millis;
using wsgate::SystemTime;

SystemTime at_ms(std::int64_t ms) {
    return SystemTime{std::chrono::milliseconds{ms}};
}

constexpr std::int64_t kCapture = 1705751697420;  // 2024-01-20T11:54:57.420Z (a Saturday)

TEST(EpochMillis, RoundTripsMilliseconds) {
    EXPECT_EQ(epoch_millis(at_ms(0)), 0);
    EXPECT_EQ(epoch_millis(at_ms(kCapture)), kCapture);
    EXPECT_EQ(epoch_millis(at_ms(2147483648000)), 2147483648000);  // beyond 32-bit seconds
}

TEST(EpochMillis, TruncatesSubMilliseconds) {
    EXPECT_EQ(epoch_millis(at_ms(kCapture) + 999us), kCapture);
    EXPECT_EQ(epoch_millis(at_ms(kCapture) + 1us), kCapture);
}

TEST(ClfTime, CapturedInstant) {
    EXPECT_EQ(clf_time(at_ms(kCapture)), "20/Jan/2024:11:54:57 +0000");
}

TEST(ClfTime, Epoch) {
    EXPECT_EQ(clf_time(at_ms(0)), "01/Jan/1970:00:00:00 +0000");
}

TEST(ClfTime, ZeroPaddingAndTruncation) {
    // 2000-03-01T09:05:03.999Z: seconds are truncated, not rounded.
    EXPECT_EQ(clf_time(at_ms(951901503999)), "01/Mar/2000:09:05:03 +0000");
}

TEST(ClfTime, EveryMonthName) {
    // The 15th of each month of 2023 at 12:00:00Z.
    const std::int64_t days_before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    const char* names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    constexpr std::int64_t kJan1st2023 = 1672531200;  // seconds
    for (int m = 0; m < 12; ++m) {
        const std::int64_t secs = kJan1st2023 + (days_before[m] + 14) * 86400 + 12 * 3600;
        EXPECT_EQ(clf_time(at_ms(secs * 1000)),
                  std::string("15/") + names[m] + "/2023:12:00:00 +0000");
    }
}

TEST(ClfTime, Year2038AndLeapDay) {
    EXPECT_EQ(clf_time(at_ms(2147483648000)), "19/Jan/2038:03:14:08 +0000");
    EXPECT_EQ(clf_time(at_ms(1709164800000)), "29/Feb/2024:00:00:00 +0000");
}

TEST(Rfc3339Millis, CapturedInstant) {
    EXPECT_EQ(rfc3339_millis(at_ms(kCapture)), "2024-01-20T11:54:57.420Z");
}

TEST(Rfc3339Millis, MillisecondsAreZeroPadded) {
    EXPECT_EQ(rfc3339_millis(at_ms(1588277433007)), "2020-04-30T20:10:33.007Z");
    EXPECT_EQ(rfc3339_millis(at_ms(1588277433070)), "2020-04-30T20:10:33.070Z");
    EXPECT_EQ(rfc3339_millis(at_ms(1588277433000)), "2020-04-30T20:10:33.000Z");
    EXPECT_EQ(rfc3339_millis(at_ms(1588277433236)), "2020-04-30T20:10:33.236Z");
}

TEST(Rfc3339Millis, Epoch) {
    EXPECT_EQ(rfc3339_millis(at_ms(0)), "1970-01-01T00:00:00.000Z");
}

TEST(Rfc3339Millis, TruncatesSubMilliseconds) {
    EXPECT_EQ(rfc3339_millis(at_ms(951901503999) + 999us), "2000-03-01T09:05:03.999Z");
}

TEST(HttpDate, RfcExample) {
    EXPECT_EQ(http_date(at_ms(784111777000)), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(HttpDate, CapturedInstantAndEpoch) {
    EXPECT_EQ(http_date(at_ms(kCapture)), "Sat, 20 Jan 2024 11:54:57 GMT");
    EXPECT_EQ(http_date(at_ms(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(http_date(at_ms(951901503999)), "Wed, 01 Mar 2000 09:05:03 GMT");
}

}  // namespace
