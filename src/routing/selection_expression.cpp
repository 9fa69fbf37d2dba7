#include "routing/selection_expression.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>

namespace wsgate::routing {
namespace json = boost::json;

namespace {

constexpr std::string_view kBodyRoot = "request.body";

// Parses the JSONPath that follows "request.body": ".a", "['a']", "[\"a\"]", "[0]", chained.
std::optional<JsonPath> parse_path(std::string_view p, std::string* error) {
    JsonPath path;
    std::size_t i = 0;
    while (i < p.size()) {
        if (p[i] == '.') {
            std::size_t j = i + 1;
            while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
            if (j == i + 1) {
                *error = "empty member name in '" + std::string(p) + "'";
                return std::nullopt;
            }
            path.emplace_back(std::string(p.substr(i + 1, j - i - 1)));
            i = j;
        } else if (p[i] == '[') {
            const auto close = p.find(']', i);
            if (close == std::string_view::npos) {
                *error = "unclosed '[' in '" + std::string(p) + "'";
                return std::nullopt;
            }
            std::string_view inner = p.substr(i + 1, close - i - 1);
            if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"') && inner.back() == inner.front()) {
                path.emplace_back(std::string(inner.substr(1, inner.size() - 2)));
            } else {
                std::size_t idx = 0;
                const auto [ptr, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), idx);
                if (ec != std::errc{} || ptr != inner.data() + inner.size()) {
                    *error = "bad index '[" + std::string(inner) + "]'";
                    return std::nullopt;
                }
                path.emplace_back(idx);
            }
            i = close + 1;
        } else {
            *error = "unexpected '" + std::string(1, p[i]) + "' in path '" + std::string(p) + "'";
            return std::nullopt;
        }
    }
    return path;
}

std::optional<JsonPath> parse_variable(std::string_view var, std::string* error) {
    if (var.substr(0, kBodyRoot.size()) != kBodyRoot) {
        *error = "only $request.body variables are supported in WebSocket selection expressions, got '" +
                 std::string(var) + "'";
        return std::nullopt;
    }
    return parse_path(var.substr(kBodyRoot.size()), error);
}

void append_number(std::string& out, double d) {
    // Integral doubles print without a fraction or exponent ("1", not "1E0" as json::serialize would).
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
        out += std::to_string(static_cast<long long>(d));
        return;
    }
    char buf[32];
    const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, ec == std::errc{} ? p : buf);
}

// AWS stringifies the selected value: arrays as "[a, b]", scalars by their text.
void append_value(std::string& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::string: out.append(v.get_string().data(), v.get_string().size()); break;
        case json::kind::int64: out += std::to_string(v.get_int64()); break;
        case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
        case json::kind::double_: append_number(out, v.get_double()); break;
        case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
        case json::kind::null: break;
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& item : v.get_array()) {
                if (!first) out += ", ";
                first = false;
                append_value(out, item);
            }
            out += ']';
            break;
        }
        case json::kind::object: out += json::serialize(v); break;
    }
}

const json::value* walk(const json::value& root, const JsonPath& path) {
    const json::value* cur = &root;
    for (const auto& step : path) {
        if (const auto* key = std::get_if<std::string>(&step)) {
            const auto* obj = cur->if_object();
            if (obj == nullptr) return nullptr;
            const auto it = obj->find(*key);
            if (it == obj->end()) return nullptr;
            cur = &it->value();
        } else {
            const auto* arr = cur->if_array();
            const auto idx = std::get<std::size_t>(step);
            if (arr == nullptr || idx >= arr->size()) return nullptr;
            cur = &(*arr)[idx];
        }
    }
    return cur;
}

}  // namespace

std::optional<SelectionExpression> SelectionExpression::compile(std::string_view expr, std::string* error) {
    SelectionExpression out;
    // Whole-expression form: "$request.body.a.b" (no braces).
    if (expr.substr(0, 1 + kBodyRoot.size()) == "$request.body" && expr.find("${") == std::string_view::npos) {
        auto path = parse_variable(expr.substr(1), error);
        if (!path) return std::nullopt;
        out.parts_.push_back({"", std::move(path)});
        out.uses_body_ = true;
        return out;
    }
    // "$request.header.x", "$context.y", ...: variables this API cannot evaluate. Failing here beats
    // a typo that silently sends every message to $default.
    if (expr.size() > 1 && expr[0] == '$' && expr[1] != '{') {
        *error = "unsupported variable '" + std::string(expr) +
                 "': WebSocket route selection reads $request.body.<path> (write \\$ for a literal $)";
        return std::nullopt;
    }
    // Template form: literals, "${...}" variables, "\$" escapes.
    std::string literal;
    for (std::size_t i = 0; i < expr.size(); ++i) {
        if (expr[i] == '\\' && i + 1 < expr.size() && expr[i + 1] == '$') {
            literal += '$';
            ++i;
        } else if (expr[i] == '$' && i + 1 < expr.size() && expr[i + 1] == '{') {
            const auto close = expr.find('}', i);
            if (close == std::string_view::npos) {
                *error = "unclosed '${' in '" + std::string(expr) + "'";
                return std::nullopt;
            }
            auto path = parse_variable(expr.substr(i + 2, close - i - 2), error);
            if (!path) return std::nullopt;
            out.parts_.push_back({std::move(literal), std::move(path)});
            literal.clear();
            out.uses_body_ = true;
            i = close;
        } else {
            literal += expr[i];
        }
    }
    if (!literal.empty() || out.parts_.empty()) out.parts_.push_back({std::move(literal), std::nullopt});
    return out;
}

std::optional<std::string> SelectionExpression::evaluate(std::string_view body) const {
    std::string key;
    if (!uses_body_) {
        for (const auto& p : parts_) key += p.literal;
        return key;
    }
    // Route selection runs on every message: parse into a stack buffer so small bodies allocate
    // nothing for the DOM (the monotonic resource falls back to the heap for large ones).
    unsigned char buf[4096];
    json::monotonic_resource mr(buf, sizeof buf);
    boost::system::error_code ec;
    const json::value doc = json::parse(json::string_view(body.data(), body.size()), ec, &mr);
    if (ec) return std::nullopt;
    for (const auto& p : parts_) {
        key += p.literal;
        if (p.path) {
            if (const json::value* v = walk(doc, *p.path)) append_value(key, *v);
        }
    }
    return key;
}

}  // namespace wsgate::routing
