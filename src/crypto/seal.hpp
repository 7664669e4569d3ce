//! Sealing secrets at rest the way Better Auth 1.6 does (symmetricEncrypt): the stored text is
//! hex(nonce(24) || XChaCha20-Poly1305(plaintext) || tag(16)) with key = SHA-256(UTF-8 secret), no AAD.
//! Better Auth stores jwks.privateKey as a JSON *string* of that hex (i.e. with surrounding quotes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::crypto {

std::string SealToHex(std::string_view secret, std::string_view plaintext);
std::optional<std::string> UnsealHex(std::string_view secret, std::string_view hex);

}  // namespace pgwarden::crypto
