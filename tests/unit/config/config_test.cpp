//! Loading and validating the one Config: env + optional TOML file, every problem reported at once.
#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

const std::string kSecret32 = "0123456789abcdef0123456789abcdef";

std::map<std::string, std::string> MinimalEnv() {
  return {{"DATABASE_URL", "postgresql://app:pw@db.example.com:5432/appdb?sslmode=require"},
          {"PGWARDEN_SECRET", kSecret32}};
}

//! A scratch folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("pgw-config-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, std::string_view text) const {
    const auto p = path_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

TEST(Load, AcceptsAMinimalEnvironmentWithDocumentedDefaults) {
  const LoadResult r = Load(MinimalEnv());
  ASSERT_THAT(r.errors, IsEmpty());
  const Config& c = r.config;
  EXPECT_EQ(c.db.url, "postgresql://app:pw@db.example.com:5432/appdb?sslmode=require");
  EXPECT_EQ(c.db.database_name, "appdb");
  EXPECT_EQ(c.db.pool_per_thread, 4);
  EXPECT_EQ(c.http.host, "127.0.0.1");
  EXPECT_EQ(c.http.port, 3000);
  EXPECT_EQ(c.http.threads, 0);
  EXPECT_EQ(c.http.max_body_bytes, std::size_t{1} << 20);
  EXPECT_EQ(c.auth.secret, kSecret32);
  EXPECT_EQ(c.auth.base_url, "http://localhost:3000");
  EXPECT_THAT(c.auth.trusted_origins, IsEmpty());
  EXPECT_TRUE(c.auth.trust_localhost);
  EXPECT_EQ(c.auth.cookie_mode, CookieMode::kLax);
  EXPECT_TRUE(c.auth.secure_cookies);
  EXPECT_EQ(c.auth.cookie_prefix, "neon-auth");
  EXPECT_EQ(c.auth.session_expires_in_s, 7 * 24 * 3600);
  EXPECT_EQ(c.auth.session_update_age_s, 24 * 3600);
  EXPECT_EQ(c.auth.session_fresh_age_s, 24 * 3600);
  EXPECT_EQ(c.auth.jwt_ttl_s, 900);
  EXPECT_EQ(c.auth.jwt_issuer, "http://localhost:3000");
  EXPECT_EQ(c.auth.jwt_audience, "http://localhost:3000");
  EXPECT_TRUE(c.auth.allow_anonymous);
  EXPECT_FALSE(c.auth.require_email_verification);
  EXPECT_EQ(c.auth.min_password_length, 8);
  EXPECT_EQ(c.auth.max_password_length, 128);
  EXPECT_EQ(c.log_level, "info");
}

TEST(Load, AcceptsBetterAuthSecretAndUrlAsAliases) {
  const LoadResult r = Load({{"DATABASE_URL", "postgres://localhost/neondb"},
                             {"BETTER_AUTH_SECRET", kSecret32},
                             {"BETTER_AUTH_URL", "https://Auth.Example.com/api/auth"}});
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config.auth.secret, kSecret32);
  EXPECT_EQ(r.config.auth.base_url, "https://auth.example.com");
}

TEST(Load, PrefersPgwardenSecretOverBetterAuthSecret) {
  auto env = MinimalEnv();
  env["BETTER_AUTH_SECRET"] = std::string(40, 'b');
  EXPECT_EQ(Load(env).config.auth.secret, kSecret32);
}

TEST(Load, RequiresASecretAndADatabase) {
  const LoadResult r = Load({});
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_THAT(r.errors[0], StartsWith("DATABASE_URL:"));
  EXPECT_THAT(r.errors[1], StartsWith("PGWARDEN_SECRET:"));
  EXPECT_THAT(Load({{"PGWARDEN_SECRET", kSecret32}}, /*require_database=*/false).errors, IsEmpty());
}

