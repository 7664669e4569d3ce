//! The Data API: PostgREST-compatible REST over the user's tables at /<db>/rest/v1/<table>. Per request:
//! verify the Bearer JWT -> parse (request/) -> SQL against the schema snapshot (sql/) -> one pipelined round
//! trip on this worker's pool: set_config(role, request.jwt.claims, …) then the main statement, in one
//! transaction, so RLS policies see auth.uid(). Nothing outlives the transaction.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/schema/schema_cache.hpp"
#include "db/pool.hpp"
#include "http/request.hpp"

namespace pgwarden::dataapi {

struct DataApiConfig {
  std::vector<std::string> schemas{"public"};
  std::string anon_role = "anonymous";
  bool allow_anonymous = true;  //!< no Authorization header -> anon_role (else 401 PGRST302)
  std::vector<std::string> roles{"authenticated", "anonymous"};  //!< the only roles a JWT may select
  std::optional<std::int64_t> max_rows = 1000;
  std::optional<std::string> audience;  //!< when set, `aud` must contain it
  std::optional<std::string> hs256_secret;
  int clock_skew_s = 30;
  int statement_timeout_ms = 10000;
};

//! Verifies a compact JWS with the service's own keys; returns the payload JSON.
using OwnKeyVerifier = std::function<std::optional<std::string>(std::string_view token)>;

class DataApiService {
 public:
  DataApiService(DataApiConfig cfg, OwnKeyVerifier verify, std::shared_ptr<const SchemaCache> schema,
                 std::vector<std::unique_ptr<db::Pool>> pools);
  //! `resource` is the path after /rest/v1/ (a relation name).
  boost::asio::awaitable<http::Response> Handle(http::Request& req, std::string resource);
  void Shutdown() {
    stopping_ = true;
    for (auto& p : pools_) p->Close();
  }
  //! Keeps a LISTEN pgrst connection and swaps in a fresh schema snapshot on NOTIFY pgrst, 'reload schema'
  //! (or an empty payload, as PostgREST). Reconnects with backoff. Run once, on one io thread.
  boost::asio::awaitable<void> ListenForReloads(boost::asio::any_io_executor ex, std::string conninfo);

 private:
  struct Identity {
    std::string role;
    std::string claims_json;
  };
  ApiResult<Identity> Authenticate(const http::Request& req) const;
  http::Response Error(const http::Request& req, const ApiError& e) const;

  DataApiConfig cfg_;
  OwnKeyVerifier verify_;
  std::atomic<std::shared_ptr<const SchemaCache>> schema_;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<db::Pool>> pools_;
};

}  // namespace pgwarden::dataapi
