#pragma once
#include <string>

#include "config/settings.h"

namespace wsgate::app {

// The few lines printed at startup: where to connect, where the management API is, which
// credentials sign for it, and how to point routes at a backend.
// `tls_base`: "HOST:PORT" of the TLS listener, empty when TLS is off.
std::string banner(const config::Settings& s, const std::string& host, unsigned short port,
                   const std::string& tls_base = {});

}  // namespace wsgate::app
