//! Form decoding, query parameters and cookies as handlers read them.
#include "http/request.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgwarden::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

//! A request as the server builds it: target split into path and query.
Request MakeRequest(std::string target, std::initializer_list<std::pair<std::string_view, std::string_view>> headers = {}) {
  Request req;
  req.raw.method(bhttp::verb::get);
  req.raw.target(target);
  req.raw.version(11);
  for (const auto& [name, value] : headers) req.raw.insert(name, value);
  const std::string_view t = req.raw.target();
  const auto q = t.find('?');
  req.path = t.substr(0, q);
  req.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  return req;
}

TEST(FormDecode, DecodesPlusAndPercentEscapes) {
  struct Case {
    std::string_view in;
    std::string out;
  };
  for (const auto& c : {
           Case{"", ""},
           Case{"plain", "plain"},
           Case{"a+b", "a b"},
           Case{"a%20b", "a b"},
           Case{"%2B", "+"},
           Case{"%2b%2F%3d", "+/="},
           Case{"100%25", "100%"},
           Case{"caf%C3%A9", "caf\xC3\xA9"},
           Case{"%00", std::string("\0", 1)},
           Case{"a%2Bb+c", "a+b c"},
       }) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(FormDecode(c.in), std::optional<std::string>(c.out));
  }
}

TEST(FormDecode, RejectsMalformedEscapes) {
  for (std::string_view in : {"%", "%2", "a%", "a%4", "%zz", "%2z", "%z2", "%%", "%-1", "%+1"}) {
    SCOPED_TRACE(in);
    EXPECT_EQ(FormDecode(in), std::nullopt);
  }
}

TEST(ParseForm, SplitsAndDecodesPairsInOrder) {
  EXPECT_EQ(ParseForm(""), std::optional<Pairs>(Pairs{}));
  EXPECT_EQ(ParseForm("email=a%40b.co&password=p+w%26d&rememberMe=true"),
            std::optional<Pairs>(Pairs{{"email", "a@b.co"}, {"password", "p w&d"}, {"rememberMe", "true"}}));
  EXPECT_EQ(ParseForm("a=1&&b=&c&a=2"),
            std::optional<Pairs>(Pairs{{"a", "1"}, {"b", ""}, {"c", ""}, {"a", "2"}}));
  EXPECT_EQ(ParseForm("x=a=b"), std::optional<Pairs>(Pairs{{"x", "a=b"}}));
  EXPECT_EQ(ParseForm("na%6De=v"), std::optional<Pairs>(Pairs{{"name", "v"}}));
}

TEST(ParseForm, RejectsAMalformedEscapeAnywhere) {
  for (std::string_view in : {"a=%zz", "%zz=1", "a=1&b=%", "a=1&b%2=2"}) {
    SCOPED_TRACE(in);
    EXPECT_EQ(ParseForm(in), std::nullopt);
  }
}

TEST(RequestQuery, ReturnsTheFirstDecodedOccurrence) {
  const Request req = MakeRequest("/auth/verify?token=abc%2Bdef&callbackURL=%2Fhome+page&token=second&flag&empty=");
  EXPECT_EQ(req.Query("token"), std::optional<std::string>("abc+def"));
  EXPECT_EQ(req.Query("callbackURL"), std::optional<std::string>("/home page"));
  EXPECT_EQ(req.Query("flag"), std::optional<std::string>(""));
  EXPECT_EQ(req.Query("empty"), std::optional<std::string>(""));
  EXPECT_EQ(req.Query("missing"), std::nullopt);
  EXPECT_EQ(req.Query("tok"), std::nullopt);
  EXPECT_EQ(req.Query("TOKEN"), std::nullopt);
}

TEST(RequestQuery, MatchesPercentEncodedKeys) {
  const Request req = MakeRequest("/x?call%62ackURL=%2Fa");
  EXPECT_EQ(req.Query("callbackURL"), std::optional<std::string>("/a"));
}

TEST(RequestQuery, GivesNothingForAMalformedValue) {
  const Request req = MakeRequest("/x?a=%zz&b=1");
  EXPECT_EQ(req.Query("a"), std::nullopt);
  EXPECT_EQ(req.Query("b"), std::optional<std::string>("1"));
}

TEST(RequestQuery, IsEmptyWithoutAQueryString) {
  const Request req = MakeRequest("/x");
  EXPECT_EQ(req.Query("a"), std::nullopt);
}

