//! GET / of the Data API: PostgREST's OpenAPI 2.0 document of the exposed schema (or db-root-spec).
//!
//! PostgREST v13 (App.hs, Query.openApiQuery): the Accept header must allow application/openapi+json,
//! application/json or */* (PGRST107); openapi-mode=disabled answers PGRST126; otherwise one read-only
//! transaction as the request's role (pre-request included) reads the catalogs: follow-privileges keeps the
//! tables/views the role has any privilege on and the functions it may execute, ignore-privileges keeps
//! everything of the schema. Primary and foreign keys come from the schema cache, as in PostgREST.
//! With db-root-spec, GET / calls that function instead, like GET /rpc/<fn>.
#include <algorithm>

#include "core/text.hpp"
#include "dataapi/openapi_document.hpp"
#include "dataapi/request/preferences.hpp"
#include "dataapi/service.hpp"
#include "dataapi/sql/rpc.hpp"

namespace pgwarden::dataapi {
namespace bhttp = http::bhttp;

namespace {

// The catalog reads of SchemaCache.hs (tablesSqlQuery's columns, accessibleTables, accessibleFuncs /
// allFunctions, schemaDescription) for one schema ($1), as one row (total, page, body) whose body is a JSON
// array [routines | null, _, schema description, tables, routines | null].
//
// PostgREST reads tables (and, with ignore-privileges, functions) into its schema cache with an empty
// search_path, so their types print schema-qualified ("test.enum_menagerie_type", defaults like
// 'foo'::test.color), while follow-privileges reads the functions at request time under the request's
// search_path ("enum_menagerie_type"). The same happens here within one statement: json_build_array
// evaluates its arguments in order, the functions first (follow-privileges), then set_config empties the
// search_path for the rest of this transaction, then the tables (and the functions for ignore-privileges).
// Names in the statement are resolved when it is parsed; only the text output of types and expressions
// depends on the search_path at run time.
constexpr std::string_view kRoutinesSql = R"sql(
  (SELECT coalesce(json_agg(json_build_array(p.proname, d.description, p.provolatile, coalesce(a.args, '[]'::json))
                            ORDER BY p.proname, p.oid), '[]'::json)
   FROM pg_catalog.pg_proc p
   JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
   LEFT JOIN pg_catalog.pg_description d ON d.objoid = p.oid
   LEFT JOIN LATERAL (
     SELECT json_agg(json_build_array(coalesce(_.name, ''), _.type::regtype::text,
                                      _.idx <= (p.pronargs - p.pronargdefaults), coalesce(_.mode = 'v', false))
                     ORDER BY _.idx) AS args,
            CASE count(*) - count(_.name)
              WHEN 0 THEN true
              WHEN 1 THEN (array_agg(_.type))[1] IN ('bytea'::regtype, 'json'::regtype, 'jsonb'::regtype,
                                                     'text'::regtype, 'xml'::regtype)
              ELSE false
            END AS callable
     FROM unnest(p.proargnames, p.proargtypes, p.proargmodes) WITH ORDINALITY AS _(name, type, mode, idx)
     WHERE _.type IS NOT NULL
   ) a ON true
   WHERE pn.nspname = $1 AND p.prokind = 'f' AND p.prorettype <> 'pg_catalog.trigger'::regtype
     AND coalesce(a.callable, true) @PRIV@))sql";

constexpr std::string_view kRoutinePrivilege = "AND has_function_privilege(p.oid, 'execute')";

constexpr std::string_view kTablesSql = R"sql(
  (SELECT coalesce(json_agg(json_build_array(
      c.relname, d.description, c.relkind IN ('v','m'),
      c.relkind IN ('r','p') OR (c.relkind IN ('v','f') AND (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8),
      c.relkind IN ('r','p') OR (c.relkind IN ('v','f') AND (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4),
      c.relkind IN ('r','p') OR (c.relkind IN ('v','f') AND (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16),
      coalesce(cols.cols, '[]'::json)) ORDER BY c.relname), '[]'::json)
   FROM pg_catalog.pg_class c
   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0
   LEFT JOIN LATERAL (
     SELECT json_agg(json_build_array(
         a.attname,
         cd.description,
         NOT (a.attnotnull OR t.typtype = 'd' AND t.typnotnull),
         CASE
           WHEN t.typtype = 'd' THEN
             CASE WHEN nbt.nspname = 'pg_catalog' THEN format_type(t.typbasetype, NULL)
                  ELSE format_type(a.atttypid, a.atttypmod) END
           ELSE
             CASE WHEN nt.nspname = 'pg_catalog' THEN format_type(a.atttypid, NULL)
                  ELSE format_type(a.atttypid, a.atttypmod) END
         END,
         information_schema._pg_char_max_length(information_schema._pg_truetypid(a.*, t.*),
                                                information_schema._pg_truetypmod(a.*, t.*))::integer,
         CASE
           WHEN t.typbasetype != 0 THEN pg_get_expr(t.typdefaultbin, 0)
           WHEN a.attidentity = 'd' THEN format('nextval(%s)', quote_literal(seqsch.nspname || '.' || seqclass.relname))
           WHEN a.attgenerated = 's' THEN NULL
           ELSE pg_get_expr(ad.adbin, ad.adrelid)::text
         END,
         coalesce((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder)
                   FROM pg_catalog.pg_enum e
                   WHERE e.enumtypid = (SELECT et.oid FROM pg_catalog.pg_type et
                                        WHERE et.typname = coalesce(bt.typname, t.typname) AND et.typtype = 'e'
                                        ORDER BY et.typnamespace LIMIT 1)), '{}')
       ) ORDER BY a.attnum) AS cols
     FROM pg_catalog.pg_attribute a
     LEFT JOIN pg_catalog.pg_description cd ON cd.objoid = a.attrelid AND cd.objsubid = a.attnum
     LEFT JOIN pg_catalog.pg_attrdef ad ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
     JOIN pg_catalog.pg_type t ON a.atttypid = t.oid
     JOIN pg_catalog.pg_namespace nt ON t.typnamespace = nt.oid
     LEFT JOIN (pg_catalog.pg_type bt JOIN pg_catalog.pg_namespace nbt ON bt.typnamespace = nbt.oid)
       ON t.typtype = 'd' AND t.typbasetype = bt.oid
     LEFT JOIN pg_catalog.pg_depend dep
       ON dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
     LEFT JOIN pg_catalog.pg_class seqclass ON seqclass.oid = dep.objid
     LEFT JOIN pg_catalog.pg_namespace seqsch ON seqsch.oid = seqclass.relnamespace
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   ) cols ON true
   WHERE c.relkind IN ('v','r','m','f','p') AND n.nspname = $1 AND NOT c.relispartition @PRIV@))sql";

constexpr std::string_view kTablePrivilege =
    "AND (pg_has_role(c.relowner, 'USAGE') "
    "OR has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') "
    "OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))";

constexpr std::string_view kDescriptionSql = R"sql(
  (SELECT d.description FROM pg_catalog.pg_namespace n
   LEFT JOIN pg_catalog.pg_description d ON d.objoid = n.oid
   WHERE n.nspname = $1 LIMIT 1))sql";

std::string WithPrivilege(std::string_view sql, std::string_view privilege) {
  std::string out(sql);
  const auto at = out.find("@PRIV@");
  out.replace(at, 6, privilege);
  return out;
}

std::string CatalogSql(bool follow_privileges) {
  const std::string routines =
      WithPrivilege(kRoutinesSql, follow_privileges ? kRoutinePrivilege : std::string_view());
  const std::string tables = WithPrivilege(kTablesSql, follow_privileges ? kTablePrivilege : std::string_view());
  std::string sql = "SELECT NULL::bigint, 1::bigint, json_build_array(";
  sql += follow_privileges ? routines : std::string("NULL::json");
  sql += ",\n  set_config('search_path', '', true),";
  sql += kDescriptionSql;
  sql += ",";
  sql += tables;
  sql += ",\n";
  sql += follow_privileges ? std::string("NULL::json") : routines;
  sql += ")::text";
  return sql;
}

// PostgREST's makeProperty notes: the primary key from the cached table, the foreign key from the first
// single-column many-to-one (or the owning side of a one-to-one) relationship on the column, tables before
// views.
void AttachKeys(OpenApiTable& table, const SchemaCache& cache, const std::string& schema) {
  const Relation* rel = cache.Find(schema, table.name);
  const QualifiedName qn{schema, table.name};
  std::vector<const Relationship*> rels;
  for (const auto& r : cache.RelationshipsFrom(qn, schema))
    if (!r.computed) rels.push_back(&r);
  std::stable_sort(rels.begin(), rels.end(), [](const Relationship* a, const Relationship* b) {
    return !a->foreign_table_is_view && b->foreign_table_is_view;
  });
  for (auto& col : table.columns) {
    if (rel)
      col.primary_key = std::find(rel->primary_key.begin(), rel->primary_key.end(), col.name) != rel->primary_key.end();
    for (const Relationship* r : rels) {
      const bool owning = r->cardinality == Cardinality::kM2O || (r->cardinality == Cardinality::kO2O && !r->o2o_is_parent);
      if (owning && r->columns.size() == 1 && r->columns[0].first == col.name) {
        col.foreign_key = std::make_pair(r->foreign_table.name, r->columns[0].second);
        break;
      }
    }
  }
}

ApiError MediaTypeError(const std::vector<MediaType>& accept) {
  std::string list;
  for (const auto& mt : accept) list += (list.empty() ? "" : ", ") + ToMime(mt);
  return MakeApiError(406, "PGRST107", "None of these media types are available: " + list);
}

enum class RootOutput { kOpenApi, kJson, kSingular };

// db-root-spec: Plan.negotiateContent for the function. application/openapi+json is the function's own media
// type (a function returning the "application/openapi+json" domain, as such functions are written).
std::optional<RootOutput> NegotiateRootSpec(const std::vector<MediaType>& accept) {
  for (const auto& mt : accept) {
    switch (mt.kind) {
      case MediaTypeKind::kOpenApi: return RootOutput::kOpenApi;
      case MediaTypeKind::kApplicationJson:
      case MediaTypeKind::kArrayJsonStripped:
      case MediaTypeKind::kAny: return RootOutput::kJson;
      case MediaTypeKind::kSingularJson: return RootOutput::kSingular;
      default: break;
    }
  }
  return std::nullopt;
}

}  // namespace

