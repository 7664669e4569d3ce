//! The Data API: PostgREST-compatible REST over the user's tables, at /<db>/rest/v1/ inside `pgwarden serve` or
//! at the root of `pgwarden rest` (a PostgREST drop-in). Per request: verify the Bearer JWT -> parse
//! (request/) -> SQL against the schema snapshot (sql/) -> one pipelined round trip on this worker's pool:
//! set_config(role, request.jwt.claims, …), the pre-request function, the main statement and the response
//! GUCs, in one transaction, so RLS policies see auth.uid(). Nothing outlives the transaction.
//!
//! service.cpp holds the shared steps (Prepare, Execute, Finish) and the relation handler; rpc_service.cpp
//! the /rpc/<function> handler.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"
#include "dataapi/schema/schema_cache.hpp"
#include "dataapi/sql/builder.hpp"
#include "db/pool.hpp"
#include "http/request.hpp"

namespace pgwarden::dataapi {

class JwksVerifier;

//! PostgREST's db-tx-end.
enum class TxEnd { kCommit, kCommitAllowOverride, kRollback, kRollbackAllowOverride };

struct DataApiConfig {
  std::vector<std::string> schemas{"public"};
  std::vector<std::string> extra_search_path{"public"};  //!< db-extra-search-path
  std::optional<std::string> anon_role = "anonymous";    //!< nullopt: no token -> 401 PGRST302
  //! The only roles a JWT may select; empty = any role the connection role may SET ROLE to (PostgREST).
  std::vector<std::string> roles{"authenticated", "anonymous"};
  std::vector<std::string> role_claim_path{"role"};  //!< jwt-role-claim-key ".role"
  std::optional<std::int64_t> max_rows = 1000;
  std::optional<std::string> audience;  //!< PGRST_JWT_AUD: when set, `aud` must contain it (not for own tokens)
  //! Tokens verified by the service's own keys (OwnKeyVerifier) must carry `iss` equal to own_issuer and an
  //! `aud` containing own_audience (the auth service's PGWARDEN_JWT_ISSUER / _AUDIENCE; JW-06).
  std::optional<std::string> own_issuer;
  std::optional<std::string> own_audience;
  //! Neon mode (JW-06, JW-10): `aud` required when an audience applies, `sub` a string, no `crit` header.
  bool strict_jwt = true;
  std::optional<std::string> hs256_secret;  //!< key bytes (never a JWK's JSON text: that goes to `jwks`)
  //! Asymmetric keys: PGRST_JWT_SECRET as a JWK/JWKS and remote JWKS URLs (jwks.hpp); null = none.
  std::shared_ptr<const JwksVerifier> jwks;
  bool require_exp = true;  //!< Neon mode: a token without exp is refused (JW-05); PostgREST accepts it
  int clock_skew_s = 30;
  int statement_timeout_ms = 10000;  //!< 0: the database's own setting
  std::optional<std::string> pre_request;  //!< db-pre-request: a function name, maybe schema-qualified
  TxEnd tx_end = TxEnd::kCommit;
  bool aggregates_enabled = false;
  int max_embed_depth = 10;  //!< DA-08: deeper embedding is PGRST100; 0 = the grammar's own limit
  bool safe_update = true;   //!< DA-09: PATCH/DELETE without a row filter -> 400 21000 (pg-safeupdate's answer)
  //! DA-04: count=planned|estimated from the planner (PostgREST); false: counted exactly, under RLS (Neon mode:
  //! the planner's statistics include the rows RLS hides).
  bool count_estimates = false;
  bool hints_follow_privileges = true;  //!< EN-04: fuzzy hints only name objects the role may use
  bool lint = true;  //!< DA-05: dataapi.lint warnings on every schema reload (schema/lint.hpp)
  std::map<std::string, std::string> app_settings;  //!< app.settings.* GUCs, set in every transaction
  bool server_timing = false;
  bool plan_enabled = false;  //!< db-plan-enabled: Accept: application/vnd.pgrst.plan answers EXPLAIN output
  std::string openapi_mode = "follow-privileges";  //!< follow-privileges | ignore-privileges | disabled
  std::optional<std::string> root_spec;             //!< db-root-spec: a function answering GET /
  bool openapi_security_active = false;                  //!< openapi-security-active: JWT security definitions
  std::optional<std::string> openapi_server_proxy_uri;  //!< openapi-server-proxy-uri: host/basePath/scheme shown
  std::string server_host = "!4";                        //!< server-host, as the OpenAPI document shows it
  std::int64_t server_port = 3000;                       //!< server-port, as the OpenAPI document shows it
};

//! Verifies a compact JWS with the service's own keys; returns the payload JSON.
using OwnKeyVerifier = std::function<std::optional<std::string>(std::string_view token)>;

class DataApiService {
 public:
  DataApiService(DataApiConfig cfg, OwnKeyVerifier verify, std::shared_ptr<const SchemaCache> schema,
                 std::vector<std::unique_ptr<db::Pool>> pools);
  //! `resource` is the path segment after the API root (a relation name).
  boost::asio::awaitable<http::Response> Handle(http::Request& req, std::string resource);
  //! The API root: the OpenAPI document, or db-root-spec's function (openapi.cpp).
  boost::asio::awaitable<http::Response> HandleRoot(http::Request& req);
  //! /rpc/<function> (rpc_service.cpp).
  boost::asio::awaitable<http::Response> HandleRpc(http::Request& req, std::string function);
  void Shutdown() {
    stopping_ = true;
    for (auto& p : pools_) p->Close();
  }
  //! Keeps a LISTEN pgrst connection and swaps in a fresh schema snapshot on NOTIFY pgrst, 'reload schema'
  //! (or an empty payload, as PostgREST). Reconnects with backoff. Run once, on one io thread.
  boost::asio::awaitable<void> ListenForReloads(boost::asio::any_io_executor ex, std::string conninfo);
  const DataApiConfig& Config() const { return cfg_; }
  //! The zone names Postgres knows (pg_timezone_names), for Prefer: timezone=. Set once before serving.
  void SetTimezones(std::set<std::string> names) { timezones_ = std::move(names); }

