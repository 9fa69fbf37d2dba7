#pragma once
// Identifiers in AWS's observed shape: 16 characters, 15 of URL-safe base64 plus '=' (11 random
// bytes). Used for connectionId, requestId/extendedRequestId and messageId.
#include <string>

namespace wsgate {

// 11 bytes from OpenSSL's CSPRNG, base64url-encoded. With 88 random bits the chance that a process
// ever draws the same id twice is about n^2 / 2^89 (1e-8 after a billion ids); the connection
// registry additionally refuses an id that is still live, so no two live connections share one.
std::string new_aws_id();

// True for strings of the exact shape new_aws_id() produces.
bool looks_like_aws_id(std::string_view s);

// A random RFC 4122 version-4 UUID, as AWS uses for x-amzn-RequestId on REST answers.
std::string new_uuid();

}  // namespace wsgate
