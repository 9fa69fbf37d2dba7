// Time per verify() of a PostToConnection as the two client families send it (wire-format.md §2.2):
// the JS SDK v3 signs 9 headers (with a session token) and sends x-amz-content-sha256; boto3 and
// the CLIs sign host;x-amz-date only. Both carry a 1 KiB body. "cache" / "nocache" is the
// CredentialStore's signing-key cache.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "auth/sigv4.h"

namespace {

using wsgate::auth::CredentialStore;
using wsgate::auth::Header;
using wsgate::auth::SigV4Request;
using wsgate::auth::VerifyOptions;
using wsgate::auth::VerifyStatus;

constexpr const char* kAccessKey = "AKIDEXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN+/=";
constexpr const char* kDate = "20150830T123600Z";
constexpr const char* kScope = "20150830/us-east-1/execute-api/aws4_request";

struct Fixture {
    std::string target = "/prod/@connections/R0oXAdfD0kwCH6w%3D";
    std::string body = std::string(1024, 'x');
    std::vector<std::pair<std::string, std::string>> owned;
    std::vector<Header> headers;

    SigV4Request request() const { return {"POST", target, headers, body}; }

    void finish(const std::string& signed_headers, const std::string& payload_hash,
                std::size_t authorization_at) {
        headers.clear();
        for (const auto& [n, v] : owned) headers.push_back({n, v});
        const std::string creq =
            wsgate::auth::canonical_request(request(), signed_headers, payload_hash);
        const std::string sig = wsgate::auth::sign(
            wsgate::auth::derive_signing_key(kSecret, "20150830", "us-east-1", "execute-api"),
            wsgate::auth::string_to_sign(kDate, kScope, creq));
        owned.insert(owned.begin() + static_cast<std::ptrdiff_t>(authorization_at),
                     {"authorization", std::string("AWS4-HMAC-SHA256 Credential=") + kAccessKey +
                                           "/" + kScope + ", SignedHeaders=" + signed_headers +
                                           ", Signature=" + sig});
        headers.clear();
        for (const auto& [n, v] : owned) headers.push_back({n, v});
    }
};

Fixture js_sdk_post() {
    Fixture f;
    const std::string hash = wsgate::auth::hex_sha256(f.body);
    f.owned = {
        {"content-type", "application/octet-stream"},
        {"content-length", "1024"},
        {"x-amz-user-agent", "aws-sdk-js/3.1168.0"},
        {"user-agent",
         "aws-sdk-js/3.1168.0 ua/2.1 os/linux#6.18.44 lang/js md/nodejs#20.20.2 "
         "api/apigatewaymanagementapi#3.1168.0 m/N,E,e"},
        {"host", "127.0.0.1:8899"},
        {"amz-sdk-invocation-id", "30d1715d-cf71-408f-91a4-7f0a0050493b"},
        {"amz-sdk-request", "attempt=1; max=1"},
        {"x-amz-date", kDate},
        {"x-amz-security-token", kToken},
        {"x-amz-content-sha256", hash},
        {"Connection", "keep-alive"},
    };
    f.finish(
        "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;"
        "x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-user-agent",
        hash, 10);
    return f;
}

Fixture boto3_post() {
    Fixture f;
    f.owned = {
        {"Accept-Encoding", "identity"},
        {"User-Agent", "Boto3/1.26.27 Python/3.11.2 Linux/6.1.0 Botocore/1.29.27"},
        {"host", "127.0.0.1:8899"},
        {"X-Amz-Date", kDate},
        {"amz-sdk-invocation-id", "0c2c0ff9-3a3b-4a4e-9d64-7c2b0a1f4e11"},
        {"amz-sdk-request", "attempt=1"},
        {"Content-Length", "1024"},
    };
    f.finish("host;x-amz-date", wsgate::auth::hex_sha256(f.body), 4);
    return f;
}

VerifyOptions options() {
    VerifyOptions o;
    o.region = "us-east-1";
    o.now = std::chrono::sys_days{std::chrono::year{2015} / 8 / 30} + std::chrono::hours{12} +
            std::chrono::minutes{36};
    return o;
}

void run(benchmark::State& state, const Fixture& f, const CredentialStore& store) {
    const SigV4Request req = f.request();
    const VerifyOptions opt = options();
    if (wsgate::auth::verify(req, store, opt).status != VerifyStatus::ok) {
        state.SkipWithError("fixture does not verify");
        return;
    }
    for (auto _ : state) {
        auto r = wsgate::auth::verify(req, store, opt);
        benchmark::DoNotOptimize(r);
    }
}

void BM_Verify_JsSdk_cache(benchmark::State& state) {
    static const Fixture f = js_sdk_post();
    static const CredentialStore store({{kAccessKey, kSecret, kToken}}, true);
    run(state, f, store);
}
void BM_Verify_JsSdk_nocache(benchmark::State& state) {
    static const Fixture f = js_sdk_post();
    static const CredentialStore store({{kAccessKey, kSecret, kToken}}, false);
    run(state, f, store);
}
void BM_Verify_Boto3_cache(benchmark::State& state) {
    static const Fixture f = boto3_post();
    static const CredentialStore store({{kAccessKey, kSecret, ""}}, true);
    run(state, f, store);
}
void BM_Verify_Boto3_nocache(benchmark::State& state) {
    static const Fixture f = boto3_post();
    static const CredentialStore store({{kAccessKey, kSecret, ""}}, false);
    run(state, f, store);
}

// The rejection path builds the AWS message with both canonical strings.
void BM_Verify_Boto3_mismatch(benchmark::State& state) {
    static const Fixture f = boto3_post();
    static const CredentialStore store({{kAccessKey, "wrong-secret", ""}}, true);
    const SigV4Request req = f.request();
    const VerifyOptions opt = options();
    for (auto _ : state) {
        auto r = wsgate::auth::verify(req, store, opt);
        benchmark::DoNotOptimize(r);
    }
}

void BM_HexSha256_1KiB(benchmark::State& state) {
    const std::string body(1024, 'x');
    for (auto _ : state) benchmark::DoNotOptimize(wsgate::auth::hex_sha256(body));
}

void BM_DeriveSigningKey(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            wsgate::auth::derive_signing_key(kSecret, "20150830", "us-east-1", "execute-api"));
    }
}

constexpr auto kUs = benchmark::kMicrosecond;
BENCHMARK(BM_Verify_JsSdk_cache)->Unit(kUs)->ThreadRange(1, 2);
BENCHMARK(BM_Verify_JsSdk_nocache)->Unit(kUs)->ThreadRange(1, 2);
BENCHMARK(BM_Verify_Boto3_cache)->Unit(kUs)->ThreadRange(1, 2);
BENCHMARK(BM_Verify_Boto3_nocache)->Unit(kUs)->ThreadRange(1, 2);
BENCHMARK(BM_Verify_Boto3_mismatch)->Unit(kUs);
BENCHMARK(BM_HexSha256_1KiB)->Unit(kUs);
BENCHMARK(BM_DeriveSigningKey)->Unit(kUs);

}  // namespace

BENCHMARK_MAIN();
