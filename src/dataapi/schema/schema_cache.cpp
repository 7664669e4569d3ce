#include "dataapi/schema/schema_cache.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <boost/json.hpp>

namespace pgwarden::dataapi {

const Column* Relation::FindColumn(std::string_view column) const {
  for (const auto& c : columns)
    if (c.name == column) return &c;
  return nullptr;
}

namespace {
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string list = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) list += ',';
    list += '"';
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') list += '\\';
      list += c;
    }
    list += '"';
  }
  list += '}';
  return list;
}

// Tables, views, materialized views and foreign tables of the exposed schemas, with their columns and primary
// keys. Partitions are left out, as PostgREST does (they are reached through their parent). One query; the
// snapshot is built in memory.
constexpr const char* kIntrospect =
    "SELECT n.nspname, c.relname, c.relkind IN ('v','m') AS is_view, a.attname, "
    "       format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, a.atthasdef, "
    "       COALESCE(a.attnum = ANY (i.indkey), false) AS is_pk, "
    "       c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8, "
    "       c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4, "
    "       c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16, "
    "       format_type(COALESCE(NULLIF(t.typbasetype, 0), a.atttypid), NULL) AS base_type "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE c.relkind IN ('r','v','m','f','p') AND NOT c.relispartition AND n.nspname = ANY ($1::text[]) "
    "ORDER BY n.nspname, c.relname, a.attnum";

// PostgREST v13's relationship queries (SchemaCache.hs: allM2OandO2ORels, allViewsKeyDependencies,
// allComputedRels) plus the computed fields, each aggregated into one JSON text so the whole catalog of
// relationships comes back in one row of one statement. $1: the exposed schemas.
constexpr const char* kRelationships = R"SQL(
SELECT
(SELECT COALESCE(json_agg(json_build_array(table_schema, table_name, foreign_table_schema, foreign_table_name,
                                           constraint_name, cols_and_fcols, one_to_one)
                          ORDER BY conrelid, constraint_name), '[]')::text
 FROM (
    WITH
    pks_uniques_cols AS (
      SELECT
        connamespace,
        conrelid,
        jsonb_agg(column_info.cols) as cols
      FROM pg_constraint
      JOIN lateral (
        SELECT array_agg(cols.attname order by cols.attnum) as cols
        FROM ( select unnest(conkey) as col) _
        JOIN pg_attribute cols on cols.attrelid = conrelid and cols.attnum = col
      ) column_info ON TRUE
      WHERE
        contype IN ('p', 'u') and
        connamespace::regnamespace::text <> 'pg_catalog'
      GROUP BY connamespace, conrelid
    )
    SELECT
      traint.conrelid,
      ns1.nspname AS table_schema,
      tab.relname AS table_name,
      ns2.nspname AS foreign_table_schema,
      other.relname AS foreign_table_name,
      traint.conname  AS constraint_name,
      column_info.cols_and_fcols,
      (column_info.cols IN (SELECT * FROM jsonb_array_elements(pks_uqs.cols))) AS one_to_one
    FROM pg_constraint traint
    JOIN LATERAL (
      SELECT
        json_agg(json_build_array(cols.attname, refs.attname) order by ord) AS cols_and_fcols,
        jsonb_agg(cols.attname order by cols.attnum) AS cols
      FROM unnest(traint.conkey, traint.confkey) WITH ORDINALITY AS _(col, ref, ord)
      JOIN pg_attribute cols ON cols.attrelid = traint.conrelid AND cols.attnum = col
      JOIN pg_attribute refs ON refs.attrelid = traint.confrelid AND refs.attnum = ref
    ) AS column_info ON TRUE
    JOIN pg_namespace ns1 ON ns1.oid = traint.connamespace
    JOIN pg_class tab ON tab.oid = traint.conrelid
    JOIN pg_class other ON other.oid = traint.confrelid
    JOIN pg_namespace ns2 ON ns2.oid = other.relnamespace
    LEFT JOIN pks_uniques_cols pks_uqs ON pks_uqs.connamespace = traint.connamespace AND pks_uqs.conrelid = traint.conrelid
    WHERE traint.contype = 'f' and traint.conparentid = 0
 ) fk),
