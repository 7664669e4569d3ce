//! Mail templates: every built-in renders completely, values are escaped per part (HTML, one-line subject, verbatim
//! text) in a single pass, and Load applies operator overrides or refuses a bad folder or file.
#include "mail/templates.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::mail {
namespace {

constexpr std::string_view kUrl = "https://app.example/verify?token=abc123";
constexpr std::string_view kCode = "482913";

std::vector<Template> AllTemplates() {
  std::vector<Template> out;
  for (int i = 0; i < static_cast<int>(Template::kCount); ++i) out.push_back(static_cast<Template>(i));
  return out;
}

bool IsLink(Template t) {
  return t == Template::kVerifyEmail || t == Template::kChangeEmailConfirmation ||
         t == Template::kChangeEmailVerification || t == Template::kResetPassword || t == Template::kMagicLink ||
         t == Template::kDeleteAccount;
}

//! Notices: no link, no code, nothing that expires.
bool IsNotice(Template t) { return t == Template::kPasswordChanged || t == Template::kAccountExists; }

bool IsCode(Template t) {
  return t == Template::kOtpSignIn || t == Template::kOtpEmailVerification || t == Template::kOtpForgetPassword ||
         t == Template::kOtpChangeEmail;
}

//! The values a caller passes for `t`: a url for links, a code for OTPs, neither for the notice.
TemplateVars VarsFor(Template t) {
  TemplateVars v;
  v.app_name = "Acme";
  v.email = "alice@example.org";
  v.new_email = "alice.new@example.org";
  if (IsLink(t)) v.url = std::string(kUrl);
  if (IsCode(t)) v.code = std::string(kCode);
  if (t != Template::kPasswordChanged) v.expires_minutes = 15;
  return v;
}

bool HasLine(const std::string& text, std::string_view line) {
  const std::string needle = "\n" + std::string(line) + "\n";
  return ("\n" + text + "\n").find(needle) != std::string::npos;
}

bool Contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != haystack.npos; }

//! A scratch folder (mkdtemp) removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pgw-templates-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string Write(const std::string& name, std::string_view content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    return p.string();
  }
  std::string Path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// ---- names -----------------------------------------------------------------------------------------------------

TEST(TemplateName, GivesTheDocumentedFileStems) {
  EXPECT_EQ(TemplateName(Template::kVerifyEmail), "verify-email");
  EXPECT_EQ(TemplateName(Template::kChangeEmailConfirmation), "change-email-confirmation");
  EXPECT_EQ(TemplateName(Template::kChangeEmailVerification), "change-email-verification");
  EXPECT_EQ(TemplateName(Template::kResetPassword), "reset-password");
  EXPECT_EQ(TemplateName(Template::kPasswordChanged), "password-changed");
  EXPECT_EQ(TemplateName(Template::kOtpSignIn), "otp-sign-in");
  EXPECT_EQ(TemplateName(Template::kOtpEmailVerification), "otp-email-verification");
  EXPECT_EQ(TemplateName(Template::kOtpForgetPassword), "otp-forget-password");
  EXPECT_EQ(TemplateName(Template::kOtpChangeEmail), "otp-change-email");
  EXPECT_EQ(TemplateName(Template::kMagicLink), "magic-link");
  EXPECT_EQ(TemplateName(Template::kDeleteAccount), "delete-account");
  EXPECT_EQ(TemplateName(Template::kAccountExists), "account-exists");
  std::set<std::string_view> names;
  for (const Template t : AllTemplates()) names.insert(TemplateName(t));
  EXPECT_EQ(names.size(), static_cast<std::size_t>(Template::kCount)) << "stems are unique";
}

// ---- built-ins -------------------------------------------------------------------------------------------------

TEST(Builtins, EveryTemplateRendersCompletely) {
  const Templates templates;
  for (const Template t : AllTemplates()) {
    SCOPED_TRACE(std::string(TemplateName(t)));
    const RenderedMail m = templates.Render(t, VarsFor(t));
    for (const std::string* part : {&m.subject, &m.text, &m.html}) {
      EXPECT_FALSE(part->empty());
      EXPECT_FALSE(Contains(*part, "{{")) << *part;
      EXPECT_FALSE(Contains(*part, "}}")) << *part;
    }
    EXPECT_FALSE(Contains(m.subject, "\n"));
    EXPECT_TRUE(Contains(m.subject, "Acme") || Contains(m.text, "Acme")) << "names the product";
    if (IsLink(t)) {
      EXPECT_TRUE(HasLine(m.text, kUrl)) << "the URL alone on its own line:\n" << m.text;
      EXPECT_TRUE(Contains(m.html, "<a href=\"" + std::string(kUrl) + "\"")) << m.html;
      EXPECT_TRUE(Contains(m.html, ">" + std::string(kUrl) + "<")) << "the URL shown as text";
    } else {
      EXPECT_FALSE(Contains(m.html, "href=")) << m.html;
      EXPECT_FALSE(Contains(m.text, "http")) << m.text;
    }
    if (IsCode(t)) {
      EXPECT_TRUE(HasLine(m.text, kCode)) << "the code alone on its own line:\n" << m.text;
      EXPECT_TRUE(Contains(m.html, std::string(kCode) + "</p>")) << m.html;
      EXPECT_TRUE(Contains(m.html, "monospace")) << m.html;
      EXPECT_FALSE(Contains(m.subject, kCode)) << "no secret in the subject (lock screens show it)";
    } else {
      EXPECT_FALSE(Contains(m.text, kCode));
    }
    if (!IsNotice(t)) {
      EXPECT_TRUE(Contains(m.text, "15 minutes")) << m.text;
      EXPECT_TRUE(Contains(m.html, "15 minutes")) << m.html;
    }
  }
}

