#include "dataapi/schema/routines.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace pgwarden::dataapi {

namespace {


// PostgREST's allFunctions (SchemaCache.hs), in one statement that does not depend on the session's
// search_path: parameter types are printed schema-qualified outside pg_catalog (PostgREST empties the
// search_path for the same effect). Differences, on purpose: OUT parameters interleaved with IN ones do not
// shift the input parameters (proallargtypes is zipped with the names, not proargtypes), and the row type's
// columns come along (OUT/INOUT/TABLE parameters, or the composite type's attributes) so a function result can
// be read like a relation.
//
// Columns: 0 schema, 1 name, 2 description, 3 params json [[name, type, record_type, required, variadic]],
// 4 return type schema, 5 return type name, 6 setof, 7 composite, 8 composite alias, 9 volatility,
// 10 has variadic, 11 isolation level, 12 columns json [[name, type]], 13 the declared return type's name when it
// is a domain (media type handlers: `returns "text/plain"`), 14 the base type's name.
constexpr const char* kRoutinesQuery = R"SQL(
WITH RECURSIVE
recurse AS (
  SELECT oid, typbasetype, COALESCE(NULLIF(typbasetype, 0), oid) AS base FROM pg_catalog.pg_type
  UNION
  SELECT t.oid, b.typbasetype, COALESCE(NULLIF(b.typbasetype, 0), b.oid) AS base
  FROM recurse t JOIN pg_catalog.pg_type b ON t.typbasetype = b.oid
),
base_types AS (SELECT oid, base FROM recurse WHERE typbasetype = 0),
procs AS (
  SELECT p.* FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY ($1::text[]) AND p.prokind = 'f'
),
type_names AS (
  SELECT t.oid,
    CASE
      WHEN n.nspname = 'pg_catalog' THEN t.oid::pg_catalog.regtype::text
      WHEN e.oid IS NOT NULL THEN
        (CASE WHEN en.nspname = 'pg_catalog' THEN e.oid::pg_catalog.regtype::text
              ELSE pg_catalog.quote_ident(en.nspname) || '.' || pg_catalog.quote_ident(e.typname) END) || '[]'
      ELSE pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname)
    END AS name
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' AND t.typlen = -1
  LEFT JOIN pg_catalog.pg_namespace en ON en.oid = e.typnamespace
),
arguments AS (
  SELECT p.oid,
    pg_catalog.json_agg(pg_catalog.json_build_array(
      COALESCE(a.name, ''),
      tn.name,
      CASE a.type
        WHEN 'bit'::pg_catalog.regtype THEN 'bit varying'
        WHEN 'bit[]'::pg_catalog.regtype THEN 'bit varying[]'
        WHEN 'character'::pg_catalog.regtype THEN 'character varying'
        WHEN 'character[]'::pg_catalog.regtype THEN 'character varying[]'
        ELSE tn.name
      END,
      a.pos <= p.pronargs - p.pronargdefaults,
      COALESCE(a.mode = 'v', false)) ORDER BY a.pos) AS args,
    CASE pg_catalog.count(*) - pg_catalog.count(a.name)
      WHEN 0 THEN true
      WHEN 1 THEN (pg_catalog.array_agg(a.type ORDER BY a.pos))[1] IN
        ('bytea'::pg_catalog.regtype, 'json'::pg_catalog.regtype, 'jsonb'::pg_catalog.regtype,
         'text'::pg_catalog.regtype, 'xml'::pg_catalog.regtype)
      ELSE false
    END AS callable
  FROM procs p
  CROSS JOIN LATERAL (
    SELECT x.name, x.type, x.mode, pg_catalog.row_number() OVER (ORDER BY x.idx) AS pos
    FROM unnest(p.proargnames, COALESCE(p.proallargtypes, p.proargtypes::oid[]), p.proargmodes)
      WITH ORDINALITY AS x (name, type, mode, idx)
    WHERE x.type IS NOT NULL AND COALESCE(x.mode, 'i') IN ('i', 'b', 'v')
  ) a
  JOIN type_names tn ON tn.oid = a.type
  GROUP BY p.oid, p.pronargs, p.pronargdefaults
),
-- A column's type as the relation cache shows it: a domain over a pg_catalog type as its base type (PostgREST's
-- data_type), so e.g. full-text search sees a tsvector domain as tsvector.
column_types AS (
  SELECT t.oid, t.typtype, COALESCE(bn.nspname = 'pg_catalog', false) AS base_in_catalog,
    CASE WHEN t.typtype = 'd' AND bn.nspname = 'pg_catalog' THEN pg_catalog.format_type(t.typbasetype, NULL)
         ELSE pg_catalog.format_type(t.oid, NULL) END AS name
  FROM pg_catalog.pg_type t
  LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
  LEFT JOIN pg_catalog.pg_namespace bn ON bn.oid = b.typnamespace
),
out_columns AS (
  SELECT p.oid,
    pg_catalog.json_agg(pg_catalog.json_build_array(x.name, (SELECT ct.name FROM column_types ct WHERE ct.oid = x.type))
                        ORDER BY x.idx) AS cols
  FROM procs p
  CROSS JOIN LATERAL unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY AS x (name, type, mode, idx)
  WHERE x.mode IN ('o', 'b', 't')
  GROUP BY p.oid
)
SELECT
  pn.nspname,
  p.proname,
  d.description,
  COALESCE(a.args, '[]'),
  tn.nspname,
  COALESCE(comp.relname, t.typname),
  p.proretset,
  (t.typtype = 'c' OR COALESCE(p.proargmodes::text[] && '{t,b,o}', false)),
  bt.oid <> bt.base,
  p.provolatile,
  p.provariadic <> 0,
  pg_catalog.lower((pg_catalog.regexp_split_to_array((pg_catalog.regexp_split_to_array(iso_config, '='))[2], ','))[1]),
  CASE WHEN COALESCE(p.proargmodes::text[] && '{t,b,o}', false) THEN oc.cols ELSE cc.cols END,
  CASE WHEN rt.typtype = 'd' THEN pg_catalog.lower(rt.typname) END,
  t.typname
