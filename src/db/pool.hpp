//! A small connection pool owned by one io thread (no locks: everything runs on that thread's executor).
//! Connections are opened lazily up to `max_size`; when all are busy, Acquire waits (bounded by
//! `acquire_timeout`) and fails with kServiceUnavailable, so a dead or saturated database becomes a 503,
//! never a hang. Broken connections, and connections returned inside a transaction, are discarded.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "db/connection.hpp"

namespace pgwarden::db {

class Pool;

//! A borrowed connection, returned to its pool on destruction.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

class Pool {
 public:
  Pool(asio::any_io_executor ex, std::string conninfo, int max_size,
       std::chrono::milliseconds acquire_timeout = std::chrono::seconds(5));
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  asio::awaitable<Result<Lease>> Acquire();
  int Size() const { return total_; }
  //! The io thread's executor the pool belongs to (work that outlives a request is spawned there).
  const asio::any_io_executor& Executor() const { return ex_; }
  //! At shutdown, before the io_context is destroyed: leases released afterwards just drop their
  //! connection (no timers touched) and Acquire fails.
  void Close();

 private:
  friend class Lease;
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::unique_ptr<Connection> conn;
    bool may_connect = false;  // a slot was freed: the waiter opens a new connection itself
  };
  void Release(std::unique_ptr<Connection> conn);

  asio::any_io_executor ex_;
  std::string conninfo_;
  int max_size_;
  std::chrono::milliseconds acquire_timeout_;
  int total_ = 0;
  bool closed_ = false;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace pgwarden::db
