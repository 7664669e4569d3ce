#include "config/config.hpp"

#include <boost/url/parse.hpp>
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/jwk.hpp"

extern char** environ;

namespace pgwarden::config {
namespace {

struct Source {
  const std::map<std::string, std::string>& env;
  std::map<std::string, std::string> file;  // flattened TOML: key -> value text
  std::vector<std::string>& errors;

  std::optional<std::string> Get(std::initializer_list<const char*> names) const {
    for (const char* n : names) {
      if (auto it = env.find(n); it != env.end() && !it->second.empty()) return it->second;
    }
    for (const char* n : names) {
      if (auto it = file.find(n); it != file.end()) return it->second;
    }
    return std::nullopt;
  }
  template <class T>
  void Int(std::initializer_list<const char*> names, T& out, long long min, long long max) const {
    const auto v = Get(names);
    if (!v) return;
    long long x = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
    if (ec != std::errc() || p != v->data() + v->size() || x < min || x > max) {
      errors.push_back(std::string(*names.begin()) + ": expected an integer between " + std::to_string(min) +
                       " and " + std::to_string(max) + ", got \"" + *v + "\"");
      return;
    }
    out = static_cast<T>(x);
  }
  void Bool(std::initializer_list<const char*> names, bool& out) const {
    const auto v = Get(names);
    if (!v) return;
    const std::string s = AsciiLower(*v);
    if (s == "1" || s == "true" || s == "yes" || s == "on") {
      out = true;
    } else if (s == "0" || s == "false" || s == "no" || s == "off") {
      out = false;
    } else {
      errors.push_back(std::string(*names.begin()) + ": expected true or false, got \"" + *v + "\"");
    }
  }
};

// Flattens a TOML table: `[auth] secret = "x"` and top-level `secret = "x"` both become PGWARDEN_SECRET.
void Flatten(const toml::table& table, std::map<std::string, std::string>& out, std::vector<std::string>& errors) {
  for (const auto& [key, node] : table) {
    if (const auto* sub = node.as_table()) {
      Flatten(*sub, out, errors);
      continue;
    }
    std::string name = "PGWARDEN_";
    for (const char c : key.str()) name += (c == '-' || c == '.') ? '_' : static_cast<char>(std::toupper(c));
    if (key.str() == "database_url") name = "DATABASE_URL";
    if (const auto* arr = node.as_array()) {
      std::string joined;
      for (const auto& item : *arr) {
        if (const auto s = item.value<std::string>()) joined += (joined.empty() ? "" : ",") + *s;
      }
      out[name] = joined;
    } else if (const auto s = node.value<std::string>()) {
      out[name] = *s;
    } else if (const auto i = node.value<long long>()) {
      out[name] = std::to_string(*i);
    } else if (const auto b = node.value<bool>()) {
      out[name] = *b ? "true" : "false";
    } else {
      errors.push_back("config file: unsupported value for \"" + std::string(key.str()) + "\"");
    }
  }
}

std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  for (auto part : Split(v, ',')) {
    part = Trim(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

// jwt-role-claim-key: ".role", ".\"https://x.com/claims\".role" -> {"role"}, {"https://x.com/claims", "role"}.
std::optional<std::vector<std::string>> ParseClaimPath(std::string_view v) {
  std::vector<std::string> path;
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] != '.') return std::nullopt;
    ++i;
    std::string key;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') key += v[i++];
      if (i >= v.size()) return std::nullopt;
      ++i;
    } else {
      while (i < v.size() && v[i] != '.') key += v[i++];
    }
    if (key.empty()) return std::nullopt;
    path.push_back(std::move(key));
  }
  if (path.empty()) return std::nullopt;
  return path;
}

// A remote JWKS: https, or http on a loopback host (keys in clear text only on this machine); no userinfo.
bool IsValidJwksUrl(std::string_view url) {
  auto r = boost::urls::parse_uri(url);
  if (!r || r->has_userinfo() || r->has_fragment() || !r->has_authority() || r->encoded_host().empty()) return false;
  const std::string scheme = AsciiLower(r->scheme());
  if (scheme == "https") return true;
  if (scheme != "http") return false;
  if (r->host_type() == boost::urls::host_type::ipv6) return r->host_ipv6_address().is_loopback();
  if (r->host_type() == boost::urls::host_type::ipv4) return r->host_ipv4_address().is_loopback();
  return AsciiLower(std::string_view(r->encoded_host())) == "localhost";
}

