// Route selection expressions (contract §2.4): compilation and evaluation against message bodies.
#include "routing/selection_expression.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace {

using wsgate::routing::SelectionExpression;

// The payload of the evaluation table in contract §2.4.
constexpr std::string_view kDocPayload =
    R"({"service":"chat","action":"join","data":{"room":"room1234"}})";

SelectionExpression compile_ok(std::string_view expr) {
    std::string error;
    auto e = SelectionExpression::compile(expr, &error);
    EXPECT_TRUE(e.has_value()) << "expression '" << expr << "' failed to compile: " << error;
    EXPECT_TRUE(error.empty()) << error;
    if (!e) return *SelectionExpression::compile("never-used", &error);
    return std::move(*e);
}

// Compiles `expr` and evaluates it against `body`.
std::optional<std::string> eval(std::string_view expr, std::string_view body) {
    return compile_ok(expr).evaluate(body);
}

std::string compile_error(std::string_view expr) {
    std::string error;
    const auto e = SelectionExpression::compile(expr, &error);
    EXPECT_FALSE(e.has_value()) << "expression '" << expr << "' compiled but should not have";
    EXPECT_FALSE(error.empty()) << "no error text for '" << expr << "'";
    return error;
}

// ---- The documented evaluation table -------------------------------------------------------

TEST(SelectionExpressionDocTable, WholeExpressionPath) {
    EXPECT_EQ(eval("$request.body.action", kDocPayload), "join");
}

TEST(SelectionExpressionDocTable, BracedVariable) {
    EXPECT_EQ(eval("${request.body.action}", kDocPayload), "join");
}

TEST(SelectionExpressionDocTable, TwoVariablesWithLiteral) {
    EXPECT_EQ(eval("${request.body.service}/${request.body.action}", kDocPayload), "chat/join");
}

TEST(SelectionExpressionDocTable, MissingPathInTemplateIsEmpty) {
    EXPECT_EQ(eval("${request.body.action}-${request.body.invalidPath}", kDocPayload), "join-");
}

TEST(SelectionExpressionDocTable, StaticText) {
    const auto e = compile_ok("action");
    EXPECT_FALSE(e.uses_body());
    EXPECT_EQ(e.evaluate(kDocPayload), "action");
}

TEST(SelectionExpressionDocTable, EscapedDollar) {
    const auto e = compile_ok(R"(\$default)");
    EXPECT_FALSE(e.uses_body());
    EXPECT_EQ(e.evaluate(kDocPayload), "$default");
}

// ---- Paths -----------------------------------------------------------------------------------

TEST(SelectionExpressionPath, Nested) {
    EXPECT_EQ(eval("$request.body.data.room", kDocPayload), "room1234");
    EXPECT_EQ(eval("$request.body.a.b", R"({"a":{"b":"deep"}})"), "deep");
    EXPECT_EQ(eval("$request.body.a.b.c", R"({"a":{"b":{"c":"deeper"}}})"), "deeper");
}

TEST(SelectionExpressionPath, NestedInTemplate) {
    EXPECT_EQ(eval("room:${request.body.data.room}", kDocPayload), "room:room1234");
}

TEST(SelectionExpressionPath, BracketSingleQuotedKey) {
    EXPECT_EQ(eval("$request.body['action']", kDocPayload), "join");
    EXPECT_EQ(eval("$request.body['data']['room']", kDocPayload), "room1234");
}

TEST(SelectionExpressionPath, BracketDoubleQuotedKey) {
    EXPECT_EQ(eval(R"($request.body["action"])", kDocPayload), "join");
}

TEST(SelectionExpressionPath, BracketKeyMayContainDots) {
    // Inside brackets the dot is part of the member name, not a separator.
    EXPECT_EQ(eval("$request.body['a.b']", R"({"a.b":"dotted","a":{"b":"nested"}})"), "dotted");
    EXPECT_EQ(eval("$request.body.a.b", R"({"a.b":"dotted","a":{"b":"nested"}})"), "nested");
}

TEST(SelectionExpressionPath, ArrayIndex) {
    constexpr std::string_view body = R"({"items":["zero","one",{"name":"two"}]})";
    EXPECT_EQ(eval("$request.body.items[0]", body), "zero");
    EXPECT_EQ(eval("$request.body.items[1]", body), "one");
    EXPECT_EQ(eval("$request.body.items[2].name", body), "two");
    EXPECT_EQ(eval("${request.body.items[1]}", body), "one");
}

