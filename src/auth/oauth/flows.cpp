//! Social sign-in as the official SDK drives it (sdk-contract §2.1, §4; security.md G):
//!   POST /sign-in/social {provider, callbackURL?, errorCallbackURL?, newUserCallbackURL?, disableRedirect?,
//!        scopes?, loginHint?, requestSignUp?, idToken?}   -> {url, redirect} + Location; challenge cookie
//!   GET|POST /callback/:provider                        -> 302 to the app with neon_auth_session_verifier
//!   POST /link-social, POST /unlink-account, GET /account-info, POST /get-access-token, POST /refresh-token
//! The state (PKCE verifier, nonce, callback URLs, provider, challenge hash) lives in neon_auth.verification
//! for 10 minutes and is consumed once. The callback does not need Better Auth's state cookie (the app's
//! browser context may not send it: sdk-contract §4.2 step 4) but refuses a state cookie that names another
//! state; the session reaches the app only through the verifier, which needs the challenge cookie set here.
#include <algorithm>

#include "auth/body.hpp"
#include "auth/oauth/state.hpp"
#include "auth/service.hpp"
#include "auth/verification.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"
#include "crypto/seal.hpp"
#include "http/cookies.hpp"

namespace pgwarden::auth {
namespace {

constexpr std::string_view kUrlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kUnreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
constexpr std::int64_t kStateTtlS = 600;        // Better Auth: 10 minutes
constexpr std::int64_t kStateCookieMaxAge = 300;  // Better Auth's state cookie
constexpr std::int64_t kChallengeMaxAge = 600;

std::string StateIdentifier(std::string_view state) { return "oauth-state:" + std::string(state); }

void LogOAuthFailure(std::string_view provider, std::string_view code, std::string_view detail) {
  log::Warn("oauth.failed", {{"provider", provider}, {"error", code}, {"detail", detail}});
}

// Sealed at rest as Better Auth does with encryptOAuthTokens (D31); empty stays absent.
std::optional<std::string> Seal(const std::string& secret, const std::string& token) {
  if (token.empty()) return std::nullopt;
  return crypto::SealToHex(secret, token);
}

// Stored tokens: sealed (pgwarden, Better Auth with encryptOAuthTokens) or plain (stock Better Auth).
std::string Unseal(const std::string& secret, const std::optional<std::string>& stored) {
  if (!stored || stored->empty()) return {};
  const bool hex = stored->size() % 2 == 0 &&
                   stored->find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  if (hex) {
    if (auto plain = crypto::UnsealHex(secret, *stored)) return *plain;
  }
  return *stored;
}

AccountTokens SealedTokens(const std::string& secret, const oauth::Tokens& t) {
  AccountTokens a;
  a.access_token = Seal(secret, t.access_token);
  a.refresh_token = Seal(secret, t.refresh_token);
  a.id_token = t.id_token.empty() ? std::nullopt : std::optional<std::string>(t.id_token);
  a.access_expires_at = t.access_expires_at;
  a.refresh_expires_at = t.refresh_expires_at;
  if (!t.scopes.empty()) {
    std::string scope;
    for (const auto& s : t.scopes) scope += (scope.empty() ? "" : ",") + s;
    a.scope = scope;
  }
  return a;
}

std::string ScopesJson(const std::optional<std::string>& scope) {
  std::string out = "[";
  bool first = true;
  if (scope) {
    for (auto s : Split(*scope, ',')) {
      s = Trim(s);
      if (s.empty()) continue;
      out += (first ? "" : ",") + JsonString(s);
      first = false;
    }
  }
  return out + "]";
}

}  // namespace

std::string AuthService::OAuthRedirectUri(std::string_view provider_id) const {
  return AuthUrl("/callback/" + std::string(provider_id));
}

Response AuthService::OAuthErrorRedirect(const Request& req, const std::string& error_url, std::string_view code,
                                         std::string_view description) const {
  std::string location = AppendQueryParam(error_url.empty() ? AuthUrl("/error") : error_url, "error", code);
  if (!description.empty()) {
    // Form-encoded, as Better Auth's URLSearchParams writes it (a space is '+'); before any fragment.
    const auto hash = location.find('#');
    location.insert(hash == std::string::npos ? location.size() : hash,
                    "&error_description=" + oauth::FormEncode(description));
  }
  return Redirect(req, location);
}

// ---------------------------------------------------------------------------------------------------------
// POST /sign-in/social  and  POST /link-social (the same start, with the signed-in user as the link target)

asio::awaitable<Response> AuthService::StartSocial(Request& req, bool link) {
  if (auto ok = CheckOrigin(req, /*login=*/!link); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto provider_id = in.RequiredString("provider");
  const auto callback = in.OptionalUrl("callbackURL");
  const auto error_callback = in.OptionalUrl("errorCallbackURL");
  const auto new_user_callback = in.OptionalUrl("newUserCallbackURL");
  const auto disable_redirect = in.OptionalBool("disableRedirect");
  const auto login_hint = in.OptionalString("loginHint");
  const auto request_sign_up = in.OptionalBool("requestSignUp");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  std::vector<std::string> scopes;
  if (const auto* s = body->if_contains("scopes"); s && !s->is_null()) {
    if (!s->is_array()) co_return ErrorResponse(req, ErrorCode::kValidationError, "[body.scopes] Invalid input: expected array, received " + std::string(TypeName(s)));
    for (const auto& v : s->as_array()) {
      if (!v.is_string() || v.as_string().empty() || v.as_string().size() > 200)
        co_return ErrorResponse(req, ErrorCode::kValidationError, "[body.scopes] Invalid input: expected string");
      scopes.emplace_back(v.as_string());
    }
  }
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  if (error_callback && !IsAllowedRedirect(*error_callback))
    co_return ErrorResponse(req, ErrorCode::kInvalidErrorCallbackUrl);
  if (new_user_callback && !IsAllowedRedirect(*new_user_callback))
    co_return ErrorResponse(req, ErrorCode::kInvalidNewUserCallbackUrl);
  if (!oauth_ || !oauth_->Find(provider_id)) co_return ErrorResponse(req, ErrorCode::kProviderNotFound);

  std::optional<oauth::LinkTarget> target;
  if (link) {
    auto authed = co_await RequireSession(req);
    if (!authed) co_return ErrorResponse(req, authed.error());
    target = oauth::LinkTarget{authed->cur.user.email, authed->cur.user.id};
  }

  // The app's id_token (Google One Tap, native SDKs): verified like the callback's, no redirect.
  if (const auto* id_token = body->if_contains("idToken"); id_token && !id_token->is_null()) {
    if (!id_token->is_object()) co_return ErrorResponse(req, ErrorCode::kValidationError, "[body.idToken] Invalid input: expected object");
    BodyReader it(id_token->as_object());
    const auto token = it.RequiredString("token");
    const auto nonce = it.OptionalString("nonce");
    const auto access = it.OptionalString("accessToken");
    const auto refresh = it.OptionalString("refreshToken");
    if (!it.Ok()) co_return ErrorResponse(req, it.Failure());
    std::string pid(provider_id), tok(token), non(nonce.value_or(""));
    auto provider = co_await oauth_->Resolve(pid);
    if (!provider) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "provider unavailable");
    auto identity = co_await oauth_->VerifyIdToken(*provider, tok, non);
    if (!identity) {
      LogOAuthFailure(provider_id, identity.error().code, identity.error().detail);
      co_return ErrorResponse(req, identity.error().code == "id_token_not_supported" ? ErrorCode::kIdTokenNotSupported
                                                                                    : ErrorCode::kInvalidToken);
    }
    oauth::Tokens tokens;
    tokens.access_token = std::string(access.value_or(""));
    tokens.refresh_token = std::string(refresh.value_or(""));
    tokens.id_token = tok;
    if (link) {
      auto db = co_await Db(req);
      if (!db) co_return ErrorResponse(req, db.error());
      auto linked = co_await LinkIdentity(**db, *provider, *identity, tokens, *target);
      // Better Auth's codes for the idToken link (the redirect flow uses the lower-case error codes).
      if (linked == "unable_to_link_account") co_return ErrorResponse(req, ErrorCode::kLinkingNotAllowed);
      if (linked == "email_doesn't_match") co_return ErrorResponse(req, ErrorCode::kLinkingDifferentEmailsNotAllowed);
      if (!linked.empty()) co_return ErrorResponse(req, ErrorCode::kOAuthLinkError, linked);
      co_return Json(req, "{\"url\":\"\",\"status\":true,\"redirect\":false}");
    }
    if (identity->email.empty()) co_return ErrorResponse(req, ErrorCode::kUserEmailNotFound);
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto signed_in = co_await SignInIdentity(req, **db, *provider, *identity, tokens, request_sign_up.value_or(false));
    if (!signed_in) {
      if (signed_in.error().code == ErrorCode::kDatabase || signed_in.error().code == ErrorCode::kInternal)
        co_return ErrorResponse(req, signed_in.error());
      co_return ErrorResponse(req, ErrorCode::kOAuthLinkError, signed_in.error().message);
    }
    Response res = Json(req, "{\"redirect\":false,\"token\":" + JsonString(signed_in->session.token) +
                                 ",\"user\":" + UserJson(signed_in->user) + "}");
    SetSessionCookies(res, signed_in->session.token, false);
    co_return res;
  }

  std::string pid(provider_id);
  auto provider = co_await oauth_->Resolve(pid);
  if (!provider) {
    LogOAuthFailure(provider_id, provider.error().code, provider.error().detail);
    co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "provider unavailable");
  }
  const EpochMs now = NowMs();
  oauth::OAuthState st;
  st.provider_id = provider->id;
  // Relative URLs belong to the app that asked (its Origin), not to the auth host (sdk-contract §4.2).
  st.callback_url = AbsoluteUrl(ResolveAppUrl(req, callback ? *callback : std::string_view("/")));
  if (error_callback) st.error_url = AbsoluteUrl(ResolveAppUrl(req, *error_callback));
  if (new_user_callback) st.new_user_url = AbsoluteUrl(ResolveAppUrl(req, *new_user_callback));
  st.code_verifier = crypto::RandomString(128, kUnreserved);
  if (provider->identity == oauth::IdentitySource::kIdToken) st.nonce = crypto::RandomString(32, kUrlSafe);
  st.link = target;
  st.request_sign_up = request_sign_up.value_or(false);
  const std::string challenge = crypto::RandomString(43);
  st.challenge_hash = HashIdentifier(challenge);
  st.expires_at = now + kStateTtlS * 1000;
  const std::string state = crypto::RandomString(32, kUrlSafe);
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto saved = co_await InsertVerification(**db, StateIdentifier(state), oauth::SerializeState(st), st.expires_at, now);
    if (!saved) co_return ErrorResponse(req, saved.error());
  }
  oauth::AuthorizationRequest ar;
  ar.redirect_uri = OAuthRedirectUri(provider->id);
  ar.state = state;
  ar.code_verifier = st.code_verifier;
  ar.nonce = st.nonce;
  ar.extra_scopes = std::move(scopes);
  // A login hint only pre-fills the provider's form: forwarded when it is an e-mail address, dropped otherwise, so a
  // caller cannot steer the provider with an arbitrary value (OA-02, D35).
  if (login_hint && IsValidEmail(*login_hint)) ar.login_hint = std::string(*login_hint);
  const std::string url = oauth::AuthorizationUrl(*provider, ar);
  const bool redirect = !disable_redirect.value_or(false);
  Response res = Json(req, "{\"url\":" + JsonString(url) + ",\"redirect\":" + (redirect ? "true" : "false") + "}");
  if (redirect) res.set(http::bhttp::field::location, url);
  http::CookieAttributes attrs;
  attrs.secure = cfg_.secure_cookies;
  if (cfg_.cookie_mode == config::CookieMode::kCrossSite) {
    attrs.same_site = "None";
    attrs.partitioned = true;
  }
  attrs.max_age = kStateCookieMaxAge;
  res.insert(http::bhttp::field::set_cookie,
             http::SetCookie(CookieName("state"), crypto::UriComponentEncode(crypto::SignCookieValue(cfg_.secret, state)), attrs));
  attrs.max_age = kChallengeMaxAge;
  res.insert(http::bhttp::field::set_cookie,
             http::SetCookie(CookieName("session_challenge"),
                             crypto::UriComponentEncode(crypto::SignCookieValue(cfg_.secret, challenge)), attrs));
  log::Info("oauth.started", {{"provider", provider->id}, {"link", link ? "true" : "false"}});
  co_return res;
}

