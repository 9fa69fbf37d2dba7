// Asio is header-only by default; compiling its implementation once here (with
// BOOST_ASIO_SEPARATE_COMPILATION set project-wide) keeps every other translation unit lighter.
#include <boost/asio/impl/src.hpp>
// The same for Asio's OpenSSL layer (the TLS listener).
#include <boost/asio/ssl/impl/src.hpp>
