//! The HTTP request path of src/http/server.cpp + src/app/app.cpp on raw connection bytes:
//! Beast's request_parser<string_body> with our limits (header 16 KiB, body 1 MiB, eager as async_read), up to
//! 8 pipelined requests sharing one buffer as in Server::Session; then for each request: the target split into
//! path/query, the app's dispatch (auth prefix, OPTIONS preflight, Router::Find against a router with exact and
//! ":param" routes, 404 + ApplyCors), Request::Query for the names handlers read, Request::Cookie for the
//! session cookies then UriComponentDecode + VerifySignedCookieValue (AuthService::FindSession), the Bearer
//! header, the CSRF origin check (Origin, or OriginOf(Referer), against OriginMatcher) and ParseForm bodies.
//! Properties:
//!  - parsing does not depend on how the bytes arrive: delivered at once or in small chunks, the same requests
//!    are read (and an error at the same request, though Beast may name a different error);
//!  - Router::Find: an exact route is returned only for its own path and method; a ":param" route yields one
//!    non-empty decoded value per parameter; Find(p) != nullptr implies Knows(p);
//!  - Request::Query(name) agrees with ParseForm(query) whenever ParseForm accepts the query;
//!    FormDecode(s) == UriComponentDecode(s with '+' as ' ');
//!  - a Cookie value never contains ';'; no response header value we set contains CR, LF or NUL.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/text.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "fuzz_check.hpp"
#include "http/cors.hpp"
#include "http/request.hpp"
#include "http/router.hpp"

using namespace pgwarden;
using namespace pgwarden::http;
namespace net = boost::asio;

namespace {

constexpr std::size_t kMaxHeaderBytes = 16 << 10;  // ServerOptions / HttpConfig defaults
constexpr std::size_t kMaxBodyBytes = 1 << 20;
constexpr int kMaxRequestsPerConnection = 8;
constexpr std::string_view kSecret = "oracle-test-secret-0123456789abcdef0123456789abcdef";
const std::string kAuthPrefix = "/neondb/auth";

//! A SyncReadStream serving `data` in reads of at most `chunk` bytes, then EOF (the peer closing).
struct ChunkedStream {
  std::string_view data;
  std::size_t chunk;
  std::size_t pos = 0;

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::beast::error_code& ec) {
    if (pos == data.size()) {
      ec = net::error::eof;
      return 0;
    }
    const std::size_t n =
        net::buffer_copy(buffers, net::buffer(data.data() + pos, std::min(chunk, data.size() - pos)));
    pos += n;
    ec = {};
    return n;
  }
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    boost::beast::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
};

struct Outcome {
  boost::beast::error_code ec;
  RawRequest msg;
};

//! Server::Session's read loop: a fresh parser with our limits per request, one buffer for the connection.
std::vector<Outcome> ReadConnection(std::string_view wire, std::size_t chunk) {
  std::vector<Outcome> out;
  ChunkedStream stream{wire, chunk};
  boost::beast::flat_buffer buffer;
  for (int i = 0; i < kMaxRequestsPerConnection; ++i) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    parser.body_limit(kMaxBodyBytes);
    Outcome o;
    bhttp::read(stream, buffer, parser, o.ec);  // sets eager(true), as async_read does
    if (!o.ec) o.msg = parser.release();
    const bool stop = static_cast<bool>(o.ec);
    out.push_back(std::move(o));
    if (stop) break;
  }
  return out;
}

bool SameMessage(const RawRequest& a, const RawRequest& b) {
  if (a.method_string() != b.method_string() || a.target() != b.target() || a.version() != b.version() ||
      a.body() != b.body())
    return false;
  auto ia = a.begin(), ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    if (ia->name_string() != ib->name_string() || ia->value() != ib->value()) return false;
  }
  return ia == a.end() && ib == b.end();
}

struct RouteHandler {
  int id;
  boost::asio::awaitable<Response> operator()(Request&) const { return {}; }
};

struct RouteSpec {
  bhttp::verb method;
  std::string pattern;
};

