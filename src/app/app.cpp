#include "app/app.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <set>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unordered_set>
#include <iostream>
#include <thread>

#include "auth/error_page.hpp"
#include "auth/service.hpp"
#include "ratelimit/limiter.hpp"
#include "dataapi/jwks.hpp"
#include "dataapi/schema/lint.hpp"
#include "dataapi/service.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "crypto/encoding.hpp"
#include "crypto/jwk.hpp"
#include "crypto/random.hpp"
#include "db/local_cluster.hpp"
#include "db/migrate.hpp"
#include "core/text.hpp"
#include "http/server.hpp"
#include "mail/outbox.hpp"
#include "mail/sender.hpp"
#include "mail/smtp_sender.hpp"
#include "mail/templates.hpp"

namespace pgwarden::app {
namespace {
namespace bhttp = http::bhttp;
namespace asio = boost::asio;


// One password per line (john's password.lst format: lines starting with "#!comment:" are comments), kept
// lower-cased; entries under 4 bytes are skipped (they only matter as the base of a longer password, see
// AuthService::CheckPasswordLength). Null, logged, when the file cannot be read.
std::shared_ptr<const std::unordered_set<std::string>> LoadPasswordDenylist(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    log::Error("auth.password_denylist_unreadable",
               {{"path", path}, {"hint", "install Debian's john-data for PGWARDEN_PASSWORD_DENYLIST=common"}});
    return nullptr;
  }
  auto set = std::make_shared<std::unordered_set<std::string>>();
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() < 4 || StartsWith(line, "#!comment:")) continue;
    set->insert(AsciiLower(line));
  }
  const std::string n = std::to_string(set->size());
  log::Info("auth.password_denylist", {{"path", path}, {"entries", n}});
  return set;
}

log::Level ParseLevel(const std::string& s) {
  if (s == "debug") return log::Level::kDebug;
  if (s == "warn") return log::Level::kWarn;
  if (s == "error") return log::Level::kError;
  return log::Level::kInfo;
}

// How long in-flight requests may take to finish after SIGTERM (RF-03, decisions D39): longer than any request
// bounded by our own limits (pool 5 s + query 10 s; Data API statement_timeout + 1 s), and with the 10 s mail
// flush still inside Kubernetes' default 30 s grace period.
constexpr auto kDrainDeadline = std::chrono::seconds(20);

// Blocks SIGINT/SIGTERM in every thread (call before starting any) and waits for one on a dedicated thread.
class SignalWaiter {
 public:
  SignalWaiter() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);  // a closed terminal also stops cleanly
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  template <class F>
  void Start(F on_signal) {
    thread_ = std::thread([this, on_signal] {
      int sig = 0;
      sigwait(&set_, &sig);
      if (!done_) on_signal(sig);
    });
  }
  ~SignalWaiter() {
    done_ = true;
    if (thread_.joinable()) {
      pthread_kill(thread_.native_handle(), SIGTERM);
      thread_.join();
    }
  }

 private:
  sigset_t set_;
  std::thread thread_;
  std::atomic<bool> done_{false};
};

// Binds the server's port and logs where it listens (with one extra field); nullopt when binding failed.
std::optional<std::uint16_t> Listen(http::Server& server, const config::HttpConfig& h,
                                    std::pair<std::string, std::string> extra) {
  try {
    const std::uint16_t port = server.Listen();
    log::Info("http.listening", {{"address", h.host + ":" + std::to_string(port)}, {extra.first, extra.second}});
    return port;
  } catch (const std::exception& e) {
    log::Error("http.listen_failed", {{"address", h.host + ":" + std::to_string(h.port)}, {"error", e.what()}});
    return std::nullopt;
  }
}

http::ServerOptions ServerOptionsFrom(const config::HttpConfig& h) {
  http::ServerOptions opts;
  opts.host = h.host;
  opts.port = h.port;
  opts.threads = h.threads > 0 ? h.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  opts.max_body_bytes = h.max_body_bytes;
  opts.max_header_bytes = h.max_header_bytes;
  opts.idle_timeout_s = h.idle_timeout_s;
  opts.request_timeout_s = h.request_timeout_s;
  return opts;
}

