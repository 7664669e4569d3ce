//! The auth service: Better Auth's REST API under /<db>/auth, over neon_auth.* in the user's Postgres.
//! One AuthService serves every io thread; per-thread state (the connection pools) is indexed by the
//! request's worker. Each flow lives in its own file (sign_up.cpp, sign_in.cpp, session.cpp, token.cpp,
//! user.cpp); this header holds what they share: body parsing, session resolution, cookies, responses.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "auth/key_ring.hpp"
#include "auth/mailer.hpp"
#include "auth/oauth/runtime.hpp"
#include "auth/oauth/state.hpp"
#include "auth/stores.hpp"
#include "config/config.hpp"
#include "core/json.hpp"
#include "db/pool.hpp"
#include "http/cors.hpp"
#include "http/router.hpp"
#include "ratelimit/limiter.hpp"

namespace pgwarden::auth {

using http::Request;
using http::Response;
namespace asio = boost::asio;

//! The session a request carries (cookie or Bearer), as found in the database.
struct CurrentSession {
  SessionRow session;
  UserRow user;
  bool from_cookie = false;
  bool dont_remember = false;
};

//! Which zod schema Better Auth declares for an endpoint's body: it decides the wording of the error for a
//! missing or non-object body ("expected object" / "expected record" / both).
enum class BodyShape { kObject, kRecord, kObjectAndRecord };

enum class Lookup { kNone, kInvalid, kFound };  // kInvalid: a well-signed token with no live session

class AuthService {
 public:
  //! `mailer` may be null: flows that send mail then answer as usual and the message is dropped (logged).
  AuthService(config::AuthConfig cfg, std::shared_ptr<const KeyRing> keys,
              std::vector<std::unique_ptr<db::Pool>> pools, std::shared_ptr<Mailer> mailer = nullptr,
              std::shared_ptr<oauth::Runtime> oauth = nullptr);
  ~AuthService();

  //! Stops handing out connections (graceful shutdown, before the io threads' state is destroyed).
  void Shutdown() {
    for (auto& p : pools_) p->Close();
    // Hashes still queued belong to requests the drain deadline cut off: they are dropped now, while the io
    // contexts their coroutines live on still exist, instead of being computed one by one before exit (D39).
    if (!cpu_) return;
    cpu_->stop();
    cpu_->join();
    cpu_.reset();
  }
  //! Registers every auth route under `prefix` (e.g. "/neondb/auth").
  void RegisterRoutes(http::Router& router, const std::string& prefix);
  //! Sends the queued mail until `deadline` (graceful shutdown).
  void StopMail(std::chrono::milliseconds deadline) {
    if (mailer_) mailer_->Stop(deadline);
  }
  const http::CorsPolicy& Cors() const { return cors_; }
  const config::AuthConfig& Config() const { return cfg_; }
  //! Request limits (null: off). Used by sign-in (per-account back-off) and the mail flows (one mail per
  //! recipient and kind per interval).
  void SetLimiter(ratelimit::Limiter* limiter) { limiter_ = limiter; }
  //! Passwords refused for new passwords (sign-up, change, reset); null: none.
  void SetPasswordDenylist(std::shared_ptr<const std::unordered_set<std::string>> list) { denylist_ = std::move(list); }
  //! The per-recipient mail cap (RL-02): true when `to` may get a `t` message now (one per
  //! PGWARDEN_RATE_LIMIT_MAIL_INTERVAL and kind); always true without limits. Counts the mail when true.
  asio::awaitable<bool> MailAllowed(int worker, mail::Template t, std::string_view to);
  //! The client address for security events (RF-08): the TCP peer, or the X-Forwarded-For client when the peer
  //! is a trusted proxy (PGWARDEN_TRUSTED_PROXIES).
  std::string SecurityLogIp(const Request& req) const {
    return limiter_ ? limiter_->Client(req.remote_ip, req.Header("x-forwarded-for")) : req.remote_ip;
  }
  //! 429 with Better Auth's message, X-Retry-After and Retry-After.
  Response TooManyRequests(const Request& req, int retry_after_s) const;