TEST(SelectionExpressionPath, TopLevelArrayIndex) {
    EXPECT_EQ(eval("$request.body[1]", R"(["a","b","c"])"), "b");
}

TEST(SelectionExpressionPath, IndexOutOfRangeIsEmpty) {
    EXPECT_EQ(eval("$request.body.items[3]", R"({"items":["a","b","c"]})"), "");
}

TEST(SelectionExpressionPath, IndexIntoObjectIsEmpty) {
    EXPECT_EQ(eval("$request.body.items[0]", R"({"items":{"0":"x"}})"), "");
}

TEST(SelectionExpressionPath, MemberOfNonObjectIsEmpty) {
    EXPECT_EQ(eval("$request.body.action.name", R"({"action":"join"})"), "");
    EXPECT_EQ(eval("$request.body.items.name", R"({"items":["a"]})"), "");
}

TEST(SelectionExpressionPath, MissingKeyIsEmpty) {
    EXPECT_EQ(eval("$request.body.action", R"({"other":"x"})"), "");
    EXPECT_EQ(eval("$request.body.action", "{}"), "");
    EXPECT_EQ(eval("$request.body.a.b", R"({"a":{}})"), "");
}

TEST(SelectionExpressionPath, KeysAreCaseSensitive) {
    EXPECT_EQ(eval("$request.body.action", R"({"Action":"join"})"), "");
    EXPECT_EQ(eval("$request.body.Action", R"({"Action":"join"})"), "join");
}

TEST(SelectionExpressionPath, WholeBody) {
    EXPECT_EQ(eval("$request.body", R"("just a string")"), "just a string");
    EXPECT_EQ(eval("$request.body", "42"), "42");
}

// ---- Stringification of the selected value ---------------------------------------------------

TEST(SelectionExpressionValue, ArrayOfStrings) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":["a","b"]})"), "[a, b]");
}

TEST(SelectionExpressionValue, ArrayEdgeCases) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":[]})"), "[]");
    EXPECT_EQ(eval("$request.body.action", R"({"action":["only"]})"), "[only]");
    EXPECT_EQ(eval("$request.body.action", R"({"action":[1,true,"x"]})"), "[1, true, x]");
    EXPECT_EQ(eval("$request.body.action", R"({"action":[["a","b"],"c"]})"), "[[a, b], c]");
}

TEST(SelectionExpressionValue, Integers) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":1})"), "1");
    EXPECT_EQ(eval("$request.body.action", R"({"action":0})"), "0");
    EXPECT_EQ(eval("$request.body.action", R"({"action":-42})"), "-42");
    EXPECT_EQ(eval("$request.body.action", R"({"action":18446744073709551615})"),
              "18446744073709551615");
}

TEST(SelectionExpressionValue, Fractions) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":1.5})"), "1.5");
    EXPECT_EQ(eval("$request.body.action", R"({"action":-0.25})"), "-0.25");
}

TEST(SelectionExpressionValue, Booleans) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":true})"), "true");
    EXPECT_EQ(eval("$request.body.action", R"({"action":false})"), "false");
}

TEST(SelectionExpressionValue, NullIsEmpty) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":null})"), "");
    EXPECT_EQ(eval("x${request.body.action}y", R"({"action":null})"), "xy");
}

TEST(SelectionExpressionValue, ObjectIsSerialized) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":{"k":"v"}})"), R"({"k":"v"})");
    EXPECT_EQ(eval("$request.body.action", R"({"action":{}})"), "{}");
}

TEST(SelectionExpressionValue, StringIsUnquotedAndUnescaped) {
    EXPECT_EQ(eval("$request.body.action", R"({"action":"say \"hi\""})"), R"(say "hi")");
    EXPECT_EQ(eval("$request.body.action", R"({"action":"caf\u00e9"})"), "caf\xC3\xA9");
    EXPECT_EQ(eval("$request.body.action", R"({"action":""})"), "");
}

// ---- Bodies that are not JSON ----------------------------------------------------------------

