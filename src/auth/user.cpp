//! The signed-in user's own account: update-user, change-password, verify-password, delete-user,
//! list-accounts.
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
// Plugin fields declared `input: false` (admin, anonymous): Better Auth refuses them with FIELD_NOT_ALLOWED.
// Core fields that are not updatable (emailVerified, id, createdAt, updatedAt) are ignored, as Better Auth does.
constexpr std::string_view kServerOnlyUserFields[] = {"role", "banned", "banReason", "banExpires", "isAnonymous"};

}  // namespace

asio::awaitable<Response> AuthService::UpdateUser(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req, BodyShape::kRecord);
  if (!body) co_return ErrorResponse(req, body.error());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  auto& cur = authed->cur;
  if (body->contains("email")) co_return ErrorResponse(req, ErrorCode::kEmailCanNotBeUpdated);
  for (const auto field : kServerOnlyUserFields) {
    if (body->contains(field))
      co_return ErrorResponse(req, ErrorCode::kFieldNotAllowed, std::string(field) + " is not allowed to be set");
  }
  BodyReader in(*body);
  const auto name = in.OptionalString("name");
  std::optional<std::optional<std::string_view>> image;
  if (const auto* v = body->if_contains("image")) {
    if (v->is_null()) image = std::optional<std::string_view>();
    else image = in.OptionalString("image");
  }
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if (!name && !image) co_return ErrorResponse(req, ErrorCode::kNoFieldsToUpdate);
  auto user = co_await UpdateUserProfile(*db, cur.user.id, name, image, NowMs());
  if (!user) co_return ErrorResponse(req, user.error());
  // Decision D1: {"user": …} rather than Better Auth's {"status": true}, which the Supabase-style adapter
  // of the official SDK reads as a failure; Better Auth's own client and the UI ignore the body.
  Response res = Json(req, "{\"user\":" + UserJson(*user) + "}");
  SetSessionCookies(res, cur.session.token, cur.dont_remember);
  co_return res;
}

asio::awaitable<Response> AuthService::ChangePassword(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto new_password = in.RequiredString("newPassword");
  const auto current_password = in.RequiredString("currentPassword");
  const auto revoke = in.OptionalBool("revokeOtherSessions");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  CurrentSession cur;
  {
    auto authed = co_await RequireSession(req);
    if (!authed) co_return ErrorResponse(req, authed.error());
    cur = std::move(authed->cur);
  }
  if (auto ok = CheckPasswordLength(new_password); !ok) co_return ErrorResponse(req, ok.error());
  std::optional<std::string> stored;
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto r = co_await FindPasswordHash(**db, cur.user.id);
    if (!r) co_return ErrorResponse(req, r.error());
    stored = std::move(*r);
  }
  if (!stored) co_return ErrorResponse(req, ErrorCode::kCredentialAccountNotFound);
  const std::string current(current_password.substr(0, static_cast<size_t>(cfg_.max_password_length) * 4));
  const std::string next(new_password);
  if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");
  // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
  auto cpu_task = [current, next, stored, mode = cfg_.password_hash]() -> std::optional<std::string> {
    if (!crypto::VerifyPassword(current, *stored)) return std::nullopt;
    return crypto::HashPassword(next, mode);
  };
  const auto new_hash = co_await OnCpu(std::move(cpu_task));
  if (!new_hash) co_return ErrorResponse(req, ErrorCode::kInvalidPassword);
  const EpochMs now = NowMs();
  const NewSession ns{NewSessionToken(), now + cfg_.session_expires_in_s * 1000, ClientIp(req),
                      std::string(req.Header(http::bhttp::field::user_agent))};
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto rotated = co_await ChangePasswordAndRotate(**db, cur.user.id, *new_hash, revoke.value_or(false), ns, now);
  if (!rotated) co_return ErrorResponse(req, rotated.error());
  log::Info("auth.password_changed", {{"user_id", cur.user.id}, {"revoked_sessions", revoke.value_or(false) ? "true" : "false"}});
  std::string out = "{\"token\":";
  out += *rotated ? JsonString((*rotated)->token) : "null";
  out += ",\"user\":" + UserJson(cur.user) + "}";
  Response res = Json(req, std::move(out));
  if (*rotated) SetSessionCookies(res, (*rotated)->token, false);
  co_return res;
}

asio::awaitable<Response> AuthService::VerifyPassword(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto password = in.RequiredString("password");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  CurrentSession cur;
  std::optional<std::string> stored;
  {
    auto authed = co_await RequireSession(req);
    if (!authed) co_return ErrorResponse(req, authed.error());
    cur = std::move(authed->cur);
    auto r = co_await FindPasswordHash(*authed->db, cur.user.id);
    if (!r) co_return ErrorResponse(req, r.error());
    stored = std::move(*r);
  }  // the connection is not held while hashing
  const std::string pw(password.substr(0, static_cast<size_t>(cfg_.max_password_length) * 4));
  if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");
  // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
  auto cpu_task = [pw, stored, mode = cfg_.password_hash] { return CheckPassword(pw, stored, mode); };
  const bool ok = co_await OnCpu(std::move(cpu_task));
  if (!ok) co_return ErrorResponse(req, ErrorCode::kInvalidPassword);
  co_return Json(req, "{\"status\":true}");
}