  // ---- flows (one file each) ----
  asio::awaitable<Response> SignUpEmail(Request& req);           // sign_up.cpp
  //! The answer to a sign-up with a taken address when verification is required (EN-03).
  Response DuplicateSignUp(const Request& req, std::string_view name, std::string_view email,
                           std::optional<std::string_view> image) const;
  asio::awaitable<Response> SignInEmail(Request& req);           // sign_in.cpp
  asio::awaitable<Response> GetSession(Request& req);            // session.cpp
  asio::awaitable<Response> SignOut(Request& req);
  asio::awaitable<Response> ListSessions(Request& req);
  asio::awaitable<Response> RevokeSession(Request& req);
  asio::awaitable<Response> RevokeSessions(Request& req);
  asio::awaitable<Response> RevokeOtherSessions(Request& req);
  asio::awaitable<Response> UpdateSession(Request& req);
  asio::awaitable<Response> Token(Request& req);                 // token.cpp
  asio::awaitable<Response> Jwks(Request& req);
  asio::awaitable<Response> AnonymousToken(Request& req);
  asio::awaitable<Response> UpdateUser(Request& req);            // user.cpp
  asio::awaitable<Response> ChangePassword(Request& req);
  asio::awaitable<Response> VerifyPassword(Request& req);
  asio::awaitable<Response> DeleteUser(Request& req);
  asio::awaitable<Response> ListAccounts(Request& req);
  asio::awaitable<Response> DeleteUserCallback(Request& req);
  asio::awaitable<Response> SendVerificationEmail(Request& req);  // email_verification.cpp
  asio::awaitable<Response> VerifyEmail(Request& req);
  asio::awaitable<Response> ChangeEmail(Request& req);
  asio::awaitable<Response> RequestPasswordReset(Request& req);   // password_reset.cpp
  asio::awaitable<Response> ResetPasswordCallback(Request& req);
  asio::awaitable<Response> ResetPassword(Request& req);
  asio::awaitable<Response> SendVerificationOtp(Request& req);    // email_otp.cpp
  asio::awaitable<Response> CheckVerificationOtp(Request& req);
  asio::awaitable<Response> VerifyEmailOtp(Request& req);
  asio::awaitable<Response> SignInEmailOtp(Request& req);
  asio::awaitable<Response> RequestPasswordResetOtp(Request& req);  // also /forget-password/email-otp
  asio::awaitable<Response> ResetPasswordOtp(Request& req);
  asio::awaitable<Response> RequestEmailChangeOtp(Request& req);
  asio::awaitable<Response> ChangeEmailOtp(Request& req);
  asio::awaitable<Response> SignInMagicLink(Request& req);        // magic_link.cpp
  asio::awaitable<Response> VerifyMagicLink(Request& req);
  asio::awaitable<Response> SignInSocial(Request& req);           // oauth/flows.cpp
  asio::awaitable<Response> LinkSocial(Request& req);
  asio::awaitable<Response> OAuthCallback(Request& req);
  asio::awaitable<Response> UnlinkAccount(Request& req);
  asio::awaitable<Response> AccountInfo(Request& req);
  asio::awaitable<Response> GetAccessToken(Request& req);
  asio::awaitable<Response> RefreshToken(Request& req);

  // ---- shared by the flows ----
  //! Lease on this worker's pool, or a 503-kind error.
  asio::awaitable<Result<db::Lease>> Db(const Request& req) { return DbFor(req.worker); }
  //! The same for work that outlives its request (it runs on that request's io thread).
  asio::awaitable<Result<db::Lease>> DbFor(int worker);

