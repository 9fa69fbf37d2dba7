#pragma once
// Route key -> route. Exact, case-sensitive match, falling back to $default (as AWS does).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace wsgate::integration {
class Integration;
}

namespace wsgate::routing {

struct Route {
    std::string key;
    std::shared_ptr<integration::Integration> integration;
    bool route_response = false;
    std::optional<std::chrono::milliseconds> timeout;  // overrides the integration's
};

class RouteTable {
  public:
    void add(Route r) {
        auto key = r.key;
        routes_.insert_or_assign(std::move(key), std::move(r));
    }

    // The route for a message whose selection expression evaluated to `key`, or $default, or
    // nullptr (the client then gets AWS's "Forbidden" frame).
    const Route* select(std::string_view key) const {
        if (!key.empty() && key.front() != '$') {
            if (const auto* r = find(key)) return r;
        }
        return find("$default");
    }

    // Exact lookup of a reserved or custom key ("$connect", "$disconnect", ...).
    const Route* find(std::string_view key) const {
        const auto it = routes_.find(key);
        return it == routes_.end() ? nullptr : &it->second;
    }

  private:
    // Transparent hashing lets a per-message lookup use the string_view without copying it.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, Route, Hash, std::equal_to<>> routes_;
};

}  // namespace wsgate::routing