asio::awaitable<Response> AuthService::SignInSocial(Request& req) { co_return co_await StartSocial(req, false); }
asio::awaitable<Response> AuthService::LinkSocial(Request& req) { co_return co_await StartSocial(req, true); }

// ---------------------------------------------------------------------------------------------------------
// Account resolution shared by the callback and the id_token sign-in

asio::awaitable<Result<AuthService::OAuthSignIn>> AuthService::SignInIdentity(const Request& req, db::Connection& c,
                                                                             const oauth::Provider& p,
                                                                             const oauth::Identity& id,
                                                                             const oauth::Tokens& tokens,
                                                                             bool request_sign_up) {
  (void)request_sign_up;  // implicit sign-up is on for every provider (Better Auth's default)
  const EpochMs now = NowMs();
  const AccountTokens sealed = SealedTokens(cfg_.secret, tokens);
  const NewSession ns{NewSessionToken(), now + cfg_.session_expires_in_s * 1000, ClientIp(req),
                      std::string(req.Header(http::bhttp::field::user_agent))};
  // 1. A known federated identity (provider + subject; OA-06): that user, whatever the address says now.
  auto existing = co_await FindProviderAccount(c, p.id, id.account_id);
  if (!existing) co_return existing.error();
  if (*existing) {
    auto upd = co_await UpdateAccountTokens(c, (*existing)->row.id, sealed, now);
    if (!upd) co_return upd.error();
    auto user = co_await FindUserById(c, (*existing)->row.user_id);
    if (!user) co_return user.error();
    if (!*user) co_return MakeError(ErrorCode::kUserNotFound, "user_not_found");
    if ((*user)->IsBanned(now)) co_return MakeError(ErrorCode::kBannedUser, "banned");
    auto session = co_await InsertSession(c, (*user)->id, ns, now);
    if (!session) co_return session.error();
    co_return OAuthSignIn{std::move(**user), std::move(*session), false};
  }
  if (id.email.empty()) co_return MakeError(ErrorCode::kUserEmailNotFound, "email_not_found");
  // 2. An existing local user with that address: linked only when both sides vouch for the address
  //    (GHSA-g38m-r43w-p2q7, OA-05): the provider says verified (a JSON true) and so does the local row.
  auto local = co_await FindUserByEmail(c, id.email);
  if (!local) co_return local.error();
  if (*local) {
    const UserRow& u = (*local)->user;
    if (!id.email_verified || !u.email_verified) co_return MakeError(ErrorCode::kOAuthLinkError, "account not linked");
    // The user already has another identity at this provider: a second subject claiming the same address is
    // another principal there (a reassigned or recycled address), not this user (OA-06, D34). Only the owner can
    // add it, signed in, through link-social. Better Auth would link it.
    auto accounts = co_await auth::ListAccounts(c, u.id);
    if (!accounts) co_return accounts.error();
    for (const AccountRow& a : *accounts)
      if (a.provider_id == p.id) co_return MakeError(ErrorCode::kOAuthLinkError, "account not linked");
    if (u.IsBanned(now)) co_return MakeError(ErrorCode::kBannedUser, "banned");
    auto acc = co_await InsertProviderAccount(c, u.id, p.id, id.account_id, sealed, now);
    if (!acc) co_return acc.error();
    auto session = co_await InsertSession(c, u.id, ns, now);
    if (!session) co_return session.error();
    log::Info("oauth.linked", {{"provider", p.id}, {"user_id", u.id}});
    co_return OAuthSignIn{u, std::move(*session), false};
  }
  // 3. A new user, its account and session, in one statement.
  const std::optional<std::string_view> image = id.image ? std::optional<std::string_view>(*id.image) : std::nullopt;
  auto created = co_await CreateOAuthUser(c, id.name, id.email, id.email_verified, image, p.id, id.account_id, sealed,
                                          ns, now);
  if (!created) {
    if (created.error().sqlstate == db::kUniqueViolation)
      co_return MakeError(ErrorCode::kOAuthLinkError, "account not linked");  // raced a sign-up with the address
    co_return created.error();
  }
  log::Info("oauth.sign_up", {{"provider", p.id}, {"user_id", created->first.id}});
  co_return OAuthSignIn{std::move(created->first), std::move(created->second), true};
}

