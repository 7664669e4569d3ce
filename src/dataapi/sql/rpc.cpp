#include "dataapi/sql/rpc.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/json.hpp"
#include "dataapi/request/media_type.hpp"
#include "dataapi/request/query_params.hpp"

namespace pgwarden::dataapi {

namespace {

ApiError InvalidBody(std::string message) { return MakeApiError(400, "PGRST102", std::move(message)); }

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

bool IsRawContent(MediaTypeKind k) {
  return k == MediaTypeKind::kTextPlain || k == MediaTypeKind::kTextXml || k == MediaTypeKind::kOctetStream;
}

std::set<std::string> ObjectKeys(const boost::json::object& o) {
  std::set<std::string> keys;
  for (const auto& kv : o) keys.emplace(kv.key());
  return keys;
}

// ApiRequest/Payload.hs payloadAttributes for a JSON body of a call.
ApiResult<RpcArguments> JsonArguments(std::string_view body) {
  RpcArguments args;
  args.kind = RpcArguments::Kind::kJson;
  args.post = true;
  // An empty body is an empty object for a function call (PostgREST), so a function without parameters can be
  // called with no body at all.
  const std::string_view text = body.empty() ? std::string_view("{}") : body;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec) return InvalidBody("Empty or invalid json");
  if (v.is_object()) {
    args.keys = ObjectKeys(v.as_object());
    args.body = std::string(text);
    return args;
  }
  if (v.is_array()) {
    const auto& arr = v.as_array();
    if (arr.empty()) {
      args.body = "[]";
      return args;
    }
    if (!arr[0].is_object()) return InvalidBody("All object keys must match");
    const std::set<std::string> keys = ObjectKeys(arr[0].as_object());
    for (const auto& item : arr) {
      if (!item.is_object() || ObjectKeys(item.as_object()) != keys) return InvalidBody("All object keys must match");
    }
    args.keys = keys;
    args.body = std::string(text);
    return args;
  }
  // Any other JSON value counts as an empty array (PostgREST truncates it).
  args.body = "[]";
  return args;
}

// Plan.findProc's matchesParams.
bool MatchesParams(const Routine& r, const RpcArguments& args, const ApiRequest& api) {
  const auto& params = r.params;
  if (api.prefer.params_single_object) {
    return params.size() == 1 && (params[0].type == "json" || params[0].type == "jsonb");
  }
  if (params.empty()) return args.keys.empty() && !(args.post && IsRawContent(api.content_type.kind));
  std::set<std::string> required, optional;
  for (const auto& p : params) (p.required ? required : optional).insert(p.name);
  if (optional.empty()) return args.keys == required;
  if (required.empty()) return std::includes(optional.begin(), optional.end(), args.keys.begin(), args.keys.end());
  std::set<std::string> rest;
  std::set_difference(args.keys.begin(), args.keys.end(), optional.begin(), optional.end(),
                      std::inserter(rest, rest.end()));
  return rest == required;
}

// Plan.findProc's hasSingleUnnamedParam: one parameter (named or not) whose type fits the POST Content-Type.
bool HasSingleUnnamedParam(const Routine& r, const RpcArguments& args, const ApiRequest& api) {
  if (r.params.size() != 1 || !args.post) return false;
  const std::string& t = r.params[0].type;
  switch (api.content_type.kind) {
    case MediaTypeKind::kApplicationJson: return t == "json" || t == "jsonb";
    case MediaTypeKind::kTextPlain: return t == "text";
    case MediaTypeKind::kTextXml: return t == "xml";
    case MediaTypeKind::kOctetStream: return t == "bytea";
    default: return false;
  }
}

ApiError AmbiguousRpcError(const std::vector<const Routine*>& procs) {
  std::vector<std::string> sigs;
  for (const Routine* p : procs) {
    std::vector<std::string> params;
    for (const auto& a : p->params) params.push_back(a.name + " => " + a.type);
    sigs.push_back(p->schema + "." + p->name + "(" + Join(params, ", ") + ")");
  }
  auto e = MakeApiError(300, "PGRST203", "Could not choose the best candidate function between: " + Join(sigs, ", "));
  e.hint = "Try renaming the parameters or the function itself in the database so function overloading can be resolved";
  return e;
}

// ---------------------------------------------------------------------------------------------------------
// Data.FuzzySet (a port of fuzzyset.js): cosine similarity of 3-grams (then 2-grams when nothing shares a
// 3-gram), the best 50 re-ranked by normalized Levenshtein distance, 0.33 minimum.

std::string FuzzyLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::map<std::string, int> Grams(std::string_view value, size_t size) {
  std::string simplified = "-";
  for (const char c : FuzzyLower(value)) {
    const auto u = static_cast<unsigned char>(c);
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ',' || c == ' ' || u >= 0x80;
    if (keep) simplified += c;
  }
  simplified += '-';
  while (simplified.size() < size) simplified += '-';
  std::map<std::string, int> grams;
  for (size_t i = 0; i + size <= simplified.size(); ++i) ++grams[simplified.substr(i, size)];
  return grams;
}

size_t Levenshtein(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double Distance(std::string_view a, std::string_view b) {
  const size_t len = std::max(a.size(), b.size());
  if (len == 0) return 1.0;
  return 1.0 - static_cast<double>(Levenshtein(a, b)) / static_cast<double>(len);
}

}  // namespace

std::optional<std::string> FuzzyGetOne(const std::vector<std::string>& set, std::string_view value) {
  const std::string key = FuzzyLower(value);
  for (const auto& s : set)
    if (FuzzyLower(s) == key) return s;
  for (size_t size = 3; size >= 2; --size) {
    const auto query = Grams(value, size);
    double query_norm = 0;
    for (const auto& [g, n] : query) query_norm += static_cast<double>(n) * n;
    query_norm = std::sqrt(query_norm);
    std::vector<std::pair<double, size_t>> scored;
    for (size_t i = 0; i < set.size(); ++i) {
      const auto item = Grams(set[i], size);
      double dot = 0, norm = 0;
      for (const auto& [g, n] : item) {
        norm += static_cast<double>(n) * n;
        const auto it = query.find(g);
        if (it != query.end()) dot += static_cast<double>(n) * it->second;
      }
      if (dot > 0) scored.emplace_back(dot / (query_norm * std::sqrt(norm)), i);
    }
    if (scored.empty()) continue;
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (scored.size() > 50) scored.resize(50);
    for (auto& s : scored) s.first = Distance(FuzzyLower(set[s.second]), key);
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    // The first gram size with a match above the minimum score wins; otherwise try the smaller grams.
    if (scored.front().first >= 0.33) return set[scored.front().second];
  }
  return std::nullopt;
}

ApiResult<RpcArguments> ReadRpcArguments(const ApiRequest& api, Verb verb, std::string_view body) {
  RpcArguments args;
  if (verb != Verb::kPost) {
    for (const auto& a : api.rpc_args) {
      args.pairs.emplace_back(a.name, a.value);
      args.keys.insert(a.name);
    }
    return args;
  }
  args.post = true;
  switch (api.content_type.kind) {
    case MediaTypeKind::kApplicationJson: {
      if (api.columns) {
        // `columns=` names the arguments; the body goes to json_to_recordset as sent.
        args.kind = RpcArguments::Kind::kJson;
        args.body = body.empty() ? std::string("{}") : std::string(body);
        args.keys = std::set<std::string>(api.columns->begin(), api.columns->end());
        return args;
      }
      return JsonArguments(body);
    }
    case MediaTypeKind::kUrlEncoded: {
      auto decoded = DecodeQueryString(body);
      if (!decoded) return InvalidBody("Empty or invalid json");
      for (auto& p : *decoded) {
        args.keys.insert(p.key);
        args.pairs.emplace_back(std::move(p.key), p.value.value_or(""));
      }
      return args;
    }
    case MediaTypeKind::kTextPlain:
    case MediaTypeKind::kTextXml:
    case MediaTypeKind::kOctetStream:
      args.kind = RpcArguments::Kind::kRaw;
      args.body = std::string(body);
      return args;
    default: break;
  }
  return InvalidBody("Content-Type not acceptable: " + ToMime(api.content_type));
}

ApiError NoRpcError(const RoutineCache& routines, std::string_view schema, std::string_view name,
                    const RpcArguments& args, const ApiRequest& api, const std::vector<std::string>* usable) {
  const std::string func = std::string(schema) + "." + std::string(name);
  const std::vector<std::string> keys(args.keys.begin(), args.keys.end());
  const std::string prms = Join(keys, ", ");
  auto fmt = [&](const std::string& p) { return keys.empty() ? std::string(" without parameters") : p; };
  const std::string prms_msg = "(" + prms + ")";
  const std::string prms_det = std::string(" with parameter") + (keys.size() > 1 ? "s " : " ") + prms;
  const MediaTypeKind ct = api.content_type.kind;
  const bool single_object = api.prefer.params_single_object;
  const bool only_single = single_object || (args.post && IsRawContent(ct));
  const std::string message = "Could not find the function " + func + (only_single ? "" : fmt(prms_msg)) + " in the schema cache";
  std::string searched;
  if (single_object) searched = " with a single json/jsonb parameter";
  else if (args.post && ct == MediaTypeKind::kTextPlain) searched = " with a single unnamed text parameter";
  else if (args.post && ct == MediaTypeKind::kTextXml) searched = " with a single unnamed xml parameter";
  else if (args.post && ct == MediaTypeKind::kOctetStream) searched = " with a single unnamed bytea parameter";
  else if (args.post && ct == MediaTypeKind::kApplicationJson) searched = fmt(prms_det) + " or with a single unnamed json/jsonb parameter";
  else searched = fmt(prms_det);
  auto e = MakeApiError(404, "PGRST202", message,
                        "Searched for the function " + func + searched + ", but no matches were found in the schema cache.");
  if (only_single) return e;
  // Error.hs noRpcHint: a close function name in the schema, or a close parameter list of the overloads.
  const auto& overloads = routines.Find(schema, name);
  // EN-04: with a `usable` list, the hint names only functions the caller may execute.
  auto may_use = [usable](std::string_view n) {
    return !usable || std::find(usable->begin(), usable->end(), n) != usable->end();
  };
  std::optional<std::string> possible;
  if (overloads.empty()) {
    std::vector<std::string> names;
    for (const auto& [key, procs] : routines.All())
      if (key.first == schema && may_use(key.second)) names.push_back(key.second);
    possible = FuzzyGetOne(names, name);
  } else if (may_use(name)) {
    auto list_text = [](std::vector<std::string> items) {
      std::sort(items.begin(), items.end());
      return "(" + Join(items, ", ") + ")";
    };
    std::vector<std::string> lists;
    for (const auto& r : overloads) {
      std::vector<std::string> names;
      for (const auto& p : r.params) names.push_back(p.name);
      lists.push_back(list_text(names));
    }
    if (auto best = FuzzyGetOne(lists, list_text(keys))) possible = std::string(name) + *best;
  }
  if (possible) e.hint = "Perhaps you meant to call the function " + std::string(schema) + "." + *possible;
  return e;
}

ApiResult<const Routine*> FindRoutine(const RoutineCache& routines, std::string_view schema, std::string_view name,
                                      const RpcArguments& args, const ApiRequest& api) {
  const auto& procs = routines.Find(schema, name);
  std::vector<const Routine*> matches, fallbacks;
  for (const auto& r : procs) {
    if (MatchesParams(r, args, api)) matches.push_back(&r);
    else if (HasSingleUnnamedParam(r, args, api)) fallbacks.push_back(&r);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.size() > 1) return AmbiguousRpcError(matches);
  // No function with named parameters fits: fall back to the single unnamed parameter function.
  if (fallbacks.size() == 1) return fallbacks.front();
  if (fallbacks.size() > 1) return AmbiguousRpcError(fallbacks);
  return NoRpcError(routines, schema, name, args, api);
}

Relation ResultRelation(const Routine& routine, const SchemaCache* cache) {
  if (routine.returns_composite) {
    // Plan.callReadPlan reads the rows as the relation (function's schema, row type name), so a function
    // returning a table's rows embeds what the table embeds.
    if (cache) {
      if (const Relation* rel = cache->Find(routine.schema, routine.return_type_name)) return *rel;
    }
    Relation rel;
    rel.schema = routine.schema;
    rel.name = routine.return_type_name;
    for (const auto& c : routine.columns) rel.columns.push_back(Column{c.name, c.type, true, false});
    return rel;
  }
  Relation rel;
  rel.schema = routine.schema;
  rel.name = routine.name;
  rel.columns.push_back(Column{"pgrst_scalar", routine.return_type_name, true, false});
  return rel;
}

namespace {

// Plan/CallPlan.hs jsonRpcParams: {"a": "1", "b": "x"}; repeated keys: the last wins, except a variadic
// parameter, which collects them into an array.
std::string JsonRpcParams(const Routine& routine, const std::vector<std::pair<std::string, std::string>>& pairs) {
  auto is_variadic = [&](const std::string& k) {
    if (!routine.has_variadic) return false;
    return std::any_of(routine.params.begin(), routine.params.end(),
                       [&](const RoutineParam& p) { return p.variadic && p.name == k; });
  };
  boost::json::object obj;
  for (const auto& [k, v] : pairs) {
    if (is_variadic(k)) {
      auto* existing = obj.if_contains(k);
      if (existing && existing->is_array()) {
        existing->as_array().emplace_back(v);
      } else {
        boost::json::array arr;
        arr.emplace_back(v);
        obj[k] = std::move(arr);
      }
    } else {
      obj[k] = boost::json::string(v);
    }
  }
  return boost::json::serialize(obj);
}

std::string QualifiedFunction(const Routine& r) { return QuoteIdent(r.schema) + "." + QuoteIdent(r.name); }

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += kDigits[u >> 4];
    out += kDigits[u & 15];
  }
  return out;
}

