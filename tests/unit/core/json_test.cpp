//! JSON escaping for hand-built output and typed member access.
#include "core/json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace pgwarden {
namespace {

TEST(AppendJsonString, EscapesQuotesBackslashesAndControlCharacters) {
  struct Case {
    std::string_view name;
    std::string in;
    std::string_view out;
  };
  const Case cases[] = {
      {"empty", "", R"("")"},
      {"plain", "hello", R"("hello")"},
      {"double quote", "say \"hi\"", R"("say \"hi\"")"},
      {"backslash", "C:\\path", R"("C:\\path")"},
      {"newline, carriage return, tab", "a\nb\rc\td", R"("a\nb\rc\td")"},
      {"backspace and form feed", "\b\f", R"("\b\f")"},
      {"NUL", std::string("a\0b", 3), R"("a\u0000b")"},
      {"other C0 controls", "\x01\x1f\x0b", R"("\u0001\u001f\u000b")"},
      {"DEL is not escaped", "\x7f", "\"\x7f\""},
      {"slash is not escaped", "</script>", R"("</script>")"},
      {"UTF-8 passes through", "caf\xC3\xA9 \xF0\x9F\x94\x91", "\"caf\xC3\xA9 \xF0\x9F\x94\x91\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string out = "prefix:";
    AppendJsonString(out, c.in);
    EXPECT_EQ(out, "prefix:" + std::string(c.out));
    EXPECT_EQ(JsonString(c.in), c.out);
  }
}

TEST(AppendJsonString, ProducesTextThatBoostJsonParsesBackToTheInput) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  const json::value v = json::parse(JsonString(all));
  ASSERT_TRUE(v.is_string());
  EXPECT_EQ(std::string_view(v.get_string()), all);
}

TEST(GetString, TellsAbsentFromNullFromWrongTypeFromOk) {
  const json::object obj = json::parse(R"({"s":"x","n":null,"i":1,"b":true})").as_object();
  std::string_view out = "unchanged";
  EXPECT_EQ(GetString(obj, "missing", out), Member::kAbsent);
  EXPECT_EQ(GetString(obj, "n", out), Member::kNull);
  EXPECT_EQ(GetString(obj, "i", out), Member::kWrongType);
  EXPECT_EQ(GetString(obj, "b", out), Member::kWrongType);
  EXPECT_EQ(out, "unchanged");
  EXPECT_EQ(GetString(obj, "s", out), Member::kOk);
  EXPECT_EQ(out, "x");
}

TEST(GetBool, TellsAbsentFromNullFromWrongTypeFromOk) {
  const json::object obj = json::parse(R"({"t":true,"f":false,"n":null,"s":"true"})").as_object();
  bool out = false;
  EXPECT_EQ(GetBool(obj, "missing", out), Member::kAbsent);
  EXPECT_EQ(GetBool(obj, "n", out), Member::kNull);
  EXPECT_EQ(GetBool(obj, "s", out), Member::kWrongType);
  EXPECT_EQ(GetBool(obj, "t", out), Member::kOk);
  EXPECT_TRUE(out);
  EXPECT_EQ(GetBool(obj, "f", out), Member::kOk);
  EXPECT_FALSE(out);
}

TEST(Serialize, KeepsInsertionOrder) {
  json::object obj;
  obj["z"] = 1;
  obj["a"] = "two";
  obj["m"] = nullptr;
  EXPECT_EQ(Serialize(obj), R"({"z":1,"a":"two","m":null})");
}

}  // namespace
}  // namespace pgwarden
