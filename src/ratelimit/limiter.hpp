//! Request limits per client (issue 6, security.md RL-01..RL-05, decision D37).
//!
//! Better Auth's rules and window semantics (better-auth-oracle.md §7): a counter per `<client IP>|<path>`;
//! each allowed request sets `last = now` and `count += 1`, the count restarts at 1 when more than `window`
//! seconds passed since the last allowed request, and a request that finds `count >= max` is refused, not
//! counted, with `retry after = ceil((last + window - now) / 1 s)`.
//!
//! The counters live in Postgres (`pgwarden.rate_limit`, one atomic statement per request, shared by every
//! instance on the database) or, with PGWARDEN_RATE_LIMIT_STORAGE=memory, in this process. The client IP is the
//! TCP peer; X-Forwarded-For is read only when the peer is a configured trusted proxy (walked right to left).
//! IPv6 clients share a bucket per /64; IPv4-mapped IPv6 addresses count as IPv4.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

namespace pgwarden::db {
class Pool;
}

namespace pgwarden::ratelimit {

namespace asio = boost::asio;

struct Rule {
  int window_s = 10;
  int max = 100;
};

struct Decision {
  bool allowed = true;
  int retry_after_s = 0;  //!< when refused: seconds until the next request is allowed (≥ 1)
};

//! The counter of one key as Better Auth keeps it.
struct Counter {
  int count = 0;
  EpochMs last = 0;
};

//! One step of the window semantics: updates `c` when the request is allowed. Pure (the memory store and the
//! unit tests use it; the database store runs the same rule in SQL).
Decision Decide(std::optional<Counter>& c, Rule rule, EpochMs now);

//! The rule for a path below /<db>/auth: a configured rule (PGWARDEN_RATE_LIMIT_RULES, first match), then
//! Better Auth's plugin rules (email-otp, magic-link), its core special rules, then the default. nullopt: the
//! path is not limited (a configured `off`).
std::optional<Rule> RuleFor(std::string_view path, const config::RateLimitConfig& cfg);

//! Parsed PGWARDEN_TRUSTED_PROXIES.
class TrustedProxies {
 public:
  explicit TrustedProxies(const std::vector<std::string>& cidrs);
  bool Contains(std::string_view ip) const;
  bool Empty() const { return nets_.empty(); }

 private:
  struct Net {
    unsigned char addr[16];
    int bits;
  };
  std::vector<Net> nets_;
};

//! The client's address for limits: the peer, or — when the peer is a trusted proxy — the right-most
//! X-Forwarded-For entry that is not itself a trusted proxy. Empty when no valid address is found.
std::string ClientAddress(std::string_view peer, std::string_view forwarded_for, const TrustedProxies& proxies);

//! The bucket of an address: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 as its /64 prefix
//! ("2001:db8:0:0::/64"), anything unparsable as given.
std::string BucketOf(std::string_view ip);

//! Failed sign-ins of one account (RL-05): after `threshold` failures within `window_s`, every attempt waits
//! `min(max_delay_s, 2^(failures - threshold))` seconds after the last failure. A success clears it.
struct BackoffPolicy {
  int threshold = 10;
  int window_s = 900;
  int max_delay_s = 900;
};

//! Seconds an account with `failures` failures, the last at `last`, must still wait (0: free).
int BackoffRemaining(int failures, EpochMs last, const BackoffPolicy& p, EpochMs now);

//! Where the counters live.
class Store {
 public:
  virtual ~Store() = default;
  //! One atomic step for `key`. `worker` selects the io thread's database pool.
  virtual asio::awaitable<Result<Decision>> Consume(int worker, std::string_view key, Rule rule, EpochMs now) = 0;
  //! Per-account failures: the wait left, one more failure, and the reset after a success.
  virtual asio::awaitable<Result<int>> Backoff(int worker, std::string_view key, const BackoffPolicy& p,
                                               EpochMs now) = 0;
  virtual asio::awaitable<Result<bool>> RecordFailure(int worker, std::string_view key, const BackoffPolicy& p,
                                                      EpochMs now) = 0;
  virtual asio::awaitable<Result<bool>> ClearFailures(int worker, std::string_view key) = 0;
};

//! Counters in this process (PGWARDEN_RATE_LIMIT_STORAGE=memory): not shared between instances.
class MemoryStore final : public Store {
 public:
  explicit MemoryStore(int max_window_s) : max_window_ms_(static_cast<EpochMs>(max_window_s) * 1000) {}
  asio::awaitable<Result<Decision>> Consume(int worker, std::string_view key, Rule rule, EpochMs now) override;
  asio::awaitable<Result<int>> Backoff(int worker, std::string_view key, const BackoffPolicy& p, EpochMs now) override;
  asio::awaitable<Result<bool>> RecordFailure(int worker, std::string_view key, const BackoffPolicy& p,
                                              EpochMs now) override;
  asio::awaitable<Result<bool>> ClearFailures(int worker, std::string_view key) override;
  Decision ConsumeNow(std::string_view key, Rule rule, EpochMs now);  //!< the synchronous step (tests)

