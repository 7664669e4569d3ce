//! Email OTP (Better Auth's emailOTP plugin): six-digit codes mailed for sign-in, address verification, password
//! reset and change of address.
//!   POST /email-otp/send-verification-otp {email, type}      -> {success:true} (same answer for any address)
//!   POST /email-otp/check-verification-otp {email, type, otp} -> {success:true}; the code stays usable
//!   POST /email-otp/verify-email {email, otp}                 -> {status:true, token, user} + session cookie
//!   POST /sign-in/email-otp {email, otp, name?, image?}       -> {token, user} + session cookie (creates users)
//!   POST /email-otp/request-password-reset {email}            -> {success:true} (also /forget-password/email-otp)
//!   POST /email-otp/reset-password {email, otp, password}     -> {success:true} (also /email-otp/passcode)
//!   POST /email-otp/request-email-change {newEmail, otp?}     -> {success:true}; code to the new address
//!   POST /email-otp/change-email {newEmail, otp}              -> {success:true}; the address changes
//! Codes are stored hashed under "<type>-otp-<email>" (verification.hpp): a new code replaces the old one (TK-07),
//! one younger than the resend interval is not replaced (429), 3 wrong answers kill a code (RL-06), a good one is
//! consumed exactly once (TK-03), and a code of one type never serves another (TK-02).
#include "auth/body.hpp"
#include "auth/service.hpp"
#include "auth/verification.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/password.hpp"
#include "crypto/random.hpp"

namespace pgwarden::auth {
namespace {
constexpr std::size_t kOtpLength = 6;  // Better Auth's otpLength
constexpr std::string_view kOtpDigits = "0123456789";
constexpr std::string_view kOtpTypes[] = {"email-verification", "sign-in", "forget-password", "change-email"};

// Zod issues in schema order, gathered from BodyReaders and the checks BodyReader has no reader for (enums),
// joined as BodyReader::Failure joins them.
class Issues {
 public:
  void Add(const BodyReader& in) {
    if (!in.Ok()) Add(std::string(in.Failure().Message()));
  }
  void Add(std::string issue) {
    if (issue.empty()) return;
    if (!msg_.empty()) msg_ += "; ";
    msg_ += issue;
  }
  bool Ok() const { return msg_.empty(); }
  Error Failure() const { return MakeError(ErrorCode::kValidationError, msg_); }