TEST(RequestCookie, FindsCookiesByExactName) {
  const Request req = MakeRequest(
      "/", {{"Cookie", "__Secure-neon-auth.session_token_x=wrong; __Secure-neon-auth.session_token=tok%2Bsig; a=1"}});
  EXPECT_EQ(req.Cookie("__Secure-neon-auth.session_token"), std::optional<std::string_view>("tok%2Bsig"));
  EXPECT_EQ(req.Cookie("__Secure-neon-auth.session_token_x"), std::optional<std::string_view>("wrong"));
  EXPECT_EQ(req.Cookie("a"), std::optional<std::string_view>("1"));
  EXPECT_EQ(req.Cookie("__Secure-neon-auth.session"), std::nullopt);
  EXPECT_EQ(req.Cookie("session_token"), std::nullopt);
  EXPECT_EQ(req.Cookie("A"), std::nullopt);
}

TEST(RequestCookie, DoesNotMatchANameThatIsAPrefixOfAnother) {
  const Request req = MakeRequest("/", {{"Cookie", "token_extra=1; token2=2"}});
  EXPECT_EQ(req.Cookie("token"), std::nullopt);
  EXPECT_EQ(req.Cookie("token_extra"), std::optional<std::string_view>("1"));
}

TEST(RequestCookie, ReadsAcrossSeveralCookieHeaders) {
  const Request req = MakeRequest(
      "/", {{"Cookie", "a=1; b=2"}, {"User-Agent", "test"}, {"Cookie", "c=3"}, {"Cookie", "b=late"}});
  EXPECT_EQ(req.Cookie("a"), std::optional<std::string_view>("1"));
  EXPECT_EQ(req.Cookie("b"), std::optional<std::string_view>("2"));  // first occurrence wins
  EXPECT_EQ(req.Cookie("c"), std::optional<std::string_view>("3"));
}

TEST(RequestCookie, StripsQuotesAndWhitespace) {
  const Request req = MakeRequest("/", {{"Cookie", " q=\"quoted value\" ;  spaced = v ;empty=; lone=\""}});
  EXPECT_EQ(req.Cookie("q"), std::optional<std::string_view>("quoted value"));
  EXPECT_EQ(req.Cookie("spaced"), std::optional<std::string_view>("v"));
  EXPECT_EQ(req.Cookie("empty"), std::optional<std::string_view>(""));
  EXPECT_EQ(req.Cookie("lone"), std::optional<std::string_view>("\""));
}

TEST(RequestCookie, KeepsEqualsSignsInsideValues) {
  const Request req = MakeRequest("/", {{"Cookie", "sig=abc==; flag"}});
  EXPECT_EQ(req.Cookie("sig"), std::optional<std::string_view>("abc=="));
  EXPECT_EQ(req.Cookie("flag"), std::nullopt);
}

TEST(RequestCookie, IsEmptyWithoutACookieHeader) {
  const Request req = MakeRequest("/");
  EXPECT_EQ(req.Cookie("a"), std::nullopt);
}

TEST(RequestHeader, ReadsHeadersCaseInsensitivelyAndEmptyWhenAbsent) {
  const Request req = MakeRequest("/", {{"X-Forwarded-For", "1.2.3.4"}, {"Origin", "https://a.example"}});
  EXPECT_EQ(req.Header("x-forwarded-for"), "1.2.3.4");
  EXPECT_EQ(req.Header(bhttp::field::origin), "https://a.example");
  EXPECT_EQ(req.Header("referer"), "");
  EXPECT_TRUE(req.HasHeader(bhttp::field::origin));
  EXPECT_FALSE(req.HasHeader(bhttp::field::cookie));
}

TEST(MakeResponse, SetsStatusBodyTypeLengthAndKeepAlive) {
  Request req = MakeRequest("/");
  req.raw.keep_alive(true);
  const Response res = MakeResponse(req, bhttp::status::created, "{\"ok\":true}", "application/json");
  EXPECT_EQ(res.result(), bhttp::status::created);
  EXPECT_EQ(res.body(), "{\"ok\":true}");
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res[bhttp::field::content_length], "11");
  EXPECT_TRUE(res.keep_alive());
}

}  // namespace
}  // namespace pgwarden::http