// The Data API's settings (PostgREST's names). Values present but empty count for the list settings
// (PGRST_DB_EXTRA_SEARCH_PATH="" is an empty list, as in PostgREST).
void ReadDataApi(const Source& src, DataApiSettings& d, std::vector<std::string>& errors) {
  src.Bool({"PGWARDEN_DATA_API"}, d.enabled);
  if (auto v = src.Get({"PGRST_DB_SCHEMAS", "PGWARDEN_DATA_API_SCHEMAS"})) {
    d.schemas = SplitList(*v);
    if (d.schemas.empty()) errors.push_back("PGRST_DB_SCHEMAS: at least one schema is needed");
    for (const auto& sch : d.schemas)
      if (sch == "neon_auth" || sch == "pgwarden" || sch == "pg_catalog" || sch == "information_schema")
        errors.push_back("PGRST_DB_SCHEMAS: \"" + sch + "\" holds credentials or catalogs and is never exposed");
  }
  if (auto it = src.env.find("PGRST_DB_EXTRA_SEARCH_PATH"); it != src.env.end()) d.extra_search_path = SplitList(it->second);
  else if (auto v = src.Get({"PGWARDEN_DATA_API_EXTRA_SEARCH_PATH"})) d.extra_search_path = SplitList(*v);
  if (auto v = src.Get({"PGRST_DB_ANON_ROLE", "PGWARDEN_DATA_API_ANON_ROLE"})) d.anon_role = *v;
  else if (auto it = src.env.find("PGRST_DB_ANON_ROLE"); it != src.env.end()) d.anon_role.reset();  // set empty
  if (auto v = src.Get({"PGRST_DB_MAX_ROWS", "PGWARDEN_DATA_API_MAX_ROWS"})) {
    long long rows = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), rows);
    if (ec != std::errc() || p != v->data() + v->size() || rows < 0) {
      errors.push_back("PGRST_DB_MAX_ROWS: expected a non-negative integer, got \"" + *v + "\"");
    } else {
      d.max_rows = rows == 0 ? std::nullopt : std::optional<std::int64_t>(rows);
    }
  }
  src.Bool({"PGRST_JWT_SECRET_IS_BASE64"}, d.jwt_secret_is_base64);
  if (auto v = src.Get({"PGRST_JWT_SECRET"})) {
    d.jwt_secret = *v;
    if (d.jwt_secret_is_base64) {
      std::string b64 = *v;
      while (b64.size() % 4) b64 += '=';
      for (char& ch : b64) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
      if (auto raw = crypto::Base64Decode(b64)) d.jwt_secret = *raw;
      else errors.push_back("PGRST_JWT_SECRET: not valid base64 (PGRST_JWT_SECRET_IS_BASE64 is set)");
    }
    if (!d.jwt_secret.empty() && d.jwt_secret.front() != '{' && d.jwt_secret.size() < 32)
      errors.push_back("PGRST_JWT_SECRET: an HS256 secret needs at least 32 bytes");
    // '{': a public JWK or JWK Set (RS*/PS*/ES*/EdDSA), never an HMAC key.
    if (!d.jwt_secret.empty() && d.jwt_secret.front() == '{') {
      auto jwks = crypto::ParseJwkSet(d.jwt_secret);
      if (!jwks) {
        errors.push_back("PGRST_JWT_SECRET: not a usable JWK or JWK Set: " + std::string(jwks.error().Message()));
      } else if (jwks->keys.Empty()) {
        std::string why;
        for (const auto& s : jwks->skipped) why += (why.empty() ? "" : "; ") + s;
        errors.push_back("PGRST_JWT_SECRET: the JWK Set has no usable verification key (" + why + ")");
      }
    }
  }
  if (auto v = src.Get({"PGWARDEN_DATA_API_JWKS_URLS"})) {
    for (auto& url : SplitList(*v)) {
      if (IsValidJwksUrl(url)) d.jwks_urls.push_back(url);
      else errors.push_back("PGWARDEN_DATA_API_JWKS_URLS: \"" + url +
                            "\" is not an https URL (http only for localhost/loopback)");
    }
  }
  if (auto v = src.Get({"PGRST_JWT_AUD"})) d.jwt_aud = *v;
  if (auto v = src.Get({"PGRST_JWT_ROLE_CLAIM_KEY"})) {
    if (auto path = ParseClaimPath(*v)) d.jwt_role_claim_path = *path;
    else errors.push_back("PGRST_JWT_ROLE_CLAIM_KEY: expected a path like .role or .\"claims\".role, got \"" + *v + "\"");
  }
  if (auto it = src.env.find("PGWARDEN_DATA_API_ROLES"); it != src.env.end()) d.roles = SplitList(it->second);
  if (auto v = src.Get({"PGRST_DB_PRE_REQUEST"})) d.pre_request = *v;
  if (auto v = src.Get({"PGRST_DB_TX_END"})) {
    if (*v != "commit" && *v != "commit-allow-override" && *v != "rollback" && *v != "rollback-allow-override")
      errors.push_back("PGRST_DB_TX_END: expected commit, commit-allow-override, rollback or rollback-allow-override, got \"" + *v + "\"");
    else d.tx_end = *v;
  }
  src.Bool({"PGRST_DB_AGGREGATES_ENABLED"}, d.aggregates_enabled);
  if (auto v = src.Get({"PGRST_OPENAPI_MODE"})) {
    if (*v != "follow-privileges" && *v != "ignore-privileges" && *v != "disabled")
      errors.push_back("PGRST_OPENAPI_MODE: expected follow-privileges, ignore-privileges or disabled, got \"" + *v + "\"");
    else d.openapi_mode = *v;
  }
  if (auto v = src.Get({"PGRST_DB_ROOT_SPEC"})) d.root_spec = *v;
  if (auto v = src.Get({"PGRST_SERVER_CORS_ALLOWED_ORIGINS"})) d.cors_allowed_origins = SplitList(*v);
  src.Bool({"PGRST_SERVER_TIMING_ENABLED"}, d.server_timing);
  src.Bool({"PGRST_DB_PLAN_ENABLED"}, d.plan_enabled);
  if (auto v = src.Get({"PGRST_SERVER_TRACE_HEADER"})) d.trace_header = *v;
  src.Bool({"PGRST_OPENAPI_SECURITY_ACTIVE"}, d.openapi_security_active);
  if (auto v = src.Get({"PGRST_OPENAPI_SERVER_PROXY_URI"})) d.openapi_server_proxy_uri = *v;
  src.Int({"PGWARDEN_DATA_API_STATEMENT_TIMEOUT_MS"}, d.statement_timeout_ms, 0, 3600 * 1000);
  src.Int({"PGWARDEN_DATA_API_MAX_EMBED_DEPTH"}, d.max_embed_depth, 0, 64);
  src.Bool({"PGWARDEN_DATA_API_SAFE_UPDATE"}, d.safe_update);
  src.Bool({"PGWARDEN_DATA_API_COUNT_ESTIMATES"}, d.count_estimates);
  for (const auto& [k, v] : src.env) {
    if (k.rfind("PGRST_APP_SETTINGS_", 0) == 0 && k.size() > 19) d.app_settings[AsciiLower(k.substr(19))] = v;
  }
}

