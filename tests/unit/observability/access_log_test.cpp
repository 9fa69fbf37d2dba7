// Access-log templates ($context variables, contract §8): compile, render every variable, escaping
// in JSON and text mode, limits; the O_APPEND sink under concurrent writers.
#include "observability/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/time_format.h"

namespace {

using namespace std::chrono_literals;
using wsgate::SystemTime;
using wsgate::observability::AccessLogFields;
using wsgate::observability::AccessLogger;
using wsgate::observability::AccessLogSink;
using wsgate::observability::AccessLogTemplate;
using wsgate::observability::AuthorizerProperty;
using wsgate::observability::kCommonLogFormat;
using wsgate::observability::kDefaultAccessLogFormat;

// 2024-01-20T11:54:57.123Z
const SystemTime kTime = SystemTime{} + 1705751697123ms;

const std::array<AuthorizerProperty, 3> kAuthorizer = {{
    {"tenant", "acme"},
    {"claims.sub", "user-7"},
    {"numKey", "1"},
}};

AccessLogFields full_fields() {
    AccessLogFields f;
    f.request_id = "Llf7PFSNNjMFZeA=";
    f.extended_request_id = "Llf7PFSNNjMFZeB=";
    f.connection_id = "Llf4ceE2NjMCF7w=";
    f.event_type = "MESSAGE";
    f.route_key = "sendmessage";
    f.stage = "dev";
    f.api_id = "abc123defg";
    f.domain_name = "abc123defg.execute-api.us-east-1.amazonaws.com";
    f.message_id = "Llf7PfAENjMCF7w=";
    f.source_ip = "203.0.113.7";
    f.user_agent = "Mozilla/5.0";
    f.status = 200;
    f.request_time = kTime;
    f.connected_at_ms = 1705751690000;
    f.integration_status = 502;
    f.integration_latency_ms = 37;
    f.integration_error = "Connection refused";
    f.integration_request_id = "int-req-1";
    f.error_message = "Internal server error";
    f.error_response_type = "INTEGRATION_FAILURE";
    f.authorizer_principal_id = "me";
    f.authorizer = kAuthorizer;
    return f;
}

std::string render(std::string_view format, const AccessLogFields& f) {
    std::string error;
    const auto t = AccessLogTemplate::compile(format, &error);
    EXPECT_TRUE(t.has_value()) << error;
    if (!t) return "<compile error>";
    std::string out;
    t->render(f, out);
    return out;
}

struct VarCase {
    const char* name;
    const char* expected;
};

// Every variable the gateway fills, with the full_fields() value.
constexpr VarCase kFilled[] = {
    {"requestId", "Llf7PFSNNjMFZeA="},
    {"extendedRequestId", "Llf7PFSNNjMFZeB="},
    {"connectionId", "Llf4ceE2NjMCF7w="},
    {"eventType", "MESSAGE"},
    {"routeKey", "sendmessage"},
    {"stage", "dev"},
    {"apiId", "abc123defg"},
    {"domainName", "abc123defg.execute-api.us-east-1.amazonaws.com"},
    {"messageId", "Llf7PfAENjMCF7w="},
    {"identity.sourceIp", "203.0.113.7"},
    {"identity.userAgent", "Mozilla/5.0"},
    {"status", "200"},
    {"requestTime", "20/Jan/2024:11:54:57 +0000"},
    {"requestTimeEpoch", "1705751697123"},
    {"connectedAt", "1705751690000"},
    {"integration.status", "502"},
    {"integration.integrationStatus", "502"},
    {"integration.latency", "37"},
    {"integrationLatency", "37"},
    {"integration.error", "Connection refused"},
    {"integration.requestId", "int-req-1"},
    {"error.message", "Internal server error"},
    {"error.messageString", "\"Internal server error\""},
    {"error.responseType", "INTEGRATION_FAILURE"},
    {"authorizer.principalId", "me"},
    {"authorizer.tenant", "acme"},
    {"authorizer.claims.sub", "user-7"},
    {"authorizer.numKey", "1"},
};

// AWS variables the gateway never has: always "-", never reported as unrecognized.
constexpr const char* kAlwaysAbsent[] = {
    "authorize.error",
    "authorize.latency",
    "authorize.status",
    "authorizer.error",
    "authorizer.integrationLatency",
    "authorizer.integrationStatus",
    "authorizer.latency",
    "authorizer.requestId",
    "authorizer.status",
    "authenticate.error",
    "authenticate.latency",
    "authenticate.status",
    "error.validationErrorString",
    "identity.accountId",
    "identity.apiKey",
    "identity.apiKeyId",
    "identity.caller",
    "identity.cognitoAuthenticationProvider",
    "identity.cognitoAuthenticationType",
    "identity.cognitoIdentityId",
    "identity.cognitoIdentityPoolId",
    "identity.principalOrgId",
    "identity.user",
    "identity.userArn",
    "waf.error",
    "waf.latency",
    "waf.status",
};

TEST(AccessLogTemplate, EveryFilledVariableRendersItsValue) {
    const AccessLogFields f = full_fields();
    for (const auto& c : kFilled) {
        const std::string var = std::string("$context.") + c.name;
        EXPECT_EQ(render(var, f), std::string(c.expected) + "\n") << var;
        // Embedded in text and in JSON.
        EXPECT_EQ(render("<" + var + ">", f), "<" + std::string(c.expected) + ">\n") << var;
        const auto t = AccessLogTemplate::compile(var);
        ASSERT_TRUE(t);
        EXPECT_TRUE(t->unrecognized_variables().empty()) << var;
    }
}

TEST(AccessLogTemplate, EveryVariableRendersDashWhenAbsent) {
    const AccessLogFields empty;
    for (const auto& c : kFilled) {
        const std::string var = std::string("$context.") + c.name;
        EXPECT_EQ(render("[" + var + "]", empty), "[-]\n") << var;
    }
}

TEST(AccessLogTemplate, AwsVariablesTheGatewayLacksRenderDash) {
    const AccessLogFields f = full_fields();
    for (const char* name : kAlwaysAbsent) {
        const std::string var = std::string("$context.") + name;
        EXPECT_EQ(render(var + "|", f), "-|\n") << var;
        const auto t = AccessLogTemplate::compile(var);
        ASSERT_TRUE(t);
        EXPECT_TRUE(t->unrecognized_variables().empty()) << var;
    }
}

TEST(AccessLogTemplate, UnknownVariableRendersDashAndIsReported) {
    const auto t = AccessLogTemplate::compile(
        "$context.requestIdX $context.status $context.nope.deeper $context.authorizer.missing");
    ASSERT_TRUE(t);
    std::string out;
    t->render(full_fields(), out);
    EXPECT_EQ(out, "- 200 - -\n");
    EXPECT_EQ(t->unrecognized_variables(),
              (std::vector<std::string>{"requestIdX", "nope.deeper"}));  // authorizer.* is a lookup
}

TEST(AccessLogTemplate, VariableNamesAreTheLongestDottedMatch) {
    const AccessLogFields f = full_fields();
    EXPECT_EQ(render("$context.status.", f), "200.\n");
    EXPECT_EQ(render("$context.status..x", f), "200..x\n");
    EXPECT_EQ(render("($context.status)", f), "(200)\n");
    EXPECT_EQ(render("$context.status-$context.stage", f), "200-dev\n");
    EXPECT_EQ(render("$context.", f), "$context.\n");
    EXPECT_EQ(render("$context.$context.stage", f), "$context.dev\n");
    EXPECT_EQ(render("${context.status}", f), "${context.status}\n");  // not AWS syntax
    EXPECT_EQ(render("$contextual $context", f), "$contextual $context\n");
    EXPECT_EQ(render("$$context.stage$", f), "$dev$\n");
    EXPECT_EQ(render("$Context.stage", f), "$Context.stage\n");  // case-sensitive
    EXPECT_EQ(render("$context.identity.sourceIp.", f), "203.0.113.7.\n");
}

TEST(AccessLogTemplate, RenderAppendsAndIsRepeatable) {
    const auto t = AccessLogTemplate::compile("$context.stage");
    ASSERT_TRUE(t);
    std::string out = "prefix:";
    t->render(full_fields(), out);
    t->render(full_fields(), out);
    EXPECT_EQ(out, "prefix:dev\ndev\n");
}

TEST(AccessLogTemplate, CopiesAndMovesKeepWorking) {
    auto t = AccessLogTemplate::compile("a $context.authorizer.tenant b $context.stage c");
    ASSERT_TRUE(t);
    AccessLogTemplate copy = *t;
    AccessLogTemplate moved = std::move(*t);
    std::string a, b;
    copy.render(full_fields(), a);
    moved.render(full_fields(), b);
    EXPECT_EQ(a, "a acme b dev c\n");
    EXPECT_EQ(b, a);
}

TEST(AccessLogTemplate, JsonModeEscapesHostileValues) {
    AccessLogFields f;
    f.request_id =
        "a\"b\\c\nd\x01"
        "e\x7f"
        "f\t\r\b\f";
    f.user_agent = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // valid UTF-8 passes
    f.route_key =
        "bad\xff"
        "x\xc3"
        "(\xed\xa0\x80)";  // invalid: U+FFFD per byte
    f.error_message = "\"}injected{\"";
    const std::string out =
        render(R"({"id":"$context.requestId","ua":"$context.identity.userAgent",)"
               R"("rk":"$context.routeKey","e":$context.error.messageString})",
               f);
    EXPECT_EQ(out, R"x({"id":"a\"b\\c\nd\u0001e\u007ff\t\r\b\f","ua":"café € 😀",)x"
                   R"x("rk":"bad\ufffdx\ufffd(\ufffd\ufffd\ufffd)","e":"\"}injected{\""})x"
                   "\n");

    // And it is valid JSON that round-trips to the original (valid) values.
    const auto v = boost::json::parse(out.substr(0, out.size() - 1));
    EXPECT_EQ(v.at("id").as_string(), f.request_id);
    EXPECT_EQ(v.at("ua").as_string(), f.user_agent);
    EXPECT_EQ(v.at("e").as_string(), f.error_message);
}