FROM procs p
JOIN pg_catalog.pg_type rt ON rt.oid = p.prorettype
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
LEFT JOIN arguments a ON a.oid = p.oid
JOIN base_types bt ON bt.oid = p.prorettype
JOIN pg_catalog.pg_type t ON t.oid = bt.base
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class comp ON comp.oid = t.typrelid
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objsubid = 0
LEFT JOIN LATERAL (
  SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'default_transaction_isolation%' LIMIT 1
) iso(iso_config) ON true
LEFT JOIN out_columns oc ON oc.oid = p.oid
LEFT JOIN LATERAL (
  SELECT pg_catalog.json_agg(pg_catalog.json_build_array(at.attname,
           CASE WHEN ty.typtype = 'd' AND ty.base_in_catalog THEN ty.name
                ELSE pg_catalog.format_type(at.atttypid, at.atttypmod) END) ORDER BY at.attnum) AS cols
  FROM pg_catalog.pg_attribute at
  JOIN column_types ty ON ty.oid = at.atttypid
  WHERE at.attrelid = comp.oid AND at.attnum > 0 AND NOT at.attisdropped
) cc ON true
WHERE t.oid <> 'pg_catalog.trigger'::pg_catalog.regtype AND COALESCE(a.callable, true)
ORDER BY pn.nspname, p.proname
)SQL";

std::string JsonText(const boost::json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

bool JsonBool(const boost::json::value& v) { return v.is_bool() && v.as_bool(); }

// PostgREST's Ord Routine: overloads with fewer parameters first, then description, then parameters.
bool OverloadLess(const Routine& a, const Routine& b) {
  if (a.params.size() != b.params.size()) return a.params.size() < b.params.size();
  if (a.description != b.description) return a.description < b.description;  // nullopt first, as Maybe
  return a.params < b.params;
}

}  // namespace

