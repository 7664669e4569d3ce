#include "dataapi/jwt_claims.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pgwarden::dataapi {
namespace {

ApiError ClaimsError(std::string message) { return MakeApiError(401, "PGRST303", std::move(message)); }

// A numeric claim: nullopt when absent, false when present but not a number (null included, as PostgREST).
bool NumberClaim(const boost::json::object& obj, const char* k, std::optional<std::int64_t>& out) {
  const auto* v = obj.if_contains(k);
  if (!v) return true;
  if (v->is_int64()) {
    out = v->as_int64();
  } else if (v->is_uint64()) {
    out = static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
  } else if (v->is_double()) {
    // Saturate: casting a double outside int64 (`"exp":1e300`) is undefined behaviour.
    const double d = v->as_double();
    constexpr double kTwoTo63 = 9223372036854775808.0;
    if (std::isnan(d)) return false;
    out = d >= kTwoTo63 ? INT64_MAX : d < -kTwoTo63 ? INT64_MIN : static_cast<std::int64_t>(d);
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::optional<ApiError> CheckJwtClaims(const boost::json::object& obj, const JwtClaimRules& rules, bool own_key,
                                       std::int64_t now) {
  std::optional<std::int64_t> exp, nbf, iat;
  if (!NumberClaim(obj, "exp", exp)) return ClaimsError("The JWT 'exp' claim must be a number");
  if (!NumberClaim(obj, "nbf", nbf)) return ClaimsError("The JWT 'nbf' claim must be a number");
  if (!NumberClaim(obj, "iat", iat)) return ClaimsError("The JWT 'iat' claim must be a number");
  if (!exp && rules.require_exp) return ClaimsError("JWT expired");  // a token without exp never expires (JW-05)
  // Written so that no sum can overflow: `exp` may be INT64_MAX (a saturated 1e300 or 2^64-1).
  if (exp && *exp < now - rules.clock_skew_s) return ClaimsError("JWT expired");
  if (nbf && now + rules.clock_skew_s < *nbf) return ClaimsError("JWT not yet valid");
  if (iat && now + rules.clock_skew_s < *iat) return ClaimsError("JWT issued at future");

  // The audience that applies: the own keys' tokens are pgwarden's (its auth service's audience); any other
  // token is checked against PGRST_JWT_AUD (JW-06).
  const std::optional<std::string>& expected = own_key && rules.own_audience ? rules.own_audience : rules.audience;
  const auto* aud = obj.if_contains("aud");
  // PostgREST treats a null `aud` and an empty array as "no audience" and accepts them.
  const bool no_aud = !aud || aud->is_null() || (aud->is_array() && aud->as_array().empty());
  if (!no_aud) {
    bool shape = aud->is_string() || aud->is_array();
    if (aud->is_array())
      for (const auto& a : aud->as_array()) shape = shape && a.is_string();
    if (!shape) return ClaimsError("The JWT 'aud' claim must be a string or an array of strings");
    if (expected) {
      bool ok = false;
      if (aud->is_string()) ok = aud->as_string() == *expected;
      if (aud->is_array())
        for (const auto& a : aud->as_array()) ok = ok || a.as_string() == *expected;
      if (!ok) return ClaimsError("JWT not in audience");
    }
  } else if (expected && rules.strict) {
    // Strict mode: a token meant for any audience is not one meant for this API (RFC 8725 §3.9).
    return ClaimsError("JWT not in audience");
  }
  if (own_key && rules.own_issuer) {
    const auto* iss = obj.if_contains("iss");
    if (!iss || !iss->is_string() || iss->as_string() != *rules.own_issuer)
      return ClaimsError("JWT issuer is not trusted");
  }
  // `sub` is a StringOrURI (RFC 7519 §4.1.2); policies compare it as text, so 123 and "123" must not both pass.
  if (rules.strict) {
    if (const auto* sub = obj.if_contains("sub"); sub && !sub->is_string())
      return ClaimsError("The JWT 'sub' claim must be a string");
  }
  return std::nullopt;
}

}  // namespace pgwarden::dataapi
