//! SHA-256 (FIPS 180-2 examples), HMAC-SHA256 (RFC 4231) and constant-time comparison.
#include "crypto/hash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "crypto/encoding.hpp"

namespace pgwarden::crypto {
namespace {

TEST(Sha256, MatchesPublishedDigests) {
  struct Case {
    std::string_view input;
    std::string_view hex;
  };
  constexpr Case kCases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(HexEncode(Sha256(c.input)), c.hex);
  }
}

TEST(HmacSha256, MatchesRfc4231TestCases) {
  struct Case {
    const char* name;
    std::string key;
    std::string data;
    std::string_view hex;
  };
  const Case kCases[] = {
      {"case 1", std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"case 2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"case 6 (key longer than a block)", std::string(131, '\xaa'),
       "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(HexEncode(HmacSha256(c.key, c.data)), c.hex);
  }
}

TEST(HmacSha256, AcceptsEmptyKeyAndMessage) {
  // Python: hmac.new(b"", b"", "sha256").hexdigest()
  EXPECT_EQ(HexEncode(HmacSha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  struct Case {
    std::string_view a;
    std::string_view b;
    bool equal;
  };
  constexpr Case kCases[] = {
      {"", "", true},   {"abc", "abc", true},  {"abc", "abd", false},  {"abc", "ab", false},
      {"", "a", false}, {"xbc", "abc", false}, {"abc", "abcd", false},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(std::string(c.a) + " vs " + std::string(c.b));
    EXPECT_EQ(ConstantTimeEquals(c.a, c.b), c.equal);
  }
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace pgwarden::crypto