TEST(Builtins, HtmlIsASelfContainedDocument) {
  const Templates templates;
  for (const Template t : AllTemplates()) {
    SCOPED_TRACE(std::string(TemplateName(t)));
    const std::string html = templates.Render(t, VarsFor(t)).html;
    EXPECT_TRUE(html.starts_with("<!doctype html>\n<html lang=\"en\">")) << html;
    EXPECT_TRUE(Contains(html, "<meta charset=\"utf-8\">"));
    EXPECT_TRUE(Contains(html, "</html>"));
    for (const std::string_view external : {"<img", "<script", "<link", "src=", "url(", "@import", "@font-face"}) {
      EXPECT_FALSE(Contains(html, external)) << external;
    }
  }
}

TEST(Builtins, SayWhatEachMessageIsAbout) {
  const Templates templates;
  const auto text = [&](Template t) { return templates.Render(t, VarsFor(t)).text; };
  EXPECT_TRUE(Contains(text(Template::kChangeEmailConfirmation), "alice.new@example.org")) << "names the new address";
  EXPECT_TRUE(Contains(text(Template::kDeleteAccount), "permanent"));
  const std::string changed = text(Template::kPasswordChanged);
  EXPECT_TRUE(Contains(changed, "reset your password")) << changed;
  EXPECT_TRUE(Contains(changed, "contact support")) << changed;
  EXPECT_FALSE(Contains(changed, "ignore this email")) << "a change already made is not to be ignored";
  for (const Template t : {Template::kChangeEmailVerification, Template::kOtpChangeEmail}) {
    EXPECT_TRUE(Contains(text(t), "alice.new@example.org")) << TemplateName(t) << " names the new address";
  }
  for (const Template t : AllTemplates()) {
    if (IsNotice(t)) continue;
    EXPECT_TRUE(Contains(text(t), "If you did not request this, you can ignore this email.")) << TemplateName(t);
  }
  const std::string exists = text(Template::kAccountExists);
  EXPECT_TRUE(Contains(exists, "already has an account")) << exists;
  EXPECT_TRUE(Contains(exists, "reset your password")) << exists;
}

// ---- rendering -------------------------------------------------------------------------------------------------

TEST(Render, EscapesValuesInHtmlOnly) {
  const Templates templates;
  TemplateVars v = VarsFor(Template::kResetPassword);
  v.url = "https://x/?a=1&b=<script>";
  v.app_name = "A \"quoted\" 'app'";
  const RenderedMail m = templates.Render(Template::kResetPassword, v);
  EXPECT_TRUE(Contains(m.html, "href=\"https://x/?a=1&amp;b=&lt;script&gt;\"")) << m.html;
  EXPECT_TRUE(Contains(m.html, "A &quot;quoted&quot; &#39;app&#39;")) << m.html;
  EXPECT_FALSE(Contains(m.html, "<script>"));
  EXPECT_FALSE(Contains(m.html, "&b="));
  EXPECT_TRUE(HasLine(m.text, "https://x/?a=1&b=<script>")) << "text is verbatim:\n" << m.text;
  EXPECT_TRUE(Contains(m.text, "A \"quoted\" 'app'"));
  EXPECT_TRUE(Contains(m.subject, "A \"quoted\" 'app'")) << "the subject is not HTML";
}

TEST(Render, DoesNotExpandPlaceholdersInsideValues) {
  const Templates templates;
  TemplateVars v = VarsFor(Template::kOtpEmailVerification);
  v.email = "{{code}}@example.org";
  v.app_name = "{{ url }}";
  const RenderedMail m = templates.Render(Template::kOtpEmailVerification, v);
  EXPECT_TRUE(Contains(m.text, "{{code}}@example.org")) << m.text;
  EXPECT_TRUE(Contains(m.html, "{{code}}@example.org"));
  EXPECT_TRUE(Contains(m.subject, "{{ url }}")) << m.subject;
  EXPECT_EQ(m.text.find(kCode), m.text.rfind(kCode)) << "the code appears once, where the template puts it";
}