TEST(Load, ReportsEveryInvalidSettingOnItsOwnLine) {
  auto env = MinimalEnv();
  env["PGWARDEN_SECRET"] = "too-short";
  env["PGWARDEN_LISTEN"] = "no-port-here";
  env["PGWARDEN_BASE_URL"] = "ftp://auth.example.com";
  env["PGWARDEN_TRUSTED_ORIGINS"] = "https://ok.example.com, not an origin";
  env["PGWARDEN_TRUST_LOCALHOST"] = "maybe";
  env["PGWARDEN_JWT_TTL"] = "5";
  const LoadResult r = Load(env);
  ASSERT_EQ(r.errors.size(), 6u) << ::testing::PrintToString(r.errors);
  std::map<std::string, std::string> by_name;
  for (const auto& line : r.errors) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    by_name[line.substr(0, line.find(':'))] = line;
  }
  EXPECT_THAT(by_name["PGWARDEN_SECRET"], HasSubstr("too short"));
  EXPECT_THAT(by_name["PGWARDEN_LISTEN"], HasSubstr("no-port-here"));
  EXPECT_THAT(by_name["PGWARDEN_BASE_URL"], HasSubstr("ftp://auth.example.com"));
  EXPECT_THAT(by_name["PGWARDEN_TRUSTED_ORIGINS"], HasSubstr("not an origin"));
  EXPECT_THAT(by_name["PGWARDEN_TRUST_LOCALHOST"], HasSubstr("maybe"));
  EXPECT_THAT(by_name["PGWARDEN_JWT_TTL"], HasSubstr("between 30 and 86400"));
  // The valid trusted origin is still kept.
  EXPECT_THAT(r.config.auth.trusted_origins, ElementsAre("https://ok.example.com"));
}

TEST(Load, RejectsBadListenAddresses) {
  for (std::string_view listen : {"3000", ":3000", "localhost:", "localhost:99999", "localhost:-1", "host:30x0"}) {
    SCOPED_TRACE(listen);
    auto env = MinimalEnv();
    env["PGWARDEN_LISTEN"] = std::string(listen);
    const LoadResult r = Load(env);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_LISTEN:"));
  }
}

TEST(Load, ParsesListenAddressesIncludingBracketedIpv6) {
  struct Case {
    std::string_view listen;
    std::string_view host;
    int port;
  };
  for (const auto& c : {Case{"0.0.0.0:8080", "0.0.0.0", 8080}, Case{"[::1]:4000", "::1", 4000},
                        Case{"localhost:0", "localhost", 0}}) {
    SCOPED_TRACE(c.listen);
    auto env = MinimalEnv();
    env["PGWARDEN_LISTEN"] = std::string(c.listen);
    const LoadResult r = Load(env);
    ASSERT_THAT(r.errors, IsEmpty());
    EXPECT_EQ(r.config.http.host, c.host);
    EXPECT_EQ(r.config.http.port, c.port);
  }
}

TEST(Load, DerivesTheDefaultBaseUrlFromTheListenPort) {
  auto env = MinimalEnv();
  env["PGWARDEN_LISTEN"] = "127.0.0.1:4444";
  EXPECT_EQ(Load(env).config.auth.base_url, "http://localhost:4444");
}

TEST(Load, NormalisesTrustedOriginsAndKeepsWildcards) {
  auto env = MinimalEnv();
  env["PGWARDEN_TRUSTED_ORIGINS"] = " HTTPS://App.Example.com:443 ,https://*.example.com,, http://localhost:5173 ";
  const LoadResult r = Load(env);
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_THAT(r.config.auth.trusted_origins,
              ElementsAre("https://app.example.com", "https://*.example.com", "http://localhost:5173"));
}

