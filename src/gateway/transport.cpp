#include "gateway/transport.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace wsgate::gateway {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

net::awaitable<void> shutdown_send(Transport& t, std::chrono::milliseconds grace) {
    if (t.is_tls()) {
        // A peer that is gone fails this at once; only one that stays silent costs the grace.
        t.expires_after(grace);
        (void)co_await t.async_shutdown(use_tuple);
        t.expires_never();
    }
    boost::system::error_code ignored;
    t.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace wsgate::gateway
