//! JwksVerifier without the network: static keys (PGRST_JWT_SECRET as a JWK), URL validation, Bearer parsing.
//! Remote fetching, refetch on rotation and the rate limit are covered by tests/e2e/rest.jwks.test.mjs.
#include "dataapi/jwks.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "crypto/jwk.hpp"

namespace pgwarden::dataapi {
namespace {

// PostgREST's AsymmetricJwtSpec key and token (RS256, no kid, payload {"role": "postgrest_test_author"}\n).
const std::string kRsaJwk =
    R"({"alg":"RS256","e":"AQAB","key_ops":["verify"],"kty":"RSA","n":")"
    "0etQ2Tg187jb04MWfpuogYGV75IFrQQBxQaGH75eq_FpbkyoLcEpRUEWSbECP2eeFya2yZ9vIO5ScD-lPmovePk4Aa4SzZ8jdjhm"
    "AbNykleRPCxMg0481kz6PQhnHRUv3nF5WP479CnObJKqTVdEagVL66oxnX9VhZG9IZA7k0Th5PfKQwrKGyUeTGczpOjaPqbxlunP"
    "73j9AfnAt4XCS8epa-n3WGz1j-wfpr_ys57Aq-zBCfqP67UYzNpeI1AoXsJhD9xSDOzvJgFRvc3vm2wjAW4LEMwi48rCplamOpZT"
    "oIHEPIaPzpveYQwDnB1HFTR1ove9bpKJsHmi-e2uzQ"
    R"(","use":"sig"})";
const std::string kToken =
    "eyJhbGciOiJSUzI1NiJ9.eyJyb2xlIjogInBvc3RncmVzdF90ZXN0X2F1dGhvciJ9Cg.CBOYWDvqgAR0YYnZnyDGTQi6AJLc2Pds6_eV3YuBG6I3"
    "6mj_h05eLhkEKNEDA5ZteMzCiY83P60rC_xtxVd7B6vo3BeF5uoanPS3rrbuHzKPwzsrgrD_CqvEuJ4n7Q9epkQiLsNkcexneENZDRqFjbwZx3Dr"
    "XiCWwlK3Ytr5NAIGxmy0od-0xNpb2U1nXQyO_Q3mumWFViRt4tmFn_3goDHNKG3Ha_AzImfUNvHnWL78kAc4rbn15vLtWXD8PwtSnZaB4lY4V6Rf"
    "saW937srQsmRetvytM1i_bHBnjkjQLAqGbXPyItjtlXPs0uGNBadE8-wgkLtfmSCC4v2DjUthw";

TEST(JwksVerifier, VerifiesWithStaticKeys) {
  auto parsed = crypto::ParseJwkSet(kRsaJwk);
  ASSERT_TRUE(parsed.has_value());
  const JwksVerifier v(parsed->keys, {});
  EXPECT_FALSE(v.HasUrls());
  EXPECT_EQ(v.Verify(kToken), std::optional<std::string>("{\"role\": \"postgrest_test_author\"}\n"));
  std::string tampered = kToken;
  tampered.back() = tampered.back() == 'w' ? 'x' : 'w';
  EXPECT_EQ(v.Verify(tampered), std::nullopt);
  EXPECT_EQ(v.Verify("a.b.c"), std::nullopt);
}

TEST(JwksVerifier, RefusesUrlsThatAreNotHttpsOrLoopbackHttp) {
  EXPECT_NO_THROW(JwksVerifier(crypto::JwkSet(), {"https://idp.example.com/jwks", "http://127.0.0.1:1/jwks"}));
  EXPECT_THROW(JwksVerifier(crypto::JwkSet(), {"http://idp.example.com/jwks"}), std::invalid_argument);
  EXPECT_THROW(JwksVerifier(crypto::JwkSet(), {"not a url"}), std::invalid_argument);
}

TEST(BearerToken, TakesTheTokenOfABearerAuthorization) {
  EXPECT_EQ(BearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(BearerToken("  bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic dXNlcjpwdw=="), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken(""), "");
}

}  // namespace
}  // namespace pgwarden::dataapi
