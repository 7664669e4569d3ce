//! Connection and Pool against a real Postgres: non-blocking queries, parameters, errors, pooling.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "db/pool.hpp"
#include "pg_fixture.hpp"

namespace pgwarden::db {
namespace {

using namespace std::chrono_literals;
using testing::ErrorText;
using testing::RunAsync;

class ConnectionTest : public testing::FreshDatabaseTest {};
class PoolTest : public testing::FreshDatabaseTest {};

constexpr std::string_view kInjection = "'); DROP TABLE x; --";

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

//! Ends the backend `pid` (waiting up to 5 s for it to go); true when it did.
bool Terminate(Connection& admin, const std::string& pid) {
  const auto r = admin.QueryBlocking("SELECT pg_terminate_backend($1::int, 5000)", {pid});
  if (!r) ADD_FAILURE() << ErrorText(r.error());
  return r && r->Bool(0, 0);
}

//! A local TCP port that is not Postgres: the kernel completes handshakes on the listening socket, and it
//! either never answers (silent: a database that hangs) or, with AcceptAndClose running, accepts and closes at
//! once (a database that is down), counting the connections.
struct FakeDatabase {
  explicit FakeDatabase(asio::any_io_executor ex) : acceptor(ex, {asio::ip::make_address("127.0.0.1"), 0}) {}
  std::string Conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(acceptor.local_endpoint().port()) +
           " dbname=x user=x sslmode=disable gssencmode=disable";
  }
  asio::ip::tcp::acceptor acceptor;
  int accepted = 0;
};

asio::awaitable<void> AcceptAndClose(FakeDatabase& fake) {
  for (;;) {
    auto [ec, socket] = co_await fake.acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    ++fake.accepted;
  }
}

TEST_F(ConnectionTest, ConnectsBlockingInUtc) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_TRUE(conn->Healthy());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(Scalar(*conn, "SELECT current_database()"), db_name_);
  EXPECT_EQ(Scalar(*conn, "SHOW TimeZone"), "UTC");
  EXPECT_EQ(Scalar(*conn, "SELECT $1::int + $2::int", {"2", "3"}), "5");
}

TEST_F(ConnectionTest, FailsToConnectBlockingWithAClearError) {
  const auto conn = Connection::ConnectBlocking(testing::WithDatabase(admin_conninfo_, "pgw_no_such_database"));
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code, ErrorCode::kServiceUnavailable);
  EXPECT_NE(conn.error().message.find("pgw_no_such_database"), std::string::npos) << conn.error().message;
  EXPECT_EQ(conn.error().message.back() == '\n', false);
}

TEST_F(ConnectionTest, ConnectsAndQueriesAsynchronously) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    auto& c = **conn;
    auto rows = co_await c.Query("SELECT current_database(), current_setting('TimeZone'), $1::int * 2",
                                 Params(std::string_view("21")));
    CO_ASSERT_OK(rows);
    CO_ASSERT_TRUE(rows->Size() == 1);
    EXPECT_EQ(rows->Text(0, 0), db_name_);
    EXPECT_EQ(rows->Text(0, 1), "UTC");
    EXPECT_EQ(rows->Int64(0, 2), 42);
    auto many = co_await c.Query("SELECT g FROM generate_series(1, 1000) g");
    CO_ASSERT_OK(many);
    EXPECT_EQ(many->Size(), 1000);
    EXPECT_EQ(many->Text(999, 0), "1000");
  });
}

TEST_F(ConnectionTest, FailsToConnectAsynchronouslyWithServiceUnavailable) {
  RunAsync([&]() -> asio::awaitable<void> {
    const std::string bad = testing::WithDatabase(admin_conninfo_, "pgw_no_such_database");
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, bad);
    CO_ASSERT_TRUE(!conn);
    EXPECT_EQ(conn.error().code, ErrorCode::kServiceUnavailable);
  });
}

