#include "dataapi/service.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "crypto/encoding.hpp"
#include "crypto/jwt.hpp"
#include "dataapi/jwks.hpp"
#include "dataapi/jwt_claims.hpp"
#include "dataapi/request/media_type.hpp"
#include "dataapi/request/preferences.hpp"
#include "dataapi/request/safe_update.hpp"
#include "dataapi/schema/lint.hpp"
#include "dataapi/sql/fuzzy.hpp"
#include "dataapi/request/query_params.hpp"

namespace pgwarden::dataapi {
namespace bhttp = http::bhttp;

namespace {

// JWT errors as PostgREST v13: PGRST301 for a token that cannot be decoded or verified, PGRST303 for claims.
ApiError JwtDecodeError(std::string message) { return MakeApiError(401, "PGRST301", std::move(message)); }
ApiError JwtClaimsError(std::string message) { return MakeApiError(401, "PGRST303", std::move(message)); }

// PostgREST's SQLSTATE -> HTTP status table (data-api.md §2.10).
int StatusFor(std::string_view state, bool authenticated) {
  auto starts = [&](std::string_view p) { return StartsWith(state, p); };
  if (state == "53400") return 500;  // config_limit_exceeded, before the 53 class
  if (starts("08") || starts("53")) return 503;
  if (starts("09")) return 500;
  if (starts("0L") || starts("0P") || starts("28")) return 403;
  if (state == "23503" || state == "23505") return 409;
  if (state == "25006") return 405;
  if (state == "21000") return 500;  // cardinality_violation (a subquery returned several rows)
  if (state == "53400" || state == "42P17") return 500;
  if (starts("25") || starts("2D") || starts("38") || starts("39") || starts("3B") || starts("40") || starts("54") ||
      starts("55") || starts("57") || starts("58") || starts("F0") || starts("HV") || starts("XX"))
    return 500;
  if (state == "P0001") return 400;
  if (starts("P0")) return 500;
  if (state == "42883" || state == "42P01") return 404;
  if (state == "42501") return authenticated ? 403 : 401;
  if (starts("PT") && state.size() == 5) {
    int s = 0;
    for (const char c : state.substr(2)) {
      if (c < '0' || c > '9') return 500;
      s = s * 10 + (c - '0');
    }
    return s >= 100 && s <= 599 ? s : 500;
  }
  return 400;
}

// A database error as PostgREST shows it, including RAISE SQLSTATE 'PGRST' with a JSON message and detail
// ({"code","message","details","hint"} and {"status","headers"}).
struct DbFailure {
  ApiError error;
  std::vector<std::pair<std::string, std::string>> headers;
};

DbFailure FromDbError(const Error& err, bool authenticated) {
  DbFailure f;
  if (err.sqlstate == "PGRST") {
    const std::string msg_hint =
        "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.";
    const std::string det_hint =
        "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.";
    auto fail = [&](std::string details, const std::string& hint) {
      f.error = MakeApiError(500, "PGRST121", "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                             std::move(details));
      f.error.hint = hint;
      return f;
    };
    boost::system::error_code ec1, ec2;
    const auto msg = boost::json::parse(err.message, ec1);
    if (ec1 || !msg.is_object() || !msg.as_object().if_contains("code") || !msg.as_object().if_contains("message"))
      return fail("Invalid JSON value for MESSAGE: '" + err.message + "'", msg_hint);
    if (!err.detail) return fail("DETAIL is missing in the RAISE statement", det_hint);
    const auto det = boost::json::parse(*err.detail, ec2);
    if (ec2 || !det.is_object() || !det.as_object().if_contains("status") || !det.as_object().at("status").is_int64())
      return fail("Invalid JSON value for DETAIL: '" + *err.detail + "'", det_hint);
    const auto& m = msg.as_object();
    auto str = [&](const char* k) -> std::optional<std::string> {
      const auto* v = m.if_contains(k);
      if (!v || v->is_null()) return std::nullopt;
      return v->is_string() ? std::string(v->as_string()) : boost::json::serialize(*v);
    };
    f.error = MakeApiError(static_cast<int>(det.as_object().at("status").as_int64()), str("code").value_or(""),
                           str("message").value_or(""), str("details"));
    f.error.hint = str("hint");
    if (const auto* h = det.as_object().if_contains("headers"); h && h->is_object())
      for (const auto& kv : h->as_object())
        if (kv.value().is_string()) f.error.headers.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
    return f;
  }
  int status = StatusFor(err.sqlstate, authenticated);
  // xmlagg missing for a text/xml answer is "not acceptable" (PostgREST).
  if (err.sqlstate == "42883" && StartsWith(err.message, "function xmlagg(")) status = 406;
  f.error = MakeApiError(status, err.sqlstate, err.message, err.detail);
  f.error.hint = err.hint;
  return f;
}

// ".role", ".\"https://x\".role", "role" -> the key path of jwt-role-claim-key (array indexes are not supported).
std::optional<boost::json::value> ClaimAt(const boost::json::value& claims, const std::vector<std::string>& path) {
  const boost::json::value* v = &claims;
  for (const auto& k : path) {
    if (!v->is_object()) return std::nullopt;
    v = v->as_object().if_contains(k);
    if (!v) return std::nullopt;
  }
  return *v;
}

std::string FunctionName(std::string_view name) {
  // "schema.fn" or "fn"; each part quoted. A name with quotes is taken literally part by part.
  std::string out;
  for (const auto part : Split(name, '.')) {
    if (!out.empty()) out += '.';
    out += QuoteIdent(part);
  }
  return out;
}

const char* ReturnToken(PreferReturn r) {
  return r == PreferReturn::kRepresentation ? "return=representation"
         : r == PreferReturn::kMinimal      ? "return=minimal"
                                            : "return=headers-only";
}

}  // namespace

const char* DataApiService::MediaHandlerQuery() {
  // Aggregates of one argument (a row type or anyelement) whose result is a domain named like a media type.
  return "SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname), "
         "       CASE WHEN t.typname = 'anyelement' THEN '' ELSE tn.nspname || '.' || c.relname END, "
         "       rt.typname, bt.typname = 'bytea', bt.typname = 'jsonb' "
         "FROM pg_catalog.pg_aggregate a "
         "JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid "
         "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
         "JOIN pg_catalog.pg_type t ON t.oid = p.proargtypes[0] "
         "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace "
         "LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid "
         "JOIN pg_catalog.pg_type rt ON rt.oid = p.prorettype "
         "JOIN pg_catalog.pg_type bt ON bt.oid = rt.typbasetype "
         "WHERE p.pronargs = 1 AND rt.typtype = 'd' AND rt.typname LIKE '%/%' "
         "  AND (t.typname = 'anyelement' OR c.oid IS NOT NULL) AND n.nspname = ANY ($1::text[])";
}

DataApiService::MediaHandlers DataApiService::ParseMediaHandlers(const db::Rows& rows) {
  MediaHandlers out;
  for (int i = 0; i < rows.Size(); ++i)
    out[{std::string(rows.Text(i, 1)), std::string(rows.Text(i, 2))}] =
        MediaHandler{std::string(rows.Text(i, 0)), rows.Bool(i, 3), rows.Bool(i, 4)};
  return out;
}

std::string DataApiService::HandlerBodySql(const MediaHandler& h) {
  const std::string call = h.aggregate + "(_postgrest_t)";
  // jsonb domains are sent as Postgres' binary jsonb (a version byte, then the text), as PostgREST does.
  if (h.jsonb) return "COALESCE(encode(jsonb_send(" + call + "::jsonb), 'base64'), '')";
  if (h.binary) return "COALESCE(encode(" + call + "::bytea, 'base64'), '')";
  return "COALESCE(" + call + "::text, '')";
}

std::string DataApiService::DecodeHandlerBody(std::string_view base64_text) {
  std::string b64;
  for (const char ch : base64_text)
    if (ch != '\n') b64 += ch;  // encode() wraps lines at 76 characters
  return crypto::Base64Decode(b64).value_or(std::string());
}

DataApiService::DataApiService(DataApiConfig cfg, OwnKeyVerifier verify, std::shared_ptr<const SchemaCache> schema,
                               std::vector<std::unique_ptr<db::Pool>> pools)
    : cfg_(std::move(cfg)), verify_(std::move(verify)), schema_(std::move(schema)), pools_(std::move(pools)) {}

http::Response DataApiService::Error(const http::Request& req, const ApiError& e) const {
  auto res = http::MakeResponse(req, static_cast<bhttp::status>(e.status), ApiErrorBody(e),
                                "application/json; charset=utf-8");
  res.set("proxy-status", "PostgREST; error=" + e.code);
  for (const auto& [k, v] : e.headers) res.set(k, v);
  if (e.status == 401) {
    res.set(bhttp::field::www_authenticate,
            e.code == "PGRST301" || e.code == "PGRST303"
                ? "Bearer error=\"invalid_token\", error_description=" + JsonString(e.message)
                : std::string("Bearer"));
  }
  return res;
}

ApiResult<DataApiService::Identity> DataApiService::Authenticate(const http::Request& req) const {
  const auto auth = Trim(req.Header(bhttp::field::authorization));
  auto anonymous = [&]() -> ApiResult<Identity> {
    if (!cfg_.anon_role) return MakeApiError(401, "PGRST302", "Anonymous access is disabled");
    return Identity{*cfg_.anon_role, "{\"role\":" + JsonString(*cfg_.anon_role) + "}", true};
  };
  if (auth.empty()) return anonymous();
  const auto space = auth.find(' ');
  const auto scheme = auth.substr(0, space);
  if (!IEquals(scheme, "bearer")) return anonymous();  // PostgREST ignores other schemes (e.g. Basic)
  const auto token = space == std::string_view::npos ? std::string_view() : Trim(auth.substr(space + 1));
  if (token.empty()) return JwtDecodeError("Empty JWT is sent in Authorization header");
  const auto parts = std::count(token.begin(), token.end(), '.') + 1;
  if (parts != 3) return JwtDecodeError("Expected 3 parts in JWT; got " + std::to_string(parts));
  // The algorithm comes from the key that verifies, never from the token alone: our EdDSA keys, the JWK/JWKS
  // keys (each allows only its own algorithms), or the configured HS256 secret; `none` and anything else never
  // verify. A JWK's JSON text is never used as an HMAC key (HS256 "signed" with a public key).
  std::optional<std::string> payload = verify_ ? verify_(token) : std::nullopt;
  const bool own_key = payload.has_value();
  if (!payload && cfg_.jwks) payload = cfg_.jwks->Verify(token);
  if (!payload && cfg_.hs256_secret && !cfg_.hs256_secret->empty() && cfg_.hs256_secret->front() != '{') {
    if (auto jws = crypto::DecodeJws(token)) {
      boost::system::error_code ec;
      const auto header = boost::json::parse(jws->header_json, ec);
      if (!ec && header.is_object() && header.as_object().if_contains("alg") &&
          header.as_object().at("alg") == "HS256" &&
          crypto::VerifyHs256(*cfg_.hs256_secret, jws->signing_input, jws->signature))
        payload = jws->payload_json;
    }
  }
  if (!payload && !verify_ && !cfg_.hs256_secret && !cfg_.jwks)
    return MakeApiError(500, "PGRST300", "Server lacks JWT secret");
  if (!payload) return JwtDecodeError("No suitable key or wrong key type");
  // No key here understands a JWS extension, so a header marking one critical is refused (JW-10; the JWK
  // verifier already refuses it for its keys).
  if (cfg_.strict_jwt) {
    const auto jws = crypto::DecodeJws(token);
    if (!jws || crypto::HasCritHeader(jws->header_json))
      return JwtDecodeError("JWT header has an unsupported 'crit' parameter");
  }
  if (CheckJsonStrict(*payload).result != JsonStrictness::kOk) return JwtDecodeError("JWT claims set is not valid JSON");
  boost::system::error_code ec;
  auto claims = boost::json::parse(*payload, ec);
  if (ec || !claims.is_object()) return JwtDecodeError("JWT claims set is not valid JSON");
  JwtClaimRules rules;
  rules.audience = cfg_.audience;
  rules.own_issuer = cfg_.own_issuer;
  rules.own_audience = cfg_.own_audience;
  rules.require_exp = cfg_.require_exp;
  rules.strict = cfg_.strict_jwt;
  rules.clock_skew_s = cfg_.clock_skew_s;
  if (auto bad = CheckJwtClaims(claims.as_object(), rules, own_key, NowMs() / 1000)) return std::move(*bad);
  std::optional<std::string> role;
  if (const auto r = ClaimAt(claims, cfg_.role_claim_path); r && r->is_string()) role = std::string(r->as_string());
  if (!role) {
    if (!cfg_.anon_role) return MakeApiError(401, "PGRST302", "Anonymous access is disabled");
    role = *cfg_.anon_role;
  }
  // Only allow-listed roles when a list is configured (Neon mode): never the connection role, a superuser or
  // anything a token invents (DA-02). Without a list (PostgREST mode) Postgres decides through SET ROLE.
  if (!cfg_.roles.empty() && std::find(cfg_.roles.begin(), cfg_.roles.end(), *role) == cfg_.roles.end())
    return JwtClaimsError("JWT role is not allowed");
  // PostgREST answers 401 (not 403) to a permission error when the request runs as the anonymous role.
  const bool is_anon = cfg_.anon_role && *role == *cfg_.anon_role;
  return Identity{*role, boost::json::serialize(claims), is_anon};
}

boost::asio::awaitable<void> DataApiService::ListenForReloads(boost::asio::any_io_executor ex, std::string conninfo) {
  int backoff_ms = 250;
  bool reconnected = false;
  while (!stopping_) {
    auto conn = co_await db::Connection::Connect(ex, conninfo);
    if (conn) {
      auto listening = co_await (*conn)->Script("LISTEN pgrst");
      if (listening) {
        backoff_ms = 250;
        // After a lost connection the schema is read again at once, as PostgREST does on recovery: DDL (and
        // its NOTIFY) may have happened while nobody listened.
        bool reload_now = reconnected;
        reconnected = true;
        for (;;) {
          if (!reload_now) {
            auto note = co_await (*conn)->NextNotification();
            if (!note || stopping_) break;
            if (!note->second.empty() && note->second != "reload schema") continue;
          }
          reload_now = false;
          const std::vector<std::string> schemas = schema_.load()->Schemas();
          auto fresh = co_await SchemaCache::LoadAsync(**conn, schemas);
          if (fresh) {
            schema_.store(*fresh);
            const std::string list = db::TextArrayLiteral(schemas);
            if (auto handlers = co_await (*conn)->Query(MediaHandlerQuery(), db::Params(list)))
              SetMediaHandlers(ParseMediaHandlers(*handlers));
            log::Info("dataapi.schema_reloaded");
            // DA-05: the risky objects of the new schema, as at start (schema/lint.hpp).
            if (cfg_.lint) {
              const std::string lint_roles = db::TextArrayLiteral(LintRoles(cfg_.roles, cfg_.anon_role));
              if (auto lint = co_await (*conn)->Query(LintQuery(), db::Params(list, lint_roles)))
                LogLint(ParseLint(*lint));
            }
          } else {
            log::Warn("dataapi.schema_reload_failed", {{"error", fresh.error().message}});
          }
        }
      }
    }
    if (stopping_) break;
    boost::asio::steady_timer timer(ex);
    timer.expires_after(std::chrono::milliseconds(backoff_ms));
    co_await timer.async_wait(boost::asio::use_awaitable);
    backoff_ms = std::min(backoff_ms * 2, 10'000);
  }
}

ApiResult<DataApiService::Prepared> DataApiService::Prepare(http::Request& req, bool rpc) const {
  Prepared p;
  using Clock = std::chrono::steady_clock;
  p.timing.start = Clock::now();
  auto identity = Authenticate(req);
  if (!identity) return identity.error();
  p.identity = std::move(*identity);
  const auto authenticated_at = Clock::now();
  p.timing.jwt_us = std::chrono::duration<double, std::micro>(authenticated_at - p.timing.start).count();

  RequestHeaders headers;
  for (auto it = req.raw.find(bhttp::field::prefer); it != req.raw.end() && it->name() == bhttp::field::prefer; ++it)
    headers.prefer.push_back(std::string_view(it->value()));
  auto opt = [&](std::string_view name) -> std::optional<std::string_view> {
    const auto it = req.raw.find(name);
    if (it == req.raw.end()) return std::nullopt;
    return std::string_view(it->value());
  };
  headers.range = opt("range");
  headers.range_unit = opt("range-unit");
  headers.accept = opt("accept");
  headers.content_type = opt("content-type");
  headers.accept_profile = opt("accept-profile");
  headers.content_profile = opt("content-profile");
  RequestTarget target;
  const auto method = req.raw.method();
  target.verb = method == bhttp::verb::get       ? Verb::kGet
                : method == bhttp::verb::head    ? Verb::kHead
                : method == bhttp::verb::post    ? Verb::kPost
                : method == bhttp::verb::patch   ? Verb::kPatch
                : method == bhttp::verb::put     ? Verb::kPut
                : method == bhttp::verb::delete_ ? Verb::kDelete
                                                 : Verb::kOptions;
  target.rpc = rpc;
  p.verb = target.verb;
  p.snapshot = schema_.load();  // one snapshot for the whole request
  target.schemas = p.snapshot->Schemas();
  target.max_embed_depth = cfg_.max_embed_depth;
  auto parsed = ParseQuery(req.query, headers, target);
  if (!parsed) return parsed.error();
  p.api = std::move(*parsed);
  p.schema = p.api.schema.empty() ? p.snapshot->Schemas().front() : p.api.schema;
  // Prefer: timezone= must name a zone Postgres knows; an unknown one is ignored (lenient) or PGRST122 (strict).
  const bool tz_ok = !p.api.prefer.timezone || timezones_.count(*p.api.prefer.timezone);
  p.strict_error = StrictPreferencesError(p.api.prefer, tz_ok);
  if (!tz_ok) p.api.prefer.timezone.reset();
  // Neon mode: the planner's estimate is computed from statistics over every row of the table, including
  // the rows RLS hides from this role (DA-04); the count is made exactly instead, under RLS, and
  // Preference-Applied says count=exact (decisions D45).
  auto& count = p.api.prefer.count;
  if (!cfg_.count_estimates && (count == PreferCount::kPlanned || count == PreferCount::kEstimated))
    count = PreferCount::kExact;
  p.timing.prepared = Clock::now();
  p.timing.parse_us = std::chrono::duration<double, std::micro>(p.timing.prepared - authenticated_at).count();
  return p;
}

BuildContext DataApiService::Context(const Prepared& p) const {
  BuildContext ctx;
  ctx.cache = p.snapshot.get();
  ctx.max_rows = cfg_.max_rows;
  ctx.aggregates_enabled = cfg_.aggregates_enabled;
  return ctx;
}

boost::asio::awaitable<ApiResult<DataApiService::Outcome>> DataApiService::Execute(http::Request& req,
                                                                                  const Prepared& p,
                                                                                  const Statement& stmt,
                                                                                  ExecOptions opts) {
  const ApiRequest& api = p.api;
  Outcome out;
  p.timing.exec_start = std::chrono::steady_clock::now();
  p.timing.plan_us = std::chrono::duration<double, std::micro>(p.timing.exec_start - p.timing.prepared).count();
  // db-tx-end: whether the client's Prefer: tx is honoured, and the default.
  const bool may_override = cfg_.tx_end == TxEnd::kCommitAllowOverride || cfg_.tx_end == TxEnd::kRollbackAllowOverride;
  bool rollback = cfg_.tx_end == TxEnd::kRollback || cfg_.tx_end == TxEnd::kRollbackAllowOverride;
  if (may_override && api.prefer.tx) {
    rollback = *api.prefer.tx == PreferTx::kRollback;
    out.tx_applied = true;
  }

  // Request context, transaction-local (set_config(..., true)): pooled connections never carry identity.
  std::string hdrs = "{";
  std::string cookies = "{";
  for (const auto& f : req.raw) {
    const std::string name = AsciiLower(std::string_view(f.name_string()));
    if (name == "cookie") {
      for (auto part : Split(std::string_view(f.value()), ';')) {
        part = Trim(part);
        const auto eq = part.find('=');
        if (eq == std::string_view::npos) continue;
        if (cookies.size() > 1) cookies += ',';
        AppendJsonString(cookies, Trim(part.substr(0, eq)));
        cookies += ':';
        AppendJsonString(cookies, Trim(part.substr(eq + 1)));
      }
      continue;
    }
    if (hdrs.size() > 1) hdrs += ',';
    AppendJsonString(hdrs, name);
    hdrs += ':';
    AppendJsonString(hdrs, std::string_view(f.value()));
  }
  hdrs += '}';
  cookies += '}';
  std::string search_path = QuoteIdent(p.schema);
  for (const auto& s : cfg_.extra_search_path) search_path += ", " + QuoteIdent(s);

  std::vector<db::Connection::Statement> pipeline;
  // Reads run in the pipeline's implicit transaction (one round trip); anything that may have to roll back
  // after its result is seen (writes, max-affected, tx=rollback, plans) or needs an isolation level gets an
  // explicit one. A singular read that fails its row count has changed nothing, so it needs none.
  if (opts.explain) rollback = true;
  const bool explicit_tx = !opts.read_only || rollback || opts.max_affected || opts.isolation;
  if (explicit_tx || opts.isolation) {
    std::string begin = "BEGIN";
    if (opts.isolation) begin += " ISOLATION LEVEL " + *opts.isolation;
    if (opts.read_only) begin += " READ ONLY";
    pipeline.push_back({begin, {}});
  }
  std::string setup =
      "SELECT set_config('search_path', $1, true), set_config('role', $2, true), "
      "set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true), "
      "set_config('request.path', $5, true), set_config('request.headers', $6, true), "
      "set_config('request.cookies', $7, true)";
  std::vector<std::optional<std::string>> params{search_path,   p.identity.role, p.identity.claims_json,
                                                 std::string(req.raw.method_string()), std::string(req.path), hdrs,
                                                 cookies};
  if (cfg_.statement_timeout_ms > 0) {
    params.emplace_back(std::to_string(cfg_.statement_timeout_ms));
    setup += ", set_config('statement_timeout', $" + std::to_string(params.size()) + ", true)";
  }
  if (opts.read_only && !explicit_tx) setup += ", set_config('transaction_read_only', 'on', true)";
  for (const auto& [k, v] : cfg_.app_settings) {
    params.emplace_back("app.settings." + k);
    params.emplace_back(v);
    setup += ", set_config($" + std::to_string(params.size() - 1) + ", $" + std::to_string(params.size()) + ", true)";
  }
  if (api.prefer.timezone) {
    params.emplace_back(*api.prefer.timezone);
    setup += ", set_config('timezone', $" + std::to_string(params.size()) + ", true)";
  }
  pipeline.push_back({setup, params});
  if (cfg_.pre_request) pipeline.push_back({"SELECT " + FunctionName(*cfg_.pre_request) + "()", {}});
  const size_t main_index = pipeline.size();
  if (opts.explain) {
    rollback = true;
    pipeline.push_back({"EXPLAIN (" + *opts.explain + ") " + stmt.sql, stmt.params});
  } else {
    pipeline.push_back({stmt.sql, stmt.params});
  }
  // count=planned/estimated: the planner's estimate of PostgREST's count query, after the main statement.
  const size_t explain_index = pipeline.size();
  if (stmt.explain_sql && !opts.explain) pipeline.push_back({*stmt.explain_sql, stmt.explain_params});
  pipeline.push_back({"SELECT nullif(current_setting('response.headers', true), ''), "
                      "nullif(current_setting('response.status', true), '')",
                      {}});

  db::Pool& pool = *pools_[static_cast<size_t>(req.worker)];
  // The database cannot be reached (connect failed, backing off, connection lost or the server
  // shutting down, 57P0x): 503 with Retry-After, for every role. Nothing is answered without the database, so
  // a request without a JWT can never be served as anonymous meanwhile (RF-01, decisions D39).
  auto unavailable = [&pool] {
    ApiError e = MakeApiError(503, "PGRST000", "Database client error. Retrying the connection.");
    e.headers.emplace_back("Retry-After", std::to_string(pool.RetryAfterSeconds()));
    return e;
  };
  // Every connection busy for the whole acquisition timeout (the database answers, but is saturated):
  // PostgREST's 504 PGRST003. Waiting is bounded by the timeout, so requests never queue without end (DA-08).
  auto saturated = [] {
    return MakeApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.");
  };
  const bool authenticated = !p.identity.anonymous;
  auto failed = [&unavailable, authenticated](const pgwarden::Error& err) {
    if (err.code == ErrorCode::kServiceUnavailable && (err.sqlstate.empty() || StartsWith(err.sqlstate, "57P")))
      return unavailable();
    return FromDbError(err, authenticated).error;
  };
  auto lease = co_await pool.Acquire();
  if (!lease) co_return db::Pool::IsAcquireTimeout(lease.error()) ? saturated() : unavailable();
  auto results = co_await (*lease)->Pipeline(pipeline);
  if (!results) {
    if (explicit_tx && (*lease)->Healthy()) co_await (*lease)->Script("ROLLBACK");
    co_return failed(results.error());
  }
  const db::Rows& main = (*results)[main_index];
  const db::Rows& gucs = results->back();
  if (opts.explain) {
    // The plan is the answer: JSON (one cell) or the text lines.
    if (opts.explain_text) {
      for (int i = 0; i < main.Size(); ++i) out.body += std::string(i ? "\n" : "") + std::string(main.Text(i, 0));
    } else if (!main.Empty()) {
      out.body = std::string(main.Text(0, 0));
    }
    auto end = co_await (*lease)->Script("ROLLBACK");
    if (!end) co_return failed(end.error());
    co_return out;
  }
  out.page = main.Empty() ? 0 : main.Int64(0, 1);
  if (!main.Empty() && !main.IsNull(0, 0)) out.total = main.Int64(0, 0);
  if (stmt.explain_sql && !opts.explain) {
    const db::Rows& plan = (*results)[explain_index];
    const auto plan_rows = plan.Empty() ? std::nullopt : PlanRows(plan.Text(0, 0));
    out.total = CountTotal(api.prefer.count, out.total, plan_rows, cfg_.max_rows);
  }
  if (!main.Empty() && main.Columns() > 3 && !main.IsNull(0, 3)) out.inserted = main.Int64(0, 3);
  out.body = main.Empty() ? std::string("[]") : std::string(main.Text(0, 2));
  if (!gucs.Empty()) {
    if (!gucs.IsNull(0, 0)) out.response_headers = std::string(gucs.Text(0, 0));
    if (!gucs.IsNull(0, 1)) out.response_status = std::string(gucs.Text(0, 1));
  }

  std::optional<ApiError> condemned;
  if (opts.singular && out.page != 1) {
    condemned = MakeApiError(406, "PGRST116", "Cannot coerce the result to a single JSON object",
                             "The result contains " + std::to_string(out.page) + " rows");
  } else if (opts.max_affected && out.page > *opts.max_affected) {
    condemned = MakeApiError(400, "PGRST124", "Query result exceeds max-affected preference constraint",
                             "The query affects " + std::to_string(out.page) + " rows");
  }
  if (explicit_tx) {
    // A transaction rolled back by choice still reports deferred constraint violations, as PostgREST does.
    if (rollback && !condemned && !opts.read_only) {
      auto immediate = co_await (*lease)->Script("SET CONSTRAINTS ALL IMMEDIATE");
      if (!immediate) {
        co_await (*lease)->Script("ROLLBACK");
        co_return failed(immediate.error());
      }
    }
    auto end = co_await (*lease)->Script(condemned || rollback ? "ROLLBACK" : "COMMIT");
    if (!end) co_return failed(end.error());
  }
  p.timing.tx_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - p.timing.exec_start).count();
  if (condemned) co_return *condemned;
  out.rolled_back = rollback;
  co_return out;
}

ApiResult<http::Response> DataApiService::Finish(const http::Request& req, const Prepared& p, const Outcome& o,
                                                 http::Response res) const {
  const auto& prefer = p.api.prefer;
  // Preference-Applied, in PostgREST's order.
  std::vector<std::string> applied;
  const bool write = p.verb == Verb::kPost || p.verb == Verb::kPatch || p.verb == Verb::kPut || p.verb == Verb::kDelete;
  if (prefer.resolution && p.verb == Verb::kPost && o.resolution_applied)
    applied.emplace_back(*prefer.resolution == PreferResolution::kMergeDuplicates ? "resolution=merge-duplicates"
                                                                                  : "resolution=ignore-duplicates");
  if (prefer.missing && (p.verb == Verb::kPost || p.verb == Verb::kPatch || p.verb == Verb::kPut))
    applied.emplace_back(*prefer.missing == PreferMissing::kDefault ? "missing=default" : "missing=null");
  if (prefer.returning && write) applied.emplace_back(ReturnToken(*prefer.returning));
  if (prefer.count == PreferCount::kExact) applied.emplace_back("count=exact");
  if (prefer.count == PreferCount::kPlanned) applied.emplace_back("count=planned");
  if (prefer.count == PreferCount::kEstimated) applied.emplace_back("count=estimated");
  if (o.tx_applied && prefer.tx) applied.emplace_back(*prefer.tx == PreferTx::kCommit ? "tx=commit" : "tx=rollback");
  if (prefer.handling)
    applied.emplace_back(*prefer.handling == PreferHandling::kStrict ? "handling=strict" : "handling=lenient");
  if (prefer.timezone) applied.emplace_back("timezone=" + *prefer.timezone);
  if (prefer.max_affected && prefer.handling == PreferHandling::kStrict && write)
    applied.emplace_back("max-affected=" + std::to_string(*prefer.max_affected));
  if (!applied.empty()) {
    std::string v;
    for (const auto& a : applied) v += (v.empty() ? "" : ", ") + a;
    res.set("preference-applied", v);
  }
  if (p.api.negotiated_by_profile) res.set("content-profile", p.schema);

  // response.headers: a JSON array of single-member objects, set by the function or pre-request.
  if (o.response_headers) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(*o.response_headers, ec);
    bool ok = !ec && v.is_array();
    std::vector<std::string> seen;
    if (ok) {
      for (const auto& item : v.as_array()) {
        if (!item.is_object()) {
          ok = false;
          break;
        }
        for (const auto& kv : item.as_object()) {
          if (!kv.value().is_string()) {
            ok = false;
            break;
          }
          // The first occurrence of a name replaces the handler's header; repeats add (Set-Cookie twice).
          const std::string name = AsciiLower(std::string_view(kv.key()));
          if (std::find(seen.begin(), seen.end(), name) == seen.end()) {
            seen.push_back(name);
            res.set(std::string_view(kv.key()), std::string_view(kv.value().as_string()));
          } else {
            res.insert(std::string_view(kv.key()), std::string_view(kv.value().as_string()));
          }
        }
      }
    }
    if (!ok) {
      return MakeApiError(500, "PGRST111", "response.headers guc must be a JSON array composed of objects with a single key and a string value");
    }
  }
  if (o.response_status) {
    int s = 0;
    const auto& t = *o.response_status;
    bool ok = !t.empty() && t.size() <= 3;
    for (const char c : t) ok = ok && c >= '0' && c <= '9', s = s * 10 + (c - '0');
    if (!ok || s < 100 || s > 599) {
      return MakeApiError(500, "PGRST112", "response.status guc must be a valid status code");
    }
    res.result(static_cast<unsigned>(s));
  }
  (void)req;
  if (cfg_.server_timing) {
    const auto now = std::chrono::steady_clock::now();
    const double response_us =
        std::chrono::duration<double, std::micro>(now - (p.timing.exec_start.time_since_epoch().count()
                                                             ? p.timing.exec_start
                                                             : p.timing.prepared))
            .count() - p.timing.tx_us;
    char buf[200];
    std::snprintf(buf, sizeof buf, "jwt;dur=%.1f, parse;dur=%.1f, plan;dur=%.1f, transaction;dur=%.1f, response;dur=%.1f",
                  p.timing.jwt_us / 1000.0, p.timing.parse_us / 1000.0, p.timing.plan_us / 1000.0,
                  p.timing.tx_us / 1000.0, std::max(0.0, response_us) / 1000.0);
    res.set("server-timing", buf);
  }
  if (res.result() == bhttp::status::no_content) {
    res.erase(bhttp::field::content_length);
    res.erase(bhttp::field::content_type);
    res.body().clear();
  }
  return res;
}

namespace {

// Location of an inserted row: /table?pk1=eq.v1&pk2=is.null (PostgREST's shape).
std::string LocationOf(const Relation& rel, std::string_view body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  const boost::json::object* row = nullptr;
  if (!ec && v.is_array() && v.as_array().size() == 1 && v.as_array()[0].is_object()) row = &v.as_array()[0].as_object();
  if (!ec && v.is_object()) row = &v.as_object();
  if (!row || rel.primary_key.empty()) return {};
  std::string loc = "/" + rel.name;
  char sep = '?';
  for (const auto& k : rel.primary_key) {
    const auto* x = row->if_contains(k);
    loc += sep;
    sep = '&';
    loc += k + "=";
    if (!x || x->is_null()) {
      loc += "is.null";
    } else {
      loc += "eq.";
      loc += x->is_string() ? std::string(x->as_string()) : boost::json::serialize(*x);
    }
  }
  return loc;
}

}  // namespace

namespace {

// The response media type of a table read/write: the first Accept entry the Data API can produce, with the
// SQL that builds the body from the result rows `_postgrest_t` (BuildContext::body_sql). nullopt = 406.
// As PostgREST's negotiateContent: the vendored JSON types are built in and cannot be overridden; any other
// type looks for a handler aggregate of this relation for */*, then for the type, then an anyelement one,
// then the built-in JSON/CSV/GeoJSON.
struct MediaChoice {
  MediaType media;
  std::string body_sql;  // empty: JSON (array or single object)
  std::string content_type;
  bool singular = false;
  bool binary = false;  // body_sql yields base64 of the bytes to send
  bool plan = false;    // application/vnd.pgrst.plan: the EXPLAIN output is the answer
};

}  // namespace

std::string DataApiService::ExplainOptions(const MediaType& m) {
  std::string out = m.plan_format == PlanFormat::kJson ? "FORMAT JSON" : "FORMAT TEXT";
  for (const auto o : m.plan_options) {
    switch (o) {
      case PlanOption::kAnalyze: out += ", ANALYZE"; break;
      case PlanOption::kVerbose: out += ", VERBOSE"; break;
      case PlanOption::kSettings: out += ", SETTINGS"; break;
      case PlanOption::kBuffers: out += ", BUFFERS"; break;
      case PlanOption::kWal: out += ", WAL"; break;
    }
  }
  return out;
}

namespace {

std::string MimeWithCharset(const std::string& mime) {
  if (mime == "text/plain" || mime == "text/csv" || mime == "text/xml" || mime == "application/json" ||
      mime == "application/geo+json")
    return mime + "; charset=utf-8";
  return mime;
}

std::optional<MediaChoice> ChooseMedia(const ApiRequest& api, const Relation* rel,
                                       const DataApiService::MediaHandlers& handlers, bool plan_enabled) {
  const std::string rel_key = rel ? rel->schema + "." + rel->name : std::string();
  auto custom = [&](const std::string& key, const std::string& mime) -> const DataApiService::MediaHandler* {
    const auto it = handlers.find({key, mime});
    return it == handlers.end() ? nullptr : &it->second;
  };
  for (const auto& m : api.accept) {
    MediaChoice c;
    c.media = m;
    if (m.kind == MediaTypeKind::kSingularJson) {
      c.singular = true;
      if (m.nulls_stripped) {
        c.body_sql = "COALESCE(json_strip_nulls(json_agg(_postgrest_t)->0)::text, 'null')";
        c.content_type = "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8";
      } else {
        c.content_type = "application/vnd.pgrst.object+json; charset=utf-8";
      }
      return c;
    }
    if (m.kind == MediaTypeKind::kArrayJsonStripped) {
      c.body_sql = "COALESCE(json_strip_nulls(json_agg(_postgrest_t)), '[]')::text";
      c.content_type = "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8";
      return c;
    }
    if (m.kind == MediaTypeKind::kPlan) {
      if (!plan_enabled) continue;
      c.plan = true;
      c.content_type = ToMime(m) + "; charset=utf-8";
      return c;
    }
    const std::string mime = ToMime(m);
    // A relation's own handlers take its whole row: they apply only without a select list (PostgREST).
    const bool whole_row = api.select_raw == "*";
    const DataApiService::MediaHandler* h = nullptr;
    bool any_handler = false;
    if (rel && whole_row) {
      h = custom(rel_key, "*/*");
      any_handler = h != nullptr;
    }
    if (!h && rel && whole_row) h = custom(rel_key, mime);
    if (!h) h = custom("", mime);
    if (h) {
      c.binary = h->binary || h->jsonb;
      c.body_sql = DataApiService::HandlerBodySql(*h);
      c.content_type = (any_handler || m.kind == MediaTypeKind::kAny) ? std::string("application/octet-stream")
                                                                      : MimeWithCharset(mime);
      return c;
    }
    switch (m.kind) {
      case MediaTypeKind::kApplicationJson:
      case MediaTypeKind::kAny:
        c.content_type = "application/json; charset=utf-8";
        return c;
      case MediaTypeKind::kTextCsv:
        // PostgREST's CSV: a header of the column names, then each row's composite text without its parentheses.
        c.body_sql =
            "COALESCE((SELECT string_agg(k, ',') FROM json_object_keys((array_agg(row_to_json(_postgrest_t)))[1]) k), "
            "'') || chr(10) || COALESCE(string_agg(substring(_postgrest_t::text, 2, length(_postgrest_t::text) - 2), "
            "chr(10)), '')";
        c.content_type = "text/csv; charset=utf-8";
        return c;
      case MediaTypeKind::kGeoJson:
        c.body_sql =
            "json_build_object('type', 'FeatureCollection', 'features', "
            "COALESCE(json_agg(ST_AsGeoJSON(_postgrest_t)::json), '[]'))::text";
        c.content_type = "application/geo+json; charset=utf-8";
        return c;
      default: break;
    }
  }
  return std::nullopt;
}

ApiError MediaError(const ApiRequest& api) {
  std::string list;
  for (const auto& m : api.accept) list += (list.empty() ? "" : ", ") + ToMime(m);
  return MakeApiError(406, "PGRST107", "None of these media types are available: " + list);
}

std::string JsonScalarText(const boost::json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v);
}

}  // namespace