bool IsValidOriginPattern(std::string_view p) {
  if (p.find('*') != std::string_view::npos) return StartsWith(p, "http://") || StartsWith(p, "https://");
  return OriginOf(p).has_value();
}

}  // namespace

std::optional<std::string> OriginOf(std::string_view url) {
  auto r = boost::urls::parse_uri(url);  // absolute, fragment allowed (it is not part of the origin)
  if (!r) return std::nullopt;
  const std::string scheme = AsciiLower(r->scheme());
  if (scheme != "http" && scheme != "https") return std::nullopt;
  if (!r->has_authority() || r->encoded_host().empty()) return std::nullopt;
  if (r->has_userinfo()) return std::nullopt;
  std::string origin = scheme + "://" + AsciiLower(std::string_view(r->encoded_host()));
  if (r->has_port() && !r->port().empty()) {
    // Browsers' serialisation: the port as a number without leading zeros, default ports dropped, and
    // nothing but a path after it (Boost.URL 1.81 lets "host:443:x" through; boostorg/url#636).
    const std::string_view port = r->port();
    if (port.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;  // port 0 is no origin a browser sends
    const bool default_port = (scheme == "http" && value == 80) || (scheme == "https" && value == 443);
    if (!default_port) origin += ":" + std::to_string(value);
  }
  const std::string_view path = r->encoded_path();
  if (!path.empty() && path.front() != '/') return std::nullopt;
  return origin;
}

std::string DatabaseNameOf(std::string_view conninfo) {
  // libpq's own parser: URIs and key=value strings with spaces and quotes alike.
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(std::string(conninfo).c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return {};
  std::string name;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (std::string_view(o->keyword) == "dbname" && o->val) name = o->val;
  }
  PQconninfoFree(opts);
  return name;
}

// PGWARDEN_OAUTH_<ID>_CLIENT_ID (+ _CLIENT_SECRET, _ISSUER, endpoint overrides, _SCOPES) for every <ID> named in
// the environment or the config file.
void ReadOAuth(const Source& src, const std::map<std::string, std::string>& env, OAuthConfig& o,
               std::vector<std::string>& errors) {
  constexpr std::string_view kPrefix = "PGWARDEN_OAUTH_", kSuffix = "_CLIENT_ID";
  std::vector<std::string> ids;
  const auto collect = [&](const std::map<std::string, std::string>& m) {
    for (const auto& [k, v] : m) {
      if (k.size() > kPrefix.size() + kSuffix.size() && StartsWith(k, kPrefix) && k.ends_with(kSuffix)) {
        std::string id = k.substr(kPrefix.size(), k.size() - kPrefix.size() - kSuffix.size());
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
      }
    }
  };
  collect(env);
  collect(src.file);
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    const auto var = [&](std::string_view name) { return std::string(kPrefix) + id + "_" + std::string(name); };
    const auto get = [&](std::string_view name) { return src.Get({var(name).c_str()}).value_or(""); };
    OAuthProviderConfig p;
    p.client_id = get("CLIENT_ID");
    if (p.client_id.empty()) continue;
    for (const char ch : id) {
      if (!std::isupper(static_cast<unsigned char>(ch)) && !std::isdigit(static_cast<unsigned char>(ch)) && ch != '_') {
        errors.push_back(var("CLIENT_ID") + ": the provider name must be upper-case letters, digits and '_'");
        break;
      }
    }
    p.id = AsciiLower(id);
    std::replace(p.id.begin(), p.id.end(), '_', '-');
    p.client_secret = get("CLIENT_SECRET");
    p.issuer = get("ISSUER");
    p.authorization_url = get("AUTHORIZATION_URL");
    p.token_url = get("TOKEN_URL");
    p.user_url = get("USER_URL");
    p.emails_url = get("EMAILS_URL");
    if (const auto t = get("TENANT"); !t.empty()) p.tenant = t;
    const std::string scopes = get("SCOPES");  // Split returns views: the string must outlive them
    for (auto part : Split(scopes, ',')) {
      part = Trim(part);
      if (!part.empty()) p.scopes.emplace_back(part);
    }
    const bool builtin = p.id == "google" || p.id == "github" || p.id == "vercel" || p.id == "microsoft";
    if (!builtin && p.issuer.empty())
      errors.push_back(var("ISSUER") + ": required for an OpenID provider other than google, github, vercel, microsoft");
    if (p.client_secret.empty()) errors.push_back(var("CLIENT_SECRET") + ": required with " + var("CLIENT_ID"));
    for (const auto* url : {&p.issuer, &p.authorization_url, &p.token_url, &p.user_url, &p.emails_url}) {
      if (!url->empty() && !StartsWith(*url, "https://") && !StartsWith(*url, "http://"))
        errors.push_back("PGWARDEN_OAUTH_" + id + ": \"" + *url + "\" is not an http(s) URL");
    }
    o.providers.push_back(std::move(p));
  }
  src.Bool({"PGWARDEN_OAUTH_ALLOW_LOOPBACK"}, o.allow_loopback);
  o.ca_file = src.Get({"PGWARDEN_OAUTH_CA_FILE"}).value_or("");
  src.Int({"PGWARDEN_OAUTH_TIMEOUT_MS"}, o.timeout_ms, 100, 60000);
}