const std::vector<RouteSpec>& Routes() {
  static const std::vector<RouteSpec> routes = [] {
    using bhttp::verb;
    std::vector<RouteSpec> r;
    for (const char* p : {"/ok", "/error", "/get-session", "/list-sessions", "/token", "/jwks", "/jwt",
                          "/.well-known/jwks.json", "/token/anonymous", "/list-accounts"})
      r.push_back({verb::get, kAuthPrefix + p});
    for (const char* p : {"/sign-up/email", "/sign-in/email", "/get-session", "/sign-out", "/revoke-session",
                          "/revoke-sessions", "/revoke-other-sessions", "/revoke-all-sessions", "/update-session",
                          "/update-user", "/change-password", "/verify-password", "/delete-user"})
      r.push_back({verb::post, kAuthPrefix + p});
    r.push_back({verb::get, "/health/live"});
    r.push_back({verb::get, "/health/ready"});
    r.push_back({verb::get, "/:db/rest/v1/:table"});
    r.push_back({verb::post, "/:db/rest/v1/:table"});
    r.push_back({verb::get, "/:db/rest/v1/rpc/:fn"});
    r.push_back({verb::get, "/:db/auth/user/:id/sessions"});
    return r;
  }();
  return routes;
}

const Router& TheRouter() {
  static const Router router = [] {
    Router r;
    const auto& routes = Routes();
    for (std::size_t i = 0; i < routes.size(); ++i)
      r.Add(routes[i].method, routes[i].pattern, RouteHandler{static_cast<int>(i)});
    return r;
  }();
  return router;
}

const OriginMatcher& TheOrigins() {
  static const OriginMatcher m({"https://app.example.com", "https://*.example.com"}, /*trust_localhost=*/true);
  return m;
}

CorsPolicy TheCors() {  // AuthService's policy
  CorsPolicy c;
  c.origins = &TheOrigins();
  c.credentials = true;
  c.allow_methods = "GET, POST, OPTIONS";
  c.allow_headers = "content-type, authorization, x-neon-client-info, x-neon-auth-middleware";
  c.expose_headers = "set-auth-jwt, set-auth-token";
  return c;
}