dataapi::DataApiService::MediaHandlers LoadMediaHandlers(db::Connection& conn, const std::vector<std::string>& schemas) {
  auto rows = conn.QueryBlocking(dataapi::DataApiService::MediaHandlerQuery(), {db::TextArrayLiteral(schemas)});
  if (!rows) {
    log::Warn("dataapi.media_handlers_failed", {{"error", rows.error().message}});
    return {};
  }
  return dataapi::DataApiService::ParseMediaHandlers(*rows);
}

std::set<std::string> LoadTimezones(db::Connection& conn) {
  std::set<std::string> names;
  if (auto rows = conn.QueryBlocking("SELECT name FROM pg_catalog.pg_timezone_names", {}))
    for (int i = 0; i < rows->Size(); ++i) names.emplace(rows->Text(i, 0));
  return names;
}

// `own_kids`: the kids of pgwarden's own signing keys (their tokens never make the JWKS verifier refetch).
// `own_tokens`: the auth service whose keys the Data API trusts (serve): its tokens must name its issuer and
// audience (JW-06).
dataapi::DataApiConfig ToServiceConfig(const config::DataApiSettings& d, std::vector<std::string> own_kids = {},
                                       const config::AuthConfig* own_tokens = nullptr) {
  dataapi::DataApiConfig c;
  c.schemas = d.schemas;
  c.extra_search_path = d.extra_search_path;
  c.anon_role = d.anon_role;
  c.roles = d.roles;
  c.role_claim_path = d.jwt_role_claim_path;
  c.max_rows = d.max_rows;
  // PGRST_JWT_SECRET starting with '{' is a public JWK/JWKS (validated by config), never an HMAC key.
  const bool secret_is_jwk = !d.jwt_secret.empty() && d.jwt_secret.front() == '{';
  if (!d.jwt_secret.empty() && !secret_is_jwk) c.hs256_secret = d.jwt_secret;
  crypto::JwkSet static_keys;
  if (secret_is_jwk) {
    if (auto parsed = crypto::ParseJwkSet(d.jwt_secret)) {
      for (const auto& why : parsed->skipped) log::Warn("dataapi.jwt_secret_key_skipped", {{"reason", why}});
      static_keys = parsed->keys;
    }
  }
  if (!static_keys.Empty() || !d.jwks_urls.empty()) {
    dataapi::JwksOptions jwks_opts;
    jwks_opts.other_kids = std::move(own_kids);
    c.jwks = std::make_shared<const dataapi::JwksVerifier>(std::move(static_keys), d.jwks_urls, jwks_opts);
  }
  if (!d.jwt_aud.empty()) c.audience = d.jwt_aud;
  c.require_exp = d.require_exp;
  c.strict_jwt = d.strict_jwt;
  if (own_tokens) {
    c.own_issuer = own_tokens->jwt_issuer;
    c.own_audience = own_tokens->jwt_audience;
  }
  c.max_embed_depth = d.max_embed_depth;
  c.safe_update = d.safe_update;
  c.count_estimates = d.count_estimates;
  c.hints_follow_privileges = d.hints_follow_privileges;
  c.lint = d.lint;
  c.statement_timeout_ms = d.statement_timeout_ms;
  if (!d.pre_request.empty()) c.pre_request = d.pre_request;
  c.tx_end = d.tx_end == "commit-allow-override"     ? dataapi::TxEnd::kCommitAllowOverride
             : d.tx_end == "rollback"                ? dataapi::TxEnd::kRollback
             : d.tx_end == "rollback-allow-override" ? dataapi::TxEnd::kRollbackAllowOverride
                                                     : dataapi::TxEnd::kCommit;
  c.aggregates_enabled = d.aggregates_enabled;
  c.app_settings = d.app_settings;
  c.server_timing = d.server_timing;
  c.plan_enabled = d.plan_enabled;
  c.openapi_mode = d.openapi_mode;
  c.openapi_security_active = d.openapi_security_active;
  if (!d.openapi_server_proxy_uri.empty()) c.openapi_server_proxy_uri = d.openapi_server_proxy_uri;
  if (!d.root_spec.empty()) c.root_spec = d.root_spec;
  return c;
}

// What the Data API reads from the catalogs at start (blocking; reloads are asynchronous).
struct DataApiCatalog {
  std::shared_ptr<const dataapi::SchemaCache> schema;
  std::set<std::string> timezones;
  dataapi::DataApiService::MediaHandlers handlers;
};

