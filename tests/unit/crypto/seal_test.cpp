//! Sealing secrets at rest (Better Auth symmetricEncrypt): XChaCha20-Poly1305, key = SHA-256(secret).
#include "crypto/seal.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/encoding.hpp"
#include "oracle_fixtures.hpp"

namespace pgwarden::crypto {
namespace {

constexpr std::size_t kOverheadBytes = 24 + 16;  // nonce + tag

//! jwks.privateKey without its JSON string quotes.
std::string_view OracleSealedHex() {
  std::string_view column = fixtures::kOracleSealedPrivateKeyColumn;
  column.remove_prefix(1);
  column.remove_suffix(1);
  return column;
}

TEST(Seal, RoundTripsPlaintexts) {
  for (const std::string& plaintext : {std::string(), std::string("x"), std::string("hello, world"),
                                       std::string("\0\xff\x01", 3), std::string(5000, 'z')}) {
    SCOPED_TRACE(plaintext.size());
    const std::string sealed = SealToHex("secret", plaintext);
    EXPECT_EQ(sealed.size(), 2 * (kOverheadBytes + plaintext.size()));
    EXPECT_EQ(sealed.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(UnsealHex("secret", sealed), plaintext);
  }
}

TEST(Seal, UsesAFreshNonceEachTime) {
  const std::string a = SealToHex("secret", "same plaintext");
  const std::string b = SealToHex("secret", "same plaintext");
  EXPECT_NE(a.substr(0, 48), b.substr(0, 48));
  EXPECT_NE(a, b);
}

TEST(Seal, UnsealsUppercaseHex) {
  std::string sealed = SealToHex("secret", "text");
  for (char& c : sealed) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(UnsealHex("secret", sealed), std::string("text"));
}

TEST(Seal, RejectsWrongSecret) {
  EXPECT_EQ(UnsealHex("other-secret", SealToHex("secret", "text")), std::nullopt);
  EXPECT_EQ(UnsealHex("", OracleSealedHex()), std::nullopt);
}

TEST(Seal, RejectsAnyTamperedByte) {
  const std::string sealed = SealToHex("secret", "attack at dawn");
  for (std::size_t i = 0; i < sealed.size(); i += 2) {
    std::string tampered = sealed;
    tampered[i] = tampered[i] == '0' ? '1' : '0';
    SCOPED_TRACE(i);
    EXPECT_EQ(UnsealHex("secret", tampered), std::nullopt);
  }
}

TEST(Seal, RejectsMalformedHexAndShortInput) {
  const std::string sealed = SealToHex("secret", "text");
  const std::string kCases[] = {
      "",                                        // empty
      sealed.substr(0, sealed.size() - 1),       // odd length
      sealed.substr(0, sealed.size() - 2),       // tag truncated
      "zz" + sealed.substr(2),                   // not hex
      std::string(2 * kOverheadBytes - 2, '0'),  // shorter than nonce + tag
      std::string(2 * kOverheadBytes, '0'),      // long enough but forged
      "\"" + sealed + "\"",                      // still JSON-quoted
      sealed + "00",                             // extra byte
  };
  for (const std::string& c : kCases) {
    SCOPED_TRACE(c);
    EXPECT_EQ(UnsealHex("secret", c), std::nullopt);
  }
}

TEST(Seal, UnsealsPrivateKeySealedByBetterAuth) {
  const std::optional<std::string> jwk = UnsealHex(fixtures::kOracleSecret, OracleSealedHex());
  ASSERT_TRUE(jwk.has_value());
  EXPECT_EQ(jwk->rfind(R"({"crv":"Ed25519","d":")", 0), 0u) << *jwk;
  EXPECT_NE(jwk->find(std::string(R"("x":")") + std::string(fixtures::kOraclePublicX) + R"(","kty":"OKP"})"),
            std::string::npos)
      << *jwk;
}

}  // namespace
}  // namespace pgwarden::crypto
