#pragma once
// Parsing a backend's HTTP answer as a Lambda-proxy response (contract §3.6).
#include <string_view>

#include "integration/integration.h"

namespace wsgate::integration {

// `http_status` is the backend's HTTP status; `body` its body. A 2xx with an empty body counts as
// {"statusCode": 200}; a 2xx whose body is a JSON object with "statusCode" is a proxy response;
// anything else is Failure::bad_response, as a Lambda returning a malformed result is on AWS.
Result parse_proxy_response(unsigned http_status, std::string_view body);

}  // namespace wsgate::integration
