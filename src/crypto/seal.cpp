//! Better Auth's symmetricEncrypt/symmetricDecrypt (bare-hex form): noble's managedNonce(xchacha20poly1305)
//! output is nonce(24) || ciphertext || tag(16), which is exactly nonce || libsodium's combined-mode output.
#include "crypto/seal.hpp"

#include <sodium.h>

#include <algorithm>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"
#include "crypto/sodium_init.hpp"

namespace pgwarden::crypto {
namespace {

constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;       // 16
static_assert(kNonceBytes == 24 && kTagBytes == 16);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::string SealToHex(std::string_view secret, std::string_view plaintext) {
  detail::EnsureSodium();
  std::string key = Sha256(secret);
  const std::string nonce = RandomBytes(kNonceBytes);
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  std::copy(nonce.begin(), nonce.end(), out.begin());
  unsigned long long sealed_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes, &sealed_len,
                                             Bytes(plaintext), plaintext.size(), nullptr, 0, nullptr, Bytes(nonce),
                                             Bytes(key));
  sodium_memzero(key.data(), key.size());
  out.resize(kNonceBytes + static_cast<std::size_t>(sealed_len));
  return HexEncode(out);
}

std::optional<std::string> UnsealHex(std::string_view secret, std::string_view hex) {
  detail::EnsureSodium();
  const std::optional<std::string> raw = HexDecode(hex);
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return std::nullopt;
  std::string key = Sha256(secret);
  const std::string_view nonce = std::string_view(*raw).substr(0, kNonceBytes);
  const std::string_view sealed = std::string_view(*raw).substr(kNonceBytes);
  std::string plaintext(sealed.size() - kTagBytes, '\0');
  unsigned long long plaintext_len = 0;
  // Output pointer must be valid even for an empty plaintext.
  unsigned char empty = 0;
  unsigned char* dst = plaintext.empty() ? &empty : reinterpret_cast<unsigned char*>(plaintext.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &plaintext_len, nullptr, Bytes(sealed), sealed.size(), nullptr, 0,
                                                 Bytes(nonce), Bytes(key)) != 0) {
    sodium_memzero(key.data(), key.size());
    sodium_memzero(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  sodium_memzero(key.data(), key.size());
  plaintext.resize(static_cast<std::size_t>(plaintext_len));
  return plaintext;
}

}  // namespace pgwarden::crypto
