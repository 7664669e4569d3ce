//! crypto/encoding: Base64, Base64Url, Hex and UriComponent codecs.
//! The input is used both as encoded text (decoders) and as raw bytes (encoders). Properties:
//!  - the strict decoders accept exactly one spelling per byte string: decode(x) ok => encode(decode(x)) == x
//!    (hex: up to letter case), and decode(encode(b)) == b for every b;
//!  - Base64Url is Base64 with "-_" for "+/" and no padding; encoded lengths are exact;
//!  - UriComponent: decode(encode(b)) == b, encode emits only JS encodeURIComponent's unreserved set plus
//!    uppercase %XX, decoding never grows the text, and decode(x) ok => encode(decode(x)) decodes back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/encoding.hpp"
#include "fuzz_check.hpp"

using namespace pgwarden::crypto;

namespace {

bool IsUnreserved(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return c == '-' || c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')';
}

bool IsUpperHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

std::string LowerHex(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

//! True when `text` is exactly what UriComponentEncode produces for some byte string.
bool IsCanonicalUriComponent(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c != '%') {
      if (!IsUnreserved(c)) return false;
      continue;
    }
    if (i + 2 >= text.size() || !IsUpperHex(text[i + 1]) || !IsUpperHex(text[i + 2])) return false;
    const int hi = text[i + 1] <= '9' ? text[i + 1] - '0' : text[i + 1] - 'A' + 10;
    const int lo = text[i + 2] <= '9' ? text[i + 2] - '0' : text[i + 2] - 'A' + 10;
    if (IsUnreserved(static_cast<unsigned char>(hi * 16 + lo))) return false;  // would be sent literally
    i += 2;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = pgwarden::fuzz::AsView(data, size);

  // --- decoders on arbitrary text -------------------------------------------------------------------------
  if (const auto d = Base64Decode(in)) {
    FUZZ_CHECK(Base64Encode(*d) == in);
    FUZZ_CHECK(in.size() % 4 == 0);
  }
  if (const auto d = Base64UrlDecode(in)) {
    FUZZ_CHECK(Base64UrlEncode(*d) == in);
    FUZZ_CHECK(in.find('=') == std::string_view::npos);
  }
  if (const auto d = HexDecode(in)) {
    FUZZ_CHECK(HexEncode(*d) == LowerHex(in));
    FUZZ_CHECK(d->size() * 2 == in.size());
  }
  if (const auto d = UriComponentDecode(in)) {
    FUZZ_CHECK(d->size() <= in.size());
    const std::string re = UriComponentEncode(*d);
    FUZZ_CHECK(UriComponentDecode(re) == *d);
    if (IsCanonicalUriComponent(in)) FUZZ_CHECK(re == in);
  }

  // --- encoders on arbitrary bytes ------------------------------------------------------------------------
  const std::string b64 = Base64Encode(in);
  FUZZ_CHECK(b64.size() == (size + 2) / 3 * 4);
  FUZZ_CHECK(Base64Decode(b64) == in);

  const std::string b64url = Base64UrlEncode(in);
  FUZZ_CHECK(b64url.size() == (size * 4 + 2) / 3);
  FUZZ_CHECK(Base64UrlDecode(b64url) == in);
  std::string expected_url = b64;
  while (!expected_url.empty() && expected_url.back() == '=') expected_url.pop_back();
  for (char& c : expected_url) c = c == '+' ? '-' : c == '/' ? '_' : c;
  FUZZ_CHECK(b64url == expected_url);

  const std::string hex = HexEncode(in);
  FUZZ_CHECK(hex.size() == size * 2);
  FUZZ_CHECK(HexDecode(hex) == in);

  const std::string uri = UriComponentEncode(in);
  FUZZ_CHECK(IsCanonicalUriComponent(uri));
  FUZZ_CHECK(UriComponentDecode(uri) == in);
  return 0;
}
