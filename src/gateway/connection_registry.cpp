#include "gateway/connection_registry.h"

#include <vector>

namespace wsgate::gateway {

bool LocalRegistry::add(const std::shared_ptr<Connection>& c) {
    {
        auto& s = shard(c->id());
        std::lock_guard lock(s.mu);
        if (!s.map.try_emplace(c->id(), c).second) return false;
    }
    if (observer_ != nullptr) observer_->connection_added(*c);
    return true;
}

void LocalRegistry::remove(std::string_view id) {
    {
        auto& s = shard(id);
        std::lock_guard lock(s.mu);
        const auto it = s.map.find(id);
        if (it == s.map.end()) return;
        s.map.erase(it);
    }
    if (observer_ != nullptr) observer_->connection_removed(id);
}

std::shared_ptr<Connection> LocalRegistry::find(std::string_view id) const {
    auto& s = shard(id);
    std::lock_guard lock(s.mu);
    const auto it = s.map.find(id);
    return it == s.map.end() ? nullptr : it->second.lock();
}

std::size_t LocalRegistry::size() const {
    std::size_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        n += s.map.size();
    }
    return n;
}

void LocalRegistry::for_each(const std::function<void(Connection&)>& fn) const {
    std::vector<std::shared_ptr<Connection>> snapshot;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        for (const auto& [id, weak] : s.map) {
            if (auto c = weak.lock()) snapshot.push_back(std::move(c));
        }
    }
    for (const auto& c : snapshot) fn(*c);
}

}  // namespace wsgate::gateway
