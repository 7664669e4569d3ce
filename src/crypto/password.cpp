//! Better Auth-compatible password hashing (@better-auth/utils/password, node flavour): scrypt over the
//! NFKC-normalised password with the 32-char hex salt *text* as the salt, compared as lowercase hex.
#include "crypto/password.hpp"

#include <openssl/evp.h>
#include <utf8proc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace pgwarden::crypto {
namespace {

constexpr std::uint64_t kScryptN = 16384;
constexpr std::uint64_t kScryptR = 16;
constexpr std::uint64_t kScryptP = 1;
constexpr std::size_t kKeyBytes = 64;
constexpr std::size_t kSaltBytes = 16;
// 128 * N * r = 32 MiB of scrypt state plus bookkeeping; OpenSSL's default cap (maxmem 0 = 32 MiB) is too
// small for these parameters, so allow twice that, as Better Auth does (maxmem: 128 * N * r * 2).
constexpr std::uint64_t kScryptMaxMem = std::uint64_t{64} << 20;
// Salt used by DummyPasswordWork (same length as a real salt, so the work is identical).
constexpr std::string_view kDummySalt = "00000000000000000000000000000000";

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

//! Better Auth normalises with String.prototype.normalize("NFKC"). Boost.JSON rejects invalid UTF-8 in
//! request bodies, so passwords reaching us are normally valid UTF-8. If one is not (a caller bypassing
//! JSON), NormalizeNfkc fails and we hash the raw bytes unchanged: hashing and verification stay
//! deterministic and consistent with each other, and no information is lost or merged.
std::string PasswordBytes(std::string_view password) {
  std::optional<std::string> normalized = NormalizeNfkc(password);
  return normalized ? std::move(*normalized) : std::string(password);
}

//! scrypt(password, salt) → 64 raw bytes. Failure is an environment problem (allocation), not input.
std::string ScryptKey(std::string_view password, std::string_view salt) {
  static const char kEmpty = '\0';
  std::string key(kKeyBytes, '\0');
  if (EVP_PBE_scrypt(password.empty() ? &kEmpty : password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.empty() ? &kEmpty : salt.data()), salt.size(),
                     kScryptN, kScryptR, kScryptP, kScryptMaxMem, reinterpret_cast<unsigned char*>(key.data()),
                     key.size()) != 1) {
    std::fputs("pgwarden: EVP_PBE_scrypt failed\n", stderr);
    std::abort();
  }
  return key;
}

}  // namespace

std::optional<std::string> NormalizeNfkc(std::string_view utf8) {
  if (utf8.empty()) return std::string();
  utf8proc_uint8_t* raw = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()), static_cast<utf8proc_ssize_t>(utf8.size()),
                   &raw, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  std::unique_ptr<utf8proc_uint8_t, FreeDeleter> owned(raw);
  if (len < 0 || owned == nullptr) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<std::size_t>(len));
}

std::string HashPassword(std::string_view password) {
  return HashPasswordWithSalt(password, HexEncode(RandomBytes(kSaltBytes)));
}

std::string HashPasswordWithSalt(std::string_view password, std::string_view salt_hex) {
  std::string out(salt_hex);
  out += ':';
  out += HexEncode(ScryptKey(PasswordBytes(password), salt_hex));
  return out;
}

// Better Auth: `const [salt, key] = hash.split(":")`, both must be non-empty, then
// `scrypt(...).toString("hex") === key`. So the salt is any text, the key is compared as lowercase hex text
// (an upper-case stored key never matches), and anything after a second ':' is ignored.
bool VerifyPassword(std::string_view password, std::string_view stored) {
  const std::size_t colon = stored.find(':');
  std::string_view salt;
  std::string_view key;
  if (colon != std::string_view::npos) {
    salt = stored.substr(0, colon);
    key = stored.substr(colon + 1);
    key = key.substr(0, key.find(':'));
  }
  if (salt.empty() || key.empty()) {
    DummyPasswordWork(password);
    return false;
  }
  const std::string computed = HexEncode(ScryptKey(PasswordBytes(password), salt));
  return ConstantTimeEquals(computed, key);
}

void DummyPasswordWork(std::string_view password) {
  const std::string key = ScryptKey(PasswordBytes(password), kDummySalt);
  // The result is unused; EVP_PBE_scrypt is an external call, so the work cannot be optimised away.
  (void)key;
}

}  // namespace pgwarden::crypto
