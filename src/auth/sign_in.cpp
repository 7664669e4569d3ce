//! POST /sign-in/email {email, password, callbackURL?, rememberMe?}
//! -> 200 {redirect, token, url?, user} + session cookie; 401 INVALID_EMAIL_OR_PASSWORD for an unknown
//! email or a wrong password alike (same work: a dummy hash runs for unknown users). In argon2id mode a correct
//! password whose stored hash is Better Auth's scrypt (or an argon2id hash below policy) is re-hashed and stored.
#include "auth/body.hpp"
#include "auth/service.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/password.hpp"

namespace pgwarden::auth {
namespace {

//! What the CPU pool answers for a sign-in: the verdict, and the replacement hash when one is due.
struct PasswordCheck {
  bool valid = false;
  std::optional<std::string> rehash;
};

}  // namespace

asio::awaitable<Response> AuthService::SignInEmail(Request& req) {
  if (auto ok = CheckOrigin(req, /*login=*/true); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req, BodyShape::kObject, /*allow_form=*/true);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.RequiredString("email");
  const auto password = in.RequiredString("password");
  const auto callback = in.OptionalUrl("callbackURL");
  const auto remember = in.OptionalBool("rememberMe");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  if (!IsValidEmail(email_raw)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);
  const std::string email = AsciiLower(email_raw);
  // Per-account back-off after repeated failures (RL-05), for known and unknown addresses alike; checked before
  // the password so a guess made while throttled proves nothing.
  if (limiter_) {
    if (const int wait = co_await limiter_->SignInWait(req.worker, email); wait > 0) {
      const std::string wait_s = std::to_string(wait);
      const std::string ip = SecurityLogIp(req);
      log::Warn("auth.sign_in_throttled", {{"retry_after_s", wait_s}, {"ip", ip}});
      co_return TooManyRequests(req, wait);
    }
  }

  std::optional<UserWithPassword> found;
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto r = co_await FindUserByEmail(**db, email);
    if (!r) co_return ErrorResponse(req, r.error());
    found = std::move(*r);
  }
  // Over-long input is never hashed in full (long-password DoS); it cannot match a stored hash anyway.
  const bool too_long = static_cast<int>(password.size()) > cfg_.max_password_length * 4;
  const std::string pw(password.substr(0, static_cast<size_t>(cfg_.max_password_length) * 4));
  const std::optional<std::string> stored = found ? found->password_hash : std::nullopt;
  if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");
  // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
  auto cpu_task = [pw, stored, too_long, mode = cfg_.password_hash] {
    PasswordCheck out;
    out.valid = CheckPassword(pw, stored, mode) && !too_long;
    // Only a proven password is re-hashed (on the same pool, while it is at hand); a wrong one changes nothing.
    if (out.valid && crypto::PasswordNeedsRehash(*stored, mode)) out.rehash = crypto::HashPassword(pw, mode);
    return out;
  };
  const PasswordCheck check = co_await OnCpu(std::move(cpu_task));
  if (!check.valid) {
    const std::string ip = SecurityLogIp(req);
    const std::string uid = found ? found->user.id : std::string();
    log::Info("auth.sign_in_failed", {{"reason", found ? "password" : "unknown_user"}, {"user_id", uid}, {"ip", ip}});
    if (limiter_) co_await limiter_->SignInFailed(req.worker, email);
    co_return ErrorResponse(req, ErrorCode::kInvalidEmailOrPassword);
  }
  if (limiter_) co_await limiter_->SignInSucceeded(req.worker, email);
  const EpochMs now = NowMs();
  if (check.rehash) {
    // Stored whatever the rest of the sign-in decides: the password is proven, and the stronger hash protects the
    // row at rest. Replaced only if unchanged since it was read (a concurrent password change wins); a failed
    // update is logged and does not fail the sign-in (the next one retries).
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto replaced = co_await ReplacePasswordHash(**db, found->user.id, *stored, *check.rehash, now);
    if (!replaced) {
      log::Warn("auth.password_rehash_failed", {{"user_id", found->user.id}});
    } else {
      log::Info("auth.password_rehashed", {{"user_id", found->user.id}, {"replaced", *replaced ? "true" : "false"}});
    }
  }
  if (cfg_.require_email_verification && !found->user.email_verified) {
    // Only after the right password (EN-01); a fresh link goes out so the user can finish.
    SendVerificationLink(mail::Template::kVerifyEmail, found->user.email, found->user.email, std::nullopt,
                         std::nullopt, callback ? ResolveAppUrl(req, *callback) : std::string());
    co_return ErrorResponse(req, ErrorCode::kEmailNotVerified);
  }
  if (found->user.IsBanned(now))
    co_return ErrorResponse(req, ErrorCode::kBannedUser);

  const bool dont_remember = remember.has_value() && !*remember;
  const std::int64_t ttl = dont_remember ? 24 * 3600 : cfg_.session_expires_in_s;
  const NewSession ns{NewSessionToken(), now + ttl * 1000, ClientIp(req),
                      std::string(req.Header(http::bhttp::field::user_agent))};
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto session = co_await InsertSession(**db, found->user.id, ns, now);
  if (!session) co_return ErrorResponse(req, session.error());
  const std::string ip = SecurityLogIp(req);
  log::Info("auth.sign_in", {{"user_id", found->user.id}, {"ip", ip}});

  std::string out = "{\"redirect\":";
  out += callback ? "true" : "false";
  out += ",\"token\":" + JsonString(ns.token);
  if (callback) out += ",\"url\":" + JsonString(*callback);
  out += ",\"user\":" + UserJson(found->user) + "}";
  Response res = Json(req, std::move(out));
  if (callback) res.set(http::bhttp::field::location, *callback);
  SetSessionCookies(res, ns.token, dont_remember);
  co_return res;
}

}  // namespace pgwarden::auth
