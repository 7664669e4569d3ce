//! The sign-in error page at the site root (D33): only plain codes are shown, everything is escaped.
#include "auth/error_page.hpp"

#include <gtest/gtest.h>

namespace pgwarden::auth {
namespace {

TEST(ErrorPage, KeepsPlainCodesAndReplacesOthersWithUnknown) {
  EXPECT_EQ(SafeErrorCode("state_mismatch"), "state_mismatch");
  EXPECT_EQ(SafeErrorCode("email_doesn't_match"), "email_doesn't_match");
  EXPECT_EQ(SafeErrorCode("INVALID-TOKEN"), "INVALID-TOKEN");
  EXPECT_EQ(SafeErrorCode(""), "UNKNOWN");
  EXPECT_EQ(SafeErrorCode("<script>"), "UNKNOWN");
  EXPECT_EQ(SafeErrorCode("a b"), "UNKNOWN");
  EXPECT_EQ(SafeErrorCode("x\ny"), "UNKNOWN");
}

TEST(ErrorPage, ExplainsKnownCodesAndEscapesTheDescription) {
  const std::string page = RenderErrorPage("access_denied", "<img src=x onerror=alert(1)> & \"q\"");
  EXPECT_NE(page.find("Access was not granted at the provider."), std::string::npos);
  EXPECT_NE(page.find("<code>access_denied</code>"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
}

TEST(ErrorPage, UnsafeCodeIsNotReflected) {
  const std::string page = RenderErrorPage("\"><script>alert(1)</script>", "");
  EXPECT_EQ(page.find("script>alert"), std::string::npos);
  EXPECT_NE(page.find("<code>UNKNOWN</code>"), std::string::npos);
  EXPECT_NE(page.find("Something went wrong"), std::string::npos);
  EXPECT_EQ(page.find("class=\"d\""), std::string::npos);  // no description paragraph
}

TEST(ErrorPage, LongDescriptionIsCut) {
  const std::string page = RenderErrorPage("x", std::string(5000, 'a'));
  EXPECT_NE(page.find(std::string(500, 'a')), std::string::npos);
  EXPECT_EQ(page.find(std::string(501, 'a')), std::string::npos);
}

}  // namespace
}  // namespace pgwarden::auth
