//! The signing keys, loaded once at start (and after rotation) from neon_auth.jwks, unsealed once and kept
//! in memory: no key decryption or database read per request. Immutable; shared as shared_ptr<const>.
//! Storage is Better Auth's: publicKey = public JWK JSON, privateKey = JSON string of the sealed private JWK.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/jwt.hpp"
#include "db/connection.hpp"

namespace pgwarden::auth {

struct SigningKey {
  std::string kid;  //!< jwks.id
  crypto::Ed25519KeyPair pair;
  std::string public_jwk_x;  //!< base64url of the public key
};

class KeyRing {
 public:
  //! Reads neon_auth.jwks; creates and stores a key when there is none. Blocking (start-up).
  static Result<std::shared_ptr<const KeyRing>> LoadOrCreate(db::Connection& conn, const std::string& secret);

  const SigningKey& Current() const { return keys_.front(); }
  //! `{"keys":[…]}` in Better Auth's member order, precomputed.
  const std::string& JwksJson() const { return jwks_json_; }
  //! Compact JWS over `payload_json` with the current key: header {"alg":"EdDSA","kid":…}.
  std::string Sign(std::string_view payload_json) const;
  //! Verifies one of our own EdDSA tokens; returns its payload JSON.
  std::optional<std::string> Verify(std::string_view token) const;

 private:
  std::vector<SigningKey> keys_;  // newest first; all published
  std::string jwks_json_;
  std::string header_json_;
};

}  // namespace pgwarden::auth
