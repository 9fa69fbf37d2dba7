#pragma once
// The server side of TLS: the OpenSSL context shared by every connection on the TLS listener,
// built once at startup from the `tls` settings.
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "config/settings.h"

namespace wsgate::gateway {

// Loads tls.cert_file (the chain) and tls.key_file, checks that they belong together and sets the
// lowest protocol version. On failure returns null and sets *err to a message that starts with
// the key at fault, e.g. "tls.key_file: does not match the certificate in tls.cert_file".
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const config::TlsSettings& s,
                                                            std::string* err);

}  // namespace wsgate::gateway