TEST_F(ConnectionTest, SendsValuesAsParametersNeverAsSql) {
  auto setup = Connect();
  ASSERT_NE(setup, nullptr);
  ASSERT_OK(setup->ScriptBlocking("CREATE TABLE x (v text)"));
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    auto& c = **conn;
    const std::string tricky = "quote ' double \" backslash \\ dollar $1 $$ semicolon ; unicode \xC3\xA9 \xF0\x9F\x94\x91";
    // (An array, not a braced list: g++ 12 miscompiles initializer_lists inside coroutines.)
    const std::array<std::string_view, 3> values = {kInjection, tricky, ""};
    for (const std::string_view value : values) {
      auto echoed = co_await c.Query("SELECT $1::text", Params(value));
      CO_ASSERT_OK(echoed);
      EXPECT_EQ(echoed->Text(0, 0), value);
      auto inserted = co_await c.Query("INSERT INTO x (v) VALUES ($1) RETURNING v", Params(value));
      CO_ASSERT_OK(inserted);
      EXPECT_EQ(inserted->Text(0, 0), value);
      EXPECT_EQ(inserted->Affected(), 1);
    }
    auto stored = co_await c.Query("SELECT v FROM x WHERE v = $1", Params(kInjection));
    CO_ASSERT_OK(stored);
    CO_ASSERT_TRUE(stored->Size() == 1);
    EXPECT_EQ(stored->Text(0, 0), kInjection);
  });
  // Table x survived and holds the three values.
  EXPECT_EQ(Scalar(*setup, "SELECT count(*) FROM x"), "3");
  // The blocking path sends parameters the same way.
  EXPECT_EQ(Scalar(*setup, "SELECT $1::text", {kInjection}), kInjection);
  ASSERT_OK(setup->QueryBlocking("INSERT INTO x (v) VALUES ($1)", {kInjection}));
  EXPECT_EQ(Scalar(*setup, "SELECT count(*) FROM x WHERE v = $1", {kInjection}), "2");
}

TEST_F(ConnectionTest, SendsNullParametersAsSqlNull) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    const Param null_param = std::nullopt;
    const std::string a = "a", b = "";
    auto rows = co_await (*conn)->Query("SELECT $1::text, $2::text IS NULL, $3::text, $3::text IS NULL",
                                        Params(a, null_param, b));
    CO_ASSERT_OK(rows);
    EXPECT_EQ(rows->OptText(0, 0), std::optional<std::string_view>("a"));
    EXPECT_EQ(rows->Text(0, 1), "t");
    EXPECT_TRUE(rows->Bool(0, 1));
    EXPECT_EQ(rows->OptText(0, 2), std::optional<std::string_view>(""));  // empty string is not NULL
    EXPECT_FALSE(rows->Bool(0, 3));
    auto null_row = co_await (*conn)->Query("SELECT $1::text", Params(null_param));
    CO_ASSERT_OK(null_row);
    EXPECT_TRUE(null_row->IsNull(0, 0));
    EXPECT_EQ(null_row->OptText(0, 0), std::nullopt);
  });
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const auto rows = conn->QueryBlocking("SELECT $1::text IS NULL, $2::text", {std::nullopt, "x"});
  ASSERT_OK(rows);
  EXPECT_TRUE(rows->Bool(0, 0));
  EXPECT_EQ(rows->Text(0, 1), "x");
}

TEST_F(ConnectionTest, SurfacesUniqueViolationsAsSqlstate23505AndStaysUsable) {
  auto setup = Connect();
  ASSERT_NE(setup, nullptr);
  ASSERT_OK(setup->ScriptBlocking("CREATE TABLE u (email text CONSTRAINT u_email_key UNIQUE)"));
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    auto& c = **conn;
    const std::string email = "a@b.co";
    CO_ASSERT_OK(co_await c.Query("INSERT INTO u VALUES ($1)", Params(email)));
    auto dup = co_await c.Query("INSERT INTO u VALUES ($1)", Params(email));
    CO_ASSERT_TRUE(!dup);
    EXPECT_EQ(dup.error().sqlstate, kUniqueViolation);
    EXPECT_EQ(dup.error().code, ErrorCode::kDatabase);
    EXPECT_NE(dup.error().message.find("u_email_key"), std::string::npos) << dup.error().message;
    EXPECT_TRUE(c.Healthy());
    EXPECT_FALSE(c.InTransaction());
    auto after = co_await c.Query("SELECT count(*) FROM u");
    CO_ASSERT_OK(after);
    EXPECT_EQ(after->Text(0, 0), "1");
  });
  const auto dup = setup->QueryBlocking("INSERT INTO u VALUES ($1)", {"a@b.co"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().sqlstate, "23505");
}

