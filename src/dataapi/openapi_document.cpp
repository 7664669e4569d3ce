#include "dataapi/openapi_document.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include "core/text.hpp"

namespace pgwarden::dataapi {
namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------------------
// The catalog statement's rows

std::optional<std::string> OptString(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return std::nullopt;
}

std::optional<std::int64_t> OptInt(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.as_uint64());
  return std::nullopt;
}

bool Bool(const json::value& v) { return v.is_bool() && v.as_bool(); }

std::optional<OpenApiColumn> ParseColumn(const json::value& v) {
  // [name, description, nullable, type, max_length, default, enum labels]
  if (!v.is_array() || v.as_array().size() < 7 || !v.as_array()[0].is_string()) return std::nullopt;
  const auto& a = v.as_array();
  OpenApiColumn c;
  c.name = std::string(a[0].as_string());
  c.description = OptString(a[1]);
  c.nullable = Bool(a[2]);
  c.type = OptString(a[3]).value_or("");
  c.max_length = OptInt(a[4]);
  c.default_expr = OptString(a[5]);
  if (a[6].is_array())
    for (const auto& e : a[6].as_array())
      if (e.is_string()) c.enum_values.emplace_back(e.as_string());
  return c;
}

std::optional<OpenApiTable> ParseTable(const json::value& v) {
  // [name, description, is_view, insertable, updatable, deletable, columns]
  if (!v.is_array() || v.as_array().size() < 7 || !v.as_array()[0].is_string()) return std::nullopt;
  const auto& a = v.as_array();
  OpenApiTable t;
  t.name = std::string(a[0].as_string());
  t.description = OptString(a[1]);
  t.is_view = Bool(a[2]);
  t.insertable = Bool(a[3]);
  t.updatable = Bool(a[4]);
  t.deletable = Bool(a[5]);
  if (a[6].is_array()) {
    for (const auto& c : a[6].as_array()) {
      auto col = ParseColumn(c);
      if (!col) return std::nullopt;
      t.columns.push_back(std::move(*col));
    }
  }
  return t;
}

std::optional<OpenApiRoutine> ParseRoutine(const json::value& v) {
  // [name, description, provolatile, [[name, type, required, variadic], ...]]
  if (!v.is_array() || v.as_array().size() < 4 || !v.as_array()[0].is_string()) return std::nullopt;
  const auto& a = v.as_array();
  OpenApiRoutine r;
  r.name = std::string(a[0].as_string());
  r.description = OptString(a[1]);
  const auto vol = OptString(a[2]).value_or("v");
  r.volatility = vol == "i" ? Volatility::kImmutable : vol == "s" ? Volatility::kStable : Volatility::kVolatile;
  if (a[3].is_array()) {
    for (const auto& p : a[3].as_array()) {
      if (!p.is_array() || p.as_array().size() < 4) return std::nullopt;
      const auto& pa = p.as_array();
      r.params.push_back(OpenApiParam{OptString(pa[0]).value_or(""), OptString(pa[1]).value_or(""), Bool(pa[2]),
                                      Bool(pa[3])});
    }
  }
  return r;
}

// PostgREST's Ord Routine for overloads of one name: fewer parameters first, then description (none first),
// then the parameters. Its path map keeps the last overload of that order.
bool RoutineLess(const OpenApiRoutine& a, const OpenApiRoutine& b) {
  if (a.params.size() != b.params.size()) return a.params.size() < b.params.size();
  if (a.description != b.description) return a.description < b.description;
  auto key = [](const OpenApiParam& p) { return std::tie(p.name, p.type, p.required, p.variadic); };
  return std::lexicographical_compare(a.params.begin(), a.params.end(), b.params.begin(), b.params.end(),
                                      [&](const OpenApiParam& x, const OpenApiParam& y) { return key(x) < key(y); });
}

// ---------------------------------------------------------------------------------------------------------
// Swagger types (OpenAPI.hs toSwaggerType)

