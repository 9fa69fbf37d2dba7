#include "channels/channel_index.h"

#include <gtest/gtest.h>

#include <vector>

namespace wsgate::channels {
namespace {

// A connection that records what it was sent; `full` makes it answer like a slow client.
class RecordingConnection final : public gateway::Connection {
  public:
    explicit RecordingConnection(std::string id, std::string stage = "dev") : id_(std::move(id)) {
        ctx_.connection_id = id_;
        ctx_.stage = std::move(stage);
    }
    const std::string& id() const override { return id_; }
    gateway::ConnectionInfo info() const override { return {}; }
    gateway::SendResult send(std::shared_ptr<const std::string> payload, bool text) override {
        if (gone) return gateway::SendResult::gone;
        if (full) return gateway::SendResult::queue_full;
        sent.push_back(payload);
        last_text = text;
        return gateway::SendResult::queued;
    }
    bool close(int, std::string) override { return true; }
    void abort() override {}
    const integration::ConnectionContext& event_context() const override { return ctx_; }
    const std::string& host_header() const override { return host_; }
    void close_after_remote_disconnect() override {}

    std::vector<std::shared_ptr<const std::string>> sent;
    bool last_text = false;
    bool full = false;
    bool gone = false;

  private:
    std::string id_;
    std::string host_;
    integration::ConnectionContext ctx_;
};

std::shared_ptr<RecordingConnection> conn(std::string id) { return std::make_shared<RecordingConnection>(std::move(id)); }

TEST(ChannelIndex, PublishReachesEveryMemberWithOneSharedBuffer) {
    ChannelIndex idx({});
    auto a = conn("a"), b = conn("b"), outsider = conn("c");
    EXPECT_EQ(idx.join(a, "dev", "room"), JoinResult::joined);
    EXPECT_EQ(idx.join(b, "dev", "room"), JoinResult::joined);
    EXPECT_EQ(idx.join(outsider, "dev", "other"), JoinResult::joined);
    const auto payload = std::make_shared<const std::string>("hello");
    const auto n = idx.publish("dev", "room", payload, true, "");
    EXPECT_EQ(n.delivered, 2u);
    EXPECT_EQ(n.dropped, 0u);
    ASSERT_EQ(a->sent.size(), 1u);
    ASSERT_EQ(b->sent.size(), 1u);
    EXPECT_EQ(a->sent[0].get(), payload.get());  // the same buffer, not a copy
    EXPECT_EQ(b->sent[0].get(), payload.get());
    EXPECT_TRUE(outsider->sent.empty());
}

TEST(ChannelIndex, ExcludeSkipsOneMember) {
    ChannelIndex idx({});
    auto a = conn("a"), b = conn("b");
    idx.join(a, "dev", "room");
    idx.join(b, "dev", "room");
    const auto n = idx.publish("dev", "room", std::make_shared<const std::string>("x"), true, "a");
    EXPECT_EQ(n.delivered, 1u);
    EXPECT_TRUE(a->sent.empty());
    EXPECT_EQ(b->sent.size(), 1u);
}

TEST(ChannelIndex, SlowMembersAreCountedAndDoNotStopOthers) {
    ChannelIndex idx({});
    auto slow = conn("a"), ok = conn("b");
    slow->full = true;
    idx.join(slow, "dev", "room");
    idx.join(ok, "dev", "room");
    const auto n = idx.publish("dev", "room", std::make_shared<const std::string>("x"), false, "");
    EXPECT_EQ(n.delivered, 1u);
    EXPECT_EQ(n.dropped, 1u);
    EXPECT_FALSE(ok->last_text);
}

TEST(ChannelIndex, ChannelsAreNamedWithinAStage) {
    ChannelIndex idx({});
    auto a = conn("a");
    idx.join(a, "prod", "room");
    EXPECT_EQ(idx.publish("dev", "room", std::make_shared<const std::string>("x"), true, "").delivered, 0u);
    EXPECT_EQ(idx.member_count("prod", "room"), 1u);
    EXPECT_EQ(idx.member_count("dev", "room"), 0u);
}

TEST(ChannelIndex, LeaveAndLeaveAll) {
    ChannelIndex idx({});
    auto a = conn("a");
    idx.join(a, "dev", "r1");
    idx.join(a, "dev", "r2");
    EXPECT_EQ(idx.join(a, "dev", "r1"), JoinResult::already_member);
    EXPECT_EQ(idx.channels_of("a"), (std::vector<std::string>{"r1", "r2"}));
    EXPECT_TRUE(idx.leave("a", "dev", "r1"));
    EXPECT_FALSE(idx.leave("a", "dev", "r1"));
    idx.leave_all("a");
    EXPECT_TRUE(idx.channels_of("a").empty());
    EXPECT_EQ(idx.member_count("dev", "r2"), 0u);
}

TEST(ChannelIndex, LimitsRefuseJoinsWithoutSideEffects) {
    ChannelIndex idx({2, 2});
    auto a = conn("a"), b = conn("b"), c = conn("c");
    EXPECT_EQ(idx.join(a, "dev", "r1"), JoinResult::joined);
    EXPECT_EQ(idx.join(a, "dev", "r2"), JoinResult::joined);
    EXPECT_EQ(idx.join(a, "dev", "r3"), JoinResult::too_many_channels);
    EXPECT_EQ(idx.join(b, "dev", "r1"), JoinResult::joined);
    EXPECT_EQ(idx.join(c, "dev", "r1"), JoinResult::channel_full);
    EXPECT_TRUE(idx.channels_of("c").empty());
    EXPECT_EQ(idx.member_count("dev", "r3"), 0u);
    EXPECT_EQ(idx.members("dev", "r1"), (std::vector<std::string>{"a", "b"}));
}

TEST(ChannelIndex, MembersThatEndedAreSkipped) {
    ChannelIndex idx({});
    auto a = conn("a");
    idx.join(a, "dev", "room");
    {
        auto b = conn("b");
        idx.join(b, "dev", "room");
    }  // b's session ended without leave_all: its weak reference no longer locks
    EXPECT_EQ(idx.publish("dev", "room", std::make_shared<const std::string>("x"), true, "").delivered, 1u);
}

}  // namespace
}  // namespace wsgate::channels
