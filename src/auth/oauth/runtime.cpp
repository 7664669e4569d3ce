#include "auth/oauth/runtime.hpp"

#include <algorithm>
#include <cmath>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"

namespace pgwarden::auth::oauth {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDiscoveryTtl = std::chrono::hours(1);
constexpr auto kKeysTtl = std::chrono::minutes(10);
constexpr auto kKeysRefetchCooldown = std::chrono::seconds(30);  // unknown kid: at most one refetch per 30 s
constexpr long long kClockSkewS = 30;

OAuthError Fail(std::string code, std::string detail) { return OAuthError{std::move(code), std::move(detail)}; }

http::ClientOptions OptionsFrom(const config::OAuthConfig& cfg) {
  http::ClientOptions o;
  o.timeout = std::chrono::milliseconds(cfg.timeout_ms);
  o.max_body_bytes = 256 * 1024;
  o.ca_file = cfg.ca_file;
  o.allow_loopback = cfg.allow_loopback;
  return o;
}

// Appends `key=value` (form-encoded) to an application/x-www-form-urlencoded body; empty values are left out.
// (No initializer lists: these run inside coroutines, which g++ 12 miscompiles with them.)
void AddField(std::string& form, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (!form.empty()) form += '&';
  form += crypto::UriComponentEncode(key);
  form += '=';
  form += crypto::UriComponentEncode(value);
}

std::optional<std::string> Str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

std::optional<double> Num(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  const double d = v->to_number<double>(ec);
  if (ec || !std::isfinite(d)) return std::nullopt;
  return d;
}

// OpenID claims (id_token, userinfo, Vercel) -> Identity. Only a JSON true verifies an address (OA-05).
Identity ClaimsIdentity(const json::object& c, std::string_view raw) {
  Identity id;
  id.account_id = Str(c, "sub").value_or("");
  id.email = AsciiLower(Str(c, "email").value_or(""));
  const auto* ev = c.if_contains("email_verified");
  id.email_verified = ev && ev->is_bool() && ev->as_bool();
  id.name = Str(c, "name").value_or(Str(c, "preferred_username").value_or(""));
  if (auto pic = Str(c, "picture")) id.image = *pic;
  id.profile_json = std::string(raw);
  return id;
}

}  // namespace

Runtime::Runtime(std::vector<Provider> providers, const config::OAuthConfig& cfg)
    : providers_(std::move(providers)), client_(OptionsFrom(cfg)) {}

asio::awaitable<OAuthResult<std::string>> Runtime::GetJson(std::string_view url, std::string_view bearer,
                                                           std::string_view accept) {
  http::ClientRequest req;
  req.method = boost::beast::http::verb::get;
  req.url = std::string(url);
  req.headers.emplace_back("Accept", accept.empty() ? std::string("application/json") : std::string(accept));
  if (!bearer.empty()) req.headers.emplace_back("Authorization", "Bearer " + std::string(bearer));
  auto res = co_await client_.Fetch(std::move(req));
  if (!res) co_return Fail("unable_to_get_user_info", std::string(res.error().Message()));
  if (res->status != 200) co_return Fail("unable_to_get_user_info", "HTTP status " + std::to_string(res->status));
  co_return std::move(res->body);
}

