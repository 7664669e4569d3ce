//! Set-Cookie values in Better Auth's exact attribute order: Max-Age, Domain, Path, Expires, HttpOnly,
//! Secure, SameSite, Partitioned.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::http {

struct CookieAttributes {
  std::optional<long long> max_age;  //!< absent = browser-session cookie
  std::string path = "/";
  bool http_only = true;
  bool secure = true;
  std::string same_site = "Lax";  //!< "Lax", "Strict", "None"
  bool partitioned = false;
};

std::string SetCookie(std::string_view name, std::string_view value, const CookieAttributes& attrs);

}  // namespace pgwarden::http
