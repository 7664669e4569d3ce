//! CSPRNG helpers: sizes, alphabets, uniformity (no modulo bias) and UUID v4 shape.
#include "crypto/random.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <string_view>

namespace pgwarden::crypto {
namespace {

TEST(RandomBytes, ReturnsRequestedLengthAndVaries) {
  for (const std::size_t n : {0u, 1u, 16u, 32u, 1000u}) {
    SCOPED_TRACE(n);
    EXPECT_EQ(RandomBytes(n).size(), n);
  }
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

TEST(RandomString, DrawsOnlyFromTheAlphabet) {
  struct Case {
    std::size_t length;
    std::string_view alphabet;
  };
  constexpr Case kCases[] = {{32, kAlphaNumeric}, {32, kLowerAlphaNumeric}, {100, "ab"}, {7, "x"}, {64, "0123456789"}};
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.alphabet);
    const std::string s = RandomString(c.length, c.alphabet);
    EXPECT_EQ(s.size(), c.length);
    EXPECT_EQ(s.find_first_not_of(c.alphabet), std::string::npos);
  }
  EXPECT_EQ(RandomString(32).find_first_not_of(kAlphaNumeric), std::string::npos);
  EXPECT_NE(RandomString(32), RandomString(32));
}

TEST(RandomString, ReturnsEmptyForZeroLengthOrEmptyAlphabet) {
  EXPECT_EQ(RandomString(0), "");
  EXPECT_EQ(RandomString(10, ""), "");
}

TEST(RandomString, SupportsAll256ByteValues) {
  std::string alphabet;
  for (int i = 0; i < 256; ++i) alphabet += static_cast<char>(i);
  EXPECT_EQ(RandomString(1000, alphabet).size(), 1000u);
}

TEST(RandomString, HasNoModuloBias) {
  // With 200 symbols, `byte % 200` would make symbols 0..55 twice as likely as the rest (expected 1562 vs
  // 781 hits per symbol out of 200000). Rejection sampling makes every symbol ~1000 (sd ~32).
  std::string alphabet;
  for (int i = 0; i < 200; ++i) alphabet += static_cast<char>(i);
  constexpr std::size_t kDraws = 200000;
  const std::string s = RandomString(kDraws, alphabet);
  std::array<std::size_t, 256> counts{};
  for (const char c : s) ++counts[static_cast<unsigned char>(c)];
  for (std::size_t i = 0; i < 200; ++i) {
    SCOPED_TRACE(i);
    EXPECT_GT(counts[i], 800u);
    EXPECT_LT(counts[i], 1200u);
  }
}

//! xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx, lowercase hex.
bool IsUuidV4(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position != (s[i] == '-')) return false;
    if (!dash_position && std::string_view("0123456789abcdef").find(s[i]) == std::string_view::npos) return false;
  }
  return s[14] == '4' && std::string_view("89ab").find(s[19]) != std::string_view::npos;
}

TEST(RandomUuid, IsLowercaseVersion4WithRfc4122Variant) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string uuid = RandomUuid();
    SCOPED_TRACE(uuid);
    EXPECT_TRUE(IsUuidV4(uuid));
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(RandomUuid, ShapeCheckRejectsOtherVersionsAndVariants) {
  EXPECT_TRUE(IsUuidV4("502a3b37-978a-41cb-b24a-7c1063a66d27"));
  EXPECT_FALSE(IsUuidV4("502a3b37-978a-11cb-b24a-7c1063a66d27"));  // version 1
  EXPECT_FALSE(IsUuidV4("502a3b37-978a-41cb-c24a-7c1063a66d27"));  // Microsoft variant
  EXPECT_FALSE(IsUuidV4("502A3B37-978A-41CB-B24A-7C1063A66D27"));  // uppercase
}

}  // namespace
}  // namespace pgwarden::crypto
