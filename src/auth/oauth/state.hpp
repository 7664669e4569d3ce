//! The server-side record of one authorization request (sdk-contract §4.2 step 2, security.md OA-01/OA-02):
//! what the callback needs to finish it, stored in neon_auth.verification under the hashed state (D25) for
//! 10 minutes, consumed once. Better Auth's member names are kept (callbackURL, codeVerifier, errorURL,
//! newUserURL, link, expiresAt, requestSignUp); pgwarden adds the provider it was issued for (a state delivered
//! to another provider's callback is refused), the OpenID nonce and the hash of the browser's challenge cookie
//! (the session verifier of the callback is bound to it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/time.hpp"

namespace pgwarden::auth::oauth {

struct LinkTarget {
  std::string email;
  std::string user_id;
};

struct OAuthState {
  std::string provider_id;
  std::string callback_url;
  std::string code_verifier;  //!< 128 chars (Better Auth)
  std::string nonce;          //!< OpenID providers
  std::string error_url;      //!< empty = <auth>/error
  std::string new_user_url;   //!< empty = callback_url
  std::optional<LinkTarget> link;  //!< link-social: the signed-in user the account joins
  bool request_sign_up = false;
  std::string challenge_hash;  //!< HashIdentifier(challenge cookie value); empty = none
  EpochMs expires_at = 0;
};

//! JSON with Better Auth's member names first.
std::string SerializeState(const OAuthState& s);
//! nullopt for anything that is not a complete record (missing provider, verifier or callback, bad types).
std::optional<OAuthState> ParseState(std::string_view json);

//! Why a callback's state is refused, as Better Auth's error codes on the error redirect.
enum class StateProblem { kNone, kNotFound, kMismatch, kExpired, kWrongProvider };
std::string_view StateErrorCode(StateProblem p);  //!< "state_not_found", "state_mismatch", ...
//! Checks a consumed record against the callback it arrived at.
StateProblem CheckState(const std::optional<OAuthState>& s, std::string_view provider_id, EpochMs now);

}  // namespace pgwarden::auth::oauth
