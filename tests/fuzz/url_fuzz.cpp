//! URL-ish text: config::OriginOf / DatabaseNameOf (Boost.URL), http::OriginMatcher, IsValidEmail and the
//! ISO-8601 parser/formatter. The whole input is tried as each of them; for the matcher, an input of the form
//! "<pattern>\n<origin>" is also tried with a fuzzer-chosen pattern. Properties:
//!  - OriginOf: the result is "http(s)://host[:port]", lower case, without a default port, and is a fixed
//!    point (OriginOf(OriginOf(u)) == OriginOf(u));
//!  - OriginMatcher agrees with a reference matcher ('*' = any run of characters except '/', comparison after
//!    ASCII lower-casing, 512-byte cap) and accepts localhost origins only in the documented shapes;
//!  - IsValidEmail agrees with zod's email regex (the one Better Auth validates with) plus the length caps;
//!  - ParseIso8601 then FormatIso8601Ms is the identity on canonical text (valid dates, ".fff", 'Z'),
//!    re-parsing a formatted time gives the same instant, and every instant in years 0000-9999 round-trips.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cctype>
#include <regex>
#include <string>

#include "config/config.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "fuzz_check.hpp"
#include "http/cors.hpp"

using namespace pgwarden;

namespace {

//! Reference glob: '*' matches any run (possibly empty) of characters other than '/'.
bool RefGlob(std::string_view p, std::string_view t) {
  // dp over suffixes; small inputs only (origins are capped at 512 bytes).
  std::vector<char> row(t.size() + 1, 0), next(t.size() + 1, 0);
  // row[j] = pattern suffix p[i..] matches t[j..]; iterate i from the end.
  row[t.size()] = 1;
  for (std::size_t i = p.size(); i-- > 0;) {
    next.assign(t.size() + 1, 0);
    for (std::size_t j = t.size() + 1; j-- > 0;) {
      if (p[i] == '*') {
        // one or more host characters [A-Za-z0-9.-]
        const bool host = j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '-' || t[j] == '.');
        next[j] = host && (row[j + 1] || next[j + 1]);
      } else {
        next[j] = j < t.size() && p[i] == t[j] && row[j + 1];
      }
    }
    row.swap(next);
  }
  return row[0] != 0;
}

bool RefMatches(const std::vector<std::string>& patterns, std::string_view origin) {
  if (origin.empty() || origin.size() > 512) return false;
  const std::string lower = AsciiLower(origin);
  for (const auto& p : patterns) {
    if (p.find('*') == std::string::npos ? p == lower : RefGlob(p, lower)) return true;
  }
  return false;
}

const std::regex& ZodEmail() {
  // zod v4 regexes.email (tests/e2e/node_modules/zod/v4/core/regexes.js), used by Better Auth's z.email().
  static const std::regex re(
      R"(^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$)",
      std::regex::ECMAScript | std::regex::optimize);
  return re;
}

bool RefEmail(std::string_view email) {
  if (email.empty() || email.size() > 254) return false;
  if (!std::regex_match(email.begin(), email.end(), ZodEmail())) return false;
  const auto at = email.find('@');
  if (at > 64) return false;
  for (const auto label : Split(email.substr(at + 1), '.'))
    if (label.size() > 63) return false;
  return true;
}

bool IsLeap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

//! "YYYY-MM-DDTHH:MM:SS.fffZ" with a real calendar date and second <= 59: what FormatIso8601Ms writes.
bool IsCanonicalIso(std::string_view t) {
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (t.size() != sizeof kShape - 1) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (kShape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != kShape[i]) return false;
  }
  auto n = [&](std::size_t pos, std::size_t len) { return std::stol(std::string(t.substr(pos, len))); };
  const long y = n(0, 4), mo = n(5, 2), d = n(8, 2), h = n(11, 2), mi = n(14, 2), s = n(17, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return false;
  const int dim = kDays[mo - 1] + (mo == 2 && IsLeap(y) ? 1 : 0);
  return d <= dim && h <= 23 && mi <= 59 && s <= 59;
}

constexpr std::int64_t kMinMs = -62167219200000;  // 0000-01-01T00:00:00.000Z
constexpr std::int64_t kMaxMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

