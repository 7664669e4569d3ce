//! The Data API's asymmetric JWT settings: PGRST_JWT_SECRET as a JWK/JWKS and PGWARDEN_DATA_API_JWKS_URLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/config.hpp"

namespace pgwarden::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// PostgREST's AsymmetricJwtSpec key (RSA 2048, RS256).
const std::string kRsaJwk =
    R"({"alg":"RS256","e":"AQAB","key_ops":["verify"],"kty":"RSA","n":")"
    "0etQ2Tg187jb04MWfpuogYGV75IFrQQBxQaGH75eq_FpbkyoLcEpRUEWSbECP2eeFya2yZ9vIO5ScD-lPmovePk4Aa4SzZ8jdjhm"
    "AbNykleRPCxMg0481kz6PQhnHRUv3nF5WP479CnObJKqTVdEagVL66oxnX9VhZG9IZA7k0Th5PfKQwrKGyUeTGczpOjaPqbxlunP"
    "73j9AfnAt4XCS8epa-n3WGz1j-wfpr_ys57Aq-zBCfqP67UYzNpeI1AoXsJhD9xSDOzvJgFRvc3vm2wjAW4LEMwi48rCplamOpZT"
    "oIHEPIaPzpveYQwDnB1HFTR1ove9bpKJsHmi-e2uzQ"
    R"(","use":"sig"})";

std::map<std::string, std::string> Env(std::map<std::string, std::string> extra) {
  extra["DATABASE_URL"] = "postgresql://app:pw@db.example.com:5432/appdb";
  extra["PGWARDEN_SECRET"] = "0123456789abcdef0123456789abcdef";
  return extra;
}

TEST(JwksConfig, AcceptsAJwkOrAJwkSetAsPgrstJwtSecret) {
  auto one = Load(Env({{"PGRST_JWT_SECRET", kRsaJwk}}));
  EXPECT_THAT(one.errors, IsEmpty());
  EXPECT_EQ(one.config.data_api.jwt_secret, kRsaJwk);
  auto set = LoadRest(Env({{"PGRST_DB_URI", "postgresql://x@localhost/db"},
                           {"PGRST_JWT_SECRET", R"({"keys": [)" + kRsaJwk + "]}"}}));
  EXPECT_THAT(set.errors, IsEmpty());
}

TEST(JwksConfig, ReportsAnUnusableJwkClearly) {
  auto bad = Load(Env({{"PGRST_JWT_SECRET", R"({"kty":"RSA","n":"***","e":"AQAB"})"}}));
  EXPECT_THAT(bad.errors, ElementsAre(HasSubstr("PGRST_JWT_SECRET: not a usable JWK or JWK Set: member \"n\"")));
  auto empty = Load(Env({{"PGRST_JWT_SECRET", R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})"}}));
  EXPECT_THAT(empty.errors, ElementsAre(HasSubstr("no usable verification key")));
  auto json = Load(Env({{"PGRST_JWT_SECRET", "{not json"}}));
  EXPECT_THAT(json.errors, ElementsAre(HasSubstr("not a JSON object")));
}

TEST(JwksConfig, ReadsJwksUrlsHttpsOrLoopbackHttp) {
  auto ok = Load(Env({{"PGWARDEN_DATA_API_JWKS_URLS",
                       "https://idp.example.com/.well-known/jwks.json, http://127.0.0.1:8080/jwks,"
                       "http://localhost/jwks,http://[::1]:9/k"}}));
  EXPECT_THAT(ok.errors, IsEmpty());
  EXPECT_THAT(ok.config.data_api.jwks_urls,
              ElementsAre("https://idp.example.com/.well-known/jwks.json", "http://127.0.0.1:8080/jwks",
                          "http://localhost/jwks", "http://[::1]:9/k"));
  auto bad = Load(Env({{"PGWARDEN_DATA_API_JWKS_URLS",
                        "http://idp.example.com/jwks,ftp://x/y,https://user:pw@idp.example.com/jwks,nonsense"}}));
  EXPECT_EQ(bad.errors.size(), 4u);
  for (const auto& e : bad.errors) EXPECT_THAT(e, HasSubstr("PGWARDEN_DATA_API_JWKS_URLS"));
}

}  // namespace
}  // namespace pgwarden::config
