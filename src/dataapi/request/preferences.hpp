//! The Prefer header as PostgREST v13 reads it (ApiRequest/Preferences.hs fromHeaders), and the PGRST122
//! check of `handling=strict`. The check needs to know whether the `timezone=` value names a zone Postgres
//! knows (pg_timezone_names, from the schema cache), so it is a separate step the planner runs at the point
//! PostgREST does (after the relation and the media type were resolved), not part of parsing.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataapi/request/api_error.hpp"
#include "dataapi/request/api_request.hpp"

namespace pgwarden::dataapi {

//! All Prefer header values, in order; never fails (unknown preferences are kept in `tokens`).
Preferences ParsePreferences(std::span<const std::string_view> prefer_headers);

//! PostgREST's invalidPrefs: the tokens that are not a known preference, a `max-affected=` (any value) or a
//! `timezone=` while the first timezone preference is accepted. In header order, duplicates kept.
std::vector<std::string> InvalidPreferences(const Preferences& prefs, bool timezone_accepted);

//! PGRST122 when `handling=strict` was asked for and InvalidPreferences is not empty.
std::optional<ApiError> StrictPreferencesError(const Preferences& prefs, bool timezone_accepted);

//! Haskell's readMaybe for an integer as PostgREST applies it to limit, offset and max-affected: optional
//! blanks around an optional '-' and decimal digits (or 0x/0o literals). Out-of-range values saturate.
std::optional<std::int64_t> ReadInteger(std::string_view s);

}  // namespace pgwarden::dataapi