(SELECT COALESCE(json_agg(json_build_array(table_schema, table_name, view_schema, view_name, constraint_name,
                                           constraint_type, column_dependencies)), '[]')::text
 FROM (
      with recursive
      pks_fks as (
        select
          contype::text as contype,
          conname,
          array_length(conkey, 1) as ncol,
          conrelid as resorigtbl,
          col as resorigcol,
          ord
        from pg_constraint
        left join lateral unnest(conkey) with ordinality as _(col, ord) on true
        where contype IN ('p', 'f')
        union
        select
          concat(contype, '_ref') as contype,
          conname,
          array_length(confkey, 1) as ncol,
          confrelid,
          col,
          ord
        from pg_constraint
        left join lateral unnest(confkey) with ordinality as _(col, ord) on true
        where contype='f'
      ),
      views as (
        select
          c.oid       as view_id,
          n.nspname   as view_schema,
          c.relname   as view_name,
          r.ev_action as view_definition
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_rewrite r on r.ev_class = c.oid
        where c.relkind in ('v', 'm') and n.nspname = ANY($1::text[])
      ),
      transform_json as (
        select
          view_id, view_schema, view_name,
          replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            regexp_replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
            replace(
              view_definition::text,
               '<>'              , '()'
            ), ','               , ''
            ), E'\\{'            , ''
            ), E'\\}'            , ''
            ), ' :targetList '   , ',"targetList":'
            ), ' :resno '        , ',"resno":'
            ), ' :resorigtbl '   , ',"resorigtbl":'
            ), ' :resorigcol '   , ',"resorigcol":'
            ), '{'               , '{ :'
            ), '(('              , '{(('
            ), '({'              , '{({'
            ), ' :[^}{,]+'       , ',"":'              , 'g'
            ), ',"":}'           , '}'
            ), ',"":,'           , ','
            ), '{('              , '('
            ), '{,'              , '{'
            ), '('               , '['
            ), ')'               , ']'
            ), ' '             , ','
          )::json as view_definition
        from views
      ),
      target_entries as(
        select
          view_id, view_schema, view_name,
          json_array_elements(view_definition->0->'targetList') as entry
        from transform_json
      ),
      results as(
        select
          view_id, view_schema, view_name,
          (entry->>'resno')::int as view_column,
          (entry->>'resorigtbl')::oid as resorigtbl,
          (entry->>'resorigcol')::int as resorigcol
        from target_entries
      ),
      recursion(view_id, view_schema, view_name, view_column, resorigtbl, resorigcol, is_cycle, path) as(
        select
          r.*,
          false,
          ARRAY[resorigtbl]
        from results r
        where view_schema = ANY ($1::text[])
        union all
        select
          view.view_id,
          view.view_schema,
          view.view_name,
          view.view_column,
          tab.resorigtbl,
          tab.resorigcol,
          tab.resorigtbl = ANY(path),
          path || tab.resorigtbl
        from recursion view
        join results tab on view.resorigtbl=tab.view_id and view.resorigcol=tab.view_column
        where not is_cycle
      ),
      repeated_references as(
        select
          view_id,
          view_schema,
          view_name,
          resorigtbl,
          resorigcol,
          array_agg(attname) as view_columns
        from recursion
        join pg_attribute vcol on vcol.attrelid = view_id and vcol.attnum = view_column
        group by
          view_id,
          view_schema,
          view_name,
          resorigtbl,
          resorigcol
      )
      select
        sch.nspname as table_schema,
        tbl.relname as table_name,
        rep.view_schema,
        rep.view_name,
        pks_fks.conname as constraint_name,
        pks_fks.contype as constraint_type,
        json_agg(json_build_array(col.attname, view_columns) order by pks_fks.ord) as column_dependencies
      from repeated_references rep
      join pks_fks using (resorigtbl, resorigcol)
      join pg_class tbl on tbl.oid = rep.resorigtbl
      join pg_attribute col on col.attrelid = tbl.oid and col.attnum = rep.resorigcol
      join pg_namespace sch on sch.oid = tbl.relnamespace
      group by sch.nspname, tbl.relname,  rep.view_schema, rep.view_name, pks_fks.conname, pks_fks.contype, pks_fks.ncol
      having ncol = count(*)
 ) kd),
