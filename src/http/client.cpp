//! Client: one request per connection under one deadline. Coroutines here follow decisions D11: state by
//! value (shared_ptr<State>, the request moved into the frame), named lambdas, no initializer lists (the one
//! log line is written from the constructor, not a coroutine).
#include "http/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "core/log.hpp"
#include "core/text.hpp"

namespace pgwarden::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct Client::State {
  explicit State(ClientOptions o) : options(std::move(o)) {}
  ClientOptions options;
  asio::ssl::context tls{asio::ssl::context::tls_client};
};

namespace {

namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Endpoints = std::vector<tcp::endpoint>;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

//! Where one URL points.
struct Target {
  bool tls = true;
  std::string host;                     //!< to resolve, verify and send as SNI (IPv6 without brackets)
  std::optional<asio::ip::address> ip;  //!< the host when it is an IP literal: no lookup, no SNI
  std::uint16_t port = 0;
  std::string host_header;  //!< Host: host, with ":port" when not the scheme's default
  std::string path;         //!< path + query, as sent
  std::string display;      //!< for messages: scheme://host:port/path (no query: it may hold a secret)
};

Error Fail(std::string message) { return MakeError(ErrorCode::kServiceUnavailable, std::move(message)); }

Error Fail(const Target& t, std::string what) { return Fail(what + " (" + t.display + ")"); }

Result<Target> ParseTarget(std::string_view url) {
  auto r = boost::urls::parse_uri(url);
  // The URL itself is never echoed: its query may carry a secret.
  if (!r) return Fail("invalid URL");
  Target t;
  const std::string scheme = AsciiLower(r->scheme());
  if (scheme != "https" && scheme != "http") return Fail("invalid URL: the scheme must be http or https");
  t.tls = scheme == "https";
  if (r->has_userinfo()) return Fail("invalid URL: user info is not allowed");
  if (!r->has_authority() || r->encoded_host().empty()) return Fail("invalid URL: no host");
  switch (r->host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6: {
      t.host = r->host_type() == boost::urls::host_type::ipv6 ? r->host_ipv6_address().to_string()
                                                              : r->host_ipv4_address().to_string();
      boost::system::error_code ec;
      t.ip = asio::ip::make_address(t.host, ec);
      if (ec) return Fail("invalid URL: bad IP address");
      break;
    }
    case boost::urls::host_type::name:
      t.host = AsciiLower(r->encoded_host());
      // Percent-encoded (or otherwise odd) names would be looked up, verified and sent in different forms.
      if (t.host.find('%') != std::string::npos) return Fail("invalid URL: encoded host name");
      break;
    default:
      return Fail("invalid URL: unsupported host");
  }
  const std::uint16_t default_port = t.tls ? 443 : 80;
  t.port = default_port;
  if (r->has_port() && !r->port().empty()) {
    const auto digits = r->port();
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || p != digits.data() + digits.size() || value == 0 || value > 65535)
      return Fail("invalid URL: bad port");
    t.port = static_cast<std::uint16_t>(value);
  }
  const std::string bracketed = t.ip && t.ip->is_v6() ? "[" + t.host + "]" : t.host;
  t.host_header = bracketed;
  if (t.port != default_port) t.host_header += ":" + std::to_string(t.port);
  t.path = r->encoded_path().empty() ? "/" : std::string(r->encoded_path());
  if (t.path.front() != '/') return Fail("invalid URL: relative path");
  t.display = scheme + "://" + bracketed + ":" + std::to_string(t.port) + t.path;
  if (r->has_query()) t.path += "?" + std::string(r->encoded_query());
  return t;  // a fragment is never sent
}