std::optional<std::string_view> SwaggerType(std::string_view t) {
  if (t == "character varying" || t == "character" || t == "text") return "string";
  if (t == "boolean") return "boolean";
  if (t == "smallint" || t == "integer" || t == "bigint") return "integer";
  if (t == "numeric" || t == "real" || t == "double precision") return "number";
  if (t == "json" || t == "jsonb") return std::nullopt;
  if (t.size() >= 2 && t.substr(t.size() - 2) == "[]") return "array";
  return "string";
}

std::string_view ElementType(std::string_view t) { return t.size() >= 2 ? t.substr(0, t.size() - 2) : t; }

// makePropertyItems: for an array type, `items` with the element's type (an empty object for json[]).
std::optional<json::object> PropertyItems(std::string_view t) {
  if (SwaggerType(t) != std::optional<std::string_view>("array")) return std::nullopt;
  json::object items;
  if (const auto et = SwaggerType(ElementType(t))) items["type"] = *et;
  return items;
}

// parseDefault + aeson's decode: a string type's default loses its `::type` suffix and surrounding quotes and
// is read as a JSON string; any other default is read as JSON as it is (`42`, `false`); what is not JSON is
// left out.
std::optional<json::value> DefaultValue(std::string_view type, std::string_view expr) {
  std::string text;
  if (SwaggerType(type) == std::optional<std::string_view>("string")) {
    std::string_view d = expr;
    const std::string suffix = "::" + std::string(type);
    if (d.size() >= suffix.size() && d.substr(d.size() - suffix.size()) == suffix) {
      d = d.substr(0, d.size() - suffix.size());
      while (!d.empty() && d.front() == '\'') d.remove_prefix(1);
      while (!d.empty() && d.back() == '\'') d.remove_suffix(1);
    }
    text = "\"" + std::string(d) + "\"";
  } else {
    text = std::string(expr);
  }
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

// "first line" / "the rest without leading newlines" of a comment (T.breakOn "\n").
std::pair<std::string, std::string> SplitSummary(std::string_view d) {
  const auto nl = d.find('\n');
  if (nl == std::string_view::npos) return {std::string(d), std::string()};
  std::string_view rest = d.substr(nl);
  while (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
  return {std::string(d.substr(0, nl)), std::string(rest)};
}

json::array MimeList(std::initializer_list<std::string_view> mimes) {
  json::array a;
  for (const auto m : mimes) a.emplace_back(m);
  return a;
}

json::object Ref(std::string_view target) {
  json::object o;
  o["$ref"] = target;
  return o;
}

json::object Response(std::string_view description) {
  json::object o;
  o["description"] = description;
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// definitions

json::object Property(const OpenApiColumn& col) {
  json::object s;
  if (col.default_expr)
    if (auto d = DefaultValue(col.type, *col.default_expr)) s["default"] = std::move(*d);
  std::vector<std::string> notes{"Note:"};
  if (col.primary_key) notes.emplace_back("This is a Primary Key.<pk/>");
  if (col.foreign_key) {
    const auto& [t, c] = *col.foreign_key;
    notes.push_back("This is a Foreign Key to `" + t + "." + c + "`.<fk table='" + t + "' column='" + c + "'/>");
  }
  if (notes.size() > 1) {
    std::string d = col.description ? *col.description + "\n\n" : std::string();
    for (size_t i = 0; i < notes.size(); ++i) d += (i ? "\n" : "") + notes[i];
    s["description"] = d;
  } else if (col.description) {
    s["description"] = *col.description;
  }
  if (!col.enum_values.empty()) {
    json::array e;
    for (const auto& v : col.enum_values) e.emplace_back(v);
    s["enum"] = std::move(e);
  }
  s["format"] = col.type;
  if (col.max_length) s["maxLength"] = *col.max_length;
  if (const auto t = SwaggerType(col.type)) s["type"] = *t;
  if (auto items = PropertyItems(col.type)) s["items"] = std::move(*items);
  return s;
}

json::object TableDefinition(const OpenApiTable& t) {
  json::object s;
  if (t.description) s["description"] = *t.description;
  s["type"] = "object";
  json::object props;
  json::array required;
  for (const auto& c : t.columns) {
    props[c.name] = Property(c);
    if (!c.nullable) required.emplace_back(c.name);
  }
  if (!props.empty()) s["properties"] = std::move(props);
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// parameters

json::object HeaderOrQueryParam(std::string_view name, std::optional<std::string_view> description,
                                std::string_view in) {
  json::object p;
  p["name"] = name;
  if (description) p["description"] = *description;
  p["required"] = false;
  p["in"] = in;
  p["type"] = "string";
  return p;
}

json::object PreferParam(std::initializer_list<std::string_view> values) {
  auto p = HeaderOrQueryParam("Prefer", "Preference", "header");
  if (values.size() > 0) p["enum"] = MimeList(values);  // an empty enum is left out (preferParams)
  return p;
}

json::object ParameterDefinitions(const std::vector<OpenApiTable>& tables) {
  json::object params;
  params["preferParams"] = PreferParam({});
  params["preferReturn"] = PreferParam({"return=representation", "return=minimal", "return=none"});
  params["preferCount"] = PreferParam({"count=none"});
  params["preferPost"] = PreferParam({"return=representation", "return=minimal", "return=none",
                                      "resolution=ignore-duplicates", "resolution=merge-duplicates"});
  params["select"] = HeaderOrQueryParam("select", "Filtering Columns", "query");
  params["on_conflict"] = HeaderOrQueryParam("on_conflict", "On Conflict", "query");
  params["order"] = HeaderOrQueryParam("order", "Ordering", "query");
  params["range"] = HeaderOrQueryParam("Range", "Limiting and Pagination", "header");
  auto range_unit = HeaderOrQueryParam("Range-Unit", "Limiting and Pagination", "header");
  range_unit["default"] = "items";
  params["rangeUnit"] = std::move(range_unit);
  params["offset"] = HeaderOrQueryParam("offset", "Limiting and Pagination", "query");
  params["limit"] = HeaderOrQueryParam("limit", "Limiting and Pagination", "query");
  for (const auto& t : tables) {
    json::object body;
    body["name"] = t.name;
    body["description"] = t.name;
    body["required"] = false;
    body["in"] = "body";
    body["schema"] = Ref("#/definitions/" + t.name);
    params["body." + t.name] = std::move(body);
    for (const auto& c : t.columns) {
      params["rowFilter." + t.name + "." + c.name] =
          HeaderOrQueryParam(c.name, c.description ? std::optional<std::string_view>(*c.description) : std::nullopt,
                             "query");
    }
  }
  return params;
}

// ---------------------------------------------------------------------------------------------------------
// paths

// tags, summary and description shared by a path's operations.
json::object BaseOperation(std::string_view tag, const std::optional<std::string>& description) {
  json::object op;
  json::array tags;
  tags.emplace_back(tag);
  op["tags"] = std::move(tags);
  if (description) {
    auto [summary, rest] = SplitSummary(*description);
    op["summary"] = summary;
    if (!rest.empty()) op["description"] = rest;
  }
  return op;
}

json::array Refs(const std::vector<std::string>& names) {
  json::array a;
  for (const auto& n : names) a.push_back(Ref("#/parameters/" + n));
  return a;
}

json::object TablePathItem(const OpenApiTable& t) {
  std::vector<std::string> filters;
  for (const auto& c : t.columns) filters.push_back("rowFilter." + t.name + "." + c.name);
  const auto base = BaseOperation(t.name, t.description);
  auto with = [&](std::vector<std::string> tail) {
    std::vector<std::string> all = filters;
    all.insert(all.end(), tail.begin(), tail.end());
    return all;
  };

  json::object item;
  json::object get = base;
  get["parameters"] = Refs(with({"select", "order", "range", "rangeUnit", "offset", "limit", "preferCount"}));
  json::object get_responses;
  json::object ok = Response("OK");
  json::object schema;
  schema["type"] = "array";
  schema["items"] = Ref("#/definitions/" + t.name);
  ok["schema"] = std::move(schema);
  get_responses["200"] = std::move(ok);
  get_responses["206"] = Response("Partial Content");
  get["responses"] = std::move(get_responses);
  item["get"] = std::move(get);
  if (!(t.insertable || t.updatable || t.deletable)) return item;

  json::object post = base;
  post["parameters"] = Refs({"body." + t.name, "select", "preferPost"});
  json::object post_responses;
  post_responses["201"] = Response("Created");
  post["responses"] = std::move(post_responses);
  item["post"] = std::move(post);

  json::object no_content;
  no_content["204"] = Response("No Content");
  json::object patch = base;
  patch["parameters"] = Refs(with({"body." + t.name, "preferReturn"}));
  patch["responses"] = no_content;
  item["patch"] = std::move(patch);

  json::object del = base;
  del["parameters"] = Refs(with({"preferReturn"}));
  del["responses"] = std::move(no_content);
  item["delete"] = std::move(del);
  return item;
}

// makeProcGetParam: a query parameter per argument; VARIADIC ones repeat (collectionFormat multi).
json::object RoutineGetParam(const OpenApiParam& p) {
  json::object o;
  o["name"] = p.name;
  o["required"] = p.required;
  o["in"] = "query";
  const auto type = SwaggerType(p.type);
  if (p.variadic) {
    o["type"] = type.value_or("string");
    o["collectionFormat"] = "multi";
    json::object items;
    if (const auto et = SwaggerType(ElementType(p.type))) items["type"] = *et;
    items["format"] = ElementType(p.type);
    o["items"] = std::move(items);
  } else {
    o["format"] = p.type;
    // Query parameters need a type: arrays ({a,b}) and json are strings there.
    o["type"] = !type || *type == "array" ? std::string_view("string") : *type;
  }
  return o;
}

json::object RoutineBodySchema(const OpenApiRoutine& r) {
  json::object s;
  if (r.description) s["description"] = *r.description;
  s["type"] = "object";
  json::object props;
  json::array required;
  for (const auto& p : r.params) {
    json::object prop;
    if (const auto t = SwaggerType(p.type)) prop["type"] = *t;
    if (auto items = PropertyItems(p.type)) prop["items"] = std::move(*items);
    prop["format"] = p.type;
    props[p.name] = std::move(prop);
    if (p.required) required.emplace_back(p.name);
  }
  if (!props.empty()) s["properties"] = std::move(props);
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

json::object RoutinePathItem(const OpenApiRoutine& r) {
  json::object op = BaseOperation("(rpc) " + r.name, r.description);
  op["produces"] = MimeList({"application/json", "application/vnd.pgrst.object+json;nulls=stripped",
                             "application/vnd.pgrst.object+json"});
  json::object responses;
  responses["200"] = Response("OK");
  op["responses"] = std::move(responses);

  json::object item;
  if (r.volatility != Volatility::kVolatile) {
    json::object get = op;
    json::array params;
    for (const auto& p : r.params) params.push_back(RoutineGetParam(p));
    get["parameters"] = std::move(params);
    item["get"] = std::move(get);
  }
  json::object post = op;
  json::array params;
  json::object args;
  args["name"] = "args";
  args["required"] = true;
  args["in"] = "body";
  args["schema"] = RoutineBodySchema(r);
  params.push_back(std::move(args));
  params.push_back(Ref("#/parameters/preferParams"));
  post["parameters"] = std::move(params);
  item["post"] = std::move(post);
  return item;
}

json::object RootPathItem() {
  json::object get;
  json::array tags;
  tags.emplace_back("Introspection");
  get["tags"] = std::move(tags);
  get["summary"] = "OpenAPI description (this document)";
  get["produces"] = MimeList({"application/openapi+json", "application/json"});
  json::object responses;
  responses["200"] = Response("OK");
  get["responses"] = std::move(responses);
  json::object item;
  item["get"] = std::move(get);
  return item;
}

}  // namespace

std::optional<OpenApiCatalog> ParseOpenApiCatalog(std::string_view text) {
  json::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_array() || v.as_array().size() < 5) return std::nullopt;
  const auto& a = v.as_array();
  OpenApiCatalog cat;
  cat.schema_description = OptString(a[2]);
  if (a[3].is_array()) {
    for (const auto& t : a[3].as_array()) {
      auto table = ParseTable(t);
      if (!table) return std::nullopt;
      cat.tables.push_back(std::move(*table));
    }
  }
  const json::value& routines = a[0].is_array() ? a[0] : a[4];
  std::map<std::string, std::vector<OpenApiRoutine>> by_name;
  if (routines.is_array()) {
    for (const auto& r : routines.as_array()) {
      auto routine = ParseRoutine(r);
      if (!routine) return std::nullopt;
      by_name[routine->name].push_back(std::move(*routine));
    }
  }
  for (auto& [name, overloads] : by_name) {
    std::stable_sort(overloads.begin(), overloads.end(), RoutineLess);
    cat.routines.push_back(std::move(overloads.back()));
  }
  return cat;
}

OpenApiServer OpenApiServerFor(const std::optional<std::string>& proxy_uri, std::string_view server_host,
                               std::int64_t server_port) {
  OpenApiServer s;
  auto escape = [](std::string_view h) {
    return h == "*" || h == "*4" || h == "!4" || h == "*6" || h == "!6" ? std::string("0.0.0.0") : std::string(h);
  };
  s.host = escape(server_host);
  s.port = server_port;
  if (!proxy_uri) return s;
  // Config.isMalformedProxyUri: an absolute http(s) URI with a host, without query or fragment.
  auto u = boost::urls::parse_uri(*proxy_uri);
  if (!u || u->has_query() || u->has_fragment() || !u->has_authority() || u->encoded_host().empty()) return s;
  const std::string scheme = AsciiLower(u->scheme());
  if (scheme != "http" && scheme != "https") return s;
  s.scheme = scheme;
  s.host = escape(std::string_view(u->encoded_host()));
  s.port = scheme == "https" ? 443 : 80;
  if (u->has_port()) {
    const std::string_view port = u->port();
    std::int64_t n = 0;
    const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), n);
    s.port = err == std::errc() && end == port.data() + port.size() ? n : 80;
  }
  const std::string_view path = u->encoded_path();
  s.base_path = path.empty() ? std::string("/") : std::string(path);
  return s;
}

std::string BuildOpenApiDocument(const OpenApiCatalog& cat, const OpenApiServer& server) {
  json::object doc;
  doc["swagger"] = "2.0";

  json::object info;
  std::optional<std::pair<std::string, std::string>> title_desc;
  if (cat.schema_description) title_desc = SplitSummary(*cat.schema_description);
  info["description"] = title_desc ? title_desc->second : std::string("This is a dynamic API generated by PostgREST");
  info["title"] = title_desc ? title_desc->first : std::string("PostgREST API");
  info["version"] = server.version;
  doc["info"] = std::move(info);

  json::object docs;
  docs["description"] = "PostgREST Documentation";
  docs["url"] = "https://postgrest.org/en/" + server.docs_version + "/references/api.html";
  doc["externalDocs"] = std::move(docs);
  doc["host"] = server.host + ":" + std::to_string(server.port);
  doc["basePath"] = server.base_path;
  json::array schemes;
  schemes.emplace_back(server.scheme);
  doc["schemes"] = std::move(schemes);
  const auto mimes = MimeList({"application/json", "application/vnd.pgrst.object+json;nulls=stripped",
                               "application/vnd.pgrst.object+json", "text/csv"});
  doc["consumes"] = mimes;
  doc["produces"] = mimes;

  json::object paths;
  paths["/"] = RootPathItem();
  for (const auto& t : cat.tables) paths["/" + t.name] = TablePathItem(t);
  for (const auto& r : cat.routines) paths["/rpc/" + r.name] = RoutinePathItem(r);
  doc["paths"] = std::move(paths);

  json::object definitions;
  for (const auto& t : cat.tables) definitions[t.name] = TableDefinition(t);
  if (!definitions.empty()) doc["definitions"] = std::move(definitions);
  doc["parameters"] = ParameterDefinitions(cat.tables);

  if (server.security_active) {
    json::object jwt;
    jwt["description"] = "Add the token prepending \"Bearer \" (without quotes) to it";
    jwt["in"] = "header";
    jwt["name"] = "Authorization";
    jwt["type"] = "apiKey";
    json::object defs;
    defs["JWT"] = std::move(jwt);
    doc["securityDefinitions"] = std::move(defs);
    json::object requirement;
    requirement["JWT"] = json::array();
    json::array security;
    security.push_back(std::move(requirement));
    doc["security"] = std::move(security);
  }
  return json::serialize(doc);
}

}  // namespace pgwarden::dataapi