(SELECT COALESCE(json_agg(json_build_array(schema, name, rel_table_schema, rel_table_name, rel_ftable_schema,
                                           rel_ftable_name, single_row)), '[]')::text
 FROM (
    with
    all_relations as (
      select reltype
      from pg_class
      where relkind in ('v','r','m','f','p')
    )
    select
      (parse_ident(p.pronamespace::regnamespace::text))[1] as schema,
      p.proname::text                  as name,
      arg_schema.nspname::text         as rel_table_schema,
      arg_name.typname::text           as rel_table_name,
      ret_schema.nspname::text         as rel_ftable_schema,
      ret_name.typname::text           as rel_ftable_name,
      not p.proretset or p.prorows = 1 as single_row
    from pg_proc p
      join pg_type      arg_name   on arg_name.oid = p.proargtypes[0]
      join pg_namespace arg_schema on arg_schema.oid = arg_name.typnamespace
      join pg_type      ret_name   on ret_name.oid = p.prorettype
      join pg_namespace ret_schema on ret_schema.oid = ret_name.typnamespace
    where
      p.pronargs = 1
      and p.proargtypes[0] in (select reltype from all_relations)
      and p.prorettype in (select reltype from all_relations)
    order by 1, 2, 3, 4
 ) cr),
(SELECT COALESCE(json_agg(json_build_array(tn.nspname, tc.relname, p.proname, format_type(p.prorettype, NULL))
                          ORDER BY tn.nspname, tc.relname, p.proname), '[]')::text
 FROM pg_proc p
 JOIN pg_namespace pn ON pn.oid = p.pronamespace
 JOIN pg_class tc ON tc.reltype = p.proargtypes[0]
 JOIN pg_namespace tn ON tn.oid = tc.relnamespace
 WHERE p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1 AND p.prokind = 'f'
   AND pn.nspname = ANY($1::text[]) AND tn.nspname = ANY($1::text[])),
(SELECT COALESCE(json_agg(json_build_array(n.nspname, c.relname,
          (SELECT json_agg(a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (con.conkey)))), '[]')::text
 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT (n.nspname = ANY($1::text[])))
)SQL";

std::string Str(const boost::json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

boost::json::array ParseArray(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return {};
  return std::move(v.as_array());
}

ColumnPairs Pairs(const boost::json::value& v) {
  ColumnPairs out;
  if (!v.is_array()) return out;
  for (const auto& p : v.as_array())
    if (p.is_array() && p.as_array().size() == 2) out.emplace_back(Str(p.as_array()[0]), Str(p.as_array()[1]));
  return out;
}

enum class KeyDep { kPk, kFk, kFkRef };

struct ViewKeyDependency {
  QualifiedName table;
  QualifiedName view;
  std::string constraint;
  KeyDep type = KeyDep::kPk;
  std::vector<std::pair<std::string, std::vector<std::string>>> cols;  // table column -> view columns
};

// Every way of picking one view column per key column (PostgREST's expandKeyDepCols).
std::vector<ColumnPairs> ExpandKeyDepCols(const ViewKeyDependency& dep) {
  std::vector<ColumnPairs> out{{}};
  for (const auto& [tcol, vcols] : dep.cols) {
    std::vector<ColumnPairs> next;
    for (const auto& partial : out)
      for (const auto& v : vcols) {
        auto p = partial;
        p.emplace_back(tcol, v);
        next.push_back(std::move(p));
      }
    out = std::move(next);
  }
  return out;
}

auto SortKey(const Relationship& r) {
  // PostgREST's derived Ord: Relationship before ComputedRelationship; then the fields in declaration order.
  return std::tie(r.computed, r.table, r.foreign_table, r.is_self, r.cardinality, r.constraint, r.columns,
                  r.o2o_is_parent, r.junction, r.table_is_view, r.foreign_table_is_view, r.function);
}

}  // namespace

