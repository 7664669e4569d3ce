//! CSPRNG helpers (OpenSSL RAND_bytes). Alphabets match Better Auth's generateId / generateRandomString.
#pragma once

#include <string>
#include <string_view>

namespace pgwarden::crypto {

inline constexpr std::string_view kAlphaNumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
inline constexpr std::string_view kLowerAlphaNumeric = "abcdefghijklmnopqrstuvwxyz0123456789";

std::string RandomBytes(std::size_t n);
//! n characters drawn uniformly (rejection sampling, no modulo bias) from `alphabet` (at most 256 symbols).
std::string RandomString(std::size_t n, std::string_view alphabet = kAlphaNumeric);
//! RFC 4122 version-4 UUID, lowercase, with hyphens.
std::string RandomUuid();

}  // namespace pgwarden::crypto
