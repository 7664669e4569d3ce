//! The AuthService's pure checks: redirect targets (security.md CS-04) and the CSRF Origin rules
//! (better-auth-oracle.md §8, with decision D3). The service is built without keys or pools: these
//! checks never touch either.
#include "auth/service.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgwarden::auth {
namespace {

config::AuthConfig TrustedComConfig(bool trust_localhost = false) {
  config::AuthConfig cfg;
  cfg.secret = std::string(32, 's');
  cfg.base_url = "https://auth.example.com";
  cfg.trusted_origins = {"https://trusted.com", "https://*.trusted.com"};
  cfg.trust_localhost = trust_localhost;
  cfg.hash_threads = 1;
  return cfg;
}

std::unique_ptr<AuthService> MakeService(config::AuthConfig cfg) {
  return std::make_unique<AuthService>(std::move(cfg), nullptr, std::vector<std::unique_ptr<db::Pool>>{});
}

TEST(AuthService, CanBeBuiltWithoutKeysOrPools) {
  auto service = MakeService(TrustedComConfig());
  EXPECT_EQ(service->Config().base_url, "https://auth.example.com");
  EXPECT_EQ(service->SessionCookieName(), "__Secure-neon-auth.session_token");
}

TEST(AuthServiceRedirect, RejectsEveryCs04Vector) {
  const auto service = MakeService(TrustedComConfig());
  for (std::string_view url : {
           "https://evil.com",
           "//evil.com",
           "/\\evil.com",
           "/\\/\\/evil.com",
           "/%5C/evil.com",
           "/%5c/evil.com",
           "/%2F/evil.com",
           "/%2f/evil.com",
           "https://trusted.com.evil.com",
           "https://trusted.com@evil.com",
           "https://evil.com#@trusted.com",
           "http://123.123.123.123?trusted.com/",
           "javascript:alert(1)",
           "JavaScript:alert(1)",
           "data:text/html,x",
           "evil.com",
           "app.trusted.com",
           "https://xn--trsted-9ua.com",
       }) {
    SCOPED_TRACE(url);
    EXPECT_FALSE(service->IsAllowedRedirect(url));
  }
}

TEST(AuthServiceRedirect, RejectsOtherOffOriginForms) {
  const auto service = MakeService(TrustedComConfig());
  for (std::string_view url : {
           "",
           "http://trusted.com/cb",         // scheme must match exactly
           "http://app.trusted.com/cb",     // wildcard keeps the scheme
           "https://trusted.com:8443/cb",   // and the (default) port
           "https://trusted.com\\@evil.com",
           "https:evil.com",
           "https:/evil.com",
           "/\t/evil.com",
           "/ /evil.com",
           "\n/dashboard",
           "https://evil.com/?next=https://trusted.com",
           "https://evil.com/.trusted.com",
           "https://trusted.com.evil.com/.trusted.com",
           "ftp://trusted.com/file",
           "http://localhost:3000/cb",      // localhost not trusted in this configuration
       }) {
    SCOPED_TRACE(url);
    EXPECT_FALSE(service->IsAllowedRedirect(url));
  }
}

TEST(AuthServiceRedirect, AcceptsRelativePathsAndTrustedOrigins) {
  const auto service = MakeService(TrustedComConfig());
  for (std::string_view url : {
           "/dashboard?tab=1",
           "/",
           "/a/b#frag",
           "/search?q=%2F%2Fnot-a-host",
           "https://app.trusted.com/cb",
           "https://APP.Trusted.com/cb?x=1",
           "https://deep.app.trusted.com/",
           "https://trusted.com",
           "https://trusted.com:443/cb",
           "https://auth.example.com/after-sign-in",  // the service's own origin
       }) {
    SCOPED_TRACE(url);
    EXPECT_TRUE(service->IsAllowedRedirect(url));
  }
}

TEST(AuthServiceRedirect, AcceptsATrustedUrlWithAFragment) {
  // Fragments are part of ordinary callback URLs (SPA routes, "#section"); only the origin decides.
  const auto service = MakeService(TrustedComConfig());
  for (std::string_view url : {"https://app.trusted.com/cb#section", "https://trusted.com/#/dashboard"}) {
    SCOPED_TRACE(url);
    EXPECT_TRUE(service->IsAllowedRedirect(url));
  }
}

TEST(AuthServiceRedirect, TrustsLocalhostOnlyWhenConfigured) {
  EXPECT_FALSE(MakeService(TrustedComConfig(false))->IsAllowedRedirect("http://localhost:5173/cb"));
  EXPECT_TRUE(MakeService(TrustedComConfig(true))->IsAllowedRedirect("http://localhost:5173/cb"));
}

TEST(AuthServiceRedirect, RejectsOverlongUrls) {
  const auto service = MakeService(TrustedComConfig());
  EXPECT_FALSE(service->IsAllowedRedirect("/" + std::string(4096, 'a')));
}

using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

struct OriginCase {
  std::string_view name;
  http::bhttp::verb method;
  Headers headers;
  bool login;
  ErrorCode expected;  // kNone = allowed
};

void ExpectOriginChecks(const AuthService& service, const std::vector<OriginCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    http::Request req;
    req.raw.method(c.method);
    req.raw.target("/neondb/auth/sign-in/email");
    req.raw.version(11);
    for (const auto& [name, value] : c.headers) req.raw.insert(name, value);
    req.path = "/neondb/auth/sign-in/email";
    const Result<void> r = service.CheckOrigin(req, c.login);
    if (c.expected == ErrorCode::kNone) {
      EXPECT_TRUE(r.has_value()) << "rejected with " << Describe(r.error().code).code;
    } else {
      if (r.has_value()) {
        ADD_FAILURE() << "allowed, expected " << Describe(c.expected).code;
        continue;
      }
      EXPECT_EQ(Describe(r.error().code).code, Describe(c.expected).code);
      EXPECT_EQ(r.error().Status(), 403);
    }
  }
}

