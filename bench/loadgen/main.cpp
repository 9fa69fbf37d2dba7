// wsgate-loadgen: load generator for wsgate (and any server with API Gateway's WebSocket contract).
// See bench/README.md.
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "common.h"
#include "modes.h"
#include "options.h"
#include "report.h"

namespace {

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace loadgen;
    Options o;
    try {
        o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const UsageError& e) {
        if (std::string_view(e.what()).empty()) {
            std::cout << kUsage;
            return 0;
        }
        std::fprintf(stderr, "wsgate-loadgen: %s\n", e.what());
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    net::io_context ioc(static_cast<int>(o.threads));
    Target target;
    std::shared_ptr<Backend> backend;
    try {
        target = parse_ws_url(o.url);
        tcp::resolver resolver(ioc);
        const auto results = resolver.resolve(target.host, target.port);
        target.endpoint = results.begin()->endpoint();
        if (o.mode == Mode::post) backend = std::make_shared<Backend>(ioc, o.backend);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsgate-loadgen: %s\n", e.what());
        return 2;
    }

    if (!o.quiet) {
        std::cout << "wsgate-loadgen " << mode_name(o.mode) << " -> " << o.url << " (" << o.threads
                  << " I/O thread" << (o.threads == 1 ? "" : "s") << ", " << o.warmup
                  << " s warm-up, " << o.duration << " s measured"
                  << (backend ? ", whoami backend on " + backend->address() : "") << ")"
                  << std::endl;
    }

    RunInfo info;
    std::string failure;
    auto body = [&]() -> net::awaitable<void> {
        switch (o.mode) {
            case Mode::echo:
                co_await run_echo(ioc, o, target, info);
                break;
            case Mode::connect:
                co_await run_connect(ioc, o, target, info);
                break;
            case Mode::post:
                co_await run_post(ioc, o, target, info, backend);
                break;
        }
    };
    net::co_spawn(net::make_strand(ioc), body, [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            failure = ex.what();
        }
    });
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < o.threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    backend.reset();

    if (!failure.empty()) std::fprintf(stderr, "wsgate-loadgen: %s\n", failure.c_str());
    const int status = report(o, info, merged_stats(), std::cout);
    return failure.empty() ? status : 1;
}