asio::awaitable<std::string> AuthService::LinkIdentity(db::Connection& c, const oauth::Provider& p,
                                                       const oauth::Identity& id, const oauth::Tokens& tokens,
                                                       const oauth::LinkTarget& target) {
  // Better Auth: the provider must vouch for the address, and it must be the signed-in user's.
  if (!id.email_verified) co_return "unable_to_link_account";
  if (AsciiLower(id.email) != AsciiLower(target.email)) co_return "email_doesn't_match";
  const EpochMs now = NowMs();
  const AccountTokens sealed = SealedTokens(cfg_.secret, tokens);
  auto existing = co_await FindProviderAccount(c, p.id, id.account_id);
  if (!existing) co_return "unable_to_link_account";
  if (*existing) {
    if ((*existing)->row.user_id != target.user_id) co_return "account_already_linked_to_different_user";
    auto upd = co_await UpdateAccountTokens(c, (*existing)->row.id, sealed, now);
    co_return upd ? "" : "unable_to_link_account";
  }
  auto acc = co_await InsertProviderAccount(c, target.user_id, p.id, id.account_id, sealed, now);
  co_return acc ? "" : "unable_to_link_account";
}

// ---------------------------------------------------------------------------------------------------------
// GET|POST /callback/:provider

asio::awaitable<Response> AuthService::OAuthCallback(Request& req) {
  const std::string provider_id = req.params.empty() ? std::string() : req.params[0];
  const std::string default_error = AuthUrl("/error");
  if (req.raw.method() == http::bhttp::verb::post) {
    // form_post providers: the same parameters again as a GET (Better Auth), body and query merged.
    std::string query;
    const auto add = [&](std::string_view key, const std::optional<std::string>& v) {
      if (!v) return;
      query += (query.empty() ? "" : "&") + std::string(key) + "=" + crypto::UriComponentEncode(*v);
    };
    std::optional<json::object> form;
    if (AsciiLower(Trim(Split(req.Header(http::bhttp::field::content_type), ';')[0])) == "application/x-www-form-urlencoded") {
      if (auto pairs = http::ParseForm(req.raw.body())) {
        json::object o;
        for (const auto& [k, v] : *pairs) o[k] = v;
        form = std::move(o);
      }
    }
    static constexpr const char* kKeys[] = {"code", "state", "error", "error_description", "user", "device_id", "iss"};
    for (const char* key : kKeys) {
      std::optional<std::string> v = req.Query(key);
      if (!v && form) {
        if (const auto* f = form->if_contains(key); f && f->is_string()) v = std::string(f->as_string());
      }
      add(key, v);
    }
    co_return Redirect(req, AuthUrl("/callback/" + provider_id) + (query.empty() ? "" : "?" + query));
  }
  // Several `state` or `code` values: never pick one (IV-02); the state is not consumed.
  if (QueryRepeated(req.query, "state") || QueryRepeated(req.query, "code"))
    co_return OAuthErrorRedirect(req, default_error, "state_mismatch");
  const auto state = req.Query("state");
  if (!state || state->empty()) co_return OAuthErrorRedirect(req, default_error, "state_not_found");
  const EpochMs now = NowMs();
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  // Single use: consumed before anything else happens (a replayed callback finds nothing).
  auto consumed = co_await ConsumeVerification(**db, StateIdentifier(*state), now);
  if (!consumed) co_return ErrorResponse(req, consumed.error());
  std::optional<oauth::OAuthState> st;
  if (*consumed) st = oauth::ParseState(**consumed);
  // Better Auth's state cookie, when the browser sends one, must name this state (a callback started in
  // another browser is refused); its absence is allowed (Neon: skipStateCookieCheck).
  if (auto raw = req.Cookie(CookieName("state"))) {
    std::optional<std::string> cookie_state;
    if (auto decoded = crypto::UriComponentDecode(*raw)) cookie_state = crypto::VerifySignedCookieValue(cfg_.secret, *decoded);
    if (!cookie_state || !crypto::ConstantTimeEquals(*cookie_state, *state)) st.reset();
  }
  const auto problem = oauth::CheckState(st, provider_id, now);
  if (problem != oauth::StateProblem::kNone) {
    LogOAuthFailure(provider_id, oauth::StateErrorCode(problem), "state");
    co_return OAuthErrorRedirect(req, default_error, oauth::StateErrorCode(problem));
  }
  // From here on the state is spent: every answer expires Better Auth's state cookie, as its parseState does.
  const auto spent = [this](Response res) {
    ExpireCookie(res, CookieName("state"));
    return res;
  };
  const std::string error_url = st->error_url.empty() ? default_error : st->error_url;
  if (auto error = req.Query("error"); error && !error->empty())
    co_return spent(OAuthErrorRedirect(req, error_url, *error, req.Query("error_description").value_or("")));
  // RFC 9207: an `iss` on the authorization response must be the provider's (mix-up defence, OA-04).
  auto provider = co_await oauth_->Resolve(provider_id);
  if (!provider) {
    LogOAuthFailure(provider_id, provider.error().code, provider.error().detail);
    co_return spent(OAuthErrorRedirect(req, error_url, provider.error().code));
  }
  if (auto iss = req.Query("iss"); iss && !provider->issuer.empty() && provider->issuer.find('{') == std::string::npos &&
                                   *iss != provider->issuer)
    co_return spent(OAuthErrorRedirect(req, error_url, "issuer_mismatch"));
  const auto code = req.Query("code");
  if (!code || code->empty()) co_return spent(OAuthErrorRedirect(req, error_url, "no_code"));
  std::string code_s = *code, verifier = st->code_verifier, redirect_uri = OAuthRedirectUri(provider->id);
  auto tokens = co_await oauth_->ExchangeCode(*provider, code_s, verifier, redirect_uri);
  if (!tokens) {
    LogOAuthFailure(provider_id, tokens.error().code, tokens.error().detail);
    co_return spent(OAuthErrorRedirect(req, error_url, tokens.error().code));
  }
  std::string nonce = st->nonce;
  auto identity = co_await oauth_->ReadIdentity(*provider, *tokens, nonce);
  if (!identity) {
    LogOAuthFailure(provider_id, identity.error().code, identity.error().detail);
    co_return spent(OAuthErrorRedirect(req, error_url, identity.error().code));
  }
  if (st->link) {
    const std::string failure = co_await LinkIdentity(**db, *provider, *identity, *tokens, *st->link);
    if (!failure.empty()) {
      LogOAuthFailure(provider_id, failure, "link");
      co_return spent(OAuthErrorRedirect(req, error_url, failure));
    }
    log::Info("oauth.linked", {{"provider", provider->id}, {"user_id", st->link->user_id}});
    co_return spent(Redirect(req, st->callback_url));
  }
  auto signed_in = co_await SignInIdentity(req, **db, *provider, *identity, *tokens, st->request_sign_up);
  if (!signed_in) {
    std::string code_name = signed_in.error().message.empty() ? "unable_to_create_user" : signed_in.error().message;
    std::replace(code_name.begin(), code_name.end(), ' ', '_');  // Better Auth: error.split(" ").join("_")
    LogOAuthFailure(provider_id, code_name, "sign-in");
    if (signed_in.error().code == ErrorCode::kDatabase || signed_in.error().code == ErrorCode::kInternal)
      co_return ErrorResponse(req, signed_in.error());
    co_return spent(OAuthErrorRedirect(req, error_url, code_name));
  }
  // The app gets the session through the verifier, bound to this browser's challenge cookie (sdk-contract §4).
  const std::string target = signed_in->created && !st->new_user_url.empty() ? st->new_user_url : st->callback_url;
  auto location = co_await WithSessionVerifier(**db, target, signed_in->session, st->challenge_hash);
  if (!location) co_return ErrorResponse(req, location.error());
  Response res = Redirect(req, *location);
  SetSessionCookies(res, signed_in->session.token, false);
  res = spent(std::move(res));
  log::Info("oauth.signed_in", {{"provider", provider->id}, {"user_id", signed_in->user.id},
                                 {"new_user", signed_in->created ? "true" : "false"}});
  co_return res;
}

