//! The embedded migrations against a real Postgres: applied once, idempotent, and producing exactly
//! Better Auth 1.6's neon_auth schema (transcribed below from oracle/better-auth/schema.sql, the pg_dump
//! of a database Better Auth's own migrator created), plus the Data API roles and auth.* functions.
#include "db/migrate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_fixture.hpp"

namespace pgwarden::db {
namespace {

using testing::ErrorText;

class MigrateTest : public testing::FreshDatabaseTest {};

struct Column {
  std::string_view table, column, type, nullable, default_value;
};

constexpr std::string_view kUuid = "uuid", kText = "text", kBool = "boolean", kTime = "timestamp with time zone";
constexpr std::string_view kNo = "NO", kYes = "YES", kNull = "<null>", kGenUuid = "gen_random_uuid()",
                           kNow = "CURRENT_TIMESTAMP";

// oracle/better-auth/schema.sql, CREATE TABLE neon_auth.* (tables in name order, columns in table order).
const Column kBetterAuthColumns[] = {
    {"account", "id", kUuid, kNo, kGenUuid},
    {"account", "accountId", kText, kNo, kNull},
    {"account", "providerId", kText, kNo, kNull},
    {"account", "userId", kUuid, kNo, kNull},
    {"account", "accessToken", kText, kYes, kNull},
    {"account", "refreshToken", kText, kYes, kNull},
    {"account", "idToken", kText, kYes, kNull},
    {"account", "accessTokenExpiresAt", kTime, kYes, kNull},
    {"account", "refreshTokenExpiresAt", kTime, kYes, kNull},
    {"account", "scope", kText, kYes, kNull},
    {"account", "password", kText, kYes, kNull},
    {"account", "createdAt", kTime, kNo, kNow},
    {"account", "updatedAt", kTime, kNo, kNull},
    {"invitation", "id", kUuid, kNo, kGenUuid},
    {"invitation", "organizationId", kUuid, kNo, kNull},
    {"invitation", "email", kText, kNo, kNull},
    {"invitation", "role", kText, kYes, kNull},
    {"invitation", "status", kText, kNo, kNull},
    {"invitation", "expiresAt", kTime, kNo, kNull},
    {"invitation", "createdAt", kTime, kNo, kNow},
    {"invitation", "inviterId", kUuid, kNo, kNull},
    {"jwks", "id", kUuid, kNo, kGenUuid},
    {"jwks", "publicKey", kText, kNo, kNull},
    {"jwks", "privateKey", kText, kNo, kNull},
    {"jwks", "createdAt", kTime, kNo, kNull},
    {"jwks", "expiresAt", kTime, kYes, kNull},
    {"member", "id", kUuid, kNo, kGenUuid},
    {"member", "organizationId", kUuid, kNo, kNull},
    {"member", "userId", kUuid, kNo, kNull},
    {"member", "role", kText, kNo, kNull},
    {"member", "createdAt", kTime, kNo, kNull},
    {"organization", "id", kUuid, kNo, kGenUuid},
    {"organization", "name", kText, kNo, kNull},
    {"organization", "slug", kText, kNo, kNull},
    {"organization", "logo", kText, kYes, kNull},
    {"organization", "createdAt", kTime, kNo, kNull},
    {"organization", "metadata", kText, kYes, kNull},
    {"session", "id", kUuid, kNo, kGenUuid},
    {"session", "expiresAt", kTime, kNo, kNull},
    {"session", "token", kText, kNo, kNull},
    {"session", "createdAt", kTime, kNo, kNow},
    {"session", "updatedAt", kTime, kNo, kNull},
    {"session", "ipAddress", kText, kYes, kNull},
    {"session", "userAgent", kText, kYes, kNull},
    {"session", "userId", kUuid, kNo, kNull},
    {"session", "activeOrganizationId", kText, kYes, kNull},
    {"session", "impersonatedBy", kText, kYes, kNull},
    {"user", "id", kUuid, kNo, kGenUuid},
    {"user", "name", kText, kNo, kNull},
    {"user", "email", kText, kNo, kNull},
    {"user", "emailVerified", kBool, kNo, kNull},
    {"user", "image", kText, kYes, kNull},
    {"user", "createdAt", kTime, kNo, kNow},
    {"user", "updatedAt", kTime, kNo, kNow},
    {"user", "isAnonymous", kBool, kYes, kNull},
    {"user", "role", kText, kYes, kNull},
    {"user", "banned", kBool, kYes, kNull},
    {"user", "banReason", kText, kYes, kNull},
    {"user", "banExpires", kTime, kYes, kNull},
    {"verification", "id", kUuid, kNo, kGenUuid},
    {"verification", "identifier", kText, kNo, kNull},
    {"verification", "value", kText, kNo, kNull},
    {"verification", "expiresAt", kTime, kNo, kNull},
    {"verification", "createdAt", kTime, kNo, kNow},
    {"verification", "updatedAt", kTime, kNo, kNow},
};

struct Constraint {
  std::string_view table, name, definition;
};

// schema.sql's ADD CONSTRAINT lines (table, then constraint name, in byte order).
const Constraint kBetterAuthConstraints[] = {
    {"account", "account_pkey", "PRIMARY KEY (id)"},
    {"account", "account_userId_fkey", "FOREIGN KEY (\"userId\") REFERENCES neon_auth.\"user\"(id) ON DELETE CASCADE"},
    {"invitation", "invitation_inviterId_fkey",
     "FOREIGN KEY (\"inviterId\") REFERENCES neon_auth.\"user\"(id) ON DELETE CASCADE"},
    {"invitation", "invitation_organizationId_fkey",
     "FOREIGN KEY (\"organizationId\") REFERENCES neon_auth.organization(id) ON DELETE CASCADE"},
    {"invitation", "invitation_pkey", "PRIMARY KEY (id)"},
    {"jwks", "jwks_pkey", "PRIMARY KEY (id)"},
    {"member", "member_organizationId_fkey",
     "FOREIGN KEY (\"organizationId\") REFERENCES neon_auth.organization(id) ON DELETE CASCADE"},
    {"member", "member_pkey", "PRIMARY KEY (id)"},
    {"member", "member_userId_fkey", "FOREIGN KEY (\"userId\") REFERENCES neon_auth.\"user\"(id) ON DELETE CASCADE"},
    {"organization", "organization_pkey", "PRIMARY KEY (id)"},
    {"organization", "organization_slug_key", "UNIQUE (slug)"},
    {"session", "session_pkey", "PRIMARY KEY (id)"},
    {"session", "session_token_key", "UNIQUE (token)"},
    {"session", "session_userId_fkey", "FOREIGN KEY (\"userId\") REFERENCES neon_auth.\"user\"(id) ON DELETE CASCADE"},
    {"user", "user_email_key", "UNIQUE (email)"},
    {"user", "user_pkey", "PRIMARY KEY (id)"},
    {"verification", "verification_pkey", "PRIMARY KEY (id)"},
};

// schema.sql's CREATE INDEX lines plus the indexes behind its primary keys and unique constraints.
const Constraint kBetterAuthIndexes[] = {
    {"account", "account_pkey", "CREATE UNIQUE INDEX account_pkey ON neon_auth.account USING btree (id)"},
    {"account", "account_userId_idx", "CREATE INDEX \"account_userId_idx\" ON neon_auth.account USING btree (\"userId\")"},
    {"invitation", "invitation_email_idx", "CREATE INDEX invitation_email_idx ON neon_auth.invitation USING btree (email)"},
    {"invitation", "invitation_organizationId_idx",
     "CREATE INDEX \"invitation_organizationId_idx\" ON neon_auth.invitation USING btree (\"organizationId\")"},
    {"invitation", "invitation_pkey", "CREATE UNIQUE INDEX invitation_pkey ON neon_auth.invitation USING btree (id)"},
    {"jwks", "jwks_pkey", "CREATE UNIQUE INDEX jwks_pkey ON neon_auth.jwks USING btree (id)"},
    {"member", "member_organizationId_idx",
     "CREATE INDEX \"member_organizationId_idx\" ON neon_auth.member USING btree (\"organizationId\")"},
    {"member", "member_pkey", "CREATE UNIQUE INDEX member_pkey ON neon_auth.member USING btree (id)"},
    {"member", "member_userId_idx", "CREATE INDEX \"member_userId_idx\" ON neon_auth.member USING btree (\"userId\")"},
    {"organization", "organization_pkey",
     "CREATE UNIQUE INDEX organization_pkey ON neon_auth.organization USING btree (id)"},
    {"organization", "organization_slug_key",
     "CREATE UNIQUE INDEX organization_slug_key ON neon_auth.organization USING btree (slug)"},
    {"organization", "organization_slug_uidx",
     "CREATE UNIQUE INDEX organization_slug_uidx ON neon_auth.organization USING btree (slug)"},
    {"session", "session_pkey", "CREATE UNIQUE INDEX session_pkey ON neon_auth.session USING btree (id)"},
    {"session", "session_token_key", "CREATE UNIQUE INDEX session_token_key ON neon_auth.session USING btree (token)"},
    {"session", "session_userId_idx", "CREATE INDEX \"session_userId_idx\" ON neon_auth.session USING btree (\"userId\")"},
    {"user", "user_email_key", "CREATE UNIQUE INDEX user_email_key ON neon_auth.\"user\" USING btree (email)"},
    {"user", "user_pkey", "CREATE UNIQUE INDEX user_pkey ON neon_auth.\"user\" USING btree (id)"},
    {"verification", "verification_identifier_idx",
     "CREATE INDEX verification_identifier_idx ON neon_auth.verification USING btree (identifier)"},
    {"verification", "verification_pkey",
     "CREATE UNIQUE INDEX verification_pkey ON neon_auth.verification USING btree (id)"},
};

//! Better Auth 1.6's own migrator DDL (better-auth-oracle.md §2), run with search_path = neon_auth.
constexpr std::string_view kBetterAuthMigratorDdl = R"sql(
create schema neon_auth;
set search_path to neon_auth;
create table "user" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "name" text not null, "email" text not null unique, "emailVerified" boolean not null, "image" text, "createdAt" timestamptz default CURRENT_TIMESTAMP not null, "updatedAt" timestamptz default CURRENT_TIMESTAMP not null, "isAnonymous" boolean, "role" text, "banned" boolean, "banReason" text, "banExpires" timestamptz);
create table "session" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "expiresAt" timestamptz not null, "token" text not null unique, "createdAt" timestamptz default CURRENT_TIMESTAMP not null, "updatedAt" timestamptz not null, "ipAddress" text, "userAgent" text, "userId" uuid not null references "user" ("id") on delete cascade, "activeOrganizationId" text, "impersonatedBy" text);
create table "account" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "accountId" text not null, "providerId" text not null, "userId" uuid not null references "user" ("id") on delete cascade, "accessToken" text, "refreshToken" text, "idToken" text, "accessTokenExpiresAt" timestamptz, "refreshTokenExpiresAt" timestamptz, "scope" text, "password" text, "createdAt" timestamptz default CURRENT_TIMESTAMP not null, "updatedAt" timestamptz not null);
create table "verification" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "identifier" text not null, "value" text not null, "expiresAt" timestamptz not null, "createdAt" timestamptz default CURRENT_TIMESTAMP not null, "updatedAt" timestamptz default CURRENT_TIMESTAMP not null);
create table "jwks" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "publicKey" text not null, "privateKey" text not null, "createdAt" timestamptz not null, "expiresAt" timestamptz);
create table "organization" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "name" text not null, "slug" text not null unique, "logo" text, "createdAt" timestamptz not null, "metadata" text);
create table "member" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "organizationId" uuid not null references "organization" ("id") on delete cascade, "userId" uuid not null references "user" ("id") on delete cascade, "role" text not null, "createdAt" timestamptz not null);
create table "invitation" ("id" uuid default pg_catalog.gen_random_uuid() not null primary key, "organizationId" uuid not null references "organization" ("id") on delete cascade, "email" text not null, "role" text, "status" text not null, "expiresAt" timestamptz not null, "createdAt" timestamptz default CURRENT_TIMESTAMP not null, "inviterId" uuid not null references "user" ("id") on delete cascade);
create index "session_userId_idx" on "session" ("userId");
create index "account_userId_idx" on "account" ("userId");
create index "verification_identifier_idx" on "verification" ("identifier");
create unique index "organization_slug_uidx" on "organization" ("slug");
create index "member_organizationId_idx" on "member" ("organizationId");
create index "member_userId_idx" on "member" ("userId");
create index "invitation_organizationId_idx" on "invitation" ("organizationId");
create index "invitation_email_idx" on "invitation" ("email");
reset search_path;
)sql";

