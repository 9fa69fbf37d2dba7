// Route selection expressions (src/routing/selection_expression.h): compile an expression, then
// evaluate it on a message body.
//
// Input: EXPRESSION '\0' BODY. Without a NUL byte the whole input is both the expression and the
// body (so a seed that is just an expression still exercises evaluation).
//
// Invariants checked:
//  - compile fails  => the error text is non-empty; compile succeeds => no error text.
//  - an expression without '$' compiles, uses no body, and evaluates to itself.
//  - uses_body() == false => evaluate() ignores the body (same key for any body, never nullopt).
//  - uses_body() == true  => evaluate() is nullopt exactly when Boost.JSON rejects the body.
//  - evaluate() is deterministic.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "routing/selection_expression.h"

using wsgate::fuzz::ExactCopy;
using wsgate::routing::SelectionExpression;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    const ExactCopy expr(input.substr(0, nul));
    const ExactCopy body(nul == std::string_view::npos ? input : input.substr(nul + 1));

    std::string error;
    const auto compiled = SelectionExpression::compile(expr.view(), &error);
    if (!compiled) {
        FUZZ_CHECK(!error.empty());
        return 0;
    }
    FUZZ_CHECK(error.empty());
    const bool has_dollar = expr.view().find('$') != std::string_view::npos;

    const auto key = compiled->evaluate(body.view());
    FUZZ_CHECK(compiled->evaluate(body.view()) == key);  // deterministic

    if (!compiled->uses_body()) {
        FUZZ_CHECK(key.has_value());
        FUZZ_CHECK(compiled->evaluate("") == key);
        FUZZ_CHECK(compiled->evaluate("{\"action\":\"x\"}") == key);
        if (!has_dollar) FUZZ_CHECK(*key == expr.view());
        return 0;
    }
    FUZZ_CHECK(has_dollar);
    boost::system::error_code ec;
    (void)boost::json::parse(boost::json::string_view(body.view().data(), body.view().size()), ec);
    FUZZ_CHECK_MSG(key.has_value() == !ec, "evaluate()=%s but Boost.JSON says '%s'",
                   key ? "value" : "nullopt", ec ? ec.message().c_str() : "ok");
    return 0;
}