  //! A custom media type handler: an aggregate over a relation's rows (or anyelement) returning a domain named
  //! after the media type (PostgREST's media handlers), e.g. `twkb_agg(lines) RETURNS "application/vnd.twkb"`.
  struct MediaHandler {
    std::string aggregate;  //!< quoted "schema"."name"
    bool binary = false;    //!< the domain is over bytea: the body travels base64-encoded
    bool jsonb = false;     //!< the domain is over jsonb (sent in Postgres' binary form, as PostgREST)
  };
  //! Key: ("schema.relation" or "" for anyelement, media type as written in the domain name).
  using MediaHandlers = std::map<std::pair<std::string, std::string>, MediaHandler>;
  //! The catalog query for the handlers ($1: the exposed schemas as a text[] literal) and its parser.
  static const char* MediaHandlerQuery();
  static MediaHandlers ParseMediaHandlers(const db::Rows& rows);
  //! The body aggregate of a handler over `_postgrest_t` (base64 text when the domain is binary or jsonb).
  static std::string HandlerBodySql(const MediaHandler& h);
  //! The bytes of a body that HandlerBodySql sent base64-encoded.
  static std::string DecodeHandlerBody(std::string_view base64_text);
  void SetMediaHandlers(MediaHandlers h) { media_handlers_.store(std::make_shared<const MediaHandlers>(std::move(h))); }

