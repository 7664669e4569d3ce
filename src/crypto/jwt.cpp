//! Compact JWS (RFC 7515) with EdDSA/Ed25519 (libsodium) and HS256, plus Ed25519 JWKs as Better Auth
//! (jose's exportJWK) writes them. JWK parsing uses Boost.JSON's non-throwing parse.
#include "crypto/jwt.hpp"

#include <sodium.h>

#include <boost/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/sodium_init.hpp"

namespace pgwarden::crypto {
namespace {

constexpr std::size_t kPublicKeyBytes = crypto_sign_PUBLICKEYBYTES;  // 32
constexpr std::size_t kSecretKeyBytes = crypto_sign_SECRETKEYBYTES;  // 64 = seed || public key
constexpr std::size_t kSeedBytes = crypto_sign_SEEDBYTES;            // 32
constexpr std::size_t kSignatureBytes = crypto_sign_BYTES;           // 64
constexpr std::size_t kHs256Bytes = 32;
static_assert(kPublicKeyBytes == 32 && kSecretKeyBytes == 64 && kSeedBytes == 32 && kSignatureBytes == 64);

//! Largest decoded header, payload or signature segment DecodeJws accepts.
constexpr std::size_t kMaxSegmentBytes = 8 * 1024;
//! Base64url length of kMaxSegmentBytes (unpadded): checked before decoding to bound the work.
constexpr std::size_t kMaxSegmentChars = (kMaxSegmentBytes * 4 + 2) / 3;

unsigned char* MutableBytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string SigningInput(std::string_view header_json, std::string_view payload_json) {
  std::string out = Base64UrlEncode(header_json);
  out += '.';
  out += Base64UrlEncode(payload_json);
  return out;
}

//! The string member `name` of `obj`, or nullptr when absent or not a string.
const boost::json::string* StringMember(const boost::json::object& obj, std::string_view name) {
  const boost::json::value* v = obj.if_contains(name);
  return v == nullptr ? nullptr : v->if_string();
}

bool MemberEquals(const boost::json::object& obj, std::string_view name, std::string_view expected) {
  const boost::json::string* s = StringMember(obj, name);
  return s != nullptr && std::string_view(*s) == expected;
}

//! Parses `json` as an Ed25519 OKP JWK object (kty/crv checked). Never throws on bad input.
std::optional<boost::json::object> ParseOkpJwk(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) return std::nullopt;
  boost::json::object& obj = value.get_object();
  if (!MemberEquals(obj, "kty", "OKP") || !MemberEquals(obj, "crv", "Ed25519")) return std::nullopt;
  return std::move(obj);
}

//! Member `name` decoded from base64url, required to be exactly `size` bytes.
std::optional<std::string> KeyMember(const boost::json::object& obj, std::string_view name, std::size_t size) {
  const boost::json::string* s = StringMember(obj, name);
  if (s == nullptr) return std::nullopt;
  std::optional<std::string> bytes = Base64UrlDecode(std::string_view(*s));
  if (!bytes || bytes->size() != size) return std::nullopt;
  return bytes;
}

std::optional<std::string> DecodeSegment(std::string_view segment) {
  if (segment.empty() || segment.size() > kMaxSegmentChars) return std::nullopt;
  std::optional<std::string> bytes = Base64UrlDecode(segment);
  if (!bytes || bytes->size() > kMaxSegmentBytes) return std::nullopt;
  return bytes;
}

}  // namespace

Ed25519KeyPair GenerateEd25519() {
  detail::EnsureSodium();
  Ed25519KeyPair kp{std::string(kPublicKeyBytes, '\0'), std::string(kSecretKeyBytes, '\0')};
  crypto_sign_keypair(MutableBytes(kp.public_key), MutableBytes(kp.secret_key));
  return kp;
}

// Precondition: seed32.size() == 32. Otherwise an empty key pair is returned (which signs nothing and
// matches no JWK), rather than reading out of bounds.
Ed25519KeyPair Ed25519FromSeed(std::string_view seed32) {
  if (seed32.size() != kSeedBytes) return {};
  detail::EnsureSodium();
  Ed25519KeyPair kp{std::string(kPublicKeyBytes, '\0'), std::string(kSecretKeyBytes, '\0')};
  crypto_sign_seed_keypair(MutableBytes(kp.public_key), MutableBytes(kp.secret_key), Bytes(seed32));
  return kp;
}