boost::asio::awaitable<http::Response> DataApiService::HandleRoot(http::Request& req) {
  const auto method = req.raw.method();

  if (cfg_.root_spec) {
    // The root is the function: /rpc/<fn> answers unless the client asks for the function's own media type
    // or the name is schema-qualified (then the call is made here, the same way).
    const std::string& name = *cfg_.root_spec;
    const auto dot = name.find('.');
    const bool own_call_method = method == bhttp::verb::get || method == bhttp::verb::head || method == bhttp::verb::post;
    ApiResult<Prepared> prepared = ApiError{};
    bool own = false;
    if (own_call_method) {
      prepared = Prepare(req, true);
      if (!prepared) co_return Error(req, prepared.error());
      own = dot != std::string::npos || NegotiateRootSpec(prepared->api.accept) == RootOutput::kOpenApi;
    }
    if (!own) {
      std::string fn = dot == std::string::npos ? name : name.substr(dot + 1);
      auto res = co_await HandleRpc(req, std::move(fn));
      co_return res;
    }
    const Prepared& p = *prepared;
    const ApiRequest& api = p.api;
    const std::string fn_schema = dot == std::string::npos ? p.schema : name.substr(0, dot);
    const std::string fn_name = dot == std::string::npos ? name : name.substr(dot + 1);
    auto args = ReadRpcArguments(api, p.verb, req.raw.body());
    if (!args) co_return Error(req, args.error());
    auto found = FindRoutine(p.snapshot->Routines(), fn_schema, fn_name, *args, api);
    if (!found) co_return Error(req, found.error());
    const Routine& routine = **found;
    const auto output = NegotiateRootSpec(api.accept);
    if (!output) co_return Error(req, MediaTypeError(api.accept));
    if (auto strict = StrictPreferencesError(api.prefer, true)) co_return Error(req, *strict);
    const bool singular = *output == RootOutput::kSingular;
    const BuildContext ctx = Context(p);
    auto stmt = BuildRpc(api, routine, *args, ctx, singular);
    if (!stmt) co_return Error(req, stmt.error());
    const bool read = p.verb == Verb::kGet || p.verb == Verb::kHead;
    ExecOptions opts;
    opts.read_only = read || routine.volatility != Volatility::kVolatile;
    opts.singular = singular;
    auto outcome = co_await Execute(req, p, *stmt, opts);
    if (!outcome) co_return Error(req, outcome.error());
    http::Response res;
    if (routine.ReturnsVoid()) {
      res = http::MakeResponse(req, bhttp::status::no_content);
    } else {
      const std::string_view content_type =
          *output == RootOutput::kOpenApi ? std::string_view("application/openapi+json; charset=utf-8")
          : singular                      ? std::string_view("application/vnd.pgrst.object+json; charset=utf-8")
                                          : std::string_view("application/json; charset=utf-8");
      std::string body = p.verb == Verb::kHead ? std::string() : outcome->body;
      res = http::MakeResponse(req, bhttp::status::ok, std::move(body), content_type);
    }
    // As for /rpc/: the rows of this page (a single value is row 0) and the total when counted.
    const std::int64_t lower = api.range.offset;
    const std::int64_t upper = lower + outcome->page - 1;
    res.set(bhttp::field::content_range,
            (lower <= upper ? std::to_string(lower) + "-" + std::to_string(upper) : std::string("*")) + "/" +
                (outcome->total ? std::to_string(*outcome->total) : std::string("*")));
    Prepared shown = p;
    shown.api.prefer.returning.reset();
    shown.api.prefer.resolution.reset();
    shown.api.prefer.missing.reset();
    auto finished = Finish(req, shown, *outcome, std::move(res));
    if (!finished) co_return Error(req, finished.error());
    co_return std::move(*finished);
  }

  // PostgREST's order: the JWT, the schema (Accept-Profile, PGRST106), the method, the query string.
  auto prepared = Prepare(req, false);
  if (!prepared) co_return Error(req, prepared.error());
  const Prepared& p = *prepared;
  if (method == bhttp::verb::options) {
    // Response.SchemaInfoPlan (respondInfo).
    auto res = http::MakeResponse(req, bhttp::status::ok);
    res.set(bhttp::field::allow, "OPTIONS,GET,HEAD");
    res.set(bhttp::field::access_control_allow_origin, "*");
    co_return res;
  }
  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    co_return Error(req, MakeApiError(405, "PGRST117",
                                      "Unsupported HTTP method: " + std::string(req.raw.method_string())));
  }
  // Plan.inspectPlan: the document is produced as application/openapi+json for any of these.
  const bool acceptable = std::any_of(p.api.accept.begin(), p.api.accept.end(), [](const MediaType& mt) {
    return mt.kind == MediaTypeKind::kOpenApi || mt.kind == MediaTypeKind::kApplicationJson ||
           mt.kind == MediaTypeKind::kAny;
  });
  if (!acceptable) co_return Error(req, MediaTypeError(p.api.accept));
  if (cfg_.openapi_mode == "disabled") {
    co_return Error(req, MakeApiError(404, "PGRST126", "Root endpoint metadata is disabled"));
  }

  const bool follow = cfg_.openapi_mode != "ignore-privileges";
  Statement stmt;
  stmt.sql = CatalogSql(follow);
  stmt.params.emplace_back(p.schema);
  ExecOptions opts;
  opts.read_only = true;
  auto outcome = co_await Execute(req, p, stmt, opts);
  if (!outcome) co_return Error(req, outcome.error());
  auto catalog = ParseOpenApiCatalog(outcome->body);
  if (!catalog) co_return Error(req, MakeApiError(500, "PGRST000", "Could not read the catalogs for the OpenAPI document"));

  // Only the relations the schema cache knows are part of the API (PostgREST filters its cached tables).
  std::vector<OpenApiTable> tables;
  for (auto& t : catalog->tables) {
    if (!p.snapshot->Find(p.schema, t.name)) continue;
    AttachKeys(t, *p.snapshot, p.schema);
    tables.push_back(std::move(t));
  }
  catalog->tables = std::move(tables);

  OpenApiServer server = OpenApiServerFor(cfg_.openapi_server_proxy_uri, cfg_.server_host, cfg_.server_port);
  server.security_active = cfg_.openapi_security_active;
  std::string body = p.verb == Verb::kHead ? std::string() : BuildOpenApiDocument(*catalog, server);
  auto res = http::MakeResponse(req, bhttp::status::ok, std::move(body), "application/openapi+json; charset=utf-8");
  // Finish adds Content-Profile and Server-Timing; PostgREST's document answer carries no Preference-Applied
  // and ignores response.headers / response.status.
  Prepared shown = p;
  shown.api.prefer = Preferences{};
  Outcome plain = *outcome;
  plain.response_headers.reset();
  plain.response_status.reset();
  auto finished = Finish(req, shown, plain, std::move(res));
  if (!finished) co_return Error(req, finished.error());
  co_return std::move(*finished);
}

}  // namespace pgwarden::dataapi