 private:
  struct Identity {
    std::string role;
    std::string claims_json;
    bool anonymous = true;
  };
  //! Everything known before the database is asked: who, what, against which snapshot and schema.
  struct Prepared {
    Identity identity;
    ApiRequest api;
    Verb verb = Verb::kGet;
    std::shared_ptr<const SchemaCache> snapshot;
    std::string schema;  //!< the target schema (profile or the first exposed one)
    std::optional<ApiError> strict_error;  //!< PGRST122 (handling=strict), raised where PostgREST raises it
    //! Server-Timing: microseconds of each phase, filled in by Prepare, Execute and Finish.
    struct Timing {
      std::chrono::steady_clock::time_point start, prepared, exec_start;
      double jwt_us = 0, parse_us = 0, plan_us = 0, tx_us = 0;
    };
    mutable Timing timing;
  };
  struct ExecOptions {
    bool read_only = true;  //!< GET/HEAD (and stable/immutable functions): transaction_read_only
    bool singular = false;  //!< application/vnd.pgrst.object+json: exactly one row or PGRST116
    std::optional<std::int64_t> max_affected;  //!< Prefer: handling=strict, max-affected=N
    //! A function's `SET default_transaction_isolation` (read committed, repeatable read, serializable).
    std::optional<std::string> isolation;
    //! application/vnd.pgrst.plan: run `EXPLAIN (<this>) <main statement>` instead and answer its output; the
    //! transaction is always rolled back (EXPLAIN ANALYZE executes writes).
    std::optional<std::string> explain;
    bool explain_text = false;  //!< FORMAT TEXT: the body is the plan's lines
  };
  struct Outcome {
    std::optional<std::int64_t> total;  //!< total_result_set (count=exact)
    std::int64_t page = 0;              //!< page_total
    std::string body;
    std::optional<std::string> response_headers;  //!< the response.headers GUC (JSON array of objects)
    std::optional<std::string> response_status;   //!< the response.status GUC
    bool rolled_back = false;
    bool tx_applied = false;  //!< a Prefer: tx was honoured (Preference-Applied)
    //! response_inserted of a write (merge-duplicates upserts and PUT): rows inserted rather than updated.
    std::optional<std::int64_t> inserted;
    //! Prefer: resolution was used (the table has a primary key or on_conflict= was given).
    bool resolution_applied = true;
  };

  ApiResult<Identity> Authenticate(const http::Request& req) const;
  ApiResult<Prepared> Prepare(http::Request& req, bool rpc) const;
  boost::asio::awaitable<ApiResult<Outcome>> Execute(http::Request& req, const Prepared& p, const Statement& stmt,
                                                     ExecOptions opts);
  //! Applies response.headers / response.status, Preference-Applied, Content-Profile, CORS-independent headers.
  ApiResult<http::Response> Finish(const http::Request& req, const Prepared& p, const Outcome& o,
                                   http::Response res) const;
  http::Response Error(const http::Request& req, const ApiError& e) const;
  //! PGRST205 with PostgREST's "Perhaps you meant the table ..." hint, chosen among `candidates`.
  ApiError TableNotFound(const Prepared& p, std::string_view resource,
                         const std::vector<std::string>& candidates) const;
  //! PGRST205 for `resource`; with hints_follow_privileges the hint only names a relation the role may use.
  boost::asio::awaitable<ApiError> TableNotFoundFor(http::Request& req, const Prepared& p, const std::string& resource);
  //! The names of `names` (relations, or functions with `functions`) in `schema` that `role` may use: USAGE on
  //! the schema and any table/column privilege (EXECUTE for functions). Empty when the database cannot tell.
  boost::asio::awaitable<std::vector<std::string>> UsableNames(http::Request& req, const std::string& role,
                                                               const std::string& schema,
                                                               const std::vector<std::string>& names, bool functions);
  BuildContext Context(const Prepared& p) const;
  //! EXPLAIN's option list for an application/vnd.pgrst.plan media type ("FORMAT JSON, ANALYZE").
  static std::string ExplainOptions(const MediaType& m);

  DataApiConfig cfg_;
  OwnKeyVerifier verify_;
  std::atomic<std::shared_ptr<const SchemaCache>> schema_;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<db::Pool>> pools_;
  std::set<std::string> timezones_;
  std::atomic<std::shared_ptr<const MediaHandlers>> media_handlers_{std::make_shared<const MediaHandlers>()};
};

}  // namespace pgwarden::dataapi
