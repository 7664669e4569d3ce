//! A small connection pool owned by one io thread (no locks: everything runs on that thread's executor).
//! Connections are opened lazily up to `max_size`; when all are busy, Acquire waits. An Acquire takes at most
//! `acquire_timeout` in all (waiting for a slot and connecting), then fails with kServiceUnavailable, so a dead
//! or saturated database becomes a 503 (the Data API answers saturation, IsAcquireTimeout, with PostgREST's
//! 504), never a hang. Broken connections, and connections returned inside a
//! transaction, are discarded.
//!
//! Reconnecting backs off: after a failed connect no new connection is tried before a delay that doubles per
//! failure (kFirstBackoff .. kMaxBackoff, with jitter) and resets on the first success; meanwhile Acquire fails
//! at once (fail fast, no connect storm against a database that is down) and RetryAfterSeconds() says when
//! the next attempt will be made. Recovery needs no restart: the first Acquire after the delay reconnects.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
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
  static constexpr std::chrono::milliseconds kFirstBackoff{250};
  static constexpr std::chrono::milliseconds kMaxBackoff{8000};

  //! `query_timeout` bounds each query on the pool's connections client-side (0: none; see
  //! Connection::SetQueryTimeout).
  Pool(asio::any_io_executor ex, std::string conninfo, int max_size,
       std::chrono::milliseconds acquire_timeout = std::chrono::seconds(5),
       std::chrono::milliseconds query_timeout = std::chrono::milliseconds(0));
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  asio::awaitable<Result<Lease>> Acquire();
  //! True for the error of an Acquire that waited its whole acquire_timeout for a connection of a full pool
  //! (every connection busy, the database answering): saturation, PostgREST's 504 PGRST003, rather than an
  //! unreachable database (its 503 PGRST000). Both carry kServiceUnavailable.
  static bool IsAcquireTimeout(const Error& e);
  int Size() const { return total_; }
  //! For a 503's Retry-After: whole seconds until the next connection attempt (at least 1).
  int RetryAfterSeconds() const;
  //! True while connecting is backing off after a failure.
  bool BackingOff() const { return std::chrono::steady_clock::now() < retry_at_; }
  //! The io thread's executor the pool belongs to (work that outlives a request is spawned there).
  const asio::any_io_executor& Executor() const { return ex_; }
  //! At shutdown, before the io_context is destroyed: leases released afterwards just drop their
  //! connection (no timers touched) and Acquire fails.
  void Close();

 private:
  using Clock = std::chrono::steady_clock;
  friend class Lease;
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::unique_ptr<Connection> conn;
    bool may_connect = false;  // a slot was freed: the waiter opens a new connection itself
    bool db_down = false;      // a connect just failed: the waiter fails at once instead of timing out
  };
  void Release(std::unique_ptr<Connection> conn);
  void ConnectFailed(const Error& e);
  void Connected();

  asio::any_io_executor ex_;
  std::string conninfo_;
  int max_size_;
  std::chrono::milliseconds acquire_timeout_;
  std::chrono::milliseconds query_timeout_;
  int total_ = 0;
  bool closed_ = false;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  // Reconnect backoff: no connect before retry_at_; backoff_ is the last delay (0 once connected).
  Clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  int failures_ = 0;
  std::uint32_t jitter_state_;
};

}  // namespace pgwarden::db
