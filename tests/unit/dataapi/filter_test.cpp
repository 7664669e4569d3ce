//! Filters (`col=op.value`) as PostgREST reads them: every operator, negation, any/all, fts languages, in-lists,
//! is-values, like stars, embedded paths, JSON paths in keys, and the RPC-argument reading of GET /rpc/ calls.
#include <gtest/gtest.h>

#include "dataapi/request/grammar.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using namespace test;

OpExpr Value(std::string_view text) {
  auto r = grammar::ParseFilterValue(text, false);
  EXPECT_TRUE(r.has_value() && r->has_value()) << text << " -> " << (r ? "" : ApiErrorBody(r.error()));
  return r && *r ? **r : OpExpr{};
}

TEST(FilterValue, ReadsEveryOperator) {
  struct Case {
    std::string_view in;
    FilterOperator op;
    std::string value;
  };
  for (const auto& c : {
           Case{"eq.5", FilterOperator::kEq, "5"},
           Case{"neq.5", FilterOperator::kNeq, "5"},
           Case{"gt.5", FilterOperator::kGt, "5"},
           Case{"gte.5", FilterOperator::kGte, "5"},
           Case{"lt.5", FilterOperator::kLt, "5"},
           Case{"lte.5", FilterOperator::kLte, "5"},
           Case{"like.*ann*", FilterOperator::kLike, "%ann%"},
           Case{"ilike.*ANN*", FilterOperator::kIlike, "%ANN%"},
           Case{"match.^A", FilterOperator::kMatch, "^A"},
           Case{"imatch.^a.*z$", FilterOperator::kImatch, "^a.*z$"},
           Case{"isdistinct.null", FilterOperator::kIsDistinct, "null"},
           Case{"cs.{1,2}", FilterOperator::kCs, "{1,2}"},
           Case{"cd.{1,2,6}", FilterOperator::kCd, "{1,2,6}"},
           Case{"ov.[0,4]", FilterOperator::kOv, "[0,4]"},
           Case{"sl.[9,10]", FilterOperator::kSl, "[9,10]"},
           Case{"sr.[3,4]", FilterOperator::kSr, "[3,4]"},
           Case{"nxr.[4,7]", FilterOperator::kNxr, "[4,7]"},
           Case{"nxl.[4,7]", FilterOperator::kNxl, "[4,7]"},
           Case{"adj.(3,10]", FilterOperator::kAdj, "(3,10]"},
           Case{"fts.cat", FilterOperator::kFts, "cat"},
           Case{"plfts.cat dog", FilterOperator::kPlfts, "cat dog"},
           Case{"phfts.cat dog", FilterOperator::kPhfts, "cat dog"},
           Case{"wfts.cat or dog", FilterOperator::kWfts, "cat or dog"},
           Case{"eq.", FilterOperator::kEq, ""},
       }) {
    SCOPED_TRACE(c.in);
    const OpExpr e = Value(c.in);
    EXPECT_EQ(e.op, c.op);
    EXPECT_EQ(e.value, c.value);
    EXPECT_FALSE(e.negated);
  }
}

TEST(FilterValue, KeepsEverythingAfterTheOperatorVerbatim) {
  // A top-level value is the rest of the text: reserved characters and quotes included.
  EXPECT_EQ(Value("eq.a,b.c(d)").value, "a,b.c(d)");
  EXPECT_EQ(Value("eq.\"quoted\"").value, "\"quoted\"");
  EXPECT_EQ(Value("eq.entity 1").value, "entity 1");
}

TEST(FilterValue, ReadsNegationQuantifiersAndLanguages) {
  OpExpr e = Value("not.eq.5");
  EXPECT_TRUE(e.negated);
  EXPECT_EQ(e.op, FilterOperator::kEq);

  e = Value("like(any).{O*,P*}");
  EXPECT_EQ(e.op, FilterOperator::kLike);
  EXPECT_EQ(e.quantifier, Quantifier::kAny);
  EXPECT_EQ(e.value, "{O%,P%}");

  e = Value("not.eq(all).{1,2}");
  EXPECT_TRUE(e.negated);
  EXPECT_EQ(e.quantifier, Quantifier::kAll);

  e = Value("gte(any).{1,5}");
  EXPECT_EQ(e.op, FilterOperator::kGte);
  EXPECT_EQ(e.quantifier, Quantifier::kAny);

  e = Value("fts(english).impossible");
  EXPECT_EQ(e.op, FilterOperator::kFts);
  EXPECT_EQ(e.language, "english");
  EXPECT_EQ(e.value, "impossible");

  e = Value("not.plfts(german).Art Spass");
  EXPECT_TRUE(e.negated);
  EXPECT_EQ(e.op, FilterOperator::kPlfts);
  EXPECT_EQ(e.language, "german");
}

TEST(FilterValue, SplitsInListsRespectingQuotesAndEscapes) {
  struct Case {
    std::string_view in;
    std::vector<std::string> list;
  };
  for (const auto& c : {
           Case{"in.(1,2,3)", {"1", "2", "3"}},
           Case{"in.(\"Hebdon, John\",\"Williams, Mary\")", {"Hebdon, John", "Williams, Mary"}},
           Case{"in.(\"a\\\"b\",\"c\\\\d\")", {"a\"b", "c\\d"}},
           Case{"in.( 1 , 2 )", {"1 ", " 2 "}},  // only the parentheses take the blanks next to them
           Case{"in.( ,3,4)", {"", "3", "4"}},
           Case{"in.()", {""}},
           Case{"in.(\"a\"b,c)", {"\"a\"b", "c"}},  // a quoted value must end its element, else it is raw
           Case{"in.(1,2)trailing", {"1", "2"}},
       }) {
    SCOPED_TRACE(c.in);
    const OpExpr e = Value(c.in);
    EXPECT_EQ(e.op, FilterOperator::kIn);
    EXPECT_EQ(e.list, c.list);
  }
}

