//! JwksVerifier: static keys + remote JWKS (Beast over Asio SSL). Coroutines here follow decisions D11: state
//! by value (shared_ptr<State> + index), named temporaries before co_await, no initializer lists (logging
//! happens in plain helper functions).
#include "dataapi/jwks.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "core/log.hpp"
#include "core/text.hpp"
#include "http/client.hpp"

namespace pgwarden::dataapi {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

//! Where one JWKS URL points (checked at start; http::Client fetches it).
struct Target {
  std::string url;
  std::string display;  //!< for logs: scheme://host:port/path, no query (it could hold a token)
};

bool IsLoopbackHost(const std::string& host) {
  if (AsciiLower(host) == "localhost") return true;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

std::optional<Target> ParseTarget(std::string_view url) {
  auto r = boost::urls::parse_uri(url);
  if (!r || r->has_userinfo() || !r->has_authority() || r->encoded_host().empty()) return std::nullopt;
  const std::string scheme = AsciiLower(r->scheme());
  if (scheme != "https" && scheme != "http") return std::nullopt;
  const bool tls = scheme == "https";
  const std::string host = r->host_type() == boost::urls::host_type::ipv6 ? r->host_ipv6_address().to_string()
                                                                          : std::string(r->encoded_host());
  if (!tls && !IsLoopbackHost(host)) return std::nullopt;  // keys in clear text only on this machine
  const std::string port = r->has_port() && !r->port().empty() ? std::string(r->port()) : (tls ? "443" : "80");
  Target t;
  t.url = std::string(url);
  t.display = scheme + "://" + std::string(r->encoded_host()) + ":" + port + std::string(r->encoded_path());
  return t;
}

struct Remote {
  Target target;
  std::atomic<std::shared_ptr<const crypto::JwkSet>> keys;  //!< null until the first successful fetch
  std::mutex mu;  // guards everything below
  bool in_flight = false;
  Clock::time_point expires_at{};  //!< when the background loop refreshes next
  std::optional<Clock::time_point> last_refetch;  //!< the last unknown-kid refetch (rate limit)
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;  //!< Prefetch callers, woken on completion
};

struct FetchResult {
  std::string body;
  std::string error;  //!< "" = ok
  std::optional<std::chrono::seconds> max_age;
};

void LogFetched(const Target& t, std::size_t keys, const std::vector<std::string>& skipped) {
  const std::string count = std::to_string(keys);
  log::Info("dataapi.jwks_fetched", {{"url", t.display}, {"keys", count}});
  for (const auto& s : skipped) log::Warn("dataapi.jwks_key_skipped", {{"url", t.display}, {"reason", s}});
}

void LogFailed(const Target& t, const std::string& error) {
  log::Warn("dataapi.jwks_fetch_failed", {{"url", t.display}, {"error", error}});
}

void LogSpawnFailure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::Error("dataapi.jwks_task_failed", {{"error", ex.what()}});
  } catch (...) {
    log::Error("dataapi.jwks_task_failed");
  }
}

std::optional<std::chrono::seconds> MaxAge(std::string_view cache_control) {
  for (auto part : Split(cache_control, ',')) {
    part = Trim(part);
    if (IEquals(part, "no-store") || IEquals(part, "no-cache")) return std::chrono::seconds(0);
    if (part.size() > 8 && IEquals(part.substr(0, 8), "max-age=")) {
      long long v = 0;
      const auto digits = part.substr(8);
      const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec == std::errc() && p == digits.data() + digits.size() && v >= 0) return std::chrono::seconds(v);
    }
  }
  return std::nullopt;
}

}  // namespace

struct JwksVerifier::State {
  crypto::JwkSet static_keys;
  JwksOptions opts;
  std::vector<std::unique_ptr<Remote>> remotes;
  //! The shared outbound client (verified TLS 1.2+, system trust store or SSL_CERT_FILE, no redirects, the
  //! body capped while reading). The URLs are the operator's: private addresses are allowed.
  std::optional<http::Client> client;
};

