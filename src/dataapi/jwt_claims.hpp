//! The checks a verified token's claims must pass before the Data API acts on them: PostgREST v13's
//! validateClaims (exp/nbf/iat as numbers with 30 s of skew, `aud` a string or an array of strings containing
//! the configured audience) plus pgwarden's rules (JW-05, JW-06, JW-10): `exp` required, tokens of the service's
//! own keys bound to its issuer and audience, and in strict (Neon) mode `aud` required whenever an audience
//! applies and `sub` a string. Pure: the caller has verified the signature and parsed the claims set.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "dataapi/request/api_error.hpp"

namespace pgwarden::dataapi {

struct JwtClaimRules {
  std::optional<std::string> audience;      //!< PGRST_JWT_AUD: applies to tokens not of the own keys
  std::optional<std::string> own_issuer;    //!< own keys' tokens: `iss` must equal it
  std::optional<std::string> own_audience;  //!< own keys' tokens: `aud` must contain it
  bool require_exp = true;                  //!< a token without `exp` is refused (PostgREST accepts it)
  bool strict = true;                       //!< `aud` required when an audience applies; `sub` a string
  int clock_skew_s = 30;
};

//! PGRST303 (401) for the first claim that fails, as PostgREST words it where it has the check; nullopt when
//! all pass. `own_key`: the token was verified by the service's own signing keys. `now_s`: Unix seconds.
std::optional<ApiError> CheckJwtClaims(const boost::json::object& claims, const JwtClaimRules& rules, bool own_key,
                                       std::int64_t now_s);

}  // namespace pgwarden::dataapi
