//! POST /sign-up/email {name, email, password, image?, callbackURL?, rememberMe?}
//! -> 200 {token, user} + session cookie; 422 for a taken email; 400 for bad input.
#include "auth/body.hpp"
#include "auth/service.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/password.hpp"
#include "crypto/random.hpp"

namespace pgwarden::auth {

namespace {
// Fields that only the server sets (Better Auth `input: false`); a client sending one is refused (IV-03).
constexpr std::string_view kServerOnlyUserFields[] = {"role", "banned", "banReason", "banExpires", "isAnonymous"};
}  // namespace

Response AuthService::DuplicateSignUp(const Request& req, std::string_view name, std::string_view email,
                                      std::optional<std::string_view> image) const {
  SendMail(mail::Template::kAccountExists, std::string(email), {});
  log::Info("auth.sign_up_duplicate", {});
  UserRow fake;
  fake.id = crypto::RandomUuid();
  fake.name = std::string(name);
  fake.email = std::string(email);
  if (image) fake.image = std::string(*image);
  fake.created_at = fake.updated_at = NowMs();
  fake.is_anonymous = false;
  fake.role = "user";
  fake.banned = false;
  return Json(req, "{\"token\":null,\"user\":" + UserJson(fake) + "}");
}

asio::awaitable<Response> AuthService::SignUpEmail(Request& req) {
  if (auto ok = CheckOrigin(req, /*login=*/true); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req, BodyShape::kObjectAndRecord, /*allow_form=*/true);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto name = in.RequiredString("name");
  const auto email_raw = in.Email("email");
  const auto password = in.RequiredString("password");
  const auto image = in.OptionalString("image");
  const auto callback = in.OptionalUrl("callbackURL");
  const auto remember = in.OptionalBool("rememberMe");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  for (const auto field : kServerOnlyUserFields) {
    if (body->contains(field))
      co_return ErrorResponse(req, ErrorCode::kFieldNotAllowed, std::string(field) + " is not allowed to be set");
  }
  if (callback && !IsAllowedRedirect(*callback)) co_return ErrorResponse(req, ErrorCode::kInvalidCallbackUrl);
  if (auto ok = CheckPasswordLength(password); !ok) co_return ErrorResponse(req, ok.error());
  const std::string email = AsciiLower(email_raw);

  bool taken = false;
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto exists = co_await EmailExists(**db, email);
    if (!exists) co_return ErrorResponse(req, exists.error());
    taken = *exists;
    // Without enumeration protection (Better Auth's autoSignIn mode) a taken address is a 422.
    if (taken && !cfg_.require_email_verification)
      co_return ErrorResponse(req, ErrorCode::kUserAlreadyExistsUseAnotherEmail);
  }  // the connection is not held while hashing

  std::string pw(password);
  if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");
  // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
  auto cpu_task = [pw, mode = cfg_.password_hash] { return crypto::HashPassword(pw, mode); };
  const std::string hash = co_await OnCpu(std::move(cpu_task));
  // With verification required the answer must not tell a taken address (EN-03, Better Auth 1.6): the password
  // was hashed all the same, the owner is told by mail, and the caller gets a made-up unverified user.
  if (taken) co_return DuplicateSignUp(req, name, email, image);

  const EpochMs now = NowMs();
  const bool dont_remember = remember.has_value() && !*remember;
  std::optional<NewSession> session;
  if (!cfg_.require_email_verification) {
    const std::int64_t ttl = dont_remember ? 24 * 3600 : cfg_.session_expires_in_s;
    session = NewSession{NewSessionToken(), now + ttl * 1000, ClientIp(req),
                         std::string(req.Header(http::bhttp::field::user_agent))};
  }
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  auto created = co_await CreateUserWithPassword(**db, name, email, image, hash, now, session);
  if (!created) {
    if (created.error().sqlstate == db::kUniqueViolation) {
      if (cfg_.require_email_verification) co_return DuplicateSignUp(req, name, email, image);
      co_return ErrorResponse(req, ErrorCode::kUserAlreadyExistsUseAnotherEmail);
    }
    co_return ErrorResponse(req, created.error());
  }
  const auto& [user, new_session] = *created;
  log::Info("auth.sign_up", {{"user_id", user.id}});
  if (cfg_.send_verification_on_sign_up)
    SendVerificationLink(mail::Template::kVerifyEmail, user.email, user.email, std::nullopt, std::nullopt,
                         callback ? ResolveAppUrl(req, *callback) : std::string());
  std::string out = "{\"token\":";
  out += new_session ? JsonString(new_session->token) : "null";
  out += ",\"user\":" + UserJson(user) + "}";
  Response res = Json(req, std::move(out));
  if (new_session) SetSessionCookies(res, new_session->token, dont_remember);
  co_return res;
}

}  // namespace pgwarden::auth