// ---------------------------------------------------------------------------------------------------------
// Accounts of the signed-in user

asio::awaitable<Response> AuthService::UnlinkAccount(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto provider_id = in.RequiredString("providerId");
  const auto account_id = in.OptionalString("accountId");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  // Removing a way to sign in is sensitive: only a recently authenticated session may (Better Auth's
  // freshSessionMiddleware; SE-06).
  if (!IsFresh(authed->cur.session, NowMs())) co_return ErrorResponse(req, ErrorCode::kSessionNotFresh);
  auto r = co_await auth::UnlinkAccount(*authed->db, authed->cur.user.id, provider_id, account_id.value_or(""));
  if (!r) co_return ErrorResponse(req, r.error());
  if (*r == 0) co_return ErrorResponse(req, ErrorCode::kAccountNotFound);
  if (*r < 0) co_return ErrorResponse(req, ErrorCode::kFailedToUnlinkLastAccount);
  co_return Json(req, "{\"status\":true}");
}

asio::awaitable<Result<AuthService::AccountAccess>> AuthService::AccessFor(const Request& req, bool refresh_now,
                                                                           bool by_account) {
  auto body = req.raw.method() == http::bhttp::verb::get ? Result<json::object>(json::object()) : ParseBody(req);
  if (!body) co_return body.error();
  // GET (account-info, the toolkit) carries the arguments in the query.
  std::string provider_id = req.Query("providerId").value_or("");
  std::string account_id = req.Query("accountId").value_or("");
  if (const auto* v = body->if_contains("providerId"); v && v->is_string()) provider_id = std::string(v->as_string());
  if (const auto* v = body->if_contains("accountId"); v && v->is_string()) account_id = std::string(v->as_string());
  if (!by_account && provider_id.empty())
    co_return MakeError(ErrorCode::kValidationError, "[body.providerId] Invalid input: expected string, received undefined");
  auto authed = co_await RequireSession(req);
  if (!authed) co_return authed.error();
  if (by_account && account_id.empty()) co_return MakeError(ErrorCode::kAccountNotFound);
  if (!by_account && (!oauth_ || !oauth_->Find(provider_id)))
    co_return MakeError(ErrorCode::kProviderNotSupported, "Provider " + provider_id + " is not supported.");
  std::optional<ProviderAccount> found;
  if (by_account) {
    // account-info: the caller's account with that accountId (and provider when given).
    auto accounts = co_await auth::ListAccounts(*authed->db, authed->cur.user.id);
    if (!accounts) co_return accounts.error();
    for (const auto& a : *accounts) {
      if (a.account_id != account_id || (!provider_id.empty() && a.provider_id != provider_id)) continue;
      auto full = co_await FindUserProviderAccount(*authed->db, authed->cur.user.id, a.provider_id, a.account_id);
      if (!full) co_return full.error();
      found = std::move(*full);
      break;
    }
    if (!found) co_return MakeError(ErrorCode::kAccountNotFound);
    if (!oauth_ || !oauth_->Find(found->row.provider_id)) co_return MakeError(ErrorCode::kProviderNotConfigured);
    provider_id = found->row.provider_id;
  } else {
    auto acc = co_await FindUserProviderAccount(*authed->db, authed->cur.user.id, provider_id, account_id);
    if (!acc) co_return acc.error();
    if (!*acc) co_return MakeError(ErrorCode::kAccountNotFound);
    found = std::move(*acc);
  }
  // Unsealed before the record moves into the answer.
  std::string access_token = Unseal(cfg_.secret, found->tokens.access_token);
  std::string refresh_token = Unseal(cfg_.secret, found->tokens.refresh_token);
  AccountAccess out{std::move(*found), std::move(access_token), std::move(refresh_token)};
  const EpochMs now = NowMs();
  const bool expired = out.account.tokens.access_expires_at && *out.account.tokens.access_expires_at - 5000 <= now;
  if (refresh_now && out.refresh_token.empty()) co_return MakeError(ErrorCode::kRefreshTokenNotFound);
  if ((refresh_now || expired) && !out.refresh_token.empty()) {
    std::string pid = provider_id, rt = out.refresh_token;
    auto provider = co_await oauth_->Resolve(pid);
    if (!provider) co_return MakeError(ErrorCode::kServiceUnavailable, "provider unavailable");
    auto fresh = co_await oauth_->Refresh(*provider, rt);
    if (!fresh) {
      LogOAuthFailure(provider_id, fresh.error().code, fresh.error().detail);
      co_return MakeError(refresh_now ? ErrorCode::kFailedToRefreshAccessToken : ErrorCode::kFailedToGetAccessToken);
    }
    const AccountTokens sealed = SealedTokens(cfg_.secret, *fresh);
    auto upd = co_await UpdateAccountTokens(*authed->db, out.account.row.id, sealed, now);
    if (!upd) co_return upd.error();
    out.access_token = fresh->access_token;
    if (!fresh->refresh_token.empty()) out.refresh_token = fresh->refresh_token;
    out.account.tokens.access_expires_at = fresh->access_expires_at;
    if (fresh->refresh_expires_at) out.account.tokens.refresh_expires_at = fresh->refresh_expires_at;
    if (!fresh->id_token.empty()) out.account.tokens.id_token = fresh->id_token;
    if (sealed.scope) out.account.tokens.scope = sealed.scope;
  }
  co_return out;
}

