//! The query string as a whole: decoding ('+' is a space), reserved parameters, which occurrence counts,
//! columns/on_conflict, limit/offset per path with the Range header, PUT limits, profiles and the canonical
//! query PostgREST puts in Content-Location.
#include "dataapi/request/query_params.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using namespace test;

TEST(QueryDecoding, FollowsHttpTypesParseQueryReplacePlus) {
  struct Case {
    std::string_view in;
    std::vector<QueryParam> out;
  };
  for (const auto& c : {
           Case{"", {}},
           Case{"?a=1", {{"a", "1"}}},
           Case{"a=1&b=2", {{"a", "1"}, {"b", "2"}}},
           Case{"a=1;b=2", {{"a", "1"}, {"b", "2"}}},  // ';' separates too
           Case{"a", {{"a", std::nullopt}}},
           Case{"a=", {{"a", ""}}},
           Case{"a=x=y", {{"a", "x=y"}}},
           Case{"a=b+c", {{"a", "b c"}}},  // '+' is a space
           Case{"a=b%2Bc", {{"a", "b+c"}}},
           Case{"a=100%", {{"a", "100%"}}},  // an invalid escape stays as is
           Case{"a=%zz%4", {{"a", "%zz%4"}}},
           Case{"a=caf%C3%A9", {{"a", "caf\xC3\xA9"}}},
           Case{"%73elect=*", {{"select", "*"}}},
           Case{"&a=1&&", {{"", std::nullopt}, {"a", "1"}, {"", std::nullopt}}},
           Case{"a=1&", {{"a", "1"}}},
       }) {
    SCOPED_TRACE(c.in);
    const auto got = DecodeQueryString(c.in);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, c.out);
  }
}

TEST(QueryDecoding, RefusesInvalidUtf8) {
  EXPECT_FALSE(DecodeQueryString("a=%FF").has_value());
  EXPECT_FALSE(DecodeQueryString("a=%C0%AF").has_value());     // overlong '/'
  EXPECT_FALSE(DecodeQueryString("a=%ED%A0%80").has_value());  // a surrogate
  EXPECT_EQ(ParseError("select=%FF").code, "PGRST100");
}

TEST(QueryParams, SelectDefaultsToStarAndTheFirstOneCounts) {
  EXPECT_EQ(Parse("").select_raw, "*");
  EXPECT_EQ(FormatSelect(Parse("").select), "*");
  EXPECT_EQ(Parse("select=a&select=b").select_raw, "a");
  EXPECT_EQ(Parse("select&select=b").select_raw, "*");  // a bare first `select` hides the later one
  EXPECT_TRUE(Parse("select=").select.empty());
  EXPECT_EQ(Parse("select=id,+name").select.size(), 2u);
}

TEST(QueryParams, ReservedNamesAreNeverFilters) {
  const ApiRequest req = Parse(
      "select=id&order=id&limit=1&offset=2&or=(a.eq.1)&and=(b.eq.2)&columns=a&on_conflict=a&rel.order=x&rel.limit=1&"
      "rel.offset=1&rel.or=(c.eq.3)&id=eq.1");
  ASSERT_EQ(req.filters.size(), 1u);
  EXPECT_EQ(req.filters[0].filter.field.name, "id");
  EXPECT_EQ(req.order.size(), 2u);
  EXPECT_EQ(req.logic.size(), 3u);
}

TEST(QueryParams, BareKeysAreIgnoredButKept) {
  const ApiRequest req = Parse("id&name=eq.x");
  EXPECT_EQ(req.filters.size(), 1u);
  EXPECT_EQ(req.params.size(), 2u);
}

