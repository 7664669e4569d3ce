#include "db/connection.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <array>
#include <charconv>
#include <vector>

#include "core/text.hpp"

namespace pgwarden::db {
namespace {
using Descriptor = asio::posix::stream_descriptor;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Every connection starts in a known state: UTC, ISO dates, and server-side limits so that a stuck
// statement can never hold a connection forever.
constexpr const char* kSessionSetup =
    "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO'; SET statement_timeout = '15s'; "
    "SET idle_in_transaction_session_timeout = '30s'";

// Defaults placed before the caller's conninfo (expanded from "dbname"), so that anything the conninfo says
// wins. TCP keepalives find a dead idle connection; tcp_user_timeout bounds how long sent data may stay
// unacknowledged, so a partitioned network fails a query within ~10 s instead of the kernel's ~15 min.
// (Both are ignored on Unix sockets.)
constexpr const char* kKeywords[] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                                     "tcp_user_timeout", "dbname", nullptr};
std::array<const char*, 7> ConnectValues(const std::string& conninfo) {
  return {"1", "30", "10", "3", "10000", conninfo.c_str(), nullptr};
}

using Clock = std::chrono::steady_clock;

// Waits until `sd` is ready, or until `deadline` passes: then the wait is cancelled and the result is
// asio::error::timed_out. The timer's handler may run after the wait completed (both queued together): `race`
// tells it not to touch `sd` then.
asio::awaitable<boost::system::error_code> WaitUntil(Descriptor& sd, Descriptor::wait_type type,
                                                     Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) {
    auto [ec] = co_await sd.async_wait(type, kNoThrow);
    co_return ec;
  }
  if (Clock::now() >= deadline) co_return boost::system::error_code(asio::error::timed_out);
  struct Race {
    bool done = false;
    bool fired = false;
  };
  auto race = std::make_shared<Race>();
  asio::steady_timer timer(sd.get_executor());
  timer.expires_at(deadline);
  timer.async_wait([race, &sd](const boost::system::error_code& ec) {
    if (ec || race->done) return;
    race->fired = true;
    boost::system::error_code ignored;
    sd.cancel(ignored);
  });
  auto [ec] = co_await sd.async_wait(type, kNoThrow);
  race->done = true;
  timer.cancel();
  if (race->fired) co_return boost::system::error_code(asio::error::timed_out);
  co_return ec;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

std::int64_t Rows::Int64(int row, int col) const {
  const auto t = Text(row, col);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::int64_t Rows::Affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  std::int64_t v = 0;
  if (n && *n) std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

std::string TextArrayLiteral(const std::vector<std::string>& items) {
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

Error ResultError(const PGresult* r) {
  Error e;
  e.code = ErrorCode::kDatabase;
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  e.sqlstate = state ? state : "";
  e.message = msg ? msg : "database error";
  if (const char* d = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : nullptr) e.detail = d;
  if (const char* h = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : nullptr) e.hint = h;
  // Connection-class errors and shutdowns mean "try again later", not a bug.
  if (StartsWith(e.sqlstate, "08") || StartsWith(e.sqlstate, "57P")) e.code = ErrorCode::kServiceUnavailable;
  return e;
}

Error Connection::ConnectionError(std::string_view what, const boost::system::error_code& ec) {
  healthy_ = false;
  Error e;
  e.code = ErrorCode::kServiceUnavailable;
  if (ec == asio::error::timed_out) {
    e.message = std::string(what) + ": no answer from the database within " +
                std::to_string(query_timeout_.count()) + " ms";
  } else {
    e.message = Trimmed(std::string(what) + ": " + PQerrorMessage(conn_));
  }
  return e;
}

asio::awaitable<boost::system::error_code> Connection::Wait(bool read) {
  co_return co_await WaitUntil(*socket_, read ? Descriptor::wait_read : Descriptor::wait_write, deadline_);
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::Connect(asio::any_io_executor ex,
                                                                         std::string conninfo, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(1, timeout_ms));
  const auto values = ConnectValues(conninfo);
  PGconn* c = PQconnectStartParams(kKeywords, values.data(), /*expand_dbname=*/1);
  if (!c) co_return MakeError(ErrorCode::kServiceUnavailable, "out of memory");
  std::unique_ptr<PGconn, decltype(&PQfinish)> guard(c, &PQfinish);
  if (PQstatus(c) == CONNECTION_BAD) {
    co_return MakeError(ErrorCode::kServiceUnavailable, Trimmed(std::string("connect: ") + PQerrorMessage(c)));
  }
  int fd = -1;
  std::optional<Descriptor> sd;
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      co_return MakeError(ErrorCode::kServiceUnavailable, Trimmed(std::string("connect: ") + PQerrorMessage(c)));
    }
    if (PQsocket(c) != fd) {  // libpq may switch sockets while trying hosts
      fd = PQsocket(c);
      sd.reset();
      sd.emplace(ex, ::dup(fd));
    }
    const auto ec = co_await WaitUntil(
        *sd, st == PGRES_POLLING_READING ? Descriptor::wait_read : Descriptor::wait_write, deadline);
    if (ec == asio::error::timed_out) {
      co_return MakeError(ErrorCode::kServiceUnavailable,
                          "connect: no answer from the database within " + std::to_string(timeout_ms) + " ms");
    }
    if (ec) co_return MakeError(ErrorCode::kServiceUnavailable, "connect: " + ec.message());
    st = PQconnectPoll(c);
  }
  if (PQsocket(c) != fd) {
    sd.reset();
    sd.emplace(ex, ::dup(PQsocket(c)));
  }
  if (PQsetnonblocking(c, 1) != 0) co_return MakeError(ErrorCode::kServiceUnavailable, "cannot set non-blocking");
  std::unique_ptr<Connection> conn(new Connection(guard.release(), std::move(sd)));
  // The session setup runs under what is left of the connect deadline; the caller sets the query timeout.
  conn->query_timeout_ =
      std::max(std::chrono::milliseconds(1),
               std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  auto setup = co_await conn->Script(kSessionSetup);
  if (!setup) co_return setup.error();
  conn->query_timeout_ = std::chrono::milliseconds(0);
  co_return conn;
}

Result<std::unique_ptr<Connection>> Connection::ConnectBlocking(const std::string& conninfo) {
  const auto values = ConnectValues(conninfo);
  PGconn* c = PQconnectdbParams(kKeywords, values.data(), /*expand_dbname=*/1);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    Error e = MakeError(ErrorCode::kServiceUnavailable, std::string("connect: ") + (c ? PQerrorMessage(c) : "oom"));
    while (!e.message.empty() && e.message.back() == '\n') e.message.pop_back();
    if (c) PQfinish(c);
    return e;
  }
  std::unique_ptr<Connection> conn(new Connection(c, std::nullopt));
  auto setup = conn->ScriptBlocking(kSessionSetup);
  if (!setup) return setup.error();
  return conn;
}

Connection::~Connection() {
  socket_.reset();  // closes our dup'ed fd only
  PQfinish(conn_);
}

asio::awaitable<Result<void>> Connection::Flush() {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) co_return Result<void>();
    if (r < 0) co_return ConnectionError("send");
    const auto ec = co_await Wait(/*read=*/false);
    if (ec) co_return ConnectionError("send", ec);
  }
}

