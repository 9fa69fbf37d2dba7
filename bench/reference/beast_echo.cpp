// A bare Boost.Beast WebSocket echo server: the floor any Beast-based gateway pays.
//   beast_echo [--host H] [--port P] [--threads N]
// Prints "listening on HOST:PORT" on its first stdout line (port 0 picks a free port).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

namespace {

net::awaitable<void> session(tcp::socket sock) {
    try {
        sock.set_option(tcp::no_delay(true));
        websocket::stream<tcp::socket> ws(std::move(sock));
        co_await ws.async_accept(net::use_awaitable);
        beast::flat_buffer buf;
        for (;;) {
            co_await ws.async_read(buf, net::use_awaitable);
            ws.text(ws.got_text());
            co_await ws.async_write(buf.data(), net::use_awaitable);
            buf.consume(buf.size());
        }
    } catch (const std::exception&) {
        // closed by the peer or broken: the session ends
    }
}

net::awaitable<void> listener(tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
        net::co_spawn(acceptor.get_executor(), session(std::move(s)), net::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            std::cerr << "usage: beast_echo [--host H] [--port P] [--threads N]\n";
            return 2;
        }
        if (a == "--host") host = argv[++i];
        else if (a == "--port") port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--threads") threads = std::max(1, std::atoi(argv[++i]));
        else {
            std::cerr << "usage: beast_echo [--host H] [--port P] [--threads N]\n";
            return 2;
        }
    }
    try {
        net::io_context ioc(threads);
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address(host), port));
        std::printf("listening on %s:%u\n", host.c_str(),
                    static_cast<unsigned>(acceptor.local_endpoint().port()));
        std::fflush(stdout);
        net::co_spawn(ioc, listener(acceptor), net::detached);
        net::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t) pool.emplace_back([&] { ioc.run(); });
        ioc.run();
        for (auto& t : pool) t.join();
    } catch (const std::exception& e) {
        std::cerr << "beast_echo: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
