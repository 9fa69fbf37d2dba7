#pragma once
// connectionId -> live connection, usable from any thread. The interface is what the management
// API depends on; LocalRegistry is the single-node implementation.
#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/connection.h"
#include "gateway/remote_connections.h"

namespace wsgate::gateway {

class ConnectionRegistry {
  public:
    virtual ~ConnectionRegistry() = default;
    // False when the id is already registered (the caller picks another id).
    virtual bool add(const std::shared_ptr<Connection>& c) = 0;
    virtual void remove(std::string_view id) = 0;
    virtual std::shared_ptr<Connection> find(std::string_view id) const = 0;
    virtual std::size_t size() const = 0;
    // Calls `fn` on a snapshot, outside any lock, so `fn` may call back into the registry.
    virtual void for_each(const std::function<void(Connection&)>& fn) const = 0;
};

// Sharded by id hash so that connects, disconnects and lookups on different threads rarely meet
// on one mutex. Holds weak references: a session's lifetime is its own.
class LocalRegistry final : public ConnectionRegistry {
  public:
    bool add(const std::shared_ptr<Connection>& c) override;
    void remove(std::string_view id) override;
    std::shared_ptr<Connection> find(std::string_view id) const override;
    std::size_t size() const override;
    void for_each(const std::function<void(Connection&)>& fn) const override;

    // Set once before the first connection (cluster mode); told of every add and remove.
    void set_observer(RegistryObserver* o) { observer_ = o; }

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, std::weak_ptr<Connection>, Hash, std::equal_to<>> map;
    };
    static constexpr std::size_t kShards = 16;
    Shard& shard(std::string_view id) const { return shards_[Hash{}(id) % kShards]; }
    mutable std::array<Shard, kShards> shards_;
    RegistryObserver* observer_ = nullptr;
};

}  // namespace wsgate::gateway
