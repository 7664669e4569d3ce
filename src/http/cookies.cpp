#include "http/cookies.hpp"

namespace pgwarden::http {

std::string SetCookie(std::string_view name, std::string_view value, const CookieAttributes& a) {
  std::string out;
  out.reserve(name.size() + value.size() + 96);
  out.append(name).append("=").append(value);
  if (a.max_age) out.append("; Max-Age=").append(std::to_string(*a.max_age));
  if (!a.path.empty()) out.append("; Path=").append(a.path);
  if (a.http_only) out.append("; HttpOnly");
  if (a.secure) out.append("; Secure");
  if (!a.same_site.empty()) out.append("; SameSite=").append(a.same_site);
  if (a.partitioned) out.append("; Partitioned");
  return out;
}

}  // namespace pgwarden::http