namespace {

// An IPv4/IPv6 address, optionally with a /prefix in range.
bool IsValidCidr(std::string_view v) {
  std::string addr(v);
  int bits = -1;
  if (const auto slash = v.find('/'); slash != std::string_view::npos) {
    addr = std::string(v.substr(0, slash));
    const std::string_view b = v.substr(slash + 1);
    const auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || p != b.data() + b.size() || bits < 0) return false;
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return bits <= 32;
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return bits <= 128;
  return false;
}

void ReadRateLimit(const Source& src, RateLimitConfig& r, std::vector<std::string>& errors) {
  src.Bool({"PGWARDEN_RATE_LIMIT"}, r.enabled);
  if (auto v = src.Get({"PGWARDEN_RATE_LIMIT_STORAGE"})) {
    if (*v == "database") {
      r.memory = false;
    } else if (*v == "memory") {
      r.memory = true;
    } else {
      errors.push_back("PGWARDEN_RATE_LIMIT_STORAGE: expected \"database\" or \"memory\", got \"" + *v + "\"");
    }
  }
  src.Int({"PGWARDEN_RATE_LIMIT_WINDOW"}, r.window_s, 1, 86400);
  src.Int({"PGWARDEN_RATE_LIMIT_MAX"}, r.max, 1, 1000000);
  if (auto v = src.Get({"PGWARDEN_RATE_LIMIT_RULES"})) {
    for (auto part : Split(*v, ',')) {
      part = Trim(part);
      if (part.empty()) continue;
      const auto eq = part.find('=');
      const std::string bad = "PGWARDEN_RATE_LIMIT_RULES: \"" + std::string(part) +
                              "\" is not /path=max/window or /path=off (path below /<db>/auth, '*' at the end for a prefix)";
      if (eq == std::string_view::npos || eq == 0 || part[0] != '/') {
        errors.push_back(bad);
        continue;
      }
      RateLimitRuleConfig rule;
      std::string_view path = Trim(part.substr(0, eq));
      const std::string_view spec = Trim(part.substr(eq + 1));
      if (path.back() == '*') {
        rule.prefix = true;
        path.remove_suffix(1);
      }
      if (path.find('*') != std::string_view::npos) {
        errors.push_back(bad);
        continue;
      }
      rule.path = std::string(path);
      if (spec == "off") {
        rule.off = true;
      } else {
        const auto slash = spec.find('/');
        int max = 0, window = 0;
        bool ok = slash != std::string_view::npos;
        if (ok) {
          const std::string_view m = spec.substr(0, slash), w = spec.substr(slash + 1);
          const auto r1 = std::from_chars(m.data(), m.data() + m.size(), max);
          const auto r2 = std::from_chars(w.data(), w.data() + w.size(), window);
          ok = r1.ec == std::errc() && r1.ptr == m.data() + m.size() && r2.ec == std::errc() &&
               r2.ptr == w.data() + w.size() && max >= 1 && window >= 1 && window <= 86400;
        }
        if (!ok) {
          errors.push_back(bad);
          continue;
        }
        rule.max = max;
        rule.window_s = window;
      }
      r.rules.push_back(std::move(rule));
    }
  }
  if (auto v = src.Get({"PGWARDEN_TRUSTED_PROXIES"})) {
    for (auto part : Split(*v, ',')) {
      part = Trim(part);
      if (part.empty()) continue;
      if (!IsValidCidr(part)) {
        errors.push_back("PGWARDEN_TRUSTED_PROXIES: \"" + std::string(part) + "\" is not an IP address or CIDR");
        continue;
      }
      r.trusted_proxies.emplace_back(part);
    }
  }
  src.Int({"PGWARDEN_RATE_LIMIT_MAIL_INTERVAL"}, r.mail_interval_s, 0, 86400);
  src.Int({"PGWARDEN_SIGN_IN_FAILURES"}, r.sign_in_failures, 0, 1000);
  src.Int({"PGWARDEN_SIGN_IN_FAILURE_WINDOW"}, r.sign_in_failure_window_s, 1, 86400);
  src.Int({"PGWARDEN_SIGN_IN_MAX_DELAY"}, r.sign_in_max_delay_s, 1, 86400);
}

}  // namespace

