//! The request stage of the Data API: query string + the relevant headers -> ApiRequest (api_request.hpp).
//! Pure: no database, no schema cache, no I/O; the caller owns every input and the result owns its strings.
//!
//! It does what PostgREST v13's ApiRequest.userApiRequest does before planning, in the same order so the
//! same error wins when several apply:
//!   1. profile -> schema (PGRST106 when it is not one of `target.schemas`),
//!   2. the query string (QueryParams.parse): order, or/and, columns, select, filters, on_conflict (PGRST100),
//!   3. ranges: limit/offset per path and the Range header for GET (PGRST103; PGRST114 for PUT),
//!   4. Prefer, Accept, Content-Type (never fail here; PGRST122 and PGRST107 belong to the planner, see
//!      StrictPreferencesError in preferences.hpp).
//! The route checks that come first in PostgREST (PGRST125 bad path, PGRST101/PGRST117 method) belong to the
//! caller, before it calls ParseQuery.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"

namespace pgwarden::dataapi {

//! `query_string` is the raw text after '?' (a leading '?' is also accepted), not decoded.
ApiResult<ApiRequest> ParseQuery(std::string_view query_string, const RequestHeaders& headers,
                                 const RequestTarget& target = {});

//! http-types' parseQueryReplacePlus True: split on '&' and ';', '+' is a space, valid %XX escapes decoded
//! (an invalid '%' stays as it is). nullopt when a decoded key or value is not UTF-8.
std::optional<std::vector<QueryParam>> DecodeQueryString(std::string_view query_string);

//! PostgREST's qsCanonical: sorted by key, repeated keys joined with ',', percent-encoded.
std::string CanonicalQuery(const std::vector<QueryParam>& params);

}  // namespace pgwarden::dataapi