TEST(AccessLogTemplate, JsonModeIsDetectedByTheFirstNonBlankCharacter) {
    AccessLogFields f;
    f.stage = "a\"b";
    EXPECT_TRUE(AccessLogTemplate::compile("  {\"s\":\"$context.stage\"}")->json());
    EXPECT_FALSE(AccessLogTemplate::compile("s=$context.stage {}")->json());
    EXPECT_EQ(render(" \t{\"s\":\"$context.stage\"}", f), " \t{\"s\":\"a\\\"b\"}\n");
    EXPECT_EQ(render("s=\"$context.stage\" {}", f), "s=\"a\\x22b\" {}\n");
}

TEST(AccessLogTemplate, TextModeEscapesQuotesBackslashesAndControls) {
    AccessLogFields f;
    f.user_agent = "x\"y\\z\nw\x01\x7f\xff caf\xc3\xa9";
    f.error_message = "it's \"bad\"";
    EXPECT_EQ(render("\"$context.identity.userAgent\" $context.error.messageString", f),
              "\"x\\x22y\\x5cz\\x0aw\\x01\\x7f\\xff café\" \"it's \\x22bad\\x22\"\n");
}

TEST(AccessLogTemplate, RequestTimeMatchesClfTimeAndEpochIsMilliseconds) {
    for (const SystemTime t : {SystemTime{}, kTime, SystemTime{} + 951782400999ms /* 2000-02-29 */,
                               SystemTime{} + 4102444799000ms /* 2099-12-31T23:59:59 */,
                               SystemTime{} + 1709251199999ms /* 2024-02-29T23:59:59.999 */}) {
        AccessLogFields f;
        f.request_time = t;
        const std::string epoch = std::to_string(wsgate::epoch_millis(t));
        EXPECT_EQ(render("$context.requestTime|$context.requestTimeEpoch", f),
                  wsgate::clf_time(t) + "|" + epoch + "\n");
    }
}