// The json type for an object payload, jsonb otherwise (PostgREST: json_to_recordset is faster on objects).
bool IsJsonObjectText(std::string_view text) {
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{';
  }
  return false;
}

}  // namespace

RpcCall BuildCall(const Routine& routine, const RpcArguments& args, const ApiRequest& api) {
  RpcCall call;
  std::string arguments_json;
  switch (args.kind) {
    case RpcArguments::Kind::kPairs: arguments_json = JsonRpcParams(routine, args.pairs); break;
    case RpcArguments::Kind::kJson:
    case RpcArguments::Kind::kRaw: arguments_json = args.body; break;
  }
  // callIt (QueryBuilder.callPlanToQuery): how the function's result becomes rows.
  auto call_it = [&](const std::string& arguments) {
    const std::string fn = QualifiedFunction(routine) + "(" + arguments + ")";
    // A set of scalars is also called in a select list: `setof record` (no OUT parameters) cannot be called in
    // FROM without a column definition list, while its rows still print as objects with their names.
    if (routine.ReturnsScalar() || routine.ReturnsSetOfScalar()) return "(SELECT " + fn + ") pgrst_call(pgrst_scalar)";
    if (routine.returns_composite_alias) return "(SELECT (" + fn + ").*) pgrst_call";
    return fn + " pgrst_call";
  };
  const auto& params = routine.params;
  const bool one_positional = params.size() == 1 && (api.prefer.params_single_object || params[0].name.empty());
  if (one_positional) {
    const std::string& type = params[0].type;
    if (type == "bytea") {
      // Parameters travel as text: the body's bytes as bytea's hex input form.
      call.args_param = args.kind == RpcArguments::Kind::kRaw ? Hex(arguments_json) : arguments_json;
      call.sql = "SELECT pgrst_call.* FROM " + call_it("$1::bytea");
    } else {
      call.args_param = arguments_json;
      call.sql = "SELECT pgrst_call.* FROM " + call_it("$1::" + type);
    }
    return call;
  }
  // KeyParams: only the parameters the request names; the others keep their defaults.
  std::vector<const RoutineParam*> specified;
  for (const auto& p : params)
    if (args.keys.count(p.name)) specified.push_back(&p);
  if (specified.empty()) {
    call.sql = "SELECT pgrst_call.* FROM " + call_it("");
    return call;
  }
  const bool object = IsJsonObjectText(arguments_json);
  const std::string j = object ? "json" : "jsonb";
  std::string columns, named;
  for (const RoutineParam* p : specified) {
    if (!columns.empty()) {
      columns += ", ";
      named += ", ";
    }
    columns += QuoteIdent(p->name) + " " + p->record_type;
    named += (p->variadic ? "VARIADIC " : "") + QuoteIdent(p->name) + " := pgrst_body." + QuoteIdent(p->name);
  }
  call.args_param = arguments_json;
  call.sql = "SELECT pgrst_call.* FROM (SELECT $1::" + j + " AS json_data) pgrst_payload, " +
             "LATERAL (SELECT CASE WHEN " + j + "_typeof(pgrst_payload.json_data) = 'array' " +
             "THEN pgrst_payload.json_data ELSE " + j + "_build_array(pgrst_payload.json_data) END AS val) " +
             "pgrst_uniform_json, " +
             "LATERAL (SELECT * FROM " + j + "_to_recordset(pgrst_uniform_json.val) AS _(" + columns + ") LIMIT 1) " +
             "pgrst_body, LATERAL " + call_it(named);
  return call;
}

