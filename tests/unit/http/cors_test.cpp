//! Origin allow-listing (exact, wildcard, localhost) and the CORS headers built from it.
#include "http/cors.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pgwarden::http {
namespace {

struct OriginCase {
  std::string_view origin;
  bool allowed;
};

void ExpectMatches(const OriginMatcher& m, std::initializer_list<OriginCase> cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.origin);
    EXPECT_EQ(m.Matches(c.origin), c.allowed);
  }
}

TEST(OriginMatcher, MatchesExactOriginsCaseInsensitively) {
  const OriginMatcher m({"https://app.example.com", "http://localhost:5173"}, /*trust_localhost=*/false);
  ExpectMatches(m, {
                       {"https://app.example.com", true},
                       {"HTTPS://APP.EXAMPLE.COM", true},
                       {"http://localhost:5173", true},
                       {"http://app.example.com", false},
                       {"https://app.example.com:8443", false},
                       {"https://app.example.com.evil.com", false},
                       {"https://evil.app.example.com", false},
                       {"https://example.com", false},
                       {"http://localhost:5174", false},
                       {"", false},
                       {"null", false},
                   });
}

TEST(OriginMatcher, MatchesWildcardSubdomainsOfTheSameSchemeOnly) {
  const OriginMatcher m({"https://*.example.com"}, /*trust_localhost=*/false);
  ExpectMatches(m, {
                       {"https://app.example.com", true},
                       {"https://a.b.example.com", true},
                       {"https://APP.Example.Com", true},
                       {"https://example.com", false},
                       {"https://example.com.evil.com", false},
                       {"https://app.example.com.evil.com", false},
                       {"https://evilexample.com", false},
                       {"http://app.example.com", false},
                       {"https://app.example.com:8443", false},
                       {"https://evil.com/.example.com", false},
                       {"wss://app.example.com", false},
                   });
}

TEST(OriginMatcher, LetsAWildcardStandOnlyForHostLabels) {
  // security.md CS-04: wildcard patterns match only sub-domains of the given host. A '*' that also spans
  // '?', '#', '@', ':' or spaces accepts strings that are not origins of any sub-domain.
  const OriginMatcher m({"https://*.example.com"}, /*trust_localhost=*/false);
  ExpectMatches(m, {
                       {"https://app-1.example.com", true},
                       {"https://evil.com?.example.com", false},
                       {"https://evil.com#.example.com", false},
                       {"https://evil.com .example.com", false},
                       {"https://evil.com:443.example.com", false},
                       {"https://user@evil.com@x.example.com", false},
                   });
}

TEST(OriginMatcher, MatchesAWildcardPortOnlyWhereThePatternSaysSo) {
  const OriginMatcher m({"http://localhost:*"}, /*trust_localhost=*/false);
  ExpectMatches(m, {
                       {"http://localhost:3000", true},
                       {"http://localhost:5173", true},
                       {"https://localhost:3000", false},
                       {"http://localhost.evil.com:3000", false},
                   });
}

TEST(OriginMatcher, TrustsLocalhostOnAnyPortWhenEnabled) {
  const OriginMatcher m({}, /*trust_localhost=*/true);
  ExpectMatches(m, {
                       {"http://localhost", true},
                       {"http://localhost:3000", true},
                       {"https://localhost:8443", true},
                       {"http://127.0.0.1:5173", true},
                       {"http://[::1]:3000", true},
                       {"http://LOCALHOST:3000", true},
                       {"http://localhost.evil.com", false},
                       {"http://localhost:3000.evil.com", false},
                       {"http://localhost:", false},
                       {"http://localhost:123456", false},
                       {"http://localhost@evil.com", false},
                       {"http://127.0.0.1.evil.com", false},
                       {"http://evil.com", false},
                       {"ftp://localhost:21", false},
                   });
}

TEST(OriginMatcher, DoesNotTrustLocalhostWhenDisabled) {
  const OriginMatcher m({"https://app.example.com"}, /*trust_localhost=*/false);
  ExpectMatches(m, {
                       {"http://localhost", false},
                       {"http://localhost:3000", false},
                       {"http://127.0.0.1:5173", false},
                       {"http://[::1]:3000", false},
                       {"https://app.example.com", true},
                   });
}

TEST(OriginMatcher, RejectsOverlongOrigins) {
  const OriginMatcher m({"https://*.example.com"}, false);
  EXPECT_FALSE(m.Matches("https://" + std::string(600, 'a') + ".example.com"));
}

//! A request with an Origin (and other headers).
Request MakeRequest(bhttp::verb method, std::initializer_list<std::pair<bhttp::field, std::string_view>> headers) {
  Request req;
  req.raw.method(method);
  req.raw.target("/neondb/auth/sign-in/email");
  req.raw.version(11);
  for (const auto& [f, v] : headers) req.raw.set(f, v);
  req.path = "/neondb/auth/sign-in/email";
  return req;
}

class CorsTest : public ::testing::Test {
 protected:
  CorsTest() : matcher_({"https://app.example.com"}, /*trust_localhost=*/false) {
    policy_.origins = &matcher_;
    policy_.credentials = true;
    policy_.allow_methods = "GET, POST, OPTIONS";
    policy_.allow_headers = "content-type, authorization";
    policy_.expose_headers = "set-auth-jwt, set-auth-token";
    policy_.max_age_s = 600;
  }
  OriginMatcher matcher_;
  CorsPolicy policy_;
};

