#pragma once
#include <string_view>

namespace wsgate {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. Decides whether a
// payload may go out as a text frame.
bool is_valid_utf8(std::string_view s);

}  // namespace wsgate
