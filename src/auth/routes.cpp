//! The auth route table (Better Auth's paths, plus the toolkit aliases of sdk-contract §2.7).
#include "auth/service.hpp"

namespace pgwarden::auth {

void AuthService::RegisterRoutes(http::Router& r, const std::string& prefix) {
  using http::bhttp::verb;
  auto bind = [this](asio::awaitable<Response> (AuthService::*fn)(Request&)) {
    return [this, fn](Request& req) { return (this->*fn)(req); };
  };
  const auto p = [&](std::string_view path) { return prefix + std::string(path); };

  r.Add(verb::get, p("/ok"), [this](Request& req) -> asio::awaitable<Response> {
    co_return Json(req, "{\"ok\":true}");
  });
  // Production Better Auth redirects its error page to the site root with the error kept in the query.
  r.Add(verb::get, p("/error"), [](Request& req) -> asio::awaitable<Response> {
    Response res = http::MakeResponse(req, http::bhttp::status::found);
    std::string location = "/";
    if (!req.query.empty()) location += "?" + std::string(req.query);
    res.set(http::bhttp::field::location, location);
    co_return res;
  });

  r.Add(verb::post, p("/sign-up/email"), bind(&AuthService::SignUpEmail));
  r.Add(verb::post, p("/sign-in/email"), bind(&AuthService::SignInEmail));
  r.Add(verb::get, p("/get-session"), bind(&AuthService::GetSession));
  r.Add(verb::post, p("/get-session"), [this](Request& req) -> asio::awaitable<Response> {
    co_return ErrorResponse(req, ErrorCode::kMethodNotAllowedDeferSessionRequired);
  });
  r.Add(verb::post, p("/sign-out"), bind(&AuthService::SignOut));
  r.Add(verb::get, p("/list-sessions"), bind(&AuthService::ListSessions));
  r.Add(verb::post, p("/revoke-session"), bind(&AuthService::RevokeSession));
  r.Add(verb::post, p("/revoke-sessions"), bind(&AuthService::RevokeSessions));
  r.Add(verb::post, p("/revoke-other-sessions"), bind(&AuthService::RevokeOtherSessions));
  r.Add(verb::post, p("/revoke-all-sessions"), bind(&AuthService::RevokeOtherSessions));  // toolkit alias
  r.Add(verb::post, p("/update-session"), bind(&AuthService::UpdateSession));
  r.Add(verb::get, p("/token"), bind(&AuthService::Token));
  r.Add(verb::get, p("/jwks"), bind(&AuthService::Jwks));
  r.Add(verb::get, p("/jwt"), bind(&AuthService::Jwks));  // toolkit alias
  r.Add(verb::get, p("/.well-known/jwks.json"), bind(&AuthService::Jwks));
  r.Add(verb::get, p("/token/anonymous"), bind(&AuthService::AnonymousToken));
  r.Add(verb::post, p("/update-user"), bind(&AuthService::UpdateUser));
  r.Add(verb::post, p("/change-password"), bind(&AuthService::ChangePassword));
  r.Add(verb::post, p("/verify-password"), bind(&AuthService::VerifyPassword));
  r.Add(verb::post, p("/delete-user"), bind(&AuthService::DeleteUser));
  r.Add(verb::get, p("/list-accounts"), bind(&AuthService::ListAccounts));
}

}  // namespace pgwarden::auth