asio::awaitable<Response> AuthService::GetAccessToken(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto access = co_await AccessFor(req, false);
  if (!access) co_return ErrorResponse(req, access.error());
  const auto& t = access->account.tokens;
  std::string out = "{\"accessToken\":" + JsonString(access->access_token) + ",\"accessTokenExpiresAt\":";
  out += t.access_expires_at ? "\"" + FormatIso8601Ms(*t.access_expires_at) + "\"" : std::string("null");
  out += ",\"scopes\":" + ScopesJson(t.scope);
  if (t.id_token) out += ",\"idToken\":" + JsonString(*t.id_token);
  out += "}";
  co_return Json(req, std::move(out));
}

asio::awaitable<Response> AuthService::RefreshToken(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto access = co_await AccessFor(req, true);
  if (!access) co_return ErrorResponse(req, access.error());
  const auto& t = access->account.tokens;
  std::string out = "{\"accessToken\":" + JsonString(access->access_token) +
                    ",\"refreshToken\":" + JsonString(access->refresh_token) + ",\"accessTokenExpiresAt\":";
  out += t.access_expires_at ? "\"" + FormatIso8601Ms(*t.access_expires_at) + "\"" : std::string("null");
  out += ",\"refreshTokenExpiresAt\":";
  out += t.refresh_expires_at ? "\"" + FormatIso8601Ms(*t.refresh_expires_at) + "\"" : std::string("null");
  out += ",\"scope\":" + (t.scope ? JsonString(*t.scope) : std::string("null"));
  if (t.id_token) out += ",\"idToken\":" + JsonString(*t.id_token);
  out += ",\"providerId\":" + JsonString(access->account.row.provider_id) +
         ",\"accountId\":" + JsonString(access->account.row.account_id) + "}";
  co_return Json(req, std::move(out));
}

