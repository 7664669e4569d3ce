//! PostgREST's query-parameter grammar (src/PostgREST/ApiRequest/QueryParams.hs, v13), one function per
//! parameter kind. Each takes an already percent-decoded, UTF-8-valid value and returns the typed value or the
//! PGRST100 error PostgREST gives for it, word for word: message "\"failed to parse select parameter (...)\"
//! (line 1, column 7)", details "unexpected \"(\" expecting ...".
//!
//! As in PostgREST, a parse stops at the first character the grammar cannot continue with, and what follows
//! is ignored as long as the part read is complete (`select=id)x` selects `id`; `id=in.(1,2)x` is in (1,2)).
//! Nesting of select embeds and logic trees is limited to kMaxNesting levels (PostgREST has no limit; the
//! parser is recursive and must not exhaust the stack of the thread it runs on).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"

namespace pgwarden::dataapi::grammar {

inline constexpr int kMaxNesting = 64;

//! select= (pFieldForest). An empty value is an empty list. `max_depth` (1..kMaxNesting; anything else means
//! kMaxNesting) caps how deep embedded resources nest: `a(b(c))` is 2 levels; one more is PGRST100 with the
//! details "embedding nested deeper than N levels" (DA-08).
ApiResult<std::vector<SelectItem>> ParseSelect(std::string_view value, int max_depth = kMaxNesting);

//! columns= / on_conflict= (pColumns); `param` names it in the message ("columns", "on_conflict").
ApiResult<std::vector<std::string>> ParseColumns(std::string_view value, std::string_view param);

//! A filter, order or range key (pTreePath): `rel.sub.col->a` is ({"rel","sub"}, col->a).
ApiResult<std::pair<EmbedPath, Field>> ParseTreePath(std::string_view key);

//! A filter value (pOpExpr pSingleVal): `not.eq.5`. With `rpc_read`, a value that is not an operator
//! expression yields nullopt (an RPC argument) instead of an error, unless the expression started and broke
//! off (`in.x` is still an error), as in PostgREST.
ApiResult<std::optional<OpExpr>> ParseFilterValue(std::string_view value, bool rpc_read);

//! order= (pOrder).
ApiResult<std::vector<OrderTerm>> ParseOrder(std::string_view value);

//! An or=/and= key (pLogicPath): `rel.not.or` is ({"rel"}, "not.or").
ApiResult<std::pair<EmbedPath, std::string>> ParseLogicPath(std::string_view key);

//! An or=/and= value, parsed as `op` followed by `value` (pLogicTree on "or(...)" / "not.and(...)").
ApiResult<LogicTree> ParseLogicTree(std::string_view op, std::string_view value);

//! Applies PostgREST's like/ilike rule to a value: every `*` becomes `%`.
std::string LikeStarsToPercent(std::string value);

}  // namespace pgwarden::dataapi::grammar
