//! E-mail verification by link and change of address, plus the helpers every mail-sending flow shares.
//!   POST /send-verification-email {email, callbackURL?}  -> {status:true} (same answer for any address)
//!   GET  /verify-email?token&callbackURL                 -> verifies; auto sign-in; 302 or {status, user}
//!   POST /change-email {newEmail, callbackURL?}          -> confirmation to the old address first (TK-06)
//! The token is Better Auth's stateless HS256 JWT (compatible both ways), bound to the user's current address.
#include <boost/asio/co_spawn.hpp>

#include "auth/body.hpp"
#include "auth/service.hpp"
#include "auth/verification.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/jwt.hpp"

namespace pgwarden::auth {

// ---------------------------------------------------------------------------------------------------------
// Shared helpers

asio::awaitable<bool> AuthService::MailAllowed(int worker, mail::Template t, std::string_view to) {
  if (!limiter_ || limiter_->Config().mail_interval_s <= 0) co_return true;
  const std::string key = "mail|" + std::string(mail::TemplateName(t)) + "|" + AsciiLower(to);
  const ratelimit::Rule rule{limiter_->Config().mail_interval_s, 1};
  const ratelimit::Decision d = co_await limiter_->CheckKey(worker, key, rule);
  if (!d.allowed) log::Info("mail.recipient_capped", {{"template", mail::TemplateName(t)}});
  co_return d.allowed;
}

void AuthService::SendMail(mail::Template t, std::string to, mail::TemplateVars vars) const {
  if (!mailer_) {
    log::Warn("mail.not_configured", {{"template", std::string(mail::TemplateName(t))}});
    return;
  }
  mailer_->Send(t, std::move(to), std::move(vars));
}

std::string AuthService::ResolveAppUrl(const Request& req, std::string_view url) const {
  if (url.empty() || url.front() != '/' || (url.size() > 1 && url[1] == '/')) return std::string(url);
  const auto origin = Trim(req.Header(http::bhttp::field::origin));
  if (origin.empty() || origin == "null") return std::string(url);
  const auto parsed = config::OriginOf(origin);
  if (!parsed || *parsed != AsciiLower(origin) || !origins_.Matches(*parsed)) return std::string(url);
  return *parsed + std::string(url);
}

std::string AuthService::AbsoluteUrl(std::string_view url) const {
  if (!url.empty() && url.front() == '/' && (url.size() == 1 || url[1] != '/')) {
    const auto origin = config::OriginOf(cfg_.base_url);
    return origin.value_or(cfg_.base_url) + std::string(url);
  }
  return std::string(url);
}

std::string AuthService::AppendQueryParam(std::string_view url, std::string_view key, std::string_view value) {
  const auto hash = url.find('#');
  const std::string_view base = url.substr(0, hash);
  std::string out(base);
  out += base.find('?') == std::string_view::npos ? '?' : '&';
  out += key;
  out += '=';
  out += crypto::UriComponentEncode(value);
  if (hash != std::string_view::npos) out += url.substr(hash);
  return out;
}

Response AuthService::Redirect(const Request& req, const std::string& location) const {
  Response res = Json(req, "");
  res.result(http::bhttp::status::found);
  res.set(http::bhttp::field::location, location);
  // The page carries a one-time secret in its URL: no Referer to third parties (CS-07).
  res.set("referrer-policy", "no-referrer");
  return res;
}

Result<std::string> AuthService::QueryRedirect(const Request& req, std::string_view name, ErrorCode invalid) const {
  if (QueryRepeated(req.query, name))
    return MakeError(ErrorCode::kValidationError,
                     "[query." + std::string(name) + "] Invalid input: expected string, received array");
  const auto v = req.Query(name);
  if (!v || v->empty()) return std::string();
  if (!IsAllowedRedirect(*v)) return MakeError(invalid);
  return *v;
}

asio::awaitable<Result<SessionRow>> AuthService::CreateSessionFor(const Request& req, db::Connection& c,
                                                                  std::string_view user_id) {
  const EpochMs now = NowMs();
  const NewSession ns{NewSessionToken(), now + cfg_.session_expires_in_s * 1000, ClientIp(req),
                      std::string(req.Header(http::bhttp::field::user_agent))};
  co_return co_await InsertSession(c, user_id, ns, now);
}

asio::awaitable<Result<std::string>> AuthService::WithSessionVerifier(db::Connection& c, std::string url,
                                                                      const SessionRow& session,
                                                                      std::string_view challenge_hash) {
  auto verifier = co_await IssueSessionVerifier(c, session.id, challenge_hash, NowMs());
  if (!verifier) co_return verifier.error();
  co_return AppendQueryParam(url, "neon_auth_session_verifier", *verifier);
}

std::string AuthService::MintEmailToken(std::string_view email, std::optional<std::string_view> update_to,
                                        std::optional<std::string_view> request_type, EpochMs now) const {
  const long long iat = now / 1000;
  std::string payload = "{\"email\":";
  AppendJsonString(payload, AsciiLower(email));
  if (update_to) {
    payload += ",\"updateTo\":";
    AppendJsonString(payload, AsciiLower(*update_to));
  }
  if (request_type) {
    payload += ",\"requestType\":";
    AppendJsonString(payload, *request_type);
  }
  payload += ",\"iat\":" + std::to_string(iat) + ",\"exp\":" + std::to_string(iat + cfg_.email_verification_ttl_s) + "}";
  return crypto::SignHs256(cfg_.secret, "{\"alg\":\"HS256\"}", payload);
}

Result<AuthService::EmailToken> AuthService::VerifyEmailToken(std::string_view token, EpochMs now) const {
  const auto jws = crypto::DecodeJws(token);
  if (!jws) return MakeError(ErrorCode::kInvalidToken);
  boost::system::error_code ec;
  const json::value header = json::parse(jws->header_json, ec);
  // HS256 only (never "none", never an asymmetric algorithm keyed with the secret), no critical extensions.
  if (ec || !header.is_object()) return MakeError(ErrorCode::kInvalidToken);
  const auto* alg = header.as_object().if_contains("alg");
  if (!alg || !alg->is_string() || alg->as_string() != "HS256" || header.as_object().contains("crit"))
    return MakeError(ErrorCode::kInvalidToken);
  if (!crypto::VerifyHs256(cfg_.secret, jws->signing_input, jws->signature)) return MakeError(ErrorCode::kInvalidToken);
  const json::value payload = json::parse(jws->payload_json, ec);
  if (ec || !payload.is_object()) return MakeError(ErrorCode::kInvalidToken);
  const auto& p = payload.as_object();
  const auto* email = p.if_contains("email");
  const auto* exp = p.if_contains("exp");
  if (!email || !email->is_string() || !IsValidEmail(email->as_string())) return MakeError(ErrorCode::kInvalidToken);
  if (!exp || !exp->is_number()) return MakeError(ErrorCode::kInvalidToken);
  boost::system::error_code nec;
  const double exp_s = exp->to_number<double>(nec);
  if (nec) return MakeError(ErrorCode::kInvalidToken);
  if (exp_s * 1000 <= static_cast<double>(now)) return MakeError(ErrorCode::kTokenExpired);
  EmailToken out;
  out.email = AsciiLower(std::string_view(email->as_string()));
  for (const auto& [key, field] : {std::pair{"updateTo", &out.update_to}, std::pair{"requestType", &out.request_type}}) {
    if (const auto* v = p.if_contains(key)) {
      if (!v->is_string()) return MakeError(ErrorCode::kInvalidToken);
      *field = std::string(v->as_string());
    }
  }
  if (out.update_to) out.update_to = AsciiLower(*out.update_to);
  return out;
}

mail::TemplateVars AuthService::VerificationLinkVars(std::string_view email, std::optional<std::string_view> update_to,
                                                     std::optional<std::string_view> request_type,
                                                     std::string_view callback) const {
  const std::string token = MintEmailToken(email, update_to, request_type, NowMs());
  mail::TemplateVars vars;
  vars.email = std::string(email);
  if (update_to) vars.new_email = std::string(*update_to);
  vars.url = AuthUrl("/verify-email") + "?token=" + token +
             "&callbackURL=" + crypto::UriComponentEncode(callback.empty() ? std::string_view("/") : callback);
  vars.expires_minutes = static_cast<int>((cfg_.email_verification_ttl_s + 59) / 60);
  return vars;
}

namespace {
// What a deferred mail needs, by value (its frame outlives the request).
struct DeferredMail {
  int worker = 0;
  std::string lookup;
  AuthService::MailIf condition = AuthService::MailIf::kAccountExists;
  mail::Template tmpl = mail::Template::kVerifyEmail;
  std::string to;
  mail::TemplateVars vars;
};

void LogDeferredFailure(std::string_view what) { log::Warn("auth.deferred_mail_failed", {{"message", what}}); }

// A free coroutine, not a capturing lambda: a lambda's captures would die with the handler's frame.
asio::awaitable<void> MailAfterLookupTask(AuthService* self, DeferredMail j) {
  auto conn = co_await self->DbFor(j.worker);
  if (!conn) {
    LogDeferredFailure(conn.error().Message());
    co_return;
  }
  auto found = co_await FindUserByEmail(**conn, j.lookup);
  if (!found) {
    LogDeferredFailure(found.error().Message());
    co_return;
  }
  bool send = false;
  switch (j.condition) {
    case AuthService::MailIf::kAccountExists: send = found->has_value(); break;
    case AuthService::MailIf::kNoAccount: send = !found->has_value(); break;
    case AuthService::MailIf::kUnverifiedAccount: send = *found && !(*found)->user.email_verified; break;
  }
  if (send && co_await self->MailAllowed(j.worker, j.tmpl, j.to)) self->SendMail(j.tmpl, std::move(j.to), std::move(j.vars));
}

void OnDeferredDone(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    LogDeferredFailure(ex.what());
  }
}
}  // namespace

