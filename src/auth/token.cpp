//! JWT endpoints: GET /token (the session's access JWT), GET /jwks and /.well-known/jwks.json (public keys),
//! GET /token/anonymous (Neon's anonymous-role JWT for allowAnonymous clients).
#include "auth/service.hpp"

namespace pgwarden::auth {

asio::awaitable<Response> AuthService::Token(Request& req) {
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  co_return Json(req, "{\"token\":" + JsonString(MintUserJwt(authed->cur.user, NowMs())) + "}");
}

asio::awaitable<Response> AuthService::Jwks(Request& req) {
  Response res = Json(req, keys_->JwksJson());
  // Public keys may be cached briefly (JW-01); rotation publishes new keys before their first use.
  res.set(http::bhttp::field::cache_control, "public, max-age=300");
  co_return res;
}

asio::awaitable<Response> AuthService::AnonymousToken(Request& req) {
  if (!cfg_.allow_anonymous) co_return ErrorResponse(req, ErrorCode::kAnonymousDisabled);
  // Decision D2: {iat, role:"anonymous", exp, iss, aud}, no sub, same key and issuer as user tokens.
  const long long iat = NowMs() / 1000;
  const long long exp = iat + cfg_.anonymous_ttl_s;
  std::string payload = "{\"iat\":" + std::to_string(iat) + ",\"role\":\"anonymous\",\"exp\":" + std::to_string(exp) +
                        ",\"iss\":" + JsonString(cfg_.jwt_issuer) + ",\"aud\":" + JsonString(cfg_.jwt_audience) + "}";
  co_return Json(req, "{\"token\":" + JsonString(keys_->Sign(payload)) + ",\"expires_at\":" + std::to_string(exp) + "}");
}

}  // namespace pgwarden::auth
