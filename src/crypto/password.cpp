//! Better Auth-compatible password hashing (@better-auth/utils/password, node flavour): scrypt over the
//! NFKC-normalised password with the 32-char hex salt *text* as the salt, compared as lowercase hex. The
//! hardened format is libsodium's Argon2id PHC string over the same normalised password.
#include "crypto/password.hpp"

#include <openssl/evp.h>
#include <utf8proc.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"
#include "crypto/sodium_init.hpp"

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

// Argon2id policy (security.md §c; OWASP Password Storage, ASVS 5 appendix C): m=19456 KiB, t=2, p=1.
constexpr std::uint32_t kArgonMemoryKiB = 19456;
constexpr std::uint32_t kArgonPasses = 2;
constexpr std::string_view kArgonPrefix = "$argon2id$";
//! The m/t pairs OWASP lists as equivalent (all p=1). A stored hash at or above any of them is not below policy,
//! so a deliberately stronger hash (say m=47104,t=1 or m=65536,t=3) is never downgraded on sign-in.
struct ArgonCost {
  std::uint32_t memory_kib;
  std::uint32_t passes;
};
constexpr ArgonCost kArgonPolicy[] = {{47104, 1}, {19456, 2}, {12288, 3}, {9216, 4}, {7168, 5}};
// Upper bounds for what verifying a stored hash may cost: libsodium would try to allocate whatever m says, so a
// tampered or absurd row (m=8 GiB, t=2^32-1) would exhaust memory or a hashing thread. Far above any real
// deployment's parameters (Bitwarden m=64 MiB t=3, Authelia m=64 MiB t=3 p=4).
constexpr std::uint32_t kArgonMaxMemoryKiB = 256 * 1024;
constexpr std::uint32_t kArgonMaxPasses = 16;
constexpr std::uint32_t kArgonMaxLanes = 16;

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

//! The cost fields of an Argon2id PHC string.
struct ArgonParams {
  std::uint32_t memory_kib = 0;
  std::uint32_t passes = 0;
  std::uint32_t lanes = 0;
};

//! The cost fields of "$argon2id$v=19$m=<m>,t=<t>,p=<p>$...", or std::nullopt when the string does not start that
//! way. Only a pre-check: libsodium parses and validates the whole string when verifying.
std::optional<ArgonParams> ParseArgonParams(std::string_view stored) {
  if (!stored.starts_with(kArgonPrefix)) return std::nullopt;
  std::string_view rest = stored.substr(kArgonPrefix.size());
  const auto field = [&rest](std::string_view name, char end, std::uint32_t& out) {
    if (!rest.starts_with(name)) return false;
    rest.remove_prefix(name.size());
    const char* const first = rest.data();
    const char* const last = first + rest.size();
    const auto [p, ec] = std::from_chars(first, last, out);
    if (ec != std::errc() || p == first || p == last || *p != end) return false;
    rest.remove_prefix(static_cast<std::size_t>(p - first) + 1);
    return true;
  };
  ArgonParams params;
  std::uint32_t version = 0;
  if (!field("v=", '$', version) || version != 19) return std::nullopt;
  if (!field("m=", ',', params.memory_kib) || !field("t=", ',', params.passes) || !field("p=", '$', params.lanes))
    return std::nullopt;
  return params;
}

std::string Argon2idHash(std::string_view normalized) {
  detail::EnsureSodium();
  char out[crypto_pwhash_argon2id_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, normalized.data(), normalized.size(), kArgonPasses,
                                 std::size_t{kArgonMemoryKiB} * 1024) != 0) {
    std::fputs("pgwarden: crypto_pwhash_argon2id_str failed\n", stderr);
    std::abort();
  }
  return std::string(out);
}

bool VerifyArgon2id(std::string_view password, std::string_view stored) {
  const std::optional<ArgonParams> params = ParseArgonParams(stored);
  // libsodium reads a NUL-terminated string of fewer than STRBYTES characters; an embedded NUL would let it
  // verify only a prefix of the stored text.
  if (!params || stored.size() >= crypto_pwhash_argon2id_STRBYTES ||
      stored.find('\0') != std::string_view::npos || params->memory_kib > kArgonMaxMemoryKiB ||
      params->passes > kArgonMaxPasses || params->lanes > kArgonMaxLanes) {
    DummyPasswordWork(password, PasswordHashMode::kArgon2id);
    return false;
  }
  detail::EnsureSodium();
  const std::string text(stored);
  const std::string normalized = PasswordBytes(password);
  // libsodium compares the derived key in constant time (sodium_memcmp).
  return crypto_pwhash_argon2id_str_verify(text.c_str(), normalized.data(), normalized.size()) == 0;
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

std::string HashPassword(std::string_view password, PasswordHashMode mode) {
  if (mode == PasswordHashMode::kArgon2id) return Argon2idHash(PasswordBytes(password));
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
  // A Better Auth hash starts with its hex salt, so it can never be mistaken for a PHC string.
  if (stored.starts_with(kArgonPrefix)) return VerifyArgon2id(password, stored);
  const std::size_t colon = stored.find(':');
  std::string_view salt;
  std::string_view key;
  if (colon != std::string_view::npos) {
    salt = stored.substr(0, colon);
    key = stored.substr(colon + 1);
    key = key.substr(0, key.find(':'));
  }
  if (salt.empty() || key.empty()) {
    DummyPasswordWork(password, PasswordHashMode::kScrypt);
    return false;
  }
  const std::string computed = HexEncode(ScryptKey(PasswordBytes(password), salt));
  return ConstantTimeEquals(computed, key);
}

bool PasswordNeedsRehash(std::string_view stored, PasswordHashMode mode) {
  // Compat mode never rewrites a hash: the database must stay readable by stock Better Auth.
  if (mode == PasswordHashMode::kScrypt) return false;
  const std::optional<ArgonParams> params = ParseArgonParams(stored);
  if (!params) return true;  // Better Auth's scrypt format (or anything else that verified)
  detail::EnsureSodium();
  const std::string text(stored);
  const int differs =
      crypto_pwhash_argon2id_str_needs_rehash(text.c_str(), kArgonPasses, std::size_t{kArgonMemoryKiB} * 1024);
  if (differs == 0) return false;  // exactly the policy's parameters
  // libsodium also answers 1 for parameters above policy; only a weaker hash is replaced.
  for (const ArgonCost& cost : kArgonPolicy) {
    if (params->memory_kib >= cost.memory_kib && params->passes >= cost.passes) return false;
  }
  return true;
}

void DummyPasswordWork(std::string_view password, PasswordHashMode mode) {
  const std::string normalized = PasswordBytes(password);
  if (mode == PasswordHashMode::kArgon2id) {
    detail::EnsureSodium();
    // The same derivation a verification runs (fixed salt, same parameters); the key is thrown away.
    unsigned char key[32];
    const unsigned char salt[crypto_pwhash_argon2id_SALTBYTES] = {};
    if (crypto_pwhash_argon2id(key, sizeof key, normalized.data(), normalized.size(), salt, kArgonPasses,
                               std::size_t{kArgonMemoryKiB} * 1024, crypto_pwhash_argon2id_ALG_ARGON2ID13) != 0) {
      std::fputs("pgwarden: crypto_pwhash_argon2id failed\n", stderr);
      std::abort();
    }
    sodium_memzero(key, sizeof key);
    return;
  }
  const std::string key = ScryptKey(normalized, kDummySalt);
  // The result is unused; EVP_PBE_scrypt is an external call, so the work cannot be optimised away.
  (void)key;
}

}  // namespace pgwarden::crypto
