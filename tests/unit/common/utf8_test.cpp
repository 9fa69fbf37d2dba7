// Strict UTF-8 validation (RFC 3629), which decides whether a payload may be a text frame.
#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using wsgate::is_valid_utf8;

std::string_view bytes(const char* s, std::size_t n) {
    return {s, n};
}

TEST(Utf8, Empty) {
    EXPECT_TRUE(is_valid_utf8(""));
}

TEST(Utf8, Ascii) {
    EXPECT_TRUE(is_valid_utf8("hello, world"));
    EXPECT_TRUE(is_valid_utf8(R"({"action":"join"})"));
    EXPECT_TRUE(is_valid_utf8(bytes("a\0b", 3)));  // NUL is a valid code point
    EXPECT_TRUE(is_valid_utf8("\x7F"));
}

TEST(Utf8, TwoByte) {
    EXPECT_TRUE(is_valid_utf8("\xC2\x80"));     // U+0080, smallest
    EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));  // é
    EXPECT_TRUE(is_valid_utf8("\xDF\xBF"));     // U+07FF, largest
}

TEST(Utf8, ThreeByte) {
    EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));  // U+0800, smallest
    EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));  // €
    EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));  // U+D7FF, just below the surrogates
    EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));  // U+E000, just above them
    EXPECT_TRUE(is_valid_utf8("\xEF\xBB\xBF"));  // BOM
    EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));  // U+FFFF
}

TEST(Utf8, FourByte) {
    EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000, smallest
    EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));  // 😀
    EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, largest
}

TEST(Utf8, MixedText) {
    EXPECT_TRUE(
        is_valid_utf8("a\xC3\xA9"
                      "b\xE2\x82\xAC"
                      "c\xF0\x9F\x98\x80"
                      "d"));
}

TEST(Utf8, Overlong) {
    EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // U+0000 in 2 bytes
    EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));          // U+007F in 2 bytes
    EXPECT_FALSE(is_valid_utf8("\xE0\x80\x80"));      // U+0000 in 3 bytes
    EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));      // U+07FF in 3 bytes
    EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\x80"));  // U+0000 in 4 bytes
    EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in 4 bytes
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // the classic overlong '/'
}

TEST(Utf8, Surrogates) {
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));              // U+D800
    EXPECT_FALSE(is_valid_utf8("\xED\xAD\xBF"));              // U+DB7F
    EXPECT_FALSE(is_valid_utf8("\xED\xB0\x80"));              // U+DC00
    EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));              // U+DFFF
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 pair for U+1F600
}

TEST(Utf8, AboveMaxCodePoint) {
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
    EXPECT_FALSE(is_valid_utf8("\xF7\xBF\xBF\xBF"));  // U+1FFFFF
    EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
    EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));      // 5-byte form
    EXPECT_FALSE(is_valid_utf8("\xFC\x84\x80\x80\x80\x80"));  // 6-byte form
}

TEST(Utf8, ImpossibleBytes) {
    EXPECT_FALSE(is_valid_utf8("\xFE"));
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("abc\xFF"));
}

TEST(Utf8, TruncatedAtEnd) {
    EXPECT_FALSE(is_valid_utf8("\xC3"));
    EXPECT_FALSE(is_valid_utf8("\xE2\x82"));
    EXPECT_FALSE(is_valid_utf8("\xE2"));
    EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
    EXPECT_FALSE(is_valid_utf8("\xF0\x9F"));
    EXPECT_FALSE(is_valid_utf8("\xF0"));
    EXPECT_FALSE(is_valid_utf8("abc\xC3"));
    EXPECT_FALSE(is_valid_utf8("ok \xF0\x9F\x98\x80 \xF0\x9F\x98"));
}

TEST(Utf8, TruncatedBeforeMoreText) {
    EXPECT_FALSE(
        is_valid_utf8("\xC3"
                      "A"));
    EXPECT_FALSE(
        is_valid_utf8("\xE2\x82"
                      "A"));
    EXPECT_FALSE(
        is_valid_utf8("\xF0\x9F\x98"
                      "A"));
    EXPECT_FALSE(
        is_valid_utf8("\xE2\x82\xC3\xA9"));  // a new lead byte where a continuation belongs
}

TEST(Utf8, StrayContinuationBytes) {
    EXPECT_FALSE(is_valid_utf8("\x80"));
    EXPECT_FALSE(is_valid_utf8("\xBF"));
    EXPECT_FALSE(
        is_valid_utf8("a\x80"
                      "b"));
    EXPECT_FALSE(is_valid_utf8("\xC3\xA9\xA9"));  // one continuation too many
    EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98\x80\x80"));
}

TEST(Utf8, InvalidAfterLongValidPrefix) {
    std::string s(10000, 'a');
    EXPECT_TRUE(is_valid_utf8(s));
    s += "\xED\xA0\x80";
    EXPECT_FALSE(is_valid_utf8(s));
}

}  // namespace
