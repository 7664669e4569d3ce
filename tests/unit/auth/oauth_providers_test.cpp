//! OAuth providers as data: built-in endpoints and scopes, overrides, and the authorization URL (OA-02).
#include "auth/oauth/providers.hpp"

#include <gtest/gtest.h>

#include <boost/url/parse.hpp>

#include <map>

namespace pgwarden::auth::oauth {
namespace {

config::OAuthProviderConfig Cfg(std::string id) {
  config::OAuthProviderConfig c;
  c.id = std::move(id);
  c.client_id = "client id/1";
  c.client_secret = "s3cret";
  return c;
}

std::map<std::string, std::string> QueryOf(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  EXPECT_TRUE(u.has_value()) << url;
  std::map<std::string, std::string> out;
  for (const auto& p : u->params()) {
    EXPECT_FALSE(out.count(p.key)) << "parameter given twice: " << p.key;
    out[p.key] = p.value;
  }
  return out;
}

AuthorizationRequest Req() {
  AuthorizationRequest r;
  r.redirect_uri = "https://auth.example.com/neondb/auth/callback/x";
  r.state = "state-123";
  r.code_verifier = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-._~";
  r.nonce = "nonce-456";
  return r;
}

TEST(CodeChallengeS256, IsBase64UrlOfSha256) {
  EXPECT_EQ(CodeChallengeS256("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-._~"), "ZJs5hbMChd-OA_AYtC3UYie0U-g-dEfAPhPlci0hRik");
}

TEST(Providers, BuiltInsCarryBetterAuthsEndpointsAndScopes) {
  config::OAuthConfig cfg;
  cfg.providers = {Cfg("google"), Cfg("github"), Cfg("microsoft"), Cfg("vercel")};
  const auto ps = ProvidersFrom(cfg);
  ASSERT_EQ(ps.size(), 4u);
  const auto* google = FindProvider(ps, "google");
  ASSERT_NE(google, nullptr);
  EXPECT_EQ(google->identity, IdentitySource::kIdToken);
  EXPECT_EQ(google->issuer, "https://accounts.google.com");
  const auto q = QueryOf(AuthorizationUrl(*google, Req()));
  EXPECT_EQ(q.at("response_type"), "code");
  EXPECT_EQ(q.at("client_id"), "client id/1");
  EXPECT_EQ(q.at("redirect_uri"), "https://auth.example.com/neondb/auth/callback/x");
  EXPECT_EQ(q.at("scope"), "email profile openid");
  EXPECT_EQ(q.at("state"), "state-123");
  EXPECT_EQ(q.at("code_challenge_method"), "S256");
  EXPECT_EQ(q.at("code_challenge"), "ZJs5hbMChd-OA_AYtC3UYie0U-g-dEfAPhPlci0hRik");
  EXPECT_EQ(q.at("nonce"), "nonce-456");
  EXPECT_EQ(q.at("include_granted_scopes"), "true");
  const auto* github = FindProvider(ps, "github");
  ASSERT_NE(github, nullptr);
  EXPECT_EQ(github->identity, IdentitySource::kGitHub);
  const auto gq = QueryOf(AuthorizationUrl(*github, Req()));
  EXPECT_EQ(gq.at("scope"), "read:user user:email");
  EXPECT_FALSE(gq.count("nonce")) << "no nonce for a provider without id_tokens";
  EXPECT_EQ(FindProvider(ps, "microsoft")->issuer, "https://login.microsoftonline.com/{tenantid}/v2.0");
  EXPECT_EQ(FindProvider(ps, "vercel")->identity, IdentitySource::kUserInfo);
  EXPECT_EQ(FindProvider(ps, "apple"), nullptr);
}

TEST(Providers, OverridesPointBuiltInsElsewhereAndGenericProvidersAreDiscovered) {
  config::OAuthConfig cfg;
  auto g = Cfg("google");
  g.issuer = "http://127.0.0.1:4444/";
  auto gh = Cfg("github");
  gh.authorization_url = "http://127.0.0.1:5555/login/oauth/authorize";
  gh.token_url = "http://127.0.0.1:5555/login/oauth/access_token";
  auto acme = Cfg("acme");
  acme.issuer = "https://sso.acme.test";
  acme.scopes = {"email"};
  cfg.providers = {g, gh, acme};
  const auto ps = ProvidersFrom(cfg);
  EXPECT_TRUE(ps[0].discover);
  EXPECT_EQ(ps[0].issuer, "http://127.0.0.1:4444");
  EXPECT_TRUE(ps[0].authorization_endpoint.empty()) << "read from the discovery document";
  EXPECT_EQ(ps[1].authorization_endpoint, "http://127.0.0.1:5555/login/oauth/authorize");
  EXPECT_EQ(ps[1].token_endpoint, "http://127.0.0.1:5555/login/oauth/access_token");
  EXPECT_TRUE(ps[2].discover);
  EXPECT_EQ(ps[2].scopes, (std::vector<std::string>{"email", "openid"})) << "openid is always asked of OpenID providers";
}

TEST(AuthorizationUrl, CallerScopesAddToTheProvidersAndExtrasCannotOverrideProtocolParameters) {
  Provider p;
  p.id = "x";
  p.authorization_endpoint = "https://idp.test/authorize?tenant=1";
  p.client_id = "c";
  p.scopes = {"openid"};
  p.extra_params = {{"state", "evil"}, {"redirect_uri", "https://evil"}, {"prompt", "consent"}};
  auto r = Req();
  r.extra_scopes = {"openid", "repo"};
  r.login_hint = "ada@example.com";
  const auto url = AuthorizationUrl(p, r);
  EXPECT_EQ(url.rfind("https://idp.test/authorize?tenant=1&response_type=code", 0), 0u) << url;
  const auto q = QueryOf(url);
  EXPECT_EQ(q.at("scope"), "openid repo");
  EXPECT_EQ(q.at("state"), "state-123");
  EXPECT_EQ(q.at("redirect_uri"), "https://auth.example.com/neondb/auth/callback/x");
  EXPECT_EQ(q.at("prompt"), "consent");
  EXPECT_EQ(q.at("login_hint"), "ada@example.com");
}

// Byte for byte what Better Auth 1.6 sends for the oracle's GitHub configuration (golden transcript #115): its
// parameter order and URLSearchParams' encoding (a space is '+', ':' and '/' are escaped).
TEST(AuthorizationUrl, IsBetterAuthsUrlByteForByte) {
  config::OAuthConfig cfg;
  auto gh = Cfg("github");
  gh.client_id = "oracle-github-client-id";
  cfg.providers = {gh};
  const auto ps = ProvidersFrom(cfg);
  AuthorizationRequest r;
  r.redirect_uri = "http://localhost:4100/auth/callback/github";
  r.state = "E0FGNO5Blcu0rIMWPSDpmuQr_zP_EcnD";
  r.code_verifier = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-._~";
  r.nonce = "not-for-github";
  EXPECT_EQ(AuthorizationUrl(ps.at(0), r),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=oracle-github-client-id"
            "&state=E0FGNO5Blcu0rIMWPSDpmuQr_zP_EcnD&scope=read%3Auser+user%3Aemail"
            "&redirect_uri=http%3A%2F%2Flocalhost%3A4100%2Fauth%2Fcallback%2Fgithub&code_challenge_method=S256"
            "&code_challenge=ZJs5hbMChd-OA_AYtC3UYie0U-g-dEfAPhPlci0hRik");
}

TEST(FormEncode, IsUrlSearchParamsEncoding) {
  EXPECT_EQ(FormEncode("a b+c~d!e'f(g)h*i-j.k_l/m:n?o&p=q%r"), "a+b%2Bc%7Ed%21e%27f%28g%29h*i-j.k_l%2Fm%3An%3Fo%26p%3Dq%25r");
  EXPECT_EQ(FormEncode("é"), "%C3%A9");
  EXPECT_EQ(FormEncode(""), "");
}

}  // namespace
}  // namespace pgwarden::auth::oauth
