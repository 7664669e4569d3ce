//! crypto/jwt: DecodeJws + signature checks with fixed keys (as KeyRing::Verify and the e-mail token check use
//! them), and the Ed25519 JWK parsers, all on the same input. The fixed keys are the oracle's: the EdDSA
//! public key from its JWKS and its secret for HS256, so the real tokens in the seed corpus verify.
//! Properties:
//!  - DecodeJws is strict, so a decoded token has exactly one spelling: re-encoding the three segments gives
//!    the input back, signing_input is the text before the second '.', every segment is <= 8 KiB;
//!  - no forgery and no malleability: a token that verifies under a fixed key is byte-for-byte the real one;
//!  - sign then decode/verify round-trips for any header/payload bytes (HS256 always, EdDSA on a subset);
//!  - JWKs: a parsed private key re-serialises and re-parses to the same key pair and signs verifiably; a
//!    parsed public key is 32 bytes and round-trips through Ed25519PublicJwk.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/encoding.hpp"
#include "crypto/jwt.hpp"
#include "fuzz_check.hpp"

using namespace pgwarden::crypto;

namespace {

// GET /auth/token on the Better Auth oracle (golden/transcripts.json facts.jwt) and its JWKS "x".
constexpr std::string_view kRealEdDsaJwt =
    "eyJhbGciOiJFZERTQSIsImtpZCI6IjA3NjQwYmY0LTE4NGYtNGZkNy04MzEzLTExMDQzNTJhOTlhYSJ9."
    "eyJpYXQiOjE3OTU3NzA0NDUsImVtYWlsIjoiYWxpY2UubXd5cmN2MXNAZXhhbXBsZS5jb20iLCJyb2xlIjoiYXV0aGVudGljYXRlZCIsInN1YiI"
    "6IjE2MDUyODlhLWQzYzMtNDk4Yi04NjE0LTgwNmNmMTEwY2JmMCIsImV4cCI6MTc5NTc3MTM0NSwiaXNzIjoiaHR0cDovL2xvY2FsaG9zdDo0MT"
    "AwIiwiYXVkIjoiaHR0cDovL2xvY2FsaG9zdDo0MTAwIn0."
    "wcm-DPsjRWEd2LEohYxB3lUt5gXnK07KZmLANZmIjUXxf4-8xA-yYtHp-RIkLc4pF9oM0tAjPemYbFqptWNYBA";
constexpr std::string_view kRealPublicX = "tfIdvmmuouafv_cPVNouLFU-xD05cGYgdLDYtkMX_v8";
// The verify-email token of the oracle's strict instance (HS256 keyed with the oracle secret).
constexpr std::string_view kRealHs256Jwt =
    "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6InN0cmljdC5td3lyY3Yxc0BleGFtcGxlLmNvbSIsImlhdCI6MTc5NTc3MDQ0OCwiZXhwIjoxNzk1"
    "Nzc0MDQ4fQ.lgsBIYMBin5MnjQ-MerLUselSy9NonV3sZj-092bYo8";
constexpr std::string_view kSecret = "oracle-test-secret-0123456789abcdef0123456789abcdef";
constexpr std::size_t kMaxSegmentBytes = 8 * 1024;

struct Keys {
  std::string real_public = *Base64UrlDecode(kRealPublicX);
  Ed25519KeyPair own = Ed25519FromSeed(std::string(32, '\x2a'));
};

const Keys& FixedKeys() {
  static const Keys keys;
  return keys;
}

bool SameKeyPair(const Ed25519KeyPair& a, const Ed25519KeyPair& b) {
  return a.public_key == b.public_key && a.secret_key == b.secret_key;
}

//! KeyRing::Verify's header check (throwing parse inside try/catch).
void ParseHeaderLikeKeyRing(const std::string& header_json) {
  try {
    const auto header = boost::json::parse(header_json);
    if (!header.is_object()) return;
    const auto* alg = header.as_object().if_contains("alg");
    const auto* kid = header.as_object().if_contains("kid");
    if (alg && alg->is_string() && kid && kid->is_string()) (void)(alg->get_string() == "EdDSA");
  } catch (const std::exception&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = pgwarden::fuzz::AsView(data, size);
  const Keys& keys = FixedKeys();

  // --- the input as a compact JWS -------------------------------------------------------------------------
  if (const auto jws = DecodeJws(in)) {
    FUZZ_CHECK(!jws->header_json.empty() && jws->header_json.size() <= kMaxSegmentBytes);
    FUZZ_CHECK(!jws->payload_json.empty() && jws->payload_json.size() <= kMaxSegmentBytes);
    FUZZ_CHECK(!jws->signature.empty() && jws->signature.size() <= kMaxSegmentBytes);
    const std::string reencoded = Base64UrlEncode(jws->header_json) + "." + Base64UrlEncode(jws->payload_json);
    FUZZ_CHECK(jws->signing_input == reencoded);
    FUZZ_CHECK(reencoded + "." + Base64UrlEncode(jws->signature) == in);
    ParseHeaderLikeKeyRing(jws->header_json);

    if (VerifyEd25519(keys.real_public, jws->signing_input, jws->signature)) FUZZ_CHECK(in == kRealEdDsaJwt);
    if (VerifyHs256(kSecret, jws->signing_input, jws->signature)) FUZZ_CHECK(in == kRealHs256Jwt);
    FUZZ_CHECK(!VerifyEd25519(keys.own.public_key, jws->signing_input, jws->signature) ||
               SignEdDsa(keys.own, jws->header_json, jws->payload_json) == in);
  }

  // --- the input as a JWK ---------------------------------------------------------------------------------
  if (const auto kp = ParseEd25519PrivateJwk(in)) {
    FUZZ_CHECK(kp->public_key.size() == 32 && kp->secret_key.size() == 64);
    const auto again = ParseEd25519PrivateJwk(Ed25519PrivateJwk(*kp));
    FUZZ_CHECK(again && SameKeyPair(*again, *kp));
    FUZZ_CHECK(ParseEd25519PublicJwk(Ed25519PublicJwk(*kp)) == kp->public_key);
    // A private JWK is also a valid public JWK with the same "x".
    FUZZ_CHECK(ParseEd25519PublicJwk(in) == kp->public_key);
    const std::string token = SignEdDsa(*kp, R"({"alg":"EdDSA"})", "{}");
    const auto decoded = DecodeJws(token);
    FUZZ_CHECK(decoded && VerifyEd25519(kp->public_key, decoded->signing_input, decoded->signature));
  }
  if (const auto x = ParseEd25519PublicJwk(in)) {
    FUZZ_CHECK(x->size() == 32);
    FUZZ_CHECK(ParseEd25519PublicJwk(Ed25519PublicJwk(Ed25519KeyPair{*x, {}})) == *x);
  }

  // --- the input as header and payload bytes to sign ------------------------------------------------------
  const bool fits = size >= 1 && size <= kMaxSegmentBytes;
  const std::string hs = SignHs256(kSecret, in, in);
  const auto hs_decoded = DecodeJws(hs);
  FUZZ_CHECK(hs_decoded.has_value() == fits);
  if (hs_decoded) {
    FUZZ_CHECK(hs_decoded->header_json == in && hs_decoded->payload_json == in);
    FUZZ_CHECK(VerifyHs256(kSecret, hs_decoded->signing_input, hs_decoded->signature));
    FUZZ_CHECK(!VerifyHs256(kSecret.substr(1), hs_decoded->signing_input, hs_decoded->signature));
  }
  if ((size & 7) == 0) {  // Ed25519 signing is ~100x slower than the rest: a deterministic subset
    const std::string ed = SignEdDsa(keys.own, in, in);
    const auto ed_decoded = DecodeJws(ed);
    FUZZ_CHECK(ed_decoded.has_value() == fits);
    if (ed_decoded) {
      FUZZ_CHECK(VerifyEd25519(keys.own.public_key, ed_decoded->signing_input, ed_decoded->signature));
      FUZZ_CHECK(!VerifyEd25519(keys.real_public, ed_decoded->signing_input, ed_decoded->signature));
    }
  }
  return 0;
}
