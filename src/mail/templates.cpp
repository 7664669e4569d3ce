#include "mail/templates.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "core/text.hpp"

namespace pgwarden::mail {
namespace {

constexpr std::size_t kMaxFileBytes = 256 * 1024;
constexpr std::size_t kCount = static_cast<std::size_t>(Template::kCount);
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

Error Invalid(std::string message) { return MakeError(ErrorCode::kValidationError, std::move(message)); }

// ---- placeholders ----------------------------------------------------------------------------------------------

enum class Var { kAppName, kEmail, kNewEmail, kUrl, kCode, kExpiresMinutes };

struct VarName {
  Var var;
  std::string_view name;
};
constexpr VarName kVarNames[] = {
    {Var::kAppName, "app_name"}, {Var::kEmail, "email"}, {Var::kNewEmail, "new_email"},
    {Var::kUrl, "url"},          {Var::kCode, "code"},   {Var::kExpiresMinutes, "expires_minutes"},
};

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

//! What starts at an occurrence of "{{": a known placeholder, or why it is not one.
struct Token {
  enum Kind { kPlaceholder, kUnknown, kUnterminated } kind;
  Var var = Var::kAppName;
  std::string_view inner;  //!< the name as written (trimmed), for kUnknown
  std::size_t end = 0;     //!< one past the closing "}}" (kPlaceholder, kUnknown)
};

//! `at` is the position of "{{" in `s`. The closing "}}" must be on the same line; blanks around the name are
//! allowed ("{{ url }}").
Token ReadToken(std::string_view s, std::size_t at) {
  const std::size_t open_end = at + 2;
  const std::size_t close = s.find("}}", open_end);
  const std::size_t newline = s.find('\n', open_end);
  if (close == std::string_view::npos || (newline != std::string_view::npos && newline < close)) {
    return {Token::kUnterminated, Var::kAppName, {}, 0};
  }
  const std::string_view inner = TrimBlanks(s.substr(open_end, close - open_end));
  for (const VarName& v : kVarNames) {
    if (inner == v.name) return {Token::kPlaceholder, v.var, inner, close + 2};
  }
  return {Token::kUnknown, Var::kAppName, inner, close + 2};
}

//! The first "{{" that is not a known placeholder, described for an error message ("line 3: unknown placeholder
//! {{ulr}}"); nullopt when every one is known.
std::optional<std::string> FindBadPlaceholder(std::string_view s) {
  std::size_t pos = 0;
  while ((pos = s.find("{{", pos)) != std::string_view::npos) {
    const Token t = ReadToken(s, pos);
    if (t.kind == Token::kPlaceholder) {
      pos = t.end;
      continue;
    }
    std::string where = "line " + std::to_string(1 + std::count(s.begin(), s.begin() + pos, '\n')) + ": ";
    if (t.kind == Token::kUnknown) return where + "unknown placeholder {{" + std::string(t.inner) + "}}";
    const std::size_t eol = s.find('\n', pos);
    std::string_view rest = s.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    if (rest.size() > 24) rest = rest.substr(0, 24);
    return where + "\"{{\" without a closing \"}}\" on the same line: \"" + std::string(rest) + "\"";
  }
  return std::nullopt;
}

enum class Context { kSubject, kText, kHtml };

//! Control characters (C0, DEL, and the C1 range U+0080..U+009F in its UTF-8 form) become spaces: the subject
//! stays one header line whatever the values hold.
void AppendSubjectSafe(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      out += ' ';
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
}

std::string ValueOf(Var v, const TemplateVars& vars) {
  switch (v) {
    case Var::kAppName:
      return vars.app_name;
    case Var::kEmail:
      return vars.email;
    case Var::kNewEmail:
      return vars.new_email;
    case Var::kUrl:
      return vars.url;
    case Var::kCode:
      return vars.code;
    case Var::kExpiresMinutes:
      return std::to_string(vars.expires_minutes);
  }
  return {};
}

//! One pass over the template: inserted values are never scanned again, so a value holding "{{code}}" stays
//! literal. Anything that is not a known placeholder is copied as is (Load refuses such files; the built-ins
//! have none).
std::string Expand(std::string_view tmpl, const TemplateVars& vars, Context context) {
  std::string out;
  out.reserve(tmpl.size() + 256);
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    const std::size_t open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(pos));
      break;
    }
    const Token t = ReadToken(tmpl, open);
    if (t.kind != Token::kPlaceholder) {
      out.append(tmpl.substr(pos, open + 2 - pos));
      pos = open + 2;
      continue;
    }
    out.append(tmpl.substr(pos, open - pos));
    const std::string value = ValueOf(t.var, vars);
    switch (context) {
      case Context::kSubject:
        AppendSubjectSafe(out, value);
        break;
      case Context::kText:
        out += value;
        break;
      case Context::kHtml:
        AppendHtmlEscaped(out, value);
        break;
    }
    pos = t.end;
  }
  return out;
}

