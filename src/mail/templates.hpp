//! The messages pgwarden sends, as templates: a subject, a plain-text body and an HTML body for each kind.
//! Built-in English templates cover every kind; an operator overrides any of the three parts by dropping a
//! file into the configured folder (PGWARDEN_EMAIL_TEMPLATES): `<name>.subject`, `<name>.txt`, `<name>.html`
//! (names from `TemplateName`, e.g. `reset-password.html`). Placeholders are `{{app_name}}`, `{{email}}`,
//! `{{new_email}}`, `{{url}}`, `{{code}}`, `{{expires_minutes}}`; in the HTML body every value is HTML-escaped,
//! in the subject line breaks are removed. Unknown placeholders are a load error (a typo must not mail a
//! literal "{{ulr}}" to every user).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace pgwarden::mail {

enum class Template {
  kVerifyEmail,              //!< link: confirm the address (sign-up, send-verification-email)
  kChangeEmailConfirmation,  //!< link to the OLD address: approve the change to {{new_email}}
  kChangeEmailVerification,  //!< link to the NEW address: confirm it
  kResetPassword,            //!< link: choose a new password
  kPasswordChanged,          //!< notice after a reset or change (no link, no secret)
  kOtpSignIn,                //!< code: sign in
  kOtpEmailVerification,     //!< code: verify the address
  kOtpForgetPassword,        //!< code: reset the password
  kOtpChangeEmail,           //!< code to the NEW address: confirm the change
  kMagicLink,                //!< link: sign in
  kDeleteAccount,            //!< link: confirm the deletion of the account
  kAccountExists,            //!< notice: someone tried to sign up with this (registered) address
  kCount
};

//! File-name stem of a template ("verify-email", "otp-sign-in", ...).
std::string_view TemplateName(Template t);

struct TemplateVars {
  std::string app_name;
  std::string email;      //!< the recipient
  std::string new_email;  //!< change-email flows
  std::string url;        //!< the action link (empty for codes and notices)
  std::string code;       //!< one-time code (OTP templates)
  int expires_minutes = 0;
};

struct RenderedMail {
  std::string subject;
  std::string text;
  std::string html;
};

class Templates {
 public:
  //! Built-ins only.
  Templates();
  //! Built-ins overridden by the files found in `dir` (missing files keep the built-in part). Errors
  //! (kValidationError) name the file: unreadable, not UTF-8, larger than 256 KiB, unknown placeholder.
  static Result<Templates> Load(const std::string& dir);

  RenderedMail Render(Template t, const TemplateVars& vars) const;

 private:
  struct Parts {
    std::string subject, text, html;
  };
  std::array<Parts, static_cast<size_t>(Template::kCount)> parts_;
};

}  // namespace pgwarden::mail