namespace {

using StatePtr = std::shared_ptr<JwksVerifier::State>;

asio::awaitable<FetchResult> HttpGet(StatePtr st, std::size_t index) {
  http::ClientRequest req;
  req.url = st->remotes[index]->target.url;
  req.headers.emplace_back("Accept", "application/jwk-set+json, application/json");
  FetchResult out;
  auto res = co_await st->client->Fetch(std::move(req));
  if (!res) {
    out.error = std::string(res.error().Message());
    co_return out;
  }
  // Redirects are not followed: the configured URL is the one trusted.
  if (res->status != 200) {
    out.error = "HTTP status " + std::to_string(res->status);
    co_return out;
  }
  if (auto cc = res->Header("Cache-Control"); !cc.empty()) out.max_age = MaxAge(cc);
  out.body = std::move(res->body);
  co_return out;
}

//! Stores a fetched set (or records the failure), schedules the next refresh and wakes the waiters.
void Complete(JwksVerifier::State& st, Remote& r, const FetchResult& fetched) {
  std::chrono::seconds ttl = st.opts.retry_interval;
  if (!fetched.error.empty()) {
    LogFailed(r.target, fetched.error);
  } else if (auto parsed = crypto::ParseJwkSet(fetched.body); !parsed) {
    LogFailed(r.target, "not a JWK Set: " + std::string(parsed.error().Message()));
  } else {
    LogFetched(r.target, parsed->keys.Keys().size(), parsed->skipped);
    r.keys.store(std::make_shared<const crypto::JwkSet>(std::move(parsed->keys)));
    ttl = fetched.max_age ? std::clamp(*fetched.max_age, st.opts.min_ttl, st.opts.max_ttl) : st.opts.default_ttl;
  }
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  {
    std::lock_guard lock(r.mu);
    r.in_flight = false;
    r.expires_at = Clock::now() + ttl;
    waiters.swap(r.waiters);
  }
  // Each timer is cancelled on its own executor (timers are not thread-safe); a waiter registers and starts
  // its wait without yielding in between, so the cancel cannot arrive before the wait.
  for (auto& w : waiters) asio::post(w->get_executor(), [w] { w->cancel(); });
}

asio::awaitable<void> FetchOnce(StatePtr st, std::size_t index) {
  Remote& r = *st->remotes[index];
  FetchResult fetched;
  try {
    fetched = co_await HttpGet(st, index);
  } catch (const std::exception& e) {
    fetched.error = e.what();
  }
  Complete(*st, r, fetched);
}

enum class Claim { kStarted, kInFlight, kNo };

//! Claims the right to fetch `r` now. `refetch`: an unknown-kid refetch, rate-limited per URL.
Claim TryClaim(const JwksOptions& opts, Remote& r, bool refetch) {
  std::lock_guard lock(r.mu);
  if (r.in_flight) return Claim::kInFlight;
  const auto now = Clock::now();
  if (refetch) {
    if (r.last_refetch && now - *r.last_refetch < opts.refetch_interval) return Claim::kNo;
    r.last_refetch = now;
  }
  r.in_flight = true;
  return Claim::kStarted;
}

void Spawn(asio::any_io_executor ex, StatePtr st, std::size_t index) {
  asio::co_spawn(ex, FetchOnce(st, index), LogSpawnFailure);
}

//! Registers a waiter when a fetch of `r` is in flight; nullptr when none is.
std::shared_ptr<asio::steady_timer> Register(Remote& r, const asio::any_io_executor& ex, Clock::time_point deadline) {
  std::lock_guard lock(r.mu);
  if (!r.in_flight) return nullptr;
  auto timer = std::make_shared<asio::steady_timer>(ex);
  timer->expires_at(deadline);
  r.waiters.push_back(timer);
  return timer;
}

//! The first fetch, then one per TTL (or per retry interval after a failure).
asio::awaitable<void> RefreshLoop(StatePtr st, std::size_t index) {
  Remote& r = *st->remotes[index];
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  for (;;) {
    Clock::time_point next;
    {
      std::lock_guard lock(r.mu);
      next = r.expires_at;
    }
    if (Clock::now() < next) {
      timer.expires_at(next);
      auto [ec] = co_await timer.async_wait(kNoThrow);
      (void)ec;
      continue;  // a Prefetch may have refreshed meanwhile: look again
    }
    if (TryClaim(st->opts, r, false) == Claim::kStarted) {
      co_await FetchOnce(st, index);
    } else {
      timer.expires_after(std::chrono::seconds(1));  // a Prefetch's fetch is running
      auto [ec] = co_await timer.async_wait(kNoThrow);
      (void)ec;
    }
  }
}

//! Whether any cached set (static or remote) has `kid`; for a token without kid, whether every URL has a set.
bool KnowsToken(const JwksVerifier::State& st, const std::optional<std::string>& kid) {
  if (kid && st.static_keys.HasKid(*kid)) return true;
  if (kid && std::find(st.opts.other_kids.begin(), st.opts.other_kids.end(), *kid) != st.opts.other_kids.end())
    return true;
  for (const auto& r : st.remotes) {
    const auto keys = r->keys.load();
    if (kid && keys && keys->HasKid(*kid)) return true;
    if (!kid && !keys) return false;
  }
  return !kid;
}

asio::awaitable<void> PrefetchImpl(StatePtr st, asio::any_io_executor ex, std::optional<std::string> kid) {
  if (KnowsToken(*st, kid)) co_return;
  // Bounded: a request waits at most a little longer than one fetch may take.
  const auto deadline = Clock::now() + st->opts.timeout + std::chrono::milliseconds(250);
  auto here = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i < st->remotes.size(); ++i) {
    Remote& r = *st->remotes[i];
    const auto keys = r.keys.load();
    if (!kid && keys) continue;  // only URLs never fetched are worth a wait for a kid-less token
    if (TryClaim(st->opts, r, true) == Claim::kStarted) Spawn(ex, st, i);
  }
  for (std::size_t i = 0; i < st->remotes.size(); ++i) {
    auto timer = Register(*st->remotes[i], here, deadline);
    if (!timer) continue;
    auto [ec] = co_await timer->async_wait(kNoThrow);
    (void)ec;
    if (Clock::now() >= deadline) break;
  }
}

}  // namespace