void CheckOrigin(std::string_view url) {
  const auto o = config::OriginOf(url);
  if (!o) return;
  FUZZ_CHECK(StartsWith(*o, "http://") || StartsWith(*o, "https://"));
  FUZZ_CHECK(AsciiLower(*o) == *o);
  FUZZ_CHECK(o->size() > (StartsWith(*o, "https://") ? 8u : 7u));
  FUZZ_CHECK(!(StartsWith(*o, "http://") && o->ends_with(":80")));
  FUZZ_CHECK(!(StartsWith(*o, "https://") && o->ends_with(":443")));
  // "scheme://host[:port]" as browsers serialise an origin (WHATWG URL): a ':' after the host is followed by
  // the port number in canonical form, 1..65535 without leading zeros (so "h:080" is "h", "h:" is "h").
  const std::size_t host_start = o->find("://") + 3;
  const std::size_t colon = o->rfind(':');
  if (colon > host_start && o->find(']', colon) == std::string::npos) {
    const std::string_view port = std::string_view(*o).substr(colon + 1);
    FUZZ_CHECK(!port.empty() && port.size() <= 5 && port[0] != '0');
    for (const char c : port) FUZZ_CHECK(c >= '0' && c <= '9');
    FUZZ_CHECK(std::stol(std::string(port)) <= 65535);
  }
  const auto again = config::OriginOf(*o);
  FUZZ_CHECK(again && *again == *o);
}

void CheckMatcher(const std::vector<std::string>& patterns, std::string_view origin) {
  const http::OriginMatcher strict(patterns, /*trust_localhost=*/false);
  const bool got = strict.Matches(origin);
  FUZZ_CHECK(got == RefMatches(patterns, origin));
  FUZZ_CHECK(got == strict.Matches(AsciiLower(origin)));
  const http::OriginMatcher with_localhost(patterns, /*trust_localhost=*/true);
  if (with_localhost.Matches(origin) && !got) {
    static const std::regex kLocal(R"(^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$)",
                                   std::regex::ECMAScript | std::regex::icase);
    FUZZ_CHECK(std::regex_match(origin.begin(), origin.end(), kLocal));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = fuzz::AsView(data, size);

  // --- config ---------------------------------------------------------------------------------------------
  CheckOrigin(in);
  (void)config::DatabaseNameOf(in);

  // --- origin matching (the configured trusted origins of a typical deployment) ---------------------------
  static const std::vector<std::string> kPatterns = {"https://app.example.com", "https://*.example.com",
                                                     "http://localhost:3000", "https://*.vercel.app",
                                                     "https://preview-*.example.org"};
  if (size <= 600) CheckMatcher(kPatterns, in);
  if (const auto nl = in.find('\n'); nl != std::string_view::npos && size <= 1100) {
    CheckMatcher({std::string(in.substr(0, nl))}, in.substr(nl + 1));
  }
  // The CSRF check turns a Referer into an origin, then matches it.
  if (const auto o = config::OriginOf(in)) {
    const http::OriginMatcher m(kPatterns, true);
    (void)m.Matches(*o);
  }

  // --- e-mail ---------------------------------------------------------------------------------------------
  const bool valid = IsValidEmail(in);
  if (size <= 300) FUZZ_CHECK(valid == RefEmail(in));
  else FUZZ_CHECK(!valid);

  // --- time -----------------------------------------------------------------------------------------------
  if (const auto ms = ParseIso8601(in)) {
    const std::string text = FormatIso8601Ms(*ms);
    FUZZ_CHECK(ParseIso8601(text) == ms);
    if (IsCanonicalIso(in)) FUZZ_CHECK(text == in);
  }
  if (size >= 8) {
    std::int64_t raw;
    std::memcpy(&raw, data, sizeof raw);
    const std::string text = FormatIso8601Ms(raw);  // any instant must format without UB
    (void)FormatHttpDate(raw);
    const std::int64_t ms = kMinMs + static_cast<std::int64_t>(static_cast<std::uint64_t>(raw) %
                                                               static_cast<std::uint64_t>(kMaxMs - kMinMs + 1));
    const std::string t2 = FormatIso8601Ms(ms);
    FUZZ_CHECK(IsCanonicalIso(t2));
    FUZZ_CHECK(ParseIso8601(t2) == ms);
  }
  return 0;
}
