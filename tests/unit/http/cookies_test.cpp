//! Set-Cookie values in Better Auth's attribute order.
#include "http/cookies.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace pgwarden::http {
namespace {

TEST(SetCookie, WritesBetterAuthsSessionCookieExactly) {
  CookieAttributes a;
  a.max_age = 604800;
  EXPECT_EQ(SetCookie("__Secure-neon-auth.session_token", "tok.sig%3D", a),
            "__Secure-neon-auth.session_token=tok.sig%3D; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax");
}

TEST(SetCookie, PutsAttributesInBetterAuthsOrder) {
  struct Case {
    std::string_view name;
    CookieAttributes attrs;
    std::string_view expected;
  };
  CookieAttributes session_cookie;  // no Max-Age: a browser-session cookie
  CookieAttributes expiring;
  expiring.max_age = 0;
  CookieAttributes cross_site;
  cross_site.max_age = 3600;
  cross_site.same_site = "None";
  cross_site.partitioned = true;
  CookieAttributes bare;
  bare.path = "";
  bare.http_only = false;
  bare.secure = false;
  bare.same_site = "";
  CookieAttributes strict_sub_path;
  strict_sub_path.path = "/neondb/auth";
  strict_sub_path.same_site = "Strict";
  strict_sub_path.secure = false;
  const Case cases[] = {
      {"browser-session cookie", session_cookie, "n=v; Path=/; HttpOnly; Secure; SameSite=Lax"},
      {"expiring cookie", expiring, "n=v; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"},
      {"cross-site partitioned", cross_site,
       "n=v; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"},
      {"no attributes", bare, "n=v"},
      {"strict, sub-path, not secure", strict_sub_path, "n=v; Path=/neondb/auth; HttpOnly; SameSite=Strict"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(SetCookie("n", "v", c.attrs), c.expected);
  }
}

TEST(SetCookie, WritesAnEmptyValueForExpiredCookies) {
  CookieAttributes a;
  a.max_age = 0;
  EXPECT_EQ(SetCookie("__Secure-neon-auth.session_data", "", a),
            "__Secure-neon-auth.session_data=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax");
}

}  // namespace
}  // namespace pgwarden::http
