//! or=/and= logic trees (nested, negated, embedded) and order= terms (directions, nulls, JSON paths, to-one
//! embed columns), per embed path.
#include <gtest/gtest.h>

#include "dataapi/request/grammar.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using namespace test;

LogicTree Leaf(std::string field, OpExpr e) {
  LogicTree t;
  t.kind = LogicTree::Kind::kFilter;
  t.filter = Filter{Field{std::move(field), {}}, std::move(e)};
  return t;
}

LogicTree Node(LogicOperator op, std::vector<LogicTree> children, bool negated = false) {
  LogicTree t;
  t.op = op;
  t.negated = negated;
  t.children = std::move(children);
  return t;
}

TEST(LogicParams, BuildNestedTrees) {
  const ApiRequest req = Parse("or=(id.eq.1,and(name.eq.entity 2,id.not.gt.2),not.or(a.is.null,b.in.(1,\"2,3\")))");
  ASSERT_EQ(req.logic.size(), 1u);
  OpExpr in = Op(FilterOperator::kIn, "");
  in.list = {"1", "2,3"};
  OpExpr is_null = Op(FilterOperator::kIs, "");
  const LogicTree expected =
      Node(LogicOperator::kOr, {Leaf("id", Op(FilterOperator::kEq, "1")),
                                Node(LogicOperator::kAnd, {Leaf("name", Op(FilterOperator::kEq, "entity 2")),
                                                           Leaf("id", Op(FilterOperator::kGt, "2", /*negated=*/true))}),
                                Node(LogicOperator::kOr, {Leaf("a", is_null), Leaf("b", in)}, /*negated=*/true)});
  EXPECT_EQ(req.logic[0].tree, expected);
  EXPECT_TRUE(req.logic[0].path.empty());
}

TEST(LogicParams, ReadEveryKeyForm) {
  struct Case {
    std::string_view query;
    EmbedPath path;
    bool negated;
    LogicOperator op;
  };
  for (const auto& c : {
           Case{"or=(a.eq.1)", {}, false, LogicOperator::kOr},
           Case{"and=(a.eq.1)", {}, false, LogicOperator::kAnd},
           Case{"not.or=(a.eq.1)", {}, true, LogicOperator::kOr},
           Case{"not.and=(a.eq.1)", {}, true, LogicOperator::kAnd},
           Case{"clients.or=(a.eq.1)", {"clients"}, false, LogicOperator::kOr},
           Case{"clients.projects.not.and=(a.eq.1)", {"clients", "projects"}, true, LogicOperator::kAnd},
       }) {
    SCOPED_TRACE(c.query);
    const ApiRequest req = Parse(c.query);
    ASSERT_EQ(req.logic.size(), 1u);
    EXPECT_EQ(req.logic[0].path, c.path);
    EXPECT_EQ(req.logic[0].tree.kind, LogicTree::Kind::kExpr);
    EXPECT_EQ(req.logic[0].tree.negated, c.negated);
    EXPECT_EQ(req.logic[0].tree.op, c.op);
  }
}

TEST(LogicParams, UnquoteValuesAndKeepArrays) {
  struct Case {
    std::string_view query;
    std::string value;
  };
  for (const auto& c : {
           Case{"or=(name.eq.\"a,b)c\")", "a,b)c"},
           Case{"or=(name.eq.\"say \\\"hi\\\"\")", "say \"hi\""},
           Case{"or=(arr.cs.{1,2,3})", "{1,2,3}"},
           Case{"or=(name.like.*1)", "%1"},
           Case{"or=(d->>a.eq.x)", "x"},
           Case{"and=(text_search.not.plfts(german).Art%20Spass)", "Art Spass"},
       }) {
    SCOPED_TRACE(c.query);
    const ApiRequest req = Parse(c.query);
    ASSERT_EQ(req.logic.size(), 1u);
    ASSERT_EQ(req.logic[0].tree.children.size(), 1u);
    EXPECT_EQ(req.logic[0].tree.children[0].filter.expr.value, c.value);
  }
}

TEST(LogicParams, ReadTheOperatorAsPrefixOfTheValue) {
  // PostgREST parses "or" <> value, so `or=a.eq.1` is a single filter on a column named "ora".
  const ApiRequest req = Parse("or=a.eq.1");
  ASSERT_EQ(req.logic.size(), 1u);
  EXPECT_EQ(req.logic[0].tree, Leaf("ora", Op(FilterOperator::kEq, "1")));
}