void AuthService::MailAfterLookup(int worker, std::string lookup, MailIf condition, mail::Template t, std::string to,
                                  mail::TemplateVars vars) {
  DeferredMail job{worker, std::move(lookup), condition, t, std::move(to), std::move(vars)};
  asio::co_spawn(pools_[static_cast<size_t>(worker)]->Executor(), MailAfterLookupTask(this, std::move(job)),
                 OnDeferredDone);
}

// ---------------------------------------------------------------------------------------------------------
// POST /send-verification-email


asio::awaitable<Response> AuthService::SendVerificationEmail(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.Email("email");
  const auto callback = in.OptionalUrl("callbackURL");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  const std::string email = AsciiLower(email_raw);
  const std::string resolved = callback ? ResolveAppUrl(req, *callback) : std::string();

  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  CurrentSession cur;
  auto lookup = co_await FindSession(req, **db, cur);
  if (!lookup) co_return ErrorResponse(req, lookup.error());
  if (*lookup == Lookup::kFound) {
    if (cur.user.email != email) co_return ErrorResponse(req, ErrorCode::kEmailMismatch);
    if (cur.user.email_verified) co_return ErrorResponse(req, ErrorCode::kEmailAlreadyVerified);
    if (co_await MailAllowed(req.worker, mail::Template::kVerifyEmail, email))
      SendVerificationLink(mail::Template::kVerifyEmail, email, email, std::nullopt, std::nullopt, resolved);
    co_return Json(req, "{\"status\":true}");
  }
  // Without a session the answer is the same for every address and leaves before the lookup (EN-02): the
  // lookup and the mail happen after the response, on this io thread.
  MailAfterLookup(req.worker, email, MailIf::kUnverifiedAccount, mail::Template::kVerifyEmail, email,
                  VerificationLinkVars(email, std::nullopt, std::nullopt, resolved));
  co_return Json(req, "{\"status\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// GET /verify-email?token&callbackURL  (and the toolkit's POST /verify-email {token, callbackURL?})

asio::awaitable<Response> AuthService::VerifyEmail(Request& req) {
  std::string token, callback;
  if (req.raw.method() == http::bhttp::verb::post) {
    if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
    auto body = ParseBody(req);
    if (!body) co_return ErrorResponse(req, body.error());
    BodyReader in(*body);
    token = std::string(in.RequiredString("token"));
    const auto cb = in.OptionalUrl("callbackURL");
    if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
    if (cb && !IsAllowedRedirect(*cb)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
    if (cb) callback = std::string(*cb);
  } else {
    auto cb = QueryRedirect(req, "callbackURL", ErrorCode::kInvalidCallbackUrl);
    if (!cb) co_return ErrorResponse(req, cb.error());
    callback = std::move(*cb);
    if (QueryRepeated(req.query, "token"))  // never pick one of several secrets (IV-02)
      co_return ErrorResponse(req, ErrorCode::kValidationError,
                              "[query.token] Invalid input: expected string, received array");
    auto t = req.Query("token");
    if (!t) co_return ErrorResponse(req, ErrorCode::kValidationError,
                                    "[query.token] Invalid input: expected string, received undefined");
    token = std::move(*t);
  }
  // Errors go back to the app when it gave a callback (Better Auth's redirectOnError), else as JSON.
  const auto fail = [&](ErrorCode code) {
    if (!callback.empty()) return Redirect(req, AppendQueryParam(callback, "error", Describe(code).code));
    return ErrorResponse(req, code);
  };
  const EpochMs now = NowMs();
  auto parsed = VerifyEmailToken(token, now);
  if (!parsed) {
    const std::string ip = SecurityLogIp(req);
    log::Warn("auth.token_rejected", {{"kind", "verify-email"}, {"reason", Describe(parsed.error().code).code}, {"ip", ip}});
    co_return fail(parsed.error().code);
  }

  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto found = co_await FindUserByEmail(**db, parsed->email);
  if (!found) co_return ErrorResponse(req, found.error());
  // The token names the address it was issued for: after a change of address it is dead (TK-05).
  if (!*found) co_return fail(ErrorCode::kUserNotFound);
  const UserRow user = (*found)->user;
  CurrentSession cur;
  auto lookup = co_await FindSession(req, **db, cur);
  if (!lookup) co_return ErrorResponse(req, lookup.error());
  const bool has_session = *lookup == Lookup::kFound;

  if (parsed->update_to) {
    if (has_session && cur.user.id != user.id) co_return fail(ErrorCode::kInvalidUser);
    if (parsed->request_type == std::optional<std::string>("change-email-confirmation")) {
      // The old address approved: now prove the new one.
      SendVerificationLink(mail::Template::kChangeEmailVerification, *parsed->update_to, parsed->email,
                           std::string_view(*parsed->update_to), std::string_view("change-email-verification"),
                           callback);
      if (!callback.empty()) co_return Redirect(req, callback);
      co_return Json(req, "{\"status\":true}");
    }
    // Only the two-step tokens pgwarden (and Better Auth with sendChangeEmailConfirmation) issue are honoured: a
    // legacy token that would switch to an unverified address is refused (TK-06).
    if (parsed->request_type != std::optional<std::string>("change-email-verification"))
      co_return fail(ErrorCode::kInvalidToken);
    auto updated = co_await MarkEmailVerified(**db, user.id, parsed->email, std::string_view(*parsed->update_to), now);
    if (!updated) {
      if (updated.error().sqlstate == db::kUniqueViolation) co_return fail(ErrorCode::kUserAlreadyExistsUseAnotherEmail);
      co_return ErrorResponse(req, updated.error());
    }
    if (!*updated) co_return fail(ErrorCode::kInvalidToken);
    log::Info("auth.email_changed", {{"user_id", user.id}});
    SessionRow session = cur.session;
    bool created = false;
    if (!has_session) {
      auto s = co_await CreateSessionFor(req, **db, user.id);
      if (!s) co_return ErrorResponse(req, s.error());
      session = std::move(*s);
      created = true;
    }
    std::string location;
    if (!callback.empty()) {
      location = callback;
      if (created) {
        auto with = co_await WithSessionVerifier(**db, location, session);
        if (!with) co_return ErrorResponse(req, with.error());
        location = std::move(*with);
      }
    }
    Response res = location.empty() ? Json(req, "{\"status\":true,\"user\":" + UserJson(**updated) + "}")
                                    : Redirect(req, location);
    SetSessionCookies(res, session.token, has_session && cur.dont_remember);
    co_return res;
  }

  if (user.email_verified) {
    // Replayed or already verified: nothing changes and no session is handed out.
    if (!callback.empty()) co_return Redirect(req, callback);
    co_return Json(req, "{\"status\":true,\"user\":null}");
  }
  auto updated = co_await MarkEmailVerified(**db, user.id, parsed->email, std::nullopt, now);
  if (!updated) co_return ErrorResponse(req, updated.error());
  if (!*updated) {  // a concurrent use won
    if (!callback.empty()) co_return Redirect(req, callback);
    co_return Json(req, "{\"status\":true,\"user\":null}");
  }
  log::Info("auth.email_verified", {{"user_id", user.id}});
  // autoSignInAfterVerification (Neon): the caller's own session is kept, otherwise a new one is created.
  SessionRow session;
  bool created = false;
  bool dont_remember = false;
  if (has_session && cur.user.id == user.id) {
    session = cur.session;
    dont_remember = cur.dont_remember;
  } else {
    auto s = co_await CreateSessionFor(req, **db, user.id);
    if (!s) co_return ErrorResponse(req, s.error());
    session = std::move(*s);
    created = true;
  }
  Response res = Json(req, "{\"status\":true,\"user\":" + UserJson(**updated) + "}");
  if (!callback.empty()) {
    std::string location = callback;
    if (created) {
      auto with = co_await WithSessionVerifier(**db, location, session);
      if (!with) co_return ErrorResponse(req, with.error());
      location = std::move(*with);
    }
    res = Redirect(req, location);
  }
  SetSessionCookies(res, session.token, dont_remember);
  co_return res;
}

// ---------------------------------------------------------------------------------------------------------
// POST /change-email {newEmail, callbackURL?}

asio::awaitable<Response> AuthService::ChangeEmail(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto new_raw = in.Email("newEmail");
  const auto callback = in.OptionalUrl("callbackURL");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  const UserRow& user = authed->cur.user;
  const std::string new_email = AsciiLower(new_raw);
  if (new_email == user.email) co_return ErrorResponse(req, ErrorCode::kEmailIsTheSame);
  auto taken = co_await EmailExists(*authed->db, new_email);
  if (!taken) co_return ErrorResponse(req, taken.error());
  // A taken address gets the same answer and no mail (EN-03).
  if (*taken) co_return Json(req, "{\"status\":true}");
  const std::string resolved = callback ? ResolveAppUrl(req, *callback) : std::string();
  if (user.email_verified) {
    // The current address approves first; the new one is proven next (TK-06).
    SendVerificationLink(mail::Template::kChangeEmailConfirmation, user.email, user.email,
                         std::string_view(new_email), std::string_view("change-email-confirmation"), resolved);
  } else {
    SendVerificationLink(mail::Template::kChangeEmailVerification, new_email, user.email,
                         std::string_view(new_email), std::string_view("change-email-verification"), resolved);
  }
  co_return Json(req, "{\"status\":true}");
}

}  // namespace pgwarden::auth
