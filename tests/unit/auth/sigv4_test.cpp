// SigV4 verifier tests: every captured execute-api vector, the AWS SigV4 suite, and hand-written
// cases signed by a small test-side signer. The data is under tests/data/sigv4 (see its README).
#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace wsgate::auth {
// Lets gtest print statuses by name.
void PrintTo(VerifyStatus s, std::ostream* os) {
    *os << status_name(s);
}
}  // namespace wsgate::auth

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace std::string_literals;
using wsgate::auth::Credential;
using wsgate::auth::CredentialStore;
using wsgate::auth::Header;
using wsgate::auth::SigV4Request;
using wsgate::auth::VerifyOptions;
using wsgate::auth::VerifyResult;
using wsgate::auth::VerifyStatus;

constexpr std::string_view kAccessKey = "AKIDEXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kVectorToken = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN+/=";
constexpr std::string_view kRegion = "us-east-1";
constexpr std::size_t kExecuteApiVectorCount = 111;
constexpr std::size_t kAwsSuiteCaseCount = 34;

fs::path data_dir() {
    return fs::path(WSGATE_SOURCE_DIR) / "tests" / "data" / "sigv4";
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << p;
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::chrono::sys_seconds at(std::string_view amz_date) {
    const auto num = [&](std::size_t pos, std::size_t len) {
        return std::stoi(std::string(amz_date.substr(pos, len)));
    };
    const std::chrono::year_month_day ymd{std::chrono::year{num(0, 4)},
                                          std::chrono::month{static_cast<unsigned>(num(4, 2))},
                                          std::chrono::day{static_cast<unsigned>(num(6, 2))}};
    return std::chrono::sys_days{ymd} + std::chrono::hours{num(9, 2)} +
           std::chrono::minutes{num(11, 2)} + std::chrono::seconds{num(13, 2)};
}

// A request that owns its bytes; view() hands the verifier string_views into them.
struct OwnedRequest {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::vector<Header> views;

    SigV4Request view() {
        views.clear();
        for (const auto& [n, v] : headers) views.push_back({n, v});
        return {method, target, views, body};
    }
    void remove_header(std::string_view name) {
        std::erase_if(headers, [&](const auto& h) {
            return std::equal(h.first.begin(), h.first.end(), name.begin(), name.end(),
                              [](char a, char b) { return std::tolower(a) == std::tolower(b); });
        });
    }
    std::string header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (n.size() == name.size() &&
                std::equal(n.begin(), n.end(), name.begin(),
                           [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
                return v;
            }
        }
        return {};
    }
};

// Parses a .req/.sreq file: CRLF (captures) or LF (AWS suite) line ends, obs-fold continuation
// lines joined to the previous value with one space, body after the blank line.
OwnedRequest parse_wire(std::string_view raw) {
    const std::size_t first_lf = raw.find('\n');
    const bool crlf =
        first_lf != std::string_view::npos && first_lf > 0 && raw[first_lf - 1] == '\r';
    const std::string eol = crlf ? "\r\n" : "\n";
    const std::size_t head_end = raw.find(eol + eol);
    const std::string_view head = raw.substr(0, head_end);
    OwnedRequest r;
    if (head_end != std::string_view::npos)
        r.body = std::string(raw.substr(head_end + 2 * eol.size()));

    std::vector<std::string_view> lines;
    for (std::size_t pos = 0;;) {
        const std::size_t end = head.find(eol, pos);
        lines.push_back(head.substr(pos, end == std::string_view::npos ? end : end - pos));
        if (end == std::string_view::npos) break;
        pos = end + eol.size();
    }
    const std::string_view request_line = lines.at(0);
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.rfind(' ');  // the target may contain spaces
    r.method = std::string(request_line.substr(0, sp1));
    r.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        if (!l.empty() && (l[0] == ' ' || l[0] == '\t') && !r.headers.empty()) {
            while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
            r.headers.back().second += ' ';
            r.headers.back().second += l;
        } else if (!l.empty()) {
            const std::size_t colon = l.find(':');
            r.headers.emplace_back(std::string(l.substr(0, colon)),
                                   std::string(l.substr(colon + 1)));
        }
    }
    return r;
}

std::string signature_of(std::string_view authz) {
    const std::size_t p = authz.find("Signature=");
    return p == std::string_view::npos ? std::string() : std::string(authz.substr(p + 10, 64));
}

std::string strip_final_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

CredentialStore store_with(std::string_view token = {}, bool cache = true) {
    return CredentialStore(
        {Credential{std::string(kAccessKey), std::string(kSecret), std::string(token)}}, cache);
}

VerifyOptions options_at(std::string_view amz_date, std::string_view service = "execute-api") {
    VerifyOptions o;
    o.service = service;
    o.region = kRegion;
    o.now = at(amz_date);
    return o;
}