TEST(Load, ReadsBooleansInTheUsualSpellings) {
  for (const auto& [text, expected] : std::vector<std::pair<std::string, bool>>{
           {"1", true}, {"true", true}, {"TRUE", true}, {"yes", true}, {"on", true},
           {"0", false}, {"false", false}, {"No", false}, {"off", false}}) {
    SCOPED_TRACE(text);
    auto env = MinimalEnv();
    env["PGWARDEN_REQUIRE_EMAIL_VERIFICATION"] = text;
    const LoadResult r = Load(env);
    ASSERT_THAT(r.errors, IsEmpty());
    EXPECT_EQ(r.config.auth.require_email_verification, expected);
  }
}

TEST(Load, RejectsIntegersOutOfRangeOrWithJunk) {
  for (std::string_view value : {"29", "86401", "9e2", "900s", "", " 900", "0x10"}) {
    SCOPED_TRACE(value);
    auto env = MinimalEnv();
    env["PGWARDEN_JWT_TTL"] = std::string(value);
    const LoadResult r = Load(env);
    if (value.empty()) {
      // An empty variable counts as unset.
      EXPECT_THAT(r.errors, IsEmpty());
      EXPECT_EQ(r.config.auth.jwt_ttl_s, 900);
    } else {
      ASSERT_EQ(r.errors.size(), 1u);
      EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_JWT_TTL:"));
    }
  }
}

TEST(Load, RequiresSecureCookiesForCrossSiteMode) {
  auto env = MinimalEnv();
  env["PGWARDEN_COOKIE_MODE"] = "cross-site";
  env["PGWARDEN_SECURE_COOKIES"] = "false";
  const LoadResult r = Load(env);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_COOKIE_MODE:"));
  env["PGWARDEN_SECURE_COOKIES"] = "true";
  EXPECT_THAT(Load(env).errors, IsEmpty());
  EXPECT_EQ(Load(env).config.auth.cookie_mode, CookieMode::kCrossSite);
}

TEST(Load, RejectsADatabaseNameThatIsNotAPathSegment) {
  auto env = MinimalEnv();
  env["PGWARDEN_DB_NAME"] = "my/db";
  const LoadResult r = Load(env);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_DB_NAME:"));
}

TEST(Load, DefaultsTheDatabaseNameToNeondbWhenTheUrlHasNone) {
  auto env = MinimalEnv();
  env["DATABASE_URL"] = "postgresql://localhost";
  EXPECT_EQ(Load(env).config.db.database_name, "neondb");
}

TEST(Load, ReadsAFileAndLetsTheEnvironmentWin) {
  TempDir dir;
  const std::string file = dir.Write("pgwarden.toml", R"(
database_url = "postgres://file-host/filedb"
jwt_ttl = 600
trusted_origins = ["https://a.example.com", "https://b.example.com"]

[auth]
secret = "file-secret-file-secret-file-secret!"
allow_anonymous = false
session_expires_in = 3600
)");
  auto env = MinimalEnv();
  env.erase("PGWARDEN_SECRET");
  env["PGWARDEN_CONFIG"] = file;
  env["PGWARDEN_JWT_TTL"] = "1200";          // env wins over the file
  env["PGWARDEN_SESSION_EXPIRES_IN"] = "";   // empty env counts as unset: the file's value is used
  const LoadResult r = Load(env);
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config.db.url, "postgresql://app:pw@db.example.com:5432/appdb?sslmode=require");  // env
  EXPECT_EQ(r.config.auth.jwt_ttl_s, 1200);                                                   // env
  EXPECT_EQ(r.config.auth.secret, "file-secret-file-secret-file-secret!");                    // file
  EXPECT_FALSE(r.config.auth.allow_anonymous);                                                 // file
  EXPECT_EQ(r.config.auth.session_expires_in_s, 3600);                                         // file
  EXPECT_THAT(r.config.auth.trusted_origins, ElementsAre("https://a.example.com", "https://b.example.com"));
}

