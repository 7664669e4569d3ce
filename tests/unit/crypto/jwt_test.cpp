//! Compact JWS (EdDSA and HS256), Ed25519 JWKs, and interoperability with tokens and keys recorded from
//! Better Auth.
#include "crypto/jwt.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "crypto/encoding.hpp"
#include "crypto/seal.hpp"
#include "oracle_fixtures.hpp"

namespace pgwarden::crypto {
namespace {

std::string FromHex(std::string_view hex) { return HexDecode(hex).value(); }

//! The oracle's private JWK, unsealed from the recorded jwks row.
std::string OraclePrivateJwk() {
  std::string_view column = fixtures::kOracleSealedPrivateKeyColumn;
  column.remove_prefix(1);
  column.remove_suffix(1);
  return UnsealHex(fixtures::kOracleSecret, column).value();
}

// RFC 8032 §7.1, TEST 1 and TEST 2.
struct Rfc8032Case {
  const char* name;
  std::string_view seed_hex;
  std::string_view public_hex;
  std::string_view message_hex;
  std::string_view signature_hex;
};
constexpr Rfc8032Case kRfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
     "655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
     "b00d291612bb0c00"},
};

TEST(Ed25519, DerivesRfc8032PublicKeysFromSeeds) {
  for (const auto& c : kRfc8032) {
    SCOPED_TRACE(c.name);
    const Ed25519KeyPair kp = Ed25519FromSeed(FromHex(c.seed_hex));
    EXPECT_EQ(HexEncode(kp.public_key), c.public_hex);
    EXPECT_EQ(kp.secret_key, FromHex(c.seed_hex) + FromHex(c.public_hex));
  }
}

TEST(Ed25519, VerifiesRfc8032Signatures) {
  for (const auto& c : kRfc8032) {
    SCOPED_TRACE(c.name);
    const std::string pk = FromHex(c.public_hex);
    const std::string message = FromHex(c.message_hex);
    std::string signature = FromHex(c.signature_hex);
    EXPECT_TRUE(VerifyEd25519(pk, message, signature));
    signature[10] = static_cast<char>(signature[10] ^ 0x01);
    EXPECT_FALSE(VerifyEd25519(pk, message, signature));
  }
}

TEST(Ed25519, RejectsWrongSizedKeysAndSignatures) {
  const auto& c = kRfc8032[0];
  const std::string pk = FromHex(c.public_hex);
  const std::string signature = FromHex(c.signature_hex);
  EXPECT_FALSE(VerifyEd25519(pk.substr(0, 31), "", signature));
  EXPECT_FALSE(VerifyEd25519(pk + "x", "", signature));
  EXPECT_FALSE(VerifyEd25519(pk, "", signature.substr(0, 63)));
  EXPECT_FALSE(VerifyEd25519(pk, "", signature + "x"));
  EXPECT_FALSE(VerifyEd25519("", "", ""));
}

TEST(Ed25519, FromSeedReturnsEmptyPairForWrongSizedSeed) {
  const Ed25519KeyPair kp = Ed25519FromSeed("too short");
  EXPECT_TRUE(kp.public_key.empty());
  EXPECT_TRUE(kp.secret_key.empty());
  EXPECT_EQ(SignEdDsa(kp, "{}", "{}"), "");
}

TEST(Ed25519, GeneratesDistinctConsistentKeyPairs) {
  const Ed25519KeyPair a = GenerateEd25519();
  const Ed25519KeyPair b = GenerateEd25519();
  ASSERT_EQ(a.public_key.size(), 32u);
  ASSERT_EQ(a.secret_key.size(), 64u);
  EXPECT_NE(a.public_key, b.public_key);
  const Ed25519KeyPair again = Ed25519FromSeed(std::string_view(a.secret_key).substr(0, 32));
  EXPECT_EQ(again.public_key, a.public_key);
  EXPECT_EQ(again.secret_key, a.secret_key);
}

TEST(Jwk, WritesMembersInBetterAuthOrder) {
  const Ed25519KeyPair kp = Ed25519FromSeed(FromHex(kRfc8032[0].seed_hex));
  EXPECT_EQ(Ed25519PublicJwk(kp), R"({"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kty":"OKP"})");
  EXPECT_EQ(Ed25519PrivateJwk(kp), R"({"crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",)"
                                   R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kty":"OKP"})");
}