AddressKind ClassifyV4(const asio::ip::address_v4& address) {
  const auto b = address.to_bytes();
  if (b[0] == 0) return AddressKind::kUnspecified;  // 0.0.0.0/8: "this network"; 0.0.0.0 reaches this host
  if (b[0] == 127) return AddressKind::kLoopback;
  if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168)) return AddressKind::kPrivate;
  if (b[0] == 169 && b[1] == 254) return AddressKind::kLinkLocal;       // cloud metadata (169.254.169.254) lives here
  if (b[0] == 100 && (b[1] & 0xc0) == 64) return AddressKind::kShared;  // CGNAT; some clouds' metadata too
  if (b[0] >= 224 && b[0] <= 239) return AddressKind::kMulticast;
  if (b[0] >= 240) return AddressKind::kReserved;  // 240/4 and the broadcast address
  if (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) return AddressKind::kReserved;  // IETF, TEST-NET-1
  if (b[0] == 198 && (b[1] & 0xfe) == 18) return AddressKind::kReserved;                    // benchmarking
  if ((b[0] == 198 && b[1] == 51 && b[2] == 100) || (b[0] == 203 && b[1] == 0 && b[2] == 113))
    return AddressKind::kReserved;  // TEST-NET-2, TEST-NET-3
  return AddressKind::kPublic;
}

asio::ip::address_v4 V4At(const asio::ip::address_v6::bytes_type& b, std::size_t at) {
  return asio::ip::address_v4(asio::ip::address_v4::bytes_type{b[at], b[at + 1], b[at + 2], b[at + 3]});
}

//! Whether an address may be a target: nullopt when it may, else why not.
std::optional<std::string> Refusal(const asio::ip::address& address, bool tls, const ClientOptions& o) {
  const AddressKind kind = ClassifyAddress(address);
  bool allowed = false;
  switch (kind) {
    case AddressKind::kPublic:
      allowed = true;
      break;
    case AddressKind::kLoopback:
      allowed = o.allow_loopback;
      break;
    case AddressKind::kPrivate:
    case AddressKind::kLinkLocal:
    case AddressKind::kShared:
    case AddressKind::kReserved:
      allowed = o.allow_private;
      break;
    case AddressKind::kUnspecified:
    case AddressKind::kMulticast:
      allowed = false;
      break;
  }
  if (!allowed) return "refused address " + address.to_string() + " (" + std::string(AddressKindName(kind)) + ")";
  // Clear text only on this machine, whatever allow_private says.
  if (!tls && kind != AddressKind::kLoopback) return "refused plain http to " + address.to_string() + " (not loopback)";
  return std::nullopt;
}

//! `step: reason`, with a timeout said as such (Beast's message speaks of a closed socket).
std::string StepError(std::string_view step, const boost::system::error_code& ec, const ClientOptions& o) {
  if (ec == beast::error::timeout)
    return std::string(step) + ": timed out (" + std::to_string(o.timeout.count()) + " ms for the whole exchange)";
  return std::string(step) + ": " + ec.message();
}

//! A header name is an RFC 9110 token; a value has no CR, LF or NUL (no header injection).
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool IsHeaderValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

Result<bhttp::request<bhttp::string_body>> BuildRequest(const Target& t, const ClientRequest& in) {
  switch (in.method) {
    case bhttp::verb::unknown:
    case bhttp::verb::connect:
    case bhttp::verb::trace:
      return Fail("unsupported request method");
    default:
      break;
  }
  bhttp::request<bhttp::string_body> req;
  req.method(in.method);
  req.target(t.path);
  req.version(11);
  req.set(bhttp::field::host, t.host_header);
  for (const auto& [name, value] : in.headers) {
    // Values are never echoed: one may be an Authorization header.
    if (!IsToken(name)) return Fail("invalid request header name");
    if (!IsHeaderValue(value)) return Fail("invalid value for request header " + name);
    if (IEquals(name, "host") || IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
        IEquals(name, "connection"))
      return Fail("request header " + name + " is set by the client");
    req.insert(name, value);
  }
  if (req.find(bhttp::field::user_agent) == req.end()) req.set(bhttp::field::user_agent, "pgwarden");
  if (!in.content_type.empty()) {
    if (!IsHeaderValue(in.content_type)) return Fail("invalid content type");
    req.set(bhttp::field::content_type, in.content_type);
  }
  req.set(bhttp::field::connection, "close");
  const bool expects_body =
      in.method == bhttp::verb::post || in.method == bhttp::verb::put || in.method == bhttp::verb::patch;
  if (!in.body.empty() || expects_body) req.content_length(in.body.size());
  req.body() = in.body;
  return req;
}