LoadResult Load(const std::map<std::string, std::string>& env, bool require_database) {
  LoadResult out;
  auto& errors = out.errors;
  Source src{env, {}, errors};
  Config& c = out.config;

  if (auto it = env.find("PGWARDEN_CONFIG"); it != env.end() && !it->second.empty()) {
    try {
      const toml::table t = toml::parse_file(it->second);
      Flatten(t, src.file, errors);
    } catch (const toml::parse_error& e) {
      errors.push_back("PGWARDEN_CONFIG: cannot read " + it->second + ": " + std::string(e.description()));
    }
  }

  // Database
  if (auto v = src.Get({"DATABASE_URL"})) c.db.url = *v;
  if (c.db.url.empty() && require_database) errors.push_back("DATABASE_URL: required (a libpq URI or conninfo)");
  c.db.database_name = src.Get({"PGWARDEN_DB_NAME"}).value_or(DatabaseNameOf(c.db.url));
  if (c.db.database_name.empty()) c.db.database_name = "neondb";
  for (const char ch : c.db.database_name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') {
      errors.push_back("PGWARDEN_DB_NAME: \"" + c.db.database_name +
                       "\" cannot be used as a URL path segment (letters, digits, '_' and '-' only)");
      break;
    }
  }
  src.Int({"PGWARDEN_DB_POOL_SIZE"}, c.db.pool_per_thread, 1, 64);

  // HTTP
  if (auto v = src.Get({"PGWARDEN_LISTEN"})) {
    const auto colon = v->rfind(':');
    int port = -1;
    if (colon != std::string::npos) {
      const auto* b = v->data() + colon + 1;
      const auto [p, ec] = std::from_chars(b, v->data() + v->size(), port);
      if (ec != std::errc() || p != v->data() + v->size()) port = -1;
    }
    if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
      errors.push_back("PGWARDEN_LISTEN: expected host:port (e.g. 127.0.0.1:3000), got \"" + *v + "\"");
    } else {
      c.http.host = v->substr(0, colon);
      if (c.http.host.size() > 2 && c.http.host.front() == '[' && c.http.host.back() == ']')
        c.http.host = c.http.host.substr(1, c.http.host.size() - 2);
      c.http.port = static_cast<std::uint16_t>(port);
    }
  }
  src.Int({"PGWARDEN_THREADS"}, c.http.threads, 0, 256);
  src.Int({"PGWARDEN_MAX_BODY_BYTES"}, c.http.max_body_bytes, 1024, 64 << 20);

  // Auth
  if (auto v = src.Get({"PGWARDEN_SECRET", "BETTER_AUTH_SECRET"})) c.auth.secret = *v;
  if (c.auth.secret.empty()) {
    errors.push_back("PGWARDEN_SECRET: required (also read as BETTER_AUTH_SECRET); at least 32 characters");
  } else if (c.auth.secret.size() < 32) {
    errors.push_back("PGWARDEN_SECRET: too short (" + std::to_string(c.auth.secret.size()) +
                     " characters); use at least 32 random characters");
  }
  // Port 0 (the kernel picks one) has no known public port yet: then the default base URL has none.
  const std::string default_base =
      c.http.port == 0 ? std::string("http://localhost") : "http://localhost:" + std::to_string(c.http.port);
  const std::string base = src.Get({"PGWARDEN_BASE_URL", "BETTER_AUTH_URL"}).value_or(default_base);
  if (auto o = OriginOf(base)) {
    c.auth.base_url = *o;
  } else {
    errors.push_back("PGWARDEN_BASE_URL: expected an http(s) origin such as https://auth.example.com, got \"" + base +
                     "\"");
  }
  if (auto v = src.Get({"PGWARDEN_TRUSTED_ORIGINS"})) {
    for (auto part : Split(*v, ',')) {
      part = Trim(part);
      if (part.empty()) continue;
      if (!IsValidOriginPattern(part)) {
        errors.push_back("PGWARDEN_TRUSTED_ORIGINS: \"" + std::string(part) +
                         "\" is not an origin (scheme://host[:port], '*' allowed in the host)");
        continue;
      }
      const auto o = OriginOf(part);
      c.auth.trusted_origins.push_back(o ? *o : AsciiLower(part));
    }
  }
  src.Bool({"PGWARDEN_TRUST_LOCALHOST"}, c.auth.trust_localhost);
  if (auto v = src.Get({"PGWARDEN_COOKIE_MODE"})) {
    if (*v == "lax") {
      c.auth.cookie_mode = CookieMode::kLax;
    } else if (*v == "cross-site") {
      c.auth.cookie_mode = CookieMode::kCrossSite;
    } else {
      errors.push_back("PGWARDEN_COOKIE_MODE: expected \"lax\" or \"cross-site\", got \"" + *v + "\"");
    }
  }
  src.Bool({"PGWARDEN_SECURE_COOKIES"}, c.auth.secure_cookies);
  if (c.auth.cookie_mode == CookieMode::kCrossSite && !c.auth.secure_cookies)
    errors.push_back("PGWARDEN_COOKIE_MODE: cross-site cookies need PGWARDEN_SECURE_COOKIES=true (SameSite=None)");
  src.Int({"PGWARDEN_SESSION_EXPIRES_IN"}, c.auth.session_expires_in_s, 60, 400LL * 24 * 3600);
  src.Int({"PGWARDEN_SESSION_UPDATE_AGE"}, c.auth.session_update_age_s, 0, 400LL * 24 * 3600);
  src.Int({"PGWARDEN_SESSION_FRESH_AGE"}, c.auth.session_fresh_age_s, 0, 400LL * 24 * 3600);
  src.Int({"PGWARDEN_SESSION_ABSOLUTE_MAX"}, c.auth.session_absolute_max_s, 0, 3650LL * 24 * 3600);
  src.Int({"PGWARDEN_JWT_TTL"}, c.auth.jwt_ttl_s, 30, 24 * 3600);
  c.auth.jwt_issuer = src.Get({"PGWARDEN_JWT_ISSUER"}).value_or(c.auth.base_url);
  c.auth.jwt_audience = src.Get({"PGWARDEN_JWT_AUDIENCE"}).value_or(c.auth.base_url);
  src.Bool({"PGWARDEN_ALLOW_ANONYMOUS"}, c.auth.allow_anonymous);
  src.Int({"PGWARDEN_ANONYMOUS_TTL"}, c.auth.anonymous_ttl_s, 30, 24 * 3600);
  src.Bool({"PGWARDEN_REQUIRE_EMAIL_VERIFICATION"}, c.auth.require_email_verification);
  src.Int({"PGWARDEN_MIN_PASSWORD_LENGTH"}, c.auth.min_password_length, 1, 128);
  src.Int({"PGWARDEN_MAX_PASSWORD_LENGTH"}, c.auth.max_password_length, 8, 1024);
  if (c.auth.min_password_length > c.auth.max_password_length)
    errors.push_back("PGWARDEN_MIN_PASSWORD_LENGTH: larger than PGWARDEN_MAX_PASSWORD_LENGTH");
  src.Int({"PGWARDEN_HASH_THREADS"}, c.auth.hash_threads, 0, 64);
  if (auto v = src.Get({"PGWARDEN_PASSWORD_DENYLIST"}))
    c.auth.password_denylist = *v == "common" ? std::string("/usr/share/john/password.lst") : *v;
  if (auto v = src.Get({"PGWARDEN_PASSWORD_HASH"})) {
    if (*v == "scrypt") {
      c.auth.password_hash = crypto::PasswordHashMode::kScrypt;
    } else if (*v == "argon2id") {
      c.auth.password_hash = crypto::PasswordHashMode::kArgon2id;
    } else {
      errors.push_back("PGWARDEN_PASSWORD_HASH: expected \"scrypt\" or \"argon2id\", got \"" + *v + "\"");
    }
  }

  // E-mail flows and delivery.
  auto& a = c.auth;
  a.send_verification_on_sign_up = a.require_email_verification;
  src.Bool({"PGWARDEN_SEND_VERIFICATION_ON_SIGN_UP"}, a.send_verification_on_sign_up);
  constexpr long long kDay = 24 * 3600;
  src.Int({"PGWARDEN_EMAIL_VERIFICATION_TTL"}, a.email_verification_ttl_s, 1, 30 * kDay);
  src.Int({"PGWARDEN_RESET_PASSWORD_TTL"}, a.reset_password_ttl_s, 1, 7 * kDay);
  src.Bool({"PGWARDEN_REVOKE_SESSIONS_ON_PASSWORD_RESET"}, a.revoke_sessions_on_password_reset);
  src.Int({"PGWARDEN_EMAIL_OTP_TTL"}, a.otp_ttl_s, 1, 3600);
  src.Int({"PGWARDEN_EMAIL_OTP_ATTEMPTS"}, a.otp_attempts, 1, 100);
  src.Int({"PGWARDEN_EMAIL_OTP_RESEND_INTERVAL"}, a.otp_resend_interval_s, 0, 3600);
  src.Bool({"PGWARDEN_EMAIL_OTP_VERIFY_CURRENT_EMAIL"}, a.otp_verify_current_email);
  src.Int({"PGWARDEN_MAGIC_LINK_TTL"}, a.magic_link_ttl_s, 1, kDay);
  src.Bool({"PGWARDEN_MAGIC_LINK_SIGN_UP"}, a.magic_link_sign_up);
  src.Bool({"PGWARDEN_DELETE_USER_VERIFICATION"}, a.delete_user_verification);
  src.Int({"PGWARDEN_DELETE_USER_TOKEN_TTL"}, a.delete_user_token_ttl_s, 1, 30 * kDay);
  if (auto v = src.Get({"PGWARDEN_APP_NAME"})) a.app_name = *v;
  if (a.app_name.empty() || a.app_name.size() > 100 || a.app_name.find_first_of("\r\n<>\"") != std::string::npos)
    errors.push_back("PGWARDEN_APP_NAME: 1 to 100 characters, without line breaks, '<', '>' or '\"'");
  c.mail.smtp_url = src.Get({"PGWARDEN_SMTP_URL"}).value_or("");
  if (!c.mail.smtp_url.empty() && !StartsWith(c.mail.smtp_url, "smtp://") && !StartsWith(c.mail.smtp_url, "smtps://"))
    errors.push_back("PGWARDEN_SMTP_URL: expected smtp://[user:password@]host[:port] or smtps://...");
  c.mail.smtp_ca_file = src.Get({"PGWARDEN_SMTP_CA_FILE"}).value_or("");
  src.Bool({"PGWARDEN_MAIL_CONSOLE"}, c.mail.console);
  c.mail.templates_dir = src.Get({"PGWARDEN_EMAIL_TEMPLATES"}).value_or("");
  if (auto v = src.Get({"PGWARDEN_EMAIL_FROM"})) {
    c.mail.from = *v;
    // One header line must stay well within RFC 5322's 998 characters.
    if (v->size() > 320) errors.push_back("PGWARDEN_EMAIL_FROM: longer than 320 characters");
  } else {
    std::string host = "localhost";
    if (const auto origin = OriginOf(c.auth.base_url)) {
      host = origin->substr(origin->find("://") + 3);
      if (const auto colon = host.rfind(':'); colon != std::string::npos && host.find(']') == std::string::npos)
        host = host.substr(0, colon);
    }
    c.mail.from = a.app_name + " <no-reply@" + host + ">";
  }

  ReadOAuth(src, env, c.oauth, errors);
  ReadDataApi(src, c.data_api, errors);
  ReadRateLimit(src, c.rate_limit, errors);

  if (auto v = src.Get({"PGWARDEN_LOG_LEVEL"})) {
    if (*v != "debug" && *v != "info" && *v != "warn" && *v != "error") {
      errors.push_back("PGWARDEN_LOG_LEVEL: expected debug, info, warn or error, got \"" + *v + "\"");
    } else {
      c.log_level = *v;
    }
  }
  return out;
}

