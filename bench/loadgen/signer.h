#pragma once
// SigV4 signing of management API requests (service execute-api), with the building blocks of
// src/auth/sigv4.h. Signs host and x-amz-date (plus x-amz-security-token when given), as boto3
// and the AWS CLI do. One Signer per driver: it caches the date strings and the day's signing key.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <ctime>
#include <string>

#include "auth/sigv4.h"

namespace loadgen {

class Signer {
  public:
    Signer(std::string access_key, std::string secret_key, std::string session_token,
           std::string region);

    // Adds x-amz-date, [x-amz-security-token] and Authorization. The Host header and the body
    // must already be set.
    void sign(boost::beast::http::request<boost::beast::http::string_body>& req);

  private:
    void refresh_clock();

    std::string access_key_;
    std::string secret_key_;
    std::string session_token_;
    std::string region_;
    std::time_t second_ = -1;
    std::string amz_date_;  // 20240101T000000Z
    std::string day_;       // 20240101
    std::string scope_;     // 20240101/us-east-1/execute-api/aws4_request
    std::string signed_headers_;
    wsgate::auth::SigningKey key_{};
};

// Percent-encodes every byte outside A-Z a-z 0-9 - _ . ~ (a connection id's '=' becomes %3D, as
// the AWS SDKs send it).
std::string uri_encode(std::string_view s);

}  // namespace loadgen
