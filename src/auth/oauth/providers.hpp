//! The social / OpenID providers (issue 5) as data: endpoints, scopes and how a user's identity is read.
//! Built-ins (Better Auth's endpoints and default scopes): google and microsoft (OpenID: identity from the
//! id_token), github (OAuth 2: /user and /user/emails), vercel (OAuth 2: the userinfo endpoint). Any other
//! configured provider is a generic OpenID provider found through discovery at <issuer>. Every endpoint can be
//! overridden by configuration (tests point them at loopback). Pure: no I/O here; discovery, token exchange and
//! user info live with the flows.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace pgwarden::auth::oauth {

enum class IdentitySource {
  kIdToken,   //!< OpenID: the verified id_token's claims (sub, email, email_verified, name, picture)
  kGitHub,    //!< GET user_url + emails_url (the primary verified address)
  kUserInfo,  //!< GET user_url (OpenID-style claims), no id_token (Vercel)
};

struct Provider {
  std::string id;  //!< providerId on the wire and in the callback path
  IdentitySource identity = IdentitySource::kIdToken;
  std::string client_id;
  std::string client_secret;  //!< never logged
  //! The expected `iss` of id_tokens. Microsoft's multi-tenant authorities carry "{tenantid}", replaced by the
  //! token's `tid` claim when checking.
  std::string issuer;
  bool discover = false;  //!< endpoints still to be read from <issuer>/.well-known/openid-configuration
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string user_endpoint;    //!< userinfo (OpenID / Vercel) or GitHub's /user
  std::string emails_endpoint;  //!< GitHub's /user/emails
  std::string jwks_uri;
  std::vector<std::string> scopes;  //!< sent on every authorization request
  std::vector<std::pair<std::string, std::string>> extra_params;  //!< e.g. Google's include_granted_scopes
};

//! The configured providers with the built-in defaults and the overrides applied. A built-in whose issuer was
//! overridden (and no explicit endpoints) is discovered like a generic OpenID provider.
std::vector<Provider> ProvidersFrom(const config::OAuthConfig& cfg);

//! The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)).
std::string CodeChallengeS256(std::string_view verifier);

struct AuthorizationRequest {
  std::string redirect_uri;
  std::string state;
  std::string code_verifier;  //!< the challenge is derived from it
  std::string nonce;          //!< OpenID providers only (empty = none)
  std::vector<std::string> extra_scopes;  //!< the caller's `scopes`, added to the provider's
  std::string login_hint;     //!< passed as `login_hint` when not empty (a hint only, never an identity)
};

//! application/x-www-form-urlencoded as URLSearchParams writes it (Better Auth builds its OAuth URLs that way):
//! ALPHA, DIGIT and "*-._" as they are, a space as '+', every other byte percent-encoded.
std::string FormEncode(std::string_view v);

//! The provider's authorization URL, in Better Auth's parameter order: response_type=code, client_id, state,
//! scope, redirect_uri, login_hint, PKCE S256; then the nonce for OpenID providers and the provider's extra
//! parameters, which cannot override a protocol parameter (OA-02).
std::string AuthorizationUrl(const Provider& p, const AuthorizationRequest& r);

//! Finds a provider by id; nullptr when unknown.
const Provider* FindProvider(const std::vector<Provider>& providers, std::string_view id);

}  // namespace pgwarden::auth::oauth
