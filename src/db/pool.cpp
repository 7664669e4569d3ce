#include "db/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace pgwarden::db {

Lease::~Lease() {
  if (pool_ && conn_) pool_->Release(std::move(conn_));
}

Pool::Pool(asio::any_io_executor ex, std::string conninfo, int max_size, std::chrono::milliseconds acquire_timeout)
    : ex_(std::move(ex)), conninfo_(std::move(conninfo)), max_size_(max_size), acquire_timeout_(acquire_timeout) {}

void Pool::Close() {
  closed_ = true;
  idle_.clear();
  for (auto& w : waiters_) w->timer.cancel();
  waiters_.clear();
}

asio::awaitable<Result<Lease>> Pool::Acquire() {
  if (closed_) co_return MakeError(ErrorCode::kServiceUnavailable, "shutting down");
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    if (conn->CheckAlive()) co_return Lease(this, std::move(conn));
    --total_;
  }
  bool may_connect = total_ < max_size_;
  if (!may_connect) {
    auto waiter = std::make_shared<Waiter>(ex_);
    waiter->timer.expires_after(acquire_timeout_);
    waiters_.push_back(waiter);
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (waiter->conn) co_return Lease(this, std::move(waiter->conn));
    if (!waiter->may_connect) {
      std::erase(waiters_, waiter);
      co_return MakeError(ErrorCode::kServiceUnavailable, "no database connection available in time");
    }
  }
  ++total_;
  auto conn = co_await Connection::Connect(ex_, conninfo_);
  if (!conn) {
    --total_;
    co_return conn.error();
  }
  co_return Lease(this, std::move(*conn));
}

void Pool::Release(std::unique_ptr<Connection> conn) {
  if (closed_) return;  // the connection closes with `conn`
  // A connection left inside a transaction (a flow failed half-way) is not trusted again.
  const bool reusable = conn->Healthy() && !conn->InTransaction();
  if (!reusable) {
    --total_;
    if (!waiters_.empty()) {
      auto w = waiters_.front();
      waiters_.pop_front();
      w->may_connect = true;
      w->timer.cancel();
    }
    return;
  }
  if (!waiters_.empty()) {
    auto w = waiters_.front();
    waiters_.pop_front();
    w->conn = std::move(conn);
    w->timer.cancel();
    return;
  }
  idle_.push_back(std::move(conn));
}

}  // namespace pgwarden::db
