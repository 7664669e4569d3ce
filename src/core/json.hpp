//! JSON helpers over Boost.JSON: escaping for hand-built lines, typed member access that tells "absent"
//! from "wrong type", and serialisation of objects in insertion order (member order is part of the wire
//! contract with Better Auth's clients).
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden {

namespace json = boost::json;

void AppendJsonString(std::string& out, std::string_view s);
std::string JsonString(std::string_view s);

enum class Member { kAbsent, kNull, kWrongType, kOk };

//! Looks up a string member. `out` is set only when the result is kOk.
Member GetString(const json::object& obj, std::string_view key, std::string_view& out);
Member GetBool(const json::object& obj, std::string_view key, bool& out);

std::string Serialize(const json::value& v);

//! Strictness that Boost.JSON's DOM parser does not give: duplicate member names (it silently keeps one)
//! and NUL characters in strings (Postgres text cannot hold them). One SAX pass, no allocation per value.
enum class JsonStrictness { kOk, kMalformed, kDuplicateKey, kNulCharacter, kTooDeep };
struct JsonCheck {
  JsonStrictness result = JsonStrictness::kOk;
  std::string key;  //!< the duplicated key, for kDuplicateKey
};
JsonCheck CheckJsonStrict(std::string_view text, std::size_t max_depth = 32);

}  // namespace pgwarden
