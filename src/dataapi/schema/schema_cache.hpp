//! An immutable snapshot of the exposed schemas (relations, columns, primary keys), loaded from the system
//! catalogs. Shared as shared_ptr<const SchemaCache> and swapped whole on reload (NOTIFY pgrst). Identifiers
//! that reach SQL are first looked up here.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/connection.hpp"

namespace pgwarden::dataapi {

struct Column {
  std::string name;
  std::string type;  //!< format_type(), e.g. "uuid", "text", "timestamp with time zone"
  bool nullable = true;
  bool has_default = false;
};

struct Relation {
  std::string schema;
  std::string name;
  bool is_view = false;
  std::vector<Column> columns;  //!< in attnum order
  std::vector<std::string> primary_key;
  const Column* FindColumn(std::string_view column) const;
};

class SchemaCache {
 public:
  //! Blocking (start-up). `schemas`: the exposed schemas, first one the default.
  static Result<std::shared_ptr<const SchemaCache>> Load(db::Connection& conn, const std::vector<std::string>& schemas);
  //! The same, without blocking (reloads on NOTIFY pgrst, 'reload schema').
  static boost::asio::awaitable<Result<std::shared_ptr<const SchemaCache>>> LoadAsync(
      db::Connection& conn, std::vector<std::string> schemas);
  const Relation* Find(std::string_view schema, std::string_view name) const;
  const std::vector<std::string>& Schemas() const { return schemas_; }

 private:
  static std::shared_ptr<const SchemaCache> FromRows(const db::Rows& rows, const std::vector<std::string>& schemas);
  std::vector<std::string> schemas_;
  std::map<std::pair<std::string, std::string>, Relation, std::less<>> relations_;
};

}  // namespace pgwarden::dataapi
