//! The Data API request stage (src/dataapi/request): ParseQuery over a fuzzer-chosen query string (as a table
//! GET, a GET /rpc/ call and a PUT) and over fuzzer-chosen header values (Prefer, Accept, Content-Type,
//! Range, profiles), plus the grammar entry points on the raw text. Properties:
//!  - parsing is deterministic (the same input gives an equal ApiRequest or an equal error);
//!  - errors are PostgREST-shaped: status 400/406/416, a PGRST1xx code, a message; PGRST100 has the
//!    "\"failed to parse ...\" (line L, column C)" message (no position for a query string that is not UTF-8)
//!    and non-empty details;
//!  - the canonical text of every parsed part reads back to the same value: select tree, filter keys and values,
//!    logic trees, order terms (format.hpp);
//!  - the top-level range never has a negative offset or limit;
//!  - media types that PostgREST can print (ToMime) decode back to themselves.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataapi/request/format.hpp"
#include "dataapi/request/grammar.hpp"
#include "dataapi/request/media_type.hpp"
#include "dataapi/request/preferences.hpp"
#include "dataapi/request/query_params.hpp"
#include "dataapi/request/unicode.hpp"
#include "fuzz_check.hpp"

using namespace pgwarden::dataapi;

namespace {

void CheckError(const ApiError& e) {
  FUZZ_CHECK(e.status == 400 || e.status == 406 || e.status == 416);
  FUZZ_CHECK(e.code.size() == 8 && e.code.starts_with("PGRST1"));
  FUZZ_CHECK(!e.message.empty());
  if (e.code == "PGRST100") {
    FUZZ_CHECK(e.message.starts_with("\"failed to parse "));
    // Every grammar error carries Parsec's position; only the UTF-8 check of the whole query string has none.
    FUZZ_CHECK(e.message == "\"failed to parse query string\"" || e.message.find("\" (line ") != std::string::npos);
    FUZZ_CHECK(e.details && !e.details->empty());
  }
  FUZZ_CHECK(!ApiErrorBody(e).empty());
}

void CheckRoundTrips(const ApiRequest& req) {
  const auto select = grammar::ParseSelect(FormatSelect(req.select));
  FUZZ_CHECK(select && *select == req.select);
  for (const PathFilter& f : req.filters) {
    const auto key = grammar::ParseTreePath(FormatFilterKey(f.path, f.filter.field));
    FUZZ_CHECK(key && key->first == f.path && key->second == f.filter.field);
    const auto value = grammar::ParseFilterValue(FormatFilterValue(f.filter.expr), false);
    FUZZ_CHECK(value && *value && **value == f.filter.expr);
  }
  for (const PathLogic& l : req.logic) {
    const auto tree = grammar::ParseLogicTree("", FormatLogicTree(l.tree));
    FUZZ_CHECK(tree && *tree == l.tree);
  }
  for (const PathOrder& o : req.order) {
    const auto terms = grammar::ParseOrder(FormatOrder(o.terms));
    FUZZ_CHECK(terms && *terms == o.terms);
  }
  FUZZ_CHECK(req.range.offset >= 0);
  FUZZ_CHECK(!req.range.limit || *req.range.limit >= 0);
}

void Check(std::string_view query, const RequestHeaders& headers, const RequestTarget& target) {
  const auto first = ParseQuery(query, headers, target);
  const auto second = ParseQuery(query, headers, target);
  FUZZ_CHECK(first.has_value() == second.has_value());
  if (!first) {
    FUZZ_CHECK(first.error() == second.error());
    CheckError(first.error());
    return;
  }
  FUZZ_CHECK(*first == *second);
  CheckRoundTrips(*first);
  if (!target.rpc) FUZZ_CHECK(first->rpc_args.empty());
}

void CheckMediaTypes(std::string_view text) {
  for (const MediaType& mt : ParseAccept(text)) {
    if (mt.kind == MediaTypeKind::kPlan || (mt.kind == MediaTypeKind::kOther && mt.other.empty())) continue;
    FUZZ_CHECK(DecodeMediaType(ToMime(mt)) == mt);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = pgwarden::fuzz::AsView(data, size);
  const std::vector<std::string> schemas{"public", "v2"};

  // 1. The input as a query string.
  Check(in, {}, RequestTarget{Verb::kGet, false, {}});
  Check(in, {}, RequestTarget{Verb::kGet, true, schemas});
  Check(in, {}, RequestTarget{Verb::kPut, false, {}});

  // 2. The input as every header value.
  RequestHeaders headers;
  headers.prefer = {in, in};
  headers.range = in;
  headers.range_unit = in;
  headers.accept = in;
  headers.content_type = in;
  headers.accept_profile = in;
  headers.content_profile = in;
  Check("", headers, RequestTarget{Verb::kGet, false, {}});
  Check("", headers, RequestTarget{Verb::kPost, false, schemas});
  CheckMediaTypes(in);
  const Preferences prefs = ParsePreferences(headers.prefer);
  if (const auto e = StrictPreferencesError(prefs, false)) CheckError(*e);

  // 3. The grammar on the raw text (it expects decoded UTF-8, as ParseQuery hands it over).
  if (IsValidUtf8(in)) {
    if (auto s = grammar::ParseSelect(in)) {
      const auto again = grammar::ParseSelect(FormatSelect(*s));
      FUZZ_CHECK(again && *again == *s);
    } else {
      CheckError(s.error());
    }
    if (auto t = grammar::ParseLogicTree("or", in)) {
      const auto again = grammar::ParseLogicTree("", FormatLogicTree(*t));
      FUZZ_CHECK(again && *again == *t);
    } else {
      CheckError(t.error());
    }
    if (auto o = grammar::ParseOrder(in)) {
      const auto again = grammar::ParseOrder(FormatOrder(*o));
      FUZZ_CHECK(again && *again == *o);
    } else {
      CheckError(o.error());
    }
    if (auto v = grammar::ParseFilterValue(in, false); v && *v) {
      const auto again = grammar::ParseFilterValue(FormatFilterValue(**v), false);
      FUZZ_CHECK(again && *again && **again == **v);
    }
  }
  return 0;
}
