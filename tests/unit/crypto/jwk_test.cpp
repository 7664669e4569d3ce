//! Public JWKs and JWS verification against them: RSA (RS*/PS*), EC (ES256/ES384) and Ed25519 keys made with
//! OpenSSL here, signed here, verified by crypto::VerifyJws; algorithm confusion (HS256 keyed with the public
//! key, `none`, an alg the key does not allow), kid selection, and key parsing errors.
#include "crypto/jwk.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/encoding.hpp"
#include "crypto/jwt.hpp"

namespace pgwarden::crypto {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string BnParam(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(k, name, &bn), 1);
  std::string out(static_cast<std::size_t>(pad > 0 ? pad : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

Pkey Rsa(int bits = 2048) { return Pkey(EVP_RSA_gen(static_cast<unsigned>(bits))); }
Pkey Ec(const char* curve) { return Pkey(EVP_EC_gen(curve)); }
Pkey Ed25519() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

std::string Members(std::string_view kid, std::string_view alg) {
  std::string out;
  if (!kid.empty()) out += R"(,"kid":")" + std::string(kid) + "\"";
  if (!alg.empty()) out += R"(,"alg":")" + std::string(alg) + "\"";
  return out;
}

std::string RsaJwk(EVP_PKEY* k, std::string_view kid = "", std::string_view alg = "") {
  return R"({"kty":"RSA","n":")" + Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
         Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_RSA_E)) + "\"" + Members(kid, alg) + "}";
}

std::string EcJwk(EVP_PKEY* k, std::string_view crv, int coord, std::string_view kid = "", std::string_view alg = "") {
  return R"({"kty":"EC","crv":")" + std::string(crv) + R"(","x":")" +
         Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_EC_PUB_X, coord)) + R"(","y":")" +
         Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_EC_PUB_Y, coord)) + "\"" + Members(kid, alg) + "}";
}

std::string EdJwk(EVP_PKEY* k, std::string_view kid = "") {
  std::string raw(32, '\0');
  std::size_t len = raw.size();
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(raw.data()), &len), 1);
  return R"({"kty":"OKP","crv":"Ed25519","x":")" + Base64UrlEncode(raw) + "\"" + Members(kid, "") + "}";
}

std::string Header(std::string_view alg, std::string_view kid = "") {
  std::string h = R"({"alg":")" + std::string(alg) + "\"";
  if (!kid.empty()) h += R"(,"kid":")" + std::string(kid) + "\"";
  return h + R"(,"typ":"JWT"})";
}

//! Signs header.payload with `k`: digest nullptr for Ed25519; `pss` for PS*; `coord` > 0 converts ECDSA's
//! DER signature to JOSE's r||s.
std::string Sign(EVP_PKEY* k, const char* digest, std::string_view header, std::string_view payload,
                 bool pss = false, int coord = 0) {
  const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit_ex(ctx, &pctx, digest, nullptr, nullptr, k, nullptr), 1);
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, in, input.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()), 1);
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (coord > 0) {
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string jose(static_cast<std::size_t>(2 * coord), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(jose.data()), coord);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(jose.data()) + coord, coord);
    ECDSA_SIG_free(es);
    sig = jose;
  }
  return input + "." + Base64UrlEncode(sig);
}

JwkSet SetOf(std::string_view json) {
  auto parsed = ParseJwkSet(json);
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : std::string(parsed.error().Message()));
  return parsed ? parsed->keys : JwkSet();
}

constexpr std::string_view kPayload = R"({"sub":"u1","role":"authenticated"})";

TEST(JwkVerify, AcceptsRsaTokensForEachRsaAlgorithm) {
  Pkey k = Rsa();
  const JwkSet set = SetOf(RsaJwk(k.get(), "r1"));
  struct Case {
    const char* alg;
    const char* digest;
    bool pss;
  } cases[] = {{"RS256", "SHA256", false}, {"RS384", "SHA384", false}, {"RS512", "SHA512", false},
               {"PS256", "SHA256", true},  {"PS384", "SHA384", true},  {"PS512", "SHA512", true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.alg);
    const std::string token = Sign(k.get(), c.digest, Header(c.alg, "r1"), kPayload, c.pss);
    EXPECT_EQ(VerifyJws(set, token), std::optional<std::string>(kPayload));
  }
}

