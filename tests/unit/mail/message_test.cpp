//! RFC 5322 / MIME rendering: structure, quoted-printable, encoded words, CRLF, refusal of header injection.
#include "mail/message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::mail {
namespace {

Message Sample() {
  Message m;
  m.from = "Pgwarden <no-reply@auth.example.com>";
  m.to = "alice@example.org";
  m.subject = "Verify your email";
  m.text = "Hello,\nclick https://app.example/verify?token=abc\n";
  m.html = "<p>Hello,</p><p><a href=\"https://app.example/verify?token=abc\">Verify</a></p>";
  return m;
}

RenderOptions Fixed() {
  RenderOptions o;
  o.date = std::chrono::system_clock::time_point(std::chrono::seconds(1'795'791'553));  // 2026-11-27 14:59:13 UTC
  o.boundary = "=_pgw_test";
  return o;
}

std::string HeaderBlock(const std::string& msg) { return msg.substr(0, msg.find("\r\n\r\n") + 2); }

TEST(RenderMessage, WritesTheStandardHeaders) {
  const auto out = RenderMessage(Sample(), Fixed());
  ASSERT_TRUE(out) << out.error().Message();
  const std::string headers = HeaderBlock(*out);
  EXPECT_NE(headers.find("Date: Fri, 27 Nov 2026 14:59:13 +0000\r\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("From: Pgwarden <no-reply@auth.example.com>\r\n"), std::string::npos);
  EXPECT_NE(headers.find("To: alice@example.org\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Subject: Verify your email\r\n"), std::string::npos);
  EXPECT_NE(headers.find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Content-Type: multipart/alternative; boundary=\"=_pgw_test\"\r\n"), std::string::npos);
  const std::size_t mid = headers.find("Message-ID: <");
  ASSERT_NE(mid, std::string::npos);
  EXPECT_NE(headers.find("@auth.example.com>\r\n", mid), std::string::npos) << "Message-ID takes the From domain";
}

TEST(RenderMessage, BuildsMultipartAlternativeWithTextThenHtml) {
  const auto out = RenderMessage(Sample(), Fixed());
  ASSERT_TRUE(out);
  const std::string& m = *out;
  const std::size_t text_part = m.find("--=_pgw_test\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
  const std::size_t html_part = m.find("--=_pgw_test\r\nContent-Type: text/html; charset=UTF-8\r\n"
                                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
  const std::size_t close = m.find("--=_pgw_test--\r\n");
  ASSERT_NE(text_part, std::string::npos) << m;
  ASSERT_NE(html_part, std::string::npos) << m;
  ASSERT_NE(close, std::string::npos) << m;
  EXPECT_LT(text_part, html_part);
  EXPECT_LT(html_part, close);
  EXPECT_EQ(close + std::string_view("--=_pgw_test--\r\n").size(), m.size()) << "closing boundary ends the message";
  EXPECT_NE(m.find("click https://app.example/verify?token=3Dabc\r\n"), std::string::npos) << m;
  EXPECT_NE(m.find("href=3D\"https://app.example/verify?token=3Dabc\""), std::string::npos) << m;
}

TEST(RenderMessage, UsesOnlyCrlfLineEndings) {
  Message m = Sample();
  m.text = "line one\nline two\r\nline three\n";
  const auto out = RenderMessage(m, Fixed());
  ASSERT_TRUE(out);
  for (std::size_t i = 0; i < out->size(); ++i) {
    if ((*out)[i] == '\n') {
      ASSERT_TRUE(i > 0 && (*out)[i - 1] == '\r') << "bare LF at " << i;
    }
    if ((*out)[i] == '\r') {
      ASSERT_TRUE(i + 1 < out->size() && (*out)[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  EXPECT_NE(out->find("line one\r\nline two\r\nline three\r\n"), std::string::npos);
}

TEST(RenderMessage, WithoutHtmlIsASingleTextPart) {
  Message m = Sample();
  m.html.clear();
  const auto out = RenderMessage(m, Fixed());
  ASSERT_TRUE(out);
  EXPECT_NE(
      out->find("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"),
      std::string::npos);
  EXPECT_EQ(out->find("multipart"), std::string::npos);
}

TEST(RenderMessage, RefusesLineBreaksInEveryHeaderValue) {
  struct Case {
    const char* name;
    void (*mutate)(Message&);
  };
  const std::vector<Case> cases = {
      {"subject LF", [](Message& m) { m.subject = "Hi\nBcc: victim@example.com"; }},
      {"subject CR", [](Message& m) { m.subject = "Hi\rBcc: victim@example.com"; }},
      {"subject CRLF", [](Message& m) { m.subject = "Hi\r\nBcc: victim@example.com"; }},
      {"subject NUL", [](Message& m) { m.subject = std::string("Hi\0there", 8); }},
      {"to LF", [](Message& m) { m.to = "alice@example.org\nBcc: victim@example.com"; }},
      {"to display name CRLF", [](Message& m) { m.to = "Alice\r\nBcc: x@y.z <alice@example.org>"; }},
      {"from CR", [](Message& m) { m.from = "no-reply@auth.example.com\rX-Evil: 1"; }},
      {"message id LF", [](Message& m) { m.message_id = "<a@b>\nX-Evil: 1"; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Message m = Sample();
    c.mutate(m);
    const auto out = RenderMessage(m, Fixed());
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kValidationError);
  }
}

TEST(RenderMessage, EncodesNonAsciiSubjectAsEncodedWords) {
  Message m = Sample();
  m.subject = "Vérifiez votre adresse e-mail";
  const auto out = RenderMessage(m, Fixed());
  ASSERT_TRUE(out);
  // base64("Vérifiez votre adresse e-mail")
  EXPECT_NE(out->find("Subject: =?UTF-8?B?VsOpcmlmaWV6IHZvdHJlIGFkcmVzc2UgZS1tYWls?=\r\n"), std::string::npos)
      << HeaderBlock(*out);
}

TEST(RenderMessage, EncodesNonAsciiDisplayNamesAndQuotesSpecials) {
  Message m = Sample();
  m.from = "Zoë <no-reply@auth.example.com>";
  m.to = "\"Smith, Alice\" <alice@example.org>";
  const auto out = RenderMessage(m, Fixed());
  ASSERT_TRUE(out) << out.error().Message();
  EXPECT_NE(out->find("From: =?UTF-8?B?Wm/Dqw==?= <no-reply@auth.example.com>\r\n"), std::string::npos)
      << HeaderBlock(*out);
  EXPECT_NE(out->find("To: \"Smith, Alice\" <alice@example.org>\r\n"), std::string::npos) << HeaderBlock(*out);
}

TEST(RenderMessage, KeepsAGivenMessageIdAndGeneratesUniqueOnes) {
  Message m = Sample();
  m.message_id = "<fixed@auth.example.com>";
  const auto out = RenderMessage(m, Fixed());
  ASSERT_TRUE(out);
  EXPECT_NE(out->find("Message-ID: <fixed@auth.example.com>\r\n"), std::string::npos);
  EXPECT_NE(GenerateMessageId(m.from), GenerateMessageId(m.from));
  EXPECT_EQ(GenerateMessageId("not an address").find("@localhost>"), 33u);
}

TEST(ParseMailbox, AcceptsBareAndNamedForms) {
  auto a = ParseMailbox("a@b.example");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address, "a@b.example");
  EXPECT_EQ(a->display_name, "");
  auto b = ParseMailbox("  Team Pgwarden <team@b.example> ");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->address, "team@b.example");
  EXPECT_EQ(b->display_name, "Team Pgwarden");
  auto c = ParseMailbox(R"("A \"B\" C" <x@y.z>)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->display_name, "A \"B\" C");
}

TEST(ParseMailbox, RefusesBadAddresses) {
  for (std::string_view bad : {"", "nobody", "a@", "@b", "a@b@c", "a b@c.d", "<a@b", "Name <a@b>>", "a@b>",
                               "Name <>", "x <a,b@c.d>"}) {
    SCOPED_TRACE(std::string(bad));
    EXPECT_FALSE(ParseMailbox(bad));
  }
}

TEST(EncodeQuotedPrintable, EscapesEqualsNonAsciiAndTrailingSpace) {
  EXPECT_EQ(EncodeQuotedPrintable("a=b"), "a=3Db");
  EXPECT_EQ(EncodeQuotedPrintable("café"), "caf=C3=A9");
  EXPECT_EQ(EncodeQuotedPrintable("end \nnext\t"), "end=20\r\nnext=09");
  EXPECT_EQ(EncodeQuotedPrintable(".\n..x"), "=2E\r\n=2E.x");
  // A '.' pushed to the start of a line by a soft break is encoded too (found by mail_fuzz).
  EXPECT_EQ(EncodeQuotedPrintable(std::string(75, 'a') + ".\nend"), std::string(75, 'a') + "=\r\n=2E\r\nend");
  EXPECT_EQ(EncodeQuotedPrintable("tab\tinside"), "tab\tinside");
  EXPECT_EQ(EncodeQuotedPrintable(""), "");
}

TEST(EncodeQuotedPrintable, SoftBreaksKeepLinesWithin76Characters) {
  const std::string input = std::string(200, 'x') + "é" + std::string(100, 'y');
  const std::string out = EncodeQuotedPrintable(input);
  std::string decoded;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find("\r\n", start);
    if (end == std::string::npos) end = out.size();
    const std::string_view line(out.data() + start, end - start);
    EXPECT_LE(line.size(), 76u) << line;
    if (!line.empty() && line.back() == '=') {
      decoded += line.substr(0, line.size() - 1);
    } else {
      decoded += line;
    }
    start = end + 2;
  }
  EXPECT_EQ(decoded, std::string(200, 'x') + "=C3=A9" + std::string(100, 'y')) << "escapes are never split";
}

TEST(EncodeHeaderText, LeavesShortAsciiAlone) {
  EXPECT_EQ(EncodeHeaderText("Reset your password"), "Reset your password");
}

TEST(EncodeHeaderText, SplitsLongTextIntoWordsOnCharacterBoundaries) {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "€";  // 3 bytes each: 120 bytes
  const std::string out = EncodeHeaderText(subject);
  std::size_t start = 0;
  int words = 0;
  while (start < out.size()) {
    std::size_t end = out.find("\r\n ", start);
    if (end == std::string::npos) end = out.size();
    const std::string_view word(out.data() + start, end - start);
    EXPECT_LE(word.size(), 75u);
    EXPECT_EQ(word.substr(0, 10), "=?UTF-8?B?");
    EXPECT_EQ(word.substr(word.size() - 2), "?=");
    // 45-byte chunks split on a character boundary: 15 euro signs = 45 bytes = 60 base64 characters, no padding.
    if (end != out.size()) {
      EXPECT_EQ(word.size(), 72u) << word;
    }
    ++words;
    start = end + 3;
  }
  EXPECT_EQ(words, 3);
}

}  // namespace
}  // namespace pgwarden::mail
