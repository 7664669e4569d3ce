#include "config/config.hpp"

#include <boost/url/parse.hpp>
#include <libpq-fe.h>
#include <toml++/toml.h>

#include <charconv>
#include <thread>

#include "core/text.hpp"

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

  // Data API (PostgREST's names)
  src.Bool({"PGWARDEN_DATA_API"}, c.data_api.enabled);
  if (auto v = src.Get({"PGRST_DB_SCHEMAS", "PGWARDEN_DATA_API_SCHEMAS"})) {
    c.data_api.schemas.clear();
    for (auto part : Split(*v, ',')) {
      part = Trim(part);
      if (!part.empty()) c.data_api.schemas.emplace_back(part);
    }
    if (c.data_api.schemas.empty()) errors.push_back("PGRST_DB_SCHEMAS: at least one schema is needed");
    for (const auto& sch : c.data_api.schemas)
      if (sch == "neon_auth" || sch == "pgwarden" || sch == "pg_catalog" || sch == "information_schema")
        errors.push_back("PGRST_DB_SCHEMAS: \"" + sch + "\" holds credentials or catalogs and is never exposed");
  }
  if (auto v = src.Get({"PGRST_DB_ANON_ROLE", "PGWARDEN_DATA_API_ANON_ROLE"})) c.data_api.anon_role = *v;
  if (auto v = src.Get({"PGRST_DB_MAX_ROWS", "PGWARDEN_DATA_API_MAX_ROWS"})) {
    long long rows = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), rows);
    if (ec != std::errc() || p != v->data() + v->size() || rows < 0) {
      errors.push_back("PGRST_DB_MAX_ROWS: expected a non-negative integer, got \"" + *v + "\"");
    } else {
      c.data_api.max_rows = rows == 0 ? std::nullopt : std::optional<std::int64_t>(rows);
    }
  }
  if (auto v = src.Get({"PGRST_JWT_SECRET"})) c.data_api.jwt_secret = *v;
  if (auto v = src.Get({"PGRST_JWT_AUD"})) c.data_api.jwt_aud = *v;

  if (auto v = src.Get({"PGWARDEN_LOG_LEVEL"})) {
    if (*v != "debug" && *v != "info" && *v != "warn" && *v != "error") {
      errors.push_back("PGWARDEN_LOG_LEVEL: expected debug, info, warn or error, got \"" + *v + "\"");
    } else {
      c.log_level = *v;
    }
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
