#include "db/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <string_view>

#include "core/log.hpp"

namespace pgwarden::db {

namespace {
constexpr std::string_view kAcquireTimedOut = "no database connection available in time";
}  // namespace

Lease::~Lease() {
  if (pool_ && conn_) pool_->Release(std::move(conn_));
}

Pool::Pool(asio::any_io_executor ex, std::string conninfo, int max_size, std::chrono::milliseconds acquire_timeout,
           std::chrono::milliseconds query_timeout)
    : ex_(std::move(ex)),
      conninfo_(std::move(conninfo)),
      max_size_(max_size),
      acquire_timeout_(acquire_timeout),
      query_timeout_(query_timeout),
      // Jitter only spreads reconnects of many pools/processes apart; it needs no quality.
      jitter_state_(static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(this) >> 4) ^
                    static_cast<std::uint32_t>(Clock::now().time_since_epoch().count())) {}

void Pool::Close() {
  closed_ = true;
  idle_.clear();
  for (auto& w : waiters_) w->timer.cancel();
  waiters_.clear();
}

int Pool::RetryAfterSeconds() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - Clock::now()).count();
  return left <= 0 ? 1 : static_cast<int>((left + 999) / 1000);
}

void Pool::ConnectFailed(const Error& e) {
  const auto now = Clock::now();
  // Concurrent attempts that fail in the same window count once: the delay doubles per window, not per request.
  if (now >= retry_at_) {
    ++failures_;
    backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
    jitter_state_ = jitter_state_ * 1664525u + 1013904223u;
    const auto jitter = backoff_ * static_cast<int>(jitter_state_ >> 24) / 1024;  // 0 .. 25 %
    const auto delay = std::min(backoff_ + jitter, kMaxBackoff);
    retry_at_ = now + delay;
    log::Warn("db.connect_failed", {{"error", e.message},
                                    {"failures", std::to_string(failures_)},
                                    {"retry_in_ms", std::to_string(delay.count())}});
  }
  // Whoever queued for a slot would only try the same dead database: they fail now, not at their timeout.
  while (!waiters_.empty()) {
    auto w = waiters_.front();
    waiters_.pop_front();
    w->db_down = true;
    w->timer.cancel();
  }
}

void Pool::Connected() {
  if (failures_ > 0) log::Info("db.reconnected", {{"failures", std::to_string(failures_)}});
  failures_ = 0;
  backoff_ = std::chrono::milliseconds(0);
  retry_at_ = {};
}

bool Pool::IsAcquireTimeout(const Error& e) {
  return e.code == ErrorCode::kServiceUnavailable && e.message == kAcquireTimedOut;
}

asio::awaitable<Result<Lease>> Pool::Acquire() {
  if (closed_) co_return MakeError(ErrorCode::kServiceUnavailable, "shutting down");
  const auto deadline = Clock::now() + acquire_timeout_;
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    if (conn->CheckAlive()) co_return Lease(this, std::move(conn));
    --total_;
  }
  if (total_ >= max_size_ && Clock::now() >= retry_at_) {
    auto waiter = std::make_shared<Waiter>(ex_);
    waiter->timer.expires_at(deadline);
    waiters_.push_back(waiter);
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (waiter->conn) co_return Lease(this, std::move(waiter->conn));
    if (closed_) co_return MakeError(ErrorCode::kServiceUnavailable, "shutting down");
    if (waiter->db_down) co_return MakeError(ErrorCode::kServiceUnavailable, "database unavailable");
    if (!waiter->may_connect) {
      std::erase(waiters_, waiter);
      co_return MakeError(ErrorCode::kServiceUnavailable, std::string(kAcquireTimedOut));
    }
  }
  // Fail fast while backing off: the database failed a moment ago and will be tried again at retry_at_.
  if (Clock::now() < retry_at_) co_return MakeError(ErrorCode::kServiceUnavailable, "database unavailable");
  ++total_;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  const int timeout_ms = static_cast<int>(std::clamp<long long>(left, 1, 1 << 30));
  auto conn = co_await Connection::Connect(ex_, conninfo_, timeout_ms);
  if (!conn) {
    --total_;
    if (!closed_) ConnectFailed(conn.error());
    co_return conn.error();
  }
  if (closed_) co_return MakeError(ErrorCode::kServiceUnavailable, "shutting down");
  Connected();
  (*conn)->SetQueryTimeout(query_timeout_);
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
