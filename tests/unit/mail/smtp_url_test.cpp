//! PGWARDEN_SMTP_URL parsing: schemes, default ports, TLS modes, percent-decoded credentials, refusals.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mail/smtp_sender.hpp"

namespace pgwarden::mail {
namespace {

TEST(ParseSmtpUrl, ReadsSmtpWithCredentialsAndPort) {
  auto s = ParseSmtpUrl("smtp://mailer:s3cret@mail.example.com:2525");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->host, "mail.example.com");
  EXPECT_EQ(s->port, 2525);
  EXPECT_EQ(s->username, "mailer");
  EXPECT_EQ(s->password, "s3cret");
  // Credentials are never sent in clear: STARTTLS becomes mandatory.
  EXPECT_EQ(s->tls, SmtpTls::kStartTlsRequired);
  EXPECT_EQ(s->connect_timeout, std::chrono::seconds(10));
  EXPECT_EQ(s->total_timeout, std::chrono::seconds(30));
}

TEST(ParseSmtpUrl, DefaultsPortsBySchemeAndSmtpsIsImplicitTls) {
  auto plain = ParseSmtpUrl("smtp://relay.local");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, 587);
  EXPECT_TRUE(plain->username.empty());
  auto tls = ParseSmtpUrl("smtps://u:p@smtp.example.com/");
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->port, 465);
  EXPECT_EQ(tls->tls, SmtpTls::kImplicit);
}

TEST(ParseSmtpUrl, StartTlsCanBeRequired) {
  auto s = ParseSmtpUrl("smtp://u:p@smtp.example.com:587?starttls=required");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->tls, SmtpTls::kStartTlsRequired);
  auto o = ParseSmtpUrl("smtp://smtp.example.com?starttls=optional");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->tls, SmtpTls::kStartTlsIfOffered);
  // Without credentials STARTTLS is opportunistic; with them only an explicit starttls=optional allows clear text.
  auto anon = ParseSmtpUrl("smtp://relay.local");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->tls, SmtpTls::kStartTlsIfOffered);
  auto clear = ParseSmtpUrl("smtp://u:p@relay.local?starttls=optional");
  ASSERT_TRUE(clear);
  EXPECT_EQ(clear->tls, SmtpTls::kStartTlsIfOffered);
}

TEST(ParseSmtpUrl, PercentDecodesCredentials) {
  auto s = ParseSmtpUrl("smtp://apikey%40example.com:p%40ss%3Aw%2Frd%25@smtp.example.com:587");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->username, "apikey@example.com");
  EXPECT_EQ(s->password, "p@ss:w/rd%");
  auto raw_at = ParseSmtpUrl("smtp://user:pa@ss@smtp.example.com");
  ASSERT_TRUE(raw_at);
  EXPECT_EQ(raw_at->password, "pa@ss");
  EXPECT_EQ(raw_at->host, "smtp.example.com");
}

TEST(ParseSmtpUrl, AcceptsIpv6Literals) {
  auto s = ParseSmtpUrl("smtp://[::1]:2525");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "[::1]");
  EXPECT_EQ(s->port, 2525);
}

TEST(ParseSmtpUrl, RefusesBadUrlsWithoutEchoingThem) {
  for (std::string_view bad : {
           "", "http://smtp.example.com", "smtp:/smtp.example.com", "smtp://", "smtp://user:hunter2@",
           "smtp://host:", "smtp://host:0", "smtp://host:65536", "smtp://host:25x", "smtp://host/path",
           "smtp://host?starttls=never", "smtps://host?starttls=required", "smtp://u:hunter2%zz@host",
           "smtp://[::1", "smtp://[::1]x", "smtp://ho st",
       }) {
    SCOPED_TRACE(std::string(bad));
    auto s = ParseSmtpUrl(bad);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kValidationError);
    EXPECT_EQ(std::string(s.error().Message()).find("hunter2"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgwarden::mail
