//! Typed reading of a request body object with Better Auth's (zod's) validation messages:
//! "[body.email] Invalid input: expected string, received undefined", joined with "; " into one
//! 400 VALIDATION_ERROR. Unknown members are ignored (the SDK sends extra fields).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/json.hpp"

namespace pgwarden::auth {

class BodyReader {
 public:
  explicit BodyReader(const json::object& obj) : obj_(obj) {}

  //! Required string (an empty string is allowed unless `non_empty`).
  std::string_view RequiredString(std::string_view key, bool non_empty = false);
  //! Optional string; null counts as absent. Empty strings are returned as empty.
  std::optional<std::string_view> OptionalString(std::string_view key);
  std::optional<bool> OptionalBool(std::string_view key);
  //! A syntactically valid e-mail (required).
  std::string_view Email(std::string_view key);
  //! Optional URL member: "" counts as absent (the SDK sends "" outside browsers).
  std::optional<std::string_view> OptionalUrl(std::string_view key) {
    auto v = OptionalString(key);
    if (v && v->empty()) return std::nullopt;
    return v;
  }
  bool Has(std::string_view key) const { return obj_.contains(key); }

  bool Ok() const { return issues_.empty(); }
  Error Failure() const;

 private:
  void Issue(std::string_view key, std::string message);
  const json::object& obj_;
  std::vector<std::string> issues_;
};

//! zod's name for a JSON value's type ("undefined" for absent).
std::string_view TypeName(const json::value* v);

//! Length in UTF-16 code units, as JavaScript (and so Better Auth's password rules) counts it.
int Utf16Length(std::string_view utf8);

//! True when the query string names `name` more than once: an array to Better Auth's schemas, never one of the
//! values picked silently (CS-04).
bool QueryRepeated(std::string_view query, std::string_view name);

}  // namespace pgwarden::auth
