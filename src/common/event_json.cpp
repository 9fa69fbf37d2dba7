#include "common/event_json.h"

#include <boost/json/array.hpp>

namespace wsgate {

void add_single_and_multi(boost::json::object& event, std::string_view single_key, std::string_view multi_key,
                          const std::vector<std::pair<std::string, std::string>>& list) {
    boost::json::object single;
    boost::json::object multi;
    for (const auto& [k, v] : list) {
        single[k] = v;
        auto& arr = multi[k];
        if (!arr.is_array()) arr = boost::json::array();
        arr.get_array().emplace_back(v);
    }
    event[single_key] = std::move(single);
    event[multi_key] = std::move(multi);
}

}  // namespace wsgate
