//! The hardened password format (Argon2id PHC strings through libsodium), verification of both formats whatever
//! the mode, the rehash policy and malformed stored strings.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <string_view>

#include "crypto/password.hpp"
#include "oracle_fixtures.hpp"

namespace pgwarden::crypto {
namespace {

// The Argon2id vector of the reference implementation's test suite (P-H-C/phc-winner-argon2 src/test.c).
constexpr std::string_view kReferenceHash =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
// Computed with the reference library (libargon2 0~20171227, argon2id_hash_encoded, 32-byte hash) over
// "correct-horse-2" and the salt "pgwarden-kat-016": at policy, below policy (t=1), and with p=4.
constexpr std::string_view kPolicyHash =
    "$argon2id$v=19$m=19456,t=2,p=1$cGd3YXJkZW4ta2F0LTAxNg$9yvXkFBnwbqbVzARbVvLlj9vKTtQgzYlWTWguX3+xbQ";
constexpr std::string_view kWeakHash =
    "$argon2id$v=19$m=19456,t=1,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE";
constexpr std::string_view kFourLanesHash =
    "$argon2id$v=19$m=19456,t=2,p=4$cGd3YXJkZW4ta2F0LTAxNg$va1o4j6GgtBR+ReLH5Guz5pO2kC/7EBWGHVK1PwQ8ws";
// The same library over "fix-horse-1\u00c5" (the NFKC form of the oracle's NFKC password) at policy.
constexpr std::string_view kNfkcHash =
    "$argon2id$v=19$m=19456,t=2,p=1$cGd3YXJkZW4ta2F0LTAxNg$Hn9Hq20ebkm7ktwFfjWy/sIHSBy1XaKkBqiRBlcmN98";
// Better Auth 1.6.23's scrypt hash of "correct-horse-2" (password_test.cpp).
constexpr std::string_view kScryptHash =
    "4bb1fafbd1b022b0075559c218d315b5:2285097e9853de7567b202316da3210fb05eaa11e5ee26b2716c5392ba0987342ebb35c5a8c"
    "d240f00f6696b2a36757caf320416c97e517c0db19dcd9bde7743";

// What new hardened hashes look like: policy parameters, 16-byte salt, 32-byte hash (unpadded base64).
const std::regex kArgonFormat(R"(^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$)");
const std::regex kScryptFormat("^[0-9a-f]{32}:[0-9a-f]{128}$");

TEST(PasswordArgon2id, VerifiesReferenceImplementationVectors) {
  EXPECT_TRUE(VerifyPassword("password", kReferenceHash));
  EXPECT_FALSE(VerifyPassword("Password", kReferenceHash));
  for (const std::string_view hash : {kPolicyHash, kWeakHash, kFourLanesHash}) {
    SCOPED_TRACE(hash);
    EXPECT_TRUE(VerifyPassword("correct-horse-2", hash));
    EXPECT_FALSE(VerifyPassword("correct-horse-1", hash));
    EXPECT_FALSE(VerifyPassword("", hash));
  }
}

TEST(PasswordArgon2id, ProducesPolicyPhcStringsWithFreshSalts) {
  const std::string a = HashPassword("correct-horse-3", PasswordHashMode::kArgon2id);
  const std::string b = HashPassword("correct-horse-3", PasswordHashMode::kArgon2id);
  for (const std::string& hash : {a, b}) {
    SCOPED_TRACE(hash);
    EXPECT_TRUE(std::regex_match(hash, kArgonFormat));
    EXPECT_TRUE(VerifyPassword("correct-horse-3", hash));
    EXPECT_FALSE(VerifyPassword("correct-horse-4", hash));
    EXPECT_FALSE(PasswordNeedsRehash(hash, PasswordHashMode::kArgon2id));
  }
  EXPECT_NE(a, b);
  EXPECT_NE(a.substr(0, 54), b.substr(0, 54));  // the prefix through the salt
}

TEST(PasswordArgon2id, ScryptModeStillWritesBetterAuthFormat) {
  const std::string hash = HashPassword("correct-horse-3", PasswordHashMode::kScrypt);
  EXPECT_TRUE(std::regex_match(hash, kScryptFormat)) << hash;
  EXPECT_TRUE(VerifyPassword("correct-horse-3", hash));
}

TEST(PasswordArgon2id, VerifiesBothFormatsWhateverWroteThem) {
  // VerifyPassword has no mode: a database holding both formats (mid-migration, or a switch back to scrypt mode)
  // keeps signing everybody in.
  const std::string hardened = HashPassword("same-password", PasswordHashMode::kArgon2id);
  const std::string compat = HashPassword("same-password", PasswordHashMode::kScrypt);
  EXPECT_TRUE(VerifyPassword("same-password", hardened));
  EXPECT_TRUE(VerifyPassword("same-password", compat));
  EXPECT_FALSE(VerifyPassword("other-password", hardened));
  EXPECT_FALSE(VerifyPassword("other-password", compat));
  EXPECT_TRUE(VerifyPassword("correct-horse-2", kScryptHash));
  EXPECT_TRUE(VerifyPassword("correct-horse-1", fixtures::kOracleVec1PasswordHash));
  EXPECT_TRUE(VerifyPassword("correct-horse-2", kPolicyHash));
}

TEST(PasswordArgon2id, NormalisesToNfkcLikeTheScryptFormat) {
  // Every spelling with the same NFKC form verifies against a hash of that form, as for Better Auth's hashes.
  constexpr std::string_view kEquivalent[] = {
      fixtures::kOracleNfkcPassword,
      "fix-horse-1\xC3\x85",
      "\xEF\xAC\x81x-horse-1A\xCC\x8A",
      "fix-horse-\xEF\xBC\x91\xC3\x85",
  };
  for (const std::string_view password : kEquivalent) {
    SCOPED_TRACE(password);
    EXPECT_TRUE(VerifyPassword(password, kNfkcHash));
  }
  EXPECT_FALSE(VerifyPassword("fix-horse-1A", kNfkcHash));
  const std::string fresh = HashPassword(fixtures::kOracleNfkcPassword, PasswordHashMode::kArgon2id);
  EXPECT_TRUE(VerifyPassword("fix-horse-1\xC3\x85", fresh));
  EXPECT_FALSE(VerifyPassword("fix-horse-\xE2\x91\xA0", fresh));
}

TEST(PasswordArgon2id, HashesInvalidUtf8AsRawBytes) {
  const std::string hash = HashPassword("pass\xFFword", PasswordHashMode::kArgon2id);
  EXPECT_TRUE(VerifyPassword("pass\xFFword", hash));
  EXPECT_FALSE(VerifyPassword("pass\xEF\xBF\xBDword", hash));
  EXPECT_FALSE(VerifyPassword("password", hash));
}

TEST(PasswordRehash, OnlyInArgon2idModeAndOnlyBelowPolicy) {
  struct Case {
    const char* name;
    std::string_view stored;
    bool scrypt_mode;
    bool argon2id_mode;
  };
  const Case kCases[] = {
      {"Better Auth scrypt", kScryptHash, false, true},
      {"oracle scrypt", fixtures::kOracleVec1PasswordHash, false, true},
      {"at policy", kPolicyHash, false, false},
      {"at policy, four lanes", kFourLanesHash, false, false},
      {"t=1 at 19 MiB is below policy", kWeakHash, false, true},
      {"64 MiB, t=2 is above policy: kept", kReferenceHash, false, false},
      {"46 MiB, t=1 (OWASP equivalent): kept",
       "$argon2id$v=19$m=47104,t=1,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE", false,
       false},
      {"12 MiB, t=3 (OWASP equivalent): kept",
       "$argon2id$v=19$m=12288,t=3,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE", false,
       false},
      {"12 MiB, t=2 is below policy",
       "$argon2id$v=19$m=12288,t=2,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE", false,
       true},
      {"8 KiB, t=1 is below policy",
       "$argon2id$v=19$m=8,t=1,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE", false, true},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(PasswordNeedsRehash(c.stored, PasswordHashMode::kScrypt), c.scrypt_mode);
    EXPECT_EQ(PasswordNeedsRehash(c.stored, PasswordHashMode::kArgon2id), c.argon2id_mode);
  }
}

TEST(PasswordRehash, RehashedHashVerifiesAndIsFinal) {
  ASSERT_TRUE(VerifyPassword("correct-horse-2", kScryptHash));
  ASSERT_TRUE(PasswordNeedsRehash(kScryptHash, PasswordHashMode::kArgon2id));
  const std::string upgraded = HashPassword("correct-horse-2", PasswordHashMode::kArgon2id);
  EXPECT_TRUE(VerifyPassword("correct-horse-2", upgraded));
  EXPECT_FALSE(PasswordNeedsRehash(upgraded, PasswordHashMode::kArgon2id));
  EXPECT_FALSE(PasswordNeedsRehash(upgraded, PasswordHashMode::kScrypt));
}

TEST(PasswordArgon2id, MalformedStoredStringsVerifyFalse) {
  const std::string good(kPolicyHash);
  const std::string head = "$argon2id$v=19$m=19456,t=2,p=1$";
  const std::string salt = "cGd3YXJkZW4ta2F0LTAxNg";
  const std::string key = "9yvXkFBnwbqbVzARbVvLlj9vKTtQgzYlWTWguX3+xbQ";
  std::string flipped = good;
  flipped.back() = flipped.back() == 'Q' ? 'R' : 'Q';
  const std::string kCases[] = {
      "$argon2id$",
      "$argon2id",
      "$argon2id$v=19",
      "$argon2id$v=19$m=19456,t=2,p=1",
      head,
      head + "$",
      head + salt,
      head + salt + "$",
      head + "$" + key,
      "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,         // no version (Argon2 1.0 layout)
      "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,    // version 1.0
      "$argon2id$v=19$m=19457,t=2,p=1$" + salt + "$" + key,    // cost changed: another hash
      "$argon2id$v=19$m=19456,t=3,p=1$" + salt + "$" + key,
      "$argon2id$v=19$m=19456,t=2,p=2$" + salt + "$" + key,
      "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,    // fields out of order
      "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key,
      "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key,
      "$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key,  // overflows 32 bits
      "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key,   // 4 TiB: refused before libsodium allocates
      "$argon2id$v=19$m=8388608,t=2,p=1$" + salt + "$" + key,      // 8 GiB: above the verification ceiling
      "$argon2id$v=19$m=19456,t=4294967295,p=1$" + salt + "$" + key,  // would run for hours
      "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
      "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
      "$argon2id$v=19$m=19456,t=2,p=16777215$" + salt + "$" + key,
      head + salt + "$" + key.substr(0, 42),                   // truncated hash
      head + salt + "$" + key + "A",                           // extended hash
      head + salt + "$" + key + "=",                           // padded
      head + salt + "$" + key + "$",                           // trailing field
      head + salt + "$" + key + " ",                           // trailing space
      " " + good,                                              // leading space: not a PHC string, not scrypt
      head + salt + "$" + key.substr(0, 20) + "!" + key.substr(21),  // not base64
      head + "c2FsdA$" + key,                                  // 4-byte salt: below Argon2's minimum
      flipped,                                                 // one bit of the hash changed
      good + std::string(1, '\0') + "junk",                    // embedded NUL: never verify a prefix
      good + std::string(200, 'A'),                            // longer than any PHC string libsodium reads
      "$ARGON2ID$v=19$m=19456,t=2,p=1$" + salt + "$" + key,    // algorithm names are lower case
      "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",  // argon2i: not accepted
      "$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
      "$scrypt$ln=14,r=16,p=1$" + salt + "$" + key,
  };
  for (const std::string& stored : kCases) {
    SCOPED_TRACE(::testing::PrintToString(stored));
    EXPECT_FALSE(VerifyPassword("correct-horse-2", stored));
  }
  EXPECT_TRUE(VerifyPassword("correct-horse-2", good));  // the unaltered string, for contrast
}

TEST(PasswordRehash, MalformedStringsNeverCrash) {
  const std::string kCases[] = {"", "$", "$argon2id$", "$argon2id$v=19$m=19456,t=2,p=1$$",
                                "$argon2id$v=19$m=4294967295,t=4294967295,p=1$AAAA$AAAA", std::string(300, '$')};
  for (const std::string& stored : kCases) {
    SCOPED_TRACE(::testing::PrintToString(stored));
    EXPECT_FALSE(PasswordNeedsRehash(stored, PasswordHashMode::kScrypt));
    (void)PasswordNeedsRehash(stored, PasswordHashMode::kArgon2id);  // only asked after a successful verification
  }
}

TEST(PasswordArgon2id, DummyWorkCompletesInBothModes) {
  DummyPasswordWork("correct-horse-1", PasswordHashMode::kArgon2id);
  DummyPasswordWork("", PasswordHashMode::kArgon2id);
  DummyPasswordWork("\xFF", PasswordHashMode::kArgon2id);
  DummyPasswordWork("correct-horse-1", PasswordHashMode::kScrypt);
}

}  // namespace
}  // namespace pgwarden::crypto