TEST_F(ConnectionTest, SurfacesOtherSqlstates) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    auto& c = **conn;
    auto syntax = co_await c.Query("SELEC 1");
    CO_ASSERT_TRUE(!syntax);
    EXPECT_EQ(syntax.error().sqlstate, "42601");
    auto missing = co_await c.Query("SELECT * FROM no_such_table");
    CO_ASSERT_TRUE(!missing);
    EXPECT_EQ(missing.error().sqlstate, "42P01");
    auto cast = co_await c.Query("SELECT $1::uuid", Params(std::string_view("not-a-uuid")));
    CO_ASSERT_TRUE(!cast);
    EXPECT_EQ(cast.error().sqlstate, "22P02");
    auto script = co_await c.Script("SELECT 1; SELECT 1/0; SELECT 2");
    CO_ASSERT_TRUE(!script);
    EXPECT_EQ(script.error().sqlstate, "22012");
    // Still usable, and statements prepared before the errors still run.
    auto ok = co_await c.Query("SELECT $1::uuid", Params(std::string_view("8a6e0804-2bd0-4672-b79d-d97027f9071a")));
    CO_ASSERT_OK(ok);
    EXPECT_TRUE(c.Healthy());
  });
}

TEST_F(ConnectionTest, ReusesPreparedStatementsWithNewParameters) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    for (int i = 0; i < 50; ++i) {
      const std::string n = std::to_string(i);
      auto r = co_await (*conn)->Query("SELECT $1::int + 1", Params(n));
      CO_ASSERT_OK(r);
      EXPECT_EQ(r->Int64(0, 0), i + 1);
      // A different text each time is prepared under its own name.
      const std::string sql = "SELECT " + n + " + $1::int";
      auto d = co_await (*conn)->Query(sql, Params(n));
      CO_ASSERT_OK(d);
      EXPECT_EQ(d->Int64(0, 0), 2 * i);
    }
  });
}

TEST_F(ConnectionTest, RunsScriptsAndTransactions) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    auto& c = **conn;
    CO_ASSERT_OK(co_await c.Script("CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)"));
    CO_ASSERT_OK(co_await c.Script("BEGIN"));
    EXPECT_TRUE(c.InTransaction());
    auto del = co_await c.Query("DELETE FROM t");
    CO_ASSERT_OK(del);
    EXPECT_EQ(del->Affected(), 2);
    CO_ASSERT_OK(co_await c.Script("ROLLBACK"));
    EXPECT_FALSE(c.InTransaction());
    auto count = co_await c.Query("SELECT count(*) FROM t");
    CO_ASSERT_OK(count);
    EXPECT_EQ(count->Text(0, 0), "2");
  });
}

TEST_F(ConnectionTest, GivesUpOnAQueryAfterItsTimeoutAndIsThenBroken) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await Connection::Connect(ex, conninfo_);
    CO_ASSERT_OK(conn);
    (*conn)->SetQueryTimeout(300ms);
    CO_ASSERT_OK(co_await (*conn)->Query("SELECT 1"));  // a quick query is not affected
    const auto start = std::chrono::steady_clock::now();
    auto slow = co_await (*conn)->Query("SELECT pg_sleep(5)");
    const auto took = std::chrono::steady_clock::now() - start;
    CO_ASSERT_TRUE(!slow);
    EXPECT_EQ(slow.error().code, ErrorCode::kServiceUnavailable);
    EXPECT_NE(slow.error().message.find("no answer from the database within 300 ms"), std::string::npos)
        << slow.error().message;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    EXPECT_FALSE((*conn)->Healthy());
  });
}

TEST_F(ConnectionTest, GivesUpConnectingToASilentServerAfterTheTimeout) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    FakeDatabase silent(ex);  // never accepts, never answers
    const auto start = std::chrono::steady_clock::now();
    auto conn = co_await Connection::Connect(ex, silent.Conninfo(), 400);
    const auto took = std::chrono::steady_clock::now() - start;
    CO_ASSERT_TRUE(!conn);
    EXPECT_EQ(conn.error().code, ErrorCode::kServiceUnavailable);
    EXPECT_NE(conn.error().message.find("no answer"), std::string::npos) << conn.error().message;
    EXPECT_GE(took, 350ms);
    EXPECT_LT(took, 3s);
  });
}

TEST_F(PoolTest, BacksOffAfterAFailedConnectFailingFastMeanwhile) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    FakeDatabase down(ex);
    asio::co_spawn(ex, AcceptAndClose(down), asio::detached);
    Pool pool(ex, down.Conninfo(), /*max_size=*/2, /*acquire_timeout=*/2s);
    auto first = co_await pool.Acquire();
    CO_ASSERT_TRUE(!first);
    EXPECT_EQ(first.error().code, ErrorCode::kServiceUnavailable);
    const int tried = down.accepted;
    EXPECT_GE(tried, 1);
    EXPECT_TRUE(pool.BackingOff());
    EXPECT_EQ(pool.RetryAfterSeconds(), 1);
    // Within the backoff window nothing is tried: every Acquire fails at once.
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
      auto again = co_await pool.Acquire();
      EXPECT_FALSE(again);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
    EXPECT_EQ(down.accepted, tried);
    // After the window one new attempt is made, and the next window is longer (doubling, capped).
    co_await Sleep(Pool::kFirstBackoff * 5 / 4 + 50ms);
    EXPECT_FALSE(pool.BackingOff());
    auto later = co_await pool.Acquire();
    EXPECT_FALSE(later);
    EXPECT_EQ(down.accepted, 2 * tried);
    EXPECT_TRUE(pool.BackingOff());
    co_await Sleep(Pool::kFirstBackoff * 5 / 4 + 50ms);
    EXPECT_TRUE(pool.BackingOff()) << "the second delay is at least twice the first";
    EXPECT_EQ(pool.Size(), 0);
    down.acceptor.close();
  });
}

