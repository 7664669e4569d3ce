//! One typed, immutable Config, loaded once from an optional TOML file and the environment (the
//! environment wins), then validated as a whole: Load() reports every problem at once, one line each.
//! Each component receives only its part (AuthConfig, HttpConfig, DbConfig).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/password.hpp"

namespace pgwarden::config {

struct DbConfig {
  std::string url;            //!< libpq connection string or URI (DATABASE_URL)
  std::string database_name;  //!< the <db> in /<db>/auth (PGWARDEN_DB_NAME, default: from the URL)
  int pool_per_thread = 4;    //!< connections per io thread
  int connect_timeout_s = 5;
};

struct HttpConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  int threads = 0;                         //!< 0 = one per core
  std::size_t max_body_bytes = 1 << 20;    //!< 1 MiB
  std::size_t max_header_bytes = 16 << 10; //!< 16 KiB
  int idle_timeout_s = 60;
  int request_timeout_s = 30;
};

enum class CookieMode { kLax, kCrossSite };

struct AuthConfig {
  std::string secret;                     //!< PGWARDEN_SECRET / BETTER_AUTH_SECRET
  std::string base_url;                   //!< public origin + nothing else, e.g. http://localhost:3000
  std::vector<std::string> trusted_origins;  //!< exact origins or patterns with '*'
  bool trust_localhost = true;            //!< any http(s)://localhost:<port> and 127.0.0.1 is trusted
  CookieMode cookie_mode = CookieMode::kLax;
  bool secure_cookies = true;             //!< __Secure- prefix + Secure attribute
  std::string cookie_prefix = "neon-auth";
  std::int64_t session_expires_in_s = 7 * 24 * 3600;
  std::int64_t session_update_age_s = 24 * 3600;
  std::int64_t session_fresh_age_s = 24 * 3600;
  std::int64_t session_absolute_max_s = 30 * 24 * 3600;  //!< not in Better Auth; ASVS 7.3.2
  std::int64_t jwt_ttl_s = 900;
  std::string jwt_issuer;                 //!< default: base_url origin
  std::string jwt_audience;               //!< default: base_url origin
  bool allow_anonymous = true;            //!< GET /token/anonymous
  std::int64_t anonymous_ttl_s = 900;
  bool require_email_verification = false;
  int min_password_length = 8;
  int max_password_length = 128;
  int hash_threads = 0;                   //!< 0 = one per core
  //! PGWARDEN_PASSWORD_DENYLIST: a file of common passwords refused for new passwords (PW-03); "common" = the
  //! list of Debian's john-data package; empty = off (Better Auth has no such check).
  std::string password_denylist;
  //! PGWARDEN_PASSWORD_HASH: the format of new hashes; both formats always verify ("Hardened password mode").
  crypto::PasswordHashMode password_hash = crypto::PasswordHashMode::kScrypt;

  // ---- e-mail flows (issue 4); lifetimes in seconds ----
  bool send_verification_on_sign_up = false;       //!< default: = require_email_verification
  std::int64_t email_verification_ttl_s = 3600;    //!< Better Auth's emailVerification.expiresIn
  std::int64_t reset_password_ttl_s = 3600;        //!< resetPasswordTokenExpiresIn
  bool revoke_sessions_on_password_reset = true;   //!< Better Auth: off by default; TK-04 wants it on
  std::int64_t otp_ttl_s = 300;
  int otp_attempts = 3;
  std::int64_t otp_resend_interval_s = 60;         //!< 0 = a new code on every request
  bool otp_verify_current_email = false;           //!< email-otp changeEmail.verifyCurrentEmail
  std::int64_t magic_link_ttl_s = 300;
  bool magic_link_sign_up = true;                  //!< magic links may create users
  bool delete_user_verification = false;           //!< delete-user mails a confirmation link first
  std::int64_t delete_user_token_ttl_s = 24 * 3600;
  std::string app_name = "pgwarden";               //!< {{app_name}} in the mail templates
};

//! One social / OpenID provider (issue 5). Enabled by PGWARDEN_OAUTH_<ID>_CLIENT_ID + _CLIENT_SECRET.
struct OAuthProviderConfig {
  std::string id;             //!< providerId on the wire: "google", "github", "vercel", "microsoft", or <ID> lower-cased
  std::string client_id;
  std::string client_secret;  //!< never logged
  std::string issuer;         //!< OpenID providers: discovery at <issuer>/.well-known/openid-configuration
  std::string authorization_url;  //!< overrides (tests, GitHub Enterprise); empty = the provider's default
  std::string token_url;
  std::string user_url;       //!< GitHub's /user, or an OpenID userinfo endpoint override
  std::string emails_url;     //!< GitHub's /user/emails
  std::vector<std::string> scopes;  //!< empty = the provider's defaults
  std::string tenant = "common";    //!< Microsoft
};

