#include "dataapi/request/preferences.hpp"

#include <array>
#include <limits>
#include <utility>

namespace pgwarden::dataapi {
namespace {

//! Data.ByteString.Char8.strip (isSpace on Latin-1 bytes).
std::string_view StripBytes(std::string_view s) {
  const auto space = [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b == ' ' || (b >= '\t' && b <= '\r') || b == 0xA0;
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

template <class E>
struct Known {
  std::string_view text;
  E value;
};

constexpr std::array<Known<PreferResolution>, 2> kResolution{{
    {"resolution=merge-duplicates", PreferResolution::kMergeDuplicates},
    {"resolution=ignore-duplicates", PreferResolution::kIgnoreDuplicates},
}};
constexpr std::array<Known<PreferReturn>, 3> kReturn{{
    {"return=representation", PreferReturn::kRepresentation},
    {"return=minimal", PreferReturn::kMinimal},
    {"return=headers-only", PreferReturn::kHeadersOnly},
}};
constexpr std::array<Known<PreferCount>, 3> kCount{{
    {"count=exact", PreferCount::kExact},
    {"count=planned", PreferCount::kPlanned},
    {"count=estimated", PreferCount::kEstimated},
}};
constexpr std::array<Known<PreferTx>, 2> kTx{{
    {"tx=commit", PreferTx::kCommit},
    {"tx=rollback", PreferTx::kRollback},
}};
constexpr std::array<Known<PreferMissing>, 2> kMissing{{
    {"missing=default", PreferMissing::kDefault},
    {"missing=null", PreferMissing::kNull},
}};
constexpr std::array<Known<PreferHandling>, 2> kHandling{{
    {"handling=strict", PreferHandling::kStrict},
    {"handling=lenient", PreferHandling::kLenient},
}};
constexpr std::string_view kParamsSingleObject = "params=single-object";
constexpr std::string_view kTimezone = "timezone=";
constexpr std::string_view kMaxAffected = "max-affected=";

template <class E, std::size_t N>
bool Lookup(const std::array<Known<E>, N>& table, std::string_view token, std::optional<E>& slot) {
  for (const auto& k : table) {
    if (k.text == token) {
      if (!slot) slot = k.value;  // the first one given wins
      return true;
    }
  }
  return false;
}

template <class E, std::size_t N>
bool IsIn(const std::array<Known<E>, N>& table, std::string_view token) {
  for (const auto& k : table) {
    if (k.text == token) return true;
  }
  return false;
}

bool IsKnown(std::string_view t) {
  return IsIn(kResolution, t) || IsIn(kReturn, t) || IsIn(kCount, t) || IsIn(kTx, t) || IsIn(kMissing, t) ||
         IsIn(kHandling, t) || t == kParamsSingleObject;
}

bool HaskellSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::int64_t Saturate(bool negative) {
  return negative ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
}

}  // namespace

std::optional<std::int64_t> ReadInteger(std::string_view s) {
  while (!s.empty() && HaskellSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && HaskellSpace(s.back())) s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
    while (!s.empty() && HaskellSpace(s.front())) s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O')) {
    base = (s[1] == 'x' || s[1] == 'X') ? 16 : 8;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  bool overflow = false;
  for (const char c : s) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0 || d >= base) return std::nullopt;
    if (overflow) continue;
    // Accumulate negatively so INT64_MIN is representable.
    if (__builtin_mul_overflow(v, base, &v) || __builtin_sub_overflow(v, d, &v)) overflow = true;
  }
  if (overflow) return Saturate(negative);
  if (negative) return v;
  if (v == std::numeric_limits<std::int64_t>::min()) return Saturate(false);
  return -v;
}

Preferences ParsePreferences(std::span<const std::string_view> prefer_headers) {
  Preferences p;
  std::optional<std::string_view> max_affected;
  for (const std::string_view header : prefer_headers) {
    // BS.split ',' of an empty value gives no token; "a," gives "a" and "".
    if (header.empty()) continue;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = header.find(',', start);
      const std::string_view token =
          StripBytes(header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      p.tokens.emplace_back(token);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  for (const std::string& token : p.tokens) {
    const std::string_view t = token;
    if (Lookup(kResolution, t, p.resolution) || Lookup(kReturn, t, p.returning) || Lookup(kCount, t, p.count) ||
        Lookup(kTx, t, p.tx) || Lookup(kMissing, t, p.missing) || Lookup(kHandling, t, p.handling)) {
      continue;
    }
    if (t == kParamsSingleObject) {
      p.params_single_object = true;
    } else if (t.starts_with(kTimezone)) {
      if (!p.timezone) p.timezone = std::string(t.substr(kTimezone.size()));
    } else if (t.starts_with(kMaxAffected)) {
      if (!max_affected) max_affected = t.substr(kMaxAffected.size());
    }
  }
  // Only the first max-affected counts; a malformed one is ignored rather than replaced by a later one.
  if (max_affected) p.max_affected = ReadInteger(*max_affected);
  return p;
}

std::vector<std::string> InvalidPreferences(const Preferences& prefs, bool timezone_accepted) {
  std::vector<std::string> invalid;
  for (const std::string& token : prefs.tokens) {
    const std::string_view t = token;
    if (IsKnown(t) || t.starts_with(kMaxAffected)) continue;
    if (t.starts_with(kTimezone) && timezone_accepted) continue;
    invalid.push_back(token);
  }
  return invalid;
}

std::optional<ApiError> StrictPreferencesError(const Preferences& prefs, bool timezone_accepted) {
  if (prefs.handling != PreferHandling::kStrict) return std::nullopt;
  const std::vector<std::string> invalid = InvalidPreferences(prefs, timezone_accepted);
  if (invalid.empty()) return std::nullopt;
  return InvalidPreferencesError(invalid);
}

}  // namespace pgwarden::dataapi
