#include "gateway/frame_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsgate::gateway {
namespace {

// A masked client frame header (mask key 0) followed by `len` payload bytes.
std::vector<std::uint8_t> frame(std::uint8_t opcode, bool fin, std::uint64_t len, bool with_payload = true) {
    std::vector<std::uint8_t> f;
    f.push_back(static_cast<std::uint8_t>((fin ? 0x80 : 0) | opcode));
    if (len < 126) {
        f.push_back(static_cast<std::uint8_t>(0x80 | len));
    } else if (len <= 0xffff) {
        f.push_back(0x80 | 126);
        f.push_back(static_cast<std::uint8_t>(len >> 8));
        f.push_back(static_cast<std::uint8_t>(len));
    } else {
        f.push_back(0x80 | 127);
        for (int i = 7; i >= 0; --i) f.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
    }
    for (int i = 0; i < 4; ++i) f.push_back(0);
    if (with_payload) f.insert(f.end(), len, 'x');
    return f;
}

std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

TEST(FrameScanner, FramesWithinLimitsPassWhole) {
    FrameScanner s(32768, 131072);
    const auto bytes = cat({frame(1, true, 5), frame(1, true, 32768), frame(9, true, 10)});
    const auto v = s.feed(bytes.data(), bytes.size());
    EXPECT_FALSE(v.too_big);
    EXPECT_EQ(v.pass, bytes.size());
}

TEST(FrameScanner, OversizeFrameStopsAtItsHeader) {
    FrameScanner s(32768, 131072);
    const auto ok = frame(1, true, 100);
    const auto bytes = cat({ok, frame(1, true, 32769)});
    const auto v = s.feed(bytes.data(), bytes.size());
    EXPECT_TRUE(v.too_big);
    EXPECT_EQ(v.pass, ok.size());  // the valid frame goes up; nothing of the offending header
    // Once tripped, nothing more passes.
    EXPECT_TRUE(s.feed(bytes.data(), 1).too_big);
    EXPECT_EQ(s.feed(bytes.data(), 1).pass, 0u);
}

TEST(FrameScanner, MessageLimitCountsFragments) {
    FrameScanner s(32768, 65536);
    const auto bytes = cat({frame(1, false, 32768), frame(0, false, 32768), frame(0, true, 1)});
    const auto v = s.feed(bytes.data(), bytes.size());
    EXPECT_TRUE(v.too_big);
    EXPECT_EQ(v.pass, 2 * frame(1, false, 32768).size());
}

TEST(FrameScanner, MessageSizeResetsAfterFin) {
    FrameScanner s(32768, 40000);
    const auto bytes = cat({frame(1, true, 30000), frame(1, true, 30000), frame(2, false, 30000), frame(0, true, 10000)});
    const auto v = s.feed(bytes.data(), bytes.size());
    EXPECT_FALSE(v.too_big);
    EXPECT_EQ(v.pass, bytes.size());
}

TEST(FrameScanner, ControlFramesInsideAMessageDoNotCount) {
    FrameScanner s(100, 150);
    const auto bytes = cat({frame(1, false, 100), frame(9, true, 125), frame(0, true, 50)});
    EXPECT_FALSE(s.feed(bytes.data(), bytes.size()).too_big);
}

TEST(FrameScanner, ByteAtATimeFindsTheSameVerdict) {
    FrameScanner s(1000, 1000);
    const auto ok = frame(1, true, 500);
    const auto bad = frame(1, true, 70000, false);  // 64-bit length header only
    const auto bytes = cat({ok, bad});
    std::size_t passed = 0;
    bool tripped = false;
    for (std::size_t i = 0; i < bytes.size() && !tripped; ++i) {
        const auto v = s.feed(&bytes[i], 1);
        passed += v.pass;
        tripped = v.too_big;
    }
    EXPECT_TRUE(tripped);
    // Every byte before the last header byte went up (the header is split over many chunks;
    // the verdict comes with its last byte, which is withheld).
    EXPECT_EQ(passed, ok.size() + bad.size() - 1);
}

TEST(FrameScanner, HugeAnnouncedLengthTripsBeforeAnyPayload) {
    FrameScanner s(32768, 131072);
    const auto bytes = frame(1, true, std::uint64_t{1} << 40, false);
    const auto v = s.feed(bytes.data(), bytes.size());
    EXPECT_TRUE(v.too_big);
    EXPECT_EQ(v.pass, 0u);
}

}  // namespace
}  // namespace wsgate::gateway