std::optional<DataApiCatalog> LoadDataApiCatalog(db::Connection& conn, const config::DataApiSettings& d) {
  auto snapshot = dataapi::SchemaCache::Load(conn, d.schemas);
  if (!snapshot) {
    log::Error("dataapi.schema_failed", {{"error", snapshot.error().message}});
    return std::nullopt;
  }
  // DA-05: warn about the exposed objects that let API roles past row level security (schema/lint.hpp).
  if (d.lint) {
    const std::string lint_schemas = db::TextArrayLiteral(d.schemas);
    const std::string lint_roles = db::TextArrayLiteral(dataapi::LintRoles(d.roles, d.anon_role));
    if (auto lint = conn.QueryBlocking(dataapi::LintQuery(), {lint_schemas, lint_roles}))
      dataapi::LogLint(dataapi::ParseLint(*lint));
    else
      log::Warn("dataapi.lint_failed", {{"error", lint.error().message}});
  }
  return DataApiCatalog{*snapshot, LoadTimezones(conn), LoadMediaHandlers(conn, d.schemas)};
}

// The Data API on `server`'s io threads: its pools, the schema-reload listener and the JWKS fetcher.
std::unique_ptr<dataapi::DataApiService> StartDataApi(http::Server& server, const config::Config& cfg,
                                                      dataapi::DataApiConfig dcfg, dataapi::OwnKeyVerifier verify,
                                                      DataApiCatalog catalog) {
  std::vector<std::unique_ptr<db::Pool>> pools;
  // Just above the per-request statement_timeout: fires only when the database stopped answering (D39).
  const int timeout_ms = cfg.data_api.statement_timeout_ms;
  const std::chrono::milliseconds query_timeout(timeout_ms > 0 ? timeout_ms + 1000 : 0);
  for (int i = 0; i < server.Workers(); ++i)
    pools.push_back(std::make_unique<db::Pool>(server.Executor(i), cfg.db.url, cfg.data_api.pool_per_thread,
                                               std::chrono::seconds(5), query_timeout));
  auto jwks = dcfg.jwks;
  auto api = std::make_unique<dataapi::DataApiService>(std::move(dcfg), std::move(verify), catalog.schema,
                                                       std::move(pools));
  api->SetTimezones(std::move(catalog.timezones));
  api->SetMediaHandlers(std::move(catalog.handlers));
  // Arguments as named lvalues: g++ 12 mishandles class-type prvalues passed to coroutines (decisions D11).
  auto listen_ex = server.Executor(0);
  asio::co_spawn(listen_ex, api->ListenForReloads(listen_ex, cfg.db.url), asio::detached);
  if (jwks) jwks->Start(listen_ex);  // first JWKS fetch, then one per TTL
  return api;
}

// PostgREST's CORS (wai-cors as PostgREST configures it): any origin unless a list is configured, no
// credentials, a fixed method list and the requested headers echoed after Authorization.
void ApplyRestCors(const config::DataApiSettings& d, const http::Request& req, http::Response& res) {
  const auto origin = req.Header(bhttp::field::origin);
  if (!d.cors_allowed_origins.empty()) {
    if (origin.empty()) return;
    if (std::find(d.cors_allowed_origins.begin(), d.cors_allowed_origins.end(), origin) == d.cors_allowed_origins.end())
      return;
    res.set(bhttp::field::access_control_allow_origin, origin);
    res.set(bhttp::field::vary, "Origin");
  } else {
    res.set(bhttp::field::access_control_allow_origin, "*");
  }
  res.set(bhttp::field::access_control_expose_headers,
          "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, "
          "Transfer-Encoding, Range-Unit");
}

http::Response RestPreflight(const config::DataApiSettings& d, const http::Request& req) {
  auto res = http::MakeResponse(req, bhttp::status::ok);
  ApplyRestCors(d, req, res);
  res.erase(bhttp::field::access_control_expose_headers);
  if (res.find(bhttp::field::access_control_allow_origin) == res.end()) return res;
  res.set(bhttp::field::access_control_allow_methods, "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD");
  std::string headers = "Authorization";
  for (auto h : Split(req.Header(bhttp::field::access_control_request_headers), ',')) {
    h = Trim(h);
    if (!h.empty() && !IEquals(h, "authorization")) headers += ", " + std::string(h);
  }
  headers += ", Accept, Accept-Language, Content-Language";
  res.set(bhttp::field::access_control_allow_headers, headers);
  res.set(bhttp::field::access_control_max_age, "86400");
  return res;
}

