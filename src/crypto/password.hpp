//! Password hashing. Better Auth format ("compat"): "<salt>:<key>" where salt is 16 random bytes as 32
//! lowercase hex chars and the ASCII hex string itself is the scrypt salt; key = scrypt(NFKC(password),
//! salt, N=16384, r=16, p=1, dkLen=64) as 128 lowercase hex chars. CPU-heavy (~65 ms, 32 MiB): callers
//! run these on the CPU pool, never on an io thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::crypto {

//! Unicode NFKC normalisation (utf8proc). std::nullopt when the input is not valid UTF-8.
std::optional<std::string> NormalizeNfkc(std::string_view utf8);

//! Hash with a fresh random salt in Better Auth's format.
std::string HashPassword(std::string_view password);
//! Hash with a given salt (32 hex chars) — for known-answer tests.
std::string HashPasswordWithSalt(std::string_view password, std::string_view salt_hex);
//! Verify against a stored Better Auth hash. Malformed stored hashes verify false (after doing the same
//! work, so that timing does not reveal them).
bool VerifyPassword(std::string_view password, std::string_view stored);
//! Burn the same CPU as one verification (unknown email: same cost as a wrong password).
void DummyPasswordWork(std::string_view password);

}  // namespace pgwarden::crypto
