#include "auth/oauth/providers.hpp"

#include <algorithm>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

namespace pgwarden::auth::oauth {
namespace {

void AddScopes(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& s : from)
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
}


}  // namespace

std::string FormEncode(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(v.size());
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' || c == '-' ||
        c == '.' || c == '_') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<Provider> ProvidersFrom(const config::OAuthConfig& cfg) {
  std::vector<Provider> out;
  for (const auto& c : cfg.providers) {
    Provider p;
    p.id = c.id;
    p.client_id = c.client_id;
    p.client_secret = c.client_secret;
    if (c.id == "google") {
      p.issuer = "https://accounts.google.com";
      p.authorization_endpoint = "https://accounts.google.com/o/oauth2/v2/auth";
      p.token_endpoint = "https://oauth2.googleapis.com/token";
      p.user_endpoint = "https://openidconnect.googleapis.com/v1/userinfo";
      p.jwks_uri = "https://www.googleapis.com/oauth2/v3/certs";
      p.scopes = {"email", "profile", "openid"};
      p.extra_params = {{"include_granted_scopes", "true"}};
    } else if (c.id == "microsoft") {
      const std::string base = "https://login.microsoftonline.com/" + c.tenant;
      p.authorization_endpoint = base + "/oauth2/v2.0/authorize";
      p.token_endpoint = base + "/oauth2/v2.0/token";
      p.jwks_uri = base + "/discovery/v2.0/keys";
      p.user_endpoint = "https://graph.microsoft.com/oidc/userinfo";
      const bool multi = c.tenant == "common" || c.tenant == "organizations" || c.tenant == "consumers";
      p.issuer = "https://login.microsoftonline.com/" + (multi ? std::string("{tenantid}") : c.tenant) + "/v2.0";
      p.scopes = {"openid", "profile", "email", "User.Read", "offline_access"};
    } else if (c.id == "github") {
      p.identity = IdentitySource::kGitHub;
      p.authorization_endpoint = "https://github.com/login/oauth/authorize";
      p.token_endpoint = "https://github.com/login/oauth/access_token";
      p.user_endpoint = "https://api.github.com/user";
      p.emails_endpoint = "https://api.github.com/user/emails";
      p.scopes = {"read:user", "user:email"};
    } else if (c.id == "vercel") {
      p.identity = IdentitySource::kUserInfo;
      p.authorization_endpoint = "https://vercel.com/oauth/authorize";
      p.token_endpoint = "https://api.vercel.com/login/oauth/token";
      p.user_endpoint = "https://api.vercel.com/login/oauth/userinfo";
    } else {
      p.scopes = {"openid", "email", "profile"};
      p.discover = true;
    }
    // Overrides. A built-in OpenID provider pointed at another issuer is discovered there (tests, proxies).
    if (!c.issuer.empty()) {
      p.issuer = c.issuer;
      while (!p.issuer.empty() && p.issuer.back() == '/') p.issuer.pop_back();
      if (p.identity == IdentitySource::kIdToken) {
        p.discover = true;
        p.authorization_endpoint.clear();
        p.token_endpoint.clear();
        p.user_endpoint.clear();
        p.jwks_uri.clear();
      }
    }
    if (!c.authorization_url.empty()) p.authorization_endpoint = c.authorization_url;
    if (!c.token_url.empty()) p.token_endpoint = c.token_url;
    if (!c.user_url.empty()) p.user_endpoint = c.user_url;
    if (!c.emails_url.empty()) p.emails_endpoint = c.emails_url;
    if (!c.scopes.empty()) {
      // Configured scopes replace the defaults, but an OpenID provider always gets "openid".
      p.scopes = c.scopes;
      if (p.identity == IdentitySource::kIdToken) AddScopes(p.scopes, {"openid"});
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string CodeChallengeS256(std::string_view verifier) { return crypto::Base64UrlEncode(crypto::Sha256(verifier)); }

std::string AuthorizationUrl(const Provider& p, const AuthorizationRequest& r) {
  std::vector<std::string> scopes = p.scopes;
  AddScopes(scopes, r.extra_scopes);
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  std::string url = p.authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  // Better Auth's parameter order (createAuthorizationURL), then the OpenID nonce, which Better Auth's Google
  // provider leaves out and OA-03 requires (decisions D48).
  url += "response_type=code&client_id=" + FormEncode(p.client_id);
  url += "&state=" + FormEncode(r.state);
  if (!scope.empty()) url += "&scope=" + FormEncode(scope);
  url += "&redirect_uri=" + FormEncode(r.redirect_uri);
  if (!r.login_hint.empty()) url += "&login_hint=" + FormEncode(r.login_hint);
  url += "&code_challenge_method=S256&code_challenge=" + CodeChallengeS256(r.code_verifier);
  if (!r.nonce.empty() && p.identity == IdentitySource::kIdToken) url += "&nonce=" + FormEncode(r.nonce);
  for (const auto& [k, v] : p.extra_params) {
    static constexpr std::string_view kReserved[] = {"response_type", "client_id", "redirect_uri", "scope", "state",
                                                     "code_challenge", "code_challenge_method", "nonce"};
    if (std::find(std::begin(kReserved), std::end(kReserved), k) != std::end(kReserved)) continue;
    url += "&" + FormEncode(k) + "=" + FormEncode(v);
  }
  return url;
}

const Provider* FindProvider(const std::vector<Provider>& providers, std::string_view id) {
  for (const auto& p : providers)
    if (p.id == id) return &p;
  return nullptr;
}

}  // namespace pgwarden::auth::oauth