TEST(Render, KeepsTheSubjectOnOneLine) {
  const Templates templates;
  TemplateVars v = VarsFor(Template::kResetPassword);
  v.app_name =
      "Acme\r\nBcc: victim@example.com\tX\x7f"
      "Y\xc2\x85Z";
  const RenderedMail m = templates.Render(Template::kResetPassword, v);
  for (const char c : m.subject) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << m.subject;
  EXPECT_FALSE(Contains(m.subject, "\x7f"));
  EXPECT_FALSE(Contains(m.subject, "\xc2\x85"));
  EXPECT_TRUE(Contains(m.subject, "Acme  Bcc: victim@example.com X Y Z")) << m.subject;
  EXPECT_TRUE(Contains(m.text, "Acme\r\nBcc:")) << "the text body takes values verbatim";
}

TEST(Render, WritesTheExpiryAsANumber) {
  TemplateVars v = VarsFor(Template::kMagicLink);
  v.expires_minutes = 5;
  EXPECT_TRUE(Contains(Templates().Render(Template::kMagicLink, v).text, "5 minutes"));
}

// ---- Load ------------------------------------------------------------------------------------------------------

TEST(Load, AnEmptyFolderKeepsEveryBuiltin) {
  TempDir dir;
  const auto loaded = Templates::Load(dir.Path());
  ASSERT_TRUE(loaded) << loaded.error().Message();
  const Templates builtins;
  for (const Template t : AllTemplates()) {
    const RenderedMail a = loaded->Render(t, VarsFor(t));
    const RenderedMail b = builtins.Render(t, VarsFor(t));
    EXPECT_EQ(a.subject, b.subject);
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.html, b.html);
  }
}

TEST(Load, OverridesOnlyThePartsFound) {
  TempDir dir;
  dir.Write("reset-password.subject", "Reset your {{ app_name }} password now\n");
  dir.Write("reset-password.txt", "Go to {{url}} within {{expires_minutes}} min, {{email}}.\n");
  dir.Write("otp-sign-in.html", "<p>Code: <b>{{code}}</b> for {{app_name}}</p>");
  dir.Write("README.md", "operators may keep notes here {{whatever}}");
  const auto loaded = Templates::Load(dir.Path());
  ASSERT_TRUE(loaded) << loaded.error().Message();
  const Templates builtins;

  TemplateVars v = VarsFor(Template::kResetPassword);
  v.url = "https://x/?a=1&b=2";
  const RenderedMail reset = loaded->Render(Template::kResetPassword, v);
  EXPECT_EQ(reset.subject, "Reset your Acme password now");
  EXPECT_EQ(reset.text, "Go to https://x/?a=1&b=2 within 15 min, alice@example.org.\n");
  EXPECT_EQ(reset.html, builtins.Render(Template::kResetPassword, v).html) << "no .html file: built-in kept";

  const RenderedMail otp = loaded->Render(Template::kOtpSignIn, VarsFor(Template::kOtpSignIn));
  EXPECT_EQ(otp.html, "<p>Code: <b>482913</b> for Acme</p>");
  EXPECT_EQ(otp.subject, builtins.Render(Template::kOtpSignIn, VarsFor(Template::kOtpSignIn)).subject);

  const RenderedMail verify = loaded->Render(Template::kVerifyEmail, VarsFor(Template::kVerifyEmail));
  EXPECT_EQ(verify.text, builtins.Render(Template::kVerifyEmail, VarsFor(Template::kVerifyEmail)).text);
}

TEST(Load, AcceptsBlanksInsideBraces) {
  TempDir dir;
  dir.Write("magic-link.txt", "{{url}} {{ url }} {{  url\t}} {{\tcode }}");
  const auto loaded = Templates::Load(dir.Path());
  ASSERT_TRUE(loaded) << loaded.error().Message();
  TemplateVars v;
  v.url = "U";
  v.code = "C";
  EXPECT_EQ(loaded->Render(Template::kMagicLink, v).text, "U U U C");
}

TEST(Load, TrimsTheSubjectFile) {
  TempDir dir;
  dir.Write("magic-link.subject", "\xEF\xBB\xBF\n  Sign in to {{app_name}}  \r\n\r\n");
  const auto loaded = Templates::Load(dir.Path());
  ASSERT_TRUE(loaded) << loaded.error().Message();
  EXPECT_EQ(loaded->Render(Template::kMagicLink, VarsFor(Template::kMagicLink)).subject, "Sign in to Acme");
}

