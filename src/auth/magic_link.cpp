//! Magic link (Better Auth's magicLink plugin):
//!   POST /sign-in/magic-link {email, name?, callbackURL?, newUserCallbackURL?, errorCallbackURL?, metadata?}
//!        -> {status:true} for every address; mails <AUTH>/magic-link/verify?token=…&callbackURL=…
//!   GET  /magic-link/verify?token&callbackURL&newUserCallbackURL&errorCallbackURL
//!        -> signs in (creating a verified user unless sign-up by link is off); with callbackURL 302 to the app
//!           with a session verifier (sdk-contract §4.5), without it 200 {token, user, session}; errors 302 to
//!           errorCallbackURL?error=…
//! Tokens: 32 letters [A-Za-z] (≈182 bits), stored hashed (TK-01) with the address, single use (atomic consume,
//! TK-03), 5 minutes by default.
#include "auth/body.hpp"
#include "auth/service.hpp"
#include "auth/verification.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"

namespace pgwarden::auth {
namespace {
constexpr std::size_t kMagicTokenLength = 32;  // Better Auth: generateRandomString(32, "a-z", "A-Z")
constexpr std::string_view kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void LogUser(std::string_view event, std::string_view user_id) { log::Info(event, {{"user_id", user_id}}); }
void LogVerifyFailed(std::string_view reason) { log::Info("auth.magic_link_failed", {{"reason", reason}}); }

// The stored value, Better Auth's JSON.stringify({email, name}) (name left out when absent).
std::string LinkValue(std::string_view email, std::optional<std::string_view> name) {
  std::string v = "{\"email\":";
  AppendJsonString(v, email);
  if (name) {
    v += ",\"name\":";
    AppendJsonString(v, *name);
  }
  v += '}';
  return v;
}

struct LinkPayload {
  std::string email;
  std::string name;
};
// Rows written by pgwarden or by a stock Better Auth alike; nullopt for anything without a valid address.
std::optional<LinkPayload> ParseLinkValue(std::string_view value) {
  boost::system::error_code ec;
  const json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* email = o.if_contains("email");
  if (!email || !email->is_string()) return std::nullopt;
  LinkPayload out;
  out.email = AsciiLower(std::string_view(email->get_string().data(), email->get_string().size()));
  if (!IsValidEmail(out.email)) return std::nullopt;
  if (const auto* name = o.if_contains("name"); name && name->is_string()) out.name = std::string(name->get_string());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// POST /sign-in/magic-link

asio::awaitable<Response> AuthService::SignInMagicLink(Request& req) {
  if (auto ok = CheckOrigin(req, /*login=*/true); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.Email("email");
  const auto name = in.OptionalString("name");
  const auto callback = in.OptionalUrl("callbackURL");
  const auto new_user_callback = in.OptionalUrl("newUserCallbackURL");
  const auto error_callback = in.OptionalUrl("errorCallbackURL");
  std::string issues = in.Ok() ? std::string() : std::string(in.Failure().Message());
  // metadata: z.record(z.string(), z.any()).optional(); only passed to Better Auth's sendMagicLink hook.
  if (const auto* m = body->if_contains("metadata"); m && !m->is_null() && !m->is_object()) {
    if (!issues.empty()) issues += "; ";
    issues += "[body.metadata] Invalid input: expected record, received " + std::string(TypeName(m));
  }
  if (!issues.empty()) co_return ErrorResponse(req, ErrorCode::kValidationError, std::move(issues));
  // Better Auth's origin check order: callbackURL, errorCallbackURL, newUserCallbackURL (CS-04).
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  if (error_callback && !IsAllowedRedirect(*error_callback))
    co_return ErrorResponse(req, ErrorCode::kInvalidErrorCallbackUrl);
  if (new_user_callback && !IsAllowedRedirect(*new_user_callback))
    co_return ErrorResponse(req, ErrorCode::kInvalidNewUserCallbackUrl);
  // Better Auth keeps the address as typed; its lookups and inserts lower-case it, so storing it lower-cased is
  // the same.
  const std::string email = AsciiLower(email_raw);

  const std::string token = crypto::RandomString(kMagicTokenLength, kLetters);
  const std::string value = LinkValue(email, name);
  const EpochMs now = NowMs();
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    // The identifier is the token itself, stored hashed (Better Auth's storeToken: "hashed").
    auto saved = co_await InsertVerification(**db, token, value, now + cfg_.magic_link_ttl_s * 1000, now);
    if (!saved) co_return ErrorResponse(req, saved.error());
  }
  // Relative URLs return to the app that asked (its Origin), not to the auth host (sdk-contract §4.5).
  std::string url = AuthUrl("/magic-link/verify") + "?token=" + token + "&callbackURL=" +
                    crypto::UriComponentEncode(ResolveAppUrl(req, callback ? *callback : std::string_view("/")));
  if (new_user_callback)
    url += "&newUserCallbackURL=" + crypto::UriComponentEncode(ResolveAppUrl(req, *new_user_callback));
  if (error_callback) url += "&errorCallbackURL=" + crypto::UriComponentEncode(ResolveAppUrl(req, *error_callback));
  mail::TemplateVars vars;
  vars.url = std::move(url);
  vars.expires_minutes = static_cast<int>((cfg_.magic_link_ttl_s + 59) / 60);
  if (cfg_.magic_link_sign_up) {
    // The link may create the account: every address gets it.
    SendMail(mail::Template::kMagicLink, email, std::move(vars));
  } else {
    MailAfterLookup(req.worker, email, MailIf::kAccountExists, mail::Template::kMagicLink, email, std::move(vars));
  }
  co_return Json(req, "{\"status\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// GET /magic-link/verify?token&callbackURL&newUserCallbackURL&errorCallbackURL

asio::awaitable<Response> AuthService::VerifyMagicLink(Request& req) {
  // Better Auth checks the three with one originCheck each, all reporting INVALID_CALLBACK_URL.
  auto callback = QueryRedirect(req, "callbackURL", ErrorCode::kInvalidCallbackUrl);
  if (!callback) co_return ErrorResponse(req, callback.error());
  auto new_user_callback = QueryRedirect(req, "newUserCallbackURL", ErrorCode::kInvalidCallbackUrl);
  if (!new_user_callback) co_return ErrorResponse(req, new_user_callback.error());
  auto error_callback = QueryRedirect(req, "errorCallbackURL", ErrorCode::kInvalidCallbackUrl);
  if (!error_callback) co_return ErrorResponse(req, error_callback.error());
  if (QueryRepeated(req.query, "token"))
    co_return ErrorResponse(req, ErrorCode::kValidationError,
                            "[query.token] Invalid input: expected string, received array");
  const auto token = req.Query("token");
  if (!token)
    co_return ErrorResponse(req, ErrorCode::kValidationError,
                            "[query.token] Invalid input: expected string, received undefined");
  // Better Auth: `new URL(url, baseURL)` for each target; errors and new users fall back to callbackURL.
  const std::string success_url = AbsoluteUrl(callback->empty() ? std::string_view("/") : std::string_view(*callback));
  const std::string error_url = error_callback->empty() ? success_url : AbsoluteUrl(*error_callback);
  const std::string new_user_url = new_user_callback->empty() ? success_url : AbsoluteUrl(*new_user_callback);
  // The page carries the token in its URL: every answer goes out with Referrer-Policy: no-referrer (Redirect).
  const auto fail = [&](std::string_view error) {
    LogVerifyFailed(error);
    return Redirect(req, AppendQueryParam(error_url, "error", error));
  };

  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  const EpochMs now = NowMs();
  // Atomic consume: of N parallel uses of one link exactly one signs in (TK-03).
  auto consumed = co_await ConsumeVerification(**db, *token, now);
  if (!consumed) co_return ErrorResponse(req, consumed.error());
  if (!*consumed) co_return fail("INVALID_TOKEN");
  const auto payload = ParseLinkValue(**consumed);
  if (!payload) co_return fail("INVALID_TOKEN");
  // The link proves the mailbox: an absent user is created verified (when sign-up by link is on), an unverified
  // one loses the password and sessions nobody proved to own (revokeUnprovenAccountAccess).
  auto proven = co_await UpsertProvenUser(**db, payload->email, payload->name, std::nullopt, cfg_.magic_link_sign_up, now);
  if (!proven) co_return ErrorResponse(req, proven.error());
  if (!*proven) co_return fail("new_user_signup_disabled");
  const UserRow& user = (*proven)->user;
  const bool created = (*proven)->created;
  if (created) LogUser("auth.sign_up_magic_link", user.id);
  if (user.IsBanned(now)) {
    if (callback->empty()) co_return ErrorResponse(req, ErrorCode::kBannedUser);
    co_return fail("banned");
  }
  auto session = co_await CreateSessionFor(req, **db, user.id);
  if (!session) co_return ErrorResponse(req, session.error());
  LogUser("auth.sign_in_magic_link", user.id);

  if (callback->empty()) {
    Response res = Json(req, "{\"token\":" + JsonString(session->token) + ",\"user\":" + UserJson(user) +
                                 ",\"session\":" + SessionJson(*session) + "}");
    res.set("referrer-policy", "no-referrer");
    SetSessionCookies(res, session->token, false);
    co_return res;
  }
  // A top-level page on the auth host: the app gets the session through the verifier on its next get-session
  // (the cookie set here may live in another partition: sdk-contract §4.1, §4.5).
  std::string target = created ? new_user_url : success_url;
  auto location = co_await WithSessionVerifier(**db, std::move(target), *session);
  if (!location) co_return ErrorResponse(req, location.error());
  Response res = Redirect(req, *location);
  SetSessionCookies(res, session->token, false);
  co_return res;
}

}  // namespace pgwarden::auth
