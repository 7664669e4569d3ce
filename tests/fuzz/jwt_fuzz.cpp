//! crypto/jwt + crypto/jwk + dataapi/jwt_claims: DecodeJws + signature checks with fixed keys (as KeyRing::Verify
//! and the e-mail token check use them), the Ed25519 JWK parsers, public JWK Set parsing (ParseJwkSet: a remote
//! JWKS or PGRST_JWT_SECRET) and VerifyJws against a fixed key set (as the Data API and the OAuth id_token check
//! use it), and the Data API's claim rules (CheckJwtClaims), all on the same input. The fixed keys are the
//! oracle's (the EdDSA public key from its JWKS and its secret for HS256) and a throwaway RSA-2048 and P-256 key
//! generated for the corpus (public halves only), so the real tokens in the seed corpus verify.
//! Properties:
//!  - DecodeJws is strict, so a decoded token has exactly one spelling: re-encoding the three segments gives
//!    the input back, signing_input is the text before the second '.', every segment is <= 8 KiB;
//!  - no forgery and no malleability: a token that verifies under a fixed key is byte-for-byte the real one;
//!  - sign then decode/verify round-trips for any header/payload bytes (HS256 always, EdDSA on a subset);
//!  - JWKs: a parsed private key re-serialises and re-parses to the same key pair and signs verifiably; a
//!    parsed public key is 32 bytes and round-trips through Ed25519PublicJwk;
//!  - VerifyJws (fixed RSA/EC/Ed25519 set): what verifies was signed by us (its signing input is a real token's;
//!    byte-for-byte the real token except ES256, whose (r, n-s) twin also verifies), returns exactly the decoded
//!    payload, has no `crit`;
//!  - ParseJwkSet: every key has an OpenSSL key of a consistent type/curve; a set from the input that verifies a
//!    real token returns its payload; an error never repeats key material (n/e/x/y/d/k values);
//!  - CheckJwtClaims (claims = the input): accepted ⇒ `exp` a number not past (with skew), `aud` holds the
//!    expected audience, `sub` a string, own tokens name the issuer; refused ⇒ 401 PGRST303; no UB on any number.
#include <boost/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crypto/encoding.hpp"
#include "crypto/jwk.hpp"
#include "crypto/jwt.hpp"
#include "dataapi/jwt_claims.hpp"
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

// A JWKS of three public keys: a throwaway RSA-2048 ("fuzz-rsa", no alg: RS* and PS*), a throwaway P-256
// ("fuzz-ec", ES256) and the oracle's Ed25519 key, with a token signed by each (corpus/jwt_fuzz/*-fixed-key).
constexpr std::string_view kFixedJwks =
    R"({"keys":[{"kid":"fuzz-rsa","use":"sig","kty":"RSA",)"
    R"("n":"xVfEaDb0uEDcRwOZRzQdTeDaVbypoZYPlK8lTfX-HjRhYcA2-urIC-vdzT36qLMwp1U_9XJylMuLX6y_HyxVyRlI5tDgiBC)"
    R"(5YqzlxiszyrtYO15Ju8KpLnadxwf7-piXLC7KMLDlEyTYxb4qhKtWRJURxa33qmKgO_T1b9MV3Jzo-rNjMMSPe8_6t12USXp4w0c)"
    R"(Qk58UkRsicXyc7tXngmW_gTyqHbOL-bmR_2KBTrbZSLfs3c4HrNvKQ96cg9sEKMcpNJoJbOZD7f8HV7JdV9bO3bZpes7i1NR5VLc)"
    R"(dwLp4jRsegSqwcQtksQgsN7eNl4X5HVOaRA68cBeR3u4iRw",)"
    R"("e":"AQAB"},{"kid":"fuzz-ec","alg":"ES256","kty":"EC",)"
    R"("x":"E3MQa1ZfADBH5-J45FcGfhKwGnIO5gAtYwzkwAdu-IM","y":"y9_piC4tIEtcFN5oCQWwim1-YVXo0JgvmDpGZxt4gLI",)"
    R"("crv":"P-256"},{"alg":"EdDSA","crv":"Ed25519","x":"tfIdvmmuouafv_cPVNouLFU-xD05cGYgdLDYtkMX_v8",)"
    R"("kty":"OKP","kid":"07640bf4-184f-4fd7-8313-1104352a99aa"}]})";
