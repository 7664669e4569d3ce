//! JWS compact serialisation: Ed25519 (EdDSA, libsodium) and HS256 (e-mail tokens), plus Ed25519 JWKs
//! in Better Auth's member order. Signing takes the already-serialised header/payload JSON so callers
//! control member order exactly. Verification returns the decoded payload JSON text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::crypto {

struct Ed25519KeyPair {
  std::string public_key;  //!< 32 raw bytes
  std::string secret_key;  //!< 64 raw bytes (libsodium: seed || public key)
};

Ed25519KeyPair GenerateEd25519();
//! From a 32-byte seed (the JWK "d").
Ed25519KeyPair Ed25519FromSeed(std::string_view seed32);

//! Better Auth's public JWK text: {"crv":"Ed25519","x":"<b64url>","kty":"OKP"}
std::string Ed25519PublicJwk(const Ed25519KeyPair& kp);
//! Better Auth's private JWK text (the plaintext it seals): {"crv":"Ed25519","d":"…","x":"…","kty":"OKP"}
std::string Ed25519PrivateJwk(const Ed25519KeyPair& kp);
//! Parse a private JWK (members in any order; needs crv Ed25519, kty OKP, d, x; x must match d).
std::optional<Ed25519KeyPair> ParseEd25519PrivateJwk(std::string_view json);
//! Parse a public JWK's "x" → 32 raw bytes.
std::optional<std::string> ParseEd25519PublicJwk(std::string_view json);

//! base64url(header) "." base64url(payload) "." base64url(signature)
std::string SignEdDsa(const Ed25519KeyPair& kp, std::string_view header_json, std::string_view payload_json);
std::string SignHs256(std::string_view key, std::string_view header_json, std::string_view payload_json);

struct DecodedJws {
  std::string header_json;
  std::string payload_json;
  std::string signing_input;  //!< "<b64 header>.<b64 payload>"
  std::string signature;      //!< raw bytes
};
//! Split and decode a compact JWS (exactly 3 segments, strict base64url). No signature check.
std::optional<DecodedJws> DecodeJws(std::string_view token);
//! Whether a JOSE header (JSON text) has a "crit" member, whatever its value: it lists extensions the
//! recipient must understand, and no verifier here understands any, so such a token is refused (RFC 7515
//! §4.1.11, RFC 8725 §3.12). False for a header that is not a JSON object (other checks refuse those).
bool HasCritHeader(std::string_view header_json);
bool VerifyEd25519(std::string_view public_key32, std::string_view message, std::string_view signature64);
bool VerifyHs256(std::string_view key, std::string_view message, std::string_view signature32);

}  // namespace pgwarden::crypto
