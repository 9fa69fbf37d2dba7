#include "app/publish_command.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "auth/sigv4.h"
#include "config/load.h"

namespace wsgate::app {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kUsage =
    R"(usage: wsgate publish --endpoint URL --channel NAME (--data TEXT | --data-file FILE)
                      [--exclude CONNECTION_ID] [--region REGION]

Sends one message to every member of a channel: a SigV4-signed POST {endpoint}/@channels/{NAME}.
  --endpoint URL   the stage URL, e.g. http://127.0.0.1:8080/dev (as for the AWS SDK's endpoint)
  --region REGION  default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1
Credentials: $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY (and $AWS_SESSION_TOKEN); without them,
the gateway's local development credentials.
)";

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
}

int usage_error(const std::string& what) {
    std::fprintf(stderr, "wsgate publish: %s\n\n%s", what.c_str(), std::string(kUsage).c_str());
    return 2;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[17];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

}  // namespace

int run_publish(const std::vector<std::string>& args) {
    std::string endpoint, channel, exclude;
    std::optional<std::string> data;
    std::string region =
        env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or("us-east-1"));
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            return 0;
        }
        if (i + 1 >= args.size()) return usage_error(a + " needs a value");
        const std::string& v = args[++i];
        if (a == "--endpoint")
            endpoint = v;
        else if (a == "--channel")
            channel = v;
        else if (a == "--data")
            data = v;
        else if (a == "--data-file") {
            std::ifstream in(v, std::ios::binary);
            if (!in) return usage_error("cannot read " + v);
            std::stringstream buf;
            buf << in.rdbuf();
            data = buf.str();
        } else if (a == "--exclude")
            exclude = v;
        else if (a == "--region")
            region = v;
        else
            return usage_error("unknown option " + a);
    }
    if (endpoint.empty() || channel.empty() || !data)
        return usage_error("--endpoint, --channel and --data are required");

    const auto url = boost::urls::parse_uri(endpoint);
    if (!url || url->scheme() != "http" || url->host().empty()) {
        return usage_error("--endpoint must be an http:// URL with a host, got '" + endpoint + "'");
    }
    const std::string host(url->encoded_host());
    const std::string port = url->has_port() ? std::string(url->port()) : "80";
    std::string base(url->encoded_path());
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::string target =
        base + "/@channels/" + boost::urls::encode(channel, boost::urls::unreserved_chars);
    if (!exclude.empty())
        target += "?exclude=" + boost::urls::encode(exclude, boost::urls::unreserved_chars);
    const std::string host_header = url->has_port() ? host + ":" + port : host;

    const std::string key_id =
        env("AWS_ACCESS_KEY_ID").value_or(std::string(config::kLocalAccessKeyId));
    const std::string secret =
        env("AWS_SECRET_ACCESS_KEY").value_or(std::string(config::kLocalSecretAccessKey));
    const auto token = env("AWS_SESSION_TOKEN");

    // SigV4 for execute-api, built from the same pieces the gateway verifies with.
    const std::string date = amz_date(std::chrono::system_clock::now());
    const std::string payload_hash = auth::hex_sha256(*data);
    std::vector<auth::Header> headers{
        {"host", host_header}, {"x-amz-content-sha256", payload_hash}, {"x-amz-date", date}};
    std::string signed_headers = "host;x-amz-content-sha256;x-amz-date";
    if (token) {
        headers.push_back({"x-amz-security-token", *token});
        signed_headers += ";x-amz-security-token";
    }
    const auth::SigV4Request sreq{"POST", target, headers, *data};
    const std::string scope = date.substr(0, 8) + "/" + region + "/execute-api/aws4_request";
    const std::string sts = auth::string_to_sign(
        date, scope, auth::canonical_request(sreq, signed_headers, payload_hash));
    const std::string signature =
        auth::sign(auth::derive_signing_key(secret, date.substr(0, 8), region, "execute-api"), sts);

    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host_header);
    req.set("x-amz-date", date);
    req.set("x-amz-content-sha256", payload_hash);
    if (token) req.set("x-amz-security-token", *token);
    req.set(http::field::authorization, "AWS4-HMAC-SHA256 Credential=" + key_id + "/" + scope +
                                            ", SignedHeaders=" + signed_headers +
                                            ", Signature=" + signature);
    req.set(http::field::user_agent, "wsgate-publish");
    req.body() = *data;
    req.prepare_payload();

    try {
        net::io_context ioc;
        net::ip::tcp::resolver resolver(ioc);
        net::ip::tcp::socket socket(ioc);
        net::connect(socket, resolver.resolve(host, port));
        http::write(socket, req);
        boost::beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(socket, buf, res);
        std::cout << res.body();
        if (!res.body().empty() && res.body().back() != '\n') std::cout << '\n';
        if (res.result_int() / 100 != 2) {
            const auto type = res["x-amzn-ErrorType"];
            std::fprintf(stderr, "wsgate publish: HTTP %u%s%s\n", res.result_int(),
                         type.empty() ? "" : " ", std::string(type).c_str());
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsgate publish: %s: %s\n", endpoint.c_str(), e.what());
        return 1;
    }
}

}  // namespace wsgate::app