TEST(AccessLogTemplate, DefaultFormatGolden) {
    const auto t = AccessLogTemplate::compile(kDefaultAccessLogFormat);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->json());
    EXPECT_TRUE(t->unrecognized_variables().empty());
    std::string out;
    t->render(full_fields(), out);
    EXPECT_EQ(out, R"({"requestId":"Llf7PFSNNjMFZeA=","ip":"203.0.113.7",)"
                   R"("requestTime":"20/Jan/2024:11:54:57 +0000","eventType":"MESSAGE",)"
                   R"("routeKey":"sendmessage","status":"200","connectionId":"Llf4ceE2NjMCF7w=",)"
                   R"("messageId":"Llf7PfAENjMCF7w=","integrationStatus":"502",)"
                   R"("integrationLatency":"37","error":"Internal server error"})"
                   "\n");
    out.clear();
    t->render(AccessLogFields{}, out);
    EXPECT_EQ(out, R"({"requestId":"-","ip":"-","requestTime":"-","eventType":"-","routeKey":"-",)"
                   R"("status":"-","connectionId":"-","messageId":"-","integrationStatus":"-",)"
                   R"("integrationLatency":"-","error":"-"})"
                   "\n");
    EXPECT_NO_THROW((void)boost::json::parse(out));
}

TEST(AccessLogTemplate, CommonLogFormatGolden) {
    const auto t = AccessLogTemplate::compile(kCommonLogFormat);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->json());
    std::string out;
    t->render(full_fields(), out);
    EXPECT_EQ(out,
              "203.0.113.7 - - [20/Jan/2024:11:54:57 +0000] \"MESSAGE sendmessage "
              "Llf4ceE2NjMCF7w=\" 200 Llf7PFSNNjMFZeA=\n");
}

