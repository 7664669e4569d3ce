//! Better Auth-compatible scrypt password hashes, NFKC normalisation and malformed-input handling.
#include "crypto/password.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "oracle_fixtures.hpp"

namespace pgwarden::crypto {
namespace {

// Known-answer vector from Better Auth 1.6.23 (password "correct-horse-2").
constexpr std::string_view kKnownHash =
    "4bb1fafbd1b022b0075559c218d315b5:2285097e9853de7567b202316da3210fb05eaa11e5ee26b2716c5392ba0987342ebb35c5a8c"
    "d240f00f6696b2a36757caf320416c97e517c0db19dcd9bde7743";

bool IsLowerHex(std::string_view s) { return s.find_first_not_of("0123456789abcdef") == std::string_view::npos; }

TEST(PasswordHash, VerifiesBetterAuthKnownAnswer) {
  EXPECT_TRUE(VerifyPassword("correct-horse-2", kKnownHash));
  EXPECT_FALSE(VerifyPassword("correct-horse-1", kKnownHash));
}

TEST(PasswordHash, ReproducesBetterAuthHashFromItsSalt) {
  EXPECT_EQ(HashPasswordWithSalt("correct-horse-2", kKnownHash.substr(0, 32)), kKnownHash);
  EXPECT_EQ(HashPasswordWithSalt("correct-horse-1", fixtures::kOracleVec1PasswordHash.substr(0, 32)),
            fixtures::kOracleVec1PasswordHash);
}

TEST(PasswordHash, VerifiesHashRecordedFromOracleSignUp) {
  EXPECT_TRUE(VerifyPassword("correct-horse-1", fixtures::kOracleVec1PasswordHash));
  EXPECT_FALSE(VerifyPassword("correct-horse-2", fixtures::kOracleVec1PasswordHash));
  EXPECT_FALSE(VerifyPassword("", fixtures::kOracleVec1PasswordHash));
}

TEST(PasswordHash, NormalisesToNfkcLikeBetterAuth) {
  // The oracle hashed "\ufb01x-horse-\u2460\u00c5"; every spelling with the same NFKC form must verify.
  constexpr std::string_view kEquivalent[] = {
      fixtures::kOracleNfkcPassword,
      "fix-horse-1\xC3\x85",             // NFKC form itself
      "\xEF\xAC\x81x-horse-1A\xCC\x8A",  // ligature + decomposed A-ring (combining ring above)
      "fix-horse-\xEF\xBC\x91\xC3\x85",  // fullwidth digit one
  };
  for (const std::string_view password : kEquivalent) {
    SCOPED_TRACE(password);
    EXPECT_TRUE(VerifyPassword(password, fixtures::kOracleNfkcPasswordHash));
  }
  EXPECT_FALSE(VerifyPassword("fix-horse-1A", fixtures::kOracleNfkcPasswordHash));
  EXPECT_FALSE(VerifyPassword("fix-horse-\xE2\x91\xA0", fixtures::kOracleNfkcPasswordHash));
}

TEST(PasswordHash, HashesLigatureAndLettersTheSame) {
  constexpr std::string_view kSalt = "00112233445566778899aabbccddeeff";
  EXPECT_EQ(HashPasswordWithSalt("\xEF\xAC\x81", kSalt), HashPasswordWithSalt("fi", kSalt));
}

TEST(PasswordHash, ProducesBetterAuthFormatWithFreshSalts) {
  const std::string a = HashPassword("correct-horse-3", PasswordHashMode::kScrypt);
  const std::string b = HashPassword("correct-horse-3", PasswordHashMode::kScrypt);
  for (const std::string& hash : {a, b}) {
    SCOPED_TRACE(hash);
    ASSERT_EQ(hash.size(), 32u + 1u + 128u);
    EXPECT_EQ(hash[32], ':');
    EXPECT_TRUE(IsLowerHex(std::string_view(hash).substr(0, 32)));
    EXPECT_TRUE(IsLowerHex(std::string_view(hash).substr(33)));
    EXPECT_TRUE(VerifyPassword("correct-horse-3", hash));
    EXPECT_FALSE(VerifyPassword("correct-horse-4", hash));
  }
  EXPECT_NE(a.substr(0, 32), b.substr(0, 32));
  EXPECT_NE(a, b);
}

TEST(PasswordHash, UsesTheSaltTextNotItsDecodedBytes) {
  // Different salt texts with the same bytes once hex-decoded produce different keys.
  EXPECT_NE(HashPasswordWithSalt("pw", "abcdefabcdefabcdefabcdefabcdefab").substr(33),
            HashPasswordWithSalt("pw", "ABCDEFABCDEFABCDEFABCDEFABCDEFAB").substr(33));
}

TEST(PasswordHash, RejectsMalformedStoredHashes) {
  const std::string key(kKnownHash.substr(33));
  const std::string salt(kKnownHash.substr(0, 32));
  std::string upper_key = key;
  for (char& c : upper_key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string kCases[] = {
      "",                               // empty
      ":",                              // empty salt and key
      salt,                             // no ':'
      salt + ":",                       // empty key
      ":" + key,                        // empty salt
      salt + ":" + key.substr(0, 127),  // truncated key
      salt + ":" + key + "0",           // extended key
      salt + ":" + upper_key,           // Better Auth compares lowercase hex text
      salt + ":" + key + " ",           // trailing space
  };
  for (const std::string& stored : kCases) {
    SCOPED_TRACE(stored);
    EXPECT_FALSE(VerifyPassword("correct-horse-2", stored));
  }
}

TEST(PasswordHash, IgnoresAnythingAfterASecondColonLikeBetterAuth) {
  // hash.split(":") destructured as [salt, key]: a third field is ignored.
  EXPECT_TRUE(VerifyPassword("correct-horse-2", std::string(kKnownHash) + ":extra"));
}

TEST(PasswordHash, HashesInvalidUtf8AsRawBytes) {
  // NormalizeNfkc rejects invalid UTF-8; hashing then uses the bytes unchanged (not U+FFFD replacements).
  constexpr std::string_view kSalt = "0123456789abcdef0123456789abcdef";
  const std::string hash = HashPasswordWithSalt("pass\xFFword", kSalt);
  EXPECT_TRUE(VerifyPassword("pass\xFFword", hash));
  EXPECT_FALSE(VerifyPassword("pass\xEF\xBF\xBDword", hash));
  EXPECT_FALSE(VerifyPassword("password", hash));
  EXPECT_NE(hash, HashPasswordWithSalt("pass\xFEword", kSalt));
}

TEST(PasswordHash, DummyWorkCompletes) {
  DummyPasswordWork("correct-horse-1", PasswordHashMode::kScrypt);
  DummyPasswordWork("", PasswordHashMode::kScrypt);
  DummyPasswordWork("\xFF", PasswordHashMode::kScrypt);
}

TEST(Nfkc, NormalisesCompatibilityAndComposes) {
  struct Case {
    std::string_view input;
    std::string_view nfkc;
  };
  constexpr Case kCases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"\xEF\xAC\x81", "fi"},                    // U+FB01 LATIN SMALL LIGATURE FI
      {"\xE2\x91\xA0", "1"},                     // U+2460 CIRCLED DIGIT ONE
      {"\xEF\xBC\xA1", "A"},                     // U+FF21 FULLWIDTH LATIN CAPITAL LETTER A
      {"A\xCC\x8A", "\xC3\x85"},                 // A + U+030A -> U+00C5
      {"\xE2\x84\xAB", "\xC3\x85"},              // U+212B ANGSTROM SIGN -> U+00C5
      {"x\xC2\xB2", "x2"},                       // superscript two
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},  // emoji unchanged
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(NormalizeNfkc(c.input), std::string(c.nfkc));
  }
  EXPECT_EQ(NormalizeNfkc(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Nfkc, RejectsInvalidUtf8) {
  constexpr std::string_view kBad[] = {
      "\xFF",              // never valid
      "abc\xC3",           // truncated sequence
      "\xC0\xAF",          // overlong '/'
      "\xED\xA0\x80",      // UTF-16 surrogate
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\x80",              // lone continuation byte
  };
  for (const std::string_view bad : kBad) {
    SCOPED_TRACE(::testing::PrintToString(std::string(bad)));
    EXPECT_EQ(NormalizeNfkc(bad), std::nullopt);
  }
}

}  // namespace
}  // namespace pgwarden::crypto
