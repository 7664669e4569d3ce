//! Public JWKs -> OpenSSL 3 EVP_PKEYs (EVP_PKEY_fromdata for RSA/EC, raw public keys for Ed25519) and
//! compact JWS verification with EVP_DigestVerify. ES* signatures arrive as JOSE's fixed-size r||s and are
//! converted to DER for OpenSSL. JSON parsing never throws on bad input.
#include "crypto/jwk.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>

#include <array>

#include "core/json.hpp"
#include "crypto/encoding.hpp"
#include "crypto/jwt.hpp"

namespace pgwarden::crypto {

struct PublicKey {
  EVP_PKEY* pkey = nullptr;
  PublicKey() = default;
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;
  ~PublicKey() { EVP_PKEY_free(pkey); }
};

namespace {

// Bounds on RSA moduli: below 2048 bits is too weak to accept (NIST SP 800-131A); above 16384 bits only
// costs verification time.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;
constexpr std::size_t kMaxRsaExponentBytes = 8;
constexpr std::size_t kEd25519Bytes = 32;

struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

//! One JWS algorithm we verify, and the key it needs.
struct AlgSpec {
  std::string_view name;
  JwkType kty;
  const char* digest;    //!< nullptr for EdDSA (no pre-hash)
  bool pss;              //!< RSASSA-PSS, salt length = digest length (RFC 7518 §3.5)
  std::string_view crv;  //!< EC/OKP: the curve the key must be on
  std::size_t coord;     //!< EC: bytes of one coordinate, and of r and s in the signature
};

constexpr std::array<AlgSpec, 11> kAlgs{{
    {"RS256", JwkType::kRsa, "SHA256", false, "", 0},
    {"RS384", JwkType::kRsa, "SHA384", false, "", 0},
    {"RS512", JwkType::kRsa, "SHA512", false, "", 0},
    {"PS256", JwkType::kRsa, "SHA256", true, "", 0},
    {"PS384", JwkType::kRsa, "SHA384", true, "", 0},
    {"PS512", JwkType::kRsa, "SHA512", true, "", 0},
    {"ES256", JwkType::kEc, "SHA256", false, "P-256", 32},
    {"ES384", JwkType::kEc, "SHA384", false, "P-384", 48},
    {"ES512", JwkType::kEc, "SHA512", false, "P-521", 66},
    {"EdDSA", JwkType::kOkp, nullptr, false, "Ed25519", 0},
    {"Ed25519", JwkType::kOkp, nullptr, false, "Ed25519", 0},  // RFC 9864's fully specified name
}};

//! Only the algorithms above; `none`, HS*, RSA-OAEP… are unknown and never verify.
const AlgSpec* FindAlg(std::string_view name) {
  for (const AlgSpec& a : kAlgs)
    if (a.name == name) return &a;
  return nullptr;
}

bool Fits(const AlgSpec& a, const Jwk& k) {
  if (a.kty != k.kty) return false;
  if (!a.crv.empty() && a.crv != k.crv) return false;
  // The key's own alg, when it names one, is the only algorithm it verifies (EdDSA and Ed25519 are one).
  if (!k.alg.empty() && k.alg != a.name && a.kty != JwkType::kOkp) return false;
  return true;
}

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

//! A problem with one key: `policy` problems (a key we do not use) are skipped in a set; others are errors.
struct KeyProblem {
  std::string message;
  bool policy = false;
};

//! Member `name` as a string: nullopt when absent; a KeyProblem when present with another type.
struct StringField {
  bool present = false;
  bool ok = true;
  std::string value;
};
StringField GetField(const boost::json::object& obj, std::string_view name) {
  StringField f;
  const boost::json::value* v = obj.if_contains(name);
  if (v == nullptr) return f;
  f.present = true;
  if (const auto* s = v->if_string()) {
    f.value = std::string(*s);
  } else {
    f.ok = false;
  }
  return f;
}

//! Base64url member decoded; an error message names the member, never its value.
std::optional<std::string> DecodeMember(const boost::json::object& obj, std::string_view name, KeyProblem& problem) {
  const StringField f = GetField(obj, name);
  if (!f.present || !f.ok || f.value.empty()) {
    problem.message = "member \"" + std::string(name) + "\" is missing or not a string";
    return std::nullopt;
  }
  std::optional<std::string> bytes = Base64UrlDecode(f.value);
  if (!bytes) problem.message = "member \"" + std::string(name) + "\" is not base64url";
  return bytes;
}

std::shared_ptr<const PublicKey> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  auto key = std::make_shared<PublicKey>();
  if (EVP_PKEY_fromdata(ctx.get(), &key->pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  // A point off the curve (invalid-curve attacks) or a malformed modulus is refused here.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

std::shared_ptr<const PublicKey> RsaKey(const boost::json::object& obj, KeyProblem& problem) {
  std::optional<std::string> n = DecodeMember(obj, "n", problem);
  if (!n) return nullptr;
  std::optional<std::string> e = DecodeMember(obj, "e", problem);
  if (!e) return nullptr;
  BnPtr bn_n(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) {
    problem.message = "cannot read \"n\"/\"e\"";
    return nullptr;
  }
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    problem = {"RSA modulus of " + std::to_string(bits) + " bits (2048 to 16384 are accepted)", true};
    return nullptr;
  }
  if (e->size() > kMaxRsaExponentBytes || !BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) {
    problem.message = "member \"e\" is not a valid RSA public exponent";
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return nullptr;
  auto key = FromData("RSA", bld.get());
  if (!key) problem.message = "not a valid RSA public key";
  return key;
}

std::shared_ptr<const PublicKey> EcKey(const boost::json::object& obj, const std::string& crv, KeyProblem& problem) {
  std::size_t coord = 0;
  const char* group = nullptr;
  if (crv == "P-256") coord = 32, group = "P-256";
  else if (crv == "P-384") coord = 48, group = "P-384";
  else if (crv == "P-521") coord = 66, group = "P-521";
  else {
    problem = {"unsupported EC curve \"" + crv + "\" (P-256, P-384, P-521)", true};
    return nullptr;
  }
  std::optional<std::string> x = DecodeMember(obj, "x", problem);
  if (!x) return nullptr;
  std::optional<std::string> y = DecodeMember(obj, "y", problem);
  if (!y) return nullptr;
  if (x->size() != coord || y->size() != coord) {
    problem.message = "members \"x\"/\"y\" have the wrong length for " + crv;
    return nullptr;
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return nullptr;
  auto key = FromData("EC", bld.get());
  if (!key) problem.message = "not a valid point on " + crv;
  return key;
}

std::shared_ptr<const PublicKey> OkpKey(const boost::json::object& obj, const std::string& crv, KeyProblem& problem) {
  if (crv != "Ed25519") {
    problem = {"unsupported OKP curve \"" + crv + "\" (Ed25519)", true};
    return nullptr;
  }
  std::optional<std::string> x = DecodeMember(obj, "x", problem);
  if (!x) return nullptr;
  if (x->size() != kEd25519Bytes) {
    problem.message = "member \"x\" is not 32 bytes";
    return nullptr;
  }
  auto key = std::make_shared<PublicKey>();
  key->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(*x), x->size());
  if (key->pkey == nullptr) {
    problem.message = "not a valid Ed25519 public key";
    return nullptr;
  }
  return key;
}

std::optional<Jwk> KeyFromObject(const boost::json::object& obj, KeyProblem& problem) {
  const StringField kty = GetField(obj, "kty");
  if (!kty.present || !kty.ok) {
    problem.message = "member \"kty\" is missing or not a string";
    return std::nullopt;
  }
  Jwk jwk;
  if (kty.value == "RSA") jwk.kty = JwkType::kRsa;
  else if (kty.value == "EC") jwk.kty = JwkType::kEc;
  else if (kty.value == "OKP") jwk.kty = JwkType::kOkp;
  else {
    // "oct" (a shared secret) included: HMAC keys are not asymmetric verification keys.
    problem = {"unsupported key type \"" + kty.value + "\" (RSA, EC, OKP)", true};
    return std::nullopt;
  }
  for (const std::string_view name : {"kid", "alg", "use", "crv"}) {
    const StringField f = GetField(obj, name);
    if (f.present && !f.ok) {
      problem.message = "member \"" + std::string(name) + "\" is not a string";
      return std::nullopt;
    }
    if (name == "kid") jwk.kid = f.value;
    if (name == "alg") jwk.alg = f.value;
    if (name == "use") jwk.use = f.value;
    if (name == "crv") jwk.crv = f.value;
  }
  if (!jwk.use.empty() && jwk.use != "sig") {
    problem = {"key use \"" + jwk.use + "\" is not \"sig\"", true};
    return std::nullopt;
  }
  if (const boost::json::value* ops = obj.if_contains("key_ops")) {
    bool verify = false;
    if (!ops->is_array()) {
      problem.message = "member \"key_ops\" is not an array";
      return std::nullopt;
    }
    for (const auto& op : ops->get_array()) verify = verify || (op.is_string() && op.get_string() == "verify");
    if (!verify) {
      problem = {"key_ops does not include \"verify\"", true};
      return std::nullopt;
    }
  }
  if (!jwk.alg.empty()) {
    const AlgSpec* a = FindAlg(jwk.alg);
    if (a == nullptr) {
      problem = {"algorithm \"" + jwk.alg + "\" is not an asymmetric signature algorithm we verify", true};
      return std::nullopt;
    }
    if (a->kty != jwk.kty || (!a->crv.empty() && !jwk.crv.empty() && a->crv != jwk.crv)) {
      problem.message = "algorithm \"" + jwk.alg + "\" does not fit key type \"" + kty.value + "\"";
      return std::nullopt;
    }
  }
  switch (jwk.kty) {
    case JwkType::kRsa:
      jwk.crv.clear();
      jwk.key = RsaKey(obj, problem);
      break;
    case JwkType::kEc:
      jwk.key = EcKey(obj, jwk.crv, problem);
      break;
    case JwkType::kOkp:
      jwk.key = OkpKey(obj, jwk.crv, problem);
      break;
  }
  ERR_clear_error();  // failed OpenSSL calls leave entries on this thread's error queue
  if (!jwk.key) {
    if (problem.message.empty()) problem.message = "cannot build the public key";
    return std::nullopt;
  }
  return jwk;
}

std::string Describe(const std::string& kid, std::size_t index) {
  return kid.empty() ? "key #" + std::to_string(index) : "key \"" + kid + "\"";
}

std::optional<boost::json::object> ParseObject(std::string_view json) {
  if (CheckJsonStrict(json).result != JsonStrictness::kOk) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

//! JOSE's r||s (RFC 7518 §3.4) -> DER ECDSA-Sig-Value; "" when the size is wrong.
std::string JoseToDer(std::string_view sig, std::size_t coord) {
  if (sig.size() != 2 * coord) return {};
  std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> s(ECDSA_SIG_new());
  BnPtr r(BN_bin2bn(Bytes(sig), static_cast<int>(coord), nullptr));
  BnPtr ss(BN_bin2bn(Bytes(sig.substr(coord)), static_cast<int>(coord), nullptr));
  if (!s || !r || !ss || ECDSA_SIG_set0(s.get(), r.get(), ss.get()) != 1) return {};
  (void)r.release();  // owned by s now
  (void)ss.release();
  const int len = i2d_ECDSA_SIG(s.get(), nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(s.get(), &p) != len) return {};
  return der;
}

bool VerifySignature(const AlgSpec& a, EVP_PKEY* pkey, std::string_view input, std::string_view sig) {
  std::string der;
  if (a.kty == JwkType::kEc) {
    der = JoseToDer(sig, a.coord);
    if (der.empty()) return false;
    sig = der;
  }
  if (a.kty == JwkType::kRsa && sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey))) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = EVP_DigestVerifyInit_ex(ctx.get(), &pctx, a.digest, nullptr, nullptr, pkey, nullptr) == 1;
  if (ok && a.pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx.get(), Bytes(sig), sig.size(), Bytes(input), input.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

bool JwkSet::HasKid(std::string_view kid) const {
  for (const Jwk& k : keys_)
    if (k.kid == kid) return true;
  return false;
}

Result<Jwk> ParseJwk(std::string_view json) {
  std::optional<boost::json::object> obj = ParseObject(json);
  if (!obj) return MakeError(ErrorCode::kInternal, "not a JSON object (or duplicate members)");
  KeyProblem problem;
  std::optional<Jwk> jwk = KeyFromObject(*obj, problem);
  if (!jwk) return MakeError(ErrorCode::kInternal, problem.message);
  return std::move(*jwk);
}

Result<JwkSetParse> ParseJwkSet(std::string_view json) {
  std::optional<boost::json::object> obj = ParseObject(json);
  if (!obj) return MakeError(ErrorCode::kInternal, "not a JSON object (or duplicate members)");
  const boost::json::value* keys = obj->if_contains("keys");
  if (keys == nullptr) {
    KeyProblem problem;
    std::optional<Jwk> jwk = KeyFromObject(*obj, problem);
    if (!jwk) return MakeError(ErrorCode::kInternal, problem.message);
    std::vector<Jwk> one;
    one.push_back(std::move(*jwk));
    return JwkSetParse{JwkSet(std::move(one)), {}};
  }
  if (!keys->is_array()) return MakeError(ErrorCode::kInternal, "member \"keys\" is not an array");
  std::vector<Jwk> out;
  std::vector<std::string> skipped;
  std::size_t index = 0;
  for (const boost::json::value& k : keys->get_array()) {
    if (!k.is_object()) return MakeError(ErrorCode::kInternal, "key #" + std::to_string(index) + " is not an object");
    KeyProblem problem;
    std::optional<Jwk> jwk = KeyFromObject(k.get_object(), problem);
    if (jwk) {
      out.push_back(std::move(*jwk));
    } else {
      const StringField kid = GetField(k.get_object(), "kid");
      const std::string where = Describe(kid.ok ? kid.value : std::string(), index);
      if (!problem.policy) return MakeError(ErrorCode::kInternal, where + ": " + problem.message);
      skipped.push_back(where + ": " + problem.message);
    }
    ++index;
  }
  return JwkSetParse{JwkSet(std::move(out)), std::move(skipped)};
}

std::optional<std::string> JwsKid(std::string_view token) {
  const std::size_t dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<std::string> header = Base64UrlDecode(token.substr(0, dot));
  if (!header || header->size() > 8 * 1024) return std::nullopt;
  std::optional<boost::json::object> obj = ParseObject(*header);
  if (!obj) return std::nullopt;
  const StringField kid = GetField(*obj, "kid");
  if (!kid.present || !kid.ok) return std::nullopt;
  return kid.value;
}

std::optional<std::string> VerifyJws(const JwkSet& keys, std::string_view token) {
  if (keys.Empty()) return std::nullopt;
  std::optional<DecodedJws> jws = DecodeJws(token);
  if (!jws) return std::nullopt;
  std::optional<boost::json::object> header = ParseObject(jws->header_json);
  if (!header) return std::nullopt;
  const StringField alg = GetField(*header, "alg");
  if (!alg.present || !alg.ok) return std::nullopt;
  const AlgSpec* spec = FindAlg(alg.value);
  if (spec == nullptr) return std::nullopt;  // none, HS*, anything we do not verify
  // We understand no JWS extensions (RFC 7515 §4.1.11), so a token that marks any as critical is refused.
  if (header->contains("crit")) return std::nullopt;
  const StringField kid = GetField(*header, "kid");
  if (kid.present && !kid.ok) return std::nullopt;
  for (const Jwk& k : keys.Keys()) {
    // A kid selects the keys with that kid; a key without one (PGRST_JWT_SECRET's single JWK) still fits.
    if (kid.present && !k.kid.empty() && k.kid != kid.value) continue;
    if (!Fits(*spec, k)) continue;
    if (VerifySignature(*spec, k.key->pkey, jws->signing_input, jws->signature)) return std::move(jws->payload_json);
  }
  return std::nullopt;
}

}  // namespace pgwarden::crypto