asio::awaitable<OAuthResult<Provider>> Runtime::Resolve(std::string id) {
  const Provider* p = Find(id);
  if (!p) co_return Fail("oauth_provider_not_found", id);
  if (!p->discover) co_return *p;
  {
    std::lock_guard lock(mutex_);
    if (auto it = discovered_.find(id); it != discovered_.end() && Clock::now() - it->second.at < kDiscoveryTtl)
      co_return it->second.provider;
  }
  const std::string discovery_url = p->issuer + "/.well-known/openid-configuration";
  auto body = co_await GetJson(discovery_url, "", "application/json");
  if (!body) co_return Fail("discovery_failed", body.error().detail);
  boost::system::error_code ec;
  const json::value doc = json::parse(*body, ec);
  if (ec || !doc.is_object()) co_return Fail("discovery_failed", "the discovery document is not a JSON object");
  const auto& o = doc.as_object();
  Provider resolved = *p;
  // Mix-up defence (OA-04): the document must be the configured issuer's.
  if (Str(o, "issuer").value_or("") != p->issuer)
    co_return Fail("discovery_failed", "the discovery document names another issuer");
  if (resolved.authorization_endpoint.empty()) resolved.authorization_endpoint = Str(o, "authorization_endpoint").value_or("");
  if (resolved.token_endpoint.empty()) resolved.token_endpoint = Str(o, "token_endpoint").value_or("");
  if (resolved.user_endpoint.empty()) resolved.user_endpoint = Str(o, "userinfo_endpoint").value_or("");
  if (resolved.jwks_uri.empty()) resolved.jwks_uri = Str(o, "jwks_uri").value_or("");
  if (resolved.authorization_endpoint.empty() || resolved.token_endpoint.empty() || resolved.jwks_uri.empty())
    co_return Fail("discovery_failed", "the discovery document lacks an endpoint");
  resolved.discover = false;
  Discovered d{resolved, Clock::now(), {}};
  if (const auto* m = o.if_contains("token_endpoint_auth_methods_supported"); m && m->is_array())
    for (const auto& v : m->as_array())
      if (v.is_string()) d.auth_methods.emplace_back(v.as_string());
  {
    std::lock_guard lock(mutex_);
    discovered_[id] = d;
  }
  log::Info("oauth.discovered", {{"provider", id}});
  co_return resolved;
}

asio::awaitable<OAuthResult<Tokens>> Runtime::TokenRequest(const Provider& p, std::string form) {
  http::ClientRequest req;
  req.method = boost::beast::http::verb::post;
  req.url = p.token_endpoint;
  req.content_type = "application/x-www-form-urlencoded";
  req.headers.emplace_back("Accept", "application/json");
  // OpenID providers: client_secret_basic (every OpenID server supports it), unless discovery lists only
  // client_secret_post; GitHub and Vercel: the credentials in the form.
  bool basic = p.identity == IdentitySource::kIdToken;
  {
    std::lock_guard lock(mutex_);
    if (auto it = discovered_.find(p.id); it != discovered_.end() && !it->second.auth_methods.empty()) {
      const auto& m = it->second.auth_methods;
      basic = std::find(m.begin(), m.end(), "client_secret_basic") != m.end();
    }
  }
  if (basic) {
    const std::string user = crypto::UriComponentEncode(p.client_id) + ":" + crypto::UriComponentEncode(p.client_secret);
    req.headers.emplace_back("Authorization", "Basic " + crypto::Base64Encode(user));
  } else {
    AddField(form, "client_id", p.client_id);
    AddField(form, "client_secret", p.client_secret);
  }
  req.body = std::move(form);
  auto res = co_await client_.Fetch(std::move(req));
  if (!res) co_return Fail("invalid_code", std::string(res.error().Message()));
  boost::system::error_code ec;
  const json::value doc = json::parse(res->body, ec);
  if (ec || !doc.is_object()) co_return Fail("invalid_code", "HTTP status " + std::to_string(res->status) + ", not JSON");
  const auto& o = doc.as_object();
  if (res->status != 200 || o.contains("error"))
    co_return Fail("invalid_code", "token endpoint error " + Str(o, "error").value_or(std::to_string(res->status)));
  Tokens t;
  t.access_token = Str(o, "access_token").value_or("");
  if (t.access_token.empty()) co_return Fail("invalid_code", "no access_token");
  t.refresh_token = Str(o, "refresh_token").value_or("");
  t.id_token = Str(o, "id_token").value_or("");
  t.token_type = Str(o, "token_type").value_or("");
  const EpochMs now = NowMs();
  if (auto e = Num(o, "expires_in"); e && *e > 0) t.access_expires_at = now + static_cast<EpochMs>(*e * 1000);
  if (auto e = Num(o, "refresh_token_expires_in"); e && *e > 0) t.refresh_expires_at = now + static_cast<EpochMs>(*e * 1000);
  if (auto s = Str(o, "scope")) {
    for (auto part : Split(*s, (s->find(',') != std::string::npos) ? ',' : ' ')) {
      part = Trim(part);
      if (!part.empty()) t.scopes.emplace_back(part);
    }
  }
  co_return t;
}

asio::awaitable<OAuthResult<Tokens>> Runtime::ExchangeCode(Provider p, std::string code, std::string code_verifier,
                                                           std::string redirect_uri) {
  std::string form;
  AddField(form, "grant_type", "authorization_code");
  AddField(form, "code", code);
  AddField(form, "redirect_uri", redirect_uri);
  AddField(form, "code_verifier", code_verifier);
  co_return co_await TokenRequest(p, std::move(form));
}