TEST_F(PoolTest, BoundsAcquireByItsTimeoutWhenTheDatabaseHangs) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    FakeDatabase silent(ex);
    Pool pool(ex, silent.Conninfo(), /*max_size=*/1, /*acquire_timeout=*/500ms);
    const auto start = std::chrono::steady_clock::now();
    auto lease = co_await pool.Acquire();
    CO_ASSERT_TRUE(!lease);
    EXPECT_EQ(lease.error().code, ErrorCode::kServiceUnavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_TRUE(pool.BackingOff());
    EXPECT_EQ(pool.Size(), 0);
  });
}

TEST_F(PoolTest, AppliesItsQueryTimeoutToItsConnections) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/1, /*acquire_timeout=*/2s, /*query_timeout=*/300ms);
    {
      auto lease = co_await pool.Acquire();
      CO_ASSERT_OK(lease);
      auto slow = co_await (*lease)->Query("SELECT pg_sleep(5)");
      CO_ASSERT_TRUE(!slow);
      EXPECT_EQ(slow.error().code, ErrorCode::kServiceUnavailable);
    }
    EXPECT_EQ(pool.Size(), 0) << "the timed-out connection went back into the pool";
    EXPECT_FALSE(pool.BackingOff()) << "a slow query is not a failed connect";
    auto next = co_await pool.Acquire();
    CO_ASSERT_OK(next);
    CO_ASSERT_OK(co_await (*next)->Query("SELECT 1"));
  });
}

TEST_F(PoolTest, MakesExtraAcquiresWaitThenSucceed) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/2, /*acquire_timeout=*/5s);
    int busy = 0, peak = 0, done = 0, failed = 0;
    std::set<std::string> pids;
    auto worker = [&]() -> asio::awaitable<void> {
      auto lease = co_await pool.Acquire();
      if (!lease) {
        ADD_FAILURE() << ErrorText(lease.error());
        ++failed;
        co_return;
      }
      peak = std::max(peak, ++busy);
      auto pid = co_await (*lease)->Query("SELECT pg_backend_pid()");
      if (pid) pids.insert(std::string(pid->Text(0, 0)));
      co_await Sleep(50ms);
      --busy;
      ++done;
    };
    constexpr int kWorkers = 6;
    for (int i = 0; i < kWorkers; ++i) asio::co_spawn(ex, worker, asio::detached);
    while (done + failed < kWorkers) co_await Sleep(10ms);
    EXPECT_EQ(done, kWorkers);
    EXPECT_EQ(peak, 2);
    EXPECT_LE(pids.size(), 2u);
    EXPECT_EQ(pool.Size(), 2);
  });
}

TEST_F(PoolTest, GivesServiceUnavailableWhenAcquireTimesOut) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/1, /*acquire_timeout=*/200ms);
    {
      auto held = co_await pool.Acquire();
      CO_ASSERT_OK(held);
      const auto start = std::chrono::steady_clock::now();
      auto second = co_await pool.Acquire();
      const auto waited = std::chrono::steady_clock::now() - start;
      CO_ASSERT_TRUE(!second);
      EXPECT_EQ(second.error().code, ErrorCode::kServiceUnavailable);
      EXPECT_EQ(second.error().Status(), 503);
      EXPECT_GE(waited, 180ms);
      EXPECT_LT(waited, 3s);
    }
    // Once the held connection is back, acquiring works at once and reuses it.
    const auto start = std::chrono::steady_clock::now();
    auto again = co_await pool.Acquire();
    CO_ASSERT_OK(again);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 150ms);
    EXPECT_EQ(pool.Size(), 1);
  });
}

