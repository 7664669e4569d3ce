//! Wall-clock time as milliseconds since the Unix epoch, and ISO-8601 text with millisecond precision
//! ("2026-12-04T08:55:00.846Z"), the form Better Auth writes and its client parses into Date objects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgwarden {

using EpochMs = std::int64_t;

EpochMs NowMs();
std::string FormatIso8601Ms(EpochMs ms);
//! Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC only).
std::optional<EpochMs> ParseIso8601(std::string_view text);
//! RFC 7231 IMF-fixdate ("Fri, 27 Nov 2026 10:11:22 GMT"), for HTTP Date / Expires.
std::string FormatHttpDate(EpochMs ms);

}  // namespace pgwarden