TEST(Load, ValidatesValuesFromTheFileLikeThoseFromTheEnvironment) {
  TempDir dir;
  const std::string file = dir.Write("bad.toml", "jwt_ttl = 5\ntrust_localhost = \"perhaps\"\n");
  auto env = MinimalEnv();
  env["PGWARDEN_CONFIG"] = file;
  const LoadResult r = Load(env);
  ASSERT_EQ(r.errors.size(), 2u) << ::testing::PrintToString(r.errors);
  EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_TRUST_LOCALHOST:"));
  EXPECT_THAT(r.errors[1], StartsWith("PGWARDEN_JWT_TTL:"));
}

TEST(Load, ReportsAnUnreadableConfigFile) {
  TempDir dir;
  auto env = MinimalEnv();
  env["PGWARDEN_CONFIG"] = dir.Write("broken.toml", "this is = = not toml");
  LoadResult r = Load(env);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_CONFIG:"));
  env["PGWARDEN_CONFIG"] = "/nonexistent/pgwarden.toml";
  r = Load(env);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], StartsWith("PGWARDEN_CONFIG:"));
}

TEST(OriginOf, ReducesUrlsToLowerCaseOriginsWithoutDefaultPorts) {
  struct Case {
    std::string_view url;
    std::string_view origin;
  };
  for (const auto& c : {
           Case{"https://example.com", "https://example.com"},
           Case{"https://example.com/path?q=1#frag", "https://example.com"},
           Case{"https://example.com:443/x", "https://example.com"},
           Case{"http://example.com:80", "http://example.com"},
           Case{"http://example.com:443", "http://example.com:443"},
           Case{"https://example.com:80", "https://example.com:80"},
           Case{"https://example.com:8443", "https://example.com:8443"},
           Case{"HTTPS://App.EXAMPLE.com", "https://app.example.com"},
           Case{"http://localhost:3000/api/auth", "http://localhost:3000"},
           Case{"http://127.0.0.1:5173", "http://127.0.0.1:5173"},
           Case{"http://[::1]:3000/", "http://[::1]:3000"},
       }) {
    SCOPED_TRACE(c.url);
    EXPECT_EQ(OriginOf(c.url), std::optional<std::string>(c.origin));
  }
}

TEST(OriginOf, SerialisesPortsAsBrowsersDo) {
  struct Case {
    std::string_view url;
    std::optional<std::string> origin;
  };
  for (const auto& c : {
           Case{"https://example.com:/x", "https://example.com"},          // empty port = default
           Case{"https://example.com:0443/x", "https://example.com"},      // leading zeros dropped
           Case{"http://example.com:08080", "http://example.com:8080"},
           Case{"https://example.com:65535", "https://example.com:65535"},
           Case{"https://example.com:65536", std::nullopt},
           Case{"https://example.com:443:x", std::nullopt},
           Case{"https://example.com:12ab", std::nullopt},
       }) {
    SCOPED_TRACE(c.url);
    EXPECT_EQ(OriginOf(c.url), c.origin);
  }
}

TEST(OriginOf, RejectsUserinfoNonHttpSchemesAndRelativeUrls) {
  for (std::string_view url : {
           "https://user@example.com",
           "https://user:pass@example.com",
           "https://trusted.com@evil.com",
           "ftp://example.com",
           "javascript:alert(1)",
           "data:text/html,x",
           "file:///etc/passwd",
           "//example.com",
           "/path",
           "example.com",
           "https://",
           "https:///path",
           "",
       }) {
    SCOPED_TRACE(url);
    EXPECT_EQ(OriginOf(url), std::nullopt);
  }
}

TEST(DatabaseNameOf, ReadsTheDatabaseFromUris) {
  struct Case {
    std::string_view conninfo;
    std::string_view name;
  };
  for (const auto& c : {
           Case{"postgres://user:pw@host:5432/mydb", "mydb"},
           Case{"postgresql://user@host/neondb?sslmode=require", "neondb"},
           Case{"postgresql:///localdb", "localdb"},
           Case{"postgresql://host/my%2Ddb", "my-db"},
           Case{"postgresql://host", ""},
       }) {
    SCOPED_TRACE(c.conninfo);
    EXPECT_EQ(DatabaseNameOf(c.conninfo), c.name);
  }
}