std::vector<Relation> SchemaCache::RelationsFromRows(const db::Rows& rows) {
  std::vector<Relation> out;
  for (int i = 0; i < rows.Size(); ++i) {
    if (out.empty() || out.back().schema != rows.Text(i, 0) || out.back().name != rows.Text(i, 1)) {
      Relation rel;
      rel.schema = std::string(rows.Text(i, 0));
      rel.name = std::string(rows.Text(i, 1));
      rel.is_view = rows.Bool(i, 2);
      if (rows.Columns() > 10) {
        rel.insertable = rows.Bool(i, 8);
        rel.updatable = rows.Bool(i, 9);
        rel.deletable = rows.Bool(i, 10);
      }
      out.push_back(std::move(rel));
    }
    auto& rel = out.back();
    Column col{std::string(rows.Text(i, 3)), std::string(rows.Text(i, 4)), rows.Bool(i, 5), rows.Bool(i, 6),
               std::string(rows.Text(i, 11))};
    if (rows.Bool(i, 7)) rel.primary_key.push_back(col.name);
    rel.columns.push_back(std::move(col));
  }
  return out;
}

std::shared_ptr<const SchemaCache> SchemaCache::FromRows(const db::Rows& rows, const std::vector<std::string>& schemas) {
  Raw raw;
  raw.relations = RelationsFromRows(rows);
  return FromRaw(std::move(raw), schemas);
}

std::shared_ptr<const SchemaCache> SchemaCache::FromRaw(Raw raw, const std::vector<std::string>& schemas) {
  auto cache = std::make_shared<SchemaCache>();
  cache->schemas_ = schemas;
  for (auto& rel : raw.relations) {
    std::pair<std::string, std::string> key{rel.schema, rel.name};
    cache->relations_[std::move(key)] = std::move(rel);
  }
  cache->BuildRelationships(raw);
  cache->routines_ = raw.routines ? raw.routines : RoutineCache::FromRoutines({});
  return cache;
}

