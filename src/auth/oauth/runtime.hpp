//! The network side of OAuth (issue 5): OpenID discovery, the provider's JWKS, the code exchange, refresh, and
//! reading who the user is (a verified id_token, GitHub's user and e-mail APIs, or a userinfo endpoint). One
//! runtime serves every io thread: the caches are behind a mutex and never held across a fetch. Outbound calls
//! go through http::Client (HTTPS verified, no redirects, size caps, a deadline, no private addresses; OA-07).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/oauth/providers.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "crypto/jwk.hpp"
#include "http/client.hpp"

namespace pgwarden::auth::oauth {

namespace asio = boost::asio;

//! What a token endpoint answered.
struct Tokens {
  std::string access_token;
  std::string refresh_token;
  std::string id_token;
  std::string token_type;
  std::optional<EpochMs> access_expires_at;
  std::optional<EpochMs> refresh_expires_at;
  std::vector<std::string> scopes;
};

//! Who signed in, as the provider asserts it.
struct Identity {
  std::string account_id;  //!< the provider's stable user id (OpenID `sub`, GitHub's numeric id)
  std::string email;       //!< lower-cased; may be empty
  bool email_verified = false;  //!< only a JSON `true` counts (OA-05)
  std::string name;
  std::optional<std::string> image;
  std::string profile_json;  //!< the raw claims / profile (account-info's `data`)
};

//! Why an OAuth step failed, as the error code of the error redirect (Better Auth's spellings).
struct OAuthError {
  // Not an aggregate: result<std::string, OAuthError> must not be constructible from a string both ways.
  OAuthError() = default;
  OAuthError(std::string c, std::string d) : code(std::move(c)), detail(std::move(d)) {}
  std::string code;     //!< "invalid_code", "unable_to_get_user_info", "invalid_id_token", ...
  std::string detail;   //!< for the log only: never a token or secret
};
template <class T>
using OAuthResult = boost::system::result<T, OAuthError>;

class Runtime {
 public:
  Runtime(std::vector<Provider> providers, const config::OAuthConfig& cfg);

  const Provider* Find(std::string_view id) const { return FindProvider(providers_, id); }
  bool Empty() const { return providers_.empty(); }

  //! The provider with its endpoints known (OpenID discovery on first use, checked against the configured
  //! issuer: OA-04; kept for an hour).
  asio::awaitable<OAuthResult<Provider>> Resolve(std::string id);
  //! authorization_code grant with the PKCE verifier.
  asio::awaitable<OAuthResult<Tokens>> ExchangeCode(Provider p, std::string code, std::string code_verifier,
                                                    std::string redirect_uri);
  //! refresh_token grant.
  asio::awaitable<OAuthResult<Tokens>> Refresh(Provider p, std::string refresh_token);
  //! Reads the identity from the tokens: the id_token (signature by the provider's JWKS, iss, aud/azp, exp,
  //! iat, and `nonce` when `expected_nonce` is not empty: OA-03), GitHub's APIs or the userinfo endpoint.
  asio::awaitable<OAuthResult<Identity>> ReadIdentity(Provider p, Tokens tokens, std::string expected_nonce);
  //! Sign-in with an id_token the app obtained itself (sdk-contract §2.1 idToken): the same checks; the nonce
  //! only when the app gives one.
  asio::awaitable<OAuthResult<Identity>> VerifyIdToken(Provider p, std::string id_token, std::string nonce);

 private:
  asio::awaitable<OAuthResult<crypto::JwkSet>> Keys(const Provider& p, std::string_view kid);
  asio::awaitable<OAuthResult<Tokens>> TokenRequest(const Provider& p, std::string form);
  //! Views, not strings: a std::string prvalue argument to a coroutine is destroyed twice by g++ 12 (D11);
  //! callers pass named strings or literals, alive for the whole co_await.
  asio::awaitable<OAuthResult<std::string>> GetJson(std::string_view url, std::string_view bearer,
                                                    std::string_view accept);
  OAuthResult<Identity> IdentityFromIdToken(const Provider& p, const crypto::JwkSet& keys, std::string_view id_token,
                                            std::string_view expected_nonce) const;

  struct Discovered {
    Provider provider;
    std::chrono::steady_clock::time_point at;
    std::vector<std::string> auth_methods;  //!< token_endpoint_auth_methods_supported
  };
  struct KeyCache {
    crypto::JwkSet keys;
    std::chrono::steady_clock::time_point fetched{};
  };
  const std::vector<Provider> providers_;
  const http::Client client_;
  mutable std::mutex mutex_;
  std::map<std::string, Discovered> discovered_;
  std::map<std::string, KeyCache> keys_;
};

}  // namespace pgwarden::auth::oauth
