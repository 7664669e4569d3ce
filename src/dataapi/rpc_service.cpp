//! POST/GET/HEAD /rpc/<function>: the RPC half of DataApiService (the shared steps are in service.cpp).
//! PostgREST v13's order: method, arguments (the body), the function among its overloads, the media type, then
//! one transaction: read-only for GET/HEAD and for stable/immutable functions (a volatile function called
//! with GET then fails with 25006 -> 405, as in PostgREST).
#include <algorithm>

#include "core/text.hpp"
#include "dataapi/request/media_type.hpp"
#include "dataapi/request/preferences.hpp"
#include "dataapi/service.hpp"
#include "dataapi/sql/rpc.hpp"

namespace pgwarden::dataapi {
namespace bhttp = http::bhttp;

namespace {

struct RpcMedia {
  RpcBody body = RpcBody::kJson;
  std::string content_type;
  bool binary = false;  //!< kScalarText of a bytea-based domain: the value arrives as \x hex
  std::string body_sql;  //!< a media handler aggregate over the rows (BuildContext::body_sql)
  bool base64 = false;   //!< body_sql yields base64 of the bytes to send
  std::optional<MediaType> plan;  //!< application/vnd.pgrst.plan (db-plan-enabled): answer the EXPLAIN output
};

// PostgREST's charset rule (MediaType.toContentType): the text types it knows get "; charset=utf-8".
std::string ContentTypeOf(const MediaType& mt) {
  const std::string mime = ToMime(mt);
  switch (mt.kind) {
    case MediaTypeKind::kApplicationJson:
    case MediaTypeKind::kArrayJsonStripped:
    case MediaTypeKind::kSingularJson:
    case MediaTypeKind::kGeoJson:
    case MediaTypeKind::kTextCsv:
    case MediaTypeKind::kTextPlain:
    case MediaTypeKind::kTextXml:
    case MediaTypeKind::kOpenApi: return mime + "; charset=utf-8";
    default: return mime;
  }
}

// The first Accept entry the function can answer (PostgREST's negotiateContent): the vendored JSON types; a
// media type domain the function returns (`returns "image/png"`, or `"*/*"` for any); JSON; CSV.
std::optional<RpcMedia> Negotiate(const std::vector<MediaType>& accept, const Routine& routine,
                                  const DataApiService::MediaHandlers& handlers, bool plan_enabled) {
  const bool domain = routine.ReturnsSingle() && routine.return_domain.has_value();
  // Rows of a table type may go through that table's (or an anyelement) media handler aggregate.
  const std::string rel_key =
      routine.returns_composite ? routine.return_type_schema + "." + routine.return_type_name : std::string();
  auto handler = [&](const std::string& key, const std::string& mime) -> const DataApiService::MediaHandler* {
    if (!routine.returns_composite) return nullptr;
    const auto it = handlers.find({key, mime});
    return it == handlers.end() ? nullptr : &it->second;
  };
  auto custom = [&](std::string content_type) {
    return RpcMedia{RpcBody::kScalarText, std::move(content_type), routine.return_base_type == "bytea"};
  };
  for (const auto& mt : accept) {
    if (mt.kind == MediaTypeKind::kPlan && plan_enabled) {
      RpcMedia m{RpcBody::kJson, ToMime(mt) + "; charset=utf-8", false, {}, false, mt};
      return m;
    }
    if (mt.kind == MediaTypeKind::kSingularJson) return RpcMedia{RpcBody::kSingular, ContentTypeOf(mt), false};
    if (mt.kind == MediaTypeKind::kArrayJsonStripped) return RpcMedia{RpcBody::kJson, ContentTypeOf(mt), false};
    if (domain && *routine.return_domain == "*/*") return custom("application/octet-stream");
    if (domain && mt.kind != MediaTypeKind::kAny && *routine.return_domain == AsciiLower(ToMime(mt)))
      return custom(ContentTypeOf(mt));
    if (mt.kind != MediaTypeKind::kPlan) {
      const std::string mime = ToMime(mt);
      const DataApiService::MediaHandler* h = handler(rel_key, "*/*");
      const bool any_handler = h != nullptr;
      if (!h) h = handler(rel_key, mime);
      if (!h) h = handler("", mime);
      if (h) {
        RpcMedia m{RpcBody::kJson,
                   (any_handler || mt.kind == MediaTypeKind::kAny) ? std::string("application/octet-stream")
                                                                   : ContentTypeOf(mt),
                   false, {}, h->binary || h->jsonb};
        m.body_sql = DataApiService::HandlerBodySql(*h);
        return m;
      }
    }
    switch (mt.kind) {
      case MediaTypeKind::kApplicationJson:
      case MediaTypeKind::kAny: return RpcMedia{RpcBody::kJson, "application/json; charset=utf-8", false};
      case MediaTypeKind::kTextCsv: return RpcMedia{RpcBody::kCsv, ContentTypeOf(mt), false};
      default: break;
    }
  }
  return std::nullopt;
}

// bytea's text form "\x89504e47..." -> the bytes.
std::string DecodeByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return std::string(text);
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    const int hi = HexDigitValue(text[i]);
    const int lo = HexDigitValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::string(text);
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

ApiError MediaTypeError(const std::vector<MediaType>& accept) {
  std::string list;
  for (const auto& mt : accept) list += (list.empty() ? "" : ", ") + ToMime(mt);
  return MakeApiError(406, "PGRST107", "None of these media types are available: " + list);
}

const char* MethodName(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::delete_: return "DELETE";
    case bhttp::verb::patch: return "PATCH";
    case bhttp::verb::put: return "PUT";
    case bhttp::verb::options: return "OPTIONS";
    default: return nullptr;
  }
}

}  // namespace

