//! An immutable snapshot of the exposed schemas, loaded from the system catalogs: relations (columns, primary
//! keys), the relationships between them as PostgREST v13 computes them (many-to-one, one-to-many, one-to-one,
//! many-to-many through junction tables, those of views derived from their base tables' keys, computed
//! relationships) and computed fields. Shared as shared_ptr<const SchemaCache> and swapped whole on reload
//! (NOTIFY pgrst). Identifiers that reach SQL are first looked up here.
#pragma once

#include <compare>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "dataapi/schema/routines.hpp"
#include "db/connection.hpp"

namespace pgwarden::dataapi {

struct Column {
  std::string name;
  std::string type;  //!< format_type(), e.g. "uuid", "text", "timestamp with time zone"
  bool nullable = true;
  bool has_default = false;
  std::string base_type = {};  //!< the type under every domain level (format_type without typmod); `type` otherwise
  //! The default Prefer: missing=default applies (PostgREST's column_default): SQL text from the catalog.
  std::optional<std::string> default_expr = {};
  //! `type` schema-qualified (unless in pg_catalog), valid under any search_path: for typed casts of body
  //! values. Empty in caches built without it (then `type` is used).
  std::string sql_type = {};
};

struct Relation {
  std::string schema;
  std::string name;
  bool is_view = false;
  bool insertable = true, updatable = true, deletable = true;  //!< views: pg_relation_is_updatable (OPTIONS)
  std::vector<Column> columns;  //!< in attnum order
  //! Tables: the primary key. Views: the base table's primary key as the view exposes it (PostgREST's
  //! addViewPrimaryKeys).
  std::vector<std::string> primary_key;
  const Column* FindColumn(std::string_view column) const;
};

//! schema.name of a table, view or function.
struct QualifiedName {
  std::string schema;
  std::string name;
  friend auto operator<=>(const QualifiedName&, const QualifiedName&) = default;
  friend bool operator==(const QualifiedName&, const QualifiedName&) = default;
};

//! Declared in PostgREST's order (its derived Ord sorts candidates in PGRST201 details this way).
enum class Cardinality { kO2M, kM2O, kO2O, kM2M };

//! (column of the first table, column of the second table).
using ColumnPairs = std::vector<std::pair<std::string, std::string>>;

struct Junction {
  QualifiedName table;
  std::string constraint1;  //!< junction -> source
  std::string constraint2;  //!< junction -> target
  ColumnPairs cols_source;  //!< (source column, junction column)
  ColumnPairs cols_target;  //!< (target column, junction column)
  friend auto operator<=>(const Junction&, const Junction&) = default;
  friend bool operator==(const Junction&, const Junction&) = default;
};

//! A relationship from `table` to `foreign_table` (PostgREST's Relationship / ComputedRelationship).
struct Relationship {
  bool computed = false;  //!< a function `function(table) RETURNS [SETOF] foreign_table`
  QualifiedName table;
  QualifiedName foreign_table;
  bool is_self = false;
  Cardinality cardinality = Cardinality::kM2O;
  std::string constraint;  //!< kO2M/kM2O/kO2O: the foreign key's name
  ColumnPairs columns;     //!< kO2M/kM2O/kO2O: (table column, foreign_table column)
  bool o2o_is_parent = false;
  Junction junction;  //!< kM2M
  bool table_is_view = false;
  bool foreign_table_is_view = false;
  QualifiedName function;  //!< computed
  bool single_row = false;  //!< computed: not SETOF, or ROWS 1

  bool IsToOne() const {
    if (computed) return single_row;
    return cardinality == Cardinality::kM2O || cardinality == Cardinality::kO2O;
  }
};

//! A function taking the row type of `table` (attribute notation `table.fn` works in SQL), usable as a column.
struct ComputedField {
  QualifiedName table;
  std::string name;
  std::string return_type;
};

class SchemaCache {
 public:
  //! Blocking (start-up). `schemas`: the exposed schemas, first one the default.
  static Result<std::shared_ptr<const SchemaCache>> Load(db::Connection& conn, const std::vector<std::string>& schemas);
  //! The same, without blocking (reloads on NOTIFY pgrst, 'reload schema').
  static boost::asio::awaitable<Result<std::shared_ptr<const SchemaCache>>> LoadAsync(
      db::Connection& conn, std::vector<std::string> schemas);