JwksVerifier::JwksVerifier(crypto::JwkSet static_keys, std::vector<std::string> urls, JwksOptions opts)
    : state_(std::make_shared<State>()) {
  state_->static_keys = std::move(static_keys);
  state_->opts = opts;
  for (const auto& url : urls) {
    auto target = ParseTarget(url);
    if (!target) throw std::invalid_argument("JWKS URL is not an https URL (or http on loopback)");
    auto remote = std::make_unique<Remote>();
    remote->target = std::move(*target);
    state_->remotes.push_back(std::move(remote));
  }
  http::ClientOptions client;
  client.timeout = opts.timeout;
  client.max_body_bytes = opts.max_bytes;
  client.allow_loopback = true;  // http:// only to loopback (ParseTarget), as before
  client.allow_private = true;   // a JWKS on the operator's own network
  state_->client.emplace(client);
}

JwksVerifier::~JwksVerifier() = default;

bool JwksVerifier::HasUrls() const { return !state_->remotes.empty(); }

std::optional<std::string> JwksVerifier::Verify(std::string_view token) const {
  if (auto payload = crypto::VerifyJws(state_->static_keys, token)) return payload;
  for (const auto& r : state_->remotes) {
    const auto keys = r->keys.load();
    if (!keys) continue;
    if (auto payload = crypto::VerifyJws(*keys, token)) return payload;
  }
  return std::nullopt;
}

boost::asio::awaitable<void> JwksVerifier::Prefetch(boost::asio::any_io_executor ex, std::string_view token) const {
  if (state_->remotes.empty()) co_return;
  std::optional<std::string> kid = crypto::JwsKid(token);
  StatePtr st = state_;
  co_await PrefetchImpl(st, ex, kid);
}

void JwksVerifier::Start(boost::asio::any_io_executor ex) const {
  for (std::size_t i = 0; i < state_->remotes.size(); ++i) {
    StatePtr st = state_;
    asio::co_spawn(ex, RefreshLoop(st, i), LogSpawnFailure);
  }
}

std::string_view BearerToken(std::string_view authorization) {
  authorization = Trim(authorization);
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos || !IEquals(authorization.substr(0, space), "bearer")) return {};
  return Trim(authorization.substr(space + 1));
}

}  // namespace pgwarden::dataapi
