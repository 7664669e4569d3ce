//! Password reset by link (Better Auth's flow, stricter storage):
//!   POST /request-password-reset {email, redirectTo?} -> the same 200 for every address (EN-02); the lookup,
//!        the token and the mail happen after the answer
//!   GET  /reset-password/:token?callbackURL           -> 302 to callbackURL?token=… (or ?error=INVALID_TOKEN)
//!   POST /reset-password {newPassword, token}         -> consumes the token and sets the password atomically
//! Tokens: 24 chars [A-Za-z0-9] (≈143 bits), stored hashed, 1 h, single use, a new request voids older ones.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "auth/body.hpp"
#include "auth/service.hpp"
#include "auth/verification.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/password.hpp"
#include "crypto/random.hpp"

namespace pgwarden::auth {
namespace {
constexpr std::size_t kResetTokenLength = 24;  // Better Auth: generateId(24)
constexpr std::string_view kResetMessage =
    "{\"status\":true,\"message\":\"If this email exists in our system, check your email for the reset link\"}";

std::string ResetIdentifier(std::string_view token) { return "reset-password:" + std::string(token); }

struct ResetJob {
  int worker = 0;
  std::string email;
  std::string redirect_to;
};

asio::awaitable<void> RequestResetInBackground(AuthService* self, ResetJob j) {
  auto conn = co_await self->DbFor(j.worker);
  if (!conn) co_return;
  auto found = co_await FindUserByEmail(**conn, j.email);
  if (!found) {
    log::Warn("auth.reset_lookup_failed", {{"message", found.error().message}});
    co_return;
  }
  if (!*found) {
    log::Info("auth.reset_requested", {{"known", "false"}});
    co_return;
  }
  // One reset mail per address and interval (RL-02): a capped request changes nothing, the earlier link stays.
  if (!co_await self->MailAllowed(j.worker, mail::Template::kResetPassword, j.email)) co_return;
  const auto& cfg = self->Config();
  const EpochMs now = NowMs();
  const std::string token = crypto::RandomString(kResetTokenLength);
  const std::string& user_id = (*found)->user.id;
  // value = the user id (Better Auth's format); older links of the user stop working (TK-02).
  auto stored = co_await InsertVerification(**conn, ResetIdentifier(token), user_id, now + cfg.reset_password_ttl_s * 1000,
                                            now, /*replace_value=*/true);
  if (!stored) {
    log::Warn("auth.reset_store_failed", {{"message", stored.error().message}});
    co_return;
  }
  mail::TemplateVars vars;
  vars.url = self->AuthUrl("/reset-password/" + token) + "?callbackURL=" + crypto::UriComponentEncode(j.redirect_to);
  vars.expires_minutes = static_cast<int>((cfg.reset_password_ttl_s + 59) / 60);
  self->SendMail(mail::Template::kResetPassword, j.email, std::move(vars));
  log::Info("auth.reset_requested", {{"known", "true"}, {"user_id", user_id}});
}

}  // namespace

asio::awaitable<Response> AuthService::RequestPasswordReset(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email = in.Email("email");
  const auto redirect_to = in.OptionalUrl("redirectTo");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if (redirect_to && !IsAllowedRedirect(*redirect_to)) co_return ErrorResponse(req, ErrorCode::kInvalidRedirectUrl);
  ResetJob job{req.worker, AsciiLower(email), redirect_to ? ResolveAppUrl(req, *redirect_to) : std::string()};
  asio::co_spawn(co_await asio::this_coro::executor, RequestResetInBackground(this, std::move(job)),
                 asio::detached);
  co_return Json(req, std::string(kResetMessage));
}

asio::awaitable<Response> AuthService::ResetPasswordCallback(Request& req) {
  auto callback = QueryRedirect(req, "callbackURL", ErrorCode::kInvalidCallbackUrl);
  if (!callback) co_return ErrorResponse(req, callback.error());
  const std::string token = req.params.empty() ? std::string() : req.params[0];
  if (token.empty() || callback->empty())
    co_return Redirect(req, AppendQueryParam(callback->empty() ? AuthUrl("/error") : AbsoluteUrl(*callback), "error",
                                             "INVALID_TOKEN"));
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto found = co_await PeekVerification(**db, ResetIdentifier(token), NowMs());
  if (!found) co_return ErrorResponse(req, found.error());
  if (!*found) co_return Redirect(req, AppendQueryParam(AbsoluteUrl(*callback), "error", "INVALID_TOKEN"));
  co_return Redirect(req, AppendQueryParam(AbsoluteUrl(*callback), "token", token));
}

asio::awaitable<Response> AuthService::ResetPassword(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto new_password = in.RequiredString("newPassword");
  const auto body_token = in.OptionalString("token");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if ((!body_token || body_token->empty()) && QueryRepeated(req.query, "token"))
    co_return ErrorResponse(req, ErrorCode::kValidationError,
                            "[query.token] Invalid input: expected string, received array");
  std::string token = body_token && !body_token->empty() ? std::string(*body_token) : req.Query("token").value_or("");
  if (token.empty() || token.size() > 256) co_return ErrorResponse(req, ErrorCode::kInvalidTokenBadRequest);
  if (auto ok = CheckPasswordLength(new_password); !ok) co_return ErrorResponse(req, ok.error());
  // Hash first: the token is consumed only together with the new password, in one statement.
  if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");
  const std::string pw(new_password);
  // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
  auto cpu_task = [pw, mode = cfg_.password_hash] { return crypto::HashPassword(pw, mode); };
  const std::string hash = co_await OnCpu(std::move(cpu_task));
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto user_id = co_await ResetPasswordWithToken(**db, ResetIdentifier(token), hash,
                                                 cfg_.revoke_sessions_on_password_reset, NowMs());
  if (!user_id) co_return ErrorResponse(req, user_id.error());
  if (!*user_id) {
    const std::string ip = SecurityLogIp(req);
    log::Warn("auth.token_rejected", {{"kind", "reset-password"}, {"ip", ip}});  // unknown, used or expired
    co_return ErrorResponse(req, ErrorCode::kInvalidTokenBadRequest);
  }
  log::Info("auth.password_reset", {{"user_id", **user_id},
                                     {"revoked_sessions", cfg_.revoke_sessions_on_password_reset ? "true" : "false"}});
  // A notice to the owner (TK-04): no link, no secret.
  auto user = co_await FindUserById(**db, **user_id);
  if (user && *user) SendMail(mail::Template::kPasswordChanged, (*user)->email, {});
  co_return Json(req, "{\"status\":true}");
}

}  // namespace pgwarden::auth