// PostgREST's querySchemaCache, after the queries: view primary keys, view relationships, many-to-many,
// inverses, computed relationships overriding detected ones, then only what the exposed schemas may see.
void SchemaCache::BuildRelationships(const Raw& raw) {
  auto exposed = [&](const std::string& s) { return std::find(schemas_.begin(), schemas_.end(), s) != schemas_.end(); };

  std::vector<ViewKeyDependency> deps;
  for (const auto& row : ParseArray(raw.view_key_deps_json)) {
    if (!row.is_array() || row.as_array().size() != 7) continue;
    const auto& a = row.as_array();
    ViewKeyDependency d;
    d.table = {Str(a[0]), Str(a[1])};
    d.view = {Str(a[2]), Str(a[3])};
    d.constraint = Str(a[4]);
    const auto type = Str(a[5]);
    d.type = type == "p" ? KeyDep::kPk : type == "f" ? KeyDep::kFk : KeyDep::kFkRef;
    if (a[6].is_array())
      for (const auto& c : a[6].as_array()) {
        if (!c.is_array() || c.as_array().size() != 2) continue;
        std::vector<std::string> vcols;
        if (c.as_array()[1].is_array())
          for (const auto& v : c.as_array()[1].as_array()) vcols.push_back(Str(v));
        d.cols.emplace_back(Str(c.as_array()[0]), std::move(vcols));
      }
    deps.push_back(std::move(d));
  }

  // addViewPrimaryKeys: the first view column of every PK dependency.
  for (auto& [key, rel] : relations_) {
    if (!rel.is_view) continue;
    rel.primary_key.clear();
    for (const auto& d : deps) {
      if (d.type != KeyDep::kPk || d.view.schema != rel.schema || d.view.name != rel.name) continue;
      for (const auto& [tcol, vcols] : d.cols)
        if (!vcols.empty()) rel.primary_key.push_back(vcols.front());
    }
  }

  std::vector<Relationship> rels;
  for (const auto& row : ParseArray(raw.foreign_keys_json)) {
    if (!row.is_array() || row.as_array().size() != 7) continue;
    const auto& a = row.as_array();
    Relationship r;
    r.table = {Str(a[0]), Str(a[1])};
    r.foreign_table = {Str(a[2]), Str(a[3])};
    r.is_self = r.table == r.foreign_table;
    r.constraint = Str(a[4]);
    r.columns = Pairs(a[5]);
    r.cardinality = a[6].is_bool() && a[6].as_bool() ? Cardinality::kO2O : Cardinality::kM2O;
    rels.push_back(std::move(r));
  }

  // addViewM2OAndO2ORels
  const size_t base_count = rels.size();
  for (size_t i = 0; i < base_count; ++i) {
    const Relationship rel = rels[i];
    std::vector<const ViewKeyDependency*> view_table, table_view;
    for (const auto& d : deps) {
      if (d.constraint != rel.constraint) continue;
      if (d.type == KeyDep::kFk && d.table == rel.table) view_table.push_back(&d);
      if (d.type == KeyDep::kFkRef && d.table == rel.foreign_table) table_view.push_back(&d);
    }
    auto make = [&](QualifiedName t, QualifiedName ft, bool self, ColumnPairs cols, bool tv, bool ftv) {
      Relationship r;
      r.table = std::move(t);
      r.foreign_table = std::move(ft);
      r.is_self = self;
      r.cardinality = rel.cardinality;
      r.constraint = rel.constraint;
      r.columns = std::move(cols);
      r.table_is_view = tv;
      r.foreign_table_is_view = ftv;
      rels.push_back(std::move(r));
    };
    for (const auto* vt : view_table)
      for (const auto& kd : ExpandKeyDepCols(*vt)) {
        ColumnPairs cols;
        for (size_t k = 0; k < kd.size() && k < rel.columns.size(); ++k) cols.emplace_back(kd[k].second, rel.columns[k].second);
        make(vt->view, rel.foreign_table, false, std::move(cols), true, false);
      }
    for (const auto* tv : table_view)
      for (const auto& kd : ExpandKeyDepCols(*tv)) {
        ColumnPairs cols;
        for (size_t k = 0; k < kd.size() && k < rel.columns.size(); ++k) cols.emplace_back(rel.columns[k].first, kd[k].second);
        make(rel.table, tv->view, false, std::move(cols), false, true);
      }
    for (const auto* vt : view_table)
      for (const auto& kd1 : ExpandKeyDepCols(*vt))
        for (const auto* tv : table_view)
          for (const auto& kd2 : ExpandKeyDepCols(*tv)) {
            ColumnPairs cols;
            for (size_t k = 0; k < kd1.size() && k < kd2.size(); ++k) cols.emplace_back(kd1[k].second, kd2[k].second);
            make(vt->view, tv->view, vt->view == tv->view, std::move(cols), true, true);
          }
  }

  // addM2MRels: a table with foreign keys to two tables whose columns are all part of its primary key.
  std::map<QualifiedName, std::vector<std::string>> other_pks;
  for (const auto& row : ParseArray(raw.other_primary_keys_json)) {
    if (!row.is_array() || row.as_array().size() != 3 || !row.as_array()[2].is_array()) continue;
    auto& cols = other_pks[{Str(row.as_array()[0]), Str(row.as_array()[1])}];
    for (const auto& c : row.as_array()[2].as_array()) cols.push_back(Str(c));
  }
  std::vector<Relationship> m2m;
  for (const auto& r1 : rels) {
    if (r1.cardinality != Cardinality::kM2O) continue;
    for (const auto& r2 : rels) {
      if (r2.cardinality != Cardinality::kM2O || !(r1.table == r2.table) || r1.constraint == r2.constraint) continue;
      const Relation* jt = Find(r1.table.schema, r1.table.name);
      std::set<std::string> pk;
      if (jt) pk.insert(jt->primary_key.begin(), jt->primary_key.end());
      if (auto o = other_pks.find(r1.table); !jt && o != other_pks.end()) pk.insert(o->second.begin(), o->second.end());
      bool subset = true;
      for (const auto& c : r1.columns) subset = subset && pk.count(c.first);
      for (const auto& c : r2.columns) subset = subset && pk.count(c.first);
      if (!subset) continue;
      Relationship r;
      r.table = r1.foreign_table;
      r.foreign_table = r2.foreign_table;
      r.is_self = r.table == r.foreign_table;
      r.cardinality = Cardinality::kM2M;
      r.junction.table = r1.table;
      r.junction.constraint1 = r1.constraint;
      r.junction.constraint2 = r2.constraint;
      for (const auto& [c, f] : r1.columns) r.junction.cols_source.emplace_back(f, c);
      for (const auto& [c, f] : r2.columns) r.junction.cols_target.emplace_back(f, c);
      r.table_is_view = r1.foreign_table_is_view;
      r.foreign_table_is_view = r2.foreign_table_is_view;
      m2m.push_back(std::move(r));
    }
  }
  rels.insert(rels.end(), m2m.begin(), m2m.end());

  // addInverseRels
  const size_t before_inverse = rels.size();
  for (size_t i = 0; i < before_inverse; ++i) {
    const auto& r = rels[i];
    if (r.cardinality != Cardinality::kM2O && r.cardinality != Cardinality::kO2O) continue;
    Relationship inv = r;
    std::swap(inv.table, inv.foreign_table);
    std::swap(inv.table_is_view, inv.foreign_table_is_view);
    for (auto& [a, b] : inv.columns) std::swap(a, b);
    if (r.cardinality == Cardinality::kM2O) {
      inv.cardinality = Cardinality::kO2M;
    } else {
      inv.o2o_is_parent = true;
    }
    rels.push_back(std::move(inv));
  }

  // Computed relationships override detected ones with the same (table, name).
  std::vector<Relationship> computed;
  for (const auto& row : ParseArray(raw.computed_rels_json)) {
    if (!row.is_array() || row.as_array().size() != 7) continue;
    const auto& a = row.as_array();
    Relationship r;
    r.computed = true;
    r.function = {Str(a[0]), Str(a[1])};
    r.table = {Str(a[2]), Str(a[3])};
    r.foreign_table = {Str(a[4]), Str(a[5])};
    r.is_self = r.table == r.foreign_table;
    r.single_row = a[6].is_bool() && a[6].as_bool();
    computed.push_back(std::move(r));
  }
  std::set<std::pair<QualifiedName, QualifiedName>> overridden;
  for (const auto& c : computed) overridden.emplace(c.table, c.function);

  for (auto& r : rels) {
    if (overridden.count({r.table, r.foreign_table})) continue;
    if (!exposed(r.table.schema)) continue;
    // PostgREST's removeInternal filters the list but keeps the key: an origin whose only relationships go
    // through internal schemas still "has relationships" (it changes PGRST200's hint).
    auto& list = relationships_[{r.table, r.foreign_table.schema}];
    if (!exposed(r.foreign_table.schema)) continue;
    if (r.cardinality == Cardinality::kM2M && !exposed(r.junction.table.schema)) continue;
    list.push_back(std::move(r));
  }
  std::set<std::pair<QualifiedName, QualifiedName>> seen_computed;
  for (auto& c : computed) {
    if (!seen_computed.emplace(c.table, c.function).second) continue;
    if (!exposed(c.table.schema)) continue;
    // The key uses the function's schema, as PostgREST's deformed map does.
    auto& list = relationships_[{c.table, c.function.schema}];
    if (exposed(c.foreign_table.schema)) list.push_back(std::move(c));
  }
  for (auto& [key, list] : relationships_)
    std::stable_sort(list.begin(), list.end(), [](const Relationship& a, const Relationship& b) { return SortKey(a) < SortKey(b); });

  for (const auto& row : ParseArray(raw.computed_fields_json)) {
    if (!row.is_array() || row.as_array().size() != 4) continue;
    const auto& a = row.as_array();
    ComputedField f{{Str(a[0]), Str(a[1])}, Str(a[2]), Str(a[3])};
    computed_fields_.emplace(std::make_pair(f.table, f.name), f);
  }
}