void RoutineCache::Sort() {
  for (auto& [key, overloads] : routines_) std::stable_sort(overloads.begin(), overloads.end(), OverloadLess);
}

std::shared_ptr<const RoutineCache> RoutineCache::FromRows(const db::Rows& rows) {
  auto cache = std::make_shared<RoutineCache>();
  for (int i = 0; i < rows.Size(); ++i) {
    Routine r;
    r.schema = std::string(rows.Text(i, 0));
    r.name = std::string(rows.Text(i, 1));
    if (!rows.IsNull(i, 2)) r.description = std::string(rows.Text(i, 2));
    boost::system::error_code ec;
    const auto params = boost::json::parse(rows.Text(i, 3), ec);
    if (!ec && params.is_array()) {
      for (const auto& p : params.as_array()) {
        if (!p.is_array() || p.as_array().size() != 5) continue;
        const auto& f = p.as_array();
        r.params.push_back(RoutineParam{JsonText(f[0]), JsonText(f[1]), JsonText(f[2]), JsonBool(f[3]), JsonBool(f[4])});
      }
    }
    r.return_type_schema = std::string(rows.Text(i, 4));
    r.return_type_name = std::string(rows.Text(i, 5));
    r.returns_set = rows.Bool(i, 6);
    r.returns_composite = rows.Bool(i, 7);
    r.returns_composite_alias = rows.Bool(i, 8);
    const auto vol = rows.Text(i, 9);
    r.volatility = vol == "i" ? Volatility::kImmutable : vol == "s" ? Volatility::kStable : Volatility::kVolatile;
    r.has_variadic = rows.Bool(i, 10);
    if (!rows.IsNull(i, 11)) r.isolation_level = std::string(rows.Text(i, 11));
    if (!rows.IsNull(i, 12)) {
      const auto cols = boost::json::parse(rows.Text(i, 12), ec);
      if (!ec && cols.is_array()) {
        for (const auto& c : cols.as_array()) {
          if (!c.is_array() || c.as_array().size() != 2) continue;
          r.columns.push_back(RoutineColumn{JsonText(c.as_array()[0]), JsonText(c.as_array()[1])});
        }
      }
    }
    if (!rows.IsNull(i, 13)) r.return_domain = std::string(rows.Text(i, 13));
    r.return_base_type = std::string(rows.Text(i, 14));
    RoutineCache::Key key{r.schema, r.name};
    cache->routines_[std::move(key)].push_back(std::move(r));
  }
  cache->Sort();
  return cache;
}

std::shared_ptr<const RoutineCache> RoutineCache::FromRoutines(std::vector<Routine> routines) {
  auto cache = std::make_shared<RoutineCache>();
  for (auto& r : routines) {
    RoutineCache::Key key{r.schema, r.name};
    cache->routines_[std::move(key)].push_back(std::move(r));
  }
  cache->Sort();
  return cache;
}

Result<std::shared_ptr<const RoutineCache>> RoutineCache::Load(db::Connection& conn,
                                                               const std::vector<std::string>& schemas) {
  auto rows = conn.QueryBlocking(kRoutinesQuery, {db::TextArrayLiteral(schemas)});
  if (!rows) return rows.error();
  return FromRows(*rows);
}

boost::asio::awaitable<Result<std::shared_ptr<const RoutineCache>>> RoutineCache::LoadAsync(
    db::Connection& conn, std::vector<std::string> schemas) {
  const std::string list = db::TextArrayLiteral(schemas);
  auto rows = co_await conn.Query(kRoutinesQuery, db::Params(list));
  if (!rows) co_return rows.error();
  co_return FromRows(*rows);
}

const std::vector<Routine>& RoutineCache::Find(std::string_view schema, std::string_view name) const {
  static const std::vector<Routine> kNone;
  const auto it = routines_.find(Key(schema, name));
  return it == routines_.end() ? kNone : it->second;
}

}  // namespace pgwarden::dataapi