// ---- file checks -----------------------------------------------------------------------------------------------

//! Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      const auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xbf) return false;
    }
    i += len;
  }
  return true;
}

//! The file's content, or nullopt when it does not exist (the built-in part stays). Errors name the file.
Result<std::optional<std::string>> ReadOverride(const std::filesystem::path& path) {
  std::error_code ec;
  const auto link = std::filesystem::symlink_status(path, ec);
  if (link.type() == std::filesystem::file_type::not_found) return std::optional<std::string>();
  const auto st = std::filesystem::status(path, ec);
  if (ec || st.type() != std::filesystem::file_type::regular) {
    return Invalid(path.string() + ": not a readable regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(path.string() + ": cannot be read");
  std::string content(kMaxFileBytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return Invalid(path.string() + ": cannot be read");
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > kMaxFileBytes) {
    return Invalid(path.string() + ": larger than " + std::to_string(kMaxFileBytes / 1024) + " KiB");
  }
  if (!IsValidUtf8(content)) return Invalid(path.string() + ": not valid UTF-8");
  if (content.find('\0') != std::string::npos) return Invalid(path.string() + ": contains a NUL byte");
  if (content.starts_with(kUtf8Bom)) content.erase(0, kUtf8Bom.size());
  if (auto bad = FindBadPlaceholder(content)) return Invalid(path.string() + ": " + *bad);
  return std::optional<std::string>(std::move(content));
}

//! A subject file holds one line: trailing line breaks are dropped, blank lines are ignored, a second non-blank
//! line or any other control character is an error.
Result<std::string> SubjectLine(const std::filesystem::path& path, std::string_view content) {
  std::optional<std::string_view> line;
  std::size_t start = 0;
  while (start <= content.size()) {
    std::size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    std::string_view l = content.substr(start, end - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!TrimBlanks(l).empty()) {
      if (line) return Invalid(path.string() + ": a subject must be a single line");
      line = TrimBlanks(l);
    }
    start = end + 1;
  }
  if (!line) return Invalid(path.string() + ": the subject is empty");
  for (const char c : *line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return Invalid(path.string() + ": control character in the subject");
  }
  return std::string(*line);
}

// ---- built-in English templates --------------------------------------------------------------------------------

enum class Action { kLink, kCode, kNotice };

//! A built-in message: the text and HTML bodies are generated from the same paragraphs, so they always agree.
struct Builtin {
  std::string_view subject;
  std::string_view heading;
  std::vector<std::string_view> before;  //!< paragraphs before the link or code
  Action action = Action::kNotice;
  std::string_view button;              //!< link label (kLink)
  std::vector<std::string_view> after;  //!< paragraphs after it
};

constexpr std::string_view kIgnore = "If you did not request this, you can ignore this email.";
constexpr std::string_view kLinkExpiry = "This link expires in {{expires_minutes}} minutes.";
constexpr std::string_view kCodeExpiry =
    "This code expires in {{expires_minutes}} minutes. Do not share it with anyone.";

Builtin BuiltinFor(Template t) {
  switch (t) {
    case Template::kVerifyEmail:
      return {"Verify your email address for {{app_name}}",
              "Verify your email address",
              {"Please confirm that {{email}} is your email address for {{app_name}} by opening this link:"},
              Action::kLink,
              "Verify email address",
              {kLinkExpiry, kIgnore}};
    case Template::kChangeEmailConfirmation:
      return {"Approve the change of your {{app_name}} email address",
              "Approve your new email address",
              {"We received a request to change the email address of your {{app_name}} account from {{email}} to "
               "{{new_email}}.",
               "To approve this change, open this link:"},
              Action::kLink,
              "Approve the change",
              {kLinkExpiry,
               "If you did not request this, you can ignore this email. Your email address will not change. "
               "We recommend that you change your password."}};
    case Template::kChangeEmailVerification:
      return {"Confirm your new email address for {{app_name}}",
              "Confirm your new email address",
              {"Please confirm that {{new_email}} is the new email address of your {{app_name}} account by opening "
               "this link:"},
              Action::kLink,
              "Confirm email address",
              {kLinkExpiry, kIgnore}};
    case Template::kResetPassword:
      return {"Reset your {{app_name}} password",
              "Reset your password",
              {"We received a request to reset the password of your {{app_name}} account ({{email}}).",
               "To choose a new password, open this link:"},
              Action::kLink,
              "Reset password",
              {kLinkExpiry, "If you did not request this, you can ignore this email. Your password will not change."}};
    case Template::kPasswordChanged:
      return {"Your {{app_name}} password was changed",
              "Your password was changed",
              {"The password of your {{app_name}} account ({{email}}) was just changed."},
              Action::kNotice,
              {},
              {"If you made this change, there is nothing else to do.",
               "If you did not make this change, reset your password right away and contact support."}};
    case Template::kOtpSignIn:
      return {"Your {{app_name}} sign-in code",
              "Your sign-in code",
              {"Use this code to sign in to {{app_name}}:"},
              Action::kCode,
              {},
              {kCodeExpiry, kIgnore}};
    case Template::kOtpEmailVerification:
      return {"Your {{app_name}} verification code",
              "Your verification code",
              {"Use this code to verify your email address ({{email}}) for {{app_name}}:"},
              Action::kCode,
              {},
              {kCodeExpiry, kIgnore}};
    case Template::kOtpForgetPassword:
      return {"Your {{app_name}} password reset code",
              "Your password reset code",
              {"Use this code to reset the password of your {{app_name}} account ({{email}}):"},
              Action::kCode,
              {},
              {kCodeExpiry, "If you did not request this, you can ignore this email. Your password will not change."}};
    case Template::kOtpChangeEmail:
      return {"Confirm your new email address for {{app_name}}",
              "Confirm your new email address",
              {"Use this code to confirm {{new_email}} as the new email address of your {{app_name}} account:"},
              Action::kCode,
              {},
              {kCodeExpiry, kIgnore}};
    case Template::kMagicLink:
      return {"Sign in to {{app_name}}",
              "Sign in to {{app_name}}",
              {"Open this link to sign in to {{app_name}} as {{email}}:"},
              Action::kLink,
              "Sign in",
              {kLinkExpiry, kIgnore}};
    case Template::kDeleteAccount:
      return {"Confirm the deletion of your {{app_name}} account",
              "Confirm the deletion of your account",
              {"We received a request to delete your {{app_name}} account ({{email}}).",
               "This is permanent: your account and its data will be deleted and cannot be recovered.",
               "To confirm the deletion, open this link:"},
              Action::kLink,
              "Delete my account",
              {kLinkExpiry,
               "If you did not request this, you can ignore this email. Your account will not be deleted. "
               "We recommend that you change your password."}};
    case Template::kAccountExists:
      return {"Sign-up attempt for your {{app_name}} account",
              "You already have an account",
              {"Someone just tried to create a {{app_name}} account with your email address ({{email}}), which "
               "already has an account. No new account was created."},
              Action::kNotice,
              {},
              {"If it was you, sign in with your existing account, or reset your password if you forgot it.",
               "If it was not you, you can ignore this email: nothing changed."}};
    case Template::kCount:
      break;
  }
  return {};
}

std::string BuiltinText(const Builtin& b) {
  std::string out;
  for (const std::string_view p : b.before) (out += p) += "\n\n";
  if (b.action == Action::kLink) out += "{{url}}\n\n";
  if (b.action == Action::kCode) out += "{{code}}\n\n";
  for (const std::string_view p : b.after) (out += p) += "\n\n";
  out.pop_back();  // one newline at the end
  return out;
}

constexpr std::string_view kHtmlParagraph = "<p style=\"margin:0 0 16px;\">";
constexpr std::string_view kHtmlSmallParagraph = "<p style=\"margin:0 0 16px;font-size:14px;color:#52525b;\">";

std::string BuiltinHtml(const Builtin& b) {
  std::string out =
      "<!doctype html>\n"
      "<html lang=\"en\">\n"
      "<head>\n"
      "<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>";
  out += HtmlEscape(b.subject);
  out +=
      "</title>\n"
      "</head>\n"
      "<body style=\"margin:0;padding:0;background-color:#f4f4f5;\">\n"
      "<div style=\"max-width:560px;margin:0 auto;padding:32px 16px;font-family:-apple-system,BlinkMacSystemFont,"
      "'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#18181b;\">\n"
      "<div style=\"background-color:#ffffff;border-radius:8px;padding:32px;\">\n"
      "<h1 style=\"margin:0 0 24px;font-size:22px;line-height:1.3;\">";
  out += HtmlEscape(b.heading);
  out += "</h1>\n";
  for (const std::string_view p : b.before) ((out += kHtmlParagraph) += HtmlEscape(p)) += "</p>\n";
  if (b.action == Action::kLink) {
    out +=
        "<p style=\"margin:24px 0;\"><a href=\"{{url}}\" style=\"display:inline-block;padding:12px 24px;"
        "background-color:#18181b;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600;\">";
    out += HtmlEscape(b.button);
    out += "</a></p>\n";
    out += kHtmlSmallParagraph;
    out +=
        "If the button does not work, copy this link into your browser:<br>\n"
        "<a href=\"{{url}}\" style=\"color:#2563eb;word-break:break-all;\">{{url}}</a></p>\n";
  }
  if (b.action == Action::kCode) {
    out +=
        "<p style=\"margin:24px 0;padding:16px;background-color:#f4f4f5;border-radius:6px;text-align:center;"
        "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace;font-size:32px;"
        "font-weight:700;letter-spacing:6px;\">{{code}}</p>\n";
  }
  for (const std::string_view p : b.after) ((out += kHtmlSmallParagraph) += HtmlEscape(p)) += "</p>\n";
  out +=
      "</div>\n"
      "</div>\n"
      "</body>\n"
      "</html>\n";
  return out;
}

}  // namespace

std::string_view TemplateName(Template t) {
  switch (t) {
    case Template::kVerifyEmail:
      return "verify-email";
    case Template::kChangeEmailConfirmation:
      return "change-email-confirmation";
    case Template::kChangeEmailVerification:
      return "change-email-verification";
    case Template::kResetPassword:
      return "reset-password";
    case Template::kPasswordChanged:
      return "password-changed";
    case Template::kOtpSignIn:
      return "otp-sign-in";
    case Template::kOtpEmailVerification:
      return "otp-email-verification";
    case Template::kOtpForgetPassword:
      return "otp-forget-password";
    case Template::kOtpChangeEmail:
      return "otp-change-email";
    case Template::kMagicLink:
      return "magic-link";
    case Template::kDeleteAccount:
      return "delete-account";
    case Template::kAccountExists:
      return "account-exists";
    case Template::kCount:
      break;
  }
  return {};
}

Templates::Templates() {
  for (std::size_t i = 0; i < kCount; ++i) {
    const Builtin b = BuiltinFor(static_cast<Template>(i));
    parts_[i] = {std::string(b.subject), BuiltinText(b), BuiltinHtml(b)};
  }
}

Result<Templates> Templates::Load(const std::string& dir) {
  std::error_code ec;
  const auto st = std::filesystem::status(dir, ec);
  if (st.type() == std::filesystem::file_type::not_found) {
    return Invalid("email templates folder \"" + dir + "\" does not exist");
  }
  if (ec) return Invalid("email templates folder \"" + dir + "\" cannot be accessed: " + ec.message());
  if (st.type() != std::filesystem::file_type::directory) {
    return Invalid("email templates folder \"" + dir + "\" is not a directory");
  }
  // A misspelled override ("reset-pasword.html") would silently keep the built-in: refuse it instead. Other
  // files (a README, a logo) are left alone.
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto path = entry.path();
    const std::string ext = path.extension().string();
    if (ext != ".subject" && ext != ".txt" && ext != ".html") continue;
    const std::string stem = path.stem().string();
    bool known = false;
    for (std::size_t i = 0; i < kCount && !known; ++i) known = TemplateName(static_cast<Template>(i)) == stem;
    if (!known) return Invalid(path.string() + ": not a template name (expected one of verify-email, reset-password, ...)");
  }
  Templates out;
  for (std::size_t i = 0; i < kCount; ++i) {
    const std::string name(TemplateName(static_cast<Template>(i)));
    Parts& parts = out.parts_[i];
    const std::filesystem::path subject_path = std::filesystem::path(dir) / (name + ".subject");
    auto subject = ReadOverride(subject_path);
    if (!subject) return subject.error();
    if (*subject) {
      auto line = SubjectLine(subject_path, **subject);
      if (!line) return line.error();
      parts.subject = std::move(*line);
    }
    for (auto [ext, target] : {std::pair{".txt", &parts.text}, std::pair{".html", &parts.html}}) {
      auto body = ReadOverride(std::filesystem::path(dir) / (name + ext));
      if (!body) return body.error();
      if (*body) *target = std::move(**body);
    }
  }
  return out;
}

RenderedMail Templates::Render(Template t, const TemplateVars& vars) const {
  const auto i = static_cast<std::size_t>(t);
  if (i >= kCount) return {};
  const Parts& p = parts_[i];
  return {Expand(p.subject, vars, Context::kSubject), Expand(p.text, vars, Context::kText),
          Expand(p.html, vars, Context::kHtml)};
}

}  // namespace pgwarden::mail