TEST(Jwk, ParsesWhatItWrites) {
  const Ed25519KeyPair kp = GenerateEd25519();
  const std::optional<Ed25519KeyPair> parsed = ParseEd25519PrivateJwk(Ed25519PrivateJwk(kp));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->public_key, kp.public_key);
  EXPECT_EQ(parsed->secret_key, kp.secret_key);
  EXPECT_EQ(ParseEd25519PublicJwk(Ed25519PublicJwk(kp)), kp.public_key);
}

TEST(Jwk, ParsesMembersInAnyOrderWithExtras) {
  const Ed25519KeyPair kp = Ed25519FromSeed(FromHex(kRfc8032[0].seed_hex));
  const std::optional<Ed25519KeyPair> parsed =
      ParseEd25519PrivateJwk(R"( {"kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA",)"
                             R"( "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","crv":"Ed25519","kid":"k1"} )");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->secret_key, kp.secret_key);
  EXPECT_EQ(ParseEd25519PublicJwk(R"({"kid":"k1","alg":"EdDSA","kty":"OKP","crv":"Ed25519",)"
                                  R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})"),
            kp.public_key);
}

TEST(Jwk, RejectsInvalidPrivateJwks) {
  constexpr std::string_view kD = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
  constexpr std::string_view kX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
  constexpr std::string_view kOtherX = "PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw";  // RFC 8032 TEST 2 key
  auto jwk = [](std::string_view crv, std::string_view d, std::string_view x, std::string_view kty) {
    return R"({"crv":")" + std::string(crv) + R"(","d":")" + std::string(d) + R"(","x":")" + std::string(x) +
           R"(","kty":")" + std::string(kty) + R"("})";
  };
  ASSERT_TRUE(ParseEd25519PrivateJwk(jwk("Ed25519", kD, kX, "OKP")).has_value());
  const std::string kCases[] = {
      jwk("Ed448", kD, kX, "OKP"),
      jwk("Ed25519", kD, kX, "EC"),
      jwk("Ed25519", kD, kOtherX, "OKP"),                                         // x does not match d
      jwk("Ed25519", std::string(kD) + "=", kX, "OKP"),                           // padded
      jwk("Ed25519", kD.substr(0, 42), kX, "OKP"),                                // 31 bytes
      jwk("Ed25519", std::string(kD) + "AA", kX, "OKP"),                          // 33 bytes
      jwk("Ed25519", "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", kX, "OKP"),   // standard alphabet
      R"({"crv":"Ed25519","x":")" + std::string(kX) + R"(","kty":"OKP"})",        // no d
      R"({"crv":"Ed25519","d":")" + std::string(kD) + R"(","kty":"OKP"})",        // no x
      R"({"crv":"Ed25519","d":1,"x":")" + std::string(kX) + R"(","kty":"OKP"})",  // d not a string
      "",
      "null",
      "[]",
      R"("{\"crv\":\"Ed25519\"}")",
      jwk("Ed25519", kD, kX, "OKP").substr(1),  // not JSON
  };
  for (const std::string& c : kCases) {
    SCOPED_TRACE(c);
    EXPECT_EQ(ParseEd25519PrivateJwk(c), std::nullopt);
  }
}

TEST(Jwk, RejectsInvalidPublicJwks) {
  const std::string kCases[] = {
      R"({"crv":"Ed25519","kty":"OKP"})",
      R"({"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kty":"EC"})",
      R"({"crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kty":"OKP"})",
      R"({"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR","kty":"OKP"})",
      R"({"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=","kty":"OKP"})",
      "{",
  };
  for (const std::string& c : kCases) {
    SCOPED_TRACE(c);
    EXPECT_EQ(ParseEd25519PublicJwk(c), std::nullopt);
  }
}

TEST(OracleKey, PrivateJwkUnsealsParsesAndMatchesStoredPublicKey) {
  const std::string private_jwk = OraclePrivateJwk();
  const std::optional<Ed25519KeyPair> kp = ParseEd25519PrivateJwk(private_jwk);
  ASSERT_TRUE(kp.has_value()) << private_jwk;
  EXPECT_EQ(Base64UrlEncode(kp->public_key), fixtures::kOraclePublicX);
  EXPECT_EQ(ParseEd25519PublicJwk(fixtures::kOraclePublicJwk), kp->public_key);
  // Better Auth's texts are byte-for-byte what we would write for the same key.
  EXPECT_EQ(Ed25519PublicJwk(*kp), fixtures::kOraclePublicJwk);
  EXPECT_EQ(Ed25519PrivateJwk(*kp), private_jwk);
}

