#include "cluster/connection_record.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace wsgate::cluster {

namespace json = boost::json;

namespace {

std::optional<std::string> string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string(v->get_string());
}

}  // namespace

std::string encode_record(const integration::ConnectionContext& c, std::string_view host) {
    json::object o;
    o["v"] = 1;
    o["connectionId"] = c.connection_id;
    o["apiId"] = c.api_id;
    o["stage"] = c.stage;
    o["domainName"] = c.domain_name;
    o["sourceIp"] = c.source_ip;
    if (c.user_agent) o["userAgent"] = *c.user_agent;
    o["connectedAt"] = c.connected_at_ms;
    if (c.api_key) o["apiKey"] = *c.api_key;
    if (c.access_key) o["accessKey"] = *c.access_key;
    if (c.authorizer) o["authorizer"] = *c.authorizer;
    o["host"] = host;
    return json::serialize(o);
}

std::optional<ConnectionRecord> decode_record(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    const auto* ver = o.if_contains("v");
    if (ver == nullptr || !ver->is_int64() || ver->get_int64() != 1) return std::nullopt;
    ConnectionRecord r;
    auto& c = r.context;
    auto id = string_at(o, "connectionId");
    auto stage = string_at(o, "stage");
    const auto* at = o.if_contains("connectedAt");
    if (!id || !stage || at == nullptr || !at->is_int64()) return std::nullopt;
    c.connection_id = std::move(*id);
    c.stage = std::move(*stage);
    c.connected_at_ms = at->get_int64();
    c.api_id = string_at(o, "apiId").value_or("");
    c.domain_name = string_at(o, "domainName").value_or("");
    c.source_ip = string_at(o, "sourceIp").value_or("");
    c.user_agent = string_at(o, "userAgent");
    c.api_key = string_at(o, "apiKey");
    c.access_key = string_at(o, "accessKey");
    if (const auto* a = o.if_contains("authorizer"); a != nullptr && a->is_object()) {
        c.authorizer = std::make_shared<const json::object>(a->get_object());
    }
    r.host = string_at(o, "host").value_or("");
    return r;
}

}  // namespace wsgate::cluster