asio::awaitable<OAuthResult<Tokens>> Runtime::Refresh(Provider p, std::string refresh_token) {
  std::string form;
  AddField(form, "grant_type", "refresh_token");
  AddField(form, "refresh_token", refresh_token);
  co_return co_await TokenRequest(p, std::move(form));
}

asio::awaitable<OAuthResult<crypto::JwkSet>> Runtime::Keys(const Provider& p, std::string_view kid) {
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    if (auto it = keys_.find(p.id); it != keys_.end()) {
      const bool fresh = now - it->second.fetched < kKeysTtl;
      const bool known = kid.empty() || it->second.keys.HasKid(kid);
      // An unknown kid may be a rotation: refetch, but at most once per cooldown.
      if (fresh && (known || now - it->second.fetched < kKeysRefetchCooldown)) co_return it->second.keys;
    }
  }
  auto body = co_await GetJson(p.jwks_uri, "", "application/jwk-set+json, application/json");
  if (!body) co_return Fail("invalid_id_token", "JWKS: " + body.error().detail);
  auto parsed = crypto::ParseJwkSet(*body);
  if (!parsed) co_return Fail("invalid_id_token", "JWKS: " + std::string(parsed.error().Message()));
  {
    std::lock_guard lock(mutex_);
    keys_[p.id] = KeyCache{parsed->keys, now};
  }
  co_return parsed->keys;
}

OAuthResult<Identity> Runtime::IdentityFromIdToken(const Provider& p, const crypto::JwkSet& keys,
                                                   std::string_view id_token, std::string_view expected_nonce) const {
  // The signature by one of the provider's published keys, never a key named by the token (OA-03).
  const auto payload = crypto::VerifyJws(keys, id_token);
  if (!payload) return Fail("invalid_id_token", "signature");
  boost::system::error_code ec;
  const json::value v = json::parse(*payload, ec);
  if (ec || !v.is_object()) return Fail("invalid_id_token", "claims");
  const auto& c = v.as_object();
  std::string issuer = p.issuer;
  if (const auto pos = issuer.find("{tenantid}"); pos != std::string::npos)
    issuer.replace(pos, 10, Str(c, "tid").value_or("\x01"));  // Microsoft's multi-tenant authorities
  if (Str(c, "iss").value_or("") != issuer) return Fail("invalid_id_token", "iss");
  bool aud_ok = false;
  std::size_t audiences = 0;
  if (const auto* aud = c.if_contains("aud")) {
    if (aud->is_string()) {
      audiences = 1;
      aud_ok = aud->as_string() == p.client_id;
    } else if (aud->is_array()) {
      for (const auto& a : aud->as_array()) {
        ++audiences;
        if (a.is_string() && a.as_string() == p.client_id) aud_ok = true;
      }
    }
  }
  if (!aud_ok) return Fail("invalid_id_token", "aud");
  if (audiences > 1 && Str(c, "azp").value_or("") != p.client_id) return Fail("invalid_id_token", "azp");
  const long long now_s = NowMs() / 1000;
  const auto exp = Num(c, "exp");
  if (!exp || *exp + kClockSkewS <= static_cast<double>(now_s)) return Fail("invalid_id_token", "exp");
  if (auto iat = Num(c, "iat"); iat && *iat > static_cast<double>(now_s + 300)) return Fail("invalid_id_token", "iat");
  if (!expected_nonce.empty() && Str(c, "nonce").value_or("") != expected_nonce) return Fail("invalid_id_token", "nonce");
  Identity id = ClaimsIdentity(c, *payload);
  if (id.account_id.empty()) return Fail("unable_to_get_user_info", "no sub");
  return id;
}