TEST_F(PoolTest, HandsAReleasedConnectionToAWaiter) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/1, /*acquire_timeout=*/2s);
    bool waiter_got_it = false;
    std::string first_pid;
    {
      auto held = co_await pool.Acquire();
      CO_ASSERT_OK(held);
      auto pid = co_await (*held)->Query("SELECT pg_backend_pid()::text");
      CO_ASSERT_OK(pid);
      first_pid = pid->Text(0, 0);
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            auto lease = co_await pool.Acquire();
            if (!lease) co_return;
            auto p = co_await (*lease)->Query("SELECT pg_backend_pid()::text");
            waiter_got_it = p && p->Text(0, 0) == first_pid;
          },
          asio::detached);
      co_await Sleep(100ms);  // the waiter is now queued
    }
    for (int i = 0; i < 100 && !waiter_got_it; ++i) co_await Sleep(10ms);
    EXPECT_TRUE(waiter_got_it);
    EXPECT_EQ(pool.Size(), 1);
  });
}

TEST_F(PoolTest, DiscardsABrokenConnectionAndRecovers) {
  auto admin = Connect();
  ASSERT_NE(admin, nullptr);
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/1, /*acquire_timeout=*/2s);
    std::string killed_pid;
    {
      auto lease = co_await pool.Acquire();
      CO_ASSERT_OK(lease);
      auto pid = co_await (*lease)->Query("SELECT pg_backend_pid()::text");
      CO_ASSERT_OK(pid);
      killed_pid = pid->Text(0, 0);
      CO_ASSERT_TRUE(Terminate(*admin, killed_pid));
      auto broken = co_await (*lease)->Query("SELECT 1");
      CO_ASSERT_TRUE(!broken);
      EXPECT_EQ(broken.error().code, ErrorCode::kServiceUnavailable) << ErrorText(broken.error());
      EXPECT_FALSE((*lease)->Healthy());
    }
    EXPECT_EQ(pool.Size(), 0) << "the broken connection went back into the pool";
    auto fresh = co_await pool.Acquire();
    CO_ASSERT_OK(fresh);
    auto pid = co_await (*fresh)->Query("SELECT pg_backend_pid()::text");
    CO_ASSERT_OK(pid);
    EXPECT_NE(pid->Text(0, 0), killed_pid);
    EXPECT_EQ(pool.Size(), 1);
  });
}

TEST_F(PoolTest, RecoversFromAConnectionKilledWhileIdle) {
  auto admin = Connect();
  ASSERT_NE(admin, nullptr);
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/1, /*acquire_timeout=*/2s);
    std::string killed_pid;
    {
      auto lease = co_await pool.Acquire();
      CO_ASSERT_OK(lease);
      auto pid = co_await (*lease)->Query("SELECT pg_backend_pid()::text");
      CO_ASSERT_OK(pid);
      killed_pid = pid->Text(0, 0);
    }
    CO_ASSERT_TRUE(Terminate(*admin, killed_pid));
    // The pool notices a dead idle connection at the latest on its first use; one failure at most.
    int failures = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto lease = co_await pool.Acquire();
      CO_ASSERT_OK(lease);
      auto r = co_await (*lease)->Query("SELECT pg_backend_pid()::text");
      if (!r) {
        ++failures;
        continue;
      }
      EXPECT_NE(r->Text(0, 0), killed_pid);
      break;
    }
    EXPECT_LE(failures, 1);
    EXPECT_EQ(pool.Size(), 1);
  });
}

TEST_F(PoolTest, DiscardsAConnectionReturnedInsideATransaction) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/2, /*acquire_timeout=*/2s);
    {
      auto lease = co_await pool.Acquire();
      CO_ASSERT_OK(lease);
      CO_ASSERT_OK(co_await (*lease)->Script("BEGIN"));
    }
    EXPECT_EQ(pool.Size(), 0);
    auto next = co_await pool.Acquire();
    CO_ASSERT_OK(next);
    EXPECT_FALSE((*next)->InTransaction());
  });
}

TEST_F(PoolTest, RefusesAcquiresAfterCloseAndDropsLateReleases) {
  RunAsync([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    Pool pool(ex, conninfo_, /*max_size=*/2, /*acquire_timeout=*/2s);
    auto held = co_await pool.Acquire();
    CO_ASSERT_OK(held);
    { auto idle = co_await pool.Acquire(); }  // one idle connection
    pool.Close();
    auto refused = co_await pool.Acquire();
    CO_ASSERT_TRUE(!refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kServiceUnavailable);
    // A lease still out at shutdown can still be used, and giving it back just closes it.
    auto r = co_await (*held)->Query("SELECT 1");
    EXPECT_TRUE(r);
  });
}

}  // namespace
}  // namespace pgwarden::db