ApiError DataApiService::TableNotFound(const Prepared& p, std::string_view resource,
                                       const std::vector<std::string>& candidates) const {
  auto e = MakeApiError(404, "PGRST205", "Could not find the table '" + p.schema + "." + std::string(resource) +
                                             "' in the schema cache");
  if (auto best = FuzzyBest(candidates, resource, true))
    e.hint = "Perhaps you meant the table '" + p.schema + "." + *best + "'";
  return e;
}

boost::asio::awaitable<ApiError> DataApiService::TableNotFoundFor(http::Request& req, const Prepared& p,
                                                                  const std::string& resource) {
  const std::vector<std::string> all = p.snapshot->RelationNames(p.schema);
  ApiError e = TableNotFound(p, resource, all);
  // EN-04: the hint may only name a relation the request's role could use, so a probe cannot list the tables
  // it has no grant on (PostgREST #4675). Asked only when there is a hint to give.
  if (e.hint && cfg_.hints_follow_privileges) {
    const std::vector<std::string> usable = co_await UsableNames(req, p.identity.role, p.schema, all, false);
    e = TableNotFound(p, resource, usable);
  }
  co_return e;
}

boost::asio::awaitable<std::vector<std::string>> DataApiService::UsableNames(http::Request& req,
                                                                            const std::string& role,
                                                                            const std::string& schema,
                                                                            const std::vector<std::string>& names,
                                                                            bool functions) {
  std::vector<std::string> out;
  if (names.empty() || stopping_) co_return out;
  // Any table privilege, or a column privilege (a role may hold only UPDATE (col)); EXECUTE for functions.
  // A role name Postgres does not know makes the query fail: then nothing is named.
  static constexpr const char* kRelations =
      "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = ANY ($3::text[]) AND has_schema_privilege($2, n.oid, 'USAGE') "
      "AND (has_table_privilege($2, c.oid, 'SELECT, INSERT, UPDATE, DELETE') "
      "     OR has_any_column_privilege($2, c.oid, 'SELECT, INSERT, UPDATE'))";
  static constexpr const char* kFunctions =
      "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
      "WHERE n.nspname = $1 AND p.proname = ANY ($3::text[]) AND has_schema_privilege($2, n.oid, 'USAGE') "
      "AND has_function_privilege($2, p.oid, 'EXECUTE')";
  auto lease = co_await pools_[static_cast<size_t>(req.worker)]->Acquire();
  if (!lease) co_return out;
  const std::string list = db::TextArrayLiteral(names);
  auto rows = co_await (*lease)->Query(functions ? kFunctions : kRelations, db::Params(schema, role, list));
  if (!rows) co_return out;
  for (int i = 0; i < rows->Size(); ++i) out.emplace_back(rows->Text(i, 0));
  co_return out;
}