struct OAuthConfig {
  std::vector<OAuthProviderConfig> providers;
  bool allow_loopback = false;  //!< PGWARDEN_OAUTH_ALLOW_LOOPBACK: providers on http://127.0.0.1 (tests only)
  std::string ca_file;          //!< PGWARDEN_OAUTH_CA_FILE: extra trust anchor for provider HTTPS
  int timeout_ms = 10000;       //!< outbound requests (token, userinfo, discovery, JWKS)
};

//! One rate-limit rule from PGWARDEN_RATE_LIMIT_RULES: `path=max/window` (window in seconds) or `path=off`.
//! `path` is below /<db>/auth, exact, or a prefix when it ends with '*'.
struct RateLimitRuleConfig {
  std::string path;
  bool prefix = false;
  bool off = false;
  int max = 0;
  int window_s = 0;
};

//! Request limits per client IP (issue 6, D37). Better Auth's rules and window semantics.
struct RateLimitConfig {
  bool enabled = true;                 //!< PGWARDEN_RATE_LIMIT (on/off); `pgwarden dev` defaults to off
  bool memory = false;                 //!< PGWARDEN_RATE_LIMIT_STORAGE: database (shared, default) | memory
  int window_s = 10;                   //!< PGWARDEN_RATE_LIMIT_WINDOW: the rule of every other path
  int max = 100;                       //!< PGWARDEN_RATE_LIMIT_MAX
  std::vector<RateLimitRuleConfig> rules;     //!< PGWARDEN_RATE_LIMIT_RULES: win over the built-in rules
  std::vector<std::string> trusted_proxies;   //!< PGWARDEN_TRUSTED_PROXIES: IPs / CIDRs whose X-Forwarded-For is read
  int mail_interval_s = 60;            //!< PGWARDEN_RATE_LIMIT_MAIL_INTERVAL: one mail per recipient and kind
  int sign_in_failures = 10;           //!< PGWARDEN_SIGN_IN_FAILURES: failed sign-ins of one account before back-off
  int sign_in_failure_window_s = 900;  //!< PGWARDEN_SIGN_IN_FAILURE_WINDOW: the failures counted
  int sign_in_max_delay_s = 900;       //!< PGWARDEN_SIGN_IN_MAX_DELAY: the back-off's ceiling
};

//! Outgoing mail. Without an SMTP URL messages are printed (pgwarden dev) or dropped with a warning (serve).
struct MailConfig {
  std::string smtp_url;        //!< PGWARDEN_SMTP_URL (smtp:// or smtps://); holds the password: never logged
  std::string smtp_ca_file;    //!< PGWARDEN_SMTP_CA_FILE: extra trust anchor (tests, private relays)
  bool console = false;        //!< PGWARDEN_MAIL_CONSOLE: print messages to stdout (set by `pgwarden dev`)
  std::string from;            //!< PGWARDEN_EMAIL_FROM; default "<app name> <no-reply@<base URL host>>"
  std::string templates_dir;   //!< PGWARDEN_EMAIL_TEMPLATES: folder of template overrides
};

