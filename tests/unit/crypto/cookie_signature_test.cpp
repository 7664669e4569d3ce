//! Better Auth (better-call) signed cookie values: token "." base64(HMAC-SHA256(secret, token)).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "crypto/hash.hpp"
#include "oracle_fixtures.hpp"

namespace pgwarden::crypto {
namespace {

using fixtures::kOracleSecret;

constexpr std::string_view kToken = "mGVjLdhXkgKFwfCmgPufUOpiEvcw2XcW";
constexpr std::string_view kSignature = "t9K8lJSz0POe/zd1Q2O2RKn8PiEDr2NHmMOCgKgRZL8=";

std::string Signed(std::string_view token, std::string_view signature) {
  return std::string(token) + "." + std::string(signature);
}

TEST(SignedCookie, SignsLikeBetterAuth) {
  EXPECT_EQ(SignCookieValue(kOracleSecret, kToken), Signed(kToken, kSignature));
  EXPECT_EQ(SignCookieValue(kOracleSecret, fixtures::kOracleSessionToken), fixtures::kOracleSignedSessionToken);
}

TEST(SignedCookie, VerifiesBetterAuthSignatures) {
  EXPECT_EQ(VerifySignedCookieValue(kOracleSecret, Signed(kToken, kSignature)), std::string(kToken));
  EXPECT_EQ(VerifySignedCookieValue(kOracleSecret, fixtures::kOracleSignedSessionToken),
            std::string(fixtures::kOracleSessionToken));
}

TEST(SignedCookie, RoundTripsValuesContainingDots) {
  for (const std::string_view value : {"a", "a.b", "a.b.c", "x.", "token with spaces"}) {
    SCOPED_TRACE(value);
    const std::string signed_value = SignCookieValue("secret", value);
    EXPECT_EQ(signed_value.size(), value.size() + 1 + 44);
    EXPECT_EQ(VerifySignedCookieValue("secret", signed_value), std::string(value));
  }
}

TEST(SignedCookie, RejectsTamperedSignature) {
  std::string signature(kSignature);
  for (std::size_t i = 0; i + 1 < signature.size(); ++i) {
    std::string tampered = signature;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    SCOPED_TRACE(tampered);
    EXPECT_EQ(VerifySignedCookieValue(kOracleSecret, Signed(kToken, tampered)), std::nullopt);
  }
}

TEST(SignedCookie, RejectsTamperedValue) {
  EXPECT_EQ(VerifySignedCookieValue(kOracleSecret, Signed("mGVjLdhXkgKFwfCmgPufUOpiEvcw2XcX", kSignature)),
            std::nullopt);
  EXPECT_EQ(VerifySignedCookieValue(kOracleSecret, Signed(std::string(kToken) + "x", kSignature)), std::nullopt);
}

TEST(SignedCookie, RejectsWrongSecret) {
  EXPECT_EQ(VerifySignedCookieValue("another-secret", Signed(kToken, kSignature)), std::nullopt);
}

TEST(SignedCookie, RejectsMalformedSignedValues) {
  const std::string kCases[] = {
      "",                                                           // empty
      std::string(kToken),                                          // missing signature (no dot)
      std::string(kToken) + ".",                                    // empty signature
      Signed(kToken, kSignature.substr(0, 43)),                     // truncated signature (43 chars)
      Signed(kToken, std::string(kSignature) + "="),                // 45 chars
      Signed(kToken, std::string(kSignature.substr(0, 43)) + "A"),  // 44 chars, no trailing '='
      Signed("", kSignature),                                       // empty value ('.' at position 0)
      Signed(kToken, kSignature) + ".",                             // signature no longer after the last '.'
      Signed(kToken, kSignature) + "x",                             // trailing garbage
  };
  for (const std::string& c : kCases) {
    SCOPED_TRACE(c);
    EXPECT_EQ(VerifySignedCookieValue(kOracleSecret, c), std::nullopt);
  }
}

}  // namespace
}  // namespace pgwarden::crypto
