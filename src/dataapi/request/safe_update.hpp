//! pg-safeupdate's rule, applied by the Data API itself in Neon mode (DA-09, DataApiConfig::safe_update):
//! a PATCH or DELETE must say which rows it changes. A row filter on the relation itself (`id=eq.1`, `or=(...)`)
//! is the WHERE clause; `Prefer: handling=strict, max-affected=N` bounds a mass change instead (it rolls back
//! past N rows). Filters on embedded paths do not count: the write ignores them. Pure.
#pragma once

#include <optional>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"

namespace pgwarden::dataapi {

//! Whether the request has a filter or logic tree on the root relation (the write's WHERE clause).
bool HasRowFilter(const ApiRequest& api);

//! 400 with pg-safeupdate's SQLSTATE and message ("21000", "UPDATE requires a WHERE clause" / "DELETE
//! requires a WHERE clause", as PostgREST passes them on) for an unfiltered, unbounded PATCH or DELETE;
//! nullopt for anything else.
std::optional<ApiError> SafeUpdateError(const ApiRequest& api, Verb verb);

}  // namespace pgwarden::dataapi