Result<std::shared_ptr<const SchemaCache>> SchemaCache::Load(db::Connection& conn,
                                                             const std::vector<std::string>& schemas) {
  const std::string list = ArrayLiteral(schemas);
  auto rows = conn.QueryBlocking(kIntrospect, {list});
  if (!rows) return rows.error();
  auto rels = conn.QueryBlocking(kRelationships, {list});
  if (!rels) return rels.error();
  auto routines = RoutineCache::Load(conn, schemas);
  if (!routines) return routines.error();
  Raw raw;
  raw.routines = *routines;
  raw.relations = RelationsFromRows(*rows);
  if (!rels->Empty()) {
    raw.foreign_keys_json = std::string(rels->Text(0, 0));
    raw.view_key_deps_json = std::string(rels->Text(0, 1));
    raw.computed_rels_json = std::string(rels->Text(0, 2));
    raw.computed_fields_json = std::string(rels->Text(0, 3));
    raw.other_primary_keys_json = std::string(rels->Text(0, 4));
  }
  return FromRaw(std::move(raw), schemas);
}

boost::asio::awaitable<Result<std::shared_ptr<const SchemaCache>>> SchemaCache::LoadAsync(
    db::Connection& conn, std::vector<std::string> schemas) {
  const std::string list = ArrayLiteral(schemas);
  auto rows = co_await conn.Query(kIntrospect, db::Params(list));
  if (!rows) co_return rows.error();
  auto rels = co_await conn.Query(kRelationships, db::Params(list));
  if (!rels) co_return rels.error();
  auto routines = co_await RoutineCache::LoadAsync(conn, schemas);
  if (!routines) co_return routines.error();
  Raw raw;
  raw.routines = *routines;
  raw.relations = RelationsFromRows(*rows);
  if (!rels->Empty()) {
    raw.foreign_keys_json = std::string(rels->Text(0, 0));
    raw.view_key_deps_json = std::string(rels->Text(0, 1));
    raw.computed_rels_json = std::string(rels->Text(0, 2));
    raw.computed_fields_json = std::string(rels->Text(0, 3));
    raw.other_primary_keys_json = std::string(rels->Text(0, 4));
  }
  co_return FromRaw(std::move(raw), schemas);
}

