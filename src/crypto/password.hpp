//! Password hashing in two storage formats, both over the NFKC-normalised password:
//! - scrypt ("compat", Better Auth's format): "<salt>:<key>" where salt is 16 random bytes as 32 lowercase hex
//!   chars and the ASCII hex string itself is the scrypt salt; key = scrypt(password, salt, N=16384, r=16, p=1,
//!   dkLen=64) as 128 lowercase hex chars. ~65 ms, 32 MiB.
//! - argon2id ("hardened", opt-in): a PHC string "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (libsodium
//!   crypto_pwhash_argon2id_str: 16-byte random salt, 32-byte hash; ASVS 5 appendix C parameters). ~13 ms, 19 MiB.
//! VerifyPassword accepts both formats whatever the configured mode, so Better Auth's hashes keep working.
//! CPU-heavy: callers run these on the CPU pool, never on an io thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::crypto {

//! Which format new hashes are written in (PGWARDEN_PASSWORD_HASH).
enum class PasswordHashMode { kScrypt, kArgon2id };

//! Unicode NFKC normalisation (utf8proc). std::nullopt when the input is not valid UTF-8.
std::optional<std::string> NormalizeNfkc(std::string_view utf8);

//! Hash with a fresh random salt in the format of `mode`.
std::string HashPassword(std::string_view password, PasswordHashMode mode);
//! Better Auth's format with a given salt (32 hex chars) — for known-answer tests.
std::string HashPasswordWithSalt(std::string_view password, std::string_view salt_hex);
//! Verify against a stored hash of either format. Malformed or unknown stored hashes verify false (after doing
//! comparable work, so that timing does not reveal them); so do argon2id strings whose cost parameters exceed
//! what a verification may spend (a tampered row must not exhaust memory).
bool VerifyPassword(std::string_view password, std::string_view stored);
//! After a successful verification: should `stored` be replaced by a hash in the format of `mode`? Never in
//! scrypt mode (Better Auth's format has no parameters to upgrade). In argon2id mode: any non-argon2id hash, and
//! argon2id hashes below policy (weaker than every OWASP/ASVS-equivalent m/t pair; stronger ones are kept).
bool PasswordNeedsRehash(std::string_view stored, PasswordHashMode mode);
//! Burn the same CPU as one verification of a hash in the format of `mode` (unknown email: same cost as a
//! wrong password).
void DummyPasswordWork(std::string_view password, PasswordHashMode mode);

}  // namespace pgwarden::crypto
