#include "gateway/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wsgate::gateway {

namespace ssl = boost::asio::ssl;

namespace {

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// The oldest OpenSSL error on this thread (the cause; later ones only wrap it), as text, and an
// empty queue afterwards.
std::string openssl_error() {
    const unsigned long e = ERR_peek_error();
    ERR_clear_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

// Open and read one byte ourselves first, so that a missing file, a directory or a permission
// problem is reported as such rather than as an OpenSSL "system library" error.
std::string unreadable(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return "cannot read '" + path + "': " + std::strerror(errno);
    (void)std::fgetc(f);
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) return "cannot read '" + path + "': " + std::strerror(err);
    return {};
}

// OpenSSL would otherwise prompt on the terminal for the passphrase of an encrypted key. Refusing
// makes the load fail; `asked` tells that this was the reason.
int refuse_passphrase(char*, int, int, void* asked) {
    *static_cast<bool*>(asked) = true;
    return -1;
}

bool load_chain(SSL_CTX* ctx, const std::string& path, std::string* err) {
    if (auto why = unreadable(path); !why.empty()) {
        *err = "tls.cert_file: " + why;
        return false;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, path.c_str()) != 1) {
        *err = "tls.cert_file: no PEM certificate in '" + path + "' (" + openssl_error() + ")";
        return false;
    }
    return true;
}

bool load_key(SSL_CTX* ctx, const std::string& path, std::string* err) {
    if (auto why = unreadable(path); !why.empty()) {
        *err = "tls.key_file: " + why;
        return false;
    }
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
    bool asked = false;
    std::unique_ptr<EVP_PKEY, PkeyFree> key(
        bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &asked) : nullptr);
    if (!key) {
        *err = asked
                   ? "tls.key_file: '" + path + "' is encrypted; give the key without a passphrase"
                   : "tls.key_file: no PEM private key in '" + path + "' (" + openssl_error() + ")";
        ERR_clear_error();
        return false;
    }
    // Checked against the leaf certificate explicitly: SSL_CTX_use_PrivateKey would accept a key of
    // another type (an EC key for an RSA certificate) without complaint.
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == nullptr || X509_check_private_key(leaf, key.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        *err = "tls.key_file: the key in '" + path +
               "' does not match the certificate in tls.cert_file";
        return false;
    }
    return true;
}

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const config::TlsSettings& s, std::string* err) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    const int min =
        s.min_version == config::TlsSettings::MinVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(native, min) != 1) {
        *err = "tls.min_version: not supported by this OpenSSL (" + openssl_error() + ")";
        return nullptr;
    }
    // No renegotiation: clients could use it to make the server do handshakes at will.
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // Idle WebSocket connections are the common case; without this, each one keeps its read and
    // write buffers (tens of KiB) allocated between messages.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    if (!load_chain(native, s.cert_file, err) || !load_key(native, s.key_file, err)) return nullptr;
    return ctx;
}

}  // namespace wsgate::gateway