TEST(AccessLogTemplate, BriefExampleTemplates) {
    AccessLogFields f = full_fields();
    f.event_type = "CONNECT";
    f.route_key = "$connect";
    f.status = 101;
    EXPECT_EQ(
        render(R"({"requestId":"$context.requestId","ip":"$context.identity.sourceIp",)"
               R"("caller":"$context.identity.caller","requestTime":"$context.requestTime",)"
               R"("eventType":"$context.eventType","routeKey":"$context.routeKey",)"
               R"("status":"$context.status","connectionId":"$context.connectionId"})",
               f),
        R"({"requestId":"Llf7PFSNNjMFZeA=","ip":"203.0.113.7","caller":"-",)"
        R"("requestTime":"20/Jan/2024:11:54:57 +0000","eventType":"CONNECT","routeKey":"$connect",)"
        R"("status":"101","connectionId":"Llf4ceE2NjMCF7w="})"
        "\n");
}

TEST(AccessLogTemplate, Limits) {
    std::string error;
    EXPECT_FALSE(AccessLogTemplate::compile("", &error));
    EXPECT_EQ(error, "access log format is empty");

    std::string max(AccessLogTemplate::kMaxBytes, 'x');
    max.replace(0, 16, "$context.stage  ");
    const auto ok = AccessLogTemplate::compile(max, &error);
    ASSERT_TRUE(ok);
    std::string out;
    ok->render(full_fields(), out);
    EXPECT_EQ(out.size(), AccessLogTemplate::kMaxBytes - 16 + 5 + 1);

    error.clear();
    EXPECT_FALSE(AccessLogTemplate::compile(max + "x", &error));
    EXPECT_EQ(error, "access log format is 3073 bytes; the limit is 3072");

    EXPECT_FALSE(AccessLogTemplate::compile("a\nb", &error));
    EXPECT_EQ(error, "access log format must be a single line (no CR or LF)");
    EXPECT_FALSE(AccessLogTemplate::compile("a\rb"));
    EXPECT_FALSE(AccessLogTemplate::compile("\n"));
    EXPECT_TRUE(AccessLogTemplate::compile(" "));  // literal-only templates are allowed
}