// Reads every result of the query in flight; returns the first failure or the last rows.
asio::awaitable<Result<Rows>> Connection::Collect() {
  std::optional<Error> failure;
  Rows rows;
  for (;;) {
    if (!PQconsumeInput(conn_)) co_return ConnectionError("receive");
    if (PQisBusy(conn_)) {
      const auto ec = co_await Wait(/*read=*/true);
      if (ec) co_return ConnectionError("receive", ec);
      continue;
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    const auto status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
      if (!failure) failure = ResultError(r);
      PQclear(r);
    } else {
      rows = Rows(r);
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) healthy_ = false;
  if (failure) co_return *failure;
  co_return rows;
}

asio::awaitable<Result<Rows>> Connection::Query(std::string_view sql, std::span<const Param> params) {
  if (!healthy_) co_return MakeError(ErrorCode::kServiceUnavailable, "connection lost");
  StartOperation();
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size());
    if (!PQsendPrepare(conn_, name.c_str(), key.c_str(), static_cast<int>(params.size()), nullptr))
      co_return ConnectionError("prepare");
    if (auto f = co_await Flush(); !f) co_return f.error();
    auto prep = co_await Collect();
    if (!prep) co_return prep.error();
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  // libpq wants NUL-terminated values: copy into one buffer.
  std::string buffer;
  size_t total = 0;
  for (const auto& p : params) total += p ? p->size() + 1 : 0;
  buffer.reserve(total);
  std::vector<size_t> offsets(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) continue;
    offsets[i] = buffer.size();
    buffer.append(*params[i]);
    buffer.push_back('\0');
  }
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i) values[i] = params[i] ? buffer.data() + offsets[i] : nullptr;
  if (!PQsendQueryPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()), values.data(), nullptr,
                           nullptr, 0))
    co_return ConnectionError("query");
  if (auto f = co_await Flush(); !f) co_return f.error();
  co_return co_await Collect();
}

