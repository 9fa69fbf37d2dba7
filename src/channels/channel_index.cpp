#include "channels/channel_index.h"

#include <algorithm>

namespace wsgate::channels {

std::string ChannelIndex::key(std::string_view stage, std::string_view channel) {
    std::string k;
    k.reserve(stage.size() + 1 + channel.size());
    k.append(stage).append("/").append(channel);
    return k;
}

JoinResult ChannelIndex::join(const std::shared_ptr<gateway::Connection>& c, std::string_view stage,
                              std::string_view channel) {
    const std::string k = key(stage, channel);
    std::lock_guard lock(mu_);
    auto& mine = by_connection_[c->id()];
    if (mine.contains(k)) return JoinResult::already_member;
    if (mine.size() >= limits_.max_channels_per_connection) {
        if (mine.empty()) by_connection_.erase(c->id());
        return JoinResult::too_many_channels;
    }
    auto& members = channels_[k];
    if (limits_.max_members_per_channel != 0 && members.size() >= limits_.max_members_per_channel) {
        if (members.empty()) channels_.erase(k);
        if (mine.empty()) by_connection_.erase(c->id());
        return JoinResult::channel_full;
    }
    members.emplace(c->id(), c);
    mine.insert(k);
    return JoinResult::joined;
}

bool ChannelIndex::leave(std::string_view connection_id, std::string_view stage,
                         std::string_view channel) {
    const std::string k = key(stage, channel);
    const std::string id(connection_id);
    std::lock_guard lock(mu_);
    const auto mine = by_connection_.find(id);
    if (mine == by_connection_.end() || mine->second.erase(k) == 0) return false;
    if (mine->second.empty()) by_connection_.erase(mine);
    if (const auto ch = channels_.find(k); ch != channels_.end()) {
        ch->second.erase(id);
        if (ch->second.empty()) channels_.erase(ch);
    }
    return true;
}

void ChannelIndex::leave_all(std::string_view connection_id) {
    const std::string id(connection_id);
    std::lock_guard lock(mu_);
    const auto mine = by_connection_.find(id);
    if (mine == by_connection_.end()) return;
    for (const auto& k : mine->second) {
        if (const auto ch = channels_.find(k); ch != channels_.end()) {
            ch->second.erase(id);
            if (ch->second.empty()) channels_.erase(ch);
        }
    }
    by_connection_.erase(mine);
}

PublishCount ChannelIndex::publish(std::string_view stage, std::string_view channel,
                                   const std::shared_ptr<const std::string>& payload, bool text,
                                   std::string_view exclude) const {
    std::vector<std::shared_ptr<gateway::Connection>> targets;
    {
        std::lock_guard lock(mu_);
        const auto ch = channels_.find(key(stage, channel));
        if (ch == channels_.end()) return {};
        targets.reserve(ch->second.size());
        for (const auto& [id, weak] : ch->second) {
            if (id == exclude) continue;
            if (auto c = weak.lock()) targets.push_back(std::move(c));
        }
    }
    // Outside the lock: send() only queues (it never waits on a slow member), but it takes the
    // member's own locks.
    PublishCount n;
    for (const auto& c : targets) {
        switch (c->send(payload, text)) {
            case gateway::SendResult::queued:
                ++n.delivered;
                break;
            case gateway::SendResult::queue_full:
                ++n.dropped;
                break;
            case gateway::SendResult::gone:
                break;
        }
    }
    return n;
}

std::vector<std::string> ChannelIndex::members(std::string_view stage,
                                               std::string_view channel) const {
    std::vector<std::string> out;
    std::lock_guard lock(mu_);
    if (const auto ch = channels_.find(key(stage, channel)); ch != channels_.end()) {
        out.reserve(ch->second.size());
        for (const auto& [id, weak] : ch->second) out.push_back(id);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::size_t ChannelIndex::member_count(std::string_view stage, std::string_view channel) const {
    std::lock_guard lock(mu_);
    const auto ch = channels_.find(key(stage, channel));
    return ch == channels_.end() ? 0 : ch->second.size();
}

std::vector<std::string> ChannelIndex::channels_of(std::string_view connection_id) const {
    std::vector<std::string> out;
    std::lock_guard lock(mu_);
    if (const auto mine = by_connection_.find(std::string(connection_id));
        mine != by_connection_.end()) {
        for (const auto& k : mine->second) out.push_back(k.substr(k.find('/') + 1));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace wsgate::channels