constexpr std::string_view kRealRs256Jwt =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZ1enotcnNhIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxNjA1Mjg5YS1kM2MzLTQ5OGItODYxNC04MDZjZjEx"
    "MGNiZjAiLCJyb2xlIjoiYXV0aGVudGljYXRlZCIsImF1ZCI6ImF1dGhlbnRpY2F0ZWQiLCJpYXQiOjE3OTU3NzA0NDUsImV4cCI6MTc5NTc3MTM0"
    "NSwiZW1haWwiOiJhbGljZUBleGFtcGxlLmNvbSJ9.AoIGXkbWibjcOBVgoEGLPsWzSMs6HFJtfMyOPMDpaCfMSgouvyionjekQqP24TEpN5HyhUs"
    "EGLDERjT6P5KCPjmI38Jb58cF2UuPGLcxxhsGUXpaFUkqB_yrA_eIr_WWPH1iFZ9irxQIrhvLnDq-gzax5cboxru7VFIt9WBsRaxoGKAU9Yjhsr8"
    "o4BQjK1WUDpIrnQ2L2nUIeuRRUbyEK4INrjNUjsl6mltpS4yYLxQYWwpCLDXAeSzWPIgeim_IXsObiYCJX0zDtwgsW33S2ZQ_v6biA0Ja-31r_FP"
    "0uVBo0Vunws7EowAh-VHCI7SitGwqkhio-514Nr1AC9sWJw";
constexpr std::string_view kRealPs256Jwt =
    "eyJhbGciOiJQUzI1NiIsImtpZCI6ImZ1enotcnNhIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxNjA1Mjg5YS1kM2MzLTQ5OGItODYxNC04MDZjZjEx"
    "MGNiZjAiLCJyb2xlIjoiYXV0aGVudGljYXRlZCIsImF1ZCI6WyJhdXRoZW50aWNhdGVkIiwib3RoZXIiXSwiaWF0IjoxNzk1NzcwNDQ1LCJleHAi"
    "OjE3OTU3NzEzNDUsImVtYWlsIjoiYWxpY2VAZXhhbXBsZS5jb20ifQ.ld7GVvEC7ax5_3XvhqUB6u49kcub3zYORE0uV0FPhoVTwa605eWviOP9O"
    "n-iuru4_BXRUSPLVeodUQXJubLvlllWUU9ihFOuO6PETc_EP33KDJIB7ct0cEd9Q699MuCVKD7jAvIClfcCBJiXtZi6KULh64lpvbSwHuNOz4Wvy"
    "38Dg3JqJhVkdaHAH_vQwQi2lhqqch-jd2VBI4vRTDjP5TiqzMVdKl6_FilaSpQB-Q9CzOFGzxY3PCbrqAazEgzeBXm07ZekpncUVhuqMqLExYdiL"
    "BZ1gq0IZpOiQoynIuzhoCaAsiUgHXZsuefNzCZCPYa0vZIvPQCMVADk2fOahQ";
constexpr std::string_view kRealEs256Jwt =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enotZWMiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxNjA1Mjg5YS1kM2MzLTQ5OGItODYxNC04MDZjZjExM"
    "GNiZjAiLCJyb2xlIjoiYXV0aGVudGljYXRlZCIsImF1ZCI6ImF1dGhlbnRpY2F0ZWQiLCJpYXQiOjE3OTU3NzA0NDUsImV4cCI6MTc5NTc3MTM0N"
    "SwiZW1haWwiOiJhbGljZUBleGFtcGxlLmNvbSIsIm5iZiI6MTc5NTc3MDQ0NX0.7thUAFceOwlml_TwUMMhJ0IZ8vl7XQHm5lKLoJvq82hQd5yhQ"
    "3CSlmXCnBY5W1d59gWbdYO8xQb8ztRSvlOvhQ";
// Tokens of the fixed set; the ES256 one first is only signing-input unique (ECDSA is malleable).
constexpr std::array<std::string_view, 4> kSetTokens = {kRealEs256Jwt, kRealRs256Jwt, kRealPs256Jwt, kRealEdDsaJwt};
// CheckJwtClaims: the oracle token's iat + 55 s, and Neon-mode rules.
constexpr std::int64_t kNow = 1795770500;

struct Keys {
  std::string real_public = *Base64UrlDecode(kRealPublicX);
  Ed25519KeyPair own = Ed25519FromSeed(std::string(32, '\x2a'));
  JwkSet fixed_set = ParseJwkSet(kFixedJwks).value().keys;
};