asio::awaitable<Response> AuthService::DeleteUser(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto password = in.OptionalString("password");
  const auto token = in.OptionalString("token");
  const auto callback = in.OptionalUrl("callbackURL");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  CurrentSession cur;
  std::optional<std::string> stored;
  {
    auto authed = co_await RequireSession(req);
    if (!authed) co_return ErrorResponse(req, authed.error());
    cur = std::move(authed->cur);
    auto r = co_await FindPasswordHash(*authed->db, cur.user.id);
    if (!r) co_return ErrorResponse(req, r.error());
    stored = std::move(*r);
  }  // the connection is not held while hashing
  const EpochMs now = NowMs();
  if (password) {
    const std::string pw(password->substr(0, static_cast<size_t>(cfg_.max_password_length) * 4));
    if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");
    // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
    auto cpu_task = [pw, stored, mode = cfg_.password_hash] { return CheckPassword(pw, stored, mode); };
    const bool ok = co_await OnCpu(std::move(cpu_task));
    if (!ok) co_return ErrorResponse(req, ErrorCode::kInvalidPassword);
  }
  if (token && !token->empty()) {
    // The mailed token given back in the body (Better Auth): the same check as the callback.
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto used = co_await ConsumeVerification(**db, "delete-account-" + std::string(*token), now,
                                             std::string_view(cur.user.id));
    if (!used) co_return ErrorResponse(req, used.error());
    if (!*used) co_return ErrorResponse(req, ErrorCode::kInvalidTokenNotFound);
  } else if (cfg_.delete_user_verification) {
    // Deletion waits for the owner of the address to confirm by mail.
    const std::string secret = crypto::RandomString(32, "abcdefghijklmnopqrstuvwxyz0123456789");
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto saved = co_await InsertVerification(**db, "delete-account-" + secret, cur.user.id,
                                             now + cfg_.delete_user_token_ttl_s * 1000, now);
    if (!saved) co_return ErrorResponse(req, saved.error());
    mail::TemplateVars vars;
    vars.url = AuthUrl("/delete-user/callback") + "?token=" + secret + "&callbackURL=" +
               crypto::UriComponentEncode(callback ? ResolveAppUrl(req, *callback) : std::string("/"));
    vars.expires_minutes = static_cast<int>((cfg_.delete_user_token_ttl_s + 59) / 60);
    SendMail(mail::Template::kDeleteAccount, cur.user.email, std::move(vars));
    log::Info("auth.delete_requested", {{"user_id", cur.user.id}});
    co_return Json(req, "{\"success\":true,\"message\":\"Verification email sent\"}");
  } else if (!password && !IsFresh(cur.session, now)) {
    // Without the password, only a recent sign-in may delete the account (SE-06).
    co_return ErrorResponse(req, ErrorCode::kSessionNotFresh);
  }
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto del = co_await auth::DeleteUser(**db, cur.user.id);
  if (!del) co_return ErrorResponse(req, del.error());
  log::Info("auth.user_deleted", {{"user_id", cur.user.id}});
  Response res = Json(req, "{\"success\":true,\"message\":\"User deleted\"}");
  ExpireSessionCookies(res);
  co_return res;
}

asio::awaitable<Response> AuthService::DeleteUserCallback(Request& req) {
  auto callback = QueryRedirect(req, "callbackURL", ErrorCode::kInvalidCallbackUrl);
  if (!callback) co_return ErrorResponse(req, callback.error());
  if (QueryRepeated(req.query, "token"))
    co_return ErrorResponse(req, ErrorCode::kValidationError,
                            "[query.token] Invalid input: expected string, received array");
  const auto token = req.Query("token");
  if (!token) co_return ErrorResponse(req, ErrorCode::kValidationError,
                                      "[query.token] Invalid input: expected string, received undefined");
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  CurrentSession cur;
  auto lookup = co_await FindSession(req, **db, cur);
  if (!lookup) co_return ErrorResponse(req, lookup.error());
  // The link only works in a browser signed in as the account's owner (Better Auth).
  if (*lookup != Lookup::kFound) co_return ErrorResponse(req, ErrorCode::kFailedToGetUserInfo);
  auto used = co_await ConsumeVerification(**db, "delete-account-" + *token, NowMs(), std::string_view(cur.user.id));
  if (!used) co_return ErrorResponse(req, used.error());
  if (!*used) co_return ErrorResponse(req, ErrorCode::kInvalidTokenNotFound);
  auto del = co_await auth::DeleteUser(**db, cur.user.id);
  if (!del) co_return ErrorResponse(req, del.error());
  log::Info("auth.user_deleted", {{"user_id", cur.user.id}});
  Response res = callback->empty() ? Json(req, "{\"success\":true,\"message\":\"User deleted\"}")
                                   : Redirect(req, AbsoluteUrl(*callback));
  ExpireSessionCookies(res);
  co_return res;
}

asio::awaitable<Response> AuthService::ListAccounts(Request& req) {
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  auto& cur = authed->cur;
  auto accounts = co_await auth::ListAccounts(*db, cur.user.id);
  if (!accounts) co_return ErrorResponse(req, accounts.error());
  std::string out = "[";
  for (size_t i = 0; i < accounts->size(); ++i) {
    const auto& a = (*accounts)[i];
    if (i) out += ',';
    out += "{\"accountId\":" + JsonString(a.account_id) + ",\"providerId\":" + JsonString(a.provider_id) +
           ",\"userId\":" + JsonString(a.user_id) + ",\"createdAt\":\"" + FormatIso8601Ms(a.created_at) +
           "\",\"updatedAt\":\"" + FormatIso8601Ms(a.updated_at) + "\",\"id\":" + JsonString(a.id) + ",\"scopes\":[";
    if (a.scope && !a.scope->empty()) {
      bool first = true;
      for (auto sc : Split(*a.scope, ',')) {
        sc = Trim(sc);
        if (sc.empty()) continue;
        out += (first ? "" : ",") + JsonString(sc);
        first = false;
      }
    }
    out += "]}";
  }
  out += ']';
  co_return Json(req, std::move(out));
}

}  // namespace pgwarden::auth
