//! ISO-8601 with milliseconds (Better Auth's wire form for dates) and RFC 7231 HTTP dates.
#include "core/time.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace pgwarden {
namespace {

struct KnownInstant {
  std::string_view name;
  EpochMs ms;
  std::string_view iso;
  std::string_view http;
};

// Values cross-checked with `date -u -d <iso> +%s` and its '%a, %d %b %Y %H:%M:%S GMT' format.
constexpr KnownInstant kKnown[] = {
    {"epoch", 0, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 GMT"},
    {"a Better Auth timestamp", 1'796'374'500'846, "2026-12-04T08:55:00.846Z", "Fri, 04 Dec 2026 08:55:00 GMT"},
    {"leap day", 1'709'210'096'007, "2024-02-29T12:34:56.007Z", "Thu, 29 Feb 2024 12:34:56 GMT"},
    {"day after a 400-year leap day", 951'868'800'000, "2000-03-01T00:00:00.000Z", "Wed, 01 Mar 2000 00:00:00 GMT"},
    {"last ms of a non-leap century February", 4'107'542'399'999, "2100-02-28T23:59:59.999Z",
     "Sun, 28 Feb 2100 23:59:59 GMT"},
    {"one ms before the epoch", -1, "1969-12-31T23:59:59.999Z", "Wed, 31 Dec 1969 23:59:59 GMT"},
    {"moon landing (negative)", -14'182'940'000, "1969-07-20T20:17:40.000Z", "Sun, 20 Jul 1969 20:17:40 GMT"},
    {"1900 (negative, not a leap year)", -2'208'988'800'000, "1900-01-01T00:00:00.000Z",
     "Mon, 01 Jan 1900 00:00:00 GMT"},
};

TEST(FormatIso8601Ms, FormatsKnownInstants) {
  for (const auto& c : kKnown) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FormatIso8601Ms(c.ms), c.iso);
  }
}

TEST(ParseIso8601, ParsesKnownInstants) {
  for (const auto& c : kKnown) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseIso8601(c.iso), std::optional<EpochMs>(c.ms));
  }
}

TEST(FormatHttpDate, FormatsKnownInstantsAsImfFixdate) {
  for (const auto& c : kKnown) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FormatHttpDate(c.ms), c.http);
  }
}

TEST(FormatHttpDate, DropsMilliseconds) {
  EXPECT_EQ(FormatHttpDate(999), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(1000), "Thu, 01 Jan 1970 00:00:01 GMT");
}

TEST(Iso8601, RoundTripsEveryMillisecondPatternAcrossTheCalendar) {
  // A stride that is not a multiple of a day, so hours, minutes, seconds and ms all vary.
  constexpr EpochMs kStride = 86'400'000LL * 37 + 3'723'517;
  for (EpochMs ms = -5'000'000'000'000; ms < 10'000'000'000'000; ms += kStride) {
    const std::string text = FormatIso8601Ms(ms);
    ASSERT_EQ(ParseIso8601(text), std::optional<EpochMs>(ms)) << text;
  }
}

TEST(Iso8601, RoundTripsTheCurrentTime) {
  const EpochMs now = NowMs();
  EXPECT_EQ(ParseIso8601(FormatIso8601Ms(now)), std::optional<EpochMs>(now));
}

TEST(FormatIso8601Ms, FormatsTheExtremesWithoutOverflow) {
  // Whatever the text, it must not overflow (UBSan) or crash on the ends of the range.
  for (const EpochMs ms : {std::numeric_limits<EpochMs>::min(), std::numeric_limits<EpochMs>::max()}) {
    SCOPED_TRACE(ms);
    EXPECT_FALSE(FormatIso8601Ms(ms).empty());
    EXPECT_FALSE(FormatHttpDate(ms).empty());
  }
  // Years beyond four digits are still written out in full.
  EXPECT_EQ(FormatIso8601Ms(253'402'300'800'000), "10000-01-01T00:00:00.000Z");
}

TEST(ParseIso8601, AcceptsOptionalOrLongerFractions) {
  struct Case {
    std::string_view text;
    EpochMs ms;
  };
  for (const auto& c : {Case{"1970-01-01T00:00:01Z", 1000}, Case{"1970-01-01T00:00:01.5Z", 1500},
                        Case{"1970-01-01T00:00:01.25Z", 1250}, Case{"1970-01-01T00:00:01.123456Z", 1123}}) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(ParseIso8601(c.text), std::optional<EpochMs>(c.ms));
  }
}

TEST(ParseIso8601, RejectsMalformedText) {
  for (std::string_view text : {
           "",
           "2026-12-04",
           "2026-12-04T08:55:00.846",        // no Z: local time is ambiguous
           "2026-12-04T08:55:00.846+01:00",  // UTC only
           "2026-12-04 08:55:00.846Z",       // space instead of T
           "2026-12-04T08:55:00.Z",          // dot without digits
           "2026-12-04T08:55:00.846Zjunk",
           "2026-13-04T08:55:00.846Z",  // month 13
           "2026-00-04T08:55:00.846Z",  // month 0
           "2026-12-00T08:55:00.846Z",  // day 0
           "2026-12-32T08:55:00.846Z",  // day 32
           "2026-12-04T24:00:00.000Z",  // hour 24
           "2026-12-04T08:60:00.000Z",  // minute 60
           "2026-12-04T08:55:61.000Z",  // second 61
           "2O26-12-04T08:55:00.846Z",  // letter O in the year
           "+2026-12-04T08:55:00.846Z",
       }) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseIso8601(text), std::nullopt);
  }
}

TEST(ParseIso8601, RejectsDaysThatDoNotExistInTheMonth) {
  // A day 1..31 that the month does not have must not silently roll over into the next month.
  for (std::string_view text : {"2023-02-29T00:00:00.000Z", "2024-02-30T00:00:00.000Z", "2026-04-31T00:00:00.000Z",
                                "2100-02-29T00:00:00.000Z"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseIso8601(text), std::nullopt);
  }
}

}  // namespace
}  // namespace pgwarden
