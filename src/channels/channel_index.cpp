#include "channels/channel_index.h"

#include <algorithm>

namespace wsgate::channels {

std::string ChannelIndex::key(std::string_view stage, std::string_view channel) {
    std::string k;
    k.reserve(stage.size() + 1 + channel.size());
    k.append(stage).append("/").append(channel);
    return k;
}

void ChannelIndex::Members::add(const std::string& id, const std::shared_ptr<gateway::Connection>& c) {
    index.emplace(id, list.size());
    list.emplace_back(c);
    ids.push_back(id);
}

void ChannelIndex::Members::erase(const std::string& id) {
    const auto it = index.find(id);
    if (it == index.end()) return;
    const std::size_t at = it->second;
    index.erase(it);
    const std::size_t last = list.size() - 1;
    if (at != last) {
        list[at] = std::move(list[last]);
        ids[at] = std::move(ids[last]);
        index[ids[at]] = at;
    }
    list.pop_back();
    ids.pop_back();
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
    members.add(c->id(), c);
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
        const Members& m = ch->second;
        std::size_t skip = m.size();  // none
        if (!exclude.empty()) {
            if (const auto it = m.index.find(std::string(exclude)); it != m.index.end()) skip = it->second;
        }
        targets.reserve(m.size());
        for (std::size_t i = 0; i < m.list.size(); ++i) {
            if (i == skip) continue;
            if (auto c = m.list[i].lock()) targets.push_back(std::move(c));
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
        out = ch->second.ids;
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