// ---- sink ------------------------------------------------------------------------------------

class TempFile {
  public:
    TempFile() {
        char name[] = "/tmp/wsgate_access_log_XXXXXX";
        const int fd = ::mkstemp(name);
        EXPECT_GE(fd, 0);
        ::close(fd);
        path_ = name;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }
    std::string read() const {
        std::ifstream in(path_, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

  private:
    std::string path_;
};

TEST(AccessLogSink, AppendsToAnExistingFile) {
    TempFile file;
    { std::ofstream(file.path()) << "existing\n"; }
    std::string error;
    auto sink = AccessLogSink::open(file.path(), &error);
    ASSERT_TRUE(sink) << error;
    EXPECT_TRUE(sink->write("one\n"));
    EXPECT_TRUE(sink->write("two\n"));
    EXPECT_EQ(file.read(), "existing\none\ntwo\n");
    EXPECT_EQ(sink->failed_writes(), 0u);
}

TEST(AccessLogSink, OpenFailureIsReported) {
    std::string error;
    EXPECT_FALSE(AccessLogSink::open("/nonexistent-dir/x/access.log", &error));
    EXPECT_NE(error.find("cannot open access log /nonexistent-dir/x/access.log: "),
              std::string::npos)
        << error;
    auto out = AccessLogSink::open("-");
    ASSERT_TRUE(out);
    EXPECT_EQ(out->fd(), STDOUT_FILENO);
}

TEST(AccessLogSink, FailedWritesAreCounted) {
    TempFile file;
    const int fd = ::open(file.path().c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    AccessLogSink sink(fd, true);
    EXPECT_FALSE(sink.write("lost\n"));
    EXPECT_FALSE(sink.write("lost\n"));
    EXPECT_EQ(sink.failed_writes(), 2u);
}

TEST(AccessLogSink, ConcurrentLinesNeverInterleave) {
    constexpr int kThreads = 4;
    constexpr int kLines = 500;
    TempFile file;
    auto sink = AccessLogSink::open(file.path());
    ASSERT_TRUE(sink);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kLines; ++i) {
                // Lengths up to ~10 KB, beyond PIPE_BUF: still one write(2) to a regular file.
                const std::size_t len = 10 + static_cast<std::size_t>((i * 37 + t * 101) % 10'000);
                std::string line = std::to_string(t) + ":" + std::to_string(i) + ":";
                line.append(len, static_cast<char>('a' + t));
                line += '\n';
                ASSERT_TRUE(sink->write(line));
            }
        });
    }
    for (auto& th : threads) th.join();

    std::istringstream in(file.read());
    std::string line;
    std::map<int, int> next;  // per thread: lines arrive in order
    int total = 0;
    while (std::getline(in, line)) {
        const auto c1 = line.find(':');
        const auto c2 = line.find(':', c1 + 1);
        ASSERT_NE(c2, std::string::npos) << line.substr(0, 40);
        const int t = std::stoi(line.substr(0, c1));
        const int i = std::stoi(line.substr(c1 + 1, c2 - c1 - 1));
        ASSERT_EQ(i, next[t]++);
        const std::string body = line.substr(c2 + 1);
        const std::size_t len = 10 + static_cast<std::size_t>((i * 37 + t * 101) % 10'000);
        ASSERT_EQ(body, std::string(len, static_cast<char>('a' + t))) << t << ":" << i;
        ++total;
    }
    EXPECT_EQ(total, kThreads * kLines);
}

TEST(AccessLogger, RendersAndWritesOneLinePerEvent) {
    TempFile file;
    auto t = AccessLogTemplate::compile("$context.eventType $context.status");
    ASSERT_TRUE(t);
    AccessLogger logger(std::move(*t), AccessLogSink::open(file.path()));
    AccessLogFields f;
    f.event_type = "CONNECT";
    f.status = 101;
    logger.log(f);
    f.event_type = "DISCONNECT";
    f.status = -1;
    logger.log(f);
    EXPECT_EQ(file.read(), "CONNECT 101\nDISCONNECT -\n");
}

}  // namespace
