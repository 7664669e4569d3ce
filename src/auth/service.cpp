#include "auth/service.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>

#include <cctype>
#include <latch>
#include <thread>

#include "auth/body.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/password.hpp"
#include "crypto/random.hpp"
#include "http/cookies.hpp"

namespace pgwarden::auth {
namespace {
constexpr std::size_t kSessionTokenLength = 32;  // Better Auth: generateId(32), [A-Za-z0-9]

bool IsIpLiteral(std::string_view s) {
  boost::system::error_code ec;
  asio::ip::make_address(s, ec);
  return !ec;
}
}  // namespace

AuthService::AuthService(config::AuthConfig cfg, std::shared_ptr<const KeyRing> keys,
                         std::vector<std::unique_ptr<db::Pool>> pools, std::shared_ptr<Mailer> mailer,
                         std::shared_ptr<oauth::Runtime> oauth)
    : cfg_(std::move(cfg)),
      keys_(std::move(keys)),
      pools_(std::move(pools)),
      origins_([&] {
        std::vector<std::string> list = cfg_.trusted_origins;
        list.push_back(cfg_.base_url);  // the service's own origin is always trusted
        return list;
      }(),
               cfg_.trust_localhost),
      mailer_(std::move(mailer)),
      oauth_(std::move(oauth)) {
  const int threads =
      cfg_.hash_threads > 0 ? cfg_.hash_threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  cpu_ = std::make_unique<asio::thread_pool>(threads);
  // Hashing yields to request handling (RF-07): the hash threads run at nice 10, so a flood of sign-ins cannot
  // delay the cheap requests of the io threads (idle CPU is still theirs). Linux sets the priority per thread;
  // the latch makes each pool thread take exactly one of these tasks.
  auto all_started = std::make_shared<std::latch>(threads);
  for (int i = 0; i < threads; ++i) {
    asio::post(*cpu_, [all_started] {
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
      all_started->arrive_and_wait();
    });
  }
  cors_.origins = &origins_;
  cors_.credentials = true;
  cors_.allow_methods = "GET, POST, OPTIONS";
  cors_.allow_headers = "content-type, authorization, x-neon-client-info, x-neon-auth-middleware";
  cors_.expose_headers = "set-auth-jwt, set-auth-token";
}

AuthService::~AuthService() {
  if (cpu_) cpu_->join();
}

asio::awaitable<Result<db::Lease>> AuthService::DbFor(int worker) {
  co_return co_await pools_[static_cast<size_t>(worker)]->Acquire();
}

std::string AuthService::CookieName(std::string_view suffix) const {
  std::string name = cfg_.secure_cookies ? "__Secure-" : "";
  name += cfg_.cookie_prefix;
  name += '.';
  name += suffix;
  return name;
}

std::string AuthService::SessionCookieName() const { return CookieName("session_token"); }

std::string AuthService::NewSessionToken() const { return crypto::RandomString(kSessionTokenLength); }

std::string AuthService::ClientIp(const Request& req) const {
  // Better Auth's rule: X-Forwarded-For only when it holds exactly one valid IP; else the TCP peer.
  const auto xff = Trim(req.Header("x-forwarded-for"));
  if (!xff.empty() && xff.find(',') == std::string_view::npos && IsIpLiteral(xff)) return std::string(xff);
  return req.remote_ip;
}

void AuthService::SetSessionCookies(Response& res, std::string_view token, bool dont_remember) const {
  const std::string signed_value = crypto::SignCookieValue(cfg_.secret, token);
  http::CookieAttributes attrs;
  attrs.secure = cfg_.secure_cookies;
  if (cfg_.cookie_mode == config::CookieMode::kCrossSite) {
    attrs.same_site = "None";
    attrs.partitioned = true;
  }
  if (!dont_remember) attrs.max_age = cfg_.session_expires_in_s;
  res.insert(http::bhttp::field::set_cookie,
             http::SetCookie(SessionCookieName(), crypto::UriComponentEncode(signed_value), attrs));
  if (dont_remember) {
    http::CookieAttributes dr = attrs;
    dr.max_age.reset();
    res.insert(http::bhttp::field::set_cookie,
               http::SetCookie(CookieName("dont_remember"),
                               crypto::UriComponentEncode(crypto::SignCookieValue(cfg_.secret, "true")), dr));
  }
  res.set("set-auth-token", signed_value);
  res.set(http::bhttp::field::access_control_expose_headers, "set-auth-token");
}

void AuthService::ExpireCookie(Response& res, std::string_view name) const {
  http::CookieAttributes attrs;
  attrs.max_age = 0;
  attrs.secure = cfg_.secure_cookies;
  if (cfg_.cookie_mode == config::CookieMode::kCrossSite) {
    attrs.same_site = "None";
    attrs.partitioned = true;
  }
  res.insert(http::bhttp::field::set_cookie, http::SetCookie(name, "", attrs));
}

void AuthService::ExpireSessionCookies(Response& res) const {
  for (const char* suffix : {"session_token", "session_data", "dont_remember"}) ExpireCookie(res, CookieName(suffix));
}

std::string AuthService::MintUserJwt(const UserRow& user, EpochMs now) const {
  const long long iat = now / 1000;
  std::string payload;
  payload.reserve(256);
  payload += "{\"iat\":" + std::to_string(iat) + ",\"email\":";
  AppendJsonString(payload, user.email);
  // The Data API uses `role` as the Postgres role: always "authenticated", never the admin plugin's role.
  payload += ",\"role\":\"authenticated\",\"sub\":";
  AppendJsonString(payload, user.id);
  payload += ",\"exp\":" + std::to_string(iat + cfg_.jwt_ttl_s) + ",\"iss\":";
  AppendJsonString(payload, cfg_.jwt_issuer);
  payload += ",\"aud\":";
  AppendJsonString(payload, cfg_.jwt_audience);
  payload += '}';
  return keys_->Sign(payload);
}

Response AuthService::Json(const Request& req, std::string body, int status) const {
  Response res = http::MakeResponse(req, static_cast<http::bhttp::status>(status), std::move(body), "application/json");
  // Auth answers carry credentials: never cached, never sniffed.
  res.set(http::bhttp::field::cache_control, "no-store");
  res.set("x-content-type-options", "nosniff");
  return res;
}

Response AuthService::TooManyRequests(const Request& req, int retry_after_s) const {
  Response res = ErrorResponse(req, ErrorCode::kTooManyRequests);
  const std::string s = std::to_string(retry_after_s);
  res.set("X-Retry-After", s);
  res.set(http::bhttp::field::retry_after, s);
  return res;
}

Response AuthService::ErrorResponse(const Request& req, const Error& e) const {
  const auto& info = Describe(e.code);
  if (e.code == ErrorCode::kDatabase || e.code == ErrorCode::kInternal) {
    // The details stay in the log; the client gets the generic message (EN-04).
    log::Error("auth.internal_error",
               {{"path", req.path}, {"sqlstate", e.sqlstate}, {"message", e.message}});
    return Json(req, "{\"message\":\"Internal server error\",\"code\":\"INTERNAL_SERVER_ERROR\"}", 500);
  }
  if (e.code == ErrorCode::kServiceUnavailable) {
    // Database unreachable, pool exhausted or hashing queue full: fail closed with the generic body (never a
    // "no session" answer, never the driver's message) and say when to come back: when this thread's pool
    // will next try to reconnect, at least 1 s (decisions D39).
    log::Warn("auth.unavailable", {{"path", req.path}, {"message", e.message}});
    Response res = Json(req, std::string("{\"message\":") + JsonString(info.message) + ",\"code\":\"" +
                                 std::string(info.code) + "\"}",
                        503);
    const auto w = static_cast<size_t>(req.worker);
    const int retry = w < pools_.size() ? pools_[w]->RetryAfterSeconds() : 1;
    res.set(http::bhttp::field::retry_after, std::to_string(retry));
    return res;
  }
  std::string body = "{\"message\":";
  AppendJsonString(body, e.Message());
  if (!info.code.empty()) {
    body += ",\"code\":";
    AppendJsonString(body, info.code);
  }
  body += '}';
  return Json(req, std::move(body), info.status);
}

namespace {
Error BodyShapeError(BodyShape shape, std::string_view received) {
  const std::string r(received);
  std::string msg;
  if (shape != BodyShape::kRecord) msg = "[body] Invalid input: expected object, received " + r;
  if (shape != BodyShape::kObject) {
    if (!msg.empty()) msg += "; ";
    msg += "[body] Invalid input: expected record, received " + r;
  }
  return MakeError(ErrorCode::kValidationError, std::move(msg));
}
}  // namespace

Result<json::object> AuthService::ParseBody(const Request& req, BodyShape shape, bool allow_form) const {
  const auto ct = AsciiLower(Trim(Split(req.Header(http::bhttp::field::content_type), ';')[0]));
  const std::string_view body = req.raw.body();
  if (ct.empty() && body.empty()) return BodyShapeError(shape, "undefined");
  if (ct == "application/json") {
    if (Trim(body).empty()) return BodyShapeError(shape, "undefined");
    // Duplicate member names and NUL characters are refused before the DOM parse (which would silently keep
    // one duplicate, and whose NULs Postgres would truncate): IV-02.
    const JsonCheck strict = CheckJsonStrict(body, 32);
    if (strict.result == JsonStrictness::kDuplicateKey)
      return MakeError(ErrorCode::kValidationError, "[body] Duplicate member name: " + JsonString(strict.key));
    if (strict.result == JsonStrictness::kNulCharacter)
      return MakeError(ErrorCode::kValidationError, "[body] Invalid input: strings must not contain NUL characters");
    if (strict.result != JsonStrictness::kOk) return MakeError(ErrorCode::kBadRequest);
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 32;
    json::value v = json::parse(body, ec, {}, opts);
    if (ec) return MakeError(ErrorCode::kBadRequest);
    if (!v.is_object()) return BodyShapeError(shape, TypeName(&v));
    return std::move(v.as_object());
  }
  if (ct == "application/x-www-form-urlencoded" && allow_form) {
    const auto pairs = http::ParseForm(body);
    if (!pairs) return MakeError(ErrorCode::kBadRequest, "Invalid form body");
    json::object obj;
    for (const auto& [k, v] : *pairs) {
      if (k.find('\0') != std::string::npos || v.find('\0') != std::string::npos)
        return MakeError(ErrorCode::kValidationError, "[body] Invalid input: strings must not contain NUL characters");
      if (obj.contains(k)) return MakeError(ErrorCode::kValidationError, "[body] Duplicate member name: " + JsonString(k));
      obj[k] = v;
    }
    return obj;
  }
  const std::string shown = ct.empty() ? std::string("undefined") : std::string(ct);
  return MakeError(ErrorCode::kUnsupportedMediaType,
                   "Content-Type \"" + shown +
                       (allow_form ? "\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"
                                   : "\" is not allowed. Allowed types: application/json"));
}

Result<void> AuthService::CheckOrigin(const Request& req, bool login) const {
  using http::bhttp::field;
  const auto method = req.raw.method();
  if (method == http::bhttp::verb::get || method == http::bhttp::verb::head || method == http::bhttp::verb::options)
    return {};
  std::string origin(Trim(req.Header(field::origin)));
  if (origin.empty()) {
    const auto referer = Trim(req.Header(field::referer));
    // An unparseable Referer is never trusted (it cannot match any origin, wildcard or not).
    if (!referer.empty()) origin = config::OriginOf(referer).value_or(std::string("invalid:"));
  }
  const bool has_cookie = !req.Header(field::cookie).empty();
  if (has_cookie) {
    if (origin.empty() || origin == "null") return MakeError(ErrorCode::kMissingOrNullOrigin);
    if (!origins_.Matches(origin)) return MakeError(ErrorCode::kInvalidOrigin);
    return {};
  }
  if (!login) return {};  // no cookie: nothing a forged request could ride on (Bearer / server-to-server)
  const auto site = AsciiLower(req.Header("sec-fetch-site"));
  const auto mode = AsciiLower(req.Header("sec-fetch-mode"));
  if (site == "cross-site" && mode == "navigate") return MakeError(ErrorCode::kCrossSiteNavigationLoginBlocked);
  // Decision D3 (docs/decisions.md): Sec-Fetch-* without Origin is allowed. Browsers always send Origin on
  // POST; Node's fetch sends Sec-Fetch-Mode without it, and the SDK must work from Node.
  if (origin == "null") return MakeError(ErrorCode::kMissingOrNullOrigin);
  if (!origin.empty() && !origins_.Matches(origin)) return MakeError(ErrorCode::kInvalidOrigin);
  return {};
}

Result<void> AuthService::CheckPasswordLength(std::string_view password) const {
  // Bytes first: an oversized input is refused before it is even counted (long-password DoS).
  if (static_cast<int>(password.size()) > cfg_.max_password_length * 4) return MakeError(ErrorCode::kPasswordTooLong);
  const int units = Utf16Length(password);
  if (units < cfg_.min_password_length) return MakeError(ErrorCode::kPasswordTooShort);
  if (units > cfg_.max_password_length) return MakeError(ErrorCode::kPasswordTooLong);
  // A list of common passwords (PW-03), case-insensitive, also with up to 4 digits or symbols appended to a
  // listed word ("password123", "monkey2024!").
  if (denylist_) {
    const std::string lower = AsciiLower(password);
    std::string_view base = lower;
    const auto decoration = [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return std::isdigit(u) || std::ispunct(u);
    };
    for (int i = 0; i < 4 && !base.empty() && decoration(base.back()); ++i) base.remove_suffix(1);
    if (denylist_->contains(lower) || (base.size() >= 4 && denylist_->contains(std::string(base))))
      return MakeError(ErrorCode::kPasswordCompromised);
  }
  return {};
}

bool AuthService::IsAllowedRedirect(std::string_view url) const {
  if (url.empty() || url.size() > 2048) return false;
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\' || c == ' ') return false;
  }
  if (url.front() == '/') {
    // Same-origin path: not protocol-relative ("//evil"), and no encoded slash/backslash right after the
    // first one that a lenient redirect handler could turn into "//".
    if (url.size() > 1 && url[1] == '/') return false;
    const std::string lower = AsciiLower(url.substr(0, 4));
    if (StartsWith(lower, "/%2f") || StartsWith(lower, "/%5c")) return false;
    if (AsciiLower(url).find("%5c") != std::string::npos) return false;
    return true;
  }
  const auto origin = config::OriginOf(url);
  if (!origin) return false;
  return origins_.Matches(*origin);
}

