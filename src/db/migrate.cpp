#include "db/migrate.hpp"

#include <string>

#include "core/log.hpp"

namespace pgwarden::db {

Result<int> Migrate(Connection& conn) {
  // The lock first: processes starting together then create the bookkeeping schema one after the other (a
  // concurrent CREATE ... IF NOT EXISTS or REVOKE can fail with a unique violation or "tuple concurrently
  // updated"). Advisory locks are per database, as the migrations are.
  if (auto locked = conn.ScriptBlocking("SELECT pg_advisory_lock(7243019)"); !locked) return locked.error();
  if (auto ok = conn.ScriptBlocking(
          "CREATE SCHEMA IF NOT EXISTS pgwarden;"
          "CREATE TABLE IF NOT EXISTS pgwarden.schema_migrations ("
          "  version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
          "REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC");
      !ok) {
    conn.ScriptBlocking("SELECT pg_advisory_unlock(7243019)");
    return ok.error();
  }
  int applied = 0;
  Result<int> outcome = 0;
  for (const auto& m : EmbeddedMigrations()) {
    const std::string version = std::to_string(m.version);
    auto done = conn.QueryBlocking("SELECT 1 FROM pgwarden.schema_migrations WHERE version = $1", {version});
    if (!done) {
      outcome = done.error();
      break;
    }
    if (!done->Empty()) continue;
    std::string script = "BEGIN;\n";
    script += m.sql;
    script += "\n;INSERT INTO pgwarden.schema_migrations (version, name) VALUES (" + version + ", '" +
              std::string(m.name) + "');\nCOMMIT;";
    if (auto r = conn.ScriptBlocking(script); !r) {
      conn.ScriptBlocking("ROLLBACK");
      Error e = r.error();
      e.message = "migration " + version + " (" + std::string(m.name) + "): " + e.message;
      outcome = e;
      break;
    }
    log::Info("db.migrated", {{"version", version}, {"name", m.name}});
    ++applied;
  }
  conn.ScriptBlocking("SELECT pg_advisory_unlock(7243019)");
  if (!outcome) return outcome.error();
  return applied;
}

}  // namespace pgwarden::db
