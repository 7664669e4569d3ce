//! UTF-8 helpers and the character classes of Haskell's Data.Char that PostgREST's query-string grammar uses
//! (it parses decoded Text, so a "character" is a code point). Pure functions, no allocation except AppendUtf8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgwarden::dataapi {

//! Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as Data.Text.decodeUtf8.
bool IsValidUtf8(std::string_view s);

struct DecodedChar {
  char32_t cp;
  std::uint8_t len;  //!< bytes, 1..4
};

//! The code point starting at `pos`; `s` must be valid UTF-8 and `pos` < s.size() at a character boundary.
DecodedChar DecodeUtf8At(std::string_view s, std::size_t pos);

void AppendUtf8(std::string& out, char32_t c);

//! Data.Char.isAlpha: ASCII letters and the Unicode letter categories (Lu, Ll, Lt, Lm, Lo).
bool IsAlpha(char32_t c);
//! Data.Char.isDigit: ASCII digits only.
inline bool IsDigit(char32_t c) { return c >= '0' && c <= '9'; }
//! Data.Char.isSpace (what Data.Text.strip removes).
bool IsSpace(char32_t c);

}  // namespace pgwarden::dataapi
