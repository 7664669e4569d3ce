#include "auth/body.hpp"

#include "core/text.hpp"
#include "http/request.hpp"

namespace pgwarden::auth {

std::string_view TypeName(const json::value* v) {
  if (!v) return "undefined";
  switch (v->kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

int Utf16Length(std::string_view utf8) {
  int n = 0;
  for (const char ch : utf8) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;  // astral code points are 2 UTF-16 units
  }
  return n;
}

bool QueryRepeated(std::string_view query, std::string_view name) {
  int seen = 0;
  for (const auto part : Split(query, '&')) {
    const auto key = part.substr(0, part.find('='));
    if (key == name || http::FormDecode(key) == std::optional<std::string>(std::string(name))) ++seen;
  }
  return seen > 1;
}

void BodyReader::Issue(std::string_view key, std::string message) {
  issues_.push_back("[body." + std::string(key) + "] " + message);
}

Error BodyReader::Failure() const {
  std::string msg;
  for (const auto& i : issues_) msg += (msg.empty() ? "" : "; ") + i;
  return MakeError(ErrorCode::kValidationError, msg);
}

std::string_view BodyReader::RequiredString(std::string_view key, bool non_empty) {
  const auto* v = obj_.if_contains(key);
  if (!v || !v->is_string()) {
    Issue(key, "Invalid input: expected string, received " + std::string(TypeName(v)));
    return {};
  }
  const auto& s = v->get_string();
  if (non_empty && s.empty()) Issue(key, "Too small: expected string to have >=1 characters");
  return {s.data(), s.size()};
}

std::optional<std::string_view> BodyReader::OptionalString(std::string_view key) {
  const auto* v = obj_.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) {
    Issue(key, "Invalid input: expected string, received " + std::string(TypeName(v)));
    return std::nullopt;
  }
  const auto& s = v->get_string();
  return std::string_view(s.data(), s.size());
}

std::optional<bool> BodyReader::OptionalBool(std::string_view key) {
  const auto* v = obj_.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    Issue(key, "Invalid input: expected boolean, received " + std::string(TypeName(v)));
    return std::nullopt;
  }
  return v->get_bool();
}

std::string_view BodyReader::Email(std::string_view key) {
  const auto* v = obj_.if_contains(key);
  if (!v || !v->is_string()) {
    Issue(key, "Invalid input: expected string, received " + std::string(TypeName(v)));
    return {};
  }
  const auto& s = v->get_string();
  const std::string_view email(s.data(), s.size());
  if (!IsValidEmail(email)) {
    Issue(key, "Invalid email address");
    return {};
  }
  return email;
}

}  // namespace pgwarden::auth
