#pragma once
// JSON pieces that every API Gateway event shares, whoever builds the event (integration events,
// authorizer events).
#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsgate {

// event[single_key] keeps the last value of a repeated name and event[multi_key] all of them, in
// order: AWS's headers / multiValueHeaders (and the query-string pair).
void add_single_and_multi(boost::json::object& event, std::string_view single_key, std::string_view multi_key,
                          const std::vector<std::pair<std::string, std::string>>& list);

}  // namespace wsgate
