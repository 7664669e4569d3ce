//! Better Auth signed cookie values (crypto/hash SignCookieValue / VerifySignedCookieValue) as the server reads
//! them: the Cookie value is URI-decoded, then verified with the secret (AuthService::FindSession); a Bearer
//! value is verified directly. The fixed secret is the oracle's, so the real cookies in the seed corpus verify.
//! Properties:
//!  - verification accepts only what signing produces: Verify(x) == v => v non-empty and Sign(v) == x;
//!  - Verify(Sign(v)) == v for every non-empty v (dots, '=', binary bytes included) and nullopt for "";
//!  - a signed value never verifies under another secret, with one byte of the value changed, or with a
//!    non-canonical spelling of the last base64 symbol (differing only in the 2 unused bits);
//!  - Set-Cookie transport: UriComponentEncode(Sign(v)) consists of RFC 6265 cookie-octets only and decodes
//!    back to Sign(v).
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "fuzz_check.hpp"

using namespace pgwarden::crypto;

namespace {

constexpr std::string_view kSecret = "oracle-test-secret-0123456789abcdef0123456789abcdef";
constexpr std::string_view kOtherSecret = "oracle-test-secret-0123456789abcdef0123456789abcdeF";

//! RFC 6265 §4.1.1 cookie-octet.
bool IsCookieOctet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
         (c >= 0x5D && c <= 0x7E);
}

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void CheckVerified(std::string_view signed_value) {
  const auto v = VerifySignedCookieValue(kSecret, signed_value);
  if (!v) return;
  FUZZ_CHECK(!v->empty());
  FUZZ_CHECK(SignCookieValue(kSecret, *v) == signed_value);
  FUZZ_CHECK(!VerifySignedCookieValue(kOtherSecret, signed_value));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = pgwarden::fuzz::AsView(data, size);

  // 1. The input as a Cookie value (URI-encoded on the wire) and as a Bearer value (not encoded).
  if (const auto decoded = UriComponentDecode(in)) CheckVerified(*decoded);
  CheckVerified(in);

  // 2. The input as the value to sign.
  const std::string signed_value = SignCookieValue(kSecret, in);
  FUZZ_CHECK(signed_value.size() == size + 1 + 44);
  const auto back = VerifySignedCookieValue(kSecret, signed_value);
  if (in.empty()) {
    FUZZ_CHECK(!back);
    return 0;
  }
  FUZZ_CHECK(back && *back == in);
  FUZZ_CHECK(!VerifySignedCookieValue(kOtherSecret, signed_value));

  // Tampering with the value.
  std::string tampered = signed_value;
  tampered[(size - 1) / 2] ^= 0x01;
  FUZZ_CHECK(!VerifySignedCookieValue(kSecret, tampered));
  FUZZ_CHECK(!VerifySignedCookieValue(kSecret, std::string(in.substr(0, size - 1)) + signed_value.substr(size)));

  // The last symbol before '=' carries 4 signature bits and 2 unused bits: the 3 other spellings are refused.
  const std::size_t last = signed_value.size() - 2;
  const std::size_t sym = kBase64Alphabet.find(signed_value[last]);
  FUZZ_CHECK(sym != std::string_view::npos && (sym & 3) == 0);
  for (std::size_t spare = 1; spare < 4; ++spare) {
    std::string variant = signed_value;
    variant[last] = kBase64Alphabet[sym | spare];
    FUZZ_CHECK(!VerifySignedCookieValue(kSecret, variant));
  }

  // Set-Cookie transport.
  const std::string wire = UriComponentEncode(signed_value);
  for (const char c : wire) FUZZ_CHECK(IsCookieOctet(static_cast<unsigned char>(c)));
  FUZZ_CHECK(UriComponentDecode(wire) == signed_value);
  return 0;
}