TEST(JwkVerify, AcceptsEs256AndEs384WithJoseSignatures) {
  Pkey p256 = Ec("P-256");
  Pkey p384 = Ec("P-384");
  const JwkSet set = SetOf(R"({"keys":[)" + EcJwk(p256.get(), "P-256", 32, "e256") + "," +
                           EcJwk(p384.get(), "P-384", 48, "e384") + "]}");
  EXPECT_EQ(VerifyJws(set, Sign(p256.get(), "SHA256", Header("ES256", "e256"), kPayload, false, 32)),
            std::optional<std::string>(kPayload));
  EXPECT_EQ(VerifyJws(set, Sign(p384.get(), "SHA384", Header("ES384", "e384"), kPayload, false, 48)),
            std::optional<std::string>(kPayload));
  // Without a kid, every key of a fitting type is tried.
  EXPECT_EQ(VerifyJws(set, Sign(p384.get(), "SHA384", Header("ES384"), kPayload, false, 48)),
            std::optional<std::string>(kPayload));
}

TEST(JwkVerify, RefusesAnEcdsaSignatureInDerForm) {
  Pkey p256 = Ec("P-256");
  const JwkSet set = SetOf(EcJwk(p256.get(), "P-256", 32));
  EXPECT_EQ(VerifyJws(set, Sign(p256.get(), "SHA256", Header("ES256"), kPayload)), std::nullopt);
}

TEST(JwkVerify, AcceptsEdDsaTokens) {
  Pkey ed = Ed25519();
  const JwkSet set = SetOf(EdJwk(ed.get(), "ed"));
  EXPECT_EQ(VerifyJws(set, Sign(ed.get(), nullptr, Header("EdDSA", "ed"), kPayload)),
            std::optional<std::string>(kPayload));
}

TEST(JwkVerify, RefusesHs256KeyedWithThePublicKey) {
  Pkey k = Rsa();
  const std::string jwk = RsaJwk(k.get(), "r1");
  const JwkSet set = SetOf(jwk);
  // The classic confusion: an HMAC "signed" with bytes an attacker knows (the JWK text, the modulus).
  for (const std::string& secret : {jwk, BnParam(k.get(), OSSL_PKEY_PARAM_RSA_N)}) {
    EXPECT_EQ(VerifyJws(set, SignHs256(secret, Header("HS256", "r1"), kPayload)), std::nullopt);
    EXPECT_EQ(VerifyJws(set, SignHs256(secret, Header("HS256"), kPayload)), std::nullopt);
  }
}

TEST(JwkVerify, RefusesAlgNone) {
  Pkey k = Rsa();
  const JwkSet set = SetOf(RsaJwk(k.get()));
  const std::string unsigned_token =
      Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(kPayload) + ".";
  EXPECT_EQ(VerifyJws(set, unsigned_token), std::nullopt);
  // A real RS256 signature under a header that says none.
  const std::string rs = Sign(k.get(), "SHA256", Header("RS256"), kPayload);
  const std::string relabelled =
      Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(kPayload) + rs.substr(rs.rfind('.'));
  EXPECT_EQ(VerifyJws(set, relabelled), std::nullopt);
}

TEST(JwkVerify, SelectsKeysByKid) {
  Pkey a = Rsa();
  Pkey b = Rsa();
  const JwkSet set = SetOf(R"({"keys":[)" + RsaJwk(a.get(), "a") + "," + RsaJwk(b.get(), "b") + "]}");
  EXPECT_TRUE(VerifyJws(set, Sign(b.get(), "SHA256", Header("RS256", "b"), kPayload)));
  // Signed by b but naming a's kid: only a is tried.
  EXPECT_EQ(VerifyJws(set, Sign(b.get(), "SHA256", Header("RS256", "a"), kPayload)), std::nullopt);
  EXPECT_EQ(VerifyJws(set, Sign(b.get(), "SHA256", Header("RS256", "zzz"), kPayload)), std::nullopt);
  EXPECT_TRUE(set.HasKid("a"));
  EXPECT_FALSE(set.HasKid("zzz"));
  // A key without kid fits any kid (a single JWK in PGRST_JWT_SECRET usually has none).
  const JwkSet anonymous = SetOf(RsaJwk(a.get()));
  EXPECT_TRUE(VerifyJws(anonymous, Sign(a.get(), "SHA256", Header("RS256", "whatever"), kPayload)));
}

