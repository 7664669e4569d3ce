//! The auth route table (Better Auth's paths, plus the toolkit aliases of sdk-contract §2.7).
#include <cctype>

#include "auth/error_page.hpp"
#include "auth/service.hpp"

namespace pgwarden::auth {

void AuthService::RegisterRoutes(http::Router& r, const std::string& prefix) {
  using http::bhttp::verb;
  auto bind = [this](asio::awaitable<Response> (AuthService::*fn)(Request&)) {
    return [this, fn](Request& req) { return (this->*fn)(req); };
  };
  const auto p = [&](std::string_view path) { return prefix + std::string(path); };
  prefix_ = prefix;

  r.Add(verb::get, p("/ok"), [this](Request& req) -> asio::awaitable<Response> {
    co_return Json(req, "{\"ok\":true}");
  });
  // Production Better Auth redirects its error page to the site root with the error kept in the query (D33);
  // the root shows it (RegisterErrorPage).
  r.Add(verb::get, p("/error"), [](Request& req) -> asio::awaitable<Response> {
    // Better Auth: the code is kept only when it is a plain token (else UNKNOWN), the description as given,
    // both re-encoded as a form query (URLSearchParams).
    const auto form = [](std::string_view v) {
      std::string out;
      for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
          out += ch;
        } else if (c == ' ') {
          out += '+';
        } else {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += '%';
          out += kHex[c >> 4];
          out += kHex[c & 15];
        }
      }
      return out;
    };
    const std::string code = SafeErrorCode(req.Query("error").value_or(""));
    std::string location = "/?error=" + form(code);
    if (const auto d = req.Query("error_description"); d && !d->empty()) location += "&error_description=" + form(*d);
    Response res = http::MakeResponse(req, http::bhttp::status::found);
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
  r.Add(verb::get, p("/delete-user/callback"), bind(&AuthService::DeleteUserCallback));

  // E-mail flows (issue 4).
  r.Add(verb::post, p("/send-verification-email"), bind(&AuthService::SendVerificationEmail));
  r.Add(verb::get, p("/verify-email"), bind(&AuthService::VerifyEmail));
  r.Add(verb::post, p("/verify-email"), bind(&AuthService::VerifyEmail));  // toolkit alias (sdk-contract §2.7)
  r.Add(verb::post, p("/change-email"), bind(&AuthService::ChangeEmail));
  r.Add(verb::post, p("/request-password-reset"), bind(&AuthService::RequestPasswordReset));
  r.Add(verb::get, p("/reset-password/:token"), bind(&AuthService::ResetPasswordCallback));
  r.Add(verb::post, p("/reset-password"), bind(&AuthService::ResetPassword));
  r.Add(verb::post, p("/email-otp/send-verification-otp"), bind(&AuthService::SendVerificationOtp));
  r.Add(verb::post, p("/email-otp/check-verification-otp"), bind(&AuthService::CheckVerificationOtp));
  r.Add(verb::post, p("/email-otp/verify-email"), bind(&AuthService::VerifyEmailOtp));
  r.Add(verb::post, p("/sign-in/email-otp"), bind(&AuthService::SignInEmailOtp));
  r.Add(verb::post, p("/forget-password/email-otp"), bind(&AuthService::RequestPasswordResetOtp));
  r.Add(verb::post, p("/email-otp/request-password-reset"), bind(&AuthService::RequestPasswordResetOtp));
  r.Add(verb::post, p("/email-otp/reset-password"), bind(&AuthService::ResetPasswordOtp));
  r.Add(verb::post, p("/email-otp/passcode"), bind(&AuthService::ResetPasswordOtp));  // toolkit alias (§2.7)
  r.Add(verb::post, p("/email-otp/request-email-change"), bind(&AuthService::RequestEmailChangeOtp));
  r.Add(verb::post, p("/email-otp/change-email"), bind(&AuthService::ChangeEmailOtp));
  r.Add(verb::post, p("/sign-in/magic-link"), bind(&AuthService::SignInMagicLink));
  r.Add(verb::get, p("/magic-link/verify"), bind(&AuthService::VerifyMagicLink));

  // OAuth (issue 5).
  r.Add(verb::post, p("/sign-in/social"), bind(&AuthService::SignInSocial));
  r.Add(verb::get, p("/callback/:provider"), bind(&AuthService::OAuthCallback));
  r.Add(verb::post, p("/callback/:provider"), bind(&AuthService::OAuthCallback));  // form_post -> 302 to GET
  r.Add(verb::post, p("/link-social"), bind(&AuthService::LinkSocial));
  r.Add(verb::post, p("/unlink-account"), bind(&AuthService::UnlinkAccount));
  r.Add(verb::get, p("/account-info"), bind(&AuthService::AccountInfo));
  r.Add(verb::post, p("/get-access-token"), bind(&AuthService::GetAccessToken));
  r.Add(verb::get, p("/get-access-token"), bind(&AuthService::GetAccessToken));  // toolkit alias (§2.7)
  r.Add(verb::post, p("/refresh-token"), bind(&AuthService::RefreshToken));
}

}  // namespace pgwarden::auth