TEST_F(CorsTest, EchoesAnAllowedOriginWithCredentialsAndVary) {
  const Request req = MakeRequest(bhttp::verb::post, {{bhttp::field::origin, "https://app.example.com"}});
  Response res = MakeResponse(req, bhttp::status::ok);
  ApplyCors(policy_, req, res);
  EXPECT_EQ(res[bhttp::field::access_control_allow_origin], "https://app.example.com");
  EXPECT_EQ(res[bhttp::field::access_control_allow_credentials], "true");
  EXPECT_EQ(res[bhttp::field::vary], "Origin");
  EXPECT_EQ(res[bhttp::field::access_control_expose_headers], "set-auth-jwt, set-auth-token");
}

TEST_F(CorsTest, MergesExposedHeadersWithTheHandlersOwn) {
  const Request req = MakeRequest(bhttp::verb::post, {{bhttp::field::origin, "https://app.example.com"}});
  Response res = MakeResponse(req, bhttp::status::ok);
  res.set(bhttp::field::access_control_expose_headers, "set-auth-token");
  ApplyCors(policy_, req, res);
  EXPECT_EQ(res[bhttp::field::access_control_expose_headers], "set-auth-token, set-auth-jwt");
}

TEST_F(CorsTest, GivesAForeignOriginNoCorsHeadersButStillVaries) {
  for (std::string_view origin : {"https://evil.example", "null", ""}) {
    SCOPED_TRACE(origin);
    const Request req = MakeRequest(bhttp::verb::post, {{bhttp::field::origin, origin}});
    Response res = MakeResponse(req, bhttp::status::ok);
    ApplyCors(policy_, req, res);
    EXPECT_EQ(res.find(bhttp::field::access_control_allow_origin), res.end());
    EXPECT_EQ(res.find(bhttp::field::access_control_allow_credentials), res.end());
    EXPECT_EQ(res.find(bhttp::field::access_control_expose_headers), res.end());
    EXPECT_EQ(res[bhttp::field::vary], "Origin");
  }
}

TEST_F(CorsTest, NeverAnswersWithAWildcardOrigin) {
  const Request req = MakeRequest(bhttp::verb::post, {{bhttp::field::origin, "https://app.example.com"}});
  Response res = MakeResponse(req, bhttp::status::ok);
  ApplyCors(policy_, req, res);
  EXPECT_NE(res[bhttp::field::access_control_allow_origin], "*");
}

TEST_F(CorsTest, AnswersAPreflightFromAnAllowedOrigin) {
  const Request req = MakeRequest(bhttp::verb::options,
                                  {{bhttp::field::origin, "https://app.example.com"},
                                   {bhttp::field::access_control_request_method, "POST"},
                                   {bhttp::field::access_control_request_headers, "content-type, x-neon-client-info"}});
  const Response res = Preflight(policy_, req);
  EXPECT_EQ(res.result(), bhttp::status::no_content);
  EXPECT_EQ(res[bhttp::field::access_control_allow_origin], "https://app.example.com");
  EXPECT_EQ(res[bhttp::field::access_control_allow_credentials], "true");
  EXPECT_EQ(res[bhttp::field::access_control_allow_methods], "GET, POST, OPTIONS");
  EXPECT_EQ(res[bhttp::field::access_control_allow_headers], "content-type, x-neon-client-info");
  EXPECT_EQ(res[bhttp::field::access_control_max_age], "600");
  EXPECT_EQ(res[bhttp::field::vary], "Origin, Access-Control-Request-Headers");
}

TEST_F(CorsTest, AllowsTheDefaultHeadersWhenAPreflightAsksForNone) {
  const Request req = MakeRequest(bhttp::verb::options, {{bhttp::field::origin, "https://app.example.com"},
                                                         {bhttp::field::access_control_request_method, "POST"}});
  const Response res = Preflight(policy_, req);
  EXPECT_EQ(res[bhttp::field::access_control_allow_headers], "content-type, authorization");
}

TEST_F(CorsTest, AnswersAPreflightFromAForeignOriginWithoutAllowHeaders) {
  const Request req = MakeRequest(bhttp::verb::options, {{bhttp::field::origin, "https://evil.example"},
                                                         {bhttp::field::access_control_request_method, "POST"}});
  const Response res = Preflight(policy_, req);
  EXPECT_EQ(res.result(), bhttp::status::no_content);
  for (const auto f : {bhttp::field::access_control_allow_origin, bhttp::field::access_control_allow_credentials,
                       bhttp::field::access_control_allow_methods, bhttp::field::access_control_allow_headers,
                       bhttp::field::access_control_max_age}) {
    SCOPED_TRACE(bhttp::to_string(f));
    EXPECT_EQ(res.find(f), res.end());
  }
  EXPECT_EQ(res[bhttp::field::vary], "Origin, Access-Control-Request-Headers");
}

TEST_F(CorsTest, OmitsCredentialsWhenThePolicyHasNone) {
  policy_.credentials = false;
  const Request req = MakeRequest(bhttp::verb::post, {{bhttp::field::origin, "https://app.example.com"}});
  Response res = MakeResponse(req, bhttp::status::ok);
  ApplyCors(policy_, req, res);
  EXPECT_EQ(res[bhttp::field::access_control_allow_origin], "https://app.example.com");
  EXPECT_EQ(res.find(bhttp::field::access_control_allow_credentials), res.end());
}

}  // namespace
}  // namespace pgwarden::http