//! The addresses to connect to, each one checked. IP literals skip the lookup. The lookup runs on Asio's
//! resolver thread (getaddrinfo blocks and cannot be interrupted), so the deadline is a timer raced against
//! it: at the deadline this coroutine goes on with an error and the lookup's late answer is dropped. (A hung
//! lookup still occupies that io_context's one resolver thread until getaddrinfo gives up.)
asio::awaitable<Result<Endpoints>> Resolve(const Target& t, const ClientOptions& o, Clock::time_point deadline) {
  Endpoints endpoints;
  if (t.ip) {
    endpoints.emplace_back(*t.ip, t.port);
  } else {
    struct Pending {
      explicit Pending(const asio::any_io_executor& ex) : resolver(ex), wake(ex) {}
      tcp::resolver resolver;
      asio::steady_timer wake;
      bool done = false;
      boost::system::error_code ec;
      tcp::resolver::results_type results;
    };
    auto ex = co_await asio::this_coro::executor;
    auto pending = std::make_shared<Pending>(ex);
    pending->wake.expires_at(deadline);
    // Holds `pending` alive until the lookup ends, even when this coroutine has given up on it.
    auto on_resolved = [pending](const boost::system::error_code& ec, tcp::resolver::results_type results) {
      pending->done = true;
      pending->ec = ec;
      pending->results = std::move(results);
      pending->wake.cancel();
    };
    pending->resolver.async_resolve(t.host, std::to_string(t.port), tcp::resolver::numeric_service, on_resolved);
    auto [wec] = co_await pending->wake.async_wait(kNoThrow);
    (void)wec;
    if (!pending->done) {
      pending->resolver.cancel();  // best effort: drops the lookup if it has not started yet
      co_return Fail(t, StepError("resolve", beast::error::timeout, o));
    }
    if (pending->ec) co_return Fail(t, StepError("resolve", pending->ec, o));
    for (const auto& entry : pending->results) endpoints.push_back(entry.endpoint());
  }
  if (endpoints.empty()) co_return Fail(t, "resolve: no address");
  // Every address is checked, not only the first: the connect below may use any of them.
  for (const auto& endpoint : endpoints) {
    if (auto refusal = Refusal(endpoint.address(), t.tls, o)) co_return Fail(t, std::move(*refusal));
  }
  co_return endpoints;
}

using IoResult = std::tuple<boost::system::error_code, std::size_t>;

//! The connection as bytes, plain TCP or TLS over it, so that Exchange speaks HTTP over either without being a
//! template: Beast's composed async read/write instantiated for both stream types made this file the slowest
//! of the whole build (minutes per compile). Parsing is Beast's parser, fed synchronously.
class Wire {
 public:
  virtual ~Wire() = default;
  virtual asio::awaitable<IoResult> Write(asio::const_buffer data) = 0;
  virtual asio::awaitable<IoResult> ReadSome(asio::mutable_buffer into) = 0;
};

template <class Stream>
class StreamWire final : public Wire {
 public:
  explicit StreamWire(Stream& stream) : stream_(stream) {}
  asio::awaitable<IoResult> Write(asio::const_buffer data) override {
    co_return co_await asio::async_write(stream_, data, kNoThrow);
  }
  asio::awaitable<IoResult> ReadSome(asio::mutable_buffer into) override {
    co_return co_await stream_.async_read_some(into, kNoThrow);
  }

 private:
  Stream& stream_;
};

constexpr std::size_t kReadChunk = 16 * 1024;

