//! One non-blocking libpq connection driven by Asio coroutines (waits on a dup of PQsocket). Queries use
//! the extended protocol with text parameters; each distinct SQL text is prepared once per connection and
//! then executed by name. Client values only ever travel as parameters. A connection belongs to one io
//! thread (its executor) and runs one query at a time.
//!
//! Nothing waits forever on the database: Connect has a deadline (libpq's connect_timeout only applies to
//! blocking connects), every Query/Pipeline/Script has an optional client-side deadline (SetQueryTimeout), and
//! TCP keepalives plus tcp_user_timeout are on by default so a peer that vanishes without a FIN/RST is noticed
//! by the kernel. A deadline that passes leaves the connection unhealthy (the pool drops it) and the operation
//! fails with kServiceUnavailable.
#pragma once

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace pgwarden::db {

namespace asio = boost::asio;

//! A PostgreSQL text[] literal ({"a","b \"c\""}) for passing a list as one parameter ($1::text[]).
std::string TextArrayLiteral(const std::vector<std::string>& items);

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

//! A query's rows, text format. Column access by index; Column(name) finds an index once.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : res_(r) {}
  int Size() const { return res_ ? PQntuples(res_.get()) : 0; }
  int Columns() const { return res_ ? PQnfields(res_.get()) : 0; }
  bool Empty() const { return Size() == 0; }
  int Column(const char* name) const { return PQfnumber(res_.get(), name); }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view Text(int row, int col) const {
    return {PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col))};
  }
  std::optional<std::string_view> OptText(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Text(row, col);
  }
  std::int64_t Int64(int row, int col) const;
  bool Bool(int row, int col) const { return !IsNull(row, col) && Text(row, col) == "t"; }
  //! Rows touched by INSERT/UPDATE/DELETE.
  std::int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, PgResultDeleter> res_;
};

//! A text parameter; std::nullopt is SQL NULL. It refers to the caller's text, which must outlive the query.
using Param = std::optional<std::string_view>;

template <class... T>
std::array<Param, sizeof...(T)> Params(const T&... values) {
  return {Param(values)...};
}

class Connection {
 public:
  //! Connects without blocking the thread. `conninfo` is a libpq URI or key=value string. Connecting and the
  //! session setup together take at most `timeout_ms` (then kServiceUnavailable). A plain int: g++ 12 and
  //! class-type prvalue arguments to coroutines do not mix (decisions D11).
  static asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(asio::any_io_executor ex, std::string conninfo,
                                                                      int timeout_ms = kDefaultConnectTimeoutMs);
  static constexpr int kDefaultConnectTimeoutMs = 5000;
  //! Blocking connect, for start-up tasks (migrations, key bootstrap) before the io threads run.
  static Result<std::unique_ptr<Connection>> ConnectBlocking(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::awaitable<Result<Rows>> Query(std::string_view sql, std::span<const Param> params);
  //! With db::Params(a, b, …). (Not an initializer_list: g++ 12 miscompiles those inside coroutines.)
  template <std::size_t N>
  asio::awaitable<Result<Rows>> Query(std::string_view sql, std::array<Param, N> params) {
    co_return co_await Query(sql, std::span<const Param>(params.data(), N));
  }
  asio::awaitable<Result<Rows>> Query(std::string_view sql) { return Query(sql, std::span<const Param>()); }
  //! One statement of a pipeline: SQL text and its text parameters.
  struct Statement {
    std::string sql;
    std::vector<std::optional<std::string>> params;
  };
  //! Sends every statement and one Sync in pipeline mode: one round trip. Without an explicit BEGIN they run
  //! in one implicit transaction that commits at the Sync (or rolls back entirely on the first error).
  //! Returns each statement's rows, or the first failure.
  asio::awaitable<Result<std::vector<Rows>>> Pipeline(const std::vector<Statement>& statements);

  //! After LISTEN: waits for the next notification; returns {channel, payload}.
  asio::awaitable<Result<std::pair<std::string, std::string>>> NextNotification();

  //! Simple-protocol script (several statements, no parameters), e.g. BEGIN / COMMIT.
  asio::awaitable<Result<void>> Script(std::string_view sql);

  //! Blocking variants for start-up (never on an io thread).
  Result<Rows> QueryBlocking(std::string_view sql, std::span<const Param> params);
  Result<Rows> QueryBlocking(std::string_view sql, std::initializer_list<Param> params = {}) {
    return QueryBlocking(sql, std::span<const Param>(params.begin(), params.size()));
  }
  Result<void> ScriptBlocking(std::string_view sql);

  //! False after a connection-level failure; the pool then discards it.
  bool Healthy() const { return healthy_ && PQstatus(conn_) == CONNECTION_OK; }
  //! Reads anything the server sent while the connection was idle (e.g. the FATAL of a terminated backend)
  //! so that a dead idle connection is noticed before it is handed out. Non-blocking, one recv().
  bool CheckAlive() {
    if (healthy_ && PQconsumeInput(conn_) == 0) healthy_ = false;
    return Healthy();
  }
  bool InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }
  //! Client-side bound on each later Query, Pipeline and Script, from send to last result (0: none). Meant to
  //! sit just above the server's statement_timeout: it only fires when the database stopped answering.
  void SetQueryTimeout(std::chrono::milliseconds timeout) { query_timeout_ = timeout; }

 private:
  using Clock = std::chrono::steady_clock;
  Connection(PGconn* conn, std::optional<asio::posix::stream_descriptor> sd) : conn_(conn), socket_(std::move(sd)) {}
  asio::awaitable<Result<void>> Flush();
  asio::awaitable<Result<Rows>> Collect();
  //! Waits until the socket is ready or the operation's deadline passes (asio::error::timed_out).
  asio::awaitable<boost::system::error_code> Wait(bool read);
  //! Starts the deadline of one Query/Pipeline/Script.
  void StartOperation() {
    deadline_ = query_timeout_.count() > 0 ? Clock::now() + query_timeout_ : Clock::time_point::max();
  }
  Error ConnectionError(std::string_view what, const boost::system::error_code& ec = {});

  PGconn* conn_;
  std::optional<asio::posix::stream_descriptor> socket_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  bool healthy_ = true;
  std::chrono::milliseconds query_timeout_{0};
  Clock::time_point deadline_ = Clock::time_point::max();
};

//! Maps a failed PGresult to an Error carrying its SQLSTATE.
Error ResultError(const PGresult* r);

//! SQLSTATEs the flows test for.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kForeignKeyViolation = "23503";

}  // namespace pgwarden::db