asio::awaitable<OAuthResult<Identity>> Runtime::ReadIdentity(Provider p, Tokens tokens, std::string expected_nonce) {
  if (p.identity == IdentitySource::kIdToken) {
    if (tokens.id_token.empty()) co_return Fail("invalid_id_token", "no id_token in the token response");
    const std::string kid = crypto::JwsKid(tokens.id_token).value_or("");
    auto keys = co_await Keys(p, kid);
    if (!keys) co_return keys.error();
    auto id = IdentityFromIdToken(p, *keys, tokens.id_token, expected_nonce);
    if (!id) co_return id.error();
    // Some providers leave the address out of the id_token: ask the userinfo endpoint, same subject.
    if (id->email.empty() && !p.user_endpoint.empty()) {
      auto info = co_await GetJson(p.user_endpoint, tokens.access_token, "application/json");
      if (info) {
        boost::system::error_code ec;
        const json::value v = json::parse(*info, ec);
        if (!ec && v.is_object()) {
          const Identity extra = ClaimsIdentity(v.as_object(), *info);
          if (extra.account_id == id->account_id) {
            id->email = extra.email;
            id->email_verified = extra.email_verified;
            if (id->name.empty()) id->name = extra.name;
            if (!id->image) id->image = extra.image;
          }
        }
      }
    }
    co_return *id;
  }
  if (p.identity == IdentitySource::kUserInfo) {
    auto info = co_await GetJson(p.user_endpoint, tokens.access_token, "application/json");
    if (!info) co_return info.error();
    boost::system::error_code ec;
    const json::value v = json::parse(*info, ec);
    if (ec || !v.is_object()) co_return Fail("unable_to_get_user_info", "userinfo is not a JSON object");
    Identity id = ClaimsIdentity(v.as_object(), *info);
    if (id.account_id.empty()) co_return Fail("unable_to_get_user_info", "no sub");
    co_return id;
  }
  // GitHub: the profile, then the primary verified address from /user/emails (OA-06).
  auto user = co_await GetJson(p.user_endpoint, tokens.access_token, "application/vnd.github+json");
  if (!user) co_return user.error();
  boost::system::error_code ec;
  const json::value uv = json::parse(*user, ec);
  if (ec || !uv.is_object()) co_return Fail("unable_to_get_user_info", "/user is not a JSON object");
  const auto& u = uv.as_object();
  Identity id;
  if (const auto* idv = u.if_contains("id"); idv && (idv->is_int64() || idv->is_uint64())) {
    id.account_id = idv->is_int64() ? std::to_string(idv->as_int64()) : std::to_string(idv->as_uint64());
  } else if (auto s = Str(u, "id")) {
    id.account_id = *s;
  }
  if (id.account_id.empty()) co_return Fail("unable_to_get_user_info", "no id");
  id.name = Str(u, "name").value_or(Str(u, "login").value_or(""));
  if (auto a = Str(u, "avatar_url")) id.image = *a;
  id.profile_json = *user;
  const std::string profile_email = AsciiLower(Str(u, "email").value_or(""));
  if (!p.emails_endpoint.empty()) {
    auto emails = co_await GetJson(p.emails_endpoint, tokens.access_token, "application/vnd.github+json");
    if (emails) {
      const json::value ev = json::parse(*emails, ec);
      if (!ec && ev.is_array()) {
        std::string primary;
        bool primary_verified = false;
        for (const auto& e : ev.as_array()) {
          if (!e.is_object()) continue;
          const auto& eo = e.as_object();
          const std::string addr = AsciiLower(Str(eo, "email").value_or(""));
          const auto* ver = eo.if_contains("verified");
          const bool verified = ver && ver->is_bool() && ver->as_bool();
          const auto* prim = eo.if_contains("primary");
          if (prim && prim->is_bool() && prim->as_bool()) {
            primary = addr;
            primary_verified = verified;
          }
          if (!profile_email.empty() && addr == profile_email && verified) id.email_verified = true;
        }
        // The profile's public address only when GitHub lists it verified; else the primary one (D32).
        if (id.email_verified) {
          id.email = profile_email;
        } else if (profile_email.empty() || primary_verified) {
          id.email = primary;
          id.email_verified = primary_verified;
        }
      }
    }
  }
  if (id.email.empty()) {
    id.email = profile_email;
    id.email_verified = false;
  }
  co_return id;
}

asio::awaitable<OAuthResult<Identity>> Runtime::VerifyIdToken(Provider p, std::string id_token, std::string nonce) {
  if (p.identity != IdentitySource::kIdToken) co_return Fail("id_token_not_supported", p.id);
  const std::string kid = crypto::JwsKid(id_token).value_or("");
  auto keys = co_await Keys(p, kid);
  if (!keys) co_return keys.error();
  co_return IdentityFromIdToken(p, *keys, id_token, nonce);
}

}  // namespace pgwarden::auth::oauth