 private:
  static constexpr std::size_t kMaxEntries = 100000;
  EpochMs max_window_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Counter> counters_;
  std::unordered_map<std::string, Counter> failures_;  // count = failures, last = last failure
  std::uint64_t calls_ = 0;
};

//! Counters in `pgwarden.rate_limit` (UNLOGGED: losing them in a crash only forgets recent requests).
class DatabaseStore final : public Store {
 public:
  DatabaseStore(std::vector<db::Pool*> pools, int max_window_s)
      : pools_(std::move(pools)), max_window_ms_(static_cast<EpochMs>(max_window_s) * 1000) {}
  asio::awaitable<Result<Decision>> Consume(int worker, std::string_view key, Rule rule, EpochMs now) override;
  asio::awaitable<Result<int>> Backoff(int worker, std::string_view key, const BackoffPolicy& p, EpochMs now) override;
  asio::awaitable<Result<bool>> RecordFailure(int worker, std::string_view key, const BackoffPolicy& p,
                                              EpochMs now) override;
  asio::awaitable<Result<bool>> ClearFailures(int worker, std::string_view key) override;

 private:
  std::vector<db::Pool*> pools_;
  EpochMs max_window_ms_;
  std::atomic<std::uint64_t> calls_{0};
};

//! The limiter the server consults before routing an auth request.
class Limiter {
 public:
  Limiter(const config::RateLimitConfig& cfg, std::unique_ptr<Store> store);

  //! Counts the request and decides. Key: `<bucket of the client>|<path>`. A store error lets the request
  //! through (its own database work then fails and answers 503): limits never turn an outage into a 429.
  asio::awaitable<Decision> Check(int worker, std::string_view path, std::string_view peer,
                                  std::string_view forwarded_for);

  //! A named counter outside the per-path rules (per-recipient mail, per-account failures): same semantics.
  asio::awaitable<Decision> CheckKey(int worker, std::string_view key, Rule rule);

  //! The client address (for logs and per-account keys): ClientAddress with the configured proxies.
  std::string Client(std::string_view peer, std::string_view forwarded_for) const;

  //! Per-account sign-in back-off (RL-05), keyed by the normalised address (whether or not it has a user, so
  //! the answer reveals nothing). Seconds to wait, 0 when free; store errors count as free.
  asio::awaitable<int> SignInWait(int worker, std::string_view email);
  asio::awaitable<void> SignInFailed(int worker, std::string_view email);
  asio::awaitable<void> SignInSucceeded(int worker, std::string_view email);

  const config::RateLimitConfig& Config() const { return cfg_; }

 private:
  config::RateLimitConfig cfg_;
  BackoffPolicy backoff_;
  TrustedProxies proxies_;
  std::unique_ptr<Store> store_;
};

//! The longest window of every rule that can apply (how long a counter must be kept).
int MaxWindow(const config::RateLimitConfig& cfg);

}  // namespace pgwarden::ratelimit
