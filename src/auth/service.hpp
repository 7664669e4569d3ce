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
#include <vector>

#include "auth/key_ring.hpp"
#include "auth/stores.hpp"
#include "config/config.hpp"
#include "core/json.hpp"
#include "db/pool.hpp"
#include "http/cors.hpp"
#include "http/router.hpp"

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
  AuthService(config::AuthConfig cfg, std::shared_ptr<const KeyRing> keys,
              std::vector<std::unique_ptr<db::Pool>> pools);
  ~AuthService();

  //! Stops handing out connections (graceful shutdown, before the io threads' state is destroyed).
  void Shutdown() {
    for (auto& p : pools_) p->Close();
  }
  //! Registers every auth route under `prefix` (e.g. "/neondb/auth").
  void RegisterRoutes(http::Router& router, const std::string& prefix);
  const http::CorsPolicy& Cors() const { return cors_; }
  const config::AuthConfig& Config() const { return cfg_; }

  // ---- flows (one file each) ----
  asio::awaitable<Response> SignUpEmail(Request& req);           // sign_up.cpp
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

  // ---- shared by the flows ----
  //! Lease on this worker's pool, or a 503-kind error.
  asio::awaitable<Result<db::Lease>> Db(const Request& req);
  //! A lease plus the caller's live session, for endpoints that need one (401 UNAUTHORIZED otherwise).
  struct Authenticated {
    db::Lease db;
    CurrentSession cur;
  };
  asio::awaitable<Result<Authenticated>> RequireSession(const Request& req);
  //! Verifies `password` against `stored` (or burns the same work when there is none). CPU pool only.
  static bool CheckPassword(const std::string& password, const std::optional<std::string>& stored);

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
