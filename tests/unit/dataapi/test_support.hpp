//! Shared by the request-stage tests: gtest printers (the canonical text of format.hpp instead of bytes) and
//! terse builders for expected ASTs.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"
#include "dataapi/request/format.hpp"
#include "dataapi/request/query_params.hpp"

namespace pgwarden::dataapi {

inline void PrintTo(const SelectItem& item, std::ostream* os) { *os << FormatSelect(std::vector<SelectItem>{item}); }
inline void PrintTo(const Field& f, std::ostream* os) { *os << FormatField(f); }
inline void PrintTo(const OpExpr& e, std::ostream* os) { *os << FormatFilterValue(e); }
inline void PrintTo(const Filter& f, std::ostream* os) {
  *os << FormatField(f.field) << "=" << FormatFilterValue(f.expr);
}
inline void PrintTo(const PathFilter& f, std::ostream* os) {
  *os << FormatFilterKey(f.path, f.filter.field) << "=" << FormatFilterValue(f.filter.expr);
}
inline void PrintTo(const LogicTree& t, std::ostream* os) { *os << FormatLogicTree(t); }
inline void PrintTo(const OrderTerm& t, std::ostream* os) { *os << FormatOrder(std::vector<OrderTerm>{t}); }
inline void PrintTo(const RowRange& r, std::ostream* os) {
  *os << "{offset " << r.offset << ", limit " << (r.limit ? std::to_string(*r.limit) : "none") << "}";
}
inline void PrintTo(const ApiError& e, std::ostream* os) { *os << e.status << " " << ApiErrorBody(e); }

namespace test {

//! Parses with no headers, as a GET on a table unless told otherwise; fails the test on an error.
inline ApiRequest Parse(std::string_view query, const RequestTarget& target = {}, const RequestHeaders& headers = {}) {
  auto r = ParseQuery(query, headers, target);
  EXPECT_TRUE(r.has_value()) << query << " -> " << (r ? std::string() : ApiErrorBody(r.error()));
  return r ? *r : ApiRequest{};
}

//! The error ParseQuery gives; fails the test when it succeeds.
inline ApiError ParseError(std::string_view query, const RequestTarget& target = {},
                           const RequestHeaders& headers = {}) {
  auto r = ParseQuery(query, headers, target);
  EXPECT_FALSE(r.has_value()) << query << " parsed";
  return r ? ApiError{} : r.error();
}

inline JsonStep Key(std::string k) { return JsonStep{JsonStep::Arrow::kArrow, JsonStep::Kind::kKey, std::move(k)}; }
inline JsonStep TextKey(std::string k) {
  return JsonStep{JsonStep::Arrow::kDoubleArrow, JsonStep::Kind::kKey, std::move(k)};
}
inline JsonStep Index(std::string i) { return JsonStep{JsonStep::Arrow::kArrow, JsonStep::Kind::kIndex, std::move(i)}; }
inline JsonStep TextIndex(std::string i) {
  return JsonStep{JsonStep::Arrow::kDoubleArrow, JsonStep::Kind::kIndex, std::move(i)};
}

inline SelectItem Col(std::string name, JsonPath path = {}) {
  SelectItem s;
  s.field = Field{std::move(name), std::move(path)};
  return s;
}
inline SelectItem Aliased(std::string alias, SelectItem s) {
  s.alias = std::move(alias);
  return s;
}
inline SelectItem Cast(SelectItem s, std::string cast) {
  s.cast = std::move(cast);
  return s;
}
inline SelectItem Aggregate(SelectItem s, AggregateFunction f, std::optional<std::string> cast = std::nullopt) {
  s.aggregate = f;
  s.aggregate_cast = std::move(cast);
  return s;
}
inline SelectItem Embed(std::string relation, std::vector<SelectItem> children) {
  SelectItem s;
  s.kind = SelectItem::Kind::kRelation;
  s.relation = std::move(relation);
  s.children = std::move(children);
  return s;
}
inline SelectItem Spread(std::string relation, std::vector<SelectItem> children) {
  SelectItem s = Embed(std::move(relation), std::move(children));
  s.kind = SelectItem::Kind::kSpread;
  return s;
}
inline SelectItem Hint(SelectItem s, std::string hint) {
  s.hint = std::move(hint);
  return s;
}
inline SelectItem Join(SelectItem s, JoinType j) {
  s.join_type = j;
  return s;
}

inline OpExpr Op(FilterOperator op, std::string value, bool negated = false) {
  OpExpr e;
  e.op = op;
  e.value = std::move(value);
  e.negated = negated;
  return e;
}

}  // namespace test
}  // namespace pgwarden::dataapi