TEST(DatabaseNameOf, ReadsTheDatabaseFromKeyValueStrings) {
  struct Case {
    std::string_view conninfo;
    std::string_view name;
  };
  for (const auto& c : {
           Case{"host=/tmp port=5432 dbname=appdb user=postgres", "appdb"},
           Case{"dbname=first", "first"},
           Case{"host=localhost user=postgres", ""},
           // A value that merely contains "dbname=" is not the dbname keyword.
           Case{"host=localhost application_name='dbname=wrong' dbname=right", "right"},
           // libpq refuses unknown keywords, so such a string names no database.
           Case{"host=localhost mydbname=wrong dbname=right", ""},
           // libpq's grammar: spaces around '=' and single-quoted values.
           Case{"host=localhost dbname = spaced", "spaced"},
           Case{"host=localhost dbname='quoted'", "quoted"},
       }) {
    SCOPED_TRACE(c.conninfo);
    EXPECT_EQ(DatabaseNameOf(c.conninfo), c.name);
  }
}

TEST(Load, ReadsOAuthProvidersAndTheirOverrides) {
  auto env = MinimalEnv();
  env["PGWARDEN_OAUTH_GOOGLE_CLIENT_ID"] = "g-id";
  env["PGWARDEN_OAUTH_GOOGLE_CLIENT_SECRET"] = "g-secret";
  env["PGWARDEN_OAUTH_ACME_SSO_CLIENT_ID"] = "a-id";
  env["PGWARDEN_OAUTH_ACME_SSO_CLIENT_SECRET"] = "a-secret";
  env["PGWARDEN_OAUTH_ACME_SSO_ISSUER"] = "http://127.0.0.1:4444";
  env["PGWARDEN_OAUTH_ACME_SSO_SCOPES"] = "openid, email ,profile";
  env["PGWARDEN_OAUTH_ALLOW_LOOPBACK"] = "true";
  const auto r = Load(env);
  ASSERT_THAT(r.errors, IsEmpty());
  ASSERT_EQ(r.config.oauth.providers.size(), 2u);
  const auto& acme = r.config.oauth.providers[0];
  EXPECT_EQ(acme.id, "acme-sso");
  EXPECT_EQ(acme.issuer, "http://127.0.0.1:4444");
  EXPECT_THAT(acme.scopes, ElementsAre("openid", "email", "profile"));
  EXPECT_EQ(r.config.oauth.providers[1].id, "google");
  EXPECT_EQ(r.config.oauth.providers[1].client_secret, "g-secret");
  EXPECT_TRUE(r.config.oauth.allow_loopback);
}

TEST(Load, RefusesIncompleteOAuthProviders) {
  auto env = MinimalEnv();
  env["PGWARDEN_OAUTH_ACME_CLIENT_ID"] = "a-id";  // no secret, no issuer
  env["PGWARDEN_OAUTH_GITHUB_CLIENT_ID"] = "gh";
  env["PGWARDEN_OAUTH_GITHUB_CLIENT_SECRET"] = "s";
  env["PGWARDEN_OAUTH_GITHUB_TOKEN_URL"] = "ftp://x";
  const auto r = Load(env);
  EXPECT_THAT(r.errors, testing::Contains(HasSubstr("PGWARDEN_OAUTH_ACME_ISSUER: required")));
  EXPECT_THAT(r.errors, testing::Contains(HasSubstr("PGWARDEN_OAUTH_ACME_CLIENT_SECRET: required")));
  EXPECT_THAT(r.errors, testing::Contains(HasSubstr("ftp://x")));
}

}  // namespace
}  // namespace pgwarden::config
