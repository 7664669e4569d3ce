#include "dataapi/service.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "crypto/jwt.hpp"
#include "dataapi/request/query_params.hpp"
#include "dataapi/sql/builder.hpp"

namespace pgwarden::dataapi {
namespace bhttp = http::bhttp;

namespace {

ApiError JwtError(std::string message) {
  return MakeApiError(401, "PGRST301", std::move(message));
}

// PostgREST's SQLSTATE -> HTTP status table (data-api.md §2.10).
int StatusFor(std::string_view state, bool authenticated) {
  auto starts = [&](std::string_view p) { return StartsWith(state, p); };
  if (starts("08") || starts("53")) return 503;
  if (starts("09")) return 500;
  if (starts("0L") || starts("0P") || starts("28")) return 403;
  if (state == "23503" || state == "23505") return 409;
  if (state == "25006") return 405;
  if (state == "53400" || state == "42P17") return 500;
  if (starts("25") || starts("2D") || starts("38") || starts("39") || starts("3B") || starts("40") || starts("54") ||
      starts("55") || starts("57") || starts("58") || starts("F0") || starts("HV") || starts("XX"))
    return 500;
  if (state == "P0001") return 400;
  if (starts("P0")) return 500;
  if (state == "42883" || state == "42P01") return 404;
  if (state == "42501") return authenticated ? 403 : 401;
  return 400;
}

}  // namespace

DataApiService::DataApiService(DataApiConfig cfg, OwnKeyVerifier verify, std::shared_ptr<const SchemaCache> schema,
                               std::vector<std::unique_ptr<db::Pool>> pools)
    : cfg_(std::move(cfg)), verify_(std::move(verify)), schema_(std::move(schema)), pools_(std::move(pools)) {}

http::Response DataApiService::Error(const http::Request& req, const ApiError& e) const {
  auto res = http::MakeResponse(req, static_cast<bhttp::status>(e.status), ApiErrorBody(e),
                                "application/json; charset=utf-8");
  if (e.status == 401) {
    res.set(bhttp::field::www_authenticate,
            e.code == "PGRST301" ? "Bearer error=\"invalid_token\", error_description=\"" + e.message + "\""
                                 : std::string("Bearer"));
  }
  return res;
}

ApiResult<DataApiService::Identity> DataApiService::Authenticate(const http::Request& req) const {
  const auto auth = Trim(req.Header(bhttp::field::authorization));
  if (auth.empty()) {
    if (!cfg_.allow_anonymous) {
      return MakeApiError(401, "PGRST302", "Anonymous access is disabled");
    }
    return Identity{cfg_.anon_role, "{\"role\":" + JsonString(cfg_.anon_role) + "}"};
  }
  if (auth.size() < 8 || !IEquals(auth.substr(0, 7), "bearer ")) return JwtError("Invalid authorization header");
  const auto token = Trim(auth.substr(7));
  // The algorithm comes from the key that verifies, never from the token alone: our EdDSA keys, or the
  // configured HS256 secret; `none` and anything else never verify.
  std::optional<std::string> payload = verify_ ? verify_(token) : std::nullopt;
  if (!payload && cfg_.hs256_secret) {
    if (auto jws = crypto::DecodeJws(token)) {
      boost::system::error_code ec;
      const auto header = boost::json::parse(jws->header_json, ec);
      if (!ec && header.is_object() && header.as_object().if_contains("alg") &&
          header.as_object().at("alg") == "HS256" &&
          crypto::VerifyHs256(*cfg_.hs256_secret, jws->signing_input, jws->signature))
        payload = jws->payload_json;
    }
  }
  if (!payload) return JwtError("JWSError JWSInvalidSignature");
  if (CheckJsonStrict(*payload).result != JsonStrictness::kOk) return JwtError("JWTClaimsSetDecodeError");
  boost::system::error_code ec;
  auto claims = boost::json::parse(*payload, ec);
  if (ec || !claims.is_object()) return JwtError("JWTClaimsSetDecodeError");
  auto& obj = claims.as_object();
  const std::int64_t now = NowMs() / 1000;
  auto number = [&](const char* k) -> std::optional<std::int64_t> {
    const auto* v = obj.if_contains(k);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    return std::int64_t{-1};
  };
  const auto exp = number("exp");
  if (!exp || *exp < 0) return JwtError("JWT expired");  // exp is required (JW-05)
  if (now > *exp + cfg_.clock_skew_s) return JwtError("JWT expired");
  if (const auto nbf = number("nbf"); nbf && now + cfg_.clock_skew_s < *nbf) return JwtError("JWT not yet valid");
  if (const auto iat = number("iat"); iat && now + cfg_.clock_skew_s < *iat) return JwtError("JWT issued at future");
  if (cfg_.audience) {
    bool ok = false;
    if (const auto* aud = obj.if_contains("aud")) {
      if (aud->is_string()) ok = aud->as_string() == *cfg_.audience;
      if (aud->is_array())
        for (const auto& a : aud->as_array()) ok = ok || (a.is_string() && a.as_string() == *cfg_.audience);
    }
    if (!ok) return JwtError("JWT not in audience");
  }
  std::string role = cfg_.anon_role;
  if (const auto* r = obj.if_contains("role")) {
    if (!r->is_string()) return JwtError("JWT role claim is not a string");
    role = std::string(r->as_string());
  } else {
    obj["role"] = role;
  }
  // Only allow-listed roles: never the connection role, a superuser or anything a token invents (DA-02).
  bool allowed = false;
  for (const auto& a : cfg_.roles) allowed = allowed || a == role;
  if (!allowed) {
    return MakeApiError(401, "PGRST303", "JWT role is not allowed");
  }
  return Identity{role, boost::json::serialize(claims)};
}

boost::asio::awaitable<void> DataApiService::ListenForReloads(boost::asio::any_io_executor ex, std::string conninfo) {
  int backoff_ms = 250;
  while (!stopping_) {
    auto conn = co_await db::Connection::Connect(ex, conninfo);
    if (conn) {
      auto listening = co_await (*conn)->Script("LISTEN pgrst");
      if (listening) {
        backoff_ms = 250;
        for (;;) {
          auto note = co_await (*conn)->NextNotification();
          if (!note || stopping_) break;
          if (!note->second.empty() && note->second != "reload schema") continue;
          const std::vector<std::string> schemas = schema_.load()->Schemas();
          auto fresh = co_await SchemaCache::LoadAsync(**conn, schemas);
          if (fresh) {
            schema_.store(*fresh);
            log::Info("dataapi.schema_reloaded");
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

boost::asio::awaitable<http::Response> DataApiService::Handle(http::Request& req, std::string resource) {
  auto identity = Authenticate(req);
  if (!identity) co_return Error(req, identity.error());

  RequestHeaders headers;
  for (auto it = req.raw.find(bhttp::field::prefer); it != req.raw.end() && it->name() == bhttp::field::prefer; ++it)
    headers.prefer.push_back(std::string_view(it->value()));
  auto opt = [&](std::string_view name) -> std::optional<std::string_view> {
    const auto v = req.Header(name);
    if (v.empty()) return std::nullopt;
    return v;
  };
  headers.range = opt("range");
  headers.range_unit = opt("range-unit");
  headers.accept = opt("accept");
  headers.content_type = opt("content-type");
  headers.accept_profile = opt("accept-profile");
  headers.content_profile = opt("content-profile");
  RequestTarget target;
  const auto method = req.raw.method();
  target.verb = method == bhttp::verb::get      ? Verb::kGet
                : method == bhttp::verb::head   ? Verb::kHead
                : method == bhttp::verb::post   ? Verb::kPost
                : method == bhttp::verb::patch  ? Verb::kPatch
                : method == bhttp::verb::put    ? Verb::kPut
                : method == bhttp::verb::delete_ ? Verb::kDelete
                                                 : Verb::kOptions;
  const std::shared_ptr<const SchemaCache> snapshot = schema_.load();  // one snapshot for the whole request
  target.schemas = snapshot->Schemas();
  auto parsed = ParseQuery(req.query, headers, target);
  if (!parsed) co_return Error(req, parsed.error());
  const ApiRequest& api = *parsed;
  const std::string schema = api.schema.empty() ? snapshot->Schemas().front() : api.schema;
  const Relation* rel = snapshot->Find(schema, resource);
  if (!rel) {
    co_return Error(req, MakeApiError(404, "PGRST205", "Could not find the table '" + schema + "." + resource + "' in the schema cache"));
  }

  ApiResult<Statement> stmt = ApiError{};
  const bool read = target.verb == Verb::kGet || target.verb == Verb::kHead;
  switch (target.verb) {
    case Verb::kGet:
    case Verb::kHead: stmt = BuildRead(api, *rel, cfg_.max_rows); break;
    case Verb::kPost: stmt = BuildInsert(api, *rel, req.raw.body()); break;
    case Verb::kPatch: stmt = BuildUpdate(api, *rel, req.raw.body()); break;
    case Verb::kDelete: stmt = BuildDelete(api, *rel); break;
    default: {
      co_return Error(req, MakeApiError(405, "PGRST117", "Unsupported HTTP method"));
    }
  }
  if (!stmt) co_return Error(req, stmt.error());

  // Request context, transaction-local (set_config(..., true)): pooled connections never carry identity.
  std::string hdrs = "{";
  for (const auto& f : req.raw) {
    if (hdrs.size() > 1) hdrs += ',';
    AppendJsonString(hdrs, AsciiLower(std::string_view(f.name_string())));
    hdrs += ':';
    AppendJsonString(hdrs, std::string_view(f.value()));
  }
  hdrs += '}';
  std::string search_path = QuoteIdent(schema);
  std::vector<db::Connection::Statement> pipeline;
  const bool rollback = api.prefer.tx == PreferTx::kRollback;
  const bool singular = std::any_of(api.accept.begin(), api.accept.end(),
                                    [](const MediaType& m) { return m.kind == MediaTypeKind::kSingularJson; });
  const bool explicit_tx = !read;  // writes may have to roll back after the result is seen
  if (explicit_tx) pipeline.push_back({"BEGIN", {}});
  pipeline.push_back(
      {"SELECT set_config('search_path', $1, true), set_config('role', $2, true), "
       "set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true), "
       "set_config('request.path', $5, true), set_config('request.headers', $6, true), "
       "set_config('request.cookies', '{}', true), set_config('statement_timeout', $7, true)" +
           std::string(read ? ", set_config('transaction_read_only', 'on', true)" : ""),
       {search_path, identity->role, identity->claims_json, std::string(req.raw.method_string()), std::string(req.path),
        hdrs, std::to_string(cfg_.statement_timeout_ms)}});
  pipeline.push_back({stmt->sql, stmt->params});

  auto lease = co_await pools_[static_cast<size_t>(req.worker)]->Acquire();
  if (!lease) {
    ApiError e;
    e.status = 503;
    e.code = "PGRST000";
    e.message = "Database client error. Retrying the connection.";
    auto res = Error(req, e);
    res.set(bhttp::field::retry_after, "5");
    co_return res;
  }
  auto results = co_await (*lease)->Pipeline(pipeline);
  if (!results) {
    if (explicit_tx) co_await (*lease)->Script("ROLLBACK");
    const auto& err = results.error();
    if (err.code == ErrorCode::kServiceUnavailable && err.sqlstate.empty()) {
      co_return Error(req, MakeApiError(503, "PGRST000", "Database client error. Retrying the connection."));
    }
    co_return Error(req, MakeApiError(StatusFor(err.sqlstate, identity->role != cfg_.anon_role), err.sqlstate, err.message));
  }
  const db::Rows& main = results->back();
  const std::int64_t page = main.Empty() ? 0 : main.Int64(0, 1);
  std::optional<std::int64_t> total;
  if (!main.Empty() && !main.IsNull(0, 0)) total = main.Int64(0, 0);
  std::string body = main.Empty() ? std::string("[]") : std::string(main.Text(0, 2));

  if (singular && page != 1) {
    if (explicit_tx) co_await (*lease)->Script("ROLLBACK");
    co_return Error(req, MakeApiError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned", "The result contains " + std::to_string(page) + " rows"));
  }
  if (explicit_tx) {
    auto end = co_await (*lease)->Script(rollback ? "ROLLBACK" : "COMMIT");
    if (!end) {
      co_return Error(req, MakeApiError(StatusFor(end.error().sqlstate, true), end.error().sqlstate, end.error().message));
    }
  }

  bhttp::status status = bhttp::status::ok;
  const bool representation = api.prefer.returning == PreferReturn::kRepresentation;
  if (target.verb == Verb::kPost) status = bhttp::status::created;
  if ((target.verb == Verb::kPatch || target.verb == Verb::kDelete) && !representation) status = bhttp::status::no_content;
  if (!read && !representation) body.clear();
  const std::string_view content_type =
      (!read && !representation) ? std::string_view()
      : singular                 ? std::string_view("application/vnd.pgrst.object+json; charset=utf-8")
                                 : std::string_view("application/json; charset=utf-8");
  if (target.verb == Verb::kHead) body.clear();
  auto res = http::MakeResponse(req, status, std::move(body), content_type);
  if (read) {
    const std::int64_t from = api.range.offset;
    const std::string range = page == 0 ? "*" : std::to_string(from) + "-" + std::to_string(from + page - 1);
    res.set(bhttp::field::content_range, range + "/" + (total ? std::to_string(*total) : std::string("*")));
  } else {
    res.set(bhttp::field::content_range, "*/*");
  }
  if (rollback || api.prefer.returning) {
    std::string applied;
    if (api.prefer.returning)
      applied = *api.prefer.returning == PreferReturn::kRepresentation ? "return=representation"
                : *api.prefer.returning == PreferReturn::kMinimal      ? "return=minimal"
                                                                       : "return=headers-only";
    if (rollback) applied += std::string(applied.empty() ? "" : ", ") + "tx=rollback";
    res.set("preference-applied", applied);
  }
  co_return res;
}

}  // namespace pgwarden::dataapi
