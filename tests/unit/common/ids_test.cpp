// AWS-shaped ids (contract §2.2) and v4 UUIDs.
#include "common/ids.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>

namespace {

using wsgate::looks_like_aws_id;
using wsgate::new_aws_id;
using wsgate::new_uuid;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// ^[A-Za-z0-9_-]{15}=$ without std::regex, so 100k checks stay fast under sanitizers.
bool has_aws_id_shape(std::string_view s) {
    if (s.size() != 16 || s[15] != '=') return false;
    for (std::size_t i = 0; i < 15; ++i) {
        if (kAlphabet.find(s[i]) == std::string_view::npos) return false;
    }
    return true;
}

TEST(AwsId, ShapeUniquenessAndSelfRecognitionOver100kDraws) {
    constexpr int kDraws = 100'000;
    const std::regex shape("^[A-Za-z0-9_-]{15}=$");
    std::unordered_set<std::string> seen;
    seen.reserve(kDraws);
    std::set<char> chars_seen;
    for (int i = 0; i < kDraws; ++i) {
        const std::string id = new_aws_id();
        ASSERT_TRUE(has_aws_id_shape(id)) << id;
        if (i < 1000) {
            ASSERT_TRUE(std::regex_match(id, shape)) << id;
        }
        ASSERT_TRUE(looks_like_aws_id(id)) << id;
        ASSERT_TRUE(seen.insert(id).second) << "duplicate id " << id << " after " << i << " draws";
        chars_seen.insert(id.begin(), id.begin() + 14);
    }
    // Random bytes reach every character of the URL-safe alphabet, '-' and '_' included.
    EXPECT_EQ(chars_seen.size(), 64u);
    EXPECT_TRUE(chars_seen.contains('-'));
    EXPECT_TRUE(chars_seen.contains('_'));
    EXPECT_FALSE(chars_seen.contains('+'));
    EXPECT_FALSE(chars_seen.contains('/'));
}

TEST(AwsId, LastDataCharacterHasZeroPaddingBits) {
    // 11 bytes = 88 bits over 15 characters (90 bits): the last character's 2 low bits are zero,
    // so only A, E, I, ..., w, 0, 4, 8 can appear there; across many draws all 16 do.
    std::set<char> last;
    for (int i = 0; i < 5000; ++i) {
        const std::string id = new_aws_id();
        const auto idx = kAlphabet.find(id[14]);
        ASSERT_NE(idx, std::string_view::npos) << id;
        ASSERT_EQ(idx % 4, 0u) << id;
        last.insert(id[14]);
    }
    EXPECT_EQ(last.size(), 16u);
}

TEST(AwsId, AcceptsCapturedIds) {
    // Ids from AWS captures (contract §2.2).
    EXPECT_TRUE(looks_like_aws_id("R1kmxc2VNjMCFIA="));
    EXPECT_TRUE(looks_like_aws_id("d4NsecoByQ0CH-Q="));
    EXPECT_TRUE(looks_like_aws_id("P-S_9e-7liACH9A="));
    EXPECT_TRUE(looks_like_aws_id("R1kmxGc4yQ0FsSA="));
    EXPECT_TRUE(looks_like_aws_id("R1knPH17NjMFftw="));
}

TEST(AwsId, RejectsWrongLength) {
    EXPECT_FALSE(looks_like_aws_id(""));
    EXPECT_FALSE(looks_like_aws_id("="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFA="));    // 15
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFIAA="));  // 17
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFIA=="));  // 17, double padding
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFIA= "));
}

TEST(AwsId, RejectsBadCharacters) {
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2+NjMCFIA="));  // standard base64, not URL-safe
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2/NjMCFIA="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2 NjMCFIA="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2.NjMCFIA="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2=NjMCFIA="));
    EXPECT_FALSE(looks_like_aws_id(std::string_view("R1kmxc2\0NjMCFIA=", 16)));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2\xC3\xA9jMCFIA="));  // 16 bytes with a 2-byte char
}

TEST(AwsId, RejectsMissingPadding) {
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFIAA"));
    EXPECT_FALSE(looks_like_aws_id("=R1kmxc2VNjMCFIA"));
}

TEST(AwsId, RejectsNonzeroPaddingBits) {
    // 'A' (0) is fine; 'B' (1), 'C' (2), 'D' (3) set padding bits; 'E' (4) is fine again.
    EXPECT_TRUE(looks_like_aws_id("R1kmxc2VNjMCFIA="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFIB="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFIC="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFID="));
    EXPECT_TRUE(looks_like_aws_id("R1kmxc2VNjMCFIE="));
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFI_="));  // 63
    EXPECT_FALSE(looks_like_aws_id("R1kmxc2VNjMCFI-="));  // 62
    EXPECT_TRUE(looks_like_aws_id("R1kmxc2VNjMCFI8="));   // 60
}

TEST(Uuid, Version4Shape) {
    const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    std::unordered_set<std::string> seen;
    std::set<char> variant_chars;
    for (int i = 0; i < 2000; ++i) {
        const std::string u = new_uuid();
        ASSERT_EQ(u.size(), 36u) << u;
        ASSERT_TRUE(std::regex_match(u, shape)) << u;
        ASSERT_TRUE(seen.insert(u).second) << "duplicate uuid " << u;
        variant_chars.insert(u[19]);
    }
    EXPECT_EQ(variant_chars, (std::set<char>{'8', '9', 'a', 'b'}));
}

}  // namespace
