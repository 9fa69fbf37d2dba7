// make_tls_context: certificates and keys generated here with OpenSSL, written to a temp dir, and
// every way they can be wrong reported under the key at fault.
#include "gateway/tls.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace {

namespace fs = std::filesystem;
using wsgate::config::TlsSettings;
using wsgate::gateway::make_tls_context;

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

Key ec_key() {
    return Key(EVP_EC_gen("P-256"));
}
Key rsa_key() {
    return Key(EVP_RSA_gen(2048));
}

Cert self_signed(EVP_PKEY* key, const char* cn) {
    Cert x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
    X509_set_pubkey(x.get(), key);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    X509_sign(x.get(), key, EVP_sha256());
    return x;
}

class TlsContext : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("wsgate_tls_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string write_cert(const std::string& name, X509* cert) {
        const auto path = (dir_ / name).string();
        std::FILE* f = std::fopen(path.c_str(), "w");
        PEM_write_X509(f, cert);
        std::fclose(f);
        return path;
    }
    std::string write_key(const std::string& name, EVP_PKEY* key,
                          const char* passphrase = nullptr) {
        const auto path = (dir_ / name).string();
        std::FILE* f = std::fopen(path.c_str(), "w");
        if (passphrase == nullptr) {
            PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
        } else {
            PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), nullptr, 0, nullptr,
                                 const_cast<char*>(passphrase));
        }
        std::fclose(f);
        return path;
    }
    std::string write_text(const std::string& name, const std::string& text) {
        const auto path = (dir_ / name).string();
        std::ofstream(path) << text;
        return path;
    }

    // The error make_tls_context reports, "" on success.
    static std::string error_for(const std::string& cert, const std::string& key,
                                 TlsSettings::MinVersion v = TlsSettings::MinVersion::tls1_2) {
        TlsSettings s;
        s.enabled = true;
        s.cert_file = cert;
        s.key_file = key;
        s.min_version = v;
        std::string err;
        const auto ctx = make_tls_context(s, &err);
        EXPECT_EQ(ctx == nullptr, !err.empty()) << "null context iff an error: " << err;
        return err;
    }

    fs::path dir_;
};

TEST_F(TlsContext, LoadsAMatchingPairAndSetsTheLowestVersion) {
    const Key key = ec_key();
    const Cert cert = self_signed(key.get(), "localhost");
    const auto cert_file = write_cert("cert.pem", cert.get());
    const auto key_file = write_key("key.pem", key.get());

    TlsSettings s;
    s.enabled = true;
    s.cert_file = cert_file;
    s.key_file = key_file;
    std::string err;
    auto ctx = make_tls_context(s, &err);
    ASSERT_NE(ctx, nullptr) << err;
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native_handle()), TLS1_2_VERSION);
    EXPECT_NE(SSL_CTX_get0_certificate(ctx->native_handle()), nullptr);

    s.min_version = TlsSettings::MinVersion::tls1_3;
    ctx = make_tls_context(s, &err);
    ASSERT_NE(ctx, nullptr) << err;
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native_handle()), TLS1_3_VERSION);
}

TEST_F(TlsContext, AcceptsRsaAndAChainFile) {
    const Key ca_key = rsa_key();
    const Cert ca = self_signed(ca_key.get(), "wsgate test CA");
    const Key key = rsa_key();
    const Cert leaf = self_signed(key.get(), "localhost");
    // Leaf first, then the rest of the chain, as the key's documentation asks.
    const auto chain = write_cert("chain.pem", leaf.get());
    {
        std::FILE* f = std::fopen(chain.c_str(), "a");
        PEM_write_X509(f, ca.get());
        std::fclose(f);
    }
    EXPECT_EQ(error_for(chain, write_key("key.pem", key.get())), "");
}

TEST_F(TlsContext, MissingOrUnreadableCertificateNamesCertFile) {
    const Key key = ec_key();
    const auto key_file = write_key("key.pem", key.get());
    const auto missing = (dir_ / "nope.pem").string();
    std::string err = error_for(missing, key_file);
    EXPECT_EQ(
        err.rfind("tls.cert_file: cannot read '" + missing + "': No such file or directory", 0), 0u)
        << err;
    err = error_for(dir_.string(), key_file);
    EXPECT_EQ(err.rfind("tls.cert_file: cannot read", 0), 0u) << err;
}

TEST_F(TlsContext, CertificateFileWithoutACertificateNamesCertFile) {
    const Key key = ec_key();
    const auto key_file = write_key("key.pem", key.get());
    std::string err = error_for(write_text("garbage.pem", "this is not PEM\n"), key_file);
    EXPECT_EQ(err.rfind("tls.cert_file: no PEM certificate in", 0), 0u) << err;
    err = error_for(write_text("empty.pem", ""), key_file);
    EXPECT_EQ(err.rfind("tls.cert_file: no PEM certificate in", 0), 0u) << err;
    // A key where the certificate should be.
    err = error_for(key_file, key_file);
    EXPECT_EQ(err.rfind("tls.cert_file: no PEM certificate in", 0), 0u) << err;
}

TEST_F(TlsContext, MissingOrBadKeyNamesKeyFile) {
    const Key key = ec_key();
    const Cert cert = self_signed(key.get(), "localhost");
    const auto cert_file = write_cert("cert.pem", cert.get());
    const auto missing = (dir_ / "nope.key").string();
    std::string err = error_for(cert_file, missing);
    EXPECT_EQ(err.rfind("tls.key_file: cannot read '" + missing + "'", 0), 0u) << err;
    err = error_for(cert_file,
                    write_text("garbage.key",
                               "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
    EXPECT_EQ(err.rfind("tls.key_file: no PEM private key in", 0), 0u) << err;
    // The certificate where the key should be.
    err = error_for(cert_file, cert_file);
    EXPECT_EQ(err.rfind("tls.key_file: no PEM private key in", 0), 0u) << err;
}

TEST_F(TlsContext, KeyOfAnotherCertificateNamesKeyFile) {
    const Key key = ec_key();
    const Cert cert = self_signed(key.get(), "localhost");
    const auto cert_file = write_cert("cert.pem", cert.get());
    const Key other_ec = ec_key();
    std::string err = error_for(cert_file, write_key("other-ec.pem", other_ec.get()));
    EXPECT_EQ(err.rfind("tls.key_file: the key in", 0), 0u) << err;
    EXPECT_NE(err.find("does not match the certificate in tls.cert_file"), std::string::npos)
        << err;
    // A key of another type goes to another slot in OpenSSL, which would not notice by itself.
    const Key other_rsa = rsa_key();
    err = error_for(cert_file, write_key("other-rsa.pem", other_rsa.get()));
    EXPECT_NE(err.find("does not match the certificate in tls.cert_file"), std::string::npos)
        << err;
}

// OpenSSL's default would prompt for the passphrase on the terminal and block startup.
TEST_F(TlsContext, EncryptedKeyIsRefusedWithoutAPrompt) {
    const Key key = ec_key();
    const Cert cert = self_signed(key.get(), "localhost");
    const std::string err = error_for(write_cert("cert.pem", cert.get()),
                                      write_key("key.pem", key.get(), "correct horse"));
    EXPECT_EQ(err.rfind("tls.key_file: ", 0), 0u) << err;
    EXPECT_NE(err.find("is encrypted"), std::string::npos) << err;
}

}  // namespace
