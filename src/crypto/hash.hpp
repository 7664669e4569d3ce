//! Hashes, MACs and constant-time comparison (OpenSSL EVP).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::crypto {

std::string Sha256(std::string_view data);                            //!< 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  //!< 32 raw bytes
//! Constant-time for equal lengths; different lengths return false (length is not secret here).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

//! Better Auth's signed cookie value: token + "." + base64(HMAC-SHA256(secret, token)) (not URL-encoded).
std::string SignCookieValue(std::string_view secret, std::string_view value);
//! Reverse of SignCookieValue: splits at the last '.', requires a 44-char base64 signature ending in '=',
//! checks it in constant time. Returns the unsigned value or std::nullopt.
std::optional<std::string> VerifySignedCookieValue(std::string_view secret, std::string_view signed_value);

}  // namespace pgwarden::crypto
