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

}  // namespace pgwarden