//! The Data API's settings, named as PostgREST's (PGRST_*), also accepted as PGWARDEN_DATA_API_* where noted.
//! Defaults are Neon's inside `pgwarden serve` and PostgREST's in `pgwarden rest` (LoadRest).
struct DataApiSettings {
  bool enabled = true;
  std::vector<std::string> schemas{"public"};  //!< PGRST_DB_SCHEMAS
  std::vector<std::string> extra_search_path{"public"};  //!< PGRST_DB_EXTRA_SEARCH_PATH
  std::optional<std::string> anon_role = "anonymous";    //!< PGRST_DB_ANON_ROLE (nullopt = no anonymous access)
  std::optional<std::int64_t> max_rows = 1000; //!< PGRST_DB_MAX_ROWS (Neon's default)
  std::string jwt_secret;                      //!< PGRST_JWT_SECRET: HS256 secret, or a public JWK/JWKS ('{…}')
  bool jwt_secret_is_base64 = false;           //!< PGRST_JWT_SECRET_IS_BASE64
  //! PGWARDEN_DATA_API_JWKS_URLS: remote JWKS (https, or http on loopback), comma-separated.
  std::vector<std::string> jwks_urls;
  std::string jwt_aud;                         //!< PGRST_JWT_AUD
  std::vector<std::string> jwt_role_claim_path{"role"};  //!< PGRST_JWT_ROLE_CLAIM_KEY (".role")
  //! PGWARDEN_DATA_API_ROLES: the roles a JWT may select; empty = any (PostgREST). Neon mode: the two roles.
  std::vector<std::string> roles{"authenticated", "anonymous"};
  bool require_exp = true;                     //!< Neon mode refuses tokens without exp; PostgREST does not
  //! Neon mode's stricter token rules (JW-06, JW-10): with an audience configured a token must carry `aud`;
  //! `sub` must be a string; a header with `crit` is refused. PostgREST accepts all three.
  bool strict_jwt = true;
  //! PGWARDEN_DATA_API_MAX_EMBED_DEPTH: embedded resources nested deeper are a 400 (DA-08); 0 = the parser's
  //! own limit (64), as `pgwarden rest` (PostgREST has none).
  int max_embed_depth = 10;
  //! PGWARDEN_DATA_API_SAFE_UPDATE: PATCH/DELETE need a row filter (or Prefer: handling=strict, max-affected)
  //! as pg-safeupdate demands (DA-09). Off in `pgwarden rest`.
  bool safe_update = true;
  //! PGWARDEN_DATA_API_COUNT_ESTIMATES: `Prefer: count=planned|estimated` answered from the planner's estimate
  //! (PostgREST). Off in Neon mode: the estimate comes from table statistics, which count the rows RLS hides
  //! from the caller (DA-04), so those counts are made exactly, under RLS. On in `pgwarden rest`.
  bool count_estimates = false;
  //! "Perhaps you meant ..." hints only name tables/functions the request's role may use (EN-04). Off in
  //! `pgwarden rest` (PostgREST hints from the whole schema cache).
  bool hints_follow_privileges = true;
  //! DA-05: at start and on each reload, warn (dataapi.lint) about exposed objects that let API roles past row
  //! level security. Off in `pgwarden rest`: PostgREST's grant-only deployments would drown in warnings.
  bool lint = true;
  std::string pre_request;                     //!< PGRST_DB_PRE_REQUEST
  std::string tx_end = "commit";               //!< PGRST_DB_TX_END
  bool aggregates_enabled = false;             //!< PGRST_DB_AGGREGATES_ENABLED
  std::string openapi_mode = "follow-privileges";  //!< PGRST_OPENAPI_MODE
  std::string root_spec;                       //!< PGRST_DB_ROOT_SPEC
  std::map<std::string, std::string> app_settings;  //!< PGRST_APP_SETTINGS_<NAME> -> app.settings.<name>
  std::vector<std::string> cors_allowed_origins;     //!< PGRST_SERVER_CORS_ALLOWED_ORIGINS (empty = any)
  bool server_timing = false;                  //!< PGRST_SERVER_TIMING_ENABLED
  bool plan_enabled = false;                   //!< PGRST_DB_PLAN_ENABLED
  std::string trace_header;                    //!< PGRST_SERVER_TRACE_HEADER: echoed on the response
  bool openapi_security_active = false;        //!< PGRST_OPENAPI_SECURITY_ACTIVE
  std::string openapi_server_proxy_uri;        //!< PGRST_OPENAPI_SERVER_PROXY_URI
  int statement_timeout_ms = 10000;            //!< PGWARDEN_DATA_API_STATEMENT_TIMEOUT_MS (0 = the database's)
  int pool_per_thread = 4;                     //!< PGRST_DB_POOL is split across the io threads
};

struct Config {
  DbConfig db;
  DataApiSettings data_api;
  HttpConfig http;
  AuthConfig auth;
  MailConfig mail;
  OAuthConfig oauth;
  RateLimitConfig rate_limit;
  std::string log_level = "info";
};

struct LoadResult {
  Config config;
  std::vector<std::string> errors;  //!< empty = valid
};

//! `env` maps variable names to values (main passes the process environment; tests pass their own).
//! `require_database`: serve and migrate need DATABASE_URL; dev fills it itself.
LoadResult Load(const std::map<std::string, std::string>& env, bool require_database = true);
//! `pgwarden rest`: the Data API alone, configured only by PostgREST's settings (PGRST_DB_URI,
//! PGRST_SERVER_HOST/PORT, ...) with PostgREST's defaults. The auth settings are not read.
LoadResult LoadRest(const std::map<std::string, std::string>& env);
std::map<std::string, std::string> ProcessEnvironment();

//! The origin (scheme://host[:port]) of an absolute http(s) URL, lower-cased; nullopt if not one.
std::optional<std::string> OriginOf(std::string_view url);
//! The dbname of a libpq URI or key=value connection string.
std::string DatabaseNameOf(std::string_view conninfo);

}  // namespace pgwarden::config