const Keys& FixedKeys() {
  static const Keys keys = [] {
    Keys k;
    // The fixed set must verify its real tokens, or the VerifyJws properties below would hold vacuously.
    FUZZ_CHECK(k.fixed_set.Keys().size() == 3);
    for (const auto real : kSetTokens) FUZZ_CHECK(VerifyJws(k.fixed_set, real).has_value());
    return k;
  }();
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

//! The text before a compact JWS's last '.'.
std::string_view SigningInputOf(std::string_view token) { return token.substr(0, token.rfind('.')); }

//! Walks a JSON value and collects the string values of key-material members (base64url, >= 12 characters:
//! shorter ones could be words of a message) and of the members an error may name (kid, kty, crv, alg, use).
void CollectMembers(const boost::json::value& v, std::vector<std::string>& material, std::vector<std::string>& named,
                    int depth = 0) {
  if (depth > 8) return;
  if (const auto* arr = v.if_array()) {
    for (const auto& e : *arr) CollectMembers(e, material, named, depth + 1);
    return;
  }
  const auto* obj = v.if_object();
  if (obj == nullptr) return;
  for (const auto& m : *obj) {
    if (const auto* s = m.value().if_string()) {
      const std::string_view k = m.key();
      if (k == "n" || k == "e" || k == "x" || k == "y" || k == "d" || k == "k") {
        if (s->size() >= 12 && Base64UrlDecode(*s)) material.emplace_back(*s);
      } else {
        named.emplace_back(*s);
      }
    }
    CollectMembers(m.value(), material, named, depth + 1);
  }
}

//! ParseJwkSet's error for `in` names members, never their key material.
void CheckNoKeyMaterialIn(std::string_view in, const std::string& message) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(in, ec);
  if (ec) return;
  std::vector<std::string> material, named;
  CollectMembers(v, material, named);
  for (const auto& secret : material) {
    if (message.find(secret) == std::string::npos) continue;
    bool echoed_as_name = false;  // the same text is also a kid/kty/crv/alg/use value, which errors may quote
    for (const auto& n : named) echoed_as_name = echoed_as_name || n.find(secret) != std::string::npos;
    FUZZ_CHECK(echoed_as_name);
  }
}

//! The claim rules on the input as a claims set, both as a third-party token and as one of the own keys.
void CheckClaims(std::string_view in) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(in, ec);
  if (ec || !v.is_object()) return;
  const auto& claims = v.as_object();
  pgwarden::dataapi::JwtClaimRules rules;
  rules.audience = "authenticated";
  rules.own_issuer = "http://localhost:4100";
  rules.own_audience = "http://localhost:4100";
  for (const bool own_key : {false, true}) {
    const auto bad = pgwarden::dataapi::CheckJwtClaims(claims, rules, own_key, kNow);
    FUZZ_CHECK(bad == pgwarden::dataapi::CheckJwtClaims(claims, rules, own_key, kNow));
    if (bad) {
      FUZZ_CHECK(bad->status == 401 && bad->code == "PGRST303" && !bad->message.empty());
      continue;
    }
    const auto* exp = claims.if_contains("exp");
    FUZZ_CHECK(exp && exp->is_number());
    FUZZ_CHECK(!exp->is_int64() || exp->as_int64() >= kNow - rules.clock_skew_s);
    FUZZ_CHECK(!exp->is_double() || exp->as_double() >= static_cast<double>(kNow - rules.clock_skew_s));
    const std::string& expected = own_key ? *rules.own_audience : *rules.audience;
    const auto* aud = claims.if_contains("aud");
    FUZZ_CHECK(aud != nullptr);
    bool listed = aud->is_string() && aud->as_string() == expected;
    if (aud->is_array())
      for (const auto& a : aud->as_array()) listed = listed || (a.is_string() && a.as_string() == expected);
    FUZZ_CHECK(listed);
    const auto* sub = claims.if_contains("sub");
    FUZZ_CHECK(!sub || sub->is_string());
    if (own_key) {
      const auto* iss = claims.if_contains("iss");
      FUZZ_CHECK(iss && iss->is_string() && iss->as_string() == *rules.own_issuer);
    }
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

  // --- the input as a token for the fixed JWK set (the Data API's and the OAuth id_token verifier) ----------
  if (const auto payload = VerifyJws(keys.fixed_set, in)) {
    const auto jws = DecodeJws(in);
    FUZZ_CHECK(jws && *payload == jws->payload_json && !HasCritHeader(jws->header_json));
    bool ours = false;
    for (const auto real : kSetTokens) ours = ours || jws->signing_input == SigningInputOf(real);
    FUZZ_CHECK(ours);
    if (SigningInputOf(in) != SigningInputOf(kRealEs256Jwt))
      FUZZ_CHECK(in == kRealRs256Jwt || in == kRealPs256Jwt || in == kRealEdDsaJwt);
  }

  // --- the input as a JWK Set or one public JWK -------------------------------------------------------------
  if (const auto parsed = ParseJwkSet(in)) {
    for (const Jwk& k : parsed->keys.Keys()) {
      FUZZ_CHECK(k.key != nullptr);
      if (k.kty == JwkType::kRsa) FUZZ_CHECK(k.crv.empty());
      if (k.kty == JwkType::kEc) FUZZ_CHECK(k.crv == "P-256" || k.crv == "P-384" || k.crv == "P-521");
      if (k.kty == JwkType::kOkp) FUZZ_CHECK(k.crv == "Ed25519");
    }
    for (const auto real : kSetTokens) {
      if (const auto payload = VerifyJws(parsed->keys, real)) FUZZ_CHECK(*payload == DecodeJws(real)->payload_json);
    }
  } else {
    CheckNoKeyMaterialIn(in, parsed.error().message);
  }

  // --- the input as a verified token's claims set -----------------------------------------------------------
  CheckClaims(in);

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