const Relation* SchemaCache::Find(std::string_view schema, std::string_view name) const {
  const auto it = relations_.find(std::pair<std::string, std::string>(schema, name));
  return it == relations_.end() ? nullptr : &it->second;
}

const std::vector<Relationship>* SchemaCache::FindRelationships(const QualifiedName& table,
                                                                std::string_view target_schema) const {
  const auto it = relationships_.find({table, std::string(target_schema)});
  return it == relationships_.end() ? nullptr : &it->second;
}

const std::vector<Relationship>& SchemaCache::RelationshipsFrom(const QualifiedName& table,
                                                                 std::string_view target_schema) const {
  static const std::vector<Relationship> kNone;
  const auto it = relationships_.find({table, std::string(target_schema)});
  return it == relationships_.end() ? kNone : it->second;
}

std::vector<std::string> SchemaCache::RelationshipOrigins(std::string_view schema) const {
  std::vector<std::string> out;
  for (const auto& [key, list] : relationships_)
    if (key.second == schema && key.first.schema == schema) out.push_back(key.first.name);
  return out;
}

const ComputedField* SchemaCache::FindComputedField(const QualifiedName& table, std::string_view name) const {
  const auto it = computed_fields_.find({table, std::string(name)});
  return it == computed_fields_.end() ? nullptr : &it->second;
}

}  // namespace pgwarden::dataapi
