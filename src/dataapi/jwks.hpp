//! Asymmetric JWT verification keys for the Data API: static keys (PGRST_JWT_SECRET given as a JWK or JWKS)
//! plus remote JWKS URLs (PGWARDEN_DATA_API_JWKS_URLS) fetched over HTTPS (http:// for loopback only) with
//! certificate and host name verification, a 5 s deadline and a 256 KiB cap. Remote sets are cached (TTL:
//! Cache-Control max-age clamped to [1 min, 1 day], else 10 min; the last good set is kept while refreshes
//! fail) and refetched when a token names an unknown kid, at most once per 30 s per URL.
//!
//! Thread-safe: one instance (shared_ptr<const JwksVerifier>) serves every io thread. Verify() only reads
//! the cache; Prefetch() is the one step that may wait for the network, bounded by the fetch deadline.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/jwk.hpp"

namespace pgwarden::dataapi {

//! Cache and fetch limits of a JwksVerifier (defaults as in the file comment).
struct JwksOptions {
  std::chrono::seconds default_ttl{600};
  std::chrono::seconds min_ttl{60};
  std::chrono::seconds max_ttl{24 * 3600};
  //! Unknown-kid refetches per URL: at most one per interval, so random kids cannot hammer the JWKS host.
  std::chrono::seconds refetch_interval{30};
  //! Background retry after a failed fetch.
  std::chrono::seconds retry_interval{30};
  //! Resolve + connect + TLS + request + response.
  std::chrono::milliseconds timeout{5000};
  std::size_t max_bytes = 256 * 1024;
  //! Kids that other keys verify (pgwarden's own signing keys): a token naming one never causes a refetch.
  std::vector<std::string> other_kids;
};

//! Verifies compact JWS against static and remote JWK sets; see the file comment.
class JwksVerifier {
 public:
  //! `urls` must be valid http(s) URLs (config validates them; a bad one throws std::invalid_argument).
  JwksVerifier(crypto::JwkSet static_keys, std::vector<std::string> urls, JwksOptions opts = {});
  ~JwksVerifier();
  JwksVerifier(const JwksVerifier&) = delete;
  JwksVerifier& operator=(const JwksVerifier&) = delete;

  bool HasUrls() const;
  //! The payload JSON when a static or cached remote key verifies `token`.
  std::optional<std::string> Verify(std::string_view token) const;
  //! When `token` names a kid no cached set has (or carries none while a URL has never been fetched),
  //! refreshes the URLs that may be refetched now and waits for them (bounded by the fetch deadline). The
  //! fetch runs on `ex`; a caller whose wait ends early leaves it running for the next request.
  boost::asio::awaitable<void> Prefetch(boost::asio::any_io_executor ex, std::string_view token) const;
  //! Starts the first fetch of every URL and keeps each set refreshed at its TTL, on `ex`.
  void Start(boost::asio::any_io_executor ex) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

//! The token of an `Authorization: Bearer <token>` value; "" for any other value.
std::string_view BearerToken(std::string_view authorization);

}  // namespace pgwarden::dataapi
