//! The claims a verified token must carry before the Data API uses it: PostgREST's time and audience rules,
//! the own keys' issuer/audience binding (JW-06) and Neon mode's strict rules (aud required, sub a string;
//! JW-06, JW-10).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "dataapi/jwt_claims.hpp"

namespace pgwarden::dataapi {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

std::optional<ApiError> Check(std::string_view claims_json, const JwtClaimRules& rules, bool own_key) {
  const boost::json::value v = boost::json::parse(claims_json);
  return CheckJwtClaims(v.as_object(), rules, own_key, kNow);
}

JwtClaimRules Neon() {
  JwtClaimRules r;
  r.own_issuer = "https://app.example";
  r.own_audience = "https://app.example";
  return r;
}

JwtClaimRules PostgRest() {
  JwtClaimRules r;
  r.require_exp = false;
  r.strict = false;
  return r;
}

const std::string kExp = R"("exp":1800000300)";

TEST(JwtClaims, OwnTokensMustNameTheServicesIssuerAndAudience) {
  struct Case {
    const char* name;
    std::string claims;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"iss and aud ours", R"({"iss":"https://app.example","aud":"https://app.example",)" + kExp + "}", true},
      {"aud array containing ours",
       R"({"iss":"https://app.example","aud":["other","https://app.example"],)" + kExp + "}", true},
      {"aud of another service", R"({"iss":"https://app.example","aud":"other-api",)" + kExp + "}", false},
      {"no aud", R"({"iss":"https://app.example",)" + kExp + "}", false},
      {"aud null", R"({"iss":"https://app.example","aud":null,)" + kExp + "}", false},
      {"aud []", R"({"iss":"https://app.example","aud":[],)" + kExp + "}", false},
      {"aud a number", R"({"iss":"https://app.example","aud":42,)" + kExp + "}", false},
      {"aud an object", R"({"iss":"https://app.example","aud":{"aud":"https://app.example"},)" + kExp + "}", false},
      {"another issuer", R"({"iss":"https://other.example","aud":"https://app.example",)" + kExp + "}", false},
      {"no iss", R"({"aud":"https://app.example",)" + kExp + "}", false},
      {"iss not a string", R"({"iss":7,"aud":"https://app.example",)" + kExp + "}", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto e = Check(c.claims, Neon(), /*own_key=*/true);
    EXPECT_EQ(!e.has_value(), c.ok);
    if (e) {
      EXPECT_EQ(e->status, 401);
      EXPECT_EQ(e->code, "PGRST303");
    }
  }
}

TEST(JwtClaims, OtherTokensAreCheckedAgainstTheConfiguredAudienceOnly) {
  JwtClaimRules rules = Neon();
  // Third-party tokens are not bound to pgwarden's issuer; without PGRST_JWT_AUD any audience passes.
  EXPECT_FALSE(Check(R"({"iss":"https://idp.example","aud":"x",)" + kExp + "}", rules, false));
  EXPECT_FALSE(Check("{" + kExp + "}", rules, false));
  rules.audience = "https://api.ours.example";
  EXPECT_FALSE(Check(R"({"aud":"https://api.ours.example",)" + kExp + "}", rules, false));
  EXPECT_FALSE(Check(R"({"aud":["a","https://api.ours.example"],)" + kExp + "}", rules, false));
  EXPECT_TRUE(Check(R"({"aud":"other-api",)" + kExp + "}", rules, false));
  EXPECT_TRUE(Check(R"({"aud":42,)" + kExp + "}", rules, false));
  // Strict (Neon) mode: a token naming no audience is not one for this API.
  EXPECT_TRUE(Check("{" + kExp + "}", rules, false));
  EXPECT_TRUE(Check(R"({"aud":[],)" + kExp + "}", rules, false));
  EXPECT_TRUE(Check(R"({"aud":null,)" + kExp + "}", rules, false));
}

TEST(JwtClaims, PostgrestModeKeepsPostgrestsAudienceRules) {
  JwtClaimRules rules = PostgRest();
  rules.audience = "https://api.ours.example";
  EXPECT_FALSE(Check("{}", rules, false)) << "no aud is accepted";
  EXPECT_FALSE(Check(R"({"aud":[]})", rules, false)) << "an empty array is accepted";
  EXPECT_FALSE(Check(R"({"aud":null})", rules, false));
  EXPECT_TRUE(Check(R"({"aud":"other"})", rules, false));
  const auto shape = Check(R"({"aud":{"a":1}})", rules, false);
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->message, "The JWT 'aud' claim must be a string or an array of strings");
  EXPECT_FALSE(Check(R"({"sub":12345})", rules, false)) << "PostgREST does not look at sub";
}

TEST(JwtClaims, StrictModeWantsSubAsAString) {
  const JwtClaimRules rules = Neon();
  const std::string base = R"("iss":"https://app.example","aud":"https://app.example",)" + kExp;
  EXPECT_FALSE(Check("{" + base + R"(,"sub":"u1"})", rules, true));
  EXPECT_FALSE(Check("{" + base + "}", rules, true)) << "anonymous tokens have no sub";
  for (const char* sub : {"12345", R"({"id":"u1"})", "null", "true", R"(["u1"])"}) {
    SCOPED_TRACE(sub);
    const auto e = Check("{" + base + ",\"sub\":" + sub + "}", rules, true);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->message, "The JWT 'sub' claim must be a string");
  }
}

TEST(JwtClaims, TimeClaimsWithSkew) {
  const JwtClaimRules rules = PostgRest();
  EXPECT_TRUE(Check(R"({"exp":1799999969})", rules, false)) << "31 s past";
  EXPECT_FALSE(Check(R"({"exp":1799999995})", rules, false)) << "within the 30 s skew";
  EXPECT_TRUE(Check(R"({"nbf":1800000120})", rules, false));
  EXPECT_TRUE(Check(R"({"iat":1800000120})", rules, false));
  EXPECT_TRUE(Check(R"({"exp":"1800000300"})", rules, false));
  EXPECT_FALSE(Check("{}", rules, false)) << "PostgREST accepts a token without exp";
  EXPECT_TRUE(Check("{}", Neon(), false)) << "Neon mode does not";
}

// Found by tests/fuzz/jwt_fuzz (regressions/jwt_fuzz-claims-exp-*): a double beyond int64 was cast
// (undefined behaviour) and an `exp` near INT64_MAX overflowed `exp + skew`. Such times saturate instead.
TEST(JwtClaims, TimesBeyondInt64SaturateWithoutOverflow) {
  const JwtClaimRules rules = PostgRest();
  EXPECT_FALSE(Check(R"({"exp":1e300})", rules, false)) << "far future";
  EXPECT_FALSE(Check(R"({"exp":18446744073709551615})", rules, false)) << "2^64-1";
  EXPECT_FALSE(Check(R"({"exp":9223372036854775807})", rules, false)) << "INT64_MAX";
  EXPECT_TRUE(Check(R"({"exp":-1e300})", rules, false)) << "far past";
  EXPECT_TRUE(Check(R"({"nbf":1e300})", rules, false));
  EXPECT_FALSE(Check(R"({"nbf":-1e300,"iat":-1e300})", rules, false));
}

}  // namespace
}  // namespace pgwarden::dataapi
