//! Session endpoints: get-session (sliding refresh, set-auth-jwt), sign-out, list-sessions, revoke-session,
//! revoke-sessions, revoke-other-sessions, update-session.
#include "auth/body.hpp"
#include "auth/service.hpp"
#include "auth/verification.hpp"
#include "core/log.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "http/cookies.hpp"

namespace pgwarden::auth {

asio::awaitable<Response> AuthService::GetSession(Request& req) {
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  CurrentSession cur;
  // The hand-off of sdk-contract §4 / §4.5: a verifier from a redirect (OAuth, magic link, verify-email) is
  // exchanged, once, for its session's cookie in the app's own context.
  if (QueryRepeated(req.query, "neon_auth_session_verifier")) co_return ErrorResponse(req, ErrorCode::kInvalidToken);
  if (auto verifier = req.Query("neon_auth_session_verifier"); verifier && !verifier->empty()) {
    auto found = co_await ConsumeSessionVerifier(**db, *verifier, NowMs());
    if (!found) co_return ErrorResponse(req, found.error());
    if (!*found) co_return ErrorResponse(req, ErrorCode::kInvalidToken);
    const std::string challenge_cookie = CookieName("session_challenge");
    if (!(*found)->challenge_hash.empty()) {
      // Bound to the browser that started the flow: its challenge cookie must come back with the verifier.
      auto raw = req.Cookie(challenge_cookie);
      if (!raw) raw = req.Cookie(CookieName("session_challange"));  // the SDK's legacy spelling
      std::optional<std::string> challenge;
      if (raw) {
        if (auto decoded = crypto::UriComponentDecode(*raw)) challenge = crypto::VerifySignedCookieValue(cfg_.secret, *decoded);
      }
      if (!challenge || !crypto::ConstantTimeEquals(HashIdentifier(*challenge), (*found)->challenge_hash))
        co_return ErrorResponse(req, ErrorCode::kInvalidToken);
    }
    const EpochMs now = NowMs();
    if ((*found)->session.user.IsBanned(now)) co_return ErrorResponse(req, ErrorCode::kInvalidToken);
    const auto& sw = (*found)->session;
    Response res = Json(req, "{\"session\":" + SessionJson(sw.session) + ",\"user\":" + UserJson(sw.user) + "}");
    SetSessionCookies(res, sw.session.token, false);
    if (req.Cookie(challenge_cookie)) ExpireCookie(res, challenge_cookie);
    res.set("set-auth-jwt", MintUserJwt(sw.user, now));
    res.set(http::bhttp::field::access_control_expose_headers, "set-auth-jwt, set-auth-token");
    log::Info("auth.session_handoff", {{"user_id", sw.user.id}});
    co_return res;
  }
  auto lookup = co_await FindSession(req, **db, cur);
  if (!lookup) co_return ErrorResponse(req, lookup.error());
  if (*lookup == Lookup::kNone) co_return Json(req, "null");
  if (*lookup == Lookup::kInvalid) {
    Response res = Json(req, "null");
    ExpireSessionCookies(res);
    co_return res;
  }
  const EpochMs now = NowMs();
  bool refreshed = false;
  const bool disable_refresh = req.Query("disableRefresh") == std::optional<std::string>("true");
  // Sliding expiry: once updateAge has passed since the last extension, push expiresAt to now + expiresIn,
  // never beyond the absolute maximum (SE-05).
  // A rememberMe:false session (dont_remember cookie) is never extended: it ends with the browser session
  // or after its one day, as in Better Auth.
  if (!disable_refresh && !cur.dont_remember &&
      cur.session.expires_at - cfg_.session_expires_in_s * 1000 + cfg_.session_update_age_s * 1000 <= now) {
    EpochMs expires = now + cfg_.session_expires_in_s * 1000;
    if (cfg_.session_absolute_max_s > 0)
      expires = std::min(expires, cur.session.created_at + cfg_.session_absolute_max_s * 1000);
    if (expires > cur.session.expires_at) {
      auto ext = co_await ExtendSession(**db, cur.session.id, expires, now);
      if (!ext) co_return ErrorResponse(req, ext.error());
      cur.session = std::move(*ext);
      refreshed = true;
    }
  }
  std::string body = "{\"session\":" + SessionJson(cur.session) + ",\"user\":" + UserJson(cur.user) + "}";
  Response res = Json(req, std::move(body));
  if (refreshed) SetSessionCookies(res, cur.session.token, cur.dont_remember);
  res.set("set-auth-jwt", MintUserJwt(cur.user, now));
  res.set(http::bhttp::field::access_control_expose_headers, refreshed ? "set-auth-jwt, set-auth-token" : "set-auth-jwt");
  co_return res;
}

asio::awaitable<Response> AuthService::SignOut(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  // The token alone is enough to end its session; an unknown or already-ended one is not an error.
  std::optional<std::string> token;
  if (auto raw = req.Cookie(SessionCookieName())) {
    if (auto decoded = crypto::UriComponentDecode(*raw)) token = crypto::VerifySignedCookieValue(cfg_.secret, *decoded);
  }
  if (!token) {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    CurrentSession cur;
    auto lookup = co_await FindSession(req, **db, cur);
    if (!lookup) co_return ErrorResponse(req, lookup.error());
    if (*lookup == Lookup::kFound) token = cur.session.token;
  }
  if (token) {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto del = co_await DeleteSessionByToken(**db, *token);
    if (!del) co_return ErrorResponse(req, del.error());
  }
  Response res = Json(req, "{\"success\":true}");
  ExpireSessionCookies(res);
  co_return res;
}

asio::awaitable<Response> AuthService::ListSessions(Request& req) {
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  auto& cur = authed->cur;
  // Other sessions' tokens are sensitive: only a recently authenticated session may list them (SE-06).
  if (!IsFresh(cur.session, NowMs())) co_return ErrorResponse(req, ErrorCode::kSessionNotFresh);
  auto list = co_await ListUserSessions(*db, cur.user.id, NowMs());
  if (!list) co_return ErrorResponse(req, list.error());
  std::string out = "[";
  for (size_t i = 0; i < list->size(); ++i) {
    if (i) out += ',';
    out += SessionJson((*list)[i]);
  }
  out += ']';
  co_return Json(req, std::move(out));
}

asio::awaitable<Response> AuthService::RevokeSession(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto token = in.RequiredString("token");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  auto& cur = authed->cur;
  // Scoped to the caller's own sessions: another user's token is left alone (SE-07), with the same answer.
  auto del = co_await DeleteUserSessionByToken(*db, cur.user.id, token);
  if (!del) co_return ErrorResponse(req, del.error());
  co_return Json(req, "{\"status\":true}");
}

asio::awaitable<Response> AuthService::RevokeSessions(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  auto& cur = authed->cur;
  auto del = co_await DeleteUserSessions(*db, cur.user.id, std::nullopt);
  if (!del) co_return ErrorResponse(req, del.error());
  co_return Json(req, "{\"status\":true}");
}

asio::awaitable<Response> AuthService::RevokeOtherSessions(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  auto& cur = authed->cur;
  auto del = co_await DeleteUserSessions(*db, cur.user.id, std::string_view(cur.session.token));
  if (!del) co_return ErrorResponse(req, del.error());
  co_return Json(req, "{\"status\":true}");
}

asio::awaitable<Response> AuthService::UpdateSession(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req, BodyShape::kRecord);
  if (!body) co_return ErrorResponse(req, body.error());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  // No additional session fields are configured (as in Neon): nothing a client may change.
  co_return ErrorResponse(req, ErrorCode::kNoFieldsToUpdate);
}

}  // namespace pgwarden::auth