  // ---- shared by the e-mail flows (email_verification.cpp) ----
  //! Renders and queues a message (see Mailer); no-op with a warning when no mailer is configured.
  void SendMail(mail::Template t, std::string to, mail::TemplateVars vars) const;
  //! Absolute URL of an auth endpoint, from the configured base URL (never from Host headers: CS-06).
  std::string AuthUrl(std::string_view path) const { return cfg_.base_url + prefix_ + std::string(path); }
  //! A relative callback URL made absolute against the request's Origin when that is a trusted origin (the
  //! app that asked: sdk-contract §4.5), so a mailed link returns to the app; anything else unchanged.
  std::string ResolveAppUrl(const Request& req, std::string_view url) const;
  //! A relative URL made absolute against the base URL's origin (Better Auth's `new URL(url, baseURL)`).
  std::string AbsoluteUrl(std::string_view url) const;
  //! `url` with `key=value` (value URI-encoded) added to its query, before any fragment.
  static std::string AppendQueryParam(std::string_view url, std::string_view key, std::string_view value);
  //! 302 to `location`.
  Response Redirect(const Request& req, const std::string& location) const;
  //! The callbackURL-style query parameter, validated (relative or trusted) and unescaped; "" when absent.
  //! A duplicated parameter or an untrusted value is an error (CS-04).
  Result<std::string> QueryRedirect(const Request& req, std::string_view name, ErrorCode invalid) const;
  //! A new session for a user proven by a link or code (default lifetime).
  asio::awaitable<Result<SessionRow>> CreateSessionFor(const Request& req, db::Connection& c, std::string_view user_id);
  //! `url` with a fresh single-use `neon_auth_session_verifier` for `session` appended: the app exchanges it
  //! on GET /get-session for its own session cookie (sdk-contract §4, §4.5).
  //! `challenge_hash` (HashIdentifier of the challenge cookie's value) binds it to that browser; empty = unbound.
  asio::awaitable<Result<std::string>> WithSessionVerifier(db::Connection& c, std::string url,
                                                           const SessionRow& session,
                                                           std::string_view challenge_hash = {});
  //! The e-mail verification token: Better Auth's HS256 JWT {email, updateTo?, requestType?, iat, exp}.
  std::string MintEmailToken(std::string_view email, std::optional<std::string_view> update_to,
                             std::optional<std::string_view> request_type, EpochMs now) const;
  struct EmailToken {
    std::string email;
    std::optional<std::string> update_to;
    std::optional<std::string> request_type;
  };
  //! Strict check (TK-05): HS256 only, signature, exp; kInvalidToken or kTokenExpired.
  Result<EmailToken> VerifyEmailToken(std::string_view token, EpochMs now) const;
  //! The values of a verification-link mail for `email` (`callback` already resolved).
  mail::TemplateVars VerificationLinkVars(std::string_view email, std::optional<std::string_view> update_to,
                                          std::optional<std::string_view> request_type,
                                          std::string_view callback) const;
  //! Mails a verification link for `email` to `to`.
  void SendVerificationLink(mail::Template t, std::string to, std::string_view email,
                            std::optional<std::string_view> update_to, std::optional<std::string_view> request_type,
                            std::string_view callback) const {
    SendMail(t, std::move(to), VerificationLinkVars(email, update_to, request_type, callback));
  }
  // ---- shared by the OAuth flows (oauth/flows.cpp) ----
  std::string OAuthRedirectUri(std::string_view provider_id) const;
  //! 302 to `error_url` (or <auth>/error) with ?error=<code>[&error_description=] (Better Auth's redirectOnError).
  Response OAuthErrorRedirect(const Request& req, const std::string& error_url, std::string_view code,
                              std::string_view description = {}) const;
  asio::awaitable<Response> StartSocial(Request& req, bool link);
  struct OAuthSignIn {
    UserRow user;
    SessionRow session;
    bool created = false;
  };
  //! The account for a provider identity: known identity, or a link to a local user when both sides vouch
  //! for the address (OA-05), or a new user. Errors carry Better Auth's error text in the message.
  asio::awaitable<Result<OAuthSignIn>> SignInIdentity(const Request& req, db::Connection& c, const oauth::Provider& p,
                                                      const oauth::Identity& id, const oauth::Tokens& tokens,
                                                      bool request_sign_up);
  //! Joins a provider identity to the signed-in user (link-social); "" on success, else the error code.
  asio::awaitable<std::string> LinkIdentity(db::Connection& c, const oauth::Provider& p, const oauth::Identity& id,
                                            const oauth::Tokens& tokens, const oauth::LinkTarget& target);
  struct AccountAccess {
    ProviderAccount account;
    std::string access_token;   //!< unsealed
    std::string refresh_token;  //!< unsealed
  };
  //! The caller's account (by providerId and/or accountId, from the body or the query), its tokens refreshed
  //! when expired, or always with `refresh_now` (refresh-token). `by_account`: account-info's selection
  //! (accountId first, provider from the account).
  asio::awaitable<Result<AccountAccess>> AccessFor(const Request& req, bool refresh_now, bool by_account = false);

  //! Which accounts a deferred mail goes to.
  enum class MailIf { kAccountExists, kNoAccount, kUnverifiedAccount };
  //! Mails `to` after the response, once the account of `lookup` is found to match `condition`: the answer and
  //! its timing are the same for every address (EN-02). Runs on io thread `worker`.
  void MailAfterLookup(int worker, std::string lookup, MailIf condition, mail::Template t, std::string to,
                       mail::TemplateVars vars);
  //! A lease plus the caller's live session, for endpoints that need one (401 UNAUTHORIZED otherwise).
  struct Authenticated {
    db::Lease db;
    CurrentSession cur;
  };
  asio::awaitable<Result<Authenticated>> RequireSession(const Request& req);
  //! Verifies `password` against `stored`, either format (or burns the work of one `mode` hash when there is none).
  //! CPU pool only.
  static bool CheckPassword(const std::string& password, const std::optional<std::string>& stored,
                            crypto::PasswordHashMode mode);