asio::awaitable<Result<AuthService::Authenticated>> AuthService::RequireSession(const Request& req) {
  auto lease = co_await Db(req);
  if (!lease) co_return lease.error();
  CurrentSession cur;
  auto lookup = co_await FindSession(req, **lease, cur);
  if (!lookup) co_return lookup.error();
  if (*lookup != Lookup::kFound) co_return MakeError(ErrorCode::kUnauthorized);
  co_return Authenticated{std::move(*lease), std::move(cur)};
}

bool AuthService::CheckPassword(const std::string& password, const std::optional<std::string>& stored,
                                crypto::PasswordHashMode mode) {
  if (!stored) {
    // An account without a password costs the same as a wrong one: a hash in the format new users get.
    crypto::DummyPasswordWork(password, mode);
    return false;
  }
  return crypto::VerifyPassword(password, *stored);
}

asio::awaitable<Result<Lookup>> AuthService::FindSession(const Request& req, db::Connection& conn,
                                                         CurrentSession& out) {
  std::optional<std::string> token;
  bool from_cookie = false;
  const std::string cookie_name = SessionCookieName();
  auto raw = req.Cookie(cookie_name);
  // The older documented name (no hyphen) is accepted on input.
  if (!raw && cfg_.cookie_prefix == "neon-auth") raw = req.Cookie(cfg_.secure_cookies ? "__Secure-neonauth.session_token" : "neonauth.session_token");
  if (raw) {
    if (auto decoded = crypto::UriComponentDecode(*raw)) token = crypto::VerifySignedCookieValue(cfg_.secret, *decoded);
    from_cookie = token.has_value();
  }
  if (!token) {
    const auto auth = Trim(req.Header(http::bhttp::field::authorization));
    if (auth.size() > 7 && IEquals(auth.substr(0, 7), "bearer ")) {
      const auto value = Trim(auth.substr(7));
      if (value.find('.') != std::string_view::npos) {
        if (auto decoded = crypto::UriComponentDecode(value)) token = crypto::VerifySignedCookieValue(cfg_.secret, *decoded);
      } else if (value.size() == kSessionTokenLength) {
        token = std::string(value);  // Better Auth's bearer plugin also accepts the raw token
      }
    }
  }
  if (!token) co_return Lookup::kNone;

  auto found = co_await FindSessionByToken(conn, *token);
  if (!found) co_return found.error();
  if (!*found) co_return Lookup::kInvalid;
  const EpochMs now = NowMs();
  auto& s = (*found)->session;
  const bool expired = s.expires_at <= now ||
                       (cfg_.session_absolute_max_s > 0 && s.created_at + cfg_.session_absolute_max_s * 1000 <= now);
  if (expired) {
    auto del = co_await DeleteSessionByToken(conn, *token);
    if (!del) co_return del.error();
    co_return Lookup::kInvalid;
  }
  // Banned users hold no session (SE-08), whatever rows remain.
  if ((*found)->user.IsBanned(now)) co_return Lookup::kInvalid;
  out.session = std::move(s);
  out.user = std::move((*found)->user);
  out.from_cookie = from_cookie;
  if (auto dr = req.Cookie(CookieName("dont_remember"))) {
    if (auto decoded = crypto::UriComponentDecode(*dr))
      out.dont_remember = crypto::VerifySignedCookieValue(cfg_.secret, *decoded) == std::optional<std::string>("true");
  }
  co_return Lookup::kFound;
}

}  // namespace pgwarden::auth