  //! The catalog snapshot as text (what the introspection queries return), so tests build caches without a
  //! database. Each `*_json` is a JSON array of row arrays in the column order of the matching query.
  struct Raw {
    std::vector<Relation> relations;
    std::string foreign_keys_json = "[]";
    std::string view_key_deps_json = "[]";
    std::string computed_rels_json = "[]";
    std::string computed_fields_json = "[]";
    //! [[schema, table, [pk columns]]] of tables outside the exposed schemas (junctions may live there).
    std::string other_primary_keys_json = "[]";
    std::shared_ptr<const RoutineCache> routines;  //!< the functions (rpc); none when null
    //! [[source type, target type, function]]: PostgREST's data representations (implicit casts between a
    //! domain and json/text), types as format_type prints them, the function schema-qualified.
    std::string representations_json = "[]";
  };
  static std::shared_ptr<const SchemaCache> FromRaw(Raw raw, const std::vector<std::string>& schemas);

  const Relation* Find(std::string_view schema, std::string_view name) const;
  //! The relation names of `schema` (PGRST205's "Perhaps you meant the table ...").
  std::vector<std::string> RelationNames(std::string_view schema) const {
    std::vector<std::string> out;
    for (const auto& [key, rel] : relations_)
      if (key.first == schema) out.push_back(key.second);
    return out;
  }
  const std::vector<std::string>& Schemas() const { return schemas_; }
  //! Relationships whose table is `table` and whose foreign table lives in `target_schema`, sorted as PostgREST
  //! sorts them (computed relationships override detected ones of the same name).
  const std::vector<Relationship>& RelationshipsFrom(const QualifiedName& table, std::string_view target_schema) const;
  //! The same, or null when PostgREST's relationship map has no entry at all for that key.
  const std::vector<Relationship>* FindRelationships(const QualifiedName& table, std::string_view target_schema) const;
  //! Every origin table of `schema` that has relationships into `schema` (PGRST200's "perhaps you meant").
  std::vector<std::string> RelationshipOrigins(std::string_view schema) const;
  const ComputedField* FindComputedField(const QualifiedName& table, std::string_view name) const;
  //! The function of a data representation cast from `source` to `target` (types as Column::type, "json",
  //! "text"), e.g. `"public"."color"`; null when there is none. Emitted in SQL as is: it comes from the catalog.
  const std::string* Representation(std::string_view source, std::string_view target) const;
  //! Whether any column of `rel` has an output representation (`type` -> json).
  bool HasOutputRepresentation(const Relation& rel) const {
    for (const auto& c : rel.columns)
      if (Representation(c.type, "json")) return true;
    return false;
  }
  //! The functions of the exposed schemas (/rpc/, routines.hpp).
  const RoutineCache& Routines() const { return *routines_; }

 private:
  static std::shared_ptr<const SchemaCache> FromRows(const db::Rows& rows, const std::vector<std::string>& schemas);
  static std::vector<Relation> RelationsFromRows(const db::Rows& rows);
  static Raw RawFrom(const db::Rows& rows, const db::Rows& rels, std::shared_ptr<const RoutineCache> routines);
  void BuildRelationships(const Raw& raw);

  std::vector<std::string> schemas_;
  std::map<std::pair<std::string, std::string>, Relation, std::less<>> relations_;
  //! (table, foreign table schema) -> relationships (PostgREST's deformed RelationshipsMap key).
  std::map<std::pair<QualifiedName, std::string>, std::vector<Relationship>> relationships_;
  std::map<std::pair<QualifiedName, std::string>, ComputedField> computed_fields_;
  std::shared_ptr<const RoutineCache> routines_;
  std::map<std::pair<std::string, std::string>, std::string, std::less<>> representations_;
};

}  // namespace pgwarden::dataapi