TEST(OracleKey, SignsJwtsThatVerifyWithStoredPublicKey) {
  const std::optional<Ed25519KeyPair> kp = ParseEd25519PrivateJwk(OraclePrivateJwk());
  ASSERT_TRUE(kp.has_value());
  const std::string header = std::string(R"({"alg":"EdDSA","kid":")") + std::string(fixtures::kOracleJwkId) + "\"}";
  const std::string payload = R"({"sub":"u1","iat":1795774424})";
  const std::string jwt = SignEdDsa(*kp, header, payload);
  const std::optional<DecodedJws> decoded = DecodeJws(jwt);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->header_json, header);
  EXPECT_EQ(decoded->payload_json, payload);
  const std::string pk = ParseEd25519PublicJwk(fixtures::kOraclePublicJwk).value();
  EXPECT_TRUE(VerifyEd25519(pk, decoded->signing_input, decoded->signature));
}

TEST(OracleJwt, VerifiesWithOurEd25519) {
  const std::optional<DecodedJws> decoded = DecodeJws(fixtures::kOracleEdDsaJwt);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->header_json,
            std::string(R"({"alg":"EdDSA","kid":")") + std::string(fixtures::kOracleJwkId) + "\"}");
  EXPECT_NE(decoded->payload_json.find(R"("email":"vec1@example.com")"), std::string::npos);
  const std::string pk = Base64UrlDecode(fixtures::kOraclePublicX).value();
  EXPECT_TRUE(VerifyEd25519(pk, decoded->signing_input, decoded->signature));

  std::string flipped_signature = decoded->signature;
  flipped_signature[0] = static_cast<char>(flipped_signature[0] ^ 0x01);
  EXPECT_FALSE(VerifyEd25519(pk, decoded->signing_input, flipped_signature));
  std::string flipped_input = decoded->signing_input;
  flipped_input[flipped_input.size() - 1] = static_cast<char>(flipped_input.back() ^ 0x01);
  EXPECT_FALSE(VerifyEd25519(pk, flipped_input, decoded->signature));
}

TEST(OracleJwt, IsReproducedExactlyBySigningItsHeaderAndPayload) {
  // Ed25519 is deterministic: same key, same bytes, same signature.
  const std::optional<Ed25519KeyPair> kp = ParseEd25519PrivateJwk(OraclePrivateJwk());
  const std::optional<DecodedJws> decoded = DecodeJws(fixtures::kOracleEdDsaJwt);
  ASSERT_TRUE(kp.has_value());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(SignEdDsa(*kp, decoded->header_json, decoded->payload_json), fixtures::kOracleEdDsaJwt);
}

// HS256 e-mail verification token recorded from Better Auth (signed with the oracle secret).
constexpr std::string_view kBetterAuthHs256 =
    "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFsaWNlLm13eXJjdjFzQGV4YW1wbGUuY29tIiwiaWF0IjoxNzk1NzcwNDQ2LCJleHAiOjE3OTU3N"
    "zQwNDZ9._K7FdLBGFTzYIXHKKkVNHpmZm-WdqdoFUAFD1KoeZLw";

TEST(Hs256, VerifiesBetterAuthToken) {
  const std::optional<DecodedJws> decoded = DecodeJws(kBetterAuthHs256);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->header_json, R"({"alg":"HS256"})");
  EXPECT_TRUE(VerifyHs256(fixtures::kOracleSecret, decoded->signing_input, decoded->signature));
  EXPECT_FALSE(VerifyHs256("wrong-secret", decoded->signing_input, decoded->signature));
  EXPECT_FALSE(VerifyHs256(fixtures::kOracleSecret, decoded->signing_input + "x", decoded->signature));
  EXPECT_FALSE(VerifyHs256(fixtures::kOracleSecret, decoded->signing_input, decoded->signature.substr(0, 31)));
}

TEST(Hs256, ReproducesBetterAuthTokenExactly) {
  const std::optional<DecodedJws> decoded = DecodeJws(kBetterAuthHs256);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(SignHs256(fixtures::kOracleSecret, decoded->header_json, decoded->payload_json), kBetterAuthHs256);
}

TEST(Hs256, VerifiesRfc7515AppendixA1Example) {
  constexpr std::string_view kToken =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
      "LmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const std::string key =
      Base64UrlDecode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow").value();
  const std::optional<DecodedJws> decoded = DecodeJws(kToken);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->header_json, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");
  EXPECT_TRUE(VerifyHs256(key, decoded->signing_input, decoded->signature));
  EXPECT_EQ(SignHs256(key, decoded->header_json, decoded->payload_json), kToken);
}

