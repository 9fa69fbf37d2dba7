// wsgate: a self-hosted WebSocket API gateway with Amazon API Gateway's contract.
#include <cstdio>
#include <exception>
#include <iostream>

#include "app/banner.h"
#include "app/publish_command.h"
#include "cluster/cluster_node.h"
#include "common/log.h"
#include "config/load.h"
#include "gateway/server.h"
#ifdef WSGATE_HAVE_MANAGEMENT
#include "management/management_api.h"
#endif

int main(int argc, char** argv) {
    using namespace wsgate;
    if (argc > 1 && std::string_view(argv[1]) == "publish") {
        return app::run_publish(std::vector<std::string>(argv + 2, argv + argc));
    }
    try {
        const auto cl = config::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
        if (cl.help) {
            std::cout << config::kUsage;
            return 0;
        }
        if (cl.version) {
            std::cout << "wsgate " WSGATE_VERSION "\n";
            return 0;
        }
        if (cl.print_default_config) {
            std::cout << config::kEmbeddedDefault;
            return 0;
        }
        const config::Settings settings = config::load(cl, config::process_env);
        log::set_level(settings.log_level == "debug"   ? log::Level::debug
                       : settings.log_level == "warn"  ? log::Level::warn
                       : settings.log_level == "error" ? log::Level::error
                                                       : log::Level::info);
        gateway::Server server(settings);
#ifdef WSGATE_HAVE_MANAGEMENT
        management::ManagementApi api(server.context());
        server.set_http_handler(&api);
#endif
        std::unique_ptr<cluster::ClusterNode> cluster_node;
        if (settings.cluster.enabled) {
            cluster_node =
                std::make_unique<cluster::ClusterNode>(server.context(), server.executor());
            server.registry().set_observer(cluster_node.get());
            server.context().remote = cluster_node.get();
            cluster_node->start();
        }
        const auto ep = server.local_endpoint();
        // stdout, flushed: tests and scripts read the bound port from the first line.
        std::string host = ep.address().to_string();
        if (ep.address().is_v6()) host = '[' + host + ']';
        std::string tls_base;
        if (const auto tls = server.tls_endpoint()) {
            const auto addr = tls->address().to_string();
            tls_base = (tls->address().is_v6() ? '[' + addr + ']' : addr) + ":" + std::to_string(tls->port());
        }
        std::string out = app::banner(settings, host, ep.port(), tls_base);
        if (const auto admin = server.admin_endpoint()) {
            out += "  Admin:          http://" + admin->address().to_string() + ":" +
                   std::to_string(admin->port()) + "/metrics (also /healthz, /readyz)\n";
        }
        std::cout << out << std::flush;
        server.run();
        return 0;
    } catch (const config::ConfigError& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsgate: %s\n", e.what());
        return 1;
    }
}