asio::awaitable<Result<std::vector<Rows>>> Connection::Pipeline(const std::vector<Statement>& statements) {
  if (!healthy_) co_return MakeError(ErrorCode::kServiceUnavailable, "connection lost");
  StartOperation();
  if (PQenterPipelineMode(conn_) != 1) co_return ConnectionError("pipeline");
  for (const auto& st : statements) {
    std::vector<const char*> values(st.params.size());
    for (size_t i = 0; i < st.params.size(); ++i) values[i] = st.params[i] ? st.params[i]->c_str() : nullptr;
    if (!PQsendQueryParams(conn_, st.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                           nullptr, 0))
      co_return ConnectionError("pipeline send");
  }
  if (PQpipelineSync(conn_) != 1) co_return ConnectionError("pipeline sync");
  if (auto f = co_await Flush(); !f) co_return f.error();
  std::vector<Rows> out;
  std::optional<Error> failure;
  size_t finished = 0;  // statements whose results are complete (a NULL from PQgetResult ends each)
  bool synced = false;
  while (!synced) {
    if (!PQconsumeInput(conn_)) co_return ConnectionError("pipeline receive");
    if (PQisBusy(conn_)) {
      const auto ec = co_await Wait(/*read=*/true);
      if (ec) co_return ConnectionError("pipeline receive", ec);
      continue;
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      ++finished;  // end of one statement's results
      continue;
    }
    switch (PQresultStatus(r)) {
      case PGRES_PIPELINE_SYNC:
        synced = true;
        PQclear(r);
        break;
      case PGRES_FATAL_ERROR:
      case PGRES_BAD_RESPONSE:
        if (!failure) failure = ResultError(r);
        PQclear(r);
        break;
      case PGRES_PIPELINE_ABORTED:
        PQclear(r);
        break;
      default:
        if (out.size() < statements.size()) out.emplace_back(r);
        else PQclear(r);
    }
  }
  (void)finished;
  if (PQexitPipelineMode(conn_) != 1) healthy_ = false;
  if (failure) co_return *failure;
  co_return out;
}

asio::awaitable<Result<std::pair<std::string, std::string>>> Connection::NextNotification() {
  for (;;) {
    if (PGnotify* n = PQnotifies(conn_)) {
      std::pair<std::string, std::string> out{n->relname ? n->relname : "", n->extra ? n->extra : ""};
      PQfreemem(n);
      co_return out;
    }
    auto [ec] = co_await socket_->async_wait(asio::posix::stream_descriptor::wait_read,
                                             asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ConnectionError("listen");
    if (!PQconsumeInput(conn_)) co_return ConnectionError("listen");
  }
}

asio::awaitable<Result<void>> Connection::Script(std::string_view sql) {
  if (!healthy_) co_return MakeError(ErrorCode::kServiceUnavailable, "connection lost");
  StartOperation();
  const std::string text(sql);
  if (!PQsendQuery(conn_, text.c_str())) co_return ConnectionError("query");
  if (auto f = co_await Flush(); !f) co_return f.error();
  auto r = co_await Collect();
  if (!r) co_return r.error();
  co_return Result<void>();
}

Result<Rows> Connection::QueryBlocking(std::string_view sql, std::span<const Param> params) {
  std::vector<std::string> copies;
  copies.reserve(params.size());
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i]) {
      copies.emplace_back(*params[i]);
      values[i] = copies.back().c_str();
    }
  }
  const std::string text(sql);
  PQsetnonblocking(conn_, 0);
  PGresult* r = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  const auto status = PQresultStatus(r);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    Error e = ResultError(r);
    PQclear(r);
    return e;
  }
  return Rows(r);
}

Result<void> Connection::ScriptBlocking(std::string_view sql) {
  const std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  const auto status = PQresultStatus(r);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    Error e = ResultError(r);
    PQclear(r);
    return e;
  }
  PQclear(r);
  return {};
}

}  // namespace pgwarden::db
