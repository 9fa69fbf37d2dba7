#include "cluster/bus_message.h"

#include <charconv>
#include <vector>

namespace wsgate::cluster {

namespace {

using Kind = gateway::RemoteOutcome::Kind;
using gateway::RemoteOp;

constexpr std::string_view kMagic = "wsgate1";

std::string_view op_name(RemoteOp op) {
    switch (op) {
        case RemoteOp::post:
            return "POST";
        case RemoteOp::get:
            return "GET";
        case RemoteOp::del:
            return "DELETE";
        case RemoteOp::join:
            return "JOIN";
        case RemoteOp::leave:
            return "LEAVE";
    }
    return "POST";
}

std::optional<RemoteOp> op_from(std::string_view s) {
    if (s == "POST") return RemoteOp::post;
    if (s == "GET") return RemoteOp::get;
    if (s == "DELETE") return RemoteOp::del;
    if (s == "JOIN") return RemoteOp::join;
    if (s == "LEAVE") return RemoteOp::leave;
    return std::nullopt;
}

std::string_view kind_name(Kind k) {
    switch (k) {
        case Kind::done:
            return "done";
        case Kind::gone:
            return "gone";
        case Kind::queue_full:
            return "queue_full";
        case Kind::unavailable:
            return "unavailable";
        case Kind::timeout:
            return "timeout";
        case Kind::limit:
            return "limit";
        case Kind::not_member:
            return "not_member";
    }
    return "gone";
}

std::optional<Kind> kind_from(std::string_view s) {
    for (const Kind k :
         {Kind::done, Kind::gone, Kind::queue_full, Kind::unavailable, Kind::timeout, Kind::limit, Kind::not_member}) {
        if (s == kind_name(k)) return k;
    }
    return std::nullopt;
}

template <typename Int>
std::optional<Int> number(std::string_view s) {
    Int v{};
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// The header line's fields and the body after it; nullopt without a newline or our magic word.
std::optional<std::pair<std::vector<std::string_view>, std::string_view>> split(
    std::string_view payload) {
    const auto nl = payload.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::vector<std::string_view> fields;
    std::string_view line = payload.substr(0, nl);
    while (!line.empty()) {
        const auto sp = line.find(' ');
        fields.push_back(line.substr(0, sp));
        if (sp == std::string_view::npos) break;
        line.remove_prefix(sp + 1);
    }
    if (fields.empty() || fields[0] != kMagic) return std::nullopt;
    return std::make_pair(std::move(fields), payload.substr(nl + 1));
}

using FanOp = gateway::FanOut::Op;

std::string_view fan_op_name(FanOp op) {
    switch (op) {
        case FanOp::publish:
            return "PUBLISH";
        case FanOp::members:
            return "MEMBERS";
        case FanOp::connections:
            return "CONNECTIONS";
    }
    return "PUBLISH";
}

std::optional<FanOp> fan_op_from(std::string_view s) {
    for (const FanOp op : {FanOp::publish, FanOp::members, FanOp::connections}) {
        if (s == fan_op_name(op)) return op;
    }
    return std::nullopt;
}

std::string_view or_dash(std::string_view s) {
    return s.empty() ? std::string_view("-") : s;
}
std::string from_dash(std::string_view s) {
    return s == "-" ? std::string() : std::string(s);
}

}  // namespace

std::string encode(const BusFanOut& r) {
    std::string out;
    out.reserve(128 + r.body.size());
    out.append(kMagic).append(" FAN ").append(fan_op_name(r.op)).append(" ");
    out.append(std::to_string(r.request_id)).append(" ").append(r.reply_node).append(" ");
    out.append(std::to_string(r.deadline_ms)).append(" ").append(or_dash(r.stage)).append(" ");
    out.append(or_dash(r.channel))
        .append(" ")
        .append(or_dash(r.exclude))
        .append(r.text ? " 1\n" : " 0\n");
    out.append(r.body);
    return out;
}

std::string encode(const BusFanOutReply& r) {
    std::string out;
    out.reserve(64 + r.ids.size());
    out.append(kMagic).append(" FANREP ").append(std::to_string(r.request_id)).append(" ");
    out.append(std::to_string(r.delivered))
        .append(" ")
        .append(std::to_string(r.dropped))
        .append("\n");
    out.append(r.ids);
    return out;
}

std::optional<BusFanOut> decode_fan_out(std::string_view payload) {
    const auto parts = split(payload);
    if (!parts) return std::nullopt;
    const auto& f = parts->first;
    if (f.size() != 10 || f[1] != "FAN") return std::nullopt;
    const auto op = fan_op_from(f[2]);
    const auto id = number<std::uint64_t>(f[3]);
    const auto deadline = number<std::int64_t>(f[5]);
    if (!op || !id || !deadline || f[4].empty() || (f[9] != "0" && f[9] != "1"))
        return std::nullopt;
    BusFanOut r;
    r.op = *op;
    r.request_id = *id;
    r.reply_node = std::string(f[4]);
    r.deadline_ms = *deadline;
    r.stage = from_dash(f[6]);
    r.channel = from_dash(f[7]);
    r.exclude = from_dash(f[8]);
    r.text = f[9] == "1";
    r.body = parts->second;
    return r;
}

std::optional<BusFanOutReply> decode_fan_out_reply(std::string_view payload) {
    const auto parts = split(payload);
    if (!parts) return std::nullopt;
    const auto& f = parts->first;
    if (f.size() != 5 || f[1] != "FANREP") return std::nullopt;
    const auto id = number<std::uint64_t>(f[2]);
    const auto delivered = number<std::size_t>(f[3]);
    const auto dropped = number<std::size_t>(f[4]);
    if (!id || !delivered || !dropped) return std::nullopt;
    return BusFanOutReply{*id, *delivered, *dropped, parts->second};
}

std::string encode(const BusRequest& r) {
    std::string out;
    out.reserve(96 + r.body.size());
    out.append(kMagic).append(" REQ ").append(op_name(r.op)).append(" ");
    out.append(std::to_string(r.request_id)).append(" ").append(r.reply_node).append(" ");
    out.append(std::to_string(r.deadline_ms)).append(" ").append(r.connection_id).append("\n");
    out.append(r.body);
    return out;
}

std::string encode(const BusReply& r) {
    std::string out;
    out.reserve(48 + r.body.size());
    out.append(kMagic).append(" REP ").append(std::to_string(r.request_id)).append(" ");
    out.append(kind_name(r.outcome)).append("\n").append(r.body);
    return out;
}

std::optional<BusRequest> decode_request(std::string_view payload) {
    const auto parts = split(payload);
    if (!parts) return std::nullopt;
    const auto& f = parts->first;
    if (f.size() != 7 || f[1] != "REQ") return std::nullopt;
    BusRequest r;
    const auto op = op_from(f[2]);
    const auto id = number<std::uint64_t>(f[3]);
    const auto deadline = number<std::int64_t>(f[5]);
    if (!op || !id || !deadline || f[4].empty() || f[6].empty()) return std::nullopt;
    r.op = *op;
    r.request_id = *id;
    r.reply_node = std::string(f[4]);
    r.deadline_ms = *deadline;
    r.connection_id = std::string(f[6]);
    r.body = parts->second;
    return r;
}

std::optional<BusReply> decode_reply(std::string_view payload) {
    const auto parts = split(payload);
    if (!parts) return std::nullopt;
    const auto& f = parts->first;
    if (f.size() != 4 || f[1] != "REP") return std::nullopt;
    const auto id = number<std::uint64_t>(f[2]);
    const auto kind = kind_from(f[3]);
    if (!id || !kind) return std::nullopt;
    return BusReply{*id, *kind, parts->second};
}

}  // namespace wsgate::cluster