TEST(JwkVerify, RefusesAnAlgorithmTheKeyDoesNotAllow) {
  Pkey rsa = Rsa();
  Pkey p256 = Ec("P-256");
  // The JWK pins RS256: a valid PS256 signature by the same key is refused.
  const JwkSet pinned = SetOf(RsaJwk(rsa.get(), "r", "RS256"));
  EXPECT_EQ(VerifyJws(pinned, Sign(rsa.get(), "SHA256", Header("PS256", "r"), kPayload, true)), std::nullopt);
  EXPECT_TRUE(VerifyJws(pinned, Sign(rsa.get(), "SHA256", Header("RS256", "r"), kPayload)));
  // ES384 on a P-256 key, RS256 claimed for an EC key, ES256 claimed for an RSA key.
  const JwkSet ec = SetOf(EcJwk(p256.get(), "P-256", 32, "e"));
  EXPECT_EQ(VerifyJws(ec, Sign(p256.get(), "SHA384", Header("ES384", "e"), kPayload, false, 32)), std::nullopt);
  EXPECT_EQ(VerifyJws(ec, Sign(p256.get(), "SHA256", Header("RS256", "e"), kPayload, false, 32)), std::nullopt);
  const JwkSet rs = SetOf(RsaJwk(rsa.get(), "r"));
  EXPECT_EQ(VerifyJws(rs, Sign(rsa.get(), "SHA256", Header("ES256", "r"), kPayload)), std::nullopt);
}

TEST(JwkVerify, RefusesTamperingAndCriticalExtensions) {
  Pkey k = Rsa();
  const JwkSet set = SetOf(RsaJwk(k.get()));
  const std::string token = Sign(k.get(), "SHA256", Header("RS256"), kPayload);
  const std::string forged = token.substr(0, token.find('.') + 1) + Base64UrlEncode(R"({"role":"postgres"})") +
                             token.substr(token.rfind('.'));
  EXPECT_EQ(VerifyJws(set, forged), std::nullopt);
  EXPECT_EQ(VerifyJws(set, Sign(k.get(), "SHA256", R"({"alg":"RS256","crit":["exp"],"exp":1})", kPayload)),
            std::nullopt);
  EXPECT_EQ(VerifyJws(JwkSet(), token), std::nullopt);
}

TEST(JwkVerify, AcceptsPostgrestsAsymmetricJwtFixture) {
  // PostgREST's AsymmetricJwtSpec: jwt-secret is this RSA JWK; the token is a literal RS256 JWS without kid.
  constexpr std::string_view kJwk =
      R"({"alg":"RS256","e":"AQAB","key_ops":["verify"],"kty":"RSA","n":")"
      "0etQ2Tg187jb04MWfpuogYGV75IFrQQBxQaGH75eq_FpbkyoLcEpRUEWSbECP2eeFya2yZ9vIO5ScD-lPmovePk4Aa4SzZ8jdjhm"
      "AbNykleRPCxMg0481kz6PQhnHRUv3nF5WP479CnObJKqTVdEagVL66oxnX9VhZG9IZA7k0Th5PfKQwrKGyUeTGczpOjaPqbxlunP"
      "73j9AfnAt4XCS8epa-n3WGz1j-wfpr_ys57Aq-zBCfqP67UYzNpeI1AoXsJhD9xSDOzvJgFRvc3vm2wjAW4LEMwi48rCplamOpZT"
      "oIHEPIaPzpveYQwDnB1HFTR1ove9bpKJsHmi-e2uzQ"
      R"(","use":"sig"})";
  constexpr std::string_view kToken =
      "eyJhbGciOiJSUzI1NiJ9.eyJyb2xlIjogInBvc3RncmVzdF90ZXN0X2F1dGhvciJ9Cg.CBOYWDvqgAR0YYnZnyDGTQi6AJLc2Pds6_eV3YuBG6I3"
      "6mj_h05eLhkEKNEDA5ZteMzCiY83P60rC_xtxVd7B6vo3BeF5uoanPS3rrbuHzKPwzsrgrD_CqvEuJ4n7Q9epkQiLsNkcexneENZDRqFjbwZx3Dr"
      "XiCWwlK3Ytr5NAIGxmy0od-0xNpb2U1nXQyO_Q3mumWFViRt4tmFn_3goDHNKG3Ha_AzImfUNvHnWL78kAc4rbn15vLtWXD8PwtSnZaB4lY4V6Rf"
      "saW937srQsmRetvytM1i_bHBnjkjQLAqGbXPyItjtlXPs0uGNBadE8-wgkLtfmSCC4v2DjUthw";
  const JwkSet one = SetOf(kJwk);
  EXPECT_EQ(VerifyJws(one, kToken), std::optional<std::string>("{\"role\": \"postgrest_test_author\"}\n"));
  const JwkSet set = SetOf(R"({"keys": [)" + std::string(kJwk) + "]}");
  EXPECT_TRUE(VerifyJws(set, kToken));
}