http::Response InvalidPath(const http::Request& req) {
  auto res = http::MakeResponse(
      req, bhttp::status::not_found,
      "{\"code\":\"PGRST125\",\"details\":null,\"hint\":null,\"message\":\"Invalid path specified in request URL\"}",
      "application/json; charset=utf-8");
  res.set("proxy-status", "PostgREST; error=PGRST125");
  return res;
}

// The Data API below its root: "" (root), "<relation>", "rpc/<function>"; anything else is PGRST125.
asio::awaitable<http::Response> DispatchRest(dataapi::DataApiService& api, http::Request& req, std::string_view sub) {
  // A token naming a kid no cached JWKS has: refresh the remote sets first (rate-limited, bounded wait).
  if (const auto& jwks = api.Config().jwks; jwks && jwks->HasUrls()) {
    const std::string_view token = dataapi::BearerToken(req.Header(bhttp::field::authorization));
    if (!token.empty()) {
      auto ex = co_await asio::this_coro::executor;
      co_await jwks->Prefetch(ex, token);
    }
  }
  auto decoded = PercentDecode(sub);
  if (!decoded) {
    co_return InvalidPath(req);
  }
  std::string path = std::move(*decoded);
  if (path.rfind("rpc/", 0) == 0 && path.find('/', 4) == std::string::npos && path.size() > 4) {
    std::string fn = path.substr(4);
    auto res = co_await api.HandleRpc(req, std::move(fn));
    co_return res;
  }
  if (path.empty()) {
    auto res = co_await api.HandleRoot(req);
    co_return res;
  }
  if (path.find('/') != std::string::npos) {
    co_return InvalidPath(req);
  }
  auto res = co_await api.Handle(req, std::move(path));
  co_return res;
}

}  // namespace

int Migrate(const config::Config& cfg) {
  log::SetLevel(ParseLevel(cfg.log_level));
  auto conn = db::Connection::ConnectBlocking(cfg.db.url);
  if (!conn) {
    log::Error("db.connect_failed", {{"error", conn.error().message}});
    return 1;
  }
  auto applied = db::Migrate(**conn);
  if (!applied) {
    log::Error("db.migrate_failed", {{"error", applied.error().message}});
    return 1;
  }
  log::Info("db.migrations_done", {{"applied", std::to_string(*applied)}});
  return 0;
}

// The mail transport: SMTP when PGWARDEN_SMTP_URL is set, the console in `pgwarden dev`, else none (flows still
// answer; each dropped message is a warning). nullopt = a configuration error (already logged).
namespace {
std::optional<std::shared_ptr<auth::Mailer>> MakeMailer(const config::Config& cfg) {
  mail::Templates templates;
  if (!cfg.mail.templates_dir.empty()) {
    auto loaded = mail::Templates::Load(cfg.mail.templates_dir);
    if (!loaded) {
      log::Error("mail.templates_invalid", {{"error", std::string(loaded.error().Message())}});
      return std::nullopt;
    }
    templates = std::move(*loaded);
  }
  if (auto from = mail::ParseMailbox(cfg.mail.from); !from) {
    log::Error("mail.from_invalid", {{"error", std::string(from.error().Message())}});
    return std::nullopt;
  }
  std::unique_ptr<mail::Sender> sender;
  if (!cfg.mail.smtp_url.empty()) {
    auto settings = mail::ParseSmtpUrl(cfg.mail.smtp_url);
    if (!settings) {
      log::Error("mail.smtp_url_invalid", {{"error", std::string(settings.error().Message())}});
      return std::nullopt;
    }
    settings->ca_file = cfg.mail.smtp_ca_file;
    log::Info("mail.transport", {{"kind", "smtp"}, {"host", settings->host}, {"port", std::to_string(settings->port)}});
    sender = std::make_unique<mail::SmtpSender>(std::move(*settings));
  } else if (cfg.mail.console) {
    log::Info("mail.transport", {{"kind", "console"}});
    sender = std::make_unique<mail::ConsoleSender>();
  } else {
    log::Warn("mail.transport", {{"kind", "none"}, {"hint", "set PGWARDEN_SMTP_URL to send e-mail"}});
  }
  std::unique_ptr<mail::Outbox> outbox;
  if (sender) outbox = std::make_unique<mail::Outbox>(std::move(sender));
  return std::make_shared<auth::Mailer>(std::move(outbox), std::move(templates), cfg.mail.from, cfg.auth.app_name);
}
}  // namespace