//! Compares the neon_auth catalog with the transcribed Better Auth schema.
void ExpectBetterAuthSchema(Connection& conn) {
  const auto cols = conn.QueryBlocking(
      "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '<null>') "
      "FROM information_schema.columns WHERE table_schema = 'neon_auth' "
      "ORDER BY table_name COLLATE \"C\", ordinal_position");
  ASSERT_OK(cols);
  ASSERT_EQ(cols->Size(), static_cast<int>(std::size(kBetterAuthColumns)));
  for (int i = 0; i < cols->Size(); ++i) {
    const Column& want = kBetterAuthColumns[i];
    SCOPED_TRACE(std::string(want.table) + "." + std::string(want.column));
    EXPECT_EQ(cols->Text(i, 0), want.table);
    EXPECT_EQ(cols->Text(i, 1), want.column);
    EXPECT_EQ(cols->Text(i, 2), want.type);
    EXPECT_EQ(cols->Text(i, 3), want.nullable);
    EXPECT_EQ(cols->Text(i, 4), want.default_value);
  }

  const auto cons = conn.QueryBlocking(
      "SELECT c.relname, con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con "
      "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'neon_auth' AND con.contype IN ('p', 'u', 'f', 'c', 'x') "
      "ORDER BY c.relname COLLATE \"C\", con.conname COLLATE \"C\"");
  ASSERT_OK(cons);
  ASSERT_EQ(cons->Size(), static_cast<int>(std::size(kBetterAuthConstraints)));
  for (int i = 0; i < cons->Size(); ++i) {
    const Constraint& want = kBetterAuthConstraints[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(cons->Text(i, 0), want.table);
    EXPECT_EQ(cons->Text(i, 1), want.name);
    EXPECT_EQ(cons->Text(i, 2), want.definition);
  }

  const auto idx = conn.QueryBlocking(
      "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'neon_auth' "
      "ORDER BY tablename COLLATE \"C\", indexname COLLATE \"C\"");
  ASSERT_OK(idx);
  ASSERT_EQ(idx->Size(), static_cast<int>(std::size(kBetterAuthIndexes)));
  for (int i = 0; i < idx->Size(); ++i) {
    const Constraint& want = kBetterAuthIndexes[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(idx->Text(i, 0), want.table);
    EXPECT_EQ(idx->Text(i, 1), want.name);
    EXPECT_EQ(idx->Text(i, 2), want.definition);
  }
}

TEST_F(MigrateTest, AppliesEveryMigrationOnAFreshDatabaseThenNothing) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const auto expected = static_cast<int>(EmbeddedMigrations().size());
  ASSERT_GT(expected, 0);
  const auto first = db::Migrate(*conn);
  ASSERT_OK(first);
  EXPECT_EQ(*first, expected);
  const auto second = db::Migrate(*conn);
  ASSERT_OK(second);
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(Scalar(*conn, "SELECT count(*) FROM pgwarden.schema_migrations"), std::to_string(expected));
  // Versions are recorded as numbered, in order.
  const auto versions = conn->QueryBlocking("SELECT version FROM pgwarden.schema_migrations ORDER BY version");
  ASSERT_OK(versions);
  for (int i = 0; i < versions->Size(); ++i) EXPECT_EQ(versions->Int64(i, 0), EmbeddedMigrations()[i].version);
  // A fresh connection (another process starting later) applies nothing either.
  auto later = Connect();
  ASSERT_NE(later, nullptr);
  const auto third = db::Migrate(*later);
  ASSERT_OK(third);
  EXPECT_EQ(*third, 0);
}

TEST_F(MigrateTest, NumbersEmbeddedMigrationsUniquelyInAscendingOrder) {
  int previous = 0;
  for (const auto& m : EmbeddedMigrations()) {
    SCOPED_TRACE(m.name);
    EXPECT_GT(m.version, previous);
    EXPECT_FALSE(m.sql.empty());
    previous = m.version;
  }
}

TEST_F(MigrateTest, IsSafeWhenSeveralProcessesStartAtOnce) {
  constexpr int kProcesses = 4;
  std::atomic<int> total{0}, failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kProcesses; ++i) {
    threads.emplace_back([&] {
      auto conn = Connection::ConnectBlocking(conninfo_);
      if (!conn) {
        ++failures;
        return;
      }
      const auto applied = db::Migrate(**conn);
      if (applied) {
        total += *applied;
      } else {
        ++failures;
        ADD_FAILURE() << ErrorText(applied.error());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(total.load(), static_cast<int>(EmbeddedMigrations().size()));
}

TEST_F(MigrateTest, CreatesExactlyBetterAuthsNeonAuthSchema) {
  ASSERT_NO_FATAL_FAILURE(Migrate());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const auto tables = conn->QueryBlocking(
      "SELECT string_agg(table_name, ',' ORDER BY table_name COLLATE \"C\") FROM information_schema.tables "
      "WHERE table_schema = 'neon_auth'");
  ASSERT_OK(tables);
  EXPECT_EQ(tables->Text(0, 0), "account,invitation,jwks,member,organization,session,user,verification");
  ExpectBetterAuthSchema(*conn);
}

TEST_F(MigrateTest, AdoptsADatabaseBetterAuthAlreadyMigrated) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_OK(conn->ScriptBlocking(kBetterAuthMigratorDdl));
  ASSERT_OK(conn->ScriptBlocking(
      "INSERT INTO neon_auth.\"user\" (name, email, \"emailVerified\") VALUES ('Kept', 'kept@example.com', true)"));
  const auto applied = db::Migrate(*conn);
  ASSERT_OK(applied);
  EXPECT_EQ(*applied, static_cast<int>(EmbeddedMigrations().size()));
  ExpectBetterAuthSchema(*conn);
  EXPECT_EQ(Scalar(*conn, "SELECT email FROM neon_auth.\"user\""), "kept@example.com");
}

TEST_F(MigrateTest, CreatesTheDataApiRoles) {
  ASSERT_NO_FATAL_FAILURE(Migrate());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const auto roles = conn->QueryBlocking(
      "SELECT rolname, rolcanlogin, rolinherit FROM pg_roles "
      "WHERE rolname IN ('anonymous', 'authenticated', 'authenticator') ORDER BY rolname");
  ASSERT_OK(roles);
  ASSERT_EQ(roles->Size(), 3);
  EXPECT_EQ(roles->Text(0, 0), "anonymous");
  EXPECT_FALSE(roles->Bool(0, 1));
  EXPECT_EQ(roles->Text(1, 0), "authenticated");
  EXPECT_FALSE(roles->Bool(1, 1));
  EXPECT_EQ(roles->Text(2, 0), "authenticator");
  EXPECT_TRUE(roles->Bool(2, 1));   // logs in
  EXPECT_FALSE(roles->Bool(2, 2));  // NOINHERIT: privileges only after SET ROLE
  EXPECT_EQ(Scalar(*conn, "SELECT pg_has_role('authenticator', 'anonymous', 'MEMBER')"), "t");
  EXPECT_EQ(Scalar(*conn, "SELECT pg_has_role('authenticator', 'authenticated', 'MEMBER')"), "t");
}

TEST_F(MigrateTest, KeepsTheAuthTablesAwayFromTheDataApiRoles) {
  ASSERT_NO_FATAL_FAILURE(Migrate());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  for (const char* role : {"anonymous", "authenticated", "authenticator"}) {
    for (const char* table : {"neon_auth.\"user\"", "neon_auth.session", "neon_auth.account", "neon_auth.jwks"}) {
      SCOPED_TRACE(std::string(role) + " on " + table);
      EXPECT_EQ(Scalar(*conn, "SELECT has_table_privilege($1::name, $2::text, 'SELECT')", {role, table}), "f");
    }
  }
}

//! Runs `sql` inside a transaction where request.jwt.claims is `claims` (NULL = never set).
std::string WithClaims(Connection& conn, std::optional<std::string_view> claims, std::string_view sql) {
  EXPECT_OK(conn.ScriptBlocking("BEGIN"));
  if (claims) {
    const auto set = conn.QueryBlocking("SELECT set_config('request.jwt.claims', $1, true)", {*claims});
    EXPECT_TRUE(set) << ErrorText(set.error());
  }
  const auto rows = conn.QueryBlocking(sql);
  std::string out;
  if (!rows) {
    out = "ERROR " + ErrorText(rows.error());
  } else {
    out = rows->IsNull(0, 0) ? "<null>" : std::string(rows->Text(0, 0));
  }
  conn.ScriptBlocking("ROLLBACK");
  return out;
}

TEST_F(MigrateTest, DefinesAuthFunctionsThatBehaveAsPgSessionJwt) {
  ASSERT_NO_FATAL_FAILURE(Migrate());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const std::string uuid = "8a6e0804-2bd0-4672-b79d-d97027f9071a";
  const std::string claims = R"({"sub":")" + uuid + R"(","role":"authenticated","email":"a@b.co"})";
  struct Case {
    std::string_view name;
    std::optional<std::string_view> claims;
    std::string_view sql;
    std::string_view expected;
  };
  const Case cases[] = {
      {"user_id() is sub", claims, "SELECT auth.user_id()", uuid},
      {"uid() is sub as uuid", claims, "SELECT auth.uid()::text", uuid},
      {"uid() type", claims, "SELECT pg_typeof(auth.uid())::text", "uuid"},
      {"jwt() is the claims", claims, "SELECT auth.jwt() ->> 'email'", "a@b.co"},
      {"session() is the claims", claims, "SELECT auth.session() ->> 'role'", "authenticated"},
      {"non-UUID sub: user_id()", R"({"sub":"user_123"})", "SELECT auth.user_id()", "user_123"},
      {"non-UUID sub: uid() NULL", R"({"sub":"user_123"})", "SELECT auth.uid()::text", "<null>"},
      {"no sub: user_id() NULL", R"({"role":"anonymous"})", "SELECT auth.user_id()", "<null>"},
      {"no sub: uid() NULL", R"({"role":"anonymous"})", "SELECT auth.uid()::text", "<null>"},
      {"unset: jwt() JSON null", std::nullopt, "SELECT auth.jwt()::text", "null"},
      {"unset: jwt() not SQL NULL", std::nullopt, "SELECT (auth.jwt() IS NOT NULL)::text", "true"},
      {"unset: user_id() NULL", std::nullopt, "SELECT auth.user_id()", "<null>"},
      {"unset: uid() NULL", std::nullopt, "SELECT auth.uid()::text", "<null>"},
      {"empty: jwt() JSON null", "", "SELECT auth.jwt()::text", "null"},
      {"invalid JSON: jwt() JSON null", "not json{", "SELECT auth.jwt()::text", "null"},
      {"invalid JSON: user_id() NULL", "not json{", "SELECT auth.user_id()", "<null>"},
      {"invalid JSON: uid() NULL", "{\"sub\":", "SELECT auth.uid()::text", "<null>"},
      {"array claims: user_id() NULL", "[1,2]", "SELECT auth.user_id()", "<null>"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(WithClaims(*conn, c.claims, c.sql), c.expected);
  }
}

TEST_F(MigrateTest, ForgetsClaimsWhenTheTransactionEnds) {
  ASSERT_NO_FATAL_FAILURE(Migrate());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(WithClaims(*conn, R"({"sub":"someone"})", "SELECT auth.user_id()"), "someone");
  // The next transaction on the same (pooled) connection must not see the previous request's claims.
  EXPECT_EQ(WithClaims(*conn, std::nullopt, "SELECT auth.user_id()"), "<null>");
  EXPECT_EQ(WithClaims(*conn, std::nullopt, "SELECT auth.jwt()::text"), "null");
}

TEST_F(MigrateTest, LetsTheDataApiRolesCallTheAuthFunctions) {
  ASSERT_NO_FATAL_FAILURE(Migrate());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  for (const char* role : {"anonymous", "authenticated"}) {
    SCOPED_TRACE(role);
    ASSERT_OK(conn->ScriptBlocking(std::string("BEGIN; SET LOCAL ROLE ") + role +
                                   "; SELECT set_config('request.jwt.claims', '{\"sub\":\"x\"}', true)"));
    EXPECT_EQ(Scalar(*conn, "SELECT auth.user_id()"), "x");
    conn->ScriptBlocking("ROLLBACK");
  }
}

}  // namespace
}  // namespace pgwarden::db
