//! POST /sign-in/email {email, password, callbackURL?, rememberMe?}
//! -> 200 {redirect, token, url?, user} + session cookie; 401 INVALID_EMAIL_OR_PASSWORD for an unknown
//! email or a wrong password alike (same work: a dummy hash runs for unknown users).
#include "auth/body.hpp"
#include "auth/service.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/password.hpp"

namespace pgwarden::auth {

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
  auto cpu_task = [pw, stored, too_long] { return CheckPassword(pw, stored) && !too_long; };
  const bool valid = co_await OnCpu(std::move(cpu_task));
  if (!valid) {
    log::Info("auth.sign_in_failed", {{"reason", found ? "password" : "unknown_user"}});
    co_return ErrorResponse(req, ErrorCode::kInvalidEmailOrPassword);
  }
  const EpochMs now = NowMs();
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
  log::Info("auth.sign_in", {{"user_id", found->user.id}});

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
