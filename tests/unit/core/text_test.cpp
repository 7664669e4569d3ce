//! Text helpers and the e-mail syntax Better Auth (zod's email()) accepts.
#include "core/text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace pgwarden {
namespace {

//! An address of exactly `total` bytes: 64-byte local part and a domain of <=63-byte labels ending in ".com".
std::string EmailOfLength(std::size_t total) {
  std::string local(64, 'a');
  std::size_t domain_len = total - local.size() - 1;
  std::string domain;
  const std::string tld = ".com";
  std::size_t body = domain_len - tld.size();
  while (body > 0) {
    if (!domain.empty()) {
      domain += '.';
      --body;
    }
    const std::size_t n = std::min<std::size_t>(body, 63);
    domain.append(n, 'b');
    body -= n;
  }
  return local + "@" + domain + tld;
}

TEST(IsValidEmail, AcceptsOrdinaryAddresses) {
  for (std::string_view email : {
           "a@b.co",
           "first.last+tag@sub.example.com",
           "USER@EXAMPLE.COM",
           "o'neil@example.ie",
           "under_score-dash@my-domain.example",
           "1234@numbers-in-labels.io",
       }) {
    SCOPED_TRACE(email);
    EXPECT_TRUE(IsValidEmail(email));
  }
}

TEST(IsValidEmail, RejectsMalformedAddresses) {
  struct Case {
    std::string_view name;
    std::string email;
  };
  const std::vector<Case> cases = {
      {"empty", ""},
      {"no @", "user.example.com"},
      {"two @", "a@b@example.com"},
      {"empty local part", "@example.com"},
      {"empty domain", "user@"},
      {"leading dot", ".user@example.com"},
      {"trailing dot", "user.@example.com"},
      {"double dot", "us..er@example.com"},
      {"space", "us er@example.com"},
      {"space in domain", "user@exa mple.com"},
      {"CR", "user@example.com\r"},
      {"LF", "user\n@example.com"},
      {"CRLF header injection", "user@example.com\r\nBcc: victim@example.com"},
      {"NUL", std::string("user\0x@example.com", 18)},
      {"unicode fullwidth at sign", "user\xEF\xBC\xA0" "example.com"},
      {"unicode in local part", "us\xC3\xA9r@example.com"},
      {"no dot in domain", "user@localhost"},
      {"one-letter TLD", "user@example.c"},
      {"digit TLD", "user@example.123"},
      {"IP address domain", "user@127.0.0.1"},
      {"domain starting with dot", "user@.example.com"},
      {"domain with empty label", "user@example..com"},
      {"domain ending with dot", "user@example.com."},
      {"label starting with hyphen", "user@-example.com"},
      {"underscore in domain", "user@exa_mple.com"},
      {"quoted local part", "\"user\"@example.com"},
      {"angle brackets", "<user@example.com>"},
      {"local part over 64 bytes", std::string(65, 'a') + "@example.com"},
      {"255 bytes", EmailOfLength(255)},
      {"300 bytes", EmailOfLength(300)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(IsValidEmail(c.email)) << c.email;
  }
}

TEST(IsValidEmail, AcceptsExactly254Bytes) {
  const std::string email = EmailOfLength(254);
  ASSERT_EQ(email.size(), 254u);
  EXPECT_TRUE(IsValidEmail(email));
  ASSERT_EQ(EmailOfLength(255).size(), 255u);
}

TEST(AsciiLower, FoldsOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("HeLLo-World_42"), "hello-world_42");
  EXPECT_EQ(AsciiLower("\xC3\x89"), "\xC3\x89");  // É stays as is
}

TEST(IEquals, ComparesAsciiCaseInsensitively) {
  EXPECT_TRUE(IEquals("Bearer ", "bearer "));
  EXPECT_FALSE(IEquals("Bearer", "Bearer "));
  EXPECT_FALSE(IEquals("abc", "abd"));
}

TEST(Trim, RemovesSpacesAndTabsAtBothEnds) {
  EXPECT_EQ(Trim(" \t a b \t "), "a b");
  EXPECT_EQ(Trim("   "), "");
}

TEST(Split, KeepsEmptyParts) {
  EXPECT_EQ(Split("a,,b,", ','), (std::vector<std::string_view>{"a", "", "b", ""}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string_view>{""}));
}

}  // namespace
}  // namespace pgwarden