void CheckResponseHeaders(const Response& res) {
  for (const auto& f : res) {
    for (const char c : f.value()) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

void CheckFind(const Request& req) {
  const Router& router = TheRouter();
  std::vector<std::string> params;
  const Handler* h = router.Find(req.raw.method(), req.path, params);
  if (!h) return;
  FUZZ_CHECK(router.Knows(req.path));
  const RouteHandler* rh = h->target<RouteHandler>();
  FUZZ_CHECK(rh != nullptr);
  const RouteSpec& spec = Routes()[static_cast<std::size_t>(rh->id)];
  FUZZ_CHECK(spec.method == req.raw.method());
  if (spec.pattern.find("/:") == std::string::npos) {
    FUZZ_CHECK(spec.pattern == req.path);
    return;
  }
  const auto pattern_segments = Split(spec.pattern, '/');
  const auto path_segments = Split(req.path, '/');
  FUZZ_CHECK(pattern_segments.size() == path_segments.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < pattern_segments.size(); ++i) {
    if (!pattern_segments[i].empty() && pattern_segments[i][0] == ':') {
      FUZZ_CHECK(n < params.size() && !params[n].empty());
      FUZZ_CHECK(FormDecode(path_segments[i]) == params[n]);
      ++n;
    } else {
      FUZZ_CHECK(pattern_segments[i] == path_segments[i]);
    }
  }
  FUZZ_CHECK(n == params.size());
}

void CheckQuery(const Request& req) {
  const auto form = ParseForm(req.query);
  for (const std::string_view name : {"token", "callbackURL", "disableCookieCache", "disableRefresh", "limit",
                                      "error", "a b", "x+y"}) {
    const auto got = req.Query(name);
    if (!form) continue;
    std::optional<std::string> expected;
    for (const auto& [k, v] : *form) {
      if (k == name) {
        expected = v;
        break;
      }
    }
    FUZZ_CHECK(got == expected);
  }
}

void CheckFormDecode(std::string_view s) {
  std::string plus_as_space(s);
  std::replace(plus_as_space.begin(), plus_as_space.end(), '+', ' ');
  FUZZ_CHECK(FormDecode(s) == crypto::UriComponentDecode(plus_as_space));
}

//! AuthService::FindSession's token sources.
void ReadSession(const Request& req) {
  auto raw = req.Cookie("__Secure-neon-auth.session_token");
  if (!raw) raw = req.Cookie("__Secure-neonauth.session_token");
  if (raw) {
    FUZZ_CHECK(raw->find(';') == std::string_view::npos);
    if (auto decoded = crypto::UriComponentDecode(*raw)) (void)crypto::VerifySignedCookieValue(kSecret, *decoded);
  }
  if (auto dr = req.Cookie("__Secure-neon-auth.dont_remember")) {
    FUZZ_CHECK(dr->find(';') == std::string_view::npos);
    if (auto decoded = crypto::UriComponentDecode(*dr)) (void)crypto::VerifySignedCookieValue(kSecret, *decoded);
  }
  const auto auth = Trim(req.Header(bhttp::field::authorization));
  if (auth.size() > 7 && IEquals(auth.substr(0, 7), "bearer ")) {
    const auto value = Trim(auth.substr(7));
    if (value.find('.') != std::string_view::npos) {
      if (auto decoded = crypto::UriComponentDecode(value)) (void)crypto::VerifySignedCookieValue(kSecret, *decoded);
    }
  }
}

//! AuthService::CheckOrigin's origin source.
void CheckOriginHeader(const Request& req) {
  std::string origin(Trim(req.Header(bhttp::field::origin)));
  if (origin.empty()) {
    const auto referer = Trim(req.Header(bhttp::field::referer));
    if (!referer.empty()) origin = config::OriginOf(referer).value_or(std::string(referer));
  }
  if (!origin.empty() && origin != "null") (void)TheOrigins().Matches(origin);
  (void)AsciiLower(req.Header("sec-fetch-site"));
}

void Serve(RawRequest msg) {
  Request req;
  req.raw = std::move(msg);
  req.remote_ip = "127.0.0.1";
  const std::string_view target(req.raw.target());
  const auto q = target.find('?');
  req.path = target.substr(0, q);
  req.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);

  const CorsPolicy cors = TheCors();
  const bool is_auth = req.path.size() > kAuthPrefix.size() &&
                       req.path.substr(0, kAuthPrefix.size()) == kAuthPrefix && req.path[kAuthPrefix.size()] == '/';
  if (req.raw.method() == bhttp::verb::options && is_auth) CheckResponseHeaders(Preflight(cors, req));
  CheckFind(req);
  CheckQuery(req);
  CheckFormDecode(req.query);
  ReadSession(req);
  CheckOriginHeader(req);
  const auto ct = AsciiLower(Trim(Split(req.Header(bhttp::field::content_type), ';')[0]));
  if (ct == "application/x-www-form-urlencoded") (void)ParseForm(req.raw.body());

  Response res = MakeResponse(req, bhttp::status::not_found);
  res.set(bhttp::field::access_control_expose_headers, "set-auth-token");
  if (is_auth) ApplyCors(cors, req, res);
  CheckResponseHeaders(res);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view wire = fuzz::AsView(data, size);

  std::vector<Outcome> whole = ReadConnection(wire, SIZE_MAX);
  const std::size_t chunk = size == 0 ? 1 : 1 + (static_cast<unsigned char>(wire[size - 1]) % 31);
  const std::vector<Outcome> pieces = ReadConnection(wire, chunk);
  for (std::size_t i = 0; i < std::min(whole.size(), pieces.size()); ++i) {
    if (static_cast<bool>(whole[i].ec) != static_cast<bool>(pieces[i].ec))
      std::fprintf(stderr, "request %zu: at once -> \"%s\", in %zu-byte reads -> \"%s\"\n", i,
                   whole[i].ec.message().c_str(), chunk, pieces[i].ec.message().c_str());
  }
  FUZZ_CHECK(whole.size() == pieces.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    // Which error is reported may differ: with the start line in one piece Beast diagnoses it (e.g. "bad
    // version") at once, otherwise it first waits for the end of the header (then "partial message" at EOF).
    // Either way the server answers 4xx and closes; what must not differ is success vs failure.
    FUZZ_CHECK(static_cast<bool>(whole[i].ec) == static_cast<bool>(pieces[i].ec));
    FUZZ_CHECK(SameMessage(whole[i].msg, pieces[i].msg));
  }

  for (auto& o : whole)
    if (!o.ec) Serve(std::move(o.msg));
  return 0;
}
