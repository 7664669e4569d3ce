//! Prefer (RFC 7240 as PostgREST reads it, and the PGRST122 check), Accept with q-values and specificity, the
//! media types PostgREST knows, and Content-Type.
#include <gtest/gtest.h>

#include "dataapi/request/media_type.hpp"
#include "dataapi/request/preferences.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using namespace test;

Preferences Prefs(std::vector<std::string_view> headers) { return ParsePreferences(headers); }

TEST(Preferences, ReadOneHeaderWithSeveralValues) {
  const Preferences p =
      Prefs({"resolution=ignore-duplicates, count=exact, timezone=America/Los_Angeles, max-affected=100"});
  EXPECT_EQ(p.resolution, PreferResolution::kIgnoreDuplicates);
  EXPECT_EQ(p.count, PreferCount::kExact);
  EXPECT_EQ(p.timezone, "America/Los_Angeles");
  EXPECT_EQ(p.max_affected, 100);
  EXPECT_FALSE(p.returning.has_value());
  EXPECT_TRUE(InvalidPreferences(p, true).empty());
}

TEST(Preferences, ReadRepeatedHeadersAndKeepTheFirstOfEachKind) {
  const Preferences p =
      Prefs({"resolution=ignore-duplicates", "count=exact", "missing=null", "handling=lenient", "invalid",
             "max-affected=5999", "resolution=merge-duplicates", "tx=commit, tx=rollback"});
  EXPECT_EQ(p.resolution, PreferResolution::kIgnoreDuplicates);
  EXPECT_EQ(p.missing, PreferMissing::kNull);
  EXPECT_EQ(p.handling, PreferHandling::kLenient);
  EXPECT_EQ(p.max_affected, 5999);
  EXPECT_EQ(p.tx, PreferTx::kCommit);
  EXPECT_EQ(InvalidPreferences(p, true), (std::vector<std::string>{"invalid"}));
}

TEST(Preferences, ReadEveryKnownValue) {
  struct Case {
    std::string_view header;
    Preferences expected;
  };
  const auto with = [](auto setter) {
    Preferences p;
    setter(p);
    return p;
  };
  for (const auto& c : {
           Case{"return=minimal", with([](Preferences& p) { p.returning = PreferReturn::kMinimal; })},
           Case{"return=headers-only", with([](Preferences& p) { p.returning = PreferReturn::kHeadersOnly; })},
           Case{"return=representation", with([](Preferences& p) { p.returning = PreferReturn::kRepresentation; })},
           Case{"count=planned", with([](Preferences& p) { p.count = PreferCount::kPlanned; })},
           Case{"count=estimated", with([](Preferences& p) { p.count = PreferCount::kEstimated; })},
           Case{"resolution=merge-duplicates",
                with([](Preferences& p) { p.resolution = PreferResolution::kMergeDuplicates; })},
           Case{"missing=default", with([](Preferences& p) { p.missing = PreferMissing::kDefault; })},
           Case{"handling=strict", with([](Preferences& p) { p.handling = PreferHandling::kStrict; })},
           Case{"tx=rollback", with([](Preferences& p) { p.tx = PreferTx::kRollback; })},
           Case{"params=single-object", with([](Preferences& p) { p.params_single_object = true; })},
       }) {
    SCOPED_TRACE(c.header);
    Preferences got = Prefs({c.header});
    got.tokens.clear();
    EXPECT_EQ(got, c.expected);
  }
}

TEST(Preferences, TolerateBlanksAndKeepEmptyTokens) {
  const Preferences p =
      Prefs({"count=exact,    tx=commit   ,return=representation , missing=default, handling=strict, anything"});
  EXPECT_EQ(p.count, PreferCount::kExact);
  EXPECT_EQ(p.tx, PreferTx::kCommit);
  EXPECT_EQ(p.returning, PreferReturn::kRepresentation);
  EXPECT_EQ(p.handling, PreferHandling::kStrict);
  EXPECT_EQ(InvalidPreferences(p, true), (std::vector<std::string>{"anything"}));
  EXPECT_EQ(Prefs({"count=exact,"}).tokens, (std::vector<std::string>{"count=exact", ""}));
  EXPECT_TRUE(Prefs({""}).tokens.empty());
  EXPECT_EQ(Prefs({"Count=Exact"}).count, std::nullopt);  // values are case-sensitive
}

TEST(Preferences, IgnoreAMalformedMaxAffected) {
  EXPECT_EQ(Prefs({"max-affected=abc, max-affected=5"}).max_affected, std::nullopt);
  EXPECT_TRUE(InvalidPreferences(Prefs({"max-affected=abc"}), true).empty());
}

TEST(Preferences, StrictHandlingRefusesUnknownOnes) {
  std::optional<ApiError> e = StrictPreferencesError(Prefs({"handling=strict, anything"}), true);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->code, "PGRST122");
  EXPECT_EQ(e->message, "Invalid preferences given with handling=strict");
  EXPECT_EQ(e->details, "Invalid preferences: anything");

  e = StrictPreferencesError(Prefs({"handling=strict", "something, else"}), true);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->details, "Invalid preferences: something, else");

  // An unknown timezone is invalid too; whether it is known comes from pg_timezone_names.
  const Preferences tz = Prefs({"handling=strict, timezone=Invalid/Timezone"});
  EXPECT_FALSE(StrictPreferencesError(tz, true).has_value());
  e = StrictPreferencesError(tz, false);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->details, "Invalid preferences: timezone=Invalid/Timezone");

  EXPECT_FALSE(StrictPreferencesError(Prefs({"handling=lenient, anything"}), true).has_value());
  EXPECT_FALSE(StrictPreferencesError(Prefs({"anything"}), true).has_value());
}

