#include "dataapi/schema/schema_cache.hpp"

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
// keys. One query; the snapshot is built in memory.
constexpr const char* kIntrospect =
    "SELECT n.nspname, c.relname, c.relkind IN ('v','m') AS is_view, a.attname, "
    "       format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, a.atthasdef, "
    "       COALESCE(a.attnum = ANY (i.indkey), false) AS is_pk "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE c.relkind IN ('r','v','m','f','p') AND n.nspname = ANY ($1::text[]) "
    "ORDER BY n.nspname, c.relname, a.attnum";
}  // namespace

std::shared_ptr<const SchemaCache> SchemaCache::FromRows(const db::Rows& rows, const std::vector<std::string>& schemas) {
  auto cache = std::make_shared<SchemaCache>();
  cache->schemas_ = schemas;
  for (int i = 0; i < rows.Size(); ++i) {
    const std::pair<std::string, std::string> key{std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1))};
    auto& rel = cache->relations_[key];
    rel.schema = key.first;
    rel.name = key.second;
    rel.is_view = rows.Bool(i, 2);
    Column col{std::string(rows.Text(i, 3)), std::string(rows.Text(i, 4)), rows.Bool(i, 5), rows.Bool(i, 6)};
    if (rows.Bool(i, 7)) rel.primary_key.push_back(col.name);
    rel.columns.push_back(std::move(col));
  }
  return cache;
}

Result<std::shared_ptr<const SchemaCache>> SchemaCache::Load(db::Connection& conn,
                                                             const std::vector<std::string>& schemas) {
  auto rows = conn.QueryBlocking(kIntrospect, {ArrayLiteral(schemas)});
  if (!rows) return rows.error();
  return FromRows(*rows, schemas);
}

boost::asio::awaitable<Result<std::shared_ptr<const SchemaCache>>> SchemaCache::LoadAsync(
    db::Connection& conn, std::vector<std::string> schemas) {
  const std::string list = ArrayLiteral(schemas);
  auto rows = co_await conn.Query(kIntrospect, db::Params(list));
  if (!rows) co_return rows.error();
  co_return FromRows(*rows, schemas);
}

const Relation* SchemaCache::Find(std::string_view schema, std::string_view name) const {
  const auto it = relations_.find(std::pair<std::string, std::string>(schema, name));
  return it == relations_.end() ? nullptr : &it->second;
}

}  // namespace pgwarden::dataapi
