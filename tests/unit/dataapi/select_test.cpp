//! select= as PostgREST's pFieldForest reads it: fields, aliases, casts, JSON paths, aggregates, embeds with
//! hints and join types, spreads, and what the grammar tolerates or refuses.
#include <gtest/gtest.h>

#include "dataapi/request/grammar.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using namespace test;

std::vector<SelectItem> Select(std::string_view text) {
  auto r = grammar::ParseSelect(text);
  EXPECT_TRUE(r.has_value()) << text << " -> " << (r ? "" : ApiErrorBody(r.error()));
  return r ? *r : std::vector<SelectItem>{};
}

TEST(SelectParameter, BuildsTheTreeOfFieldsAndEmbeds) {
  const std::vector<SelectItem> expected{
      Col("*"),
      Aliased("author", Embed("users", {Col("name"), Col("email")})),
      Embed("comments", {Col("id"), Embed("user", {Col("name")})}),
  };
  EXPECT_EQ(Select("*,author:users(name,email),comments(id,user(name))"), expected);
}

TEST(SelectParameter, ReadsFieldModifiersIntoTheAst) {
  struct Case {
    std::string_view in;
    SelectItem expected;
  };
  for (const auto& c : {
           Case{"name", Col("name")},
           Case{"alias:name", Aliased("alias", Col("name"))},
           Case{"name::text", Cast(Col("name"), "text")},
           Case{"name->jsonpath", Col("name", {Key("jsonpath")})},
           Case{"alias:name->jsonpath::cast", Aliased("alias", Cast(Col("name", {Key("jsonpath")}), "cast"))},
           Case{"data->a->>b", Col("data", {Key("a"), TextKey("b")})},
           Case{"arr->0", Col("arr", {Index("0")})},
           Case{"arr->>-1", Col("arr", {TextIndex("-1")})},
           Case{"data->!@#$%^&*_a", Col("data", {Key("!@#$%^&*_a")})},
           Case{"data->\"a.b\"", Col("data", {Key("a.b")})},
           Case{"\"my col\"", Col("my col")},
           Case{"identifier with spaces", Col("identifier with spaces")},
           Case{"identifier-with-dashes", Col("identifier-with-dashes")},
           Case{"  padded  ", Col("padded")},
           Case{"\" kept \"", Col(" kept ")},
           Case{"\"a\\\"b\"", Col("a\"b")},
           Case{"\xd8\xaa\xd8\xb3\xd8\xaa", Col("\xd8\xaa\xd8\xb3\xd8\xaa")},  // Unicode letters (UnicodeSpec)
           Case{"count", Col("count")},
           Case{"invoice_total.sum()", Aggregate(Col("invoice_total"), AggregateFunction::kSum)},
           Case{"invoice_total.avg()", Aggregate(Col("invoice_total"), AggregateFunction::kAvg)},
           Case{"invoice_total.max()", Aggregate(Col("invoice_total"), AggregateFunction::kMax)},
           Case{"invoice_total.min()", Aggregate(Col("invoice_total"), AggregateFunction::kMin)},
           Case{"invoice_total.count()", Aggregate(Col("invoice_total"), AggregateFunction::kCount)},
           Case{"total:invoice_total.sum()::text",
                Aliased("total", Aggregate(Col("invoice_total"), AggregateFunction::kSum, "text"))},
           Case{"s:jsonb_col->>key::integer.sum()::text",
                Aliased("s", Aggregate(Cast(Col("jsonb_col", {TextKey("key")}), "integer"), AggregateFunction::kSum,
                                       "text"))},
           Case{"count()", Aggregate(Col("*"), AggregateFunction::kCount)},
           Case{"cnt:count()", Aliased("cnt", Aggregate(Col("*"), AggregateFunction::kCount))},
           Case{"count()::int", Aggregate(Col("*"), AggregateFunction::kCount, "int")},
           Case{"x::double precision", Cast(Col("x"), "double precision")},
       }) {
    SCOPED_TRACE(c.in);
    const std::vector<SelectItem> got = Select(c.in);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], c.expected);
  }
}

TEST(SelectParameter, ReadsEmbedHintsJoinTypesAndSpreads) {
  struct Case {
    std::string_view in;
    SelectItem expected;
  };
  for (const auto& c : {
           Case{"rel(*)", Embed("rel", {Col("*")})},
           Case{"alias:rel(*)", Aliased("alias", Embed("rel", {Col("*")}))},
           Case{"rel!hint(*)", Hint(Embed("rel", {Col("*")}), "hint")},
           Case{"rel!inner(*)", Join(Embed("rel", {Col("*")}), JoinType::kInner)},
           Case{"rel!left(*)", Join(Embed("rel", {Col("*")}), JoinType::kLeft)},
           Case{"rel!hint!inner(*)", Join(Hint(Embed("rel", {Col("*")}), "hint"), JoinType::kInner)},
           Case{"alias:rel!inner!hint(*)",
                Aliased("alias", Join(Hint(Embed("rel", {Col("*")}), "hint"), JoinType::kInner))},
           Case{"rel!\"inner\"(*)", Hint(Embed("rel", {Col("*")}), "inner")},
           Case{"rel()", Embed("rel", {})},
           Case{"...rel(*)", Spread("rel", {Col("*")})},
           Case{"...rel!hint!inner(a,b)", Join(Hint(Spread("rel", {Col("a"), Col("b")}), "hint"), JoinType::kInner)},
           Case{"...processes(factory_id,...process_costs(cost.sum()))",
                Spread("processes", {Col("factory_id"),
                                     Spread("process_costs", {Aggregate(Col("cost"), AggregateFunction::kSum)})})},
           Case{"clients( id , name )", Embed("clients", {Col("id"), Col("name")})},
       }) {
    SCOPED_TRACE(c.in);
    const std::vector<SelectItem> got = Select(c.in);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], c.expected);
  }
}

