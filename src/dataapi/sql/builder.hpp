//! Plan -> SQL, the only place that writes Data API SQL. Pure: (ApiRequest, Relation) -> Statement. Client
//! values only as $n parameters; identifiers only through QuoteIdent after the schema cache confirmed them;
//! casts and JSON indexes only after a strict syntax check. Every main statement returns one row:
//! (total_result_set bigint, page_total bigint, body text), PostgREST's result contract; write statements add
//! response_inserted (int, see BuildInsert). Data representations (implicit casts between a domain and
//! json/text, SchemaCache::Representation) format selected values and parse filter and body values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"
#include "dataapi/schema/schema_cache.hpp"

namespace pgwarden::dataapi {

struct Statement {
  std::string sql;
  std::vector<std::optional<std::string>> params;
  //! Prefer: count=planned|estimated on a read: `EXPLAIN (FORMAT JSON) <PostgREST's count query>` with its own
  //! parameters, to run after `sql` in the same transaction; PlanRows() reads its single text cell and
  //! CountTotal() combines it with the main statement's total_result_set.
  std::optional<std::string> explain_sql = std::nullopt;
  std::vector<std::optional<std::string>> explain_params = {};
};

std::string QuoteIdent(std::string_view ident);

//! What every statement builder needs beside the request.
struct BuildContext {
  const SchemaCache* cache = nullptr;  //!< for embedding: relationships and the embedded relations
  std::optional<std::int64_t> max_rows;
  bool aggregates_enabled = false;
  //! RPC: read from this FROM item instead of the relation (e.g. `"test"."fn"("a" := $1::int)`), whose
  //! rows have `rel`'s columns; its parameters are `leading_params` ($1..$n), numbered before the read's own.
  std::string from_sql;
  std::vector<std::optional<std::string>> leading_params;
  //! The body aggregate over the result rows `_postgrest_t` for a media type other than JSON (CSV, GeoJSON,
  //! a custom aggregate); empty = JSON (array, or the single object for vnd.pgrst.object+json).
  std::string body_sql;
};

//! The top plan's "Plan Rows" of an EXPLAIN (FORMAT JSON) result; nullopt when it cannot be read.
std::optional<std::int64_t> PlanRows(std::string_view explain_json);
//! The total PostgREST reports (Query.hs resultSetWTotal): planned = the estimate; estimated = the statement's
//! count (limited to max-rows + 1) unless it exceeds max-rows (or there is no max-rows), then the larger of it
//! and the estimate; exact/none = the statement's count.
std::optional<std::int64_t> CountTotal(std::optional<PreferCount> count, std::optional<std::int64_t> statement_total,
                                       std::optional<std::int64_t> plan_rows, std::optional<std::int64_t> max_rows);

//! GET/HEAD on a relation (or a function result, see BuildContext::from_sql): select with embedding,
//! filters, logic trees, order, limit/offset, optional exact count.
ApiResult<Statement> BuildRead(const ApiRequest& req, const Relation& rel, const BuildContext& ctx);
//! POST: insert `body` (JSON object or array of objects with the same keys, `columns=`, CSV or a form, by
//! Content-Type). Write statements return a fourth column `response_inserted` (int): for a merge-duplicates
//! upsert (POST resolution=merge-duplicates on a key, PUT) the number of rows inserted rather than updated,
//! else NULL.
ApiResult<Statement> BuildInsert(const ApiRequest& req, const Relation& rel, std::string_view body, const BuildContext& ctx);
//! PATCH: update the rows the filters select with the JSON object `body`.
ApiResult<Statement> BuildUpdate(const ApiRequest& req, const Relation& rel, std::string_view body, const BuildContext& ctx);
//! DELETE the rows the filters select.
ApiResult<Statement> BuildDelete(const ApiRequest& req, const Relation& rel, const BuildContext& ctx);

}  // namespace pgwarden::dataapi