 private:
  std::string msg_;
};

// Better Auth's z.enum(types): any value outside the list, absent included, gets the one "Invalid option" issue.
std::string_view ReadOtpType(const json::object& body, Issues& issues) {
  if (const auto* v = body.if_contains("type"); v && v->is_string()) {
    const std::string_view s(v->get_string().data(), v->get_string().size());
    for (const auto t : kOtpTypes)
      if (s == t) return t;
  }
  std::string issue = "[body.type] Invalid option: expected one of ";
  for (size_t i = 0; i < std::size(kOtpTypes); ++i) {
    if (i) issue += '|';
    issue += JsonString(kOtpTypes[i]);
  }
  issues.Add(std::move(issue));
  return {};
}

std::optional<ErrorCode> OtpFailure(OtpCheck check) {
  switch (check) {
    case OtpCheck::kOk: return std::nullopt;
    case OtpCheck::kInvalid: return ErrorCode::kInvalidOtp;
    case OtpCheck::kExpired: return ErrorCode::kOtpExpired;
    case OtpCheck::kTooManyAttempts: return ErrorCode::kTooManyAttempts;
  }
  return ErrorCode::kInvalidOtp;
}

mail::Template CodeTemplate(std::string_view type) {
  if (type == "sign-in") return mail::Template::kOtpSignIn;
  if (type == "forget-password") return mail::Template::kOtpForgetPassword;
  if (type == "change-email") return mail::Template::kOtpChangeEmail;
  return mail::Template::kOtpEmailVerification;
}

mail::TemplateVars CodeVars(std::string code, std::int64_t ttl_s) {
  mail::TemplateVars vars;
  vars.code = std::move(code);
  vars.expires_minutes = static_cast<int>((ttl_s + 59) / 60);
  return vars;
}


// Logging helpers: no initializer_list inside the coroutines (g++ 12).
void LogUser(std::string_view event, std::string_view user_id) { log::Info(event, {{"user_id", user_id}}); }
void LogCodeIssued(std::string_view type) { log::Info("auth.otp_issued", {{"type", type}}); }
void LogSignInFailed(OtpCheck check) {
  log::Info("auth.sign_in_otp_failed", {{"reason", check == OtpCheck::kExpired           ? "expired"
                                                   : check == OtpCheck::kTooManyAttempts ? "too_many_attempts"
                                                                                         : "invalid"}});
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/send-verification-otp {email, type}

asio::awaitable<Response> AuthService::SendVerificationOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  Issues issues;
  BodyReader in(*body);
  const auto email_raw = in.RequiredString("email");
  issues.Add(in);
  const std::string_view type = ReadOtpType(*body, issues);
  if (!issues.Ok()) co_return ErrorResponse(req, issues.Failure());
  const std::string email = AsciiLower(email_raw);
  if (!IsValidEmail(email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);
  // Codes for a change of address are bound to both addresses: only /email-otp/request-email-change issues them.
  if (type == "change-email") co_return ErrorResponse(req, ErrorCode::kInvalidOtpType);

  const std::string identifier = OtpIdentifier(type, email);
  std::string code = crypto::RandomString(kOtpLength, kOtpDigits);
  const EpochMs now = NowMs();
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    // Issued for known and unknown addresses alike: the 429 of a second request must not tell them apart.
    auto issued = co_await IssueOtp(**db, identifier, code, now + cfg_.otp_ttl_s * 1000, now, cfg_.otp_resend_interval_s);
    if (!issued) co_return ErrorResponse(req, issued.error());
    if (!issued->issued) co_return TooManyRequests(req, issued->retry_after_s);  // the old code stays valid (TK-07)
  }
  LogCodeIssued(type);
  if (type == "sign-in") {
    // Sign-in creates the account: every address gets its code (Better Auth, disableSignUp off).
    SendMail(mail::Template::kOtpSignIn, email, CodeVars(std::move(code), cfg_.otp_ttl_s));
  } else {
    MailAfterLookup(req.worker, email, MailIf::kAccountExists, CodeTemplate(type), email,
                    CodeVars(std::move(code), cfg_.otp_ttl_s));
  }
  co_return Json(req, "{\"success\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/check-verification-otp {email, type, otp}

asio::awaitable<Response> AuthService::CheckVerificationOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  Issues issues;
  BodyReader in_email(*body);
  const auto email_raw = in_email.RequiredString("email");
  issues.Add(in_email);
  const std::string_view type = ReadOtpType(*body, issues);
  BodyReader in_otp(*body);
  const auto otp = in_otp.RequiredString("otp");
  issues.Add(in_otp);
  if (!issues.Ok()) co_return ErrorResponse(req, issues.Failure());
  const std::string email = AsciiLower(email_raw);
  if (!IsValidEmail(email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);

  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  // Better Auth looks the user up before the code.
  auto found = co_await FindUserByEmail(**db, email);
  if (!found) co_return ErrorResponse(req, found.error());
  if (!*found) co_return ErrorResponse(req, ErrorCode::kUserNotFound);
  const std::string identifier = OtpIdentifier(type, email);
  // Not consumed (the code is used next, e.g. with reset-password), but a wrong guess still counts (RL-06).
  auto check = co_await CheckOtp(**db, identifier, otp, cfg_.otp_attempts, /*consume=*/false, NowMs());
  if (!check) co_return ErrorResponse(req, check.error());
  if (const auto failure = OtpFailure(*check)) co_return ErrorResponse(req, *failure);
  co_return Json(req, "{\"success\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/verify-email {email, otp}

asio::awaitable<Response> AuthService::VerifyEmailOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.RequiredString("email");
  const auto otp = in.RequiredString("otp");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  const std::string email = AsciiLower(email_raw);
  if (!IsValidEmail(email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);

  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  const EpochMs now = NowMs();
  const std::string identifier = OtpIdentifier("email-verification", email);
  auto check = co_await CheckOtp(**db, identifier, otp, cfg_.otp_attempts, /*consume=*/true, now);
  if (!check) co_return ErrorResponse(req, check.error());
  if (const auto failure = OtpFailure(*check)) co_return ErrorResponse(req, *failure);
  auto found = co_await FindUserByEmail(**db, email);
  if (!found) co_return ErrorResponse(req, found.error());
  // Safe to tell: whoever holds a valid code for the address already knows.
  if (!*found) co_return ErrorResponse(req, ErrorCode::kUserNotFound);
  const std::string user_id = (*found)->user.id;
  const std::optional<std::string_view> same_address;
  auto marked = co_await MarkEmailVerified(**db, user_id, email, same_address, now);
  if (!marked) co_return ErrorResponse(req, marked.error());
  UserRow user;
  if (*marked) {
    user = std::move(**marked);
    LogUser("auth.email_verified", user_id);
  } else {  // already verified (or verified concurrently): the row as it is
    auto reloaded = co_await FindUserById(**db, user_id);
    if (!reloaded) co_return ErrorResponse(req, reloaded.error());
    if (!*reloaded) co_return ErrorResponse(req, ErrorCode::kUserNotFound);
    user = std::move(**reloaded);
  }
  // autoSignInAfterVerification (Neon). A banned user is verified but gets no session (Better Auth's admin hook).
  if (user.IsBanned(now)) co_return ErrorResponse(req, ErrorCode::kBannedUser);
  auto session = co_await CreateSessionFor(req, **db, user.id);
  if (!session) co_return ErrorResponse(req, session.error());
  Response res = Json(req, "{\"status\":true,\"token\":" + JsonString(session->token) + ",\"user\":" + UserJson(user) + "}");
  SetSessionCookies(res, session->token, false);
  co_return res;
}

// ---------------------------------------------------------------------------------------------------------
// POST /sign-in/email-otp {email, otp, name?, image?}

asio::awaitable<Response> AuthService::SignInEmailOtp(Request& req) {
  if (auto ok = CheckOrigin(req, /*login=*/true); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req, BodyShape::kObjectAndRecord);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.RequiredString("email");
  const auto otp = in.RequiredString("otp");
  const auto name = in.OptionalString("name");
  const auto image = in.OptionalString("image");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  // Server-only user fields (role, banned, ...) in the body are ignored: the new user gets the defaults.
  const std::string email = AsciiLower(email_raw);
  if (!IsValidEmail(email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);

  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  const EpochMs now = NowMs();
  const std::string identifier = OtpIdentifier("sign-in", email);
  auto check = co_await CheckOtp(**db, identifier, otp, cfg_.otp_attempts, /*consume=*/true, now);
  if (!check) co_return ErrorResponse(req, check.error());
  if (const auto failure = OtpFailure(*check)) {
    LogSignInFailed(*check);
    co_return ErrorResponse(req, *failure);
  }
  // The code proves the mailbox: an absent user is created verified, an unverified one loses the password and
  // sessions nobody proved to own (revokeUnprovenAccountAccess) and becomes verified.
  const std::string_view display_name = name ? *name : std::string_view();
  auto proven = co_await UpsertProvenUser(**db, email, display_name, image, /*create=*/true, now);
  if (!proven) co_return ErrorResponse(req, proven.error());
  if (!*proven) co_return ErrorResponse(req, ErrorCode::kFailedToCreateUser);
  UserRow user = std::move((*proven)->user);
  if ((*proven)->created) {
    LogUser("auth.sign_up_otp", user.id);
  }
  if (user.IsBanned(now)) co_return ErrorResponse(req, ErrorCode::kBannedUser);
  auto session = co_await CreateSessionFor(req, **db, user.id);
  if (!session) co_return ErrorResponse(req, session.error());
  LogUser("auth.sign_in_otp", user.id);
  Response res = Json(req, "{\"token\":" + JsonString(session->token) + ",\"user\":" + UserJson(user) + "}");
  SetSessionCookies(res, session->token, false);
  co_return res;
}

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/request-password-reset {email}   (and the deprecated /forget-password/email-otp)

asio::awaitable<Response> AuthService::RequestPasswordResetOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.RequiredString("email");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  const std::string email = AsciiLower(email_raw);
  // Better Auth does not check the syntax here; no code is ever kept for an address that cannot receive it (TK-08).
  if (!IsValidEmail(email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);

  const std::string identifier = OtpIdentifier("forget-password", email);
  std::string code = crypto::RandomString(kOtpLength, kOtpDigits);
  const EpochMs now = NowMs();
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    auto issued = co_await IssueOtp(**db, identifier, code, now + cfg_.otp_ttl_s * 1000, now, cfg_.otp_resend_interval_s);
    if (!issued) co_return ErrorResponse(req, issued.error());
    if (!issued->issued) co_return TooManyRequests(req, issued->retry_after_s);  // the old code stays valid (TK-07)
  }
  LogCodeIssued("forget-password");
  MailAfterLookup(req.worker, email, MailIf::kAccountExists, mail::Template::kOtpForgetPassword, email,
                  CodeVars(std::move(code), cfg_.otp_ttl_s));
  co_return Json(req, "{\"success\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/reset-password {email, otp, password}   (and the toolkit's /email-otp/passcode)

asio::awaitable<Response> AuthService::ResetPasswordOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto email_raw = in.RequiredString("email");
  const auto otp = in.RequiredString("otp");
  const auto password = in.RequiredString("password");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  const std::string email = AsciiLower(email_raw);
  if (!IsValidEmail(email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);
  // The password rules before the code: a refused password must not burn the code (Better Auth checks after).
  if (auto ok = CheckPasswordLength(password); !ok) co_return ErrorResponse(req, ok.error());
  if (!CpuAvailable()) co_return ErrorResponse(req, ErrorCode::kServiceUnavailable, "password hashing queue full");

  UserRow user;
  {
    auto db = co_await Db(req);
    if (!db) co_return ErrorResponse(req, db.error());
    const std::string identifier = OtpIdentifier("forget-password", email);
    // The code is checked (and consumed) before any hashing: a guess costs no CPU-pool time.
    auto check = co_await CheckOtp(**db, identifier, otp, cfg_.otp_attempts, /*consume=*/true, NowMs());
    if (!check) co_return ErrorResponse(req, check.error());
    if (const auto failure = OtpFailure(*check)) co_return ErrorResponse(req, *failure);
    auto found = co_await FindUserByEmail(**db, email);
    if (!found) co_return ErrorResponse(req, found.error());
    if (!*found) co_return ErrorResponse(req, ErrorCode::kUserNotFound);
    user = std::move((*found)->user);
  }  // the connection is not held while hashing

  const std::string pw(password);
  // Named first: a lambda temporary inside a co_await expression is destroyed twice by g++ 12.
  auto cpu_task = [pw, mode = cfg_.password_hash] { return crypto::HashPassword(pw, mode); };
  const std::string hash = co_await OnCpu(std::move(cpu_task));
  auto db = co_await Db(req);
  if (!db) co_return ErrorResponse(req, db.error());
  // The code proved the mailbox: the address becomes verified; the sessions end when so configured (TK-04).
  auto set = co_await SetPassword(**db, user.id, hash, cfg_.revoke_sessions_on_password_reset,
                                  /*mark_verified=*/true, NowMs());
  if (!set) co_return ErrorResponse(req, set.error());
  LogUser("auth.password_reset_otp", user.id);
  mail::TemplateVars notice;
  SendMail(mail::Template::kPasswordChanged, email, std::move(notice));
  co_return Json(req, "{\"success\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/request-email-change {newEmail, otp?}

asio::awaitable<Response> AuthService::RequestEmailChangeOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto new_raw = in.RequiredString("newEmail");
  const auto otp = in.OptionalString("otp");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  const std::string email = AsciiLower(authed->cur.user.email);
  const std::string new_email = AsciiLower(new_raw);
  if (!IsValidEmail(new_email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);
  if (new_email == email) co_return ErrorResponse(req, ErrorCode::kEmailIsTheSame);
  const EpochMs now = NowMs();
  if (cfg_.otp_verify_current_email) {
    // changeEmail.verifyCurrentEmail: the current address proves itself with its email-verification code first.
    if (!otp || otp->empty()) co_return ErrorResponse(req, ErrorCode::kOtpRequiredForCurrentEmail);
    const std::string current_id = OtpIdentifier("email-verification", email);
    auto check = co_await CheckOtp(*authed->db, current_id, *otp, cfg_.otp_attempts, /*consume=*/true, now);
    if (!check) co_return ErrorResponse(req, check.error());
    if (const auto failure = OtpFailure(*check)) co_return ErrorResponse(req, *failure);
  }
  // The code is bound to both addresses: it changes this account to this address only (TK-02).
  const std::string identifier = OtpIdentifier("change-email", email + "-" + new_email);
  std::string code = crypto::RandomString(kOtpLength, kOtpDigits);
  auto issued =
      co_await IssueOtp(*authed->db, identifier, code, now + cfg_.otp_ttl_s * 1000, now, cfg_.otp_resend_interval_s);
  if (!issued) co_return ErrorResponse(req, issued.error());
  if (!issued->issued) co_return TooManyRequests(req, issued->retry_after_s);  // the old code stays valid (TK-07)
  LogCodeIssued("change-email");
  // A taken address gets the same answer and no mail (EN-03).
  mail::TemplateVars vars = CodeVars(std::move(code), cfg_.otp_ttl_s);
  vars.new_email = new_email;
  MailAfterLookup(req.worker, new_email, MailIf::kNoAccount, mail::Template::kOtpChangeEmail, new_email,
                  std::move(vars));
  co_return Json(req, "{\"success\":true}");
}

// ---------------------------------------------------------------------------------------------------------
// POST /email-otp/change-email {newEmail, otp}

asio::awaitable<Response> AuthService::ChangeEmailOtp(Request& req) {
  if (auto ok = CheckOrigin(req, false); !ok) co_return ErrorResponse(req, ok.error());
  auto body = ParseBody(req);
  if (!body) co_return ErrorResponse(req, body.error());
  BodyReader in(*body);
  const auto new_raw = in.RequiredString("newEmail");
  const auto otp = in.RequiredString("otp");
  if (!in.Ok()) co_return ErrorResponse(req, in.Failure());
  auto authed = co_await RequireSession(req);
  if (!authed) co_return ErrorResponse(req, authed.error());
  auto& db = authed->db;
  const CurrentSession& cur = authed->cur;
  const std::string email = AsciiLower(cur.user.email);
  const std::string new_email = AsciiLower(new_raw);
  if (!IsValidEmail(new_email)) co_return ErrorResponse(req, ErrorCode::kInvalidEmail);
  if (new_email == email) co_return ErrorResponse(req, ErrorCode::kEmailIsTheSame);
  const EpochMs now = NowMs();
  const std::string identifier = OtpIdentifier("change-email", email + "-" + new_email);
  auto check = co_await CheckOtp(*db, identifier, otp, cfg_.otp_attempts, /*consume=*/true, now);
  if (!check) co_return ErrorResponse(req, check.error());
  if (const auto failure = OtpFailure(*check)) co_return ErrorResponse(req, *failure);
  // Safe to tell after a valid code (Better Auth).
  auto taken = co_await EmailExists(*db, new_email);
  if (!taken) co_return ErrorResponse(req, taken.error());
  if (*taken) co_return ErrorResponse(req, ErrorCode::kEmailAlreadyInUse);
  const std::optional<std::string_view> target(new_email);
  auto updated = co_await MarkEmailVerified(*db, cur.user.id, email, target, now);
  if (!updated) {
    // Taken between the check and the update.
    if (updated.error().sqlstate == db::kUniqueViolation) co_return ErrorResponse(req, ErrorCode::kEmailAlreadyInUse);
    co_return ErrorResponse(req, updated.error());
  }
  // The account no longer has the address the code was issued for (a concurrent change).
  if (!*updated) co_return ErrorResponse(req, ErrorCode::kUserNotFound);
  LogUser("auth.email_changed_otp", cur.user.id);
  Response res = Json(req, "{\"success\":true}");
  SetSessionCookies(res, cur.session.token, cur.dont_remember);
  co_return res;
}

}  // namespace pgwarden::auth