// Directory names below `dir` that hold a test case (they contain <name>/<name>.req).
std::vector<std::string> case_dirs(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_directory()) continue;
        const std::string name = it->path().filename().string();
        if (fs::exists(it->path() / (name + ".req"))) {
            out.push_back(fs::relative(it->path(), dir).generic_string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
    std::string n = info.param;
    for (char& c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// Captured execute-api vectors.

const std::vector<std::string>& execute_api_vectors() {
    static const std::vector<std::string> v = case_dirs(data_dir() / "execute-api");
    return v;
}

TEST(ExecuteApiVectors, AllPresentAndListedInVectorsJson) {
    ASSERT_EQ(execute_api_vectors().size(), kExecuteApiVectorCount);
    const json::value all = json::parse(read_file(data_dir() / "execute-api" / "vectors.json"));
    std::vector<std::string> listed;
    for (const json::value& m : all.as_array()) listed.emplace_back(m.at("name").as_string());
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(listed, execute_api_vectors());
}

class ExecuteApiVector : public testing::TestWithParam<std::string> {};

TEST_P(ExecuteApiVector, VerifiesAsDocumented) {
    const std::string name = GetParam();
    const fs::path dir = data_dir() / "execute-api" / name;
    const json::object meta = json::parse(read_file(dir / (name + ".json"))).as_object();
    OwnedRequest req = parse_wire(read_file(dir / (name + ".req")));
    const std::string creq = read_file(dir / (name + ".creq"));
    const std::string sts = read_file(dir / (name + ".sts"));
    const std::string amz_date(meta.at("x_amz_date").as_string());

    // The canonical URI rule, on its own.
    const std::string wire_path(meta.at("wire_path").as_string());
    EXPECT_EQ(req.target.substr(0, req.target.find('?')), wire_path);
    EXPECT_EQ(wsgate::auth::canonical_uri(wire_path),
              std::string_view(meta.at("canonical_uri_aws_rule").as_string()));

    // The canonical strings match the AWS rule for every vector, the rejected ones included: they
    // are what the mismatch message has to show.
    const auto cs = wsgate::auth::canonical_strings(req.view());
    ASSERT_EQ(cs.status, VerifyStatus::ok) << cs.message;
    EXPECT_EQ(cs.canonical_request, creq);
    EXPECT_EQ(cs.string_to_sign, sts);
    const auto key =
        wsgate::auth::derive_signing_key(kSecret, amz_date.substr(0, 8), kRegion, "execute-api");
    EXPECT_EQ(wsgate::auth::sign(key, sts),
              std::string_view(meta.at("signature_aws_rule").as_string()));

    // Temporary-credential vectors carry (and sign) X-Amz-Security-Token; the key must have it.
    const json::value* token = meta.if_contains("session_token");
    const std::string token_str =
        token != nullptr ? std::string(token->as_string()) : std::string();
    if (name.ends_with("_sessiontoken")) {
        EXPECT_EQ(token_str, kVectorToken);
    }
    const CredentialStore store = store_with(token_str);

    const bool signature_ok = meta.at("expect_verify_aws_rule").as_bool();
    const json::value* body_match = meta.if_contains("payload_hash_header_matches_body");
    const bool body_ok = body_match == nullptr || body_match->as_bool();
    EXPECT_EQ(signature_ok, meta.at("signature_in_request") == meta.at("signature_aws_rule"));

    const VerifyResult r = wsgate::auth::verify(req.view(), store, options_at(amz_date));
    if (signature_ok && body_ok) {
        EXPECT_EQ(r.status, VerifyStatus::ok) << r.message;
        EXPECT_EQ(r.credential, store.find(kAccessKey));
        EXPECT_EQ(r.error_type(), "");
    } else {
        EXPECT_EQ(r.status, VerifyStatus::invalid_signature);
        EXPECT_EQ(r.credential, nullptr);
        EXPECT_EQ(r.error_type(), "InvalidSignatureException");
        if (!signature_ok) {
            EXPECT_NE(
                r.message.find("The Canonical String for this request should have been\n'" + creq +
                               "'\n\nThe String-to-Sign should have been\n'" + sts + "'\n"),
                std::string::npos)
                << r.message;
        } else {
            EXPECT_EQ(
                r.message,
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
        }
        EXPECT_EQ(r.message.find(kSecret), std::string::npos);
        EXPECT_EQ(r.message.find(std::string_view(meta.at("signature_aws_rule").as_string())),
                  std::string::npos);
    }

    // A second verify takes the signing-key cache path when the first one succeeded.
    const VerifyResult again = wsgate::auth::verify(req.view(), store, options_at(amz_date));
    EXPECT_EQ(again.status, r.status);
}

INSTANTIATE_TEST_SUITE_P(Captured, ExecuteApiVector, testing::ValuesIn(execute_api_vectors()),
                         test_name);

// ---------------------------------------------------------------------------------------------
// The upstream AWS SigV4 suite (service "service"). aws-suite/README.md lists the quirks:
// get-vanilla-with-session-token verifies from its .sreq with the .authz signature, and
// post-sts-header-after (token added after signing, not signed) has its own expectations.

const std::vector<std::string>& aws_suite_cases() {
    static const std::vector<std::string> v = case_dirs(data_dir() / "aws-suite");
    return v;
}

TEST(AwsSuite, AllPresent) {
    EXPECT_EQ(aws_suite_cases().size(), kAwsSuiteCaseCount);
}

class AwsSuiteCase : public testing::TestWithParam<std::string> {};

TEST_P(AwsSuiteCase, VerifiesAsDocumented) {
    const fs::path dir = data_dir() / "aws-suite" / GetParam();
    const std::string name = dir.filename().string();
    const fs::path base = dir / name;
    const std::string authz = strip_final_newline(read_file(base.string() + ".authz"));
    const std::string creq = read_file(base.string() + ".creq");
    const std::string sts = read_file(base.string() + ".sts");
    const VerifyOptions opt = options_at("20150830T123600Z", "service");
    const auto key = wsgate::auth::derive_signing_key(kSecret, "20150830", kRegion, "service");
    ASSERT_EQ(wsgate::auth::sign(key, sts), signature_of(authz));

    const bool from_sreq =
        name == "get-vanilla-with-session-token" || name == "post-sts-header-after";
    OwnedRequest req = parse_wire(read_file(base.string() + (from_sreq ? ".sreq" : ".req")));
    req.remove_header("Authorization");  // stale in the get-vanilla-with-session-token .sreq
    req.headers.emplace_back("Authorization", authz);
    const std::string token = req.header("X-Amz-Security-Token");

    const auto cs = wsgate::auth::canonical_strings(req.view());
    ASSERT_EQ(cs.status, VerifyStatus::ok) << cs.message;
    EXPECT_EQ(cs.canonical_request, creq);
    EXPECT_EQ(cs.string_to_sign, sts);

    if (name != "post-sts-header-after") {
        const CredentialStore store = store_with(token);
        const VerifyResult r = wsgate::auth::verify(req.view(), store, opt);
        EXPECT_EQ(r.status, VerifyStatus::ok) << r.message;
        return;
    }

    // post-sts-header-after. As an unsigned extra header the token does not change the canonical
    // form (checked above), but wsgate requires a session token to be signed, as every
    // execute-api client does: with the token's credential the request is incomplete...
    ASSERT_FALSE(token.empty());
    const VerifyResult with_token = wsgate::auth::verify(req.view(), store_with(token), opt);
    EXPECT_EQ(with_token.status, VerifyStatus::incomplete_signature);
    EXPECT_NE(with_token.message.find("x-amz-security-token"), std::string::npos);
    // ...a token sent for a long-term key is an unrecognised client...
    EXPECT_EQ(wsgate::auth::verify(req.view(), store_with(), opt).status,
              VerifyStatus::unrecognized_client);
    // ...and without the token (the suite's .req) the signature verifies.
    OwnedRequest unsigned_req = parse_wire(read_file(base.string() + ".req"));
    unsigned_req.headers.emplace_back("Authorization", authz);
    EXPECT_EQ(wsgate::auth::verify(unsigned_req.view(), store_with(), opt).status,
              VerifyStatus::ok);
}

INSTANTIATE_TEST_SUITE_P(Upstream, AwsSuiteCase, testing::ValuesIn(aws_suite_cases()), test_name);

// ---------------------------------------------------------------------------------------------
// Building blocks.

TEST(CanonicalUri, DoubleEncodesTheWirePath) {
    using wsgate::auth::canonical_uri;
    EXPECT_EQ(canonical_uri("/prod/@connections/R0oXAdfD0kwCH6w%3D"),
              "/prod/%40connections/R0oXAdfD0kwCH6w%253D");
    EXPECT_EQ(canonical_uri("/prod//@connections/R0oXAdfD0kwCH6w%3D"),
              "/prod/%40connections/R0oXAdfD0kwCH6w%253D");
    EXPECT_EQ(canonical_uri("/$default/%40connections/P-S_9e-7liACH9A%3D"),
              "/%24default/%2540connections/P-S_9e-7liACH9A%253D");
    EXPECT_EQ(
        canonical_uri("/prod/@connections/a%20b~c%2Ad%21%27%28%29%40%3A%2C%3B%24%26"),
        "/prod/%40connections/a%2520b~c%252Ad%2521%2527%2528%2529%2540%253A%252C%253B%2524%2526");
}

TEST(CanonicalUri, RemovesDotAndEmptySegments) {
    using wsgate::auth::canonical_uri;
    EXPECT_EQ(canonical_uri(""), "/");
    EXPECT_EQ(canonical_uri("/"), "/");
    EXPECT_EQ(canonical_uri("//"), "/");
    EXPECT_EQ(canonical_uri("/a/./b/../c/"), "/a/c/");
    EXPECT_EQ(canonical_uri("/a/b/.."), "/a");
    EXPECT_EQ(canonical_uri("/../.."), "/");
    EXPECT_EQ(canonical_uri("/../a"), "/a");
    EXPECT_EQ(canonical_uri("/example space/"), "/example%20space/");
    EXPECT_EQ(canonical_uri("/\xe1\x88\xb4"), "/%E1%88%B4");
    EXPECT_EQ(canonical_uri("/a%2F..%2Fb"), "/a%252F..%252Fb");  // encoded dots are not segments
}

TEST(CanonicalQuery, SortsDecodesAndReencodes) {
    using wsgate::auth::canonical_query;
    EXPECT_EQ(canonical_query(""), "");
    EXPECT_EQ(canonical_query("b=2&a=1"), "a=1&b=2");
    EXPECT_EQ(canonical_query("Param=value2&Param=value1"), "Param=value1&Param=value2");
    EXPECT_EQ(canonical_query("a=%2f&c=%7E&d=x y"), "a=%2F&c=~&d=x%20y");
    EXPECT_EQ(canonical_query("k"), "k=");
    EXPECT_EQ(canonical_query("a=1&&b"), "a=1&b=");
    EXPECT_EQ(canonical_query("p=a+b"), "p=a%2Bb");
    EXPECT_EQ(canonical_query("p=%zz"), "p=%25zz");
    EXPECT_EQ(canonical_query("X-Amz-Signature=abc&a=1"), "X-Amz-Signature=abc&a=1");
}

TEST(HexSha256, KnownValues) {
    EXPECT_EQ(wsgate::auth::hex_sha256(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(wsgate::auth::hex_sha256("hello"),
              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
}

TEST(SigningKey, LongSecretIsHashedFirst) {
    // A secret longer than the HMAC block (64 bytes with "AWS4") must still give a stable key that
    // differs from a truncated one.
    const std::string long_secret(100, 'k');
    const auto a =
        wsgate::auth::derive_signing_key(long_secret, "20150830", "us-east-1", "execute-api");
    const auto b = wsgate::auth::derive_signing_key(long_secret.substr(0, 60), "20150830",
                                                    "us-east-1", "execute-api");
    EXPECT_EQ(
        a, wsgate::auth::derive_signing_key(long_secret, "20150830", "us-east-1", "execute-api"));
    EXPECT_NE(a, b);
}

TEST(CredentialStoreTest, FindsByAccessKeyFirstDuplicateWins) {
    const CredentialStore store({{"B", "sb", ""}, {"A", "sa", "t"}, {"B", "other", ""}});
    EXPECT_EQ(store.size(), 2u);
    ASSERT_NE(store.find("A"), nullptr);
    EXPECT_EQ(store.find("A")->secret_access_key, "sa");
    ASSERT_NE(store.find("B"), nullptr);
    EXPECT_EQ(store.find("B")->secret_access_key, "sb");
    EXPECT_EQ(store.find("C"), nullptr);
    EXPECT_EQ(store.find(""), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Hand-written cases, signed here.

struct Spec {
    std::string method = "POST";
    std::string target = "/prod/@connections/R0oXAdfD0kwCH6w%3D";
    std::vector<std::pair<std::string, std::string>> headers = {{"Host", "127.0.0.1:8899"}};
    std::string body = "hello";
    std::string access_key = std::string(kAccessKey);
    std::string secret = std::string(kSecret);
    std::string amz_date = "20150830T123600Z";
    std::string scope_date;  // empty = the X-Amz-Date day
    std::string region = std::string(kRegion);
    std::string service = "execute-api";
    std::string signed_headers = "host;x-amz-date";
    std::string token;
    bool sign_token = true;
    bool content_sha256_header = false;
};

std::string scope_of(const Spec& s) {
    return (s.scope_date.empty() ? s.amz_date.substr(0, 8) : s.scope_date) + "/" + s.region + "/" +
           s.service + "/aws4_request";
}

std::string sign_spec(const Spec& s, const std::string& creq) {
    const std::string sts = wsgate::auth::string_to_sign(s.amz_date, scope_of(s), creq);
    const std::string date = s.scope_date.empty() ? s.amz_date.substr(0, 8) : s.scope_date;
    return wsgate::auth::sign(wsgate::auth::derive_signing_key(s.secret, date, s.region, s.service),
                              sts);
}

// Header auth, the way botocore / the JS SDK sign.
OwnedRequest sign_headers(Spec s) {
    OwnedRequest r{s.method, s.target, s.headers, s.body, {}};
    r.headers.emplace_back("X-Amz-Date", s.amz_date);
    const std::string body_hash = wsgate::auth::hex_sha256(s.body);
    if (s.content_sha256_header) r.headers.emplace_back("x-amz-content-sha256", body_hash);
    if (!s.token.empty()) {
        r.headers.emplace_back("X-Amz-Security-Token", s.token);
        if (s.sign_token) s.signed_headers += ";x-amz-security-token";
    }
    const std::string creq = wsgate::auth::canonical_request(r.view(), s.signed_headers, body_hash);
    r.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + s.access_key + "/" +
                                                scope_of(s) +
                                                ", SignedHeaders=" + s.signed_headers +
                                                ", Signature=" + sign_spec(s, creq));
    return r;
}

std::string query_encode(std::string_view v) {
    std::string out;
    for (const unsigned char c : v) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            static constexpr char hex[] = "0123456789ABCDEF";
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// Presigned query auth, the way botocore's SigV4QueryAuth does it.
OwnedRequest presign(Spec s, int expires, bool unsigned_payload = false) {
    s.signed_headers = "host";
    std::string q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" +
                    query_encode(s.access_key + "/" + scope_of(s)) + "&X-Amz-Date=" + s.amz_date +
                    "&X-Amz-Expires=" + std::to_string(expires) + "&X-Amz-SignedHeaders=host";
    if (!s.token.empty()) q += "&X-Amz-Security-Token=" + query_encode(s.token);
    OwnedRequest r{s.method, s.target + "?" + q, s.headers, s.body, {}};
    const std::string payload =
        unsigned_payload ? "UNSIGNED-PAYLOAD" : wsgate::auth::hex_sha256(s.body);
    const std::string creq = wsgate::auth::canonical_request(r.view(), s.signed_headers, payload);
    r.target += "&X-Amz-Signature=" + sign_spec(s, creq);
    return r;
}

VerifyResult check(OwnedRequest& r, const CredentialStore& store, const VerifyOptions& opt) {
    VerifyResult res = wsgate::auth::verify(r.view(), store, opt);
    // Whatever happened, the secret never leaks.
    EXPECT_EQ(res.message.find(kSecret), std::string::npos) << res.message;
    EXPECT_EQ(res.status == VerifyStatus::ok, res.credential != nullptr);
    return res;
}

VerifyResult check(OwnedRequest& r, const VerifyOptions& opt = options_at("20150830T123600Z")) {
    return check(r, store_with(), opt);
}

TEST(HandWritten, TestSignerReproducesTheAwsSuite) {
    // Guards the signer the other hand-written tests rely on.
    Spec s;
    s.method = "GET";
    s.target = "/";
    s.headers = {{"Host", "example.amazonaws.com"}};
    s.body = "";
    s.service = "service";
    OwnedRequest r = sign_headers(s);
    const std::string authz = strip_final_newline(
        read_file(data_dir() / "aws-suite" / "get-vanilla" / "get-vanilla.authz"));
    EXPECT_EQ(r.header("Authorization"), authz);
}

TEST(HandWritten, SignedRequestVerifies) {
    OwnedRequest r = sign_headers(Spec{});
    const CredentialStore store = store_with();
    const VerifyResult res = check(r, store, options_at("20150830T123600Z"));
    EXPECT_EQ(res.status, VerifyStatus::ok) << res.message;
    EXPECT_EQ(res.credential, store.find(kAccessKey));
    EXPECT_TRUE(res.message.empty());
}

TEST(HandWritten, NoAuthorizationIsMissingAuthenticationToken) {
    OwnedRequest r = sign_headers(Spec{});
    r.remove_header("Authorization");
    const VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::missing_authentication_token);
    EXPECT_EQ(res.message, "Missing Authentication Token");
    EXPECT_EQ(res.error_type(), "MissingAuthenticationTokenException");
}

TEST(HandWritten, UnknownAccessKeyIsUnrecognizedClient) {
    Spec s;
    s.access_key = "AKIDUNKNOWN";
    OwnedRequest r = sign_headers(s);
    const VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::unrecognized_client);
    EXPECT_EQ(res.message, "The security token included in the request is invalid.");
    EXPECT_EQ(res.error_type(), "UnrecognizedClientException");
}

TEST(HandWritten, WrongSecretShowsCanonicalStringsButNoSecrets) {
    Spec s;
    s.secret = "not-the-secret";
    OwnedRequest r = sign_headers(s);
    const VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::invalid_signature);
    EXPECT_EQ(res.error_type(), "InvalidSignatureException");
    EXPECT_EQ(res.message,
              "The request signature we calculated does not match the signature you provided. "
              "Check your AWS Secret Access Key and signing method. Consult the service "
              "documentation for details.\n\n"
              "The Canonical String for this request should have been\n"
              "'POST\n/prod/%40connections/R0oXAdfD0kwCH6w%253D\n\nhost:127.0.0.1:8899\n"
              "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'\n\n"
              "The String-to-Sign should have been\n"
              "'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/execute-api/aws4_request\n"
              "6601ad975ce782e39175b5cb2ea478394c3668b9a0bf4694698427e2f1eb330c'\n");
    // The right signature (wire-format.md §3) must not be handed to a caller who lacks the key.
    EXPECT_EQ(res.message.find("5b1ff9a32d2ac9e53fb6e45ad0628d75ab90310f633ee0d61907683b46550dc7"),
              std::string::npos);
    EXPECT_EQ(res.message.find("not-the-secret"), std::string::npos);
}

TEST(HandWritten, TamperedBodyOrSignatureFails) {
    OwnedRequest r = sign_headers(Spec{});
    r.body = "hellO";
    EXPECT_EQ(check(r).status, VerifyStatus::invalid_signature);

    OwnedRequest r2 = sign_headers(Spec{});
    for (auto& [n, v] : r2.headers) {
        if (n == "Authorization") v.back() = v.back() == '0' ? '1' : '0';
    }
    EXPECT_EQ(check(r2).status, VerifyStatus::invalid_signature);

    OwnedRequest r3 = sign_headers(Spec{});
    for (auto& [n, v] : r3.headers) {
        if (n == "Authorization") v.pop_back();  // 63 hex digits
    }
    EXPECT_EQ(check(r3).status, VerifyStatus::invalid_signature);
}

TEST(HandWritten, ContentSha256HeaderMustMatchBody) {
    Spec s;
    s.content_sha256_header = true;
    s.signed_headers = "host;x-amz-content-sha256;x-amz-date";
    OwnedRequest r = sign_headers(s);
    EXPECT_EQ(check(r).status, VerifyStatus::ok);
    r.body = "jello";  // the signature covers the header, not the body
    const VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::invalid_signature);
    EXPECT_EQ(res.message,
              "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

TEST(HandWritten, ClockSkew) {
    OwnedRequest r = sign_headers(Spec{});  // X-Amz-Date 20150830T123600Z
    const auto opt_at = [](std::chrono::sys_seconds now) {
        VerifyOptions o = options_at("20150830T123600Z");
        o.now = now;
        return o;
    };
    const auto signed_at = at("20150830T123600Z");

    VerifyResult res = check(r, opt_at(signed_at + 6min));
    EXPECT_EQ(res.status, VerifyStatus::signature_expired);
    EXPECT_EQ(res.error_type(), "InvalidSignatureException");
    EXPECT_EQ(res.message,
              "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
              "(20150830T124200Z - 5 min.)");

    res = check(r, opt_at(signed_at - 6min));
    EXPECT_EQ(res.status, VerifyStatus::signature_not_yet_current);
    EXPECT_EQ(res.error_type(), "InvalidSignatureException");
    EXPECT_EQ(res.message,
              "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z "
              "(20150830T123000Z + 5 min.)");

    EXPECT_EQ(check(r, opt_at(signed_at + 4min)).status, VerifyStatus::ok);
    EXPECT_EQ(check(r, opt_at(signed_at - 4min)).status, VerifyStatus::ok);
    EXPECT_EQ(check(r, opt_at(signed_at + 5min)).status, VerifyStatus::ok);  // inclusive bounds
    EXPECT_EQ(check(r, opt_at(signed_at - 5min)).status, VerifyStatus::ok);
    EXPECT_EQ(check(r, opt_at(signed_at + 5min + 1s)).status, VerifyStatus::signature_expired);
    EXPECT_EQ(check(r, opt_at(signed_at - 5min - 1s)).status,
              VerifyStatus::signature_not_yet_current);

    VerifyOptions no_clock = opt_at(signed_at + 24h * 365);
    no_clock.check_time = false;
    EXPECT_EQ(check(r, no_clock).status, VerifyStatus::ok);

    VerifyOptions wide = opt_at(signed_at + 14min);
    wide.max_skew = 15min;
    EXPECT_EQ(check(r, wide).status, VerifyStatus::ok);
}

TEST(HandWritten, ScopeMustNameThisServiceRegionAndDay) {
    Spec s3;
    s3.service = "s3";
    OwnedRequest r = sign_headers(s3);
    VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::invalid_signature);
    EXPECT_EQ(res.message, "Credential should be scoped to correct service: 'execute-api'.");

    Spec west;
    west.region = "us-west-2";
    OwnedRequest rw = sign_headers(west);
    res = check(rw);  // region us-east-1 configured
    EXPECT_EQ(res.status, VerifyStatus::invalid_signature);
    EXPECT_EQ(res.message, "Credential should be scoped to a valid region, not 'us-west-2'.");
    VerifyOptions any_region = options_at("20150830T123600Z");
    any_region.region = {};
    EXPECT_EQ(check(rw, any_region).status, VerifyStatus::ok);

    Spec yesterday;
    yesterday.scope_date = "20150829";
    OwnedRequest ry = sign_headers(yesterday);
    res = check(ry);
    EXPECT_EQ(res.status, VerifyStatus::invalid_signature);
    EXPECT_NE(res.message.find("Date in Credential scope does not match"), std::string::npos);

    OwnedRequest rt = sign_headers(Spec{});
    for (auto& [n, v] : rt.headers) {
        if (n == "Authorization") v.replace(v.find("aws4_request"), 12, "aws5_request");
    }
    EXPECT_EQ(check(rt).status, VerifyStatus::invalid_signature);
}

TEST(HandWritten, HostMustBeSigned) {
    Spec s;
    s.signed_headers = "x-amz-date";
    OwnedRequest r = sign_headers(s);
    const VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::incomplete_signature);
    EXPECT_EQ(res.error_type(), "IncompleteSignatureException");
    EXPECT_NE(res.message.find("Host"), std::string::npos);
}

TEST(HandWritten, XAmzDateIsRequiredAndWellFormed) {
    OwnedRequest r = sign_headers(Spec{});
    r.remove_header("X-Amz-Date");
    VerifyResult res = check(r);
    EXPECT_EQ(res.status, VerifyStatus::incomplete_signature);
    EXPECT_NE(res.message.find("X-Amz-Date"), std::string::npos);

    Spec bad;
    bad.amz_date = "20150830T126000Z";  // minute 60
    bad.scope_date = "20150830";
    OwnedRequest rb = sign_headers(bad);
    EXPECT_EQ(check(rb).status, VerifyStatus::incomplete_signature);
}

TEST(HandWritten, HeaderCanonicalisation) {
    // Names compared case-insensitively, values trimmed and collapsed, duplicates joined with ','.
    Spec s;
    s.headers = {{"HOST", "  127.0.0.1:8899 "},
                 {"My-Header", "a   b\t c"},
                 {"my-header", "second"},
                 {"User-Agent", "unsigned"}};
    s.signed_headers = "host;my-header;x-amz-date";
    OwnedRequest r = sign_headers(s);
    const auto cs = wsgate::auth::canonical_strings(r.view());
    EXPECT_NE(cs.canonical_request.find("\nhost:127.0.0.1:8899\nmy-header:a b c,second\n"),
              std::string::npos)
        << cs.canonical_request;
    EXPECT_EQ(check(r).status, VerifyStatus::ok);
    for (auto& [n, v] : r.headers) {
        if (n == "User-Agent") v = "changed";  // unsigned: no effect
    }
    EXPECT_EQ(check(r).status, VerifyStatus::ok);
    std::swap(r.headers[1], r.headers[2]);  // the order of duplicates is signed
    EXPECT_EQ(check(r).status, VerifyStatus::invalid_signature);
}

TEST(HandWritten, AuthorizationIsWhitespaceTolerant) {
    OwnedRequest r = sign_headers(Spec{});
    for (auto& [n, v] : r.headers) {
        if (n != "Authorization") continue;
        std::string spaced;
        for (const char c : v) {
            spaced += c;
            if (c == ',') spaced += "  \t";
        }
        v = "  " + spaced;
        v.replace(v.find(" Credential="), 12, "   Credential = ");
    }
    EXPECT_EQ(check(r).status, VerifyStatus::ok) << r.header("Authorization");
}

TEST(HandWritten, SessionTokens) {
    const VerifyOptions opt = options_at("20150830T123600Z");
    const CredentialStore temp = store_with(kVectorToken);

    Spec good;
    good.token = std::string(kVectorToken);
    OwnedRequest r = sign_headers(good);
    EXPECT_EQ(check(r, temp, opt).status, VerifyStatus::ok);

    OwnedRequest missing = sign_headers(Spec{});
    VerifyResult res = check(missing, temp, opt);
    EXPECT_EQ(res.status, VerifyStatus::unrecognized_client);
    EXPECT_EQ(res.message, "The security token included in the request is invalid.");

    Spec wrong = good;
    wrong.token = "IQoJb3JpZ2luX2VjOTHERTOKEN";
    OwnedRequest rw = sign_headers(wrong);
    EXPECT_EQ(check(rw, temp, opt).status, VerifyStatus::unrecognized_client);

    Spec not_signed = good;
    not_signed.sign_token = false;
    OwnedRequest rn = sign_headers(not_signed);
    res = check(rn, temp, opt);
    EXPECT_EQ(res.status, VerifyStatus::incomplete_signature);
    EXPECT_NE(res.message.find("x-amz-security-token"), std::string::npos);

    // A long-term key takes no token.
    EXPECT_EQ(check(r, store_with(), opt).status, VerifyStatus::unrecognized_client);

    // Sent twice: ambiguous, so not the credential's token.
    OwnedRequest twice = sign_headers(good);
    twice.headers.emplace_back("X-Amz-Security-Token", std::string(kVectorToken));
    EXPECT_EQ(check(twice, temp, opt).status, VerifyStatus::unrecognized_client);
}

TEST(HandWritten, PresignedUrls) {
    const VerifyOptions opt = options_at("20150830T123600Z");
    Spec s;
    s.method = "GET";
    s.body = "";
    OwnedRequest r = presign(s, 900);
    VerifyResult res = check(r, opt);
    EXPECT_EQ(res.status, VerifyStatus::ok) << res.message;

    VerifyOptions later = opt;
    later.now = at("20150830T123600Z") + 15min;
    EXPECT_EQ(check(r, later).status,
              VerifyStatus::ok);  // lives X-Amz-Expires, not the skew window
    later.now += 1s;
    res = check(r, later);
    EXPECT_EQ(res.status, VerifyStatus::signature_expired);
    EXPECT_EQ(res.message,
              "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
              "(20150830T125101Z - 15 min.)");

    VerifyOptions early = opt;
    early.now = at("20150830T123600Z") - 6min;
    EXPECT_EQ(check(r, early).status, VerifyStatus::signature_not_yet_current);

    OwnedRequest unsigned_payload = presign(s, 60, true);
    EXPECT_EQ(check(unsigned_payload, opt).status, VerifyStatus::ok);

    Spec post = s;
    post.method = "POST";
    post.body = "hello";
    OwnedRequest with_body = presign(post, 60);
    EXPECT_EQ(check(with_body, opt).status, VerifyStatus::ok);
    with_body.body = "other";
    res = check(with_body, opt);
    EXPECT_EQ(res.status, VerifyStatus::invalid_signature);
    EXPECT_NE(res.message.find("The Canonical String for this request should have been"),
              std::string::npos);
    EXPECT_EQ(res.message.find("X-Amz-Signature"), std::string::npos);  // left out of the query

    OwnedRequest tampered = presign(s, 60);
    tampered.target.replace(tampered.target.find("X-Amz-Expires=60"), 16, "X-Amz-Expires=99");
    EXPECT_EQ(check(tampered, opt).status, VerifyStatus::invalid_signature);

    Spec temp = s;
    temp.token = std::string(kVectorToken);
    OwnedRequest with_token = presign(temp, 60);
    EXPECT_EQ(check(with_token, store_with(kVectorToken), opt).status, VerifyStatus::ok);
    EXPECT_EQ(check(r, store_with(kVectorToken), opt).status, VerifyStatus::unrecognized_client);

    OwnedRequest too_long = presign(s, 604801);
    EXPECT_EQ(check(too_long, opt).status, VerifyStatus::incomplete_signature);

    OwnedRequest both = presign(s, 60);
    both.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=x");
    EXPECT_EQ(check(both, opt).status, VerifyStatus::incomplete_signature);

    OwnedRequest partial = presign(s, 60);
    partial.target.replace(partial.target.find("X-Amz-Date="), 11, "X-Amz-Datum=");
    EXPECT_EQ(check(partial, opt).status, VerifyStatus::incomplete_signature);
}

TEST(HandWritten, GarbageAuthorizationNeverCrashesOrPasses) {
    const std::vector<std::pair<std::string, VerifyStatus>> cases = {
        {"", VerifyStatus::incomplete_signature},
        {"Bearer abc", VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256", VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256Credential=AKIDEXAMPLE", VerifyStatus::incomplete_signature},
        {"AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20150830/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential", VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=host, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request/x, "
         "SignedHeaders=host;x-amz-date, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;;x-amz-date, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=00",
         VerifyStatus::incomplete_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=",
         VerifyStatus::invalid_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=" +
             std::string(64, 'Z'),
         VerifyStatus::invalid_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=" +
             std::string(100000, 'a'),
         VerifyStatus::invalid_signature},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date;content-length, Signature=" +
             std::string(64, 'a'),
         VerifyStatus::invalid_signature},  // a signed header that is absent counts as empty
        {"AWS4-HMAC-SHA256 \0\xff\x80=,,==;;//"s, VerifyStatus::incomplete_signature},
    };
    for (const auto& [authz, expected] : cases) {
        OwnedRequest r = sign_headers(Spec{});
        for (auto& [n, v] : r.headers) {
            if (n == "Authorization") v = authz;
        }
        const VerifyResult res = check(r);
        EXPECT_EQ(res.status, expected) << authz.substr(0, 200) << "\n" << res.message;
        EXPECT_FALSE(res.error_type().empty());
    }

    OwnedRequest two = sign_headers(Spec{});
    two.headers.emplace_back("Authorization", two.header("Authorization"));
    EXPECT_EQ(check(two).status, VerifyStatus::incomplete_signature);

    // Random byte flips of a valid request: never ok unless nothing that is signed changed.
    std::mt19937 rng(20150830);
    const OwnedRequest valid = sign_headers(Spec{});
    const std::string authz = valid.header("Authorization");
    for (int i = 0; i < 2000; ++i) {
        OwnedRequest r = valid;
        std::string mutated = authz;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
        }
        for (auto& [n, v] : r.headers) {
            if (n == "Authorization") v = mutated;
        }
        const VerifyResult res = check(r);
        if (res.status == VerifyStatus::ok) {
            // Only whitespace around separators may change without breaking the signature.
            const std::string sig = signature_of(authz);
            EXPECT_NE(mutated.find(sig), std::string::npos) << mutated;
        }
    }
}

TEST(HandWritten, CanonicalStringsReportsParseFailures) {
    OwnedRequest r = sign_headers(Spec{});
    r.remove_header("Authorization");
    EXPECT_EQ(wsgate::auth::canonical_strings(r.view()).status,
              VerifyStatus::missing_authentication_token);
    r.headers.emplace_back("Authorization", "Basic Zm9vOmJhcg==");
    EXPECT_EQ(wsgate::auth::canonical_strings(r.view()).status, VerifyStatus::incomplete_signature);
}

TEST(HandWritten, ErrorTypes) {
    VerifyResult r;
    EXPECT_EQ(r.error_type(), "");
    r.status = VerifyStatus::incomplete_signature;
    EXPECT_EQ(r.error_type(), "IncompleteSignatureException");
    r.status = VerifyStatus::signature_not_yet_current;
    EXPECT_EQ(r.error_type(), "InvalidSignatureException");
    EXPECT_EQ(wsgate::auth::status_name(VerifyStatus::signature_expired), "signature_expired");
}

TEST(SigningKeyCache, NeverChangesAnOutcome) {
    // Same sequence with and without the cache, across three days (more than the two cached per
    // credential) and with failures between successes: a cached key must not let a bad
    // signature through, nor a failed verify poison the cache.
    const CredentialStore cached = store_with({}, true);
    const CredentialStore uncached = store_with({}, false);
    EXPECT_TRUE(cached.caches_signing_keys());
    EXPECT_FALSE(uncached.caches_signing_keys());
    const std::vector<std::string> dates = {"20150830T123600Z", "20150831T000100Z",
                                            "20150901T120000Z", "20150830T123600Z"};
    for (int round = 0; round < 2; ++round) {
        for (const std::string& d : dates) {
            Spec s;
            s.amz_date = d;
            Spec bad = s;
            bad.secret = "wrong";
            Spec west = s;
            west.region = "us-west-2";
            for (const CredentialStore* store : {&cached, &uncached}) {
                VerifyOptions opt = options_at(d);
                opt.region = {};
                OwnedRequest good = sign_headers(s);
                OwnedRequest wrong = sign_headers(bad);
                OwnedRequest other_region = sign_headers(west);
                EXPECT_EQ(check(wrong, *store, opt).status, VerifyStatus::invalid_signature);
                EXPECT_EQ(check(good, *store, opt).status, VerifyStatus::ok);
                EXPECT_EQ(check(wrong, *store, opt).status, VerifyStatus::invalid_signature);
                EXPECT_EQ(check(other_region, *store, opt).status, VerifyStatus::ok);
                EXPECT_EQ(check(good, *store, opt).status, VerifyStatus::ok);
            }
        }
    }
}

TEST(SigningKeyCache, ConcurrentVerifies) {
    // Run under the tsan preset this checks the cache's locking.
    const CredentialStore store(
        {{std::string(kAccessKey), std::string(kSecret), ""}, {"AKIDOTHER", "other-secret", ""}});
    std::vector<OwnedRequest> requests;
    std::vector<VerifyStatus> expected;
    for (const char* date : {"20150830T123600Z", "20150831T123600Z", "20150901T123600Z"}) {
        Spec s;
        s.amz_date = date;
        requests.push_back(sign_headers(s));
        expected.push_back(VerifyStatus::ok);
        Spec o = s;
        o.access_key = "AKIDOTHER";
        o.secret = "other-secret";
        requests.push_back(sign_headers(o));
        expected.push_back(VerifyStatus::ok);
        Spec bad = s;
        bad.secret = "wrong";
        requests.push_back(sign_headers(bad));
        expected.push_back(VerifyStatus::invalid_signature);
    }
    std::vector<SigV4Request> views;
    views.reserve(requests.size());
    for (OwnedRequest& r : requests) views.push_back(r.view());

    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            VerifyOptions opt;
            opt.check_time = false;
            for (int i = 0; i < 300; ++i) {
                const std::size_t k = static_cast<std::size_t>(i * 7 + t) % views.size();
                if (wsgate::auth::verify(views[k], store, opt).status != expected[k]) ++wrong;
            }
        });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
