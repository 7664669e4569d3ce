//! Integration-test plumbing: a fresh, randomly named database in the cluster named by PGWARDEN_TEST_PG
//! (a libpq conninfo or URI), created before each test and dropped after it; and a runner for coroutine
//! test bodies on a private io_context. Tests skip, with a message, when PGWARDEN_TEST_PG is unset.
#pragma once

#include <libpq-fe.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "core/error.hpp"
#include "db/connection.hpp"
#include "db/migrate.hpp"

namespace pgwarden::testing {

namespace asio = boost::asio;

//! "CODE (sqlstate): message" for failure output.
inline std::string ErrorText(const Error& e) {
  std::string out(Describe(e.code).code);
  if (!e.sqlstate.empty()) out += " (" + e.sqlstate + ")";
  out += ": " + std::string(e.Message());
  return out;
}

//! `conninfo` (URI or key=value) with its dbname replaced, as a key=value string.
inline std::string WithDatabase(const std::string& conninfo, const std::string& dbname) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? err : "cannot parse";
    PQfreemem(err);
    throw std::runtime_error("PGWARDEN_TEST_PG: " + msg);
  }
  auto quote = [](const std::string& v) {
    std::string q = "'";
    for (const char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val || !*o->val || std::string(o->keyword) == "dbname") continue;
    out += std::string(o->keyword) + "=" + quote(o->val) + " ";
  }
  PQconninfoFree(opts);
  return out + "dbname=" + quote(dbname);
}

//! Runs a coroutine test body to completion on its own io_context. Inside the body, use EXPECT_* or the
//! CO_ASSERT_* macros below (gtest's ASSERT_* `return`, which a coroutine cannot).
template <class F>
void RunAsync(F body) {
  asio::io_context io;
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  ASSERT_TRUE(finished);
}

#define CO_ASSERT_OK(expr)                                                                  \
  do {                                                                                      \
    if (!(expr)) {                                                                          \
      ADD_FAILURE() << #expr << " failed: " << ::pgwarden::testing::ErrorText((expr).error()); \
      co_return;                                                                            \
    }                                                                                       \
  } while (0)

#define CO_ASSERT_TRUE(cond)                      \
  do {                                            \
    if (!(cond)) {                                \
      ADD_FAILURE() << "expected true: " #cond;   \
      co_return;                                  \
    }                                             \
  } while (0)

#define ASSERT_OK(expr) ASSERT_TRUE(expr) << ::pgwarden::testing::ErrorText((expr).error())
#define EXPECT_OK(expr) EXPECT_TRUE(expr) << ::pgwarden::testing::ErrorText((expr).error())

//! Each test gets its own database: `conninfo_` points at it; `admin_conninfo_` at the cluster's.
class FreshDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("PGWARDEN_TEST_PG");
    if (!env || !*env) {
      GTEST_SKIP() << "PGWARDEN_TEST_PG is not set: integration tests need a Postgres cluster. Start one with "
                      "`pgwarden cluster start /tmp/it-pg postgres` and export the conninfo it prints.";
    }
    admin_conninfo_ = env;
    std::random_device rd;
    std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    db_name_ = "pgw_it_";
    for (int i = 0; i < 16; ++i) db_name_ += kAlphabet[rng() % (sizeof kAlphabet - 1)];
    auto admin = db::Connection::ConnectBlocking(admin_conninfo_);
    ASSERT_OK(admin);
    const auto created = (*admin)->ScriptBlocking("CREATE DATABASE " + db_name_);
    ASSERT_OK(created);
    created_ = true;
    conninfo_ = WithDatabase(admin_conninfo_, db_name_);
  }

  void TearDown() override {
    if (!created_) return;
    auto admin = db::Connection::ConnectBlocking(admin_conninfo_);
    ASSERT_OK(admin);
    // FORCE: a test that failed half-way may still hold connections.
    const auto dropped = (*admin)->ScriptBlocking("DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
    EXPECT_OK(dropped);
  }

  //! A blocking connection to the fresh database (fails the test if it cannot connect).
  std::unique_ptr<db::Connection> Connect() const {
    auto conn = db::Connection::ConnectBlocking(conninfo_);
    EXPECT_TRUE(conn) << ErrorText(conn.error());
    return conn ? std::move(*conn) : nullptr;
  }

  //! Runs every embedded migration on the fresh database.
  void Migrate() const {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    const auto applied = db::Migrate(*conn);
    ASSERT_OK(applied);
  }

  //! The single text value of a blocking query ("<null>" for NULL).
  std::string Scalar(db::Connection& conn, std::string_view sql, std::initializer_list<db::Param> params = {}) const {
    const auto rows = conn.QueryBlocking(sql, params);
    EXPECT_TRUE(rows) << sql << ": " << ErrorText(rows.error());
    if (!rows || rows->Empty()) return "<no rows>";
    if (rows->IsNull(0, 0)) return "<null>";
    return std::string(rows->Text(0, 0));
  }

  std::string admin_conninfo_;
  std::string db_name_;
  std::string conninfo_;
  bool created_ = false;
};

}  // namespace pgwarden::testing
