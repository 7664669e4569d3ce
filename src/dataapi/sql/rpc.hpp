//! /rpc/<function>: reading the call's arguments, choosing the function among its overloads and writing the
//! call, as PostgREST v13 does (ApiRequest payload -> Plan.findProc/callPlan -> QueryBuilder.callPlanToQuery).
//! Pure: (ApiRequest, body, RoutineCache, SchemaCache) -> Statement or ApiError.
//!
//! The arguments always travel as one JSON parameter ($1) read by json_to_recordset with each parameter's
//! type (PostgREST's typing: a JSON array fills an array parameter, `"1"` an integer one), except a single
//! unnamed json/jsonb/text/xml/bytea parameter, which receives the whole body (`fn($1::type)`). The call is a
//! materialized CTE (so it runs once, also when a count reads it again) and the function's rows are then read
//! like a relation by BuildRead (select, filters, order, range, embedding), with the call as its FROM item.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"
#include "dataapi/request/media_type.hpp"
#include "dataapi/schema/routines.hpp"
#include "dataapi/schema/schema_cache.hpp"
#include "dataapi/sql/builder.hpp"

namespace pgwarden::dataapi {

//! The arguments as the request carries them (PostgREST's Payload and the set of argument names).
struct RpcArguments {
  enum class Kind {
    kPairs,  //!< GET/HEAD query arguments, or a POST x-www-form-urlencoded body: name/value pairs
    kJson,   //!< a POST JSON body (object, array of objects, or `columns=` with the body kept as sent)
    kRaw,    //!< a POST text/plain, text/xml or application/octet-stream body, for a single unnamed parameter
  };
  Kind kind = Kind::kPairs;
  std::vector<std::pair<std::string, std::string>> pairs;  //!< kPairs, in request order
  std::string body;                                        //!< kJson (normalized: "{}" for an empty body), kRaw
  std::set<std::string> keys;                              //!< the argument names (sorted, unique)
  bool post = false;                                       //!< POST (PostgREST's isInvPost)
};

//! Reads the arguments: GET/HEAD from `api.rpc_args`; POST from the body by Content-Type. PGRST102 for a body
//! that is not JSON ("Empty or invalid json"), an array whose objects have different keys ("All object keys
//! must match") or an unsupported Content-Type.
ApiResult<RpcArguments> ReadRpcArguments(const ApiRequest& api, Verb verb, std::string_view body);

//! Plan.findProc: the overload whose parameters match the argument names (required ones present, the rest
//! among the optional ones), else a single unnamed json/jsonb/text/xml/bytea parameter fitting the POST
//! Content-Type. PGRST202 (404, with PostgREST's message, details and fuzzy hint) when none fits, PGRST203
//! (300) when several do.
ApiResult<const Routine*> FindRoutine(const RoutineCache& routines, std::string_view schema, std::string_view name,
                                      const RpcArguments& args, const ApiRequest& api);

//! What the function's rows look like when read as a relation: the cached relation named after the returned
//! row type (in the function's schema, so embedding finds its relationships, as PostgREST), else a synthetic
//! one with the OUT/TABLE columns or the type's attributes; scalar results are the column `pgrst_scalar`.
Relation ResultRelation(const Routine& routine, const SchemaCache* cache);

//! The call as a SELECT of the function's rows (`SELECT pgrst_call.* FROM ... "s"."fn"(...) pgrst_call`),
//! using $1 for `args_param` (the JSON arguments or the raw body). Exposed for tests.
struct RpcCall {
  std::string sql;
  std::optional<std::string> args_param;  //!< $1's value (nullopt: SQL NULL); unused when the call takes none
};
RpcCall BuildCall(const Routine& routine, const RpcArguments& args, const ApiRequest& api);

//! The body a call produces (the negotiated media type).
enum class RpcBody {
  kJson,        //!< application/json
  kSingular,    //!< application/vnd.pgrst.object+json
  kScalarText,  //!< a media type domain the function returns (`returns "text/plain"`): the value as text
  kCsv,         //!< text/csv (PostgREST's asCsvF: header from the call's first row, then one line per row)
};

//! The main statement: the call, then the read of its rows (BuildRead with `ctx.from_sql`/`leading_params` set
//! here), returning (total_result_set, page_total, body) where a JSON body is PostgREST's: the scalar itself
//! for a function returning one value, an array of values for a set of scalars, an object for a single row
//! type, else an array of rows (an object for kSingular).
ApiResult<Statement> BuildRpc(const ApiRequest& api, const Routine& routine, const RpcArguments& args,
                              const BuildContext& ctx, RpcBody output);
//! The same with a JSON body (kSingular when `singular`).
inline ApiResult<Statement> BuildRpc(const ApiRequest& api, const Routine& routine, const RpcArguments& args,
                                     const BuildContext& ctx, bool singular) {
  return BuildRpc(api, routine, args, ctx, singular ? RpcBody::kSingular : RpcBody::kJson);
}

//! PGRST202 as PostgREST builds it (exposed for tests). `usable`: when given, the names of the functions of
//! `schema` the caller may execute; the "Perhaps you meant" hint then names no other function (EN-04).
ApiError NoRpcError(const RoutineCache& routines, std::string_view schema, std::string_view name,
                    const RpcArguments& args, const ApiRequest& api,
                    const std::vector<std::string>* usable = nullptr);

//! Data.FuzzySet's getOne (gram sizes 2..3, Levenshtein re-ranking, minimum score 0.33): the closest entry of
//! `set` to `value`, if any is close enough (exposed for tests).
std::optional<std::string> FuzzyGetOne(const std::vector<std::string>& set, std::string_view value);

}  // namespace pgwarden::dataapi