TEST(JwkParse, ReportsMalformedKeysClearly) {
  Pkey rsa = Rsa();
  struct Case {
    const char* name;
    std::string json;
    const char* message;
  } cases[] = {
      {"not json", "{", "not a JSON object"},
      {"no kty", R"({"n":"AQAB","e":"AQAB"})", "\"kty\""},
      {"symmetric", R"({"kty":"oct","k":"c2VjcmV0"})", "unsupported key type \"oct\""},
      {"bad base64", R"({"kty":"RSA","n":"***","e":"AQAB"})", "\"n\" is not base64url"},
      {"no e", R"({"kty":"RSA","n":"AQAB"})", "\"e\" is missing"},
      {"short rsa", RsaJwk(Rsa(1024).get()), "1024 bits"},
      {"alg for another type", RsaJwk(rsa.get(), "", "ES256"), "does not fit"},
      {"hmac alg", RsaJwk(rsa.get(), "", "HS256"), "\"HS256\""},
      {"wrong length", R"({"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"})", "wrong length"},
      {"off curve",
       R"({"kty":"EC","crv":"P-256","x":")" + Base64UrlEncode(std::string(32, '\x01')) + R"(","y":")" +
           Base64UrlEncode(std::string(32, '\x02')) + "\"}",
       "not a valid point"},
      {"encryption key", R"({"kty":"OKP","crv":"Ed25519","use":"enc","x":"AQAB"})", "\"enc\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto parsed = ParseJwkSet(c.json);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_NE(std::string(parsed.error().Message()).find(c.message), std::string::npos) << parsed.error().Message();
  }
}

TEST(JwkParse, SkipsKeysASetMayCarryButWeDoNotUse) {
  Pkey rsa = Rsa();
  const std::string json = R"({"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},)" +
                           RsaJwk(rsa.get(), "enc", "RSA-OAEP") + "," + RsaJwk(rsa.get(), "sig") + "]}";
  auto parsed = ParseJwkSet(json);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().Message();
  ASSERT_EQ(parsed->keys.Keys().size(), 1u);
  EXPECT_EQ(parsed->keys.Keys()[0].kid, "sig");
  ASSERT_EQ(parsed->skipped.size(), 2u);
  EXPECT_NE(parsed->skipped[0].find("key \"h\""), std::string::npos);
  // A malformed key of a type we use fails the whole set.
  EXPECT_FALSE(ParseJwkSet(R"({"keys":[{"kty":"RSA","n":"***","e":"AQAB"}]})").has_value());
  EXPECT_FALSE(ParseJwkSet(R"({"keys":{}})").has_value());
}

TEST(JwkParse, ReadsOnlyThePublicPartOfAPrivateJwk) {
  Pkey ed = Ed25519();
  std::string jwk = EdJwk(ed.get(), "ed");
  jwk.insert(1, R"("d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",)");
  const JwkSet set = SetOf(jwk);
  EXPECT_TRUE(VerifyJws(set, Sign(ed.get(), nullptr, Header("EdDSA", "ed"), kPayload)));
}

TEST(JwsKid, ReadsTheProtectedHeadersKid) {
  EXPECT_EQ(JwsKid(Base64UrlEncode(R"({"alg":"RS256","kid":"k1"})") + ".e30.c2ln"), std::optional<std::string>("k1"));
  EXPECT_EQ(JwsKid(Base64UrlEncode(R"({"alg":"RS256"})") + ".e30.c2ln"), std::nullopt);
  EXPECT_EQ(JwsKid(Base64UrlEncode(R"({"alg":"RS256","kid":7})") + ".e30.c2ln"), std::nullopt);
  EXPECT_EQ(JwsKid("garbage"), std::nullopt);
}

}  // namespace
}  // namespace pgwarden::crypto
