#pragma once
// AWS route selection expressions: "$request.body.action", "${request.body.a}/${request.body.b}",
// static text, and "\$" escapes. Compiled once at startup, evaluated per message.
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace wsgate::routing {

// One step into a JSON document: an object member or an array index.
using PathStep = std::variant<std::string, std::size_t>;
using JsonPath = std::vector<PathStep>;  // empty = the whole body

class SelectionExpression {
  public:
    // Returns the compiled expression, or nullopt with `error` describing the problem.
    static std::optional<SelectionExpression> compile(std::string_view expr, std::string* error);

    // The route key for a text message. nullopt when the expression needs the body and the body is
    // not JSON: AWS sends such messages to $default. A path that does not exist yields "".
    std::optional<std::string> evaluate(std::string_view body) const;

    bool uses_body() const { return uses_body_; }

  private:
    struct Part {
        std::string literal;
        std::optional<JsonPath> path;  // set: substitute the value at this path
    };
    std::vector<Part> parts_;
    bool uses_body_ = false;
};

}  // namespace wsgate::routing
