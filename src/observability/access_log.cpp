#include "observability/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

namespace wsgate::observability {

enum class AccessLogTemplate::Var : std::uint8_t {
    literal,
    api_id,
    authorizer_principal_id,
    authorizer_property,
    connected_at,
    connection_id,
    domain_name,
    error_message,
    error_message_string,
    error_response_type,
    event_type,
    extended_request_id,
    identity_source_ip,
    identity_user_agent,
    integration_error,
    integration_latency,
    integration_request_id,
    integration_status,
    message_id,
    request_id,
    request_time,
    request_time_epoch,
    route_key,
    stage,
    status,
    absent,  // an AWS variable the gateway never has, or an unknown one: always "-"
};

namespace {

using Var = AccessLogTemplate::Var;

struct NamedVar {
    std::string_view name;
    Var var;
};

// Every WebSocket $context variable AWS documents (contract §8), with what renders it.
constexpr NamedVar kVariables[] = {
    {"apiId", Var::api_id},
    {"authorize.error", Var::absent},
    {"authorize.latency", Var::absent},
    {"authorize.status", Var::absent},
    {"authorizer.error", Var::absent},
    {"authorizer.integrationLatency", Var::absent},
    {"authorizer.integrationStatus", Var::absent},
    {"authorizer.latency", Var::absent},
    {"authorizer.requestId", Var::absent},
    {"authorizer.status", Var::absent},
    {"authorizer.principalId", Var::authorizer_principal_id},
    {"authenticate.error", Var::absent},
    {"authenticate.latency", Var::absent},
    {"authenticate.status", Var::absent},
    {"connectedAt", Var::connected_at},
    {"connectionId", Var::connection_id},
    {"domainName", Var::domain_name},
    {"error.message", Var::error_message},
    {"error.messageString", Var::error_message_string},
    {"error.responseType", Var::error_response_type},
    {"error.validationErrorString", Var::absent},
    {"eventType", Var::event_type},
    {"extendedRequestId", Var::extended_request_id},
    {"identity.accountId", Var::absent},
    {"identity.apiKey", Var::absent},
    {"identity.apiKeyId", Var::absent},
    {"identity.caller", Var::absent},
    {"identity.cognitoAuthenticationProvider", Var::absent},
    {"identity.cognitoAuthenticationType", Var::absent},
    {"identity.cognitoIdentityId", Var::absent},
    {"identity.cognitoIdentityPoolId", Var::absent},
    {"identity.principalOrgId", Var::absent},
    {"identity.sourceIp", Var::identity_source_ip},
    {"identity.user", Var::absent},
    {"identity.userAgent", Var::identity_user_agent},
    {"identity.userArn", Var::absent},
    {"integration.error", Var::integration_error},
    {"integration.integrationStatus", Var::integration_status},
    {"integration.latency", Var::integration_latency},
    {"integration.requestId", Var::integration_request_id},
    {"integration.status", Var::integration_status},
    {"integrationLatency", Var::integration_latency},
    {"messageId", Var::message_id},
    {"requestId", Var::request_id},
    {"requestTime", Var::request_time},
    {"requestTimeEpoch", Var::request_time_epoch},
    {"routeKey", Var::route_key},
    {"stage", Var::stage},
    {"status", Var::status},
    {"waf.error", Var::absent},
    {"waf.latency", Var::absent},
    {"waf.status", Var::absent},
};

constexpr std::string_view kPrefix = "$context.";
constexpr std::string_view kAuthorizerPrefix = "authorizer.";

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Length of the dotted name at the start of `s`: [A-Za-z0-9_]+ ("." [A-Za-z0-9_]+)*.
std::size_t name_length(std::string_view s) {
    std::size_t n = 0;
    while (n < s.size() && is_name_char(s[n])) ++n;
    if (n == 0) return 0;
    while (n + 1 < s.size() && s[n] == '.' && is_name_char(s[n + 1])) {
        ++n;
        while (n < s.size() && is_name_char(s[n])) ++n;
    }
    return n;
}

// Length of the well-formed UTF-8 sequence (RFC 3629) starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    const std::size_t left = s.size() - i;
    const auto cont = [&](std::size_t k) { return (b(k) & 0xC0) == 0x80; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

constexpr char kHex[] = "0123456789abcdef";

// Appends `v` escaped for the template's mode (rules in access_log.h). Runs of bytes that need no
// escaping are appended in one piece.
void append_escaped(std::string& out, std::string_view v, bool json) {
    std::size_t run = 0;  // start of the pending verbatim run
    std::size_t i = 0;
    while (i < v.size()) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            if (const std::size_t n = utf8_length(v, i)) {
                i += n;
                continue;
            }
        }
        out.append(v.data() + run, i - run);
        if (json) {
            switch (c) {
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '\b':
                    out += "\\b";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                default:
                    if (c >= 0x80) {
                        out += "\\ufffd";
                    } else {
                        const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
                        out.append(u, sizeof u);
                    }
            }
        } else {
            const char x[] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
            out.append(x, sizeof x);
        }
        ++i;
        run = i;
    }
    out.append(v.data() + run, v.size() - run);
}

template <class Int>
void append_number(std::string& out, Int v) {
    if (v < 0) {
        out += '-';
        return;
    }
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// "20/Jan/2024:11:54:57 +0000", as common/time_format.h's clf_time() but without allocating, and
// with calendar arithmetic instead of gmtime_r (which takes glibc's global tzset lock).
void append_clf_time(std::string& out, SystemTime t) {
    using namespace std::chrono;
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{floor<seconds>(t) - day};
    char buf[40];
    const auto two = [](char* p, unsigned v) {
        p[0] = static_cast<char>('0' + v / 10);
        p[1] = static_cast<char>('0' + v % 10);
    };
    two(buf, static_cast<unsigned>(ymd.day()));
    buf[2] = '/';
    std::memcpy(buf + 3, kMonths[static_cast<unsigned>(ymd.month()) - 1], 3);
    buf[6] = '/';
    const auto r = std::to_chars(buf + 7, buf + 20, static_cast<int>(ymd.year()));
    char* p = r.ptr;
    *p++ = ':';
    two(p, static_cast<unsigned>(hms.hours().count()));
    p[2] = ':';
    two(p + 3, static_cast<unsigned>(hms.minutes().count()));
    p[5] = ':';
    two(p + 6, static_cast<unsigned>(hms.seconds().count()));
    std::memcpy(p + 8, " +0000", 6);
    out.append(buf, p + 14);
}

}  // namespace

std::optional<AccessLogTemplate> AccessLogTemplate::compile(std::string_view format,
                                                            std::string* error) {
    const auto fail = [&](std::string msg) -> std::optional<AccessLogTemplate> {
        if (error != nullptr) *error = std::move(msg);
        return std::nullopt;
    };
    if (format.empty()) return fail("access log format is empty");
    if (format.size() > kMaxBytes) {
        return fail("access log format is " + std::to_string(format.size()) +
                    " bytes; the limit is " + std::to_string(kMaxBytes));
    }
    if (format.find_first_of("\r\n") != std::string_view::npos) {
        return fail("access log format must be a single line (no CR or LF)");
    }

    AccessLogTemplate t;
    t.text_ = std::string(format);
    const std::size_t first = format.find_first_not_of(" \t");
    t.json_ = first != std::string_view::npos && format[first] == '{';

    const auto add_literal = [&](std::size_t from, std::size_t to) {
        if (to <= from) return;
        if (!t.parts_.empty() && t.parts_.back().var == Var::literal &&
            t.parts_.back().offset + t.parts_.back().length == from) {
            t.parts_.back().length += static_cast<std::uint32_t>(to - from);
        } else {
            t.parts_.push_back({Var::literal, static_cast<std::uint32_t>(from),
                                static_cast<std::uint32_t>(to - from)});
        }
    };

    std::size_t literal_from = 0;
    std::size_t pos = 0;
    while ((pos = format.find(kPrefix, pos)) != std::string_view::npos) {
        const std::size_t name_at = pos + kPrefix.size();
        const std::size_t n = name_length(format.substr(name_at));
        if (n == 0) {
            pos = name_at;  // "$context." with no name: literal
            continue;
        }
        add_literal(literal_from, pos);
        const std::string_view name = format.substr(name_at, n);
        Part part{Var::absent, 0, 0};
        bool found = false;
        for (const auto& v : kVariables) {
            if (v.name == name) {
                part.var = v.var;
                found = true;
                break;
            }
        }
        if (!found) {
            if (name.starts_with(kAuthorizerPrefix)) {
                part = {Var::authorizer_property,
                        static_cast<std::uint32_t>(name_at + kAuthorizerPrefix.size()),
                        static_cast<std::uint32_t>(n - kAuthorizerPrefix.size())};
            } else {
                t.unrecognized_.emplace_back(name);
            }
        }
        t.parts_.push_back(part);
        pos = name_at + n;
        literal_from = pos;
    }
    add_literal(literal_from, format.size());
    return t;
}

void AccessLogTemplate::render(const AccessLogFields& f, std::string& out) const {
    const auto str = [&](std::string_view v) {
        if (v.empty()) {
            out += '-';
        } else {
            append_escaped(out, v, json_);
        }
    };
    for (const Part& p : parts_) {
        switch (p.var) {
            case Var::literal:
                out.append(text_, p.offset, p.length);
                break;
            case Var::api_id:
                str(f.api_id);
                break;
            case Var::authorizer_principal_id:
                str(f.authorizer_principal_id);
                break;
            case Var::authorizer_property: {
                const std::string_view key(text_.data() + p.offset, p.length);
                std::string_view value;
                for (const auto& prop : f.authorizer) {
                    if (prop.key == key) {
                        value = prop.value;
                        break;
                    }
                }
                str(value);
                break;
            }
            case Var::connected_at:
                append_number(out, f.connected_at_ms);
                break;
            case Var::connection_id:
                str(f.connection_id);
                break;
            case Var::domain_name:
                str(f.domain_name);
                break;
            case Var::error_message:
                str(f.error_message);
                break;
            case Var::error_message_string:
                if (f.error_message.empty()) {
                    out += '-';
                } else {
                    out += '"';
                    append_escaped(out, f.error_message, json_);
                    out += '"';
                }
                break;
            case Var::error_response_type:
                str(f.error_response_type);
                break;
            case Var::event_type:
                str(f.event_type);
                break;
            case Var::extended_request_id:
                str(f.extended_request_id);
                break;
            case Var::identity_source_ip:
                str(f.source_ip);
                break;
            case Var::identity_user_agent:
                str(f.user_agent);
                break;
            case Var::integration_error:
                str(f.integration_error);
                break;
            case Var::integration_latency:
                append_number(out, f.integration_latency_ms);
                break;
            case Var::integration_request_id:
                str(f.integration_request_id);
                break;
            case Var::integration_status:
                append_number(out, f.integration_status);
                break;
            case Var::message_id:
                str(f.message_id);
                break;
            case Var::request_id:
                str(f.request_id);
                break;
            case Var::request_time:
                if (f.request_time) {
                    append_clf_time(out, *f.request_time);
                } else {
                    out += '-';
                }
                break;
            case Var::request_time_epoch:
                if (f.request_time) {
                    append_number(out, std::chrono::duration_cast<std::chrono::milliseconds>(
                                           f.request_time->time_since_epoch())
                                           .count());
                } else {
                    out += '-';
                }
                break;
            case Var::route_key:
                str(f.route_key);
                break;
            case Var::stage:
                str(f.stage);
                break;
            case Var::status:
                append_number(out, f.status);
                break;
            case Var::absent:
                out += '-';
                break;
        }
    }
    out += '\n';
}

// ---- AccessLogSink ---------------------------------------------------------------------------

std::unique_ptr<AccessLogSink> AccessLogSink::open(std::string_view destination,
                                                   std::string* error) {
    if (destination == "-" || destination == "stdout") {
        return std::make_unique<AccessLogSink>(STDOUT_FILENO, false);
    }
    const std::string path(destination);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (error != nullptr)
            *error = "cannot open access log " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    return std::make_unique<AccessLogSink>(fd, true);
}

AccessLogSink::~AccessLogSink() {
    if (owned_) ::close(fd_);
}

bool AccessLogSink::write(std::string_view line) noexcept {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            failed_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    return true;
}

// ---- AccessLogger ----------------------------------------------------------------------------

void AccessLogger::log(const AccessLogFields& f) const {
    thread_local std::string buffer;
    buffer.clear();
    template_.render(f, buffer);
    sink_->write(buffer);
}

}  // namespace wsgate::observability
