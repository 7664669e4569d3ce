//! PGRST100 texts word for word: the position line and Parsec's "unexpected ... expecting ..." details, for the
//! examples of PostgREST's own doctests (QueryParams.hs) and the conformance suite, plus Haskell's `show`
//! escaping of the characters it prints.
#include <gtest/gtest.h>

#include "dataapi/request/grammar.hpp"
#include "dataapi/request/parsec.hpp"
#include "test_support.hpp"

namespace pgwarden::dataapi {
namespace {

using namespace test;

struct Expected {
  std::string_view query;
  std::string message;
  std::string details;
};

TEST(ParseErrors, MatchPostgrestWordForWord) {
  for (
      const auto& c : {
          // The conformance suite (AndOrParamsSpec, InsertSpec, JsonOperatorSpec, QuerySpec).
          Expected{
              "or=()", R"~("failed to parse logic tree (())" (line 1, column 4))~",
              R"~(unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or))~"},
          Expected{"columns=", R"~("failed to parse columns parameter ()" (line 1, column 1))~",
                   R"~(unexpected end of input expecting field name (* or [a..z0..9_$]))~"},
          Expected{
              "id=eq.10&select=data->(!@%23$%^%26*_d->>!@%23$%^%26*_e::integer",
              R"~("failed to parse select parameter (data->(!@#$%^&*_d->>!@#$%^&*_e::integer)" (line 1, column 7))~",
              R"~(unexpected "(" expecting "-", digit or any non reserved character different from: .,>())~"},
          Expected{"order=id.asc.nullslasttt", R"~("failed to parse order (id.asc.nullslasttt)" (line 1, column 17))~",
                   R"~(unexpected 't' expecting "," or end of input)~"},
          Expected{"id=0", R"~("failed to parse filter (0)" (line 1, column 1))~",
                   R"~(unexpected "0" expecting "not" or operator (eq, gt, ...))~"},
          // PostgREST's doctests, as whole parameters.
          Expected{"a.b=noop.0", R"~("failed to parse filter (noop.0)" (line 1, column 1))~",
                   R"~(unexpected "o" expecting "not" or operator (eq, gt, ...))~"},
          Expected{"id=val", R"~("failed to parse filter (val)" (line 1, column 1))~",
                   R"~(unexpected "v" expecting "not" or operator (eq, gt, ...))~"},
          Expected{
              "select=id,clients(name[])",
              R"~("failed to parse select parameter (id,clients(name[]))" (line 1, column 16))~",
              R"~(unexpected '[' expecting letter, digit, "-", "->>", "->", "::", ".", ")", "," or end of input)~"},
          Expected{"select=data->>-78xy", R"~("failed to parse select parameter (data->>-78xy)" (line 1, column 11))~",
                   R"~(unexpected 'x' expecting digit, "->", "::", ".", "," or end of input)~"},
          Expected{
              "select=name!hint", R"~("failed to parse select parameter (name!hint)" (line 1, column 5))~",
              R"~(unexpected '!' expecting letter, digit, "-", "->>", "->", "::", ".", ")", "," or end of input)~"},
          Expected{"select=name::", R"~("failed to parse select parameter (name::)" (line 1, column 7))~",
                   R"~(unexpected end of input expecting letter or digit)~"},
          Expected{"id=fts().value", R"~("failed to parse filter (fts().value)" (line 1, column 5))~",
                   R"~(unexpected ")" expecting operator (eq, gt, ...))~"},
          Expected{"id=eq().value", R"~("failed to parse filter (eq().value)" (line 1, column 4))~",
                   R"~(unexpected ")" expecting operator (eq, gt, ...))~"},
          Expected{"id=is().value", R"~("failed to parse filter (is().value)" (line 1, column 3))~",
                   R"~(unexpected "(" expecting operator (eq, gt, ...))~"},
          Expected{"id=in().value", R"~("failed to parse filter (in().value)" (line 1, column 3))~",
                   R"~(unexpected "(" expecting operator (eq, gt, ...))~"},
          Expected{"order=id.ac", R"~("failed to parse order (id.ac)" (line 1, column 4))~",
                   R"~(unexpected "c" expecting "asc", "desc", "nullsfirst" or "nullslast")~"},
          Expected{"order=id.descc", R"~("failed to parse order (id.descc)" (line 1, column 8))~",
                   R"~(unexpected 'c' expecting delimiter (.), "," or end of input)~"},
          Expected{"order=id.nulsfist", R"~("failed to parse order (id.nulsfist)" (line 1, column 4))~",
                   R"~(unexpected "n" expecting "asc", "desc", "nullsfirst" or "nullslast")~"},
          Expected{"order=id.nullslasttt", R"~("failed to parse order (id.nullslasttt)" (line 1, column 13))~",
                   R"~(unexpected 't' expecting "," or end of input)~"},
          Expected{"order=id.smth34", R"~("failed to parse order (id.smth34)" (line 1, column 4))~",
                   R"~(unexpected "s" expecting "asc", "desc", "nullsfirst" or "nullslast")~"},
          Expected{"order=id.asc.nlsfst", R"~("failed to parse order (id.asc.nlsfst)" (line 1, column 8))~",
                   R"~(unexpected "l" expecting "nullsfirst" or "nullslast")~"},
          Expected{"order=id.asc.smth34", R"~("failed to parse order (id.asc.smth34)" (line 1, column 8))~",
                   R"~(unexpected "s" expecting "nullsfirst" or "nullslast")~"},
          Expected{"order=clients(name,id)", R"~("failed to parse order (clients(name,id))" (line 1, column 8))~",
                   R"~(unexpected '(' expecting letter, digit, "-", "->>", "->", delimiter (.), "," or end of input)~"},
          Expected{"or=(id.in.1,2,id.eq.3)",
                   R"~("failed to parse logic tree ((id.in.1,2,id.eq.3))" (line 1, column 10))~",
                   R"~(unexpected "1" expecting "(")~"},
          Expected{"or=)(", R"~("failed to parse logic tree ()()" (line 1, column 3))~",
                   R"~(unexpected ")" expecting "(")~"},
          Expected{"and=(ord(id.eq.1,id.eq.1),id.eq.2)",
                   R"~("failed to parse logic tree ((ord(id.eq.1,id.eq.1),id.eq.2))" (line 1, column 7))~",
                   R"~(unexpected "d" expecting "(")~"},
          Expected{"or=(id.eq.1,not.xor(id.eq.2,id.eq.3))",
                   R"~("failed to parse logic tree ((id.eq.1,not.xor(id.eq.2,id.eq.3)))" (line 1, column 16))~",
                   R"~(unexpected "x" expecting logic operator (and, or))~"},
      }) {
    SCOPED_TRACE(c.query);
    const ApiError e = ParseError(c.query);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "PGRST100");
    EXPECT_EQ(e.message, c.message);
    EXPECT_EQ(e.details, c.details);
    EXPECT_FALSE(e.hint.has_value());
  }
}

TEST(ParseErrors, CountColumnsInCharactersAndTabsToTheNextStop) {
  // Parsec counts characters (not bytes); a tab advances to the next multiple of 8, plus one.
  EXPECT_EQ(ParseError("select=%C3%A9!").message,
            "\"failed to parse select parameter (\xC3\xA9!)\" (line 1, column 2)");
  EXPECT_EQ(ParseError("select=%09a!").message, "\"failed to parse select parameter (\ta!)\" (line 1, column 10)");
  EXPECT_EQ(ParseError("select=a%0Ab!").message, "\"failed to parse select parameter (a\nb!)\" (line 1, column 2)");
}

TEST(ParseErrors, ShowCharactersAsHaskellDoes) {
  using parsec::ShowChar;
  using parsec::ShowString;
  EXPECT_EQ(ShowString("x"), "\"x\"");
  EXPECT_EQ(ShowString("\""), "\"\\\"\"");
  EXPECT_EQ(ShowString("\\"), "\"\\\\\"");
  EXPECT_EQ(ShowString("'"), "\"'\"");
  EXPECT_EQ(ShowString("\n"), "\"\\n\"");
  EXPECT_EQ(ShowString(std::string("\0", 1)), "\"\\NUL\"");
  EXPECT_EQ(ShowString("\x7F"), "\"\\DEL\"");
  EXPECT_EQ(ShowString("\xD8\xAA"), "\"\\1578\"");
  EXPECT_EQ(ShowString("\xD8\xAA"
                       "1"),
            "\"\\1578\\&1\"");
  EXPECT_EQ(ShowString("\x0EH"), "\"\\SO\\&H\"");
  EXPECT_EQ(ShowChar('\''), "'\\''");
  EXPECT_EQ(ShowChar('"'), "'\"'");
  EXPECT_EQ(ShowChar(U'\u00e9'), "'\\233'");
  // In a real error: the unexpected character of a Unicode identifier.
  EXPECT_EQ(ParseError("select=a%E2%82%AC").details,
            R"~(unexpected '\8364' expecting letter, digit, "-", "->>", "->", "::", ".", ")", "," or end of input)~");
}

}  // namespace
}  // namespace pgwarden::dataapi
