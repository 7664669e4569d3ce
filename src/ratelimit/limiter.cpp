#include "ratelimit/limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "core/log.hpp"
#include "core/text.hpp"
#include "db/pool.hpp"

namespace pgwarden::ratelimit {
namespace {

bool StartsWithPath(std::string_view path, std::string_view prefix) { return path.substr(0, prefix.size()) == prefix; }

// Better Auth 1.6: plugin rules (email-otp, magic-link; a plugin rule beats the core rules), then the core
// special rules (api/rate-limiter getDefaultSpecialRules).
std::optional<Rule> BuiltInRule(std::string_view p) {
  static constexpr std::array<std::string_view, 9> kEmailOtp{
      "/email-otp/send-verification-otp", "/email-otp/check-verification-otp", "/email-otp/verify-email",
      "/sign-in/email-otp",               "/email-otp/request-password-reset", "/email-otp/reset-password",
      "/forget-password/email-otp",       "/email-otp/request-email-change",   "/email-otp/change-email"};
  for (const auto e : kEmailOtp)
    if (p == e) return Rule{60, 3};
  if (StartsWithPath(p, "/sign-in/magic-link") || StartsWithPath(p, "/magic-link/verify")) return Rule{60, 5};
  if (StartsWithPath(p, "/sign-in") || StartsWithPath(p, "/sign-up") || StartsWithPath(p, "/change-password") ||
      StartsWithPath(p, "/change-email"))
    return Rule{10, 3};
  if (p == "/request-password-reset" || p == "/send-verification-email" || StartsWithPath(p, "/forget-password") ||
      p == "/email-otp/send-verification-otp" || p == "/email-otp/request-password-reset")
    return Rule{60, 3};
  return std::nullopt;
}

// 16 bytes (IPv4 as ::ffff:a.b.c.d) or nothing.
std::optional<std::array<unsigned char, 16>> ParseIp(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string text(s);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (const auto pct = text.find('%'); pct != std::string::npos) text.resize(pct);  // zone index
  std::array<unsigned char, 16> out{};
  unsigned char v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

bool IsV4Mapped(const std::array<unsigned char, 16>& a) {
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

bool InNet(const std::array<unsigned char, 16>& a, const unsigned char* net, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

Decision Refused(const Counter& c, Rule rule, EpochMs now) {
  const EpochMs left = c.last + static_cast<EpochMs>(rule.window_s) * 1000 - now;
  return Decision{false, static_cast<int>(std::max<EpochMs>(1, (left + 999) / 1000))};
}

}  // namespace

Decision Decide(std::optional<Counter>& c, Rule rule, EpochMs now) {
  const EpochMs window_ms = static_cast<EpochMs>(rule.window_s) * 1000;
  if (!c || now - c->last > window_ms) {
    c = Counter{1, now};
    return {};
  }
  if (c->count >= rule.max) return Refused(*c, rule, now);
  c->count += 1;
  c->last = now;
  return {};
}

std::optional<Rule> RuleFor(std::string_view path, const config::RateLimitConfig& cfg) {
  for (const auto& r : cfg.rules) {
    const bool match = r.prefix ? StartsWithPath(path, r.path) : path == r.path;
    if (!match) continue;
    if (r.off) return std::nullopt;
    return Rule{r.window_s, r.max};
  }
  if (auto b = BuiltInRule(path)) return b;
  return Rule{cfg.window_s, cfg.max};
}

int MaxWindow(const config::RateLimitConfig& cfg) {
  int w = std::max({cfg.window_s, 60, cfg.mail_interval_s});
  for (const auto& r : cfg.rules) w = std::max(w, r.window_s);
  return w;
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) {
  for (const auto& c : cidrs) {
    std::string_view addr = c;
    int bits = -1;
    if (const auto slash = addr.find('/'); slash != std::string_view::npos) {
      bits = std::atoi(std::string(addr.substr(slash + 1)).c_str());
      addr = addr.substr(0, slash);
    }
    const auto a = ParseIp(addr);
    if (!a) continue;  // config validation refused it already
    Net n{};
    std::memcpy(n.addr, a->data(), 16);
    const bool v4 = IsV4Mapped(*a) && addr.find(':') == std::string_view::npos;
    n.bits = bits < 0 ? 128 : (v4 ? 96 + bits : bits);
    nets_.push_back(n);
  }
}

bool TrustedProxies::Contains(std::string_view ip) const {
  const auto a = ParseIp(ip);
  if (!a) return false;
  return std::any_of(nets_.begin(), nets_.end(), [&](const Net& n) { return InNet(*a, n.addr, n.bits); });
}

std::string ClientAddress(std::string_view peer, std::string_view forwarded_for, const TrustedProxies& proxies) {
  if (proxies.Empty() || !proxies.Contains(peer)) return ParseIp(peer) ? std::string(peer) : std::string();
  // Right to left: the nearest hop that is not one of our proxies is the client. Everything left of it was
  // written by that client and is not evidence of anything.
  std::vector<std::string_view> hops = Split(forwarded_for, ',');
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    const std::string_view hop = Trim(*it);
    if (!ParseIp(hop)) return std::string(peer);  // a malformed entry: stop at the proxy itself
    if (!proxies.Contains(hop)) return std::string(hop);
  }
  return std::string(peer);
}

std::string BucketOf(std::string_view ip) {
  const auto a = ParseIp(ip);
  if (!a) return std::string(ip);
  if (IsV4Mapped(*a)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (*a)[12], (*a)[13], (*a)[14], (*a)[15]);
    return buf;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%x:%x:%x:%x::/64", ((*a)[0] << 8) | (*a)[1], ((*a)[2] << 8) | (*a)[3],
                ((*a)[4] << 8) | (*a)[5], ((*a)[6] << 8) | (*a)[7]);
  return buf;
}

int BackoffRemaining(int failures, EpochMs last, const BackoffPolicy& p, EpochMs now) {
  if (p.threshold <= 0 || failures < p.threshold) return 0;
  if (now - last > static_cast<EpochMs>(p.window_s) * 1000) return 0;
  const int exp = std::min(failures - p.threshold, 30);
  const EpochMs delay_ms = std::min<EpochMs>(static_cast<EpochMs>(p.max_delay_s), EpochMs{1} << exp) * 1000;
  const EpochMs left = last + delay_ms - now;
  return left <= 0 ? 0 : static_cast<int>((left + 999) / 1000);
}

// ---------------------------------------------------------------------------------------------------------
// Stores

Decision MemoryStore::ConsumeNow(std::string_view key, Rule rule, EpochMs now) {
  std::lock_guard lock(mu_);
  if (++calls_ % 4096 == 0 || counters_.size() >= kMaxEntries) {
    std::erase_if(counters_, [&](const auto& kv) { return now - kv.second.last > max_window_ms_; });
    if (counters_.size() >= kMaxEntries) counters_.clear();  // a flood of distinct clients: forget, never grow
  }
  auto it = counters_.find(std::string(key));
  std::optional<Counter> c;
  if (it != counters_.end()) c = it->second;
  const Decision d = Decide(c, rule, now);
  if (d.allowed) {
    if (it != counters_.end()) it->second = *c;
    else counters_.emplace(std::string(key), *c);
  }
  return d;
}

asio::awaitable<Result<Decision>> MemoryStore::Consume(int /*worker*/, std::string_view key, Rule rule, EpochMs now) {
  co_return ConsumeNow(key, rule, now);
}

asio::awaitable<Result<int>> MemoryStore::Backoff(int /*worker*/, std::string_view key, const BackoffPolicy& p,
                                                  EpochMs now) {
  std::lock_guard lock(mu_);
  const auto it = failures_.find(std::string(key));
  co_return it == failures_.end() ? 0 : BackoffRemaining(it->second.count, it->second.last, p, now);
}

asio::awaitable<Result<bool>> MemoryStore::RecordFailure(int /*worker*/, std::string_view key, const BackoffPolicy& p,
                                                         EpochMs now) {
  std::lock_guard lock(mu_);
  if (failures_.size() >= kMaxEntries)
    std::erase_if(failures_, [&](const auto& kv) { return now - kv.second.last > EpochMs{p.window_s} * 1000; });
  Counter& c = failures_[std::string(key)];
  c.count = now - c.last > EpochMs{p.window_s} * 1000 ? 1 : c.count + 1;
  c.last = now;
  co_return true;
}

asio::awaitable<Result<bool>> MemoryStore::ClearFailures(int /*worker*/, std::string_view key) {
  std::lock_guard lock(mu_);
  failures_.erase(std::string(key));
  co_return true;
}

asio::awaitable<Result<int>> DatabaseStore::Backoff(int worker, std::string_view key, const BackoffPolicy& p,
                                                    EpochMs now) {
  auto lease = co_await pools_[static_cast<std::size_t>(worker)]->Acquire();
  if (!lease) co_return lease.error();
  auto rows = co_await (*lease)->Query("SELECT failures, last_failure FROM pgwarden.sign_in_failure WHERE key = $1",
                                       db::Params(key));
  if (!rows) co_return rows.error();
  if (rows->Empty()) co_return 0;
  co_return BackoffRemaining(static_cast<int>(rows->Int64(0, 0)), rows->Int64(0, 1), p, now);
}

asio::awaitable<Result<bool>> DatabaseStore::RecordFailure(int worker, std::string_view key, const BackoffPolicy& p,
                                                           EpochMs now) {
  auto lease = co_await pools_[static_cast<std::size_t>(worker)]->Acquire();
  if (!lease) co_return lease.error();
  const std::string now_s = std::to_string(now);
  const std::string window_ms = std::to_string(static_cast<EpochMs>(p.window_s) * 1000);
  auto rows = co_await (*lease)->Query(
      "INSERT INTO pgwarden.sign_in_failure AS f (key, failures, last_failure) VALUES ($1, 1, $2::bigint) "
      "ON CONFLICT (key) DO UPDATE SET "
      "failures = CASE WHEN $2::bigint - f.last_failure > $3::bigint THEN 1 ELSE f.failures + 1 END, "
      "last_failure = $2::bigint",
      db::Params(key, now_s, window_ms));
  if (!rows) co_return rows.error();
  if (calls_.fetch_add(1, std::memory_order_relaxed) % 1024 == 1023) {
    const std::string cutoff = std::to_string(now - static_cast<EpochMs>(p.window_s) * 1000);
    auto pruned = co_await (*lease)->Query("DELETE FROM pgwarden.sign_in_failure WHERE last_failure < $1::bigint",
                                           db::Params(cutoff));
    if (!pruned) log::Warn("rate_limit.prune_failed", {{"message", pruned.error().message}});
  }
  co_return true;
}

asio::awaitable<Result<bool>> DatabaseStore::ClearFailures(int worker, std::string_view key) {
  auto lease = co_await pools_[static_cast<std::size_t>(worker)]->Acquire();
  if (!lease) co_return lease.error();
  auto rows = co_await (*lease)->Query("DELETE FROM pgwarden.sign_in_failure WHERE key = $1", db::Params(key));
  if (!rows) co_return rows.error();
  co_return true;
}

asio::awaitable<Result<Decision>> DatabaseStore::Consume(int worker, std::string_view key, Rule rule, EpochMs now) {
  auto lease = co_await pools_[static_cast<std::size_t>(worker)]->Acquire();
  if (!lease) co_return lease.error();
  const std::string now_s = std::to_string(now);
  const std::string window_ms = std::to_string(static_cast<EpochMs>(rule.window_s) * 1000);
  const std::string max_s = std::to_string(rule.max);
  // One statement: allowed when the row is new, the window has passed, or the count is below max (the row
  // lock of ON CONFLICT makes concurrent requests take turns). A refused request changes nothing.
  auto rows = co_await (*lease)->Query(
      "WITH up AS (INSERT INTO pgwarden.rate_limit AS r (key, count, last_request) VALUES ($1, 1, $2::bigint) "
      "ON CONFLICT (key) DO UPDATE SET "
      "count = CASE WHEN $2::bigint - r.last_request > $3::bigint THEN 1 ELSE r.count + 1 END, "
      "last_request = $2::bigint "
      "WHERE $2::bigint - r.last_request > $3::bigint OR r.count < $4::int RETURNING 1) "
      "SELECT (SELECT count(*) FROM up), (SELECT last_request FROM pgwarden.rate_limit WHERE key = $1)",
      db::Params(key, now_s, window_ms, max_s));
  if (!rows) co_return rows.error();
  Decision d;
  if (rows->Int64(0, 0) == 0) {
    const EpochMs last = rows->IsNull(0, 1) ? now : rows->Int64(0, 1);
    d = Refused(Counter{rule.max, last}, rule, now);
  }
  if (calls_.fetch_add(1, std::memory_order_relaxed) % 4096 == 4095) {
    const std::string cutoff = std::to_string(now - max_window_ms_);
    auto pruned = co_await (*lease)->Query("DELETE FROM pgwarden.rate_limit WHERE last_request < $1::bigint",
                                           db::Params(cutoff));
    if (!pruned) log::Warn("rate_limit.prune_failed", {{"message", pruned.error().message}});
  }
  co_return d;
}

// ---------------------------------------------------------------------------------------------------------
// Limiter

Limiter::Limiter(const config::RateLimitConfig& cfg, std::unique_ptr<Store> store)
    : cfg_(cfg),
      backoff_{cfg.sign_in_failures, cfg.sign_in_failure_window_s, cfg.sign_in_max_delay_s},
      proxies_(cfg.trusted_proxies),
      store_(std::move(store)) {}

namespace {
std::string FailureKey(std::string_view email) { return "sign-in|" + AsciiLower(Trim(email)); }
}  // namespace

asio::awaitable<int> Limiter::SignInWait(int worker, std::string_view email) {
  if (!cfg_.enabled || backoff_.threshold <= 0) co_return 0;
  const std::string key = FailureKey(email);
  auto wait = co_await store_->Backoff(worker, key, backoff_, NowMs());
  if (!wait) {
    log::Warn("rate_limit.store_failed", {{"message", wait.error().message}});
    co_return 0;
  }
  co_return *wait;
}

asio::awaitable<void> Limiter::SignInFailed(int worker, std::string_view email) {
  if (!cfg_.enabled || backoff_.threshold <= 0) co_return;
  const std::string key = FailureKey(email);
  auto r = co_await store_->RecordFailure(worker, key, backoff_, NowMs());
  if (!r) log::Warn("rate_limit.store_failed", {{"message", r.error().message}});
}

asio::awaitable<void> Limiter::SignInSucceeded(int worker, std::string_view email) {
  if (!cfg_.enabled || backoff_.threshold <= 0) co_return;
  const std::string key = FailureKey(email);
  auto r = co_await store_->ClearFailures(worker, key);
  if (!r) log::Warn("rate_limit.store_failed", {{"message", r.error().message}});
}

std::string Limiter::Client(std::string_view peer, std::string_view forwarded_for) const {
  return ClientAddress(peer, forwarded_for, proxies_);
}

asio::awaitable<Decision> Limiter::Check(int worker, std::string_view path, std::string_view peer,
                                         std::string_view forwarded_for) {
  const std::optional<Rule> rule = RuleFor(path, cfg_);
  if (!rule) co_return Decision{};
  const std::string client = ClientAddress(peer, forwarded_for, proxies_);
  const std::string key = (client.empty() ? std::string("unknown") : BucketOf(client)) + "|" + std::string(path);
  co_return co_await CheckKey(worker, key, *rule);
}

asio::awaitable<Decision> Limiter::CheckKey(int worker, std::string_view key, Rule rule) {
  auto d = co_await store_->Consume(worker, key, rule, NowMs());
  if (!d) {
    log::Warn("rate_limit.store_failed", {{"message", d.error().message}});
    co_return Decision{};
  }
  co_return *d;
}

}  // namespace pgwarden::ratelimit