TEST(SelectParameter, EmptyValueSelectsNothing) { EXPECT_TRUE(Select("").empty()); }

TEST(SelectParameter, IgnoresWhatFollowsACompleteList) {
  // Parsec stops at the first character it cannot continue with; PostgREST accepts these as is
  // (the conformance suite sends `select=name,projects(count)'`).
  EXPECT_EQ(FormatSelect(Select("name,projects(count)'")), R"~("name","projects"("count"))~");
  EXPECT_EQ(FormatSelect(Select("id)garbage")), R"~("id")~");
  // A JSON index must be followed by "->", "::", ".", "," or the end, else it is a key: `rel(arr->0)` reads "0".
  EXPECT_EQ(Select("rel(arr->0)")[0].children[0].field.json_path[0].kind, JsonStep::Kind::kKey);
  EXPECT_EQ(Select("rel(arr->0,b)")[0].children[0].field.json_path[0].kind, JsonStep::Kind::kIndex);
}

TEST(SelectParameter, SelectsNothingWhenTheFirstItemCannotStart) {
  // sepBy gives [] when the first item fails without consuming anything, and the rest is ignored: PostgREST
  // answers these with empty objects rather than an error.
  for (std::string_view in : {",a", ":name", "*!hint", "!"}) {
    SCOPED_TRACE(in);
    EXPECT_TRUE(Select(in).empty());
  }
}

TEST(SelectParameter, CanonicalFormReadsBackToTheSameTree) {
  for (std::string_view in : {
           "*,author:users(name,email),comments(id,user(name))",
           "alias:name->jsonpath::cast,arr->0->>1,data->\"x,y\"",
           "rel!hint!inner(*),...spread!left(a:b),x.sum()::int,count()",
           "a::text.max()::int,\"*\"->x,c:count()::bigint,e()",
           "\"with \\\" quote\",\"back\\\\slash\"",
           "x::   ,y",
       }) {
    SCOPED_TRACE(in);
    const std::vector<SelectItem> first = Select(in);
    const std::string canonical = FormatSelect(first);
    EXPECT_EQ(Select(canonical), first) << canonical;
  }
}

TEST(SelectParameter, RefusesWhatPostgrestRefuses) {
  for (std::string_view in : {
           "name!hint",           // a hint outside an embed
           "id,clients(name[])",  // '[' is not an identifier character
           "data->>-78xy",        // a malformed negative index
           "rel->jsonpath(*)",    // no JSON path on an embed
           "name::",              // a cast without a type
           "alias:*",             // no alias on *
           "a,,b",                // an empty item
           "rel(a",               // an unclosed embed
           "count(a)",            // count() takes nothing
       }) {
    SCOPED_TRACE(in);
    auto r = grammar::ParseSelect(in);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "PGRST100");
    EXPECT_EQ(r.error().status, 400);
  }
}

TEST(SelectParameter, LimitsNestingDepth) {
  std::string deep;
  for (int i = 0; i < grammar::kMaxNesting; ++i) deep += "r(";
  deep += "a";
  deep += std::string(grammar::kMaxNesting, ')');
  EXPECT_TRUE(grammar::ParseSelect(deep).has_value());
  const std::string too_deep = "r(" + deep + ")";
  auto r = grammar::ParseSelect(too_deep);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "PGRST100");
  EXPECT_EQ(r.error().details, "nesting deeper than 64 levels");
}

}  // namespace
}  // namespace pgwarden::dataapi

namespace pgwarden::dataapi {
namespace {

// DA-08: Neon mode caps embedding at DataApiConfig::max_embed_depth levels (10 by default).
std::string Nested(int levels) {
  std::string s = "id";
  for (int i = 0; i < levels; ++i) s = "id,p:parent_id(" + s + ")";
  return s;
}

TEST(SelectParameter, AConfiguredEmbedDepthIsAParseError) {
  EXPECT_TRUE(grammar::ParseSelect(Nested(10), 10).has_value());
  auto r = grammar::ParseSelect(Nested(11), 10);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().code, "PGRST100");
  EXPECT_EQ(r.error().details, "embedding nested deeper than 10 levels");
  EXPECT_FALSE(grammar::ParseSelect(Nested(20), 10).has_value());
  // 0 (PostgREST mode) is the grammar's own limit.
  EXPECT_TRUE(grammar::ParseSelect(Nested(20), 0).has_value());
}

TEST(SelectParameter, TheRequestTargetCarriesTheEmbedDepth) {
  RequestTarget target;
  target.max_embed_depth = 2;
  EXPECT_EQ(test::Parse("select=" + Nested(2), target).select.size(), 2u);
  const ApiError e = test::ParseError("select=" + Nested(3), target);
  EXPECT_EQ(e.code, "PGRST100");
  EXPECT_EQ(e.details, "embedding nested deeper than 2 levels");
  EXPECT_EQ(test::ParseError("select=id,a(id,b(id,c(id)))", target).code, "PGRST100");
  EXPECT_TRUE(ParseQuery("select=id,a(id,b(id,c(id)))", {}, {}).has_value());
}

}  // namespace
}  // namespace pgwarden::dataapi
