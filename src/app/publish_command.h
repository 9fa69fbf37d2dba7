#pragma once
// `wsgate publish`: one signed POST /{stage}/@channels/{name} (the broadcast extension), signed
// with SigV4 from the standard AWS credential environment variables, as a backend would send it.
#include <string>
#include <vector>

namespace wsgate::app {

// `args` are the words after "publish". Returns the process exit code: 0 on a 2xx answer, 1 on
// any other answer or a network error, 2 on bad usage.
int run_publish(const std::vector<std::string>& args);

}  // namespace wsgate::app