boost::asio::awaitable<http::Response> DataApiService::Handle(http::Request& req, std::string resource) {
  auto prepared = Prepare(req, false);
  if (!prepared) co_return Error(req, prepared.error());
  const Prepared& p = *prepared;
  const ApiRequest& api = p.api;
  const Relation* rel = p.snapshot->Find(p.schema, resource);
  if (!rel) {
    const ApiError missing = co_await TableNotFoundFor(req, p, resource);
    co_return Error(req, missing);
  }
  if (p.verb == Verb::kOptions) {
    auto res = http::MakeResponse(req, bhttp::status::ok);
    std::string allow = "OPTIONS,GET,HEAD";
    if (rel->insertable) allow += ",POST";
    if (rel->insertable && rel->updatable && !rel->primary_key.empty()) allow += ",PUT";
    if (rel->updatable) allow += ",PATCH";
    if (rel->deletable) allow += ",DELETE";
    res.set(bhttp::field::allow, allow);
    co_return res;
  }
  const bool read = p.verb == Verb::kGet || p.verb == Verb::kHead;
  if (p.strict_error) co_return Error(req, *p.strict_error);
  // Neon mode: no PATCH/DELETE of a whole table by accident (DA-09, pg-safeupdate's rule and answer).
  if (cfg_.safe_update) {
    if (auto unsafe = SafeUpdateError(api, p.verb)) co_return Error(req, *unsafe);
  }
  const std::shared_ptr<const MediaHandlers> handlers = media_handlers_.load();
  const auto media = ChooseMedia(api, rel, *handlers, cfg_.plan_enabled);
  if (!media) co_return Error(req, MediaError(api));
  const bool singular = media->singular;
  const PreferReturn returning = api.prefer.returning.value_or(PreferReturn::kMinimal);
  const bool representation = returning == PreferReturn::kRepresentation;
  std::string_view body_in = req.raw.body();

  // PATCH: an empty object (or [] / [{}]) changes nothing and is answered without the database; of an array
  // payload PostgREST takes the first object.
  std::string patch_body;
  if (p.verb == Verb::kPatch) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body_in, ec);
    const boost::json::object* first = nullptr;
    if (!ec && v.is_object()) first = &v.as_object();
    if (!ec && v.is_array() && !v.as_array().empty() && v.as_array()[0].is_object()) first = &v.as_array()[0].as_object();
    const bool empty = !ec && ((first && first->empty()) || (v.is_array() && v.as_array().empty()));
    if (empty) {
      auto res = http::MakeResponse(req, representation ? bhttp::status::ok : bhttp::status::no_content,
                                    representation ? "[]" : "",
                                    representation ? "application/json; charset=utf-8" : "");
      res.set(bhttp::field::content_range, "*/*");
      Outcome none;
      auto finished = Finish(req, p, none, std::move(res));
      if (!finished) co_return Error(req, finished.error());
      co_return std::move(*finished);
    }
    if (first && v.is_array()) {
      patch_body = boost::json::serialize(*first);
      body_in = patch_body;
    }
  }
  BuildContext ctx = Context(p);
  ctx.body_sql = media->body_sql;
  ApiResult<Statement> stmt = ApiError{};
  ApiRequest write_api;  // a rewritten request (headers-only Location, PUT as an upsert)
  const ApiRequest* build_api = &api;
  std::string put_body;
  ExecOptions opts;
  if (p.verb == Verb::kPut) {
    // PUT: the filters name the whole primary key with eq, the payload's key matches them; an upsert of the
    // first payload object.
    bool ok = !rel->primary_key.empty() && api.logic.empty() && api.filters.size() == rel->primary_key.size();
    std::map<std::string, std::string> url_key;
    for (const auto& f : api.filters) {
      ok = ok && f.path.empty() && f.filter.field.json_path.empty() && f.filter.expr.op == FilterOperator::kEq &&
           !f.filter.expr.negated && !f.filter.expr.quantifier &&
           std::find(rel->primary_key.begin(), rel->primary_key.end(), f.filter.field.name) != rel->primary_key.end();
      url_key[f.filter.field.name] = f.filter.expr.value;
    }
    if (!ok || url_key.size() != rel->primary_key.size())
      co_return Error(req, MakeApiError(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators"));
    boost::system::error_code ec;
    const auto v = boost::json::parse(body_in, ec);
    const boost::json::object* row = nullptr;
    if (!ec && v.is_object()) row = &v.as_object();
    if (!ec && v.is_array() && !v.as_array().empty() && v.as_array()[0].is_object()) row = &v.as_array()[0].as_object();
    if (!row) co_return Error(req, MakeApiError(400, "PGRST102", "Empty or invalid json"));
    for (const auto& [k, val] : url_key) {
      const auto* x = row->if_contains(k);
      if (!x || x->is_null() || JsonScalarText(*x) != val)
        co_return Error(req, MakeApiError(400, "PGRST115", "Payload values do not match URL in primary key column(s)"));
    }
    put_body = boost::json::serialize(*row);
    body_in = put_body;
    write_api = api;
    write_api.on_conflict = rel->primary_key;
    write_api.prefer.resolution = PreferResolution::kMergeDuplicates;
    write_api.filters.clear();
    build_api = &write_api;
  }
  if (p.verb == Verb::kPost && returning == PreferReturn::kHeadersOnly) {
    // headers-only: the inserted rows' keys are read back for Location.
    write_api = api;
    write_api.prefer.returning = PreferReturn::kRepresentation;
    write_api.select.clear();
    for (const auto& k : rel->primary_key) {
      SelectItem item;
      item.field.name = k;
      write_api.select.push_back(item);
    }
    if (write_api.select.empty()) {
      SelectItem star;
      star.field.name = "*";
      write_api.select.push_back(star);
    }
    build_api = &write_api;
  }
  switch (p.verb) {
    case Verb::kGet:
    case Verb::kHead: stmt = BuildRead(*build_api, *rel, ctx); break;
    case Verb::kPost:
    case Verb::kPut: stmt = BuildInsert(*build_api, *rel, body_in, ctx); break;
    case Verb::kPatch: stmt = BuildUpdate(*build_api, *rel, body_in, ctx); break;
    case Verb::kDelete: stmt = BuildDelete(*build_api, *rel, ctx); break;
    default:
      co_return Error(req, MakeApiError(405, "PGRST117", "Unsupported HTTP method: " + std::string(req.raw.method_string())));
  }
  if (!stmt) co_return Error(req, stmt.error());

  opts.read_only = read;
  opts.singular = singular;
  if (api.prefer.handling == PreferHandling::kStrict && api.prefer.max_affected && !read)
    opts.max_affected = api.prefer.max_affected;
  if (media->plan) {
    opts.explain = ExplainOptions(media->media);
    opts.explain_text = media->media.plan_format == PlanFormat::kText;
    opts.singular = false;
    opts.max_affected.reset();
  }
  auto outcome = co_await Execute(req, p, *stmt, opts);
  if (!outcome) co_return Error(req, outcome.error());
  outcome->resolution_applied = !rel->primary_key.empty() || api.on_conflict.has_value();
  const Outcome& o = *outcome;

  bhttp::status status = bhttp::status::ok;
  std::string body = o.body;
  // PostgREST: an upsert that inserted nothing (all rows updated, or no rows) is 200; PUT is 201 when it inserted.
  if (p.verb == Verb::kPost) status = o.inserted && *o.inserted <= 0 ? bhttp::status::ok : bhttp::status::created;
  if (p.verb == Verb::kPut) status = o.inserted && *o.inserted > 0 ? bhttp::status::created : bhttp::status::ok;
  if ((p.verb == Verb::kPatch || p.verb == Verb::kDelete || p.verb == Verb::kPut) && !representation)
    status = bhttp::status::no_content;
  std::string location;
  if (p.verb == Verb::kPost && returning == PreferReturn::kHeadersOnly) location = LocationOf(*rel, body);
  if (!read && !representation) body.clear();
  const std::string content_type = (!read && !representation && !media->plan) ? std::string() : media->content_type;
  if (media->plan) {
    auto res = http::MakeResponse(req, bhttp::status::ok, p.verb == Verb::kHead ? std::string() : o.body, content_type);
    auto finished = Finish(req, p, o, std::move(res));
    if (!finished) co_return Error(req, finished.error());
    co_return std::move(*finished);
  }
  const bool counted = api.prefer.count.has_value();
  if (read) {
    // PostgREST's range status: 416 past the end, 206 for a partial page of a known total.
    const std::int64_t from = api.range.offset;
    if (o.total && from > *o.total) {
      auto e = MakeApiError(416, "PGRST103", "Requested range not satisfiable",
                            "An offset of " + std::to_string(from) + " was requested, but there are only " +
                                std::to_string(*o.total) + " rows.");
      auto res = Error(req, e);
      res.set(bhttp::field::content_range, "*/" + std::to_string(*o.total));
      co_return res;
    }
    if (o.total && o.page < *o.total && !singular) status = bhttp::status::partial_content;
  }
  if (media->binary && !body.empty()) body = DecodeHandlerBody(body);
  if (p.verb == Verb::kHead) body.clear();
  auto res = http::MakeResponse(req, status, std::move(body), content_type);
  if (read) {
    const std::int64_t from = api.range.offset;
    const std::string range = o.page == 0 ? "*" : std::to_string(from) + "-" + std::to_string(from + o.page - 1);
    res.set(bhttp::field::content_range, range + "/" + (o.total ? std::to_string(*o.total) : std::string("*")));
    res.set(bhttp::field::content_location,
            "/" + resource + (api.canonical_query.empty() ? "" : "?" + api.canonical_query));
  } else {
    // Writes: the affected rows are the total when counted; PATCH shows them as a range (PostgREST).
    const std::string total = counted ? std::to_string(o.page) : std::string("*");
    if (p.verb == Verb::kPatch && o.page > 0)
      res.set(bhttp::field::content_range, "0-" + std::to_string(o.page - 1) + "/" + total);
    else
      res.set(bhttp::field::content_range, "*/" + total);
  }
  if (!location.empty()) res.set(bhttp::field::location, location);
  if (p.verb == Verb::kHead) res.erase(bhttp::field::content_length);
  auto finished = Finish(req, p, o, std::move(res));
  if (!finished) co_return Error(req, finished.error());
  co_return std::move(*finished);
}

}  // namespace pgwarden::dataapi