std::string Ed25519PublicJwk(const Ed25519KeyPair& kp) {
  std::string out = R"({"crv":"Ed25519","x":")";
  out += Base64UrlEncode(kp.public_key);
  out += R"(","kty":"OKP"})";
  return out;
}

std::string Ed25519PrivateJwk(const Ed25519KeyPair& kp) {
  std::string out = R"({"crv":"Ed25519","d":")";
  out += Base64UrlEncode(std::string_view(kp.secret_key).substr(0, kSeedBytes));
  out += R"(","x":")";
  out += Base64UrlEncode(kp.public_key);
  out += R"(","kty":"OKP"})";
  return out;
}

std::optional<Ed25519KeyPair> ParseEd25519PrivateJwk(std::string_view json) {
  const std::optional<boost::json::object> obj = ParseOkpJwk(json);
  if (!obj) return std::nullopt;
  std::optional<std::string> seed = KeyMember(*obj, "d", kSeedBytes);
  const std::optional<std::string> x = KeyMember(*obj, "x", kPublicKeyBytes);
  if (!seed || !x) return std::nullopt;
  Ed25519KeyPair kp = Ed25519FromSeed(*seed);
  sodium_memzero(seed->data(), seed->size());
  if (!ConstantTimeEquals(kp.public_key, *x)) return std::nullopt;
  return kp;
}

std::optional<std::string> ParseEd25519PublicJwk(std::string_view json) {
  const std::optional<boost::json::object> obj = ParseOkpJwk(json);
  if (!obj) return std::nullopt;
  return KeyMember(*obj, "x", kPublicKeyBytes);
}

// Precondition: kp.secret_key is 64 bytes (seed || public key); otherwise "" is returned.
std::string SignEdDsa(const Ed25519KeyPair& kp, std::string_view header_json, std::string_view payload_json) {
  if (kp.secret_key.size() != kSecretKeyBytes) return {};
  detail::EnsureSodium();
  std::string out = SigningInput(header_json, payload_json);
  std::string signature(kSignatureBytes, '\0');
  crypto_sign_detached(MutableBytes(signature), nullptr, Bytes(out), out.size(), Bytes(kp.secret_key));
  out += '.';
  out += Base64UrlEncode(signature);
  return out;
}

std::string SignHs256(std::string_view key, std::string_view header_json, std::string_view payload_json) {
  std::string out = SigningInput(header_json, payload_json);
  const std::string mac = HmacSha256(key, out);
  out += '.';
  out += Base64UrlEncode(mac);
  return out;
}

// Every segment must be non-empty strict base64url (no '=', '+', '/', whitespace; canonical final symbol)
// decoding to at most 8 KiB. The signature gets the same 8 KiB cap (far above any JWS algorithm's size).
std::optional<DecodedJws> DecodeJws(std::string_view token) {
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  std::optional<std::string> header = DecodeSegment(token.substr(0, first));
  std::optional<std::string> payload = DecodeSegment(token.substr(first + 1, second - first - 1));
  std::optional<std::string> signature = DecodeSegment(token.substr(second + 1));
  if (!header || !payload || !signature) return std::nullopt;
  return DecodedJws{std::move(*header), std::move(*payload), std::string(token.substr(0, second)),
                    std::move(*signature)};
}

bool HasCritHeader(std::string_view header_json) {
  boost::system::error_code ec;
  const boost::json::value header = boost::json::parse(header_json, ec);
  return !ec && header.is_object() && header.get_object().contains("crit");
}

bool VerifyEd25519(std::string_view public_key32, std::string_view message, std::string_view signature64) {
  if (public_key32.size() != kPublicKeyBytes || signature64.size() != kSignatureBytes) return false;
  detail::EnsureSodium();
  return crypto_sign_verify_detached(Bytes(signature64), Bytes(message), message.size(), Bytes(public_key32)) == 0;
}

bool VerifyHs256(std::string_view key, std::string_view message, std::string_view signature32) {
  if (signature32.size() != kHs256Bytes) return false;
  return ConstantTimeEquals(HmacSha256(key, message), signature32);
}

}  // namespace pgwarden::crypto