TEST(Load, AcceptsAFileOfExactlyTheLimit) {
  TempDir dir;
  std::string body = "{{url}}\n";
  body.resize(256 * 1024, 'x');
  dir.Write("verify-email.html", body);
  const auto loaded = Templates::Load(dir.Path());
  ASSERT_TRUE(loaded) << loaded.error().Message();
  EXPECT_EQ(loaded->Render(Template::kVerifyEmail, VarsFor(Template::kVerifyEmail)).html.size(),
            body.size() - 7 + kUrl.size());
}

//! Load must fail with kValidationError and a message containing every one of `needles`.
void ExpectLoadError(const std::string& dir, std::vector<std::string> needles) {
  const auto loaded = Templates::Load(dir);
  ASSERT_FALSE(loaded) << "loaded although it should not";
  EXPECT_EQ(loaded.error().code, ErrorCode::kValidationError);
  const std::string message(loaded.error().Message());
  for (const std::string& n : needles) EXPECT_TRUE(Contains(message, n)) << message << "\n  lacks: " << n;
}

TEST(Load, RefusesAMissingFolder) {
  TempDir dir;
  const std::string missing = dir.Path() + "/nope";
  ExpectLoadError(missing, {missing, "does not exist"});
}

TEST(Load, RefusesAMisspelledTemplateFileButIgnoresOtherFiles) {
  TempDir dir;
  dir.Write("README.md", "notes for the operators");
  dir.Write("logo.png", "not a template");
  ASSERT_TRUE(Templates::Load(dir.Path()));
  const std::string typo = dir.Write("reset-pasword.html", "<p>{{url}}</p>");
  ExpectLoadError(dir.Path(), {typo, "not a template name"});
}

TEST(Load, RefusesAFileInsteadOfAFolder) {
  TempDir dir;
  const std::string file = dir.Write("plain-file", "x");
  ExpectLoadError(file, {file, "not a directory"});
}

TEST(Load, RefusesAnUnknownPlaceholderNamingFileAndPlaceholder) {
  TempDir dir;
  const std::string file = dir.Write("reset-password.html", "<p>Hi</p>\n<a href=\"{{ulr}}\">Reset</a>\n");
  ExpectLoadError(dir.Path(), {file, "{{ulr}}", "line 2"});
}

TEST(Load, RefusesAnUnterminatedPlaceholder) {
  TempDir dir;
  const std::string file = dir.Write("otp-sign-in.txt", "Your code: {{code\n}}\n");
  ExpectLoadError(dir.Path(), {file, "{{code"});
}

TEST(Load, RefusesATwoLineSubject) {
  TempDir dir;
  const std::string file = dir.Write("verify-email.subject", "Verify\nBcc: victim@example.com\n");
  ExpectLoadError(dir.Path(), {file, "single line"});
}

TEST(Load, RefusesAnEmptySubject) {
  TempDir dir;
  const std::string file = dir.Write("verify-email.subject", "\n  \n");
  ExpectLoadError(dir.Path(), {file, "empty"});
}

TEST(Load, RefusesAControlCharacterInTheSubject) {
  TempDir dir;
  const std::string file = dir.Write("verify-email.subject", "Verify\rBcc: victim@example.com");
  ExpectLoadError(dir.Path(), {file, "control character"});
}

TEST(Load, RefusesInvalidUtf8) {
  const std::vector<std::string> bad = {
      "caf\xe9",             // Latin-1
      "\xc0\xaf",            // overlong '/'
      "\xed\xa0\x80",        // surrogate
      "\xf4\x90\x80\x80",    // above U+10FFFF
      "truncated \xe2\x82",  // cut sequence
      "\xff",                // never valid
  };
  for (const std::string& content : bad) {
    SCOPED_TRACE(content);
    TempDir dir;
    const std::string file = dir.Write("password-changed.txt", content);
    ExpectLoadError(dir.Path(), {file, "UTF-8"});
  }
  TempDir dir;
  dir.Write("password-changed.txt", "Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 {{app_name}}");
  EXPECT_TRUE(Templates::Load(dir.Path())) << "valid multi-byte UTF-8 is fine";
}

TEST(Load, RefusesAFileOverTheLimit) {
  TempDir dir;
  const std::string file = dir.Write("delete-account.html", std::string(256 * 1024 + 1, 'x'));
  ExpectLoadError(dir.Path(), {file, "256 KiB"});
}

TEST(Load, RefusesAFolderWhereAFileIsExpected) {
  TempDir dir;
  std::filesystem::create_directory(dir.Path() + "/magic-link.txt");
  ExpectLoadError(dir.Path(), {dir.Path() + "/magic-link.txt"});
}

TEST(Load, RefusesAnUnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  TempDir dir;
  const std::string file = dir.Write("magic-link.txt", "{{url}}");
  ASSERT_EQ(::chmod(file.c_str(), 0), 0);
  ExpectLoadError(dir.Path(), {file});
}

}  // namespace
}  // namespace pgwarden::mail