TEST(SelectionExpressionBody, NonJsonIsNullopt) {
    const auto e = compile_ok("$request.body.action");
    EXPECT_TRUE(e.uses_body());
    EXPECT_EQ(e.evaluate("hello"), std::nullopt);
    EXPECT_EQ(e.evaluate(R"({"action":"join")"), std::nullopt);  // truncated
    EXPECT_EQ(e.evaluate(R"({"action":"join"} trailing)"), std::nullopt);
}

TEST(SelectionExpressionBody, EmptyBodyIsNullopt) {
    EXPECT_EQ(eval("$request.body.action", ""), std::nullopt);
    EXPECT_EQ(eval("${request.body.a}/${request.body.b}", ""), std::nullopt);
}

TEST(SelectionExpressionBody, StaticExpressionIgnoresBody) {
    EXPECT_EQ(eval("action", "not json at all"), "action");
    EXPECT_EQ(eval("action", ""), "action");
    EXPECT_EQ(eval(R"(\$default)", "not json"), "$default");
}

TEST(SelectionExpressionBody, JsonScalarBodyHasNoMembers) {
    EXPECT_EQ(eval("$request.body.action", R"("action")"), "");
    EXPECT_EQ(eval("$request.body.action", "[1,2]"), "");
}

TEST(SelectionExpressionBody, LargeBody) {
    // Larger than the evaluator's stack buffer: the result must not depend on the body size.
    std::string body = R"({"pad":")" + std::string(20000, 'x') + R"(","action":"big"})";
    EXPECT_EQ(eval("$request.body.action", body), "big");
}

TEST(SelectionExpressionBody, ReusableAcrossEvaluations) {
    const auto e = compile_ok("${request.body.service}/${request.body.action}");
    EXPECT_EQ(e.evaluate(kDocPayload), "chat/join");
    EXPECT_EQ(e.evaluate(R"({"service":"s","action":"a"})"), "s/a");
    EXPECT_EQ(e.evaluate("nope"), std::nullopt);
    EXPECT_EQ(e.evaluate(kDocPayload), "chat/join");
}

// ---- Templates -------------------------------------------------------------------------------

TEST(SelectionExpressionTemplate, LiteralsAroundVariables) {
    EXPECT_EQ(eval("pre-${request.body.action}-post", kDocPayload), "pre-join-post");
    EXPECT_EQ(eval("${request.body.action}${request.body.service}", kDocPayload), "joinchat");
}

TEST(SelectionExpressionTemplate, EscapedDollarInsideTemplate) {
    EXPECT_EQ(eval(R"(\$${request.body.action})", kDocPayload), "$join");
    EXPECT_EQ(eval(R"(\${request.body.action})", kDocPayload), "${request.body.action}");
}

TEST(SelectionExpressionTemplate, NotRecursive) {
    // The selected value is not evaluated again as an expression.
    EXPECT_EQ(eval("${request.body.action}", R"({"action":"${request.body.x}","x":"no"})"),
              "${request.body.x}");
}

// ---- Compile errors --------------------------------------------------------------------------

TEST(SelectionExpressionCompile, UnclosedBrace) {
    const auto err = compile_error("${request.body.action");
    EXPECT_NE(err.find("unclosed"), std::string::npos) << err;
    compile_error("x/${request.body.a}/${request.body.b");
}

TEST(SelectionExpressionCompile, UnsupportedVariableSource) {
    const auto err = compile_error("${request.header.x}");
    EXPECT_NE(err.find("request.header.x"), std::string::npos) << err;
    compile_error("${request.querystring.x}");
    compile_error("${context.connectionId}");
}

TEST(SelectionExpressionCompile, BadPaths) {
    compile_error("$request.body.");           // empty member name
    compile_error("$request.body.a..b");       // empty member name
    compile_error("$request.body.items[0");    // unclosed bracket
    compile_error("$request.body.items[x]");   // not an index
    compile_error("$request.body.items[-1]");  // not an index
    compile_error("$request.bodyx");           // not a path after request.body
    compile_error("${request.body.a[}");       // unclosed bracket inside a template
}

TEST(SelectionExpressionCompile, BodyExpressionsUseBody) {
    EXPECT_TRUE(compile_ok("$request.body.action").uses_body());
    EXPECT_TRUE(compile_ok("${request.body.action}").uses_body());
    EXPECT_TRUE(compile_ok("x-${request.body.action}").uses_body());
    EXPECT_FALSE(compile_ok("x-y").uses_body());
}

}  // namespace