constexpr auto kGet = http::bhttp::verb::get;
constexpr auto kHead = http::bhttp::verb::head;
constexpr auto kOptions = http::bhttp::verb::options;
constexpr auto kPost = http::bhttp::verb::post;
constexpr auto kDelete = http::bhttp::verb::delete_;
constexpr auto kPatch = http::bhttp::verb::patch;
constexpr std::pair<std::string_view, std::string_view> kCookie{"Cookie", "__Secure-neon-auth.session_token=x.y"};

TEST(AuthServiceOrigin, NeverChecksSafeMethods) {
  const auto service = MakeService(TrustedComConfig());
  ExpectOriginChecks(*service, {
      {"GET with cookie and foreign origin", kGet, {kCookie, {"Origin", "https://evil.com"}}, true, ErrorCode::kNone},
      {"HEAD with cookie and no origin", kHead, {kCookie}, false, ErrorCode::kNone},
      {"OPTIONS with cookie and null origin", kOptions, {kCookie, {"Origin", "null"}}, false, ErrorCode::kNone},
      {"GET cross-site navigation", kGet,
       {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"}}, true, ErrorCode::kNone},
  });
}

TEST(AuthServiceOrigin, RequiresATrustedOriginWhenACookieIsSent) {
  const auto service = MakeService(TrustedComConfig());
  ExpectOriginChecks(*service, {
      {"trusted origin", kPost, {kCookie, {"Origin", "https://trusted.com"}}, false, ErrorCode::kNone},
      {"wildcard sub-domain", kPost, {kCookie, {"Origin", "https://app.trusted.com"}}, false, ErrorCode::kNone},
      {"own base URL", kPost, {kCookie, {"Origin", "https://auth.example.com"}}, false, ErrorCode::kNone},
      {"upper-case origin", kPost, {kCookie, {"Origin", "HTTPS://TRUSTED.COM"}}, false, ErrorCode::kNone},
      {"no origin, no referer", kPost, {kCookie}, false, ErrorCode::kMissingOrNullOrigin},
      {"no origin on sign-in", kPost, {kCookie}, true, ErrorCode::kMissingOrNullOrigin},
      {"null origin", kPost, {kCookie, {"Origin", "null"}}, false, ErrorCode::kMissingOrNullOrigin},
      {"foreign origin", kPost, {kCookie, {"Origin", "https://evil.com"}}, false, ErrorCode::kInvalidOrigin},
      {"look-alike origin", kPost, {kCookie, {"Origin", "https://trusted.com.evil.com"}}, false,
       ErrorCode::kInvalidOrigin},
      {"scheme mismatch", kPost, {kCookie, {"Origin", "http://trusted.com"}}, false, ErrorCode::kInvalidOrigin},
      {"localhost not trusted here", kPost, {kCookie, {"Origin", "http://localhost:3000"}}, false,
       ErrorCode::kInvalidOrigin},
      {"trusted referer stands in for origin", kPost, {kCookie, {"Referer", "https://app.trusted.com/login?x=1"}},
       false, ErrorCode::kNone},
      {"foreign referer", kPost, {kCookie, {"Referer", "https://evil.com/trusted.com"}}, false,
       ErrorCode::kInvalidOrigin},
      {"origin wins over referer", kPost,
       {kCookie, {"Origin", "https://evil.com"}, {"Referer", "https://trusted.com/"}}, false,
       ErrorCode::kInvalidOrigin},
      {"DELETE is checked too", kDelete, {kCookie, {"Origin", "https://evil.com"}}, false, ErrorCode::kInvalidOrigin},
      {"PATCH is checked too", kPatch, {kCookie}, false, ErrorCode::kMissingOrNullOrigin},
  });
}

TEST(AuthServiceOrigin, DoesNotTrustAnUnparseableRefererThroughAWildcard) {
  // A Referer that is not a URL must not be matched as if it were an origin: the wildcard's '*' would
  // otherwise swallow "evil.com# " and accept it as a sub-domain of trusted.com.
  const auto service = MakeService(TrustedComConfig());
  ExpectOriginChecks(*service, {
      {"referer with a space", kPost, {kCookie, {"Referer", "https://evil.com# .trusted.com"}}, false,
       ErrorCode::kInvalidOrigin},
      {"referer with a space on sign-in", kPost, {{"Referer", "https://evil.com# .trusted.com"}}, true,
       ErrorCode::kInvalidOrigin},
  });
}

TEST(AuthServiceOrigin, LetsCookielessRequestsThroughOutsideSignIn) {
  const auto service = MakeService(TrustedComConfig());
  ExpectOriginChecks(*service, {
      {"server to server", kPost, {}, false, ErrorCode::kNone},
      {"bearer with foreign origin", kPost, {{"Authorization", "Bearer abc"}, {"Origin", "https://evil.com"}}, false,
       ErrorCode::kNone},
      {"null origin", kPost, {{"Origin", "null"}}, false, ErrorCode::kNone},
  });
}

TEST(AuthServiceOrigin, AppliesTheLoginChecksWithoutACookie) {
  const auto service = MakeService(TrustedComConfig());
  ExpectOriginChecks(*service, {
      {"server to server sign-in", kPost, {}, true, ErrorCode::kNone},
      {"trusted origin", kPost, {{"Origin", "https://app.trusted.com"}}, true, ErrorCode::kNone},
      {"foreign origin", kPost, {{"Origin", "https://evil.com"}}, true, ErrorCode::kInvalidOrigin},
      {"null origin", kPost, {{"Origin", "null"}}, true, ErrorCode::kMissingOrNullOrigin},
      {"foreign referer", kPost, {{"Referer", "https://evil.com/page"}}, true, ErrorCode::kInvalidOrigin},
      {"trusted referer", kPost, {{"Referer", "https://trusted.com/page"}}, true, ErrorCode::kNone},
      {"cross-site navigation", kPost, {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"}}, true,
       ErrorCode::kCrossSiteNavigationLoginBlocked},
      {"cross-site navigation, upper case", kPost,
       {{"Sec-Fetch-Site", "Cross-Site"}, {"Sec-Fetch-Mode", "Navigate"}}, true,
       ErrorCode::kCrossSiteNavigationLoginBlocked},
      {"cross-site navigation even from a trusted origin", kPost,
       {{"Origin", "https://trusted.com"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"}}, true,
       ErrorCode::kCrossSiteNavigationLoginBlocked},
      {"same-origin navigation", kPost,
       {{"Origin", "https://auth.example.com"}, {"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Mode", "navigate"}},
       true, ErrorCode::kNone},
      {"cross-site cors from a trusted origin", kPost,
       {{"Origin", "https://app.trusted.com"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "cors"}}, true,
       ErrorCode::kNone},
      {"cross-site cors from a foreign origin", kPost,
       {{"Origin", "https://evil.com"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "cors"}}, true,
       ErrorCode::kInvalidOrigin},
  });
}

TEST(AuthServiceOrigin, AllowsNodeFetchWithoutOriginOnSignIn) {
  // Decision D3: Node's fetch sends Sec-Fetch-Mode: cors but no Origin; with no cookie that is allowed.
  const auto service = MakeService(TrustedComConfig());
  ExpectOriginChecks(*service, {
      {"sec-fetch-mode cors, no origin", kPost, {{"Sec-Fetch-Mode", "cors"}}, true, ErrorCode::kNone},
      {"sec-fetch-mode cors + site, no origin", kPost,
       {{"Sec-Fetch-Mode", "cors"}, {"Sec-Fetch-Site", "cross-site"}}, true, ErrorCode::kNone},
      {"but not with a cookie", kPost, {kCookie, {"Sec-Fetch-Mode", "cors"}}, true, ErrorCode::kMissingOrNullOrigin},
  });
}

TEST(AuthServiceOrigin, TrustsLocalhostWhenConfigured) {
  const auto service = MakeService(TrustedComConfig(/*trust_localhost=*/true));
  ExpectOriginChecks(*service, {
      {"localhost with cookie", kPost, {kCookie, {"Origin", "http://localhost:5173"}}, false, ErrorCode::kNone},
      {"127.0.0.1 on sign-in", kPost, {{"Origin", "http://127.0.0.1:3000"}}, true, ErrorCode::kNone},
      {"still not evil.com", kPost, {kCookie, {"Origin", "https://evil.com"}}, false, ErrorCode::kInvalidOrigin},
  });
}

}  // namespace
}  // namespace pgwarden::auth
