//! Versioned, idempotent migrations embedded in the binary (migrations/*.sql, numbered, never edited once
//! released). Applied versions are recorded in pgwarden.schema_migrations; each migration runs in its own
//! transaction under an advisory lock, so concurrent starts are safe.
#pragma once

#include <span>
#include <string_view>

#include "db/connection.hpp"

namespace pgwarden::db {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

std::span<const Migration> EmbeddedMigrations();

//! Blocking (start-up only). Returns how many migrations were applied now.
Result<int> Migrate(Connection& conn);

}  // namespace pgwarden::db
