// parse_http_url: the http:// URLs integrations point at.
#include <gtest/gtest.h>

#include <string>

#include "config/load.h"

namespace {

using wsgate::config::ConfigError;
using wsgate::config::HttpUrl;
using wsgate::config::parse_http_url;

// Expects parse_http_url(url) to fail with an error naming `key`.
void expect_rejected(const std::string& url) {
    try {
        (void)parse_http_url(url, "integrations.backend.url");
        ADD_FAILURE() << "accepted '" << url << "'";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("integrations.backend.url"), std::string::npos)
            << "error for '" << url << "' does not name the key: " << e.what();
    }
}

TEST(ParseHttpUrl, HostOnly) {
    const HttpUrl u = parse_http_url("http://example.com", "k");
    EXPECT_EQ(u.scheme, "http");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_EQ(u.port, "80");
    EXPECT_EQ(u.target, "/");
    EXPECT_EQ(u.host_header, "example.com");
}

TEST(ParseHttpUrl, TrailingSlash) {
    const HttpUrl u = parse_http_url("http://example.com/", "k");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_EQ(u.port, "80");
    EXPECT_EQ(u.target, "/");
}

TEST(ParseHttpUrl, PortAndPath) {
    const HttpUrl u = parse_http_url("http://localhost:3000/api/events", "k");
    EXPECT_EQ(u.host, "localhost");
    EXPECT_EQ(u.port, "3000");
    EXPECT_EQ(u.target, "/api/events");
    EXPECT_EQ(u.host_header, "localhost:3000");
}

TEST(ParseHttpUrl, QueryIsKept) {
    const HttpUrl u = parse_http_url("http://10.0.0.5:8000/hook?token=abc&x=1", "k");
    EXPECT_EQ(u.host, "10.0.0.5");
    EXPECT_EQ(u.port, "8000");
    EXPECT_EQ(u.target, "/hook?token=abc&x=1");
}

TEST(ParseHttpUrl, QueryWithoutPathGetsRootPath) {
    const HttpUrl u = parse_http_url("http://example.com?token=abc", "k");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_EQ(u.port, "80");
    EXPECT_EQ(u.target, "/?token=abc");
    EXPECT_EQ(u.host_header, "example.com");
}

TEST(ParseHttpUrl, Ipv6WithPort) {
    const HttpUrl u = parse_http_url("http://[::1]:3000/ws", "k");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, "3000");
    EXPECT_EQ(u.target, "/ws");
    EXPECT_EQ(u.host_header, "[::1]:3000");
}

TEST(ParseHttpUrl, Ipv6WithoutPort) {
    const HttpUrl u = parse_http_url("http://[2001:db8::7]/", "k");
    EXPECT_EQ(u.host, "2001:db8::7");
    EXPECT_EQ(u.port, "80");
    EXPECT_EQ(u.target, "/");
    EXPECT_EQ(u.host_header, "[2001:db8::7]");
}

TEST(ParseHttpUrl, PortBounds) {
    EXPECT_EQ(parse_http_url("http://h:1/", "k").port, "1");
    EXPECT_EQ(parse_http_url("http://h:65535/", "k").port, "65535");
}

TEST(ParseHttpUrl, ExplicitDefaultPortIsOmittedFromHostHeader) {
    // settings.h: host_header is "host:port" with the port omitted when 80.
    const HttpUrl u = parse_http_url("http://example.com:80/x", "k");
    EXPECT_EQ(u.port, "80");
    EXPECT_EQ(u.host_header, "example.com");
}

TEST(ParseHttpUrl, RejectsOtherSchemes) {
    expect_rejected("https://example.com/");
    expect_rejected("ws://example.com/");
    expect_rejected("ftp://example.com/");
    expect_rejected("example.com:3000/");
    expect_rejected("");
}

TEST(ParseHttpUrl, RejectsMissingHost) {
    expect_rejected("http://");
    expect_rejected("http:///path");
    expect_rejected("http://:3000/");
    expect_rejected("http://?q=1");
}

TEST(ParseHttpUrl, RejectsUserinfo) {
    expect_rejected("http://user:pass@example.com/");
}

TEST(ParseHttpUrl, RejectsBadPorts) {
    expect_rejected("http://example.com:0/");
    expect_rejected("http://example.com:65536/");
    expect_rejected("http://example.com:abc/");
    expect_rejected("http://example.com:/");
    expect_rejected("http://example.com:-1/");
}

}  // namespace
