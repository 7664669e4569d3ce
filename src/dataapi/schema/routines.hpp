//! The functions of the exposed schemas, as PostgREST's schema cache holds them (SchemaCache.hs allFunctions):
//! name, input parameters (name, type, required, variadic), return type (scalar, set of scalars, a row type
//! with its columns, void), volatility, overloads. Loaded with one catalog query into an immutable snapshot
//! (a member of SchemaCache, swapped with it on NOTIFY pgrst). Nothing here is a client string: every name
//! comes from the catalogs.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/connection.hpp"

namespace pgwarden::dataapi {

//! An input parameter (IN, INOUT or VARIADIC) in declaration order.
struct RoutineParam {
  std::string name;  //!< "" when unnamed
  std::string type;  //!< as regtype prints it, schema-qualified outside pg_catalog: "integer", "test.color"
  //! The type json_to_recordset reads the argument as: `type`, except character/bit (-> character varying /
  //! bit varying, arrays too), so a value longer than the declared length reaches the function (PostgREST).
  std::string record_type;
  bool required = true;  //!< no DEFAULT
  bool variadic = false;

  friend auto operator<=>(const RoutineParam&, const RoutineParam&) = default;
};

enum class Volatility { kImmutable, kStable, kVolatile };

//! A column of a function's row type (OUT/INOUT/TABLE parameters or the composite type's attributes).
struct RoutineColumn {
  std::string name;
  std::string type;  //!< format_type()

  friend bool operator==(const RoutineColumn&, const RoutineColumn&) = default;
};

struct Routine {
  std::string schema;
  std::string name;
  std::optional<std::string> description;
  std::vector<RoutineParam> params;

  // Return type (PostgREST's RetType: Single/SetOf of Scalar/Composite).
  bool returns_set = false;
  //! A row type: a composite type (table, view, CREATE TYPE), or OUT/INOUT/TABLE parameters.
  bool returns_composite = false;
  //! A domain over a composite type (called as `(SELECT (fn(...)).*)`).
  bool returns_composite_alias = false;
  std::string return_type_schema;  //!< of the (base) return type
  std::string return_type_name;    //!< the relation name for a composite type, else the type name ("void", "int4")
  //! The row type's columns when returns_composite (empty when unknown, e.g. `returns record`).
  std::vector<RoutineColumn> columns;
  //! The declared return type when it is a domain, lower-cased: a media type handler such as "text/plain",
  //! "image/png" or "*/*" (PostgREST's media type domains).
  std::optional<std::string> return_domain;
  std::string return_base_type;  //!< pg_type.typname of the base type: "bytea", "text", "xml", ...

  Volatility volatility = Volatility::kVolatile;
  bool has_variadic = false;
  //! `SET default_transaction_isolation` on the function (lower-cased), for the caller's transaction.
  std::optional<std::string> isolation_level;

  bool ReturnsScalar() const { return !returns_set && !returns_composite; }
  bool ReturnsSetOfScalar() const { return returns_set && !returns_composite; }
  bool ReturnsSingle() const { return !returns_set; }
  bool ReturnsSingleComposite() const { return !returns_set && returns_composite; }
  bool ReturnsVoid() const {
    return ReturnsScalar() && return_type_schema == "pg_catalog" && return_type_name == "void";
  }
  //! PostgREST's funcTableName: the row type's name when the function returns rows of a composite type.
  std::optional<std::string> TableName() const {
    if (!returns_composite) return std::nullopt;
    return return_type_name;
  }
};

//! Every callable function of the exposed schemas, by (schema, name); overloads ordered as PostgREST orders
//! them (fewest parameters first, then by description and parameters).
class RoutineCache {
 public:
  using Key = std::pair<std::string, std::string>;

  //! Blocking (start-up).
  static Result<std::shared_ptr<const RoutineCache>> Load(db::Connection& conn, const std::vector<std::string>& schemas);
  //! The same, without blocking (reloads).
  static boost::asio::awaitable<Result<std::shared_ptr<const RoutineCache>>> LoadAsync(db::Connection& conn,
                                                                                       std::vector<std::string> schemas);
  //! From the rows of the catalog query (exposed for tests).
  static std::shared_ptr<const RoutineCache> FromRows(const db::Rows& rows);
  //! From ready-made routines (tests).
  static std::shared_ptr<const RoutineCache> FromRoutines(std::vector<Routine> routines);

  //! The overloads named `name` in `schema`; empty when there is none.
  const std::vector<Routine>& Find(std::string_view schema, std::string_view name) const;
  const std::map<Key, std::vector<Routine>, std::less<>>& All() const { return routines_; }

 private:
  void Sort();
  std::map<Key, std::vector<Routine>, std::less<>> routines_;
};

//! Blocking loader, as the brief names it.
inline Result<std::shared_ptr<const RoutineCache>> LoadRoutines(db::Connection& conn,
                                                                const std::vector<std::string>& schemas) {
  return RoutineCache::Load(conn, schemas);
}

}  // namespace pgwarden::dataapi