TEST(FilterValue, ValidatesIsValuesCaseInsensitively) {
  struct Case {
    std::string_view in;
    IsValue v;
  };
  for (const auto& c : {
           Case{"is.null", IsValue::kNull},
           Case{"is.NULL", IsValue::kNull},
           Case{"is.NuLl", IsValue::kNull},
           Case{"is.not_null", IsValue::kNotNull},
           Case{"is.true", IsValue::kTrue},
           Case{"is.FALSE", IsValue::kFalse},
           Case{"is.unknown", IsValue::kUnknown},
       }) {
    SCOPED_TRACE(c.in);
    const OpExpr e = Value(c.in);
    EXPECT_EQ(e.op, FilterOperator::kIs);
    EXPECT_EQ(e.is_value, c.v);
  }
  EXPECT_TRUE(Value("not.is.null").negated);
  for (std::string_view bad : {"is.nil", "is.", "is.1"}) {
    SCOPED_TRACE(bad);
    auto r = grammar::ParseFilterValue(bad, false);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "PGRST100");
  }
}

TEST(FilterValue, RefusesUnknownOperators) {
  for (std::string_view bad :
       {"0", "val", "noop.0", "eq", "eq()", "eq(some).1", "fts().value", "in.1,2", "is().x", "not.xyz.1", "EQ.1"}) {
    SCOPED_TRACE(bad);
    auto r = grammar::ParseFilterValue(bad, false);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "PGRST100");
  }
}

TEST(FilterValue, OnGetRpcCallsValuesWithoutOperatorAreArguments) {
  auto r = grammar::ParseFilterValue("0", true);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
  // Still an error when an operator started and broke off, as in PostgREST.
  EXPECT_FALSE(grammar::ParseFilterValue("in.1", true).has_value());
  EXPECT_TRUE(grammar::ParseFilterValue("eq.1", true)->has_value());
}

TEST(FilterKey, ReadsEmbedPathsAndJsonPaths) {
  struct Case {
    std::string_view key;
    EmbedPath path;
    Field field;
  };
  for (const auto& c : {
           Case{"id", {}, Field{"id", {}}},
           Case{"clients.projects.name", {"clients", "projects"}, Field{"name", {}}},
           Case{"data->a->>b", {}, Field{"data", {Key("a"), TextKey("b")}}},
           Case{"rel.data->0", {"rel"}, Field{"data", {Index("0")}}},
           Case{"\"a.b\".c", {"a.b"}, Field{"c", {}}},
           Case{"my col", {}, Field{"my col", {}}},
       }) {
    SCOPED_TRACE(c.key);
    auto r = grammar::ParseTreePath(c.key);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first, c.path);
    EXPECT_EQ(r->second, c.field);
  }
}

TEST(FilterParams, CollectRootAndEmbeddedFiltersInQueryOrder) {
  const ApiRequest req = Parse("id=eq.5&clients.name=like.*x*&data->>kind=not.in.(a,b)&select=*,clients(*)");
  ASSERT_EQ(req.filters.size(), 3u);
  EXPECT_EQ(req.filters[0], (PathFilter{{}, Filter{Field{"id", {}}, Op(FilterOperator::kEq, "5")}}));
  EXPECT_EQ(req.filters[1], (PathFilter{{"clients"}, Filter{Field{"name", {}}, Op(FilterOperator::kLike, "%x%")}}));
  EXPECT_EQ(req.filters[2].filter.field, (Field{"data", {TextKey("kind")}}));
  EXPECT_TRUE(req.filters[2].filter.expr.negated);
  EXPECT_EQ(req.filters[2].filter.expr.list, (std::vector<std::string>{"a", "b"}));
  // An embed filtered to exist: `rel=not.is.null` is a filter on a field named like the embed.
  const ApiRequest embed = Parse("select=*,clients!inner(*)&clients=not.is.null");
  ASSERT_EQ(embed.filters.size(), 1u);
  EXPECT_EQ(embed.filters[0].filter.field.name, "clients");
}

TEST(FilterParams, TablesRefuseValuesWithoutOperator) {
  const ApiError e = ParseError("id=0");
  EXPECT_EQ(e.code, "PGRST100");
  EXPECT_EQ(e.message, "\"failed to parse filter (0)\" (line 1, column 1)");
}

TEST(FilterParams, GetRpcCallsKeepArgumentsBesideFilters) {
  const RequestTarget rpc_get{Verb::kGet, true, {}};
  const ApiRequest req = Parse("min=0&max=15&name=eq.x&v=1&v=2&select=id", rpc_get);
  EXPECT_EQ(req.rpc_args, (std::vector<RpcArg>{{"min", "0"}, {"max", "15"}, {"v", "1"}, {"v", "2"}}));
  ASSERT_EQ(req.filters.size(), 1u);
  EXPECT_EQ(req.filters[0].filter.field.name, "name");
  // The raw list keeps every parameter for other readings (a text argument that looks like a filter).
  EXPECT_EQ(req.params.size(), 6u);

  const RequestTarget rpc_head{Verb::kHead, true, {}};
  EXPECT_EQ(Parse("a=1", rpc_head).rpc_args.size(), 1u);
  // POST /rpc/ takes its arguments from the body: query parameters must be filters.
  const RequestTarget rpc_post{Verb::kPost, true, {}};
  EXPECT_EQ(ParseError("a=1", rpc_post).code, "PGRST100");
}

}  // namespace
}  // namespace pgwarden::dataapi
