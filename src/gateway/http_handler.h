#pragma once
// A plug-in for plain HTTP requests on the gateway's port (the management API is one). The
// gateway layer knows nothing of what it serves.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace wsgate::gateway {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpHandler {
  public:
    virtual ~HttpHandler() = default;
    // Whether this handler owns the request-target (checked on the header, before the body).
    virtual bool matches(std::string_view target) const = 0;
    // The answer when the body exceeded `max_body_bytes()` (the connection is closed after it).
    virtual HttpResponse body_too_large(const HttpRequest& header_only) const = 0;
    virtual std::size_t max_body_bytes() const = 0;
    // Never throws; runs on the HTTP session's strand. Takes the request by value so that a body
    // can be moved on (to a connection's send queue) rather than copied.
    virtual boost::asio::awaitable<HttpResponse> handle(HttpRequest req,
                                                        const boost::asio::ip::tcp::endpoint& peer) = 0;
};

}  // namespace wsgate::gateway