TEST(QueryParams, ColumnsAndOnConflictAreNameLists) {
  const ApiRequest req = Parse("columns=id, name,\"my col\",id&on_conflict=a,b");
  EXPECT_EQ(req.columns, (std::vector<std::string>{"id", "name", "my col"}));
  EXPECT_EQ(req.on_conflict, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(Parse("").columns.has_value());
  const ApiError e = ParseError("columns=");
  EXPECT_EQ(e.message, "\"failed to parse columns parameter ()\" (line 1, column 1)");
  EXPECT_EQ(e.details, "unexpected end of input expecting field name (* or [a..z0..9_$])");
  EXPECT_EQ(ParseError("on_conflict=,a").message, "\"failed to parse on_conflict parameter (,a)\" (line 1, column 1)");
}

TEST(QueryParams, ErrorsComeInPostgrestOrder) {
  // order, then or/and, then columns, then select, then filters, then on_conflict.
  EXPECT_NE(ParseError("id=bad&select=x!&order=y.bad&or=()").message.find("failed to parse order"), std::string::npos);
  EXPECT_NE(ParseError("id=bad&select=x!&or=()").message.find("failed to parse logic tree"), std::string::npos);
  EXPECT_NE(ParseError("id=bad&select=x!&columns=").message.find("columns parameter"), std::string::npos);
  EXPECT_NE(ParseError("on_conflict=&id=bad&select=x!").message.find("select parameter"), std::string::npos);
  EXPECT_NE(ParseError("on_conflict=&id=bad").message.find("failed to parse filter"), std::string::npos);
}

RowRange Rows(std::int64_t offset, std::optional<std::int64_t> limit) { return RowRange{offset, limit}; }

TEST(Ranges, CombineLimitOffsetAndTheRangeHeader) {
  struct Case {
    std::string_view query;
    std::optional<std::string_view> range_header;
    Verb verb;
    RowRange expected;
  };
  for (const auto& c : {
           Case{"", std::nullopt, Verb::kGet, Rows(0, std::nullopt)},
           Case{"limit=3", std::nullopt, Verb::kGet, Rows(0, 3)},
           Case{"limit=3&offset=2", std::nullopt, Verb::kGet, Rows(2, 3)},
           Case{"offset=2", std::nullopt, Verb::kGet, Rows(2, std::nullopt)},
           Case{"offset=-4", std::nullopt, Verb::kGet, Rows(0, std::nullopt)},  // clamped by the all-rows range
           Case{"limit=0", std::nullopt, Verb::kGet, Rows(0, 0)},
           Case{"limit=0", "5-9", Verb::kGet, Rows(0, 0)},                      // limit zero wins over the header
           Case{"limit=abc", std::nullopt, Verb::kGet, Rows(0, std::nullopt)},  // unreadable: ignored
           Case{"limit=%205%20", std::nullopt, Verb::kGet, Rows(0, 5)}, Case{"", "0-9", Verb::kGet, Rows(0, 10)},
           Case{"", "5-", Verb::kGet, Rows(5, std::nullopt)},
           Case{"", "items=0-9", Verb::kGet, Rows(0, std::nullopt)},  // not PostgREST's form: ignored
           Case{"limit=3", "0-9", Verb::kGet, Rows(0, 3)}, Case{"limit=20&offset=5", "0-9", Verb::kGet, Rows(5, 5)},
           Case{"", "1-1", Verb::kHead, Rows(0, std::nullopt)},  // only GET reads Range
           Case{"", "1-1", Verb::kPost, Rows(0, std::nullopt)},
           Case{"limit=2&offset=1", "0-0", Verb::kHead, Rows(1, 2)},
           Case{"limit=1&limit=2", std::nullopt, Verb::kGet, Rows(0, 2)},  // the last one wins
       }) {
    SCOPED_TRACE(std::string(c.query) + " / " + std::string(c.range_header.value_or("-")));
    RequestHeaders h;
    h.range = c.range_header;
    EXPECT_EQ(Parse(c.query, RequestTarget{c.verb, false, {}}, h).range, c.expected);
  }
}

TEST(Ranges, EmbeddedLimitsAndOffsetsAreKeptPerPath) {
  const ApiRequest req = Parse("projects.limit=2&projects.offset=1&projects.tasks.limit=5&tasks.offset=3");
  ASSERT_EQ(req.embedded_ranges.size(), 3u);
  EXPECT_EQ(req.embedded_ranges[0], (PathRange{{"projects"}, Rows(1, 2)}));
  EXPECT_EQ(req.embedded_ranges[1], (PathRange{{"projects", "tasks"}, Rows(0, 5)}));
  EXPECT_EQ(req.embedded_ranges[2], (PathRange{{"tasks"}, Rows(3, std::nullopt)}));
  EXPECT_TRUE(req.range.IsAll());
}

TEST(Ranges, UnsatisfiableRangesAreRefused) {
  ApiError e = ParseError("select=id&limit=-1");
  EXPECT_EQ(e.status, 416);
  EXPECT_EQ(e.code, "PGRST103");
  EXPECT_EQ(e.message, "Requested range not satisfiable");
  EXPECT_EQ(e.details, "Limit should be greater than or equal to zero.");

  RequestHeaders h;
  h.range = "1-0";
  e = ParseError("", {}, h);
  EXPECT_EQ(e.code, "PGRST103");
  EXPECT_EQ(e.details, "The lower boundary must be lower than or equal to the upper boundary in the Range header.");

  h.range = "1-0";
  EXPECT_TRUE(ParseQuery("", h, RequestTarget{Verb::kPatch, false, {}}).has_value());  // ignored off GET
}

TEST(Ranges, PutRefusesLimitAndOffset) {
  const RequestTarget put{Verb::kPut, false, {}};
  const ApiError e = ParseError("name=eq.Javascript&offset=1", put);
  EXPECT_EQ(e.code, "PGRST114");
  EXPECT_EQ(e.message, "limit/offset querystring parameters are not allowed for PUT");
  EXPECT_TRUE(ParseQuery("offset=0", {}, put).has_value());  // the whole range is no limit
  RequestHeaders h;
  h.range = "1-1";
  EXPECT_TRUE(ParseQuery("name=eq.Java", h, put).has_value());
}

TEST(Profiles, PickTheHeaderOfTheVerbAndCheckTheSchemas) {
  const std::vector<std::string> schemas{"v1", "v2"};
  RequestHeaders h;
  h.accept_profile = "v2";
  h.content_profile = "v1";
  EXPECT_EQ(Parse("", RequestTarget{Verb::kGet, false, schemas}, h).schema, "v2");
  EXPECT_EQ(Parse("", RequestTarget{Verb::kHead, false, schemas}, h).schema, "v2");
  for (Verb v : {Verb::kPost, Verb::kPatch, Verb::kPut, Verb::kDelete}) {
    EXPECT_EQ(Parse("", RequestTarget{v, false, schemas}, h).schema, "v1");
  }
  const ApiRequest plain = Parse("", RequestTarget{Verb::kGet, false, schemas});
  EXPECT_EQ(plain.schema, "v1");
  EXPECT_TRUE(plain.negotiated_by_profile);  // several schemas: the default was negotiated
  const std::vector<std::string> one{"test"};
  EXPECT_FALSE(Parse("", RequestTarget{Verb::kGet, false, one}).negotiated_by_profile);

  h.accept_profile = "unknown";
  const ApiError e = ParseError("", RequestTarget{Verb::kGet, false, schemas}, h);
  EXPECT_EQ(e.status, 406);
  EXPECT_EQ(e.code, "PGRST106");
  EXPECT_EQ(e.message, "Invalid schema: unknown");
  EXPECT_EQ(e.hint, "Only the following schemas are exposed: v1, v2");
  // The schema is checked before the query string, as PostgREST does.
  EXPECT_EQ(ParseError("id=bad", RequestTarget{Verb::kGet, false, schemas}, h).code, "PGRST106");
}

TEST(CanonicalQuery, SortsJoinsRepeatedKeysAndEncodes) {
  EXPECT_EQ(Parse("b=eq.1&a=eq.1").canonical_query, "a=eq.1&b=eq.1");
  EXPECT_EQ(Parse("a=eq.2&b=eq.x&a=eq.1").canonical_query, "a=eq.2,eq.1&b=eq.x");
  EXPECT_EQ(Parse("a=eq.b+c&d&select=id,name").canonical_query, "a=eq.b%20c&d=&select=id%2Cname");
  EXPECT_EQ(CanonicalQuery({{"k", "\xC3\xA9"}}), "k=%C3%83%C2%A9");  // bytes taken as Latin-1, as PostgREST
}

TEST(ApiErrors, RenderPostgrestBodies) {
  const ApiError e = ParseError("or=()");
  EXPECT_EQ(
      ApiErrorBody(e),
      R"~({"code":"PGRST100","details":"unexpected \")\" expecting field name (* or [a..z0..9_$]), negation )~"
      R"~(operator (not) or logic operator (and, or)","hint":null,"message":"\"failed to parse logic tree (())\" )~"
      R"~((line 1, column 4)"})~");
}

}  // namespace
}  // namespace pgwarden::dataapi
