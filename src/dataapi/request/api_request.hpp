//! The typed form of a Data API request's query string and headers (PostgREST's ApiRequest + QueryParams),
//! produced by ParseQuery (query_params.hpp) with no database and no schema knowledge. Every name in here is
//! an unchecked client string: the planner checks it against the schema cache, and the SQL stage quotes it
//! (QuoteIdent) or sends it as a parameter; nothing here is ever pasted into SQL.
//!
//! Shapes follow PostgREST v13 (src/PostgREST/ApiRequest/Types.hs) so its semantics carry over one to one:
//! the select tree, filters with their embed path, logic trees, order terms, ranges per embed path,
//! preferences, media types and profiles.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::dataapi {

//! Embedded-resource path of a parameter: `clients.projects.name=eq.x` has path {"clients", "projects"}.
using EmbedPath = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------------------
// Fields and JSON paths

//! One `->` / `->>` step. PostgREST tells an array index (`->0`, `->-1`) from an object key (`->a`, `->"0"`).
struct JsonStep {
  enum class Arrow { kArrow, kDoubleArrow };  //!< `->` (json) / `->>` (text)
  enum class Kind { kKey, kIndex };
  Arrow arrow = Arrow::kArrow;
  Kind kind = Kind::kKey;
  std::string value;  //!< the key, or the index as written: optional '-' then ASCII digits

  friend bool operator==(const JsonStep&, const JsonStep&) = default;
};
using JsonPath = std::vector<JsonStep>;

//! A column (or computed field) with an optional JSON path: `data->a->>b`.
struct Field {
  std::string name;
  JsonPath json_path;