//! Writes the request, then reads responses until a final one (interim 1xx are skipped). `lowest` carries the
//! deadline for every read and write.
asio::awaitable<Result<ClientResponse>> Exchange(Wire& wire, beast::tcp_stream& lowest, const Target& t,
                                                 const std::string& request_bytes, bool head,
                                                 const ClientOptions& o, Clock::time_point deadline) {
  lowest.expires_at(deadline);
  const asio::const_buffer out_bytes = asio::buffer(request_bytes);
  auto [wec, written] = co_await wire.Write(out_bytes);
  (void)written;
  if (wec) co_return Fail(t, StepError("write", wec, o));
  // Bytes read and not yet parsed: at most a header block and one read (the body goes to the parser at once).
  beast::flat_buffer buffer(o.max_header_bytes + kReadChunk);
  bool eof = false;
  for (;;) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser.body_limit(o.max_body_bytes);  // a larger answer is refused, never buffered
    parser.eager(true);
    if (head) parser.skip(true);
    boost::system::error_code ec;
    while (!parser.is_done()) {
      if (buffer.size() > 0) {
        const std::size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == bhttp::error::need_more) {
          ec = {};
          if (used > 0 && buffer.size() > 0) continue;  // the parser took a part; offer it the rest
        } else if (ec || parser.is_done()) {
          break;
        }
      }
      if (eof) {
        if (!parser.got_some()) {
          ec = bhttp::error::end_of_stream;
        } else {
          parser.put_eof(ec);  // completes an EOF-delimited body; a truncated message is partial_message
        }
        break;
      }
      const std::size_t room = std::min(kReadChunk, buffer.max_size() - buffer.size());
      if (room == 0) {
        ec = bhttp::error::header_limit;
        break;
      }
      const asio::mutable_buffer into = buffer.prepare(room);
      lowest.expires_at(deadline);
      auto [rec, got] = co_await wire.ReadSome(into);
      buffer.commit(got);
      if (rec == asio::error::eof) {
        eof = true;
      } else if (rec) {
        ec = rec;
        break;
      }
    }
    if (ec == bhttp::error::body_limit)
      co_return Fail(t, "read: response body larger than " + std::to_string(o.max_body_bytes) + " bytes");
    if (ec == bhttp::error::header_limit)
      co_return Fail(t, "read: response header larger than " + std::to_string(o.max_header_bytes) + " bytes");
    if (ec == bhttp::error::end_of_stream) co_return Fail(t, "read: connection closed before a response");
    if (ec) co_return Fail(t, StepError("read", ec, o));
    auto res = parser.release();
    const int status = res.result_int();
    if (status >= 100 && status < 200 && status != 101) continue;  // interim (100 Continue): the answer follows
    ClientResponse out;
    out.status = status;
    for (const auto& field : res)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(res.body());
    // Redirects are not followed: a 3xx goes back to the caller, who trusts only the URLs it configured.
    co_return out;
  }
}

std::string Serialize(const bhttp::request<bhttp::string_body>& req) {
  std::ostringstream os;
  os << req;
  return std::move(os).str();
}

std::string VerifyFailure(SSL* handle) {
  const long result = SSL_get_verify_result(handle);
  return result == X509_V_OK ? std::string() : std::string(" (") + X509_verify_cert_error_string(result) + ")";
}

asio::awaitable<Result<ClientResponse>> FetchImpl(std::shared_ptr<Client::State> st, ClientRequest request) {
  const ClientOptions& o = st->options;
  const auto deadline = Clock::now() + o.timeout;  // one deadline for every step below
  auto target = ParseTarget(request.url);
  if (!target) co_return target.error();
  const Target& t = *target;
  auto req = BuildRequest(t, request);
  if (!req) co_return req.error();
  auto endpoints = co_await Resolve(t, o, deadline);
  if (!endpoints) co_return endpoints.error();

  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream tcp(ex);
  tcp.expires_at(deadline);
  // Only the checked addresses: no second lookup that a rebinding DNS could answer differently.
  auto [cec, endpoint] = co_await tcp.async_connect(*endpoints, kNoThrow);
  (void)endpoint;
  if (cec) co_return Fail(t, StepError("connect", cec, o));
  const std::string request_bytes = Serialize(*req);
  const bool head = req->method() == bhttp::verb::head;
  if (!t.tls) {
    StreamWire<beast::tcp_stream> wire(tcp);
    auto out = co_await Exchange(wire, tcp, t, request_bytes, head, o, deadline);
    co_return out;
  }

  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), st->tls);
  SSL* handle = stream.native_handle();
  // verify_peer on the context checks the chain; these lines tie the certificate to this host: the name
  // (also sent as SNI; no partial wildcards such as "a*.example.com") or, for an IP literal, the address.
  if (!t.ip) {
    SSL_set_hostflags(handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(handle, t.host.c_str()) != 1 || SSL_set1_host(handle, t.host.c_str()) != 1)
      co_return Fail(t, "TLS handshake: cannot set the host name");
  } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), t.host.c_str()) != 1) {
    co_return Fail(t, "TLS handshake: cannot set the peer address");
  }
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
  if (hec) co_return Fail(t, StepError("TLS handshake", hec, o) + VerifyFailure(handle));
  // No TLS shutdown: the response is complete (length-delimited, or a close_notify ended it: a truncated
  // EOF-delimited body is a read error), and the connection is closed either way.
  StreamWire<beast::ssl_stream<beast::tcp_stream>> wire(stream);
  auto out = co_await Exchange(wire, beast::get_lowest_layer(stream), t, request_bytes, head, o, deadline);
  co_return out;
}

}  // namespace

