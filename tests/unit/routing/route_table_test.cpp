// RouteTable: exact, case-sensitive route keys with $default fallback (contract §2.4).
#include "routing/route_table.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using wsgate::routing::Route;
using wsgate::routing::RouteTable;

RouteTable table_with(std::initializer_list<std::string> keys) {
    RouteTable t;
    for (const auto& k : keys) t.add(Route{k, nullptr, k == "$default"});
    return t;
}

TEST(RouteTable, ExactMatch) {
    const auto t = table_with({"$connect", "$disconnect", "$default", "join", "leave"});
    const Route* r = t.select("join");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->key, "join");
    ASSERT_NE(t.select("leave"), nullptr);
    EXPECT_EQ(t.select("leave")->key, "leave");
}

TEST(RouteTable, MatchIsCaseSensitive) {
    const auto t = table_with({"$default", "join"});
    ASSERT_NE(t.select("Join"), nullptr);
    EXPECT_EQ(t.select("Join")->key, "$default");
    EXPECT_EQ(t.select("JOIN")->key, "$default");
}

TEST(RouteTable, MatchIsExactNotPrefix) {
    const auto t = table_with({"$default", "join"});
    EXPECT_EQ(t.select("joi")->key, "$default");
    EXPECT_EQ(t.select("join ")->key, "$default");
    EXPECT_EQ(t.select(" join")->key, "$default");
    EXPECT_EQ(t.select("joinx")->key, "$default");
}

TEST(RouteTable, UnknownAndEmptyKeysFallBackToDefault) {
    const auto t = table_with({"$default", "join"});
    EXPECT_EQ(t.select("nothing")->key, "$default");
    EXPECT_EQ(t.select("")->key, "$default");
}

TEST(RouteTable, DefaultCarriesItsSettings) {
    const auto t = table_with({"$default", "join"});
    const Route* r = t.select("nothing");
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->route_response);
    EXPECT_EQ(r->integration, nullptr);
    EXPECT_FALSE(t.select("join")->route_response);
}

TEST(RouteTable, MessageCannotSelectReservedRoutes) {
    // A message whose action is "$connect" or "$disconnect" goes to $default, never to the
    // lifecycle routes.
    const auto t = table_with({"$connect", "$disconnect", "$default"});
    ASSERT_NE(t.select("$connect"), nullptr);
    EXPECT_EQ(t.select("$connect")->key, "$default");
    EXPECT_EQ(t.select("$disconnect")->key, "$default");
    EXPECT_EQ(t.select("$default")->key, "$default");
}

TEST(RouteTable, ReservedKeyWithoutDefaultSelectsNothing) {
    const auto t = table_with({"$connect", "$disconnect", "join"});
    EXPECT_EQ(t.select("$connect"), nullptr);
    EXPECT_EQ(t.select("$disconnect"), nullptr);
}

TEST(RouteTable, NoDefaultGivesNullptr) {
    const auto t = table_with({"$connect", "join"});
    EXPECT_EQ(t.select("leave"), nullptr);
    EXPECT_EQ(t.select(""), nullptr);
    ASSERT_NE(t.select("join"), nullptr);
    EXPECT_EQ(t.select("join")->key, "join");
}

TEST(RouteTable, EmptyTable) {
    const RouteTable t;
    EXPECT_EQ(t.select("join"), nullptr);
    EXPECT_EQ(t.select(""), nullptr);
    EXPECT_EQ(t.find("$connect"), nullptr);
}

TEST(RouteTable, FindIsExactLookupIncludingReservedKeys) {
    const auto t = table_with({"$connect", "$default", "join"});
    ASSERT_NE(t.find("$connect"), nullptr);
    EXPECT_EQ(t.find("$connect")->key, "$connect");
    ASSERT_NE(t.find("join"), nullptr);
    EXPECT_EQ(t.find("join")->key, "join");
    EXPECT_EQ(t.find("$disconnect"), nullptr);  // no fallback in find()
    EXPECT_EQ(t.find("Join"), nullptr);
}

TEST(RouteTable, AddReplacesExistingKey) {
    RouteTable t;
    t.add(Route{"join", nullptr, false});
    t.add(Route{"join", nullptr, true});
    ASSERT_NE(t.find("join"), nullptr);
    EXPECT_TRUE(t.find("join")->route_response);
}

TEST(RouteTable, PointersStayValidAcrossLookups) {
    const auto t = table_with({"$default", "join"});
    const Route* a = t.select("join");
    const Route* b = t.select("join");
    EXPECT_EQ(a, b);
    EXPECT_EQ(t.select("x"), t.find("$default"));
}

}  // namespace