  friend bool operator==(const Field&, const Field&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// select=

enum class AggregateFunction { kSum, kAvg, kCount, kMax, kMin };
enum class JoinType { kLeft, kInner };

//! One node of the select tree.
//! - kField: a column/computed field (`alias:col->a::text`), `*` (field.name == "*"), an aggregate
//!   (`col.sum()::int`) or `count()` (field.name == "*", aggregate == kCount).
//! - kRelation: an embedded resource `alias:rel!hint!inner(children)`.
//! - kSpread: a spread embed `...rel!hint(children)` (never has an alias).
struct SelectItem {
  enum class Kind { kField, kRelation, kSpread };
  Kind kind = Kind::kField;

  // kField
  Field field;
  std::optional<AggregateFunction> aggregate;
  std::optional<std::string> aggregate_cast;  //!< `col.sum()::int`
  std::optional<std::string> cast;            //!< `col::text` (applied before the aggregate)

  // kRelation, kSpread
  std::string relation;
  std::optional<std::string> hint;  //!< after `!`: a foreign key name or a column
  std::optional<JoinType> join_type;
  std::vector<SelectItem> children;  //!< may be empty: `rel()` embeds for filtering only

  std::optional<std::string> alias;  //!< kField and kRelation

  friend bool operator==(const SelectItem&, const SelectItem&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// Filters

enum class FilterOperator {
  kEq,
  kNeq,
  kGt,
  kGte,
  kLt,
  kLte,
  kLike,
  kIlike,
  kMatch,
  kImatch,  // quantifiable (any/all), except kNeq
  kIn,
  kIs,
  kIsDistinct,
  kCs,
  kCd,
  kOv,
  kSl,
  kSr,
  kNxr,
  kNxl,
  kAdj,
  kFts,
  kPlfts,
  kPhfts,
  kWfts,
};
enum class Quantifier { kAny, kAll };
enum class IsValue { kNull, kNotNull, kTrue, kFalse, kUnknown };

//! The operator side of a filter: `not.like(any).{a*,b*}`, `in.(1,"a,b")`, `is.not_null`, `fts(english).cat`.
struct OpExpr {
  bool negated = false;
  FilterOperator op = FilterOperator::kEq;
  std::optional<Quantifier> quantifier;  //!< only for the quantifiable operators
  std::optional<std::string> language;   //!< only for the fts operators: `fts(english)`
  //! The value as the client wrote it after percent-decoding. A top-level filter keeps everything after the
  //! operator verbatim (quotes included: `eq."a"` compares with `"a"`); inside or=/and= a double-quoted
  //! value is unquoted and unescaped. For like/ilike every `*` has already been turned into `%`.
  //! Empty for kIn and kIs.
  std::string value;
  std::vector<std::string> list;      //!< kIn: the elements, unquoted and unescaped where they were quoted
  IsValue is_value = IsValue::kNull;  //!< kIs

  friend bool operator==(const OpExpr&, const OpExpr&) = default;
};

struct Filter {
  Field field;
  OpExpr expr;

  friend bool operator==(const Filter&, const Filter&) = default;
};

//! `clients.projects.id=gt.5`: path {"clients", "projects"}, filter on `id`.
struct PathFilter {
  EmbedPath path;
  Filter filter;

  friend bool operator==(const PathFilter&, const PathFilter&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// or= / and=

enum class LogicOperator { kAnd, kOr };

//! `or=(a.eq.1,not.and(b.gt.2,c.is.null))`: an expression node or a filter leaf.
struct LogicTree {
  enum class Kind { kExpr, kFilter };
  Kind kind = Kind::kExpr;
  // kExpr
  bool negated = false;
  LogicOperator op = LogicOperator::kAnd;
  std::vector<LogicTree> children;  //!< at least one
  // kFilter (the field may name an embedded resource, as in `or=(rel.not.is.null,...)`)
  Filter filter;

  friend bool operator==(const LogicTree&, const LogicTree&) = default;
};

struct PathLogic {
  EmbedPath path;  //!< `rel.or=(...)` applies inside the embed `rel`
  LogicTree tree;

  friend bool operator==(const PathLogic&, const PathLogic&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// order=

enum class OrderDirection { kAsc, kDesc };
enum class OrderNulls { kFirst, kLast };

//! `name.desc.nullslast`, or ordering by a to-one embed's column: `clients(name).asc`.
struct OrderTerm {
  std::optional<std::string> relation;  //!< set for `rel(col)` terms
  Field field;
  std::optional<OrderDirection> direction;
  std::optional<OrderNulls> nulls;

  friend bool operator==(const OrderTerm&, const OrderTerm&) = default;
};

struct PathOrder {
  EmbedPath path;  //!< `rel.order=...` orders the embed `rel`
  std::vector<OrderTerm> terms;

  friend bool operator==(const PathOrder&, const PathOrder&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// limit / offset / Range

//! Rows [offset, offset + limit); no limit = to the end. `limit == 0` is PostgREST's "limit zero" range
//! (an empty page, still counted). Embedded ranges may hold values PostgREST leaves to Postgres to reject
//! (a negative offset or limit); the top-level range never does.
struct RowRange {
  std::int64_t offset = 0;
  std::optional<std::int64_t> limit;

  bool IsAll() const { return offset == 0 && !limit; }
  friend bool operator==(const RowRange&, const RowRange&) = default;
};

struct PathRange {
  EmbedPath path;
  RowRange range;

  friend bool operator==(const PathRange&, const PathRange&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// Prefer

enum class PreferReturn { kMinimal, kHeadersOnly, kRepresentation };
enum class PreferCount { kExact, kPlanned, kEstimated };
enum class PreferResolution { kMergeDuplicates, kIgnoreDuplicates };
enum class PreferMissing { kDefault, kNull };
enum class PreferHandling { kStrict, kLenient };
enum class PreferTx { kCommit, kRollback };

//! RFC 7240 preferences as PostgREST reads them: all Prefer headers, split on ',', each value trimmed; for
//! each kind the first recognised value wins.
struct Preferences {
  std::optional<PreferReturn> returning;
  std::optional<PreferCount> count;
  std::optional<PreferResolution> resolution;
  std::optional<PreferMissing> missing;
  std::optional<PreferHandling> handling;
  //! As asked; whether db-tx-end allows the client to choose is the caller's decision.
  std::optional<PreferTx> tx;
  bool params_single_object = false;  //!< deprecated `params=single-object`
  //! The first `timezone=` value, not yet checked against pg_timezone_names (see InvalidPreferences).
  std::optional<std::string> timezone;
  //! The first `max-affected=` value when it is an integer (a malformed one is ignored, as PostgREST does).
  std::optional<std::int64_t> max_affected;
  //! Every preference token in order (trimmed), for PGRST122's list and Preference-Applied.
  std::vector<std::string> tokens;

  friend bool operator==(const Preferences&, const Preferences&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// Media types (Accept, Content-Type)

enum class MediaTypeKind {
  kApplicationJson,  //!< application/json, also application/vnd.pgrst.array+json without nulls=stripped
  kGeoJson,          //!< application/geo+json
  kTextCsv,
  kTextPlain,
  kTextXml,
  kOpenApi,     //!< application/openapi+json
  kUrlEncoded,  //!< application/x-www-form-urlencoded
  kOctetStream,
  kAny,                //!< */*
  kOther,              //!< anything else: `other` holds the type (custom media type handlers)
  kArrayJsonStripped,  //!< application/vnd.pgrst.array+json;nulls=stripped
  kSingularJson,       //!< application/vnd.pgrst.object+json[;nulls=stripped]
  kPlan,               //!< application/vnd.pgrst.plan[+json|+text]
};
enum class PlanFormat { kJson, kText };
enum class PlanOption { kAnalyze, kVerbose, kSettings, kBuffers, kWal };

//! PostgREST's MediaType (MediaType.hs decodeMediaType).
struct MediaType {
  MediaTypeKind kind = MediaTypeKind::kApplicationJson;
  bool nulls_stripped = false;      //!< kSingularJson
  std::string other;                //!< kOther
  std::vector<MediaType> plan_for;  //!< kPlan: exactly one element, the `for="..."` type (default JSON)
  PlanFormat plan_format = PlanFormat::kText;
  std::vector<PlanOption> plan_options;

  friend bool operator==(const MediaType&, const MediaType&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// The request

//! A query parameter as decoded (`+` is a space, `%XX` escapes decoded, UTF-8 checked); value is nullopt
//! for a bare `key` without '='.
struct QueryParam {
  std::string key;
  std::optional<std::string> value;

  friend bool operator==(const QueryParam&, const QueryParam&) = default;
};

//! A GET/HEAD /rpc/<fn> argument: a parameter whose value is not a filter expression (`?a=1&b=x`).
struct RpcArg {
  std::string name;
  std::string value;

  friend bool operator==(const RpcArg&, const RpcArg&) = default;
};

struct ApiRequest {
  //! Every parameter in query order: the other readings (RPC arguments, request.get) start from here.
  std::vector<QueryParam> params;
  //! The query string sorted by key with repeated keys joined by ',' and re-encoded, as PostgREST's
  //! qsCanonical (used for Content-Location).
  std::string canonical_query;

  std::string select_raw = "*";  //!< the first `select` value ("*" when absent)
  std::vector<SelectItem> select;

  std::vector<PathFilter> filters;  //!< every filter with an operator, root and embedded, in query order
  std::vector<RpcArg> rpc_args;     //!< only for GET/HEAD on /rpc/: parameters without an operator
  std::vector<PathLogic> logic;     //!< every or=/and= (and `rel.not.or=`...), in query order
  std::vector<PathOrder> order;     //!< every order= / rel.order=, in query order

  //! The top-level range: limit/offset intersected with the Range header (GET only).
  RowRange range;
  //! `rel.limit` / `rel.offset`, one per path (the last value of a repeated key wins).
  std::vector<PathRange> embedded_ranges;

  std::optional<std::vector<std::string>> columns;      //!< `columns=` (duplicates removed, order kept)
  std::optional<std::vector<std::string>> on_conflict;  //!< `on_conflict=`

  Preferences prefer;
  //! Accept, most preferred first (q-values, then specificity); {kAny} when there is no Accept header.
  std::vector<MediaType> accept;
  MediaType content_type;                 //!< Content-Type; application/json when absent
  std::optional<std::string> range_unit;  //!< Range-Unit as sent (PostgREST only knows "items")

  std::optional<std::string> accept_profile;
  std::optional<std::string> content_profile;
  //! The schema the request targets: the profile header that applies to the verb (Content-Profile for
  //! POST/PATCH/PUT/DELETE, Accept-Profile otherwise) when present, else the first configured schema.
  std::string schema;
  //! PostgREST's "negotiated by profile": a profile header was used or several schemas are configured
  //! (then responses carry Content-Profile).
  bool negotiated_by_profile = false;

  friend bool operator==(const ApiRequest&, const ApiRequest&) = default;
};

// ---------------------------------------------------------------------------------------------------------
// Inputs

//! The header values the stage reads, owned by the caller (the HTTP layer finds them case-insensitively).
struct RequestHeaders {
  std::vector<std::string_view> prefer;   //!< every Prefer header value, in order
  std::optional<std::string_view> range;  //!< the first Range header ("0-9", "5-")
  std::optional<std::string_view> range_unit;
  std::optional<std::string_view> accept;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> accept_profile;
  std::optional<std::string_view> content_profile;
};

enum class Verb { kGet, kHead, kPost, kPatch, kPut, kDelete, kOptions };

//! What the stage needs to know about the route and configuration (from the path, the method and db-schemas,
//! not from the database).
struct RequestTarget {
  Verb verb = Verb::kGet;
  bool rpc = false;  //!< the path is /rpc/<function>
  //! db-schemas, the first being the default. Empty: profiles are recorded but not checked, and `schema`
  //! stays empty unless a profile header names one.
  std::span<const std::string> schemas;
  //! Embedding levels select= may nest (DA-08); 0 = the grammar's own limit (grammar::kMaxNesting).
  int max_embed_depth = 0;
};

}  // namespace pgwarden::dataapi