AddressKind ClassifyAddress(const asio::ip::address& address) {
  if (address.is_v4()) return ClassifyV4(address.to_v4());
  const auto v6 = address.to_v6();
  const auto b = v6.to_bytes();
  if (v6.is_unspecified()) return AddressKind::kUnspecified;
  if (v6.is_loopback()) return AddressKind::kLoopback;
  if (v6.is_v4_mapped()) return ClassifyV4(V4At(b, 12));  // ::ffff:a.b.c.d
  const auto zeros = [&b](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i)
      if (b[i] != 0) return false;
    return true;
  };
  if (zeros(0, 12)) return ClassifyV4(V4At(b, 12));  // ::a.b.c.d (IPv4-compatible, deprecated)
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(4, 12))
    return ClassifyV4(V4At(b, 12));    // 64:ff9b::a.b.c.d (NAT64)
  if (b[0] == 0x20 && b[1] == 0x02) {  // 2002:a.b.c.d::/48 (6to4) carries an IPv4 address too
    const AddressKind inner = ClassifyV4(V4At(b, 2));
    if (inner != AddressKind::kPublic) return inner;
  }
  if (b[0] == 0xff) return AddressKind::kMulticast;
  if ((b[0] & 0xfe) == 0xfc) return AddressKind::kPrivate;                    // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressKind::kLinkLocal;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressKind::kPrivate;    // fec0::/10 site-local, deprecated
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return AddressKind::kReserved;  // documentation
  return AddressKind::kPublic;
}

std::string_view AddressKindName(AddressKind kind) {
  switch (kind) {
    case AddressKind::kPublic:
      return "public";
    case AddressKind::kLoopback:
      return "loopback";
    case AddressKind::kPrivate:
      return "private";
    case AddressKind::kLinkLocal:
      return "link-local";
    case AddressKind::kShared:
      return "shared";
    case AddressKind::kReserved:
      return "reserved";
    case AddressKind::kUnspecified:
      return "unspecified";
    case AddressKind::kMulticast:
      return "multicast";
  }
  return "unknown";
}

std::string_view ClientResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (IEquals(n, name)) return v;
  return {};
}

Client::Client(ClientOptions options) : state_(std::make_shared<State>(std::move(options))) {
  auto& ctx = state_->tls;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx.set_default_verify_paths(ec);
  if (ec) log::Warn("http.client_trust_store", {{"error", ec.message()}});
  if (!state_->options.ca_file.empty()) {
    ctx.load_verify_file(state_->options.ca_file, ec);
    if (ec) throw std::runtime_error("cannot load CA file " + state_->options.ca_file + ": " + ec.message());
  }
  ctx.set_verify_mode(ssl::verify_peer);
}

asio::awaitable<Result<ClientResponse>> Client::Fetch(ClientRequest request) const {
  return FetchImpl(state_, std::move(request));
}

}  // namespace pgwarden::http
