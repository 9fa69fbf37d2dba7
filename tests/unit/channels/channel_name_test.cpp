#include "channels/channel_name.h"

#include <gtest/gtest.h>

namespace wsgate::channels {
namespace {

TEST(ChannelName, AcceptsTheDocumentedCharacters) {
    EXPECT_TRUE(valid_channel_name("room-1"));
    EXPECT_TRUE(valid_channel_name("user:42@tenant.a_b"));
    EXPECT_TRUE(valid_channel_name(std::string(kMaxChannelName, 'x')));
}

TEST(ChannelName, RefusesEmptyTooLongAndOtherCharacters) {
    EXPECT_FALSE(valid_channel_name(""));
    EXPECT_FALSE(valid_channel_name(std::string(kMaxChannelName + 1, 'x')));
    for (const char* bad : {"a b", "a/b", "a,b", "a%20", "caf\xc3\xa9", "a\nb", "a*", "a#b"}) {
        EXPECT_FALSE(valid_channel_name(bad)) << bad;
    }
}

TEST(ChannelList, SplitsOnCommasAndTrimsSpaces) {
    const auto l = parse_channel_list(" room-1, user-42 ,,lobby ");
    ASSERT_TRUE(l);
    EXPECT_EQ(*l, (std::vector<std::string>{"room-1", "user-42", "lobby"}));
}

TEST(ChannelList, EmptyHeaderIsAnEmptyList) {
    const auto l = parse_channel_list("");
    ASSERT_TRUE(l);
    EXPECT_TRUE(l->empty());
}

TEST(ChannelList, ReportsTheFirstInvalidName) {
    std::string bad;
    EXPECT_FALSE(parse_channel_list("ok, not ok, fine", &bad));
    EXPECT_EQ(bad, "not ok");
}

}  // namespace
}  // namespace wsgate::channels