TEST(Preferences, AreReadByParseQuery) {
  RequestHeaders h;
  h.prefer = {"return=representation", "count=exact"};
  const ApiRequest req = Parse("", {}, h);
  EXPECT_EQ(req.prefer.returning, PreferReturn::kRepresentation);
  EXPECT_EQ(req.prefer.count, PreferCount::kExact);
}

TEST(MediaTypes, DecodeWhatPostgrestKnows) {
  struct Case {
    std::string_view in;
    MediaTypeKind kind;
    std::string mime;
  };
  for (const auto& c : {
           Case{"application/json", MediaTypeKind::kApplicationJson, "application/json"},
           Case{"application/json; charset=utf-8", MediaTypeKind::kApplicationJson, "application/json"},
           Case{"application/vnd.pgrst.object+json", MediaTypeKind::kSingularJson, "application/vnd.pgrst.object+json"},
           Case{"application/vnd.pgrst.object", MediaTypeKind::kSingularJson, "application/vnd.pgrst.object+json"},
           Case{"application/vnd.pgrst.object+json;nulls=stripped", MediaTypeKind::kSingularJson,
                "application/vnd.pgrst.object+json;nulls=stripped"},
           Case{"application/vnd.pgrst.array+json", MediaTypeKind::kApplicationJson, "application/json"},
           Case{"application/vnd.pgrst.array+json;nulls=stripped", MediaTypeKind::kArrayJsonStripped,
                "application/vnd.pgrst.array+json;nulls=stripped"},
           Case{"text/csv", MediaTypeKind::kTextCsv, "text/csv"},
           Case{"text/plain", MediaTypeKind::kTextPlain, "text/plain"},
           Case{"text/xml", MediaTypeKind::kTextXml, "text/xml"},
           Case{"application/geo+json", MediaTypeKind::kGeoJson, "application/geo+json"},
           Case{"application/openapi+json", MediaTypeKind::kOpenApi, "application/openapi+json"},
           Case{"application/x-www-form-urlencoded", MediaTypeKind::kUrlEncoded, "application/x-www-form-urlencoded"},
           Case{"application/octet-stream", MediaTypeKind::kOctetStream, "application/octet-stream"},
           Case{"*/*", MediaTypeKind::kAny, "*/*"},
           Case{"", MediaTypeKind::kAny, "*/*"},
           Case{"text/unknowntype", MediaTypeKind::kOther, "text/unknowntype"},
           Case{"undefined", MediaTypeKind::kOther, "undefined"},
           Case{"Application/JSON", MediaTypeKind::kOther, "Application/JSON"},  // exact match, as PostgREST
           Case{"application/vnd.pgrst.plan", MediaTypeKind::kPlan,
                "application/vnd.pgrst.plan+text; for=\"application/json\""},
           Case{"application/vnd.pgrst.plan+json;for=\"text/csv\";options=analyze|verbose", MediaTypeKind::kPlan,
                "application/vnd.pgrst.plan+json; for=\"text/csv\"; options=analyze|verbose"},
       }) {
    SCOPED_TRACE(c.in);
    const MediaType mt = DecodeMediaType(c.in);
    EXPECT_EQ(mt.kind, c.kind);
    EXPECT_EQ(ToMime(mt), c.mime);
  }
}

std::vector<std::string> Mimes(std::string_view accept) {
  std::vector<std::string> out;
  for (const MediaType& mt : ParseAccept(accept)) out.push_back(ToMime(mt));
  return out;
}

TEST(AcceptHeader, OrdersByQualityThenSpecificity) {
  EXPECT_EQ(Mimes("text/csv, application/json"), (std::vector<std::string>{"text/csv", "application/json"}));
  EXPECT_EQ(Mimes("application/json;q=0.5, text/csv"), (std::vector<std::string>{"text/csv", "application/json"}));
  EXPECT_EQ(Mimes("*/*, application/json"), (std::vector<std::string>{"application/json", "*/*"}));
  EXPECT_EQ(Mimes("application/vnd.pgrst.object+json;nulls=stripped, application/json"),
            (std::vector<std::string>{"application/vnd.pgrst.object+json;nulls=stripped", "application/json"}));
  EXPECT_EQ(Mimes("text/csv;q=0, application/json;q=0.1"), (std::vector<std::string>{"application/json", "text/csv"}));
  EXPECT_EQ(Mimes("text/csv;q=abc"), (std::vector<std::string>{"text/csv"}));
  EXPECT_TRUE(Mimes("").empty());
}

TEST(AcceptHeader, DefaultsToAnyWhenAbsent) {
  const ApiRequest req = Parse("");
  ASSERT_EQ(req.accept.size(), 1u);
  EXPECT_EQ(req.accept[0].kind, MediaTypeKind::kAny);
  EXPECT_EQ(req.content_type.kind, MediaTypeKind::kApplicationJson);

  RequestHeaders h;
  h.accept = "application/vnd.pgrst.object+json";
  h.content_type = "text/csv";
  h.range_unit = "items";
  const ApiRequest single = Parse("", {}, h);
  EXPECT_EQ(single.accept[0].kind, MediaTypeKind::kSingularJson);
  EXPECT_EQ(single.content_type.kind, MediaTypeKind::kTextCsv);
  EXPECT_EQ(single.range_unit, "items");
}

}  // namespace
}  // namespace pgwarden::dataapi