TEST(Jws, DecodesSegmentsAndSigningInput) {
  const std::string token = SignHs256("k", R"({"alg":"HS256"})", R"({"a":1})");
  const std::optional<DecodedJws> decoded = DecodeJws(token);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->header_json, R"({"alg":"HS256"})");
  EXPECT_EQ(decoded->payload_json, R"({"a":1})");
  EXPECT_EQ(decoded->signing_input, token.substr(0, token.rfind('.')));
  EXPECT_EQ(decoded->signature.size(), 32u);
}

TEST(Jws, RejectsMalformedCompactSerialisations) {
  const std::string good = SignHs256("k", R"({"alg":"HS256"})", R"({"a":1})");
  const std::size_t first = good.find('.');
  const std::size_t second = good.rfind('.');
  const std::string header = good.substr(0, first);
  const std::string payload = good.substr(first + 1, second - first - 1);
  const std::string signature = good.substr(second + 1);
  ASSERT_TRUE(DecodeJws(header + "." + payload + "." + signature).has_value());
  const std::string kCases[] = {
      "",
      "..",
      header,
      header + "." + payload,                                    // two segments
      header + "." + payload + "." + signature + "." + payload,  // four segments
      header + "." + payload + "." + signature + ".",
      "." + payload + "." + signature,            // empty header
      header + ".." + signature,                  // empty payload
      header + "." + payload + ".",               // empty signature
      header + "=." + payload + "." + signature,  // padding
      header + "." + payload + "." + signature + "=",
      header + "." + payload + "+." + signature,  // standard alphabet
      header + "." + payload + "/." + signature,
      header + "." + payload + "." + signature.substr(0, 10) + "+" + signature.substr(11),
      " " + header + "." + payload + "." + signature,  // whitespace
      header + "." + payload + "." + signature + "\n",
      header + ".\t" + payload + "." + signature,
      header + "." + payload + "." + signature.substr(0, signature.size() - 1) + "_",  // non-canonical
      header + "." + payload + ".A",                                                   // undecodable length
  };
  for (const std::string& c : kCases) {
    SCOPED_TRACE(c);
    EXPECT_EQ(DecodeJws(c), std::nullopt);
  }
}

TEST(Jws, LimitsHeaderAndPayloadToEightKibibytes) {
  const std::string header = R"({"alg":"HS256"})";
  const std::string payload_max = "{\"p\":\"" + std::string(8192 - 8, 'a') + "\"}";
  ASSERT_EQ(payload_max.size(), 8192u);
  EXPECT_TRUE(DecodeJws(SignHs256("k", header, payload_max)).has_value());
  EXPECT_EQ(DecodeJws(SignHs256("k", header, payload_max + " ")), std::nullopt);
  EXPECT_TRUE(DecodeJws(SignHs256("k", payload_max, "{}")).has_value());
  EXPECT_EQ(DecodeJws(SignHs256("k", payload_max + " ", "{}")), std::nullopt);
  EXPECT_EQ(DecodeJws(SignHs256("k", header, std::string(1 << 20, 'a'))), std::nullopt);
}

TEST(Jws, CritHeaderIsSeenWhateverItsValue) {
  // JW-10: no verifier here understands a JWS extension (RFC 7515 §4.1.11).
  EXPECT_TRUE(HasCritHeader(R"({"alg":"EdDSA","crit":["x-unknown"],"x-unknown":true})"));
  EXPECT_TRUE(HasCritHeader(R"({"alg":"EdDSA","crit":[]})"));
  EXPECT_TRUE(HasCritHeader(R"({"alg":"EdDSA","crit":null})"));
  EXPECT_TRUE(HasCritHeader(R"({"crit":"b64","alg":"HS256"})"));
  EXPECT_FALSE(HasCritHeader(R"({"alg":"EdDSA","kid":"k"})"));
  EXPECT_FALSE(HasCritHeader(R"({"alg":"EdDSA","critical":true})"));
  EXPECT_FALSE(HasCritHeader("not json"));
  EXPECT_FALSE(HasCritHeader(R"(["crit"])"));
}

TEST(EdDsa, SignsAndVerifiesRoundTrip) {
  const Ed25519KeyPair kp = GenerateEd25519();
  const std::string jwt = SignEdDsa(kp, R"({"alg":"EdDSA"})", R"({"sub":"x"})");
  const std::optional<DecodedJws> decoded = DecodeJws(jwt);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->signature.size(), 64u);
  EXPECT_TRUE(VerifyEd25519(kp.public_key, decoded->signing_input, decoded->signature));
  EXPECT_FALSE(VerifyEd25519(GenerateEd25519().public_key, decoded->signing_input, decoded->signature));
}

}  // namespace
}  // namespace pgwarden::crypto