ApiResult<Statement> BuildRpc(const ApiRequest& api, const Routine& routine, const RpcArguments& args,
                              const BuildContext& ctx, RpcBody output) {
  const bool singular = output == RpcBody::kSingular;
  const RpcCall call = BuildCall(routine, args, api);
  const Relation rel = ResultRelation(routine, ctx.cache);
  BuildContext read_ctx = ctx;
  // The call runs once, in a materialized CTE; the read (and its count) select from it like a table.
  read_ctx.from_sql = "pgrst_call_result";
  read_ctx.leading_params.clear();
  if (call.args_param) read_ctx.leading_params.push_back(call.args_param);
  auto read = BuildRead(api, rel, read_ctx);
  if (!read) return read.error();
  // PostgREST's body per return type (Statements.hs asJsonF / asJsonSingleF).
  std::string body = "pgrst_read.body";
  if (routine.ReturnsScalar()) {
    body = singular ? "COALESCE((pgrst_read.body::json->'pgrst_scalar')::text, 'null')"
                    : "COALESCE((pgrst_read.body::json->0->'pgrst_scalar')::text, 'null')";
  } else if (routine.ReturnsSetOfScalar()) {
    body = singular ? "COALESCE((pgrst_read.body::json->'pgrst_scalar')::text, 'null')"
                    : "(SELECT COALESCE(pg_catalog.json_agg(e.v->'pgrst_scalar' ORDER BY e.i), '[]')::text "
                      "FROM pg_catalog.json_array_elements(pgrst_read.body::json) WITH ORDINALITY AS e(v, i))";
  } else if (routine.ReturnsSingleComposite() && !singular) {
    body = "COALESCE((pgrst_read.body::json->0)::text, 'null')";
  }
  if (output == RpcBody::kScalarText) {
    // The value as its type prints it (bytea as \x hex, decoded by the caller).
    body = "COALESCE(pgrst_read.body::json->0->>'pgrst_scalar', '')";
  } else if (output == RpcBody::kCsv) {
    // Statements.hs asCsvF: the header lists the call's columns (its first row), each row is printed as a
    // record's fields are (quoted when empty or holding a quote, backslash, parenthesis, comma or blank).
    body =
        "(SELECT COALESCE(pg_catalog.string_agg(a.k, ','), '') FROM (SELECT pg_catalog.json_object_keys("
        "pg_catalog.row_to_json(hh)) AS k FROM (SELECT * FROM pgrst_call_result LIMIT 1) hh) a) || E'\\n' || "
        "(SELECT COALESCE(pg_catalog.string_agg((SELECT pg_catalog.string_agg(CASE WHEN f.value IS NULL THEN '' "
        "WHEN f.value = '' OR f.value ~ '[\"\\\\(),[:space:]]' THEN '\"' || pg_catalog.replace(pg_catalog.replace("
        "f.value, E'\\\\', E'\\\\\\\\'), '\"', '\"\"') || '\"' ELSE f.value END, ',' ORDER BY f.o) "
        "FROM pg_catalog.json_each_text(r.v) WITH ORDINALITY AS f(key, value, o)), E'\\n' ORDER BY r.i), '') "
        "FROM pg_catalog.json_array_elements(pgrst_read.body::json) WITH ORDINALITY AS r(v, i))";
  }
  Statement stmt;
  stmt.sql = "WITH pgrst_call_result AS MATERIALIZED (" + call.sql + ") SELECT pgrst_read.total_result_set, " +
             "pgrst_read.page_total, " + body + " AS body FROM (" + read->sql + ") pgrst_read";
  stmt.params = std::move(read->params);
  return stmt;
}

}  // namespace pgwarden::dataapi