  //! Resolves the session from the cookie or Authorization: Bearer. Expired sessions are deleted.
  asio::awaitable<Result<Lookup>> FindSession(const Request& req, db::Connection& conn, CurrentSession& out);
  //! Runs `fn` on the password-hashing pool; the caller resumes on its own io thread.
  template <class F>
  asio::awaitable<std::invoke_result_t<F>> OnCpu(F fn);
  //! False when the hashing queue is full: the caller answers 503 instead of queueing without bound.
  bool CpuAvailable() const { return cpu_pending_->load(std::memory_order_relaxed) < cpu_queue_limit_; }

  //! JSON body as an object; Better Auth's errors for missing / malformed / unsupported bodies. Form bodies
  //! only where `allow_form` (sign-in and sign-up, which then get the login CSRF checks): a cross-site form
  //! can never reach another state-changing endpoint (CS-02).
  Result<json::object> ParseBody(const Request& req, BodyShape shape = BodyShape::kObject,
                                 bool allow_form = false) const;
  //! CSRF: the Origin rules of Better Auth (oracle §8); `login` adds the sign-in/sign-up checks.
  Result<void> CheckOrigin(const Request& req, bool login) const;
  //! The configured length rules (UTF-16 units, as Better Auth): kPasswordTooShort / kPasswordTooLong.
  //! A new password: length (PW-01) and, when configured, not on the deny list (PW-03).
  Result<void> CheckPasswordLength(std::string_view password) const;
  //! Relative paths and trusted origins only.
  bool IsAllowedRedirect(std::string_view url) const;

  //! Authenticated within freshAge (by the session's creation: re-authentication, not mere use).
  bool IsFresh(const SessionRow& s, EpochMs now) const {
    return cfg_.session_fresh_age_s == 0 || now - s.created_at <= cfg_.session_fresh_age_s * 1000;
  }
  std::string NewSessionToken() const;
  std::string ClientIp(const Request& req) const;
  std::string SessionCookieName() const;
  std::string CookieName(std::string_view suffix) const;
  //! Adds the session cookie, set-auth-token and the expose header.
  void SetSessionCookies(Response& res, std::string_view token, bool dont_remember) const;
  //! The three expiring cookies of sign-out / invalid sessions.
  void ExpireSessionCookies(Response& res) const;
  //! A Set-Cookie that expires the cookie `name` (its full name), with the attributes cookies are set with.
  void ExpireCookie(Response& res, std::string_view name) const;
  //! Access JWT for a user: {iat, email, role:"authenticated", sub, exp, iss, aud}.
  std::string MintUserJwt(const UserRow& user, EpochMs now) const;

  Response Json(const Request& req, std::string body, int status = 200) const;
  Response ErrorResponse(const Request& req, const Error& e) const;
  Response ErrorResponse(const Request& req, ErrorCode code, std::string message = {}) const {
    return ErrorResponse(req, MakeError(code, std::move(message)));
  }

 private:
  config::AuthConfig cfg_;
  std::shared_ptr<const KeyRing> keys_;
  std::vector<std::unique_ptr<db::Pool>> pools_;
  std::unique_ptr<asio::thread_pool> cpu_;
  std::shared_ptr<std::atomic<int>> cpu_pending_ = std::make_shared<std::atomic<int>>(0);
  int cpu_queue_limit_ = 256;
  http::OriginMatcher origins_;
  http::CorsPolicy cors_;
  std::shared_ptr<Mailer> mailer_;
  std::shared_ptr<oauth::Runtime> oauth_;
  ratelimit::Limiter* limiter_ = nullptr;
  std::shared_ptr<const std::unordered_set<std::string>> denylist_;
  std::string prefix_;  // "/<db>/auth", set by RegisterRoutes
};

// Not a coroutine on purpose: g++ 12 destroys a class-type prvalue passed by value to a coroutine twice
// (a lambda capturing a std::string crashed here). The task hops to the CPU pool and its result is posted
// back to the awaiting coroutine's own executor.
template <class F>
asio::awaitable<std::invoke_result_t<F>> AuthService::OnCpu(F fn) {
  using R = std::invoke_result_t<F>;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [pool = cpu_.get(), pending = cpu_pending_](auto handler, F task) {
        auto home = asio::get_associated_executor(handler);
        pending->fetch_add(1, std::memory_order_relaxed);
        asio::post(*pool, [handler = std::move(handler), task = std::move(task), home, pending]() mutable {
          R result = task();
          pending->fetch_sub(1, std::memory_order_relaxed);
          asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      asio::use_awaitable, std::move(fn));
}

}  // namespace pgwarden::auth
