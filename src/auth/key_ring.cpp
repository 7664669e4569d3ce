#include "auth/key_ring.hpp"

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "crypto/encoding.hpp"
#include "crypto/seal.hpp"

namespace pgwarden::auth {

Result<std::shared_ptr<const KeyRing>> KeyRing::LoadOrCreate(db::Connection& conn, const std::string& secret) {
  // Keys that expired more than 30 days ago are no longer published (Better Auth's grace period).
  constexpr std::string_view kSelect =
      "SELECT id::text, \"publicKey\", \"privateKey\" FROM neon_auth.jwks "
      "WHERE \"expiresAt\" IS NULL OR \"expiresAt\" > now() - interval '30 days' "
      "ORDER BY \"createdAt\" DESC";
  auto rows = conn.QueryBlocking(kSelect);
  if (!rows) return rows.error();
  if (rows->Empty()) {
    const auto pair = crypto::GenerateEd25519();
    const std::string sealed = JsonString(crypto::SealToHex(secret, crypto::Ed25519PrivateJwk(pair)));
    const std::string now = FormatIso8601Ms(NowMs());
    // Concurrent first starts: the lock is taken in its own statement, so the NOT EXISTS check below runs on a
    // snapshot taken after the previous holder committed its key (one key for every instance).
    if (auto r = conn.ScriptBlocking("BEGIN"); !r) return r.error();
    auto locked = conn.QueryBlocking("SELECT pg_advisory_xact_lock(7243020)");
    if (!locked) {
      conn.ScriptBlocking("ROLLBACK");
      return locked.error();
    }
    auto ins = conn.QueryBlocking(
        "INSERT INTO neon_auth.jwks (\"publicKey\", \"privateKey\", \"createdAt\") "
        "SELECT $1, $2, $3::timestamptz WHERE NOT EXISTS (SELECT 1 FROM neon_auth.jwks)",
        {crypto::Ed25519PublicJwk(pair), sealed, now});
    if (!ins) {
      conn.ScriptBlocking("ROLLBACK");
      return ins.error();
    }
    if (auto r = conn.ScriptBlocking("COMMIT"); !r) return r.error();
    log::Info("auth.jwks_created");
    rows = conn.QueryBlocking(kSelect);
    if (!rows) return rows.error();
  }
  auto ring = std::make_shared<KeyRing>();
  for (int i = 0; i < rows->Size(); ++i) {
    const std::string kid(rows->Text(i, 0));
    // privateKey is a JSON string literal around the sealed hex.
    std::string sealed_hex;
    try {
      const auto v = json::parse(rows->Text(i, 2));
      if (v.is_string()) sealed_hex = std::string(v.get_string());
    } catch (const std::exception&) {
    }
    const auto plain = crypto::UnsealHex(secret, sealed_hex);
    const auto pair = plain ? crypto::ParseEd25519PrivateJwk(*plain) : std::nullopt;
    if (!pair) {
      log::Warn("auth.jwks_key_unusable", {{"kid", kid}, {"reason", "cannot unseal with this secret, or not Ed25519"}});
      continue;
    }
    ring->keys_.push_back(SigningKey{kid, *pair, crypto::Base64UrlEncode(pair->public_key)});
  }
  if (ring->keys_.empty())
    return MakeError(ErrorCode::kInternal,
                     "no usable signing key in neon_auth.jwks: the keys were sealed with another secret "
                     "(PGWARDEN_SECRET / BETTER_AUTH_SECRET must be the one that created them)");
  std::string jwks = "{\"keys\":[";
  for (size_t i = 0; i < ring->keys_.size(); ++i) {
    const auto& k = ring->keys_[i];
    if (i) jwks += ',';
    jwks += "{\"alg\":\"EdDSA\",\"crv\":\"Ed25519\",\"x\":\"" + k.public_jwk_x + "\",\"kty\":\"OKP\",\"kid\":\"" + k.kid +
            "\"}";
  }
  jwks += "]}";
  ring->jwks_json_ = std::move(jwks);
  ring->header_json_ = "{\"alg\":\"EdDSA\",\"kid\":\"" + ring->keys_.front().kid + "\"}";
  return std::shared_ptr<const KeyRing>(std::move(ring));
}

std::string KeyRing::Sign(std::string_view payload_json) const {
  return crypto::SignEdDsa(keys_.front().pair, header_json_, payload_json);
}

std::optional<std::string> KeyRing::Verify(std::string_view token) const {
  const auto jws = crypto::DecodeJws(token);
  if (!jws) return std::nullopt;
  try {
    const auto header = json::parse(jws->header_json);
    if (!header.is_object()) return std::nullopt;
    const auto* alg = header.as_object().if_contains("alg");
    const auto* kid = header.as_object().if_contains("kid");
    if (!alg || !alg->is_string() || alg->get_string() != "EdDSA" || !kid || !kid->is_string()) return std::nullopt;
    for (const auto& k : keys_) {
      if (k.kid == kid->get_string() &&
          crypto::VerifyEd25519(k.pair.public_key, jws->signing_input, jws->signature))
        return jws->payload_json;
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace pgwarden::auth