boost::asio::awaitable<http::Response> DataApiService::HandleRpc(http::Request& req, std::string function) {
  const auto method = req.raw.method();
  const bool options = method == bhttp::verb::options;
  if (method != bhttp::verb::get && method != bhttp::verb::head && method != bhttp::verb::post && !options) {
    // PostgREST checks the method before parsing anything, after the JWT.
    auto identity = Authenticate(req);
    if (!identity) co_return Error(req, identity.error());
    const char* name = MethodName(method);
    co_return Error(req, MakeApiError(405, "PGRST101", std::string("Cannot use the ") +
                                                         (name ? name : std::string(req.raw.method_string())) +
                                                         " method on RPC"));
  }
  auto prepared = Prepare(req, true);
  if (!prepared) co_return Error(req, prepared.error());
  const Prepared& p = *prepared;
  const ApiRequest& api = p.api;
  // OPTIONS reads the arguments like GET.
  const Verb args_verb = options ? Verb::kGet : p.verb;
  auto args = ReadRpcArguments(api, args_verb, req.raw.body());
  if (!args) co_return Error(req, args.error());
  auto found = FindRoutine(p.snapshot->Routines(), p.schema, function, *args, api);
  if (!found) {
    ApiError missing = found.error();
    // EN-04: the "Perhaps you meant" hint only names functions the request's role may execute.
    if (missing.code == "PGRST202" && missing.hint && cfg_.hints_follow_privileges) {
      std::vector<std::string> names;
      for (const auto& [key, procs] : p.snapshot->Routines().All())
        if (key.first == p.schema) names.push_back(key.second);
      const std::vector<std::string> usable = co_await UsableNames(req, p.identity.role, p.schema, names, true);
      missing = NoRpcError(p.snapshot->Routines(), p.schema, function, *args, api, &usable);
    }
    co_return Error(req, missing);
  }
  const Routine& routine = **found;

  if (options) {
    // Response.infoProcResponse: a volatile function is only callable with POST.
    auto res = http::MakeResponse(req, bhttp::status::ok);
    res.set(bhttp::field::allow,
            routine.volatility == Volatility::kVolatile ? "OPTIONS,POST" : "OPTIONS,GET,HEAD,POST");
    co_return res;
  }

  if (api.prefer.handling == PreferHandling::kStrict && api.prefer.max_affected && routine.ReturnsSingle()) {
    co_return Error(req, MakeApiError(400, "PGRST128",
                                      "Function must return SETOF or TABLE when max-affected preference is used "
                                      "with handling=strict"));
  }
  const std::shared_ptr<const MediaHandlers> handlers = media_handlers_.load();
  const auto media = Negotiate(api.accept, routine, *handlers, cfg_.plan_enabled);
  if (!media) co_return Error(req, MediaTypeError(api.accept));
  if (auto strict = StrictPreferencesError(api.prefer, true)) co_return Error(req, *strict);
  const bool singular = media->body == RpcBody::kSingular;

  BuildContext ctx = Context(p);
  ctx.body_sql = media->body_sql;
  auto stmt = BuildRpc(api, routine, *args, ctx, media->body);
  if (!stmt) co_return Error(req, stmt.error());

  const bool read = p.verb == Verb::kGet || p.verb == Verb::kHead;
  ExecOptions opts;
  // GET/HEAD always read-only; POST only when the function promises not to write.
  opts.read_only = read || routine.volatility != Volatility::kVolatile;
  opts.singular = singular;
  opts.isolation = routine.isolation_level;
  if (api.prefer.handling == PreferHandling::kStrict && api.prefer.max_affected)
    opts.max_affected = api.prefer.max_affected;
  if (media->plan) {
    opts.explain = ExplainOptions(*media->plan);
    opts.explain_text = media->plan->plan_format == PlanFormat::kText;
    opts.singular = false;
    opts.max_affected.reset();
  }
  auto outcome = co_await Execute(req, p, *stmt, opts);
  if (!outcome) co_return Error(req, outcome.error());
  const Outcome& o = *outcome;
  if (media->plan) {
    auto res = http::MakeResponse(req, bhttp::status::ok, p.verb == Verb::kHead ? std::string() : o.body,
                                  media->content_type);
    auto finished = Finish(req, p, o, std::move(res));
    if (!finished) co_return Error(req, finished.error());
    co_return std::move(*finished);
  }

  // RangeQuery.rangeStatusHeader: 416 past the end, 206 for a partial page of a known total.
  const std::int64_t lower = api.range.offset;
  const std::int64_t upper = lower + o.page - 1;
  const std::string total_text = o.total ? std::to_string(*o.total) : std::string("*");
  const std::string content_range =
      (lower <= upper ? std::to_string(lower) + "-" + std::to_string(upper) : std::string("*")) + "/" + total_text;
  bhttp::status status = bhttp::status::ok;
  if (o.total && lower > *o.total) {
    auto e = MakeApiError(416, "PGRST103", "Requested range not satisfiable",
                          "An offset of " + std::to_string(lower) + " was requested, but there are only " +
                              std::to_string(*o.total) + " rows.");
    auto res = Error(req, e);
    res.set(bhttp::field::content_range, "*/" + total_text);
    co_return res;
  }
  if (o.total && (1 + upper - lower) < *o.total) status = bhttp::status::partial_content;

  // PostgREST's Preference-Applied for calls carries no return=, resolution= or missing=.
  Prepared shown = p;
  shown.api.prefer.returning.reset();
  shown.api.prefer.resolution.reset();
  shown.api.prefer.missing.reset();

  http::Response res;
  if (routine.ReturnsVoid()) {
    // A void function answers 204 without a body or Content-Type (response.status may still override it).
    res = http::MakeResponse(req, bhttp::status::no_content);
    res.erase(bhttp::field::content_length);
  } else {
    std::string body;
    if (p.verb != Verb::kHead) body = media->binary ? DecodeByteaHex(o.body) : o.body;
    if (media->base64 && p.verb != Verb::kHead) body = DecodeHandlerBody(body);
    res = http::MakeResponse(req, status, std::move(body), media->content_type);
    // PostgREST sends no Content-Length on HEAD.
    if (p.verb == Verb::kHead) res.erase(bhttp::field::content_length);
  }
  res.set(bhttp::field::content_range, content_range);
  auto finished = Finish(req, shown, o, std::move(res));
  if (!finished) co_return Error(req, finished.error());
  co_return std::move(*finished);
}

}  // namespace pgwarden::dataapi
