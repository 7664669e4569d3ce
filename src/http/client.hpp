//! The outbound HTTP client for server-side calls (OAuth token endpoints, userinfo, OIDC discovery, JWKS):
//! one request per connection (HTTP/1.1, `Connection: close`), under one deadline that covers resolve,
//! connect, TLS handshake, write and read. Security rules (spec/security.md OA-07):
//!   - https is always verified: the chain against the system trust store (+ `ca_file`), the certificate
//!     against the host name (with SNI) or the IP literal; TLS 1.2 at least;
//!   - plain http only when every resolved address is loopback and `allow_loopback` is set (tests, dev);
//!   - every resolved address is checked before any connection: private, link-local, shared (100.64/10) and
//!     reserved addresses are refused unless `allow_private`; loopback unless `allow_loopback`; unspecified
//!     and multicast always. The connection goes to exactly the checked addresses (no second lookup);
//!   - redirects are never followed: a 3xx is returned as is;
//!   - the response body is capped (`max_body_bytes`) while reading, never buffered past it.
//! Failures are `ErrorCode::kServiceUnavailable` whose message names the step ("resolve", "connect",
//! "TLS handshake", "write", "read", "refused address 169.254.169.254 (link-local)") and the target as
//! scheme://host:port/path; never the query, the request body or any header value.
//!
//! Ownership: a `Client` is cheap to copy (it shares one immutable TLS context); a `Fetch` in flight keeps
//! that state alive, so the `Client` may go first. `Fetch` must run on an executor that serialises its
//! handlers (a single-threaded io_context, as each pgwarden io thread is, or a strand).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace pgwarden::http {

//! One outbound request. `url` is http(s)://host[:port]/path?query (no user info; a fragment is not sent).
struct ClientRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string url;
  //! Extra headers (Accept, Authorization, ...). Host, Content-Length, Transfer-Encoding and Connection are
  //! the client's own and refused here; User-Agent defaults to "pgwarden".
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;          //!< sent as is, with Content-Length (also `0` for an empty POST/PUT/PATCH)
  std::string content_type;  //!< e.g. "application/x-www-form-urlencoded"; not sent when empty
};

//! Whatever status the server answered, with its headers and the whole (capped) body.
struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  //!< in received order, names as received
  std::string body;

  //! The first header of that name (case-insensitive), "" when absent.
  std::string_view Header(std::string_view name) const;
};

//! Per-client policy and limits; the defaults suit a provider on the public internet, except allow_loopback.
struct ClientOptions {
  std::chrono::milliseconds timeout{10'000};  //!< the whole exchange: resolve + connect + TLS + write + read
  std::size_t max_body_bytes = 1 << 20;       //!< a larger response body is an error
  std::size_t max_header_bytes = 16 << 10;    //!< the whole response header block
  std::string ca_file;                        //!< extra trust anchors (PEM), in addition to the system store
  //! Loopback targets (127/8, ::1, "localhost"), and plain http to them. For tests and local development
  //! (a mock IdP on this machine); a production caller whose URLs are not on loopback should clear it.
  bool allow_loopback = true;
  //! Private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), shared
  //! (100.64/10) and reserved targets. Unspecified (0.0.0.0/8, ::) and multicast stay refused regardless.
  bool allow_private = false;
};

//! What an address is, for the target check. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
//! (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::) IPv6 addresses are classified by the IPv4 address they carry.
enum class AddressKind { kPublic, kLoopback, kPrivate, kLinkLocal, kShared, kReserved, kUnspecified, kMulticast };

AddressKind ClassifyAddress(const boost::asio::ip::address& address);
std::string_view AddressKindName(AddressKind kind);

//! Build one per set of options and keep it (the constructor reads the system trust store, some 20 ms);
//! copies share its state and every io thread may use it.
class Client {
 public:
  //! Builds the one TLS context (verify_peer, system store + `ca_file`, TLS 1.2+). Throws std::runtime_error
  //! when `ca_file` cannot be loaded (a start-up error).
  explicit Client(ClientOptions options);

  //! Sends `request` and reads the whole response. Any status (including 3xx and 5xx) is a response; only
  //! transport, policy and limit failures are errors. Not a coroutine itself: the returned awaitable owns a
  //! copy of the client state and `request`.
  boost::asio::awaitable<Result<ClientResponse>> Fetch(ClientRequest request) const;

  struct State;  //!< opaque (options + TLS context); named here only for client.cpp's coroutines

 private:
  std::shared_ptr<State> state_;
};

}  // namespace pgwarden::http
