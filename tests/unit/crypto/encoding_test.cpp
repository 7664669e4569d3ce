//! Hex, base64 (RFC 4648 §10 vectors), base64url and encodeURIComponent / decodeURIComponent parity.
#include "crypto/encoding.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "oracle_fixtures.hpp"

namespace pgwarden::crypto {
namespace {

struct EncodingCase {
  std::string_view bytes;
  std::string_view encoded;
};

// RFC 4648 §10 test vectors.
constexpr EncodingCase kRfc4648Base16[] = {
    {"", ""},
    {"f", "66"},
    {"fo", "666f"},
    {"foo", "666f6f"},
    {"foob", "666f6f62"},
    {"fooba", "666f6f6261"},
    {"foobar", "666f6f626172"},
};
constexpr EncodingCase kRfc4648Base64[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
constexpr EncodingCase kRfc4648Base64Url[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
    {"\xfb\xff", "-_8"},
    {"\xfb\xef\xbe", "----"},
};

TEST(Hex, EncodesRfc4648VectorsInLowercase) {
  for (const auto& c : kRfc4648Base16) {
    SCOPED_TRACE(c.bytes);
    EXPECT_EQ(HexEncode(c.bytes), c.encoded);
    EXPECT_EQ(HexDecode(c.encoded), std::string(c.bytes));
  }
  EXPECT_EQ(HexEncode(std::string_view("\x00\xff\x10\xab", 4)), "00ff10ab");
}

TEST(Hex, DecodesUpperAndMixedCase) {
  EXPECT_EQ(HexDecode("00FF10AB"), std::string("\x00\xff\x10\xab", 4));
  EXPECT_EQ(HexDecode("aBcD"), std::string("\xab\xcd"));
}

TEST(Hex, RejectsOddLengthAndNonHexDigits) {
  for (const std::string_view bad : {"0", "abc", "0g", "g0", " 0", "00 ", "0x00", "+1"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(HexDecode(bad), std::nullopt);
  }
}

TEST(Base64, EncodesAndDecodesRfc4648Vectors) {
  for (const auto& c : kRfc4648Base64) {
    SCOPED_TRACE(c.bytes);
    EXPECT_EQ(Base64Encode(c.bytes), c.encoded);
    EXPECT_EQ(Base64Decode(c.encoded), std::string(c.bytes));
  }
}

TEST(Base64, UsesPlusAndSlash) {
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64Decode("+/8="), std::string("\xfb\xff"));
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    const std::string_view bytes = std::string_view(all).substr(0, len);
    SCOPED_TRACE(len);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), std::string(bytes));
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), std::string(bytes));
  }
}

TEST(Base64, RejectsMissingPaddingBadSymbolsAndNonCanonicalInput) {
  constexpr std::string_view kBad[] = {
      "Zg",        // padding required
      "Zg=",       // incomplete padding
      "Zm9",       // padding required
      "Z===",      // too much padding
      "====",      // padding only
      "Zh==",      // non-zero spare bits ("Zg==" is canonical)
      "Zm9=",      // non-zero spare bits ("Zm8=" is canonical)
      "Zg==Zg==",  // padding in the middle
      "Z=g=",      // padding in the middle
      "-_8=",      // base64url alphabet
      "Zm9v\n",    // whitespace
      "Zm 9v",     // whitespace
      "Zm9v*A==",  // not in the alphabet
  };
  for (const std::string_view bad : kBad) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Base64Decode(bad), std::nullopt);
  }
}

TEST(Base64Url, EncodesAndDecodesUnpaddedVectors) {
  for (const auto& c : kRfc4648Base64Url) {
    SCOPED_TRACE(c.encoded);
    EXPECT_EQ(Base64UrlEncode(c.bytes), c.encoded);
    EXPECT_EQ(Base64UrlDecode(c.encoded), std::string(c.bytes));
  }
}

TEST(Base64Url, RejectsPaddingStandardAlphabetWhitespaceAndNonCanonicalInput) {
  constexpr std::string_view kBad[] = {"Zg==",   "Zm8=", "+/8",   "Zm9/", "Zm9v+", "Zm9v ", " Zm9v",
                                       "Zm9\nv", "Z",    "Zm9vY", "Zh",   "Zm9",   "Zm8."};
  for (const std::string_view bad : kBad) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Base64UrlDecode(bad), std::nullopt);
  }
  EXPECT_EQ(Base64UrlDecode(std::string_view("Zm8\0", 4)), std::nullopt);
}

TEST(UriComponent, EncodesPrintableAsciiExactlyLikeJavaScript) {
  // Expected output recorded with node: encodeURIComponent(<all of U+0020..U+007E>).
  constexpr std::string_view kAscii =
      " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
  constexpr std::string_view kEncoded =
      "%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60"
      "abcdefghijklmnopqrstuvwxyz%7B%7C%7D~";
  EXPECT_EQ(UriComponentEncode(kAscii), kEncoded);
  EXPECT_EQ(UriComponentDecode(kEncoded), std::string(kAscii));
}

TEST(UriComponent, EncodesUtf8AndControlBytesAsUppercasePercentTriplets) {
  // node: encodeURIComponent("\u00e9\u20ac\u{1F600}\t\n\u0000")
  const std::string text = std::string("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\t\n") + '\0';
  EXPECT_EQ(UriComponentEncode(text), "%C3%A9%E2%82%AC%F0%9F%98%80%09%0A%00");
  EXPECT_EQ(UriComponentDecode("%C3%A9%E2%82%AC%F0%9F%98%80%09%0A%00"), text);
}

TEST(UriComponent, EncodesSignedSessionCookieLikeBetterAuth) {
  EXPECT_EQ(UriComponentEncode(fixtures::kOracleSignedSessionToken), fixtures::kOracleSessionCookieValue);
  EXPECT_EQ(UriComponentDecode(fixtures::kOracleSessionCookieValue), std::string(fixtures::kOracleSignedSessionToken));
}

TEST(UriComponent, DecodesLowercaseEscapesAndLeavesPlusAlone) {
  EXPECT_EQ(UriComponentDecode("%c3%a9"), std::string("\xC3\xA9"));
  EXPECT_EQ(UriComponentDecode("a+b%2Bc"), std::string("a+b+c"));
  EXPECT_EQ(UriComponentDecode(""), std::string());
  EXPECT_EQ(UriComponentDecode("%25%32%30"), std::string("%20"));  // decodes exactly once
}

TEST(UriComponent, RejectsMalformedPercentSequences) {
  for (const std::string_view bad : {"%", "%4", "abc%", "abc%2", "%zz", "%G1", "%1G", "% 1", "%%41", "a%-1"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(UriComponentDecode(bad), std::nullopt);
  }
}

}  // namespace
}  // namespace pgwarden::crypto