LoadResult LoadRest(const std::map<std::string, std::string>& env) {
  LoadResult out;
  auto& errors = out.errors;
  Source src{env, {}, errors};
  Config& c = out.config;
  // PostgREST's defaults, then its settings.
  c.data_api.anon_role.reset();
  c.data_api.max_rows.reset();
  c.data_api.roles.clear();
  c.data_api.require_exp = false;
  c.data_api.strict_jwt = false;
  c.data_api.max_embed_depth = 0;
  c.data_api.safe_update = false;
  c.data_api.count_estimates = true;
  c.data_api.hints_follow_privileges = false;
  c.data_api.lint = false;
  c.data_api.statement_timeout_ms = 0;
  c.http.host = "0.0.0.0";
  ReadDataApi(src, c.data_api, errors);
  if (auto v = src.Get({"PGRST_DB_URI"})) c.db.url = *v;
  else errors.push_back("PGRST_DB_URI: required (e.g. postgresql://authenticator@localhost/app)");
  c.db.database_name = DatabaseNameOf(c.db.url);
  if (auto v = src.Get({"PGRST_SERVER_HOST"})) {
    // PostgREST's special hosts: !4 / *4 any IPv4, !6 / *6 / * any IPv6 (dual stack).
    c.http.host = (*v == "!4" || *v == "*4") ? "0.0.0.0" : (*v == "!6" || *v == "*6" || *v == "*") ? "::" : *v;
  }
  src.Int({"PGRST_SERVER_PORT"}, c.http.port, 0, 65535);
  int pool = 10;
  src.Int({"PGRST_DB_POOL"}, pool, 1, 1000);
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  c.data_api.pool_per_thread = std::max(1, (pool + threads - 1) / threads);
  if (auto v = src.Get({"PGRST_LOG_LEVEL"})) {
    c.log_level = *v == "crit" || *v == "error" ? "error" : *v == "warn" ? "warn" : *v == "debug" ? "debug" : "info";
  }
  return out;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace pgwarden::config
