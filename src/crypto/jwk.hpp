//! Public JWKs and JWK Sets (RFC 7517/7518/8037) for verifying asymmetric JWS: RSA (RS256/384/512,
//! PS256/384/512), EC P-256/P-384/P-521 (ES256/ES384/ES512) and OKP Ed25519 (EdDSA). In: the JSON text of
//! one JWK or of a set {"keys": [...]}; out: an immutable JwkSet whose keys are OpenSSL 3 EVP_PKEYs (shared,
//! read-only, so one set may be used from several threads at once). No I/O.
//!
//! The algorithm is chosen by the key, never by the token alone: a token's `alg` must fit the key's type
//! (and curve), and the key's own `alg` when it has one. `none`, HS* and every other algorithm never verify,
//! so an HS256 token "signed" with a public key's bytes is refused.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace pgwarden::crypto {

enum class JwkType { kRsa, kEc, kOkp };

//! An OpenSSL public key (EVP_PKEY), opaque outside jwk.cpp.
struct PublicKey;

//! One public verification key from a JWK.
struct Jwk {
  std::string kid;  //!< "" when the JWK has none
  JwkType kty = JwkType::kRsa;
  std::string crv;  //!< EC: "P-256", "P-384", "P-521"; OKP: "Ed25519"; RSA: ""
  std::string alg;  //!< the JWK's "alg" ("" = any algorithm that fits the key type)
  std::string use;  //!< "sig" or ""
  std::shared_ptr<const PublicKey> key;
};

//! An immutable set of verification keys.
class JwkSet {
 public:
  JwkSet() = default;
  explicit JwkSet(std::vector<Jwk> keys) : keys_(std::move(keys)) {}
  const std::vector<Jwk>& Keys() const { return keys_; }
  bool Empty() const { return keys_.empty(); }
  bool HasKid(std::string_view kid) const;

 private:
  std::vector<Jwk> keys_;
};

//! ParseJwkSet's answer: the usable keys and why the others were left out.
struct JwkSetParse {
  JwkSet keys;
  //! Keys of a set that were left out, one line each (an encryption key, kty "oct", an unknown curve, a
  //! key_ops without "verify"): a remote JWKS may carry keys we do not use.
  std::vector<std::string> skipped;
};

//! Parses one public JWK. A private JWK is accepted; only its public members are read. Errors name the
//! member at fault (for configuration messages) and never contain key material.
Result<Jwk> ParseJwk(std::string_view json);
//! Parses a JWK Set {"keys": [...]} or, when `json` is a single JWK object, a set of that one key. In a set,
//! keys we do not use (kty "oct", use "enc", an unknown curve or alg, RSA under 2048 bits) are skipped and
//! listed in `skipped`; a malformed key is an error. A single JWK that cannot be used is an error.
Result<JwkSetParse> ParseJwkSet(std::string_view json);

//! The `kid` of a compact JWS's protected header; nullopt when the token cannot be decoded or has none.
std::optional<std::string> JwsKid(std::string_view token);

//! Verifies a compact JWS against `keys` and returns its payload JSON text. Keys are chosen by the header's
//! `kid` when present (keys with that kid, and keys without any kid), else every key whose type fits the
//! header's `alg` is tried.
//! Refuses `none`, HS*, unknown algorithms, a `crit` header, an alg the key does not allow.
std::optional<std::string> VerifyJws(const JwkSet& keys, std::string_view token);

}  // namespace pgwarden::crypto
