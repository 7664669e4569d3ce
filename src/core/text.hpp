//! Small text utilities: ASCII case folding, trimming, splitting, and e-mail syntax checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden {

std::string AsciiLower(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);
std::string_view Trim(std::string_view s);
std::vector<std::string_view> Split(std::string_view s, char sep);
bool StartsWith(std::string_view s, std::string_view prefix);

//! RFC 3986 percent-decoding of a path segment ('+' stays '+'); nullopt for a bad escape or a NUL byte.
std::optional<std::string> PercentDecode(std::string_view s);

//! Value of one hexadecimal digit (either case), or -1.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

//! The e-mail syntax Better Auth accepts (zod's email(): local part of [A-Za-z0-9_'+.-] without leading,
//! trailing or double dots; domain of dot-separated labels of [A-Za-z0-9-] not starting with '-', and a
//! TLD of at least two letters). Also rejects anything over 254 bytes and control characters.
bool IsValidEmail(std::string_view email);

//! HTML text and attribute escaping: & < > " ' become character references.
void AppendHtmlEscaped(std::string& out, std::string_view s);
std::string HtmlEscape(std::string_view s);

}  // namespace pgwarden
