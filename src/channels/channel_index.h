#pragma once
// Which local connections belong to which channels (wsgate's broadcast extension). One index per
// node; any thread. A channel is named within a stage: "room-1" on dev and on prod are two
// channels. Members are held weakly: a connection's lifetime is its session's.
#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gateway/connection.h"

namespace wsgate::channels {

struct ChannelLimits {
    std::size_t max_channels_per_connection = 100;
    std::size_t max_members_per_channel = 0;  // 0: no limit
};

enum class JoinResult {
    joined,
    already_member,
    too_many_channels,  // the connection is in max_channels_per_connection channels already
    channel_full,       // the channel has max_members_per_channel members already
};

struct PublishCount {
    std::size_t delivered = 0;  // queued on the member's connection
    std::size_t dropped = 0;    // the member's send queue was full (a slow client): not queued
};

class ChannelIndex {
  public:
    explicit ChannelIndex(ChannelLimits limits) : limits_(limits) {}

    JoinResult join(const std::shared_ptr<gateway::Connection>& c, std::string_view stage,
                    std::string_view channel);
    // False if the connection was not a member.
    bool leave(std::string_view connection_id, std::string_view stage, std::string_view channel);
    // On disconnect: every membership of the connection.
    void leave_all(std::string_view connection_id);

    // One shared payload for every member: no per-member copy. `exclude`: a connection id to skip
    // (the sender, typically).
    PublishCount publish(std::string_view stage, std::string_view channel,
                         const std::shared_ptr<const std::string>& payload, bool text,
                         std::string_view exclude) const;

    std::vector<std::string> members(std::string_view stage, std::string_view channel) const;
    std::size_t member_count(std::string_view stage, std::string_view channel) const;
    std::vector<std::string> channels_of(std::string_view connection_id) const;

  private:
    // A channel's members in one dense array, so that a publish walks contiguous memory instead of
    // one hash-map node per member; `index` finds a member's slot for leave (swap with the last).
    struct Members {
        std::vector<std::weak_ptr<gateway::Connection>> list;
        std::vector<std::string> ids;  // parallel to list
        std::unordered_map<std::string, std::size_t> index;

        std::size_t size() const { return list.size(); }
        bool empty() const { return list.empty(); }
        void add(const std::string& id, const std::shared_ptr<gateway::Connection>& c);
        void erase(const std::string& id);
    };
    static std::string key(std::string_view stage, std::string_view channel);

    ChannelLimits limits_;
    // One lock: joins and leaves are rare next to publishes, which hold it only to copy the member
    // list.
    mutable std::mutex mu_;
    std::unordered_map<std::string, Members> channels_;  // "stage/name" -> members
    std::unordered_map<std::string, std::unordered_set<std::string>>
        by_connection_;  // id -> "stage/name"
};

}  // namespace wsgate::channels