TEST(LogicParams, AllowFiltersOnEmbedsInsideTrees) {
  // or=(clients.not.is.null,...) names the embed as the field, the rest as its JSON-free path.
  const ApiRequest req = Parse("select=*,clients(*)&or=(clients.not.is.null,name.eq.x)");
  ASSERT_EQ(req.logic.size(), 1u);
  const LogicTree& first = req.logic[0].tree.children[0];
  EXPECT_EQ(first.filter.field.name, "clients");
  EXPECT_TRUE(first.filter.expr.negated);
  EXPECT_EQ(first.filter.expr.op, FilterOperator::kIs);
}

TEST(LogicParams, RefuseMalformedTrees) {
  for (std::string_view q : {"or=(not.id.eq.1)",  // a leaf is negated after its field: id.not.eq.1
                             "or=()", "or=(id.in.1,2,id.eq.3)", "or=)(", "and=(ord(id.eq.1,id.eq.1),id.eq.2)",
                             "or=(id.eq.1,not.xor(id.eq.2,id.eq.3))", "or=(a.eq.1", "or=(a)"}) {
    SCOPED_TRACE(q);
    EXPECT_EQ(ParseError(q).code, "PGRST100");
  }
}

TEST(LogicParams, CanonicalFormReadsBackToTheSameTree) {
  for (std::string_view v : {"(id.eq.1,and(name.eq.entity 2,id.not.gt.2),not.or(a.is.null,b.in.(1,\"2,3\")))",
                             "(a->0.like(any).{x*,y*},b.fts(english).c d,c.isdistinct.\"q\\\"\")"}) {
    SCOPED_TRACE(v);
    auto first = grammar::ParseLogicTree("or", v);
    ASSERT_TRUE(first.has_value()) << ApiErrorBody(first.error());
    const std::string canonical = FormatLogicTree(*first);
    auto again = grammar::ParseLogicTree("", canonical);
    ASSERT_TRUE(again.has_value()) << canonical << " " << ApiErrorBody(again.error());
    EXPECT_EQ(*again, *first) << canonical;
  }
}

TEST(OrderParams, ReadTermsDirectionsAndNulls) {
  struct Case {
    std::string_view value;
    std::vector<OrderTerm> terms;
  };
  using D = OrderDirection;
  using N = OrderNulls;
  for (const auto& c : {
           Case{"id", {{std::nullopt, Field{"id", {}}, std::nullopt, std::nullopt}}},
           Case{"name.desc.nullsfirst", {{std::nullopt, Field{"name", {}}, D::kDesc, N::kFirst}}},
           Case{"name.nullslast", {{std::nullopt, Field{"name", {}}, std::nullopt, N::kLast}}},
           Case{"json_col->key.asc.nullslast", {{std::nullopt, Field{"json_col", {Key("key")}}, D::kAsc, N::kLast}}},
           Case{"clients(json_col->key).desc.nullsfirst",
                {{"clients", Field{"json_col", {Key("key")}}, D::kDesc, N::kFirst}}},
           Case{"name,clients(name),id",
                {{std::nullopt, Field{"name", {}}, std::nullopt, std::nullopt},
                 {"clients", Field{"name", {}}, std::nullopt, std::nullopt},
                 {std::nullopt, Field{"id", {}}, std::nullopt, std::nullopt}}},
           Case{"a.asc, b.desc",
                {{std::nullopt, Field{"a", {}}, D::kAsc, std::nullopt},
                 {std::nullopt, Field{"b", {}}, D::kDesc, std::nullopt}}},
       }) {
    SCOPED_TRACE(c.value);
    auto r = grammar::ParseOrder(c.value);
    ASSERT_TRUE(r.has_value()) << ApiErrorBody(r.error());
    EXPECT_EQ(*r, c.terms);
    auto again = grammar::ParseOrder(FormatOrder(*r));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *r);
  }
}

TEST(OrderParams, AreKeptPerEmbedPath) {
  const ApiRequest req = Parse("order=id.asc.nullslast&projects.order=id.asc.nullsfirst&projects.tasks.order=name");
  ASSERT_EQ(req.order.size(), 3u);
  EXPECT_TRUE(req.order[0].path.empty());
  EXPECT_EQ(req.order[1].path, (EmbedPath{"projects"}));
  EXPECT_EQ(req.order[2].path, (EmbedPath{"projects", "tasks"}));
}

TEST(OrderParams, RefuseMalformedTerms) {
  for (std::string_view v : {"id.ac", "id.descc", "id.nulsfist", "id.nullslasttt", "id.smth34", "id.asc.nlsfst",
                             "id.asc.nullslasttt", "id.asc.smth34", "clients(name,id)", "", "a.desc ,b"}) {
    SCOPED_TRACE(v);
    auto r = grammar::ParseOrder(v);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "PGRST100");
  }
}

}  // namespace
}  // namespace pgwarden::dataapi