asio::awaitable<Response> AuthService::AccountInfo(Request& req) {
  auto access = co_await AccessFor(req, false, /*by_account=*/true);
  if (!access) co_return ErrorResponse(req, access.error());
  if (access->access_token.empty()) co_return ErrorResponse(req, ErrorCode::kAccessTokenNotFound);
  std::string pid = access->account.row.provider_id;
  auto provider = co_await oauth_->Resolve(pid);
  if (!provider) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "provider unavailable");
  oauth::Tokens tokens;
  tokens.access_token = access->access_token;
  tokens.id_token = access->account.tokens.id_token.value_or("");
  std::string no_nonce;
  auto identity = co_await oauth_->ReadIdentity(*provider, tokens, no_nonce);
  if (!identity) co_return ErrorResponse(req, ErrorCode::kFailedToGetUserInfo);
  std::string out = "{\"user\":{\"id\":" + JsonString(identity->account_id) + ",\"name\":" + JsonString(identity->name) +
                    ",\"email\":" + JsonString(identity->email) + ",\"image\":" +
                    (identity->image ? JsonString(*identity->image) : std::string("null")) +
                    ",\"emailVerified\":" + (identity->email_verified ? "true" : "false") + "},\"data\":" +
                    (identity->profile_json.empty() ? std::string("{}") : identity->profile_json) + "}";
  co_return Json(req, std::move(out));
}

}  // namespace pgwarden::auth
