//! SHA-256, HMAC-SHA256 (OpenSSL one-shot EVP APIs), constant-time comparison and Better Auth's signed
//! cookie values (better-call's signCookieValue / getSignedCookie).
#include "crypto/hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>

#include "crypto/encoding.hpp"

namespace pgwarden::crypto {
namespace {

constexpr std::size_t kSha256Size = 32;
constexpr std::size_t kCookieSignatureChars = 44;  // base64 of 32 bytes, one '=' of padding

//! OpenSSL may treat a null pointer as "no input" differently from an empty buffer; always pass a real one.
const unsigned char* BytesOf(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "pgwarden: %s failed\n", what);
  std::abort();
}

}  // namespace

std::string Sha256(std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(BytesOf(data), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != kSha256Size) {
    Fatal("EVP_Digest(SHA-256)");
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), BytesOf(key), static_cast<int>(key.size()), BytesOf(data), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != kSha256Size) {
    Fatal("HMAC(SHA-256)");
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string SignCookieValue(std::string_view secret, std::string_view value) {
  std::string out(value);
  out += '.';
  out += Base64Encode(HmacSha256(secret, value));
  return out;
}

// Mirrors better-call's getSignedCookie: lastIndexOf('.') must be >= 1 (a non-empty value), the signature
// must be 44 chars ending in '='. One deliberate difference: we compare the canonical base64 text, whereas
// better-call decodes with the lenient atob() and would also accept the three non-canonical spellings of the
// last symbol (differing only in ignored padding bits). Cookies we issue are always canonical.
std::optional<std::string> VerifySignedCookieValue(std::string_view secret, std::string_view signed_value) {
  const std::size_t dot = signed_value.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  const std::string_view value = signed_value.substr(0, dot);
  const std::string_view signature = signed_value.substr(dot + 1);
  if (signature.size() != kCookieSignatureChars || signature.back() != '=') return std::nullopt;
  const std::string expected = Base64Encode(HmacSha256(secret, value));
  if (!ConstantTimeEquals(expected, signature)) return std::nullopt;
  return std::string(value);
}

}  // namespace pgwarden::crypto