int Serve(const config::Config& cfg, const std::function<void(std::uint16_t)>& banner) {
  log::SetLevel(ParseLevel(cfg.log_level));
  SignalWaiter signals;

  std::shared_ptr<const auth::KeyRing> keys;
  std::optional<DataApiCatalog> catalog;
  {
    auto conn = db::Connection::ConnectBlocking(cfg.db.url);
    if (!conn) {
      log::Error("db.connect_failed", {{"error", conn.error().message}});
      return 1;
    }
    auto applied = db::Migrate(**conn);
    if (!applied) {
      log::Error("db.migrate_failed", {{"error", applied.error().message}});
      return 1;
    }
    auto ring = auth::KeyRing::LoadOrCreate(**conn, cfg.auth.secret);
    if (!ring) {
      log::Error("auth.keys_failed", {{"error", ring.error().message}});
      return 1;
    }
    keys = *ring;
    if (cfg.data_api.enabled) {
      catalog = LoadDataApiCatalog(**conn, cfg.data_api);
      if (!catalog) return 1;
    }
  }

  http::ServerOptions opts = ServerOptionsFrom(cfg.http);
  if (StartsWith(cfg.auth.base_url, "https://")) opts.hsts = "max-age=31536000; includeSubDomains";
  // Cookies without Secure travel in clear text on any http hop (SE-02): fine on localhost, not in production.
  {
    const bool local = StartsWith(cfg.auth.base_url, "http://localhost") || StartsWith(cfg.auth.base_url, "http://127.0.0.1");
    if (!local && (!cfg.auth.secure_cookies || StartsWith(cfg.auth.base_url, "http://")))
      log::Warn("auth.insecure_cookies", {{"base_url", cfg.auth.base_url},
                                          {"secure_cookies", cfg.auth.secure_cookies ? "true" : "false"},
                                          {"hint", "serve over https with PGWARDEN_SECURE_COOKIES=true in production"}});
  }
  // Declared before the service and its pools but destroyed explicitly after Run(): suspended request
  // coroutines die with the io_contexts and release their leases into still-living (closed) pools.
  auto server_ptr = std::make_unique<http::Server>(opts);
  http::Server& server = *server_ptr;

  std::vector<std::unique_ptr<db::Pool>> pools;
  for (int i = 0; i < server.Workers(); ++i)
    // Auth statements take milliseconds: 10 s without an answer means the database is gone (RF-01, D39).
    pools.push_back(std::make_unique<db::Pool>(server.Executor(i), cfg.db.url, cfg.db.pool_per_thread,
                                               std::chrono::seconds(5), std::chrono::seconds(10)));
  std::vector<db::Pool*> health_pools;
  for (auto& p : pools) health_pools.push_back(p.get());

  auto mailer = MakeMailer(cfg);
  if (!mailer) return 1;
  std::shared_ptr<auth::oauth::Runtime> oauth;
  if (!cfg.oauth.providers.empty()) {
    try {
      oauth = std::make_shared<auth::oauth::Runtime>(auth::oauth::ProvidersFrom(cfg.oauth), cfg.oauth);
    } catch (const std::exception& e) {
      log::Error("oauth.config_invalid", {{"error", e.what()}});
      return 1;
    }
    for (const auto& p : cfg.oauth.providers) log::Info("oauth.provider", {{"id", p.id}});
  }
  // Request limits (D37): shared counters in Postgres unless PGWARDEN_RATE_LIMIT_STORAGE=memory.
  std::unique_ptr<ratelimit::Limiter> limiter;
  if (cfg.rate_limit.enabled) {
    std::unique_ptr<ratelimit::Store> store;
    if (cfg.rate_limit.memory) store = std::make_unique<ratelimit::MemoryStore>(ratelimit::MaxWindow(cfg.rate_limit));
    else store = std::make_unique<ratelimit::DatabaseStore>(health_pools, ratelimit::MaxWindow(cfg.rate_limit));
    limiter = std::make_unique<ratelimit::Limiter>(cfg.rate_limit, std::move(store));
  } else {
    log::Warn("rate_limit.off", {{"setting", "PGWARDEN_RATE_LIMIT"}});
  }
  auth::AuthService auth_service(cfg.auth, keys, std::move(pools), std::move(*mailer), std::move(oauth));
  auth_service.SetLimiter(limiter.get());
  if (!cfg.auth.password_denylist.empty()) {
    auto list = LoadPasswordDenylist(cfg.auth.password_denylist);
    if (!list) return 1;
    auth_service.SetPasswordDenylist(std::move(list));
  }

  std::unique_ptr<dataapi::DataApiService> data_api;
  if (catalog) {
    std::vector<std::string> own_kids;
    if (auto own = crypto::ParseJwkSet(keys->JwksJson()))
      for (const auto& k : own->keys.Keys()) own_kids.push_back(k.kid);
    data_api = StartDataApi(server, cfg, ToServiceConfig(cfg.data_api, std::move(own_kids), &cfg.auth),
                            [keys](std::string_view token) { return keys->Verify(token); }, std::move(*catalog));
  }
  http::Router router;
  const std::string auth_prefix = "/" + cfg.db.database_name + "/auth";
  auth_service.RegisterRoutes(router, auth_prefix);

  // The site root shows the sign-in error page that <auth>/error redirects to (D33); anything else there is a 404.
  router.Add(bhttp::verb::get, "/", [](http::Request& req) -> asio::awaitable<http::Response> {
    const auto code = req.Query("error");
    if (!code) co_return http::MakeResponse(req, bhttp::status::not_found);
    auto res = http::MakeResponse(req, bhttp::status::ok,
                                  auth::RenderErrorPage(*code, req.Query("error_description").value_or("")),
                                  "text/html; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.set("Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    co_return res;
  });

  std::atomic<bool> draining{false};
  router.Add(bhttp::verb::get, "/health/live", [](http::Request& req) -> asio::awaitable<http::Response> {
    co_return http::MakeResponse(req, bhttp::status::ok, "{\"status\":\"ok\"}", "application/json");
  });
  router.Add(bhttp::verb::get, "/health/ready",
             [&health_pools, &draining](http::Request& req) -> asio::awaitable<http::Response> {
               bool ready = !draining.load();
               if (ready) {
                 auto lease = co_await health_pools[static_cast<size_t>(req.worker)]->Acquire();
                 ready = lease && (co_await (*lease)->Query("SELECT 1")).has_value();
               }
               auto res = http::MakeResponse(req, ready ? bhttp::status::ok : bhttp::status::service_unavailable,
                                             ready ? "{\"status\":\"ready\"}" : "{\"status\":\"unavailable\"}",
                                             "application/json");
               if (!ready) res.set(bhttp::field::retry_after, "5");
               co_return res;
             });

  const auto& cors = auth_service.Cors();
  const std::string rest_prefix = "/" + cfg.db.database_name + "/rest/v1/";
  // The Data API is called without credentials: any origin may read the answers (sdk-contract §6, CORS).
  http::CorsPolicy rest_cors;
  rest_cors.any_origin = true;
  rest_cors.credentials = false;
  rest_cors.allow_methods = "GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS";
  rest_cors.allow_headers =
      "authorization, content-type, prefer, accept, accept-profile, content-profile, x-neon-client-info, "
      "x-client-info, range";
  rest_cors.expose_headers = "Content-Range, Content-Location, Location, Preference-Applied";
  // PGRST_SERVER_CORS_ALLOWED_ORIGINS narrows the Data API's CORS to a list, as in `pgwarden rest`.
  const config::DataApiSettings& rest_settings = cfg.data_api;
  const bool rest_origin_list = !rest_settings.cors_allowed_origins.empty();
  http::Handler handler = [&router, &cors, &rest_cors, &data_api, &rest_settings, rest_origin_list, auth_prefix,
                            rest_prefix, &limiter, &auth_service](http::Request& req) -> asio::awaitable<http::Response> {
    const bool is_auth = req.path.size() > auth_prefix.size() && req.path.substr(0, auth_prefix.size()) == auth_prefix &&
                         req.path[auth_prefix.size()] == '/';
    const bool is_rest = req.path.substr(0, rest_prefix.size()) == rest_prefix;
    if (req.raw.method() == bhttp::verb::options && is_auth) co_return http::Preflight(cors, req);
    if (is_auth && limiter) {
      // Before routing, on the path as received (RL-03: a variant the router does not know is its own bucket
      // and then a 404; it never shares a route with a fresh counter).
      const std::string_view sub = std::string_view(req.path).substr(auth_prefix.size());
      const std::string_view xff = req.Header("x-forwarded-for");
      const ratelimit::Decision d = co_await limiter->Check(req.worker, sub, req.remote_ip, xff);
      if (!d.allowed) {
        http::Response res = auth_service.TooManyRequests(req, d.retry_after_s);
        http::ApplyCors(cors, req, res);
        co_return res;
      }
    }
    if (req.raw.method() == bhttp::verb::options && is_rest &&
        !req.Header(bhttp::field::access_control_request_method).empty()) {
      co_return rest_origin_list ? RestPreflight(rest_settings, req) : http::Preflight(rest_cors, req);
    }
    if (is_rest && data_api) {
      const std::string_view sub = req.path.substr(rest_prefix.size());
      http::Response res = co_await DispatchRest(*data_api, req, sub);
      if (rest_origin_list) ApplyRestCors(rest_settings, req, res);
      else http::ApplyCors(rest_cors, req, res);
      co_return res;
    }
    const http::Handler* h = router.Find(req.raw.method(), req.path, req.params);
    if (!h) {
      // Unknown path or method: 404 with an empty body, as Better Auth.
      auto res = http::MakeResponse(req, bhttp::status::not_found);
      if (is_auth) http::ApplyCors(cors, req, res);
      co_return res;
    }
    auto res = co_await (*h)(req);
    if (is_auth) {
      http::ApplyCors(cors, req, res);
      // Auth answers may carry or follow links with secrets in the URL: never leak them as a Referer (CS-07).
      if (res.find("Referrer-Policy") == res.end()) res.set("Referrer-Policy", "no-referrer");
    }
    co_return res;
  };

  const auto port = Listen(server, cfg.http, {"auth", auth_prefix});
  if (!port) return 1;
  if (banner) banner(*port);
  signals.Start([&server, &draining](int sig) {
    log::Info("server.stopping", {{"signal", sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM"}});
    draining = true;
    server.Stop(kDrainDeadline);
  });
  server.Run(std::move(handler));
  auth_service.StopMail(std::chrono::seconds(10));  // queued mail gets a last chance, bounded
  auth_service.Shutdown();
  if (data_api) data_api->Shutdown();
  server_ptr.reset();
  log::Info("server.stopped");
  return 0;
}

int ServeRest(const config::Config& cfg, const std::function<void(std::uint16_t)>& banner) {
  log::SetLevel(ParseLevel(cfg.log_level));
  SignalWaiter signals;
  std::optional<DataApiCatalog> catalog;
  {
    // The database is the user's: nothing is migrated or created; only the catalogs are read.
    auto conn = db::Connection::ConnectBlocking(cfg.db.url);
    if (!conn) {
      log::Error("db.connect_failed", {{"error", conn.error().message}});
      return 1;
    }
    catalog = LoadDataApiCatalog(**conn, cfg.data_api);
    if (!catalog) return 1;
  }
  auto server_ptr = std::make_unique<http::Server>(ServerOptionsFrom(cfg.http));
  http::Server& server = *server_ptr;
  dataapi::DataApiConfig dcfg = ToServiceConfig(cfg.data_api);
  dcfg.server_host = cfg.http.host;
  dcfg.server_port = cfg.http.port;
  auto data_api = StartDataApi(server, cfg, std::move(dcfg), dataapi::OwnKeyVerifier{}, std::move(*catalog));

  const config::DataApiSettings& settings = cfg.data_api;
  http::Handler handler = [&data_api, &settings](http::Request& req) -> asio::awaitable<http::Response> {
    if (req.raw.method() == bhttp::verb::options &&
        !req.Header(bhttp::field::access_control_request_method).empty()) {
      co_return RestPreflight(settings, req);
    }
    if (req.path.empty() || req.path.front() != '/') {
      co_return http::MakeResponse(req, bhttp::status::not_found);
    }
    http::Response res = co_await DispatchRest(*data_api, req, req.path.substr(1));
    ApplyRestCors(settings, req, res);
    if (!settings.trace_header.empty()) {
      if (const auto it = req.raw.find(settings.trace_header); it != req.raw.end())
        res.set(settings.trace_header, it->value());
    }
    co_return res;
  };
  const auto port = Listen(server, cfg.http, {"mode", "rest"});
  if (!port) return 1;
  if (banner) banner(*port);
  signals.Start([&server](int sig) {
    log::Info("server.stopping", {{"signal", sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM"}});
    server.Stop(kDrainDeadline);
  });
  server.Run(std::move(handler));
  data_api->Shutdown();
  server_ptr.reset();
  log::Info("server.stopped");
  return 0;
}

int Dev(std::map<std::string, std::string> env, const std::string& state_dir) {
  namespace fs = std::filesystem;
  const std::string dbname = env.count("PGWARDEN_DB_NAME") ? env["PGWARDEN_DB_NAME"] : "neondb";
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  auto cluster = db::EnsureLocalCluster(state_dir, dbname);
  if (!cluster) {
    std::fprintf(stderr, "pgwarden dev: %s\n", std::string(cluster.error().Message()).c_str());
    return 1;
  }
  // The secret is created once and kept (mode 0600): cookies and sealed keys survive restarts.
  const std::string secret_file = state_dir + "/secret";
  std::string secret;
  if (std::ifstream in(secret_file); in) std::getline(in, secret);
  if (secret.size() < 32) {
    secret = crypto::HexEncode(crypto::RandomBytes(32));
    std::ofstream(secret_file) << secret << "\n";
    ::chmod(secret_file.c_str(), 0600);
  }
  if (!env.count("DATABASE_URL")) env["DATABASE_URL"] = cluster->ConnInfo(dbname);
  if (!env.count("PGWARDEN_SECRET") && !env.count("BETTER_AUTH_SECRET")) env["PGWARDEN_SECRET"] = secret;
  if (!env.count("PGWARDEN_LISTEN")) env["PGWARDEN_LISTEN"] = "127.0.0.1:3000";
  if (!env.count("PGWARDEN_DB_NAME")) env["PGWARDEN_DB_NAME"] = dbname;
  // Without SMTP the messages (verification links, codes) are printed here, for local development.
  if (!env.count("PGWARDEN_SMTP_URL") && !env.count("PGWARDEN_MAIL_CONSOLE")) env["PGWARDEN_MAIL_CONSOLE"] = "true";
  // As Better Auth outside production: no request limits while developing.
  if (!env.count("PGWARDEN_RATE_LIMIT")) env["PGWARDEN_RATE_LIMIT"] = "off";
  auto loaded = config::Load(env);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "config: %s\n", e.c_str());
    return 2;
  }
  const auto& cfg = loaded.config;
  const int rc = Serve(cfg, [&](std::uint16_t port) {
    const std::string base = "http://localhost:" + std::to_string(port);
    std::printf(
        "\n  pgwarden is running\n\n"
        "  Auth URL:      %s/%s/auth\n"
        "  Data API URL:  %s/%s/rest/v1   (tables of schema public; NOTIFY pgrst, 'reload schema' after DDL)\n"
        "  JWKS:          %s/%s/auth/.well-known/jwks.json\n"
        "  Postgres:      psql \"host=%s port=%d dbname=%s user=postgres\"\n"
        "  E-mail:        %s\n\n"
        "  Try it:\n"
        "    curl -s -X POST %s/%s/auth/sign-up/email -H 'content-type: application/json' \\\n"
        "         -d '{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"password\":\"correct-horse-1\"}'\n\n"
        "  Ctrl-C stops the server and Postgres.\n\n",
        base.c_str(), cfg.db.database_name.c_str(), base.c_str(), cfg.db.database_name.c_str(), base.c_str(),
        cfg.db.database_name.c_str(), cluster->socket_dir.c_str(), cluster->port, dbname.c_str(),
        cfg.mail.smtp_url.empty() ? "printed below (verification links, codes); set PGWARDEN_SMTP_URL to send"
                                  : "sent through PGWARDEN_SMTP_URL",
        base.c_str(),
        cfg.db.database_name.c_str());
    std::fflush(stdout);
  });
  if (auto stopped = db::StopLocalCluster(*cluster); !stopped)
    std::fprintf(stderr, "pgwarden dev: %s\n", std::string(stopped.error().Message()).c_str());
  return rc;
}

}  // namespace pgwarden::app
