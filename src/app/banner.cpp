#include "app/banner.h"

namespace wsgate::app {

std::string banner(const config::Settings& s, const std::string& host, unsigned short port,
                   const std::string& tls_base) {
    const std::string base = host + ":" + std::to_string(port);
    // Tests and scripts read the plain port from this first line; the TLS one is on the lines below.
    std::string out = "wsgate " WSGATE_VERSION " listening on " + base + "\n";
    for (const auto& stage : s.stages) {
        out += "  WebSocket:      ws://" + base + "/" + stage + "\n";
        out += "  Management API: http://" + base + "/" + stage + "/@connections/{connectionId}\n";
        if (tls_base.empty()) continue;
        out += "  WebSocket:      wss://" + tls_base + "/" + stage + "\n";
        out += "  Management API: https://" + tls_base + "/" + stage + "/@connections/{connectionId}\n";
    }
    if (!tls_base.empty()) {
        out += "  TLS:            " + tls_base + ", " +
               (s.tls.min_version == config::TlsSettings::MinVersion::tls1_3 ? "TLS 1.3" : "TLS 1.2 and later") +
               ", certificate " + s.tls.cert_file + "\n";
    }
    std::string routes;
    for (const auto& [key, r] : s.routes) {
        if (!routes.empty()) routes += ", ";
        routes += key + " -> " + r.integration + (r.route_response ? " (two-way)" : "");
    }
    out += "  Routes:         " + (routes.empty() ? std::string("(none)") : routes) + "\n";
    const auto& m = s.management;
    if (m.auth == config::ManagementSettings::Auth::none) {
        out += "  Signing:        OFF (management.auth: none) - anyone who can reach this port can post\n";
    } else if (m.credentials_from_default) {
        out += "  Signing:        SigV4, region " + m.region + ", local key pair\n";
        out += "                  AWS_ACCESS_KEY_ID=" + m.credentials.front().access_key_id + "\n";
        out += "                  AWS_SECRET_ACCESS_KEY=" + m.credentials.front().secret_access_key + "\n";
    } else {
        out += "  Signing:        SigV4, region " + m.region + ", access key " + m.credentials.front().access_key_id +
               (m.credentials.size() > 1 ? " (+" + std::to_string(m.credentials.size() - 1) + " more)" : "") + "\n";
    }
    out += "  Backend:        wsgate --integration http://127.0.0.1:3000/ sends every route there;\n";
    out += "                  wsgate --config FILE for more (docs/configuration.md)\n";
    return out;
}

}  // namespace wsgate::app
