#include "core/json.hpp"

namespace pgwarden {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(out, s);
  return out;
}

Member GetString(const json::object& obj, std::string_view key, std::string_view& out) {
  const auto* v = obj.if_contains(key);
  if (!v) return Member::kAbsent;
  if (v->is_null()) return Member::kNull;
  if (!v->is_string()) return Member::kWrongType;
  const auto& s = v->get_string();
  out = std::string_view(s.data(), s.size());
  return Member::kOk;
}

Member GetBool(const json::object& obj, std::string_view key, bool& out) {
  const auto* v = obj.if_contains(key);
  if (!v) return Member::kAbsent;
  if (v->is_null()) return Member::kNull;
  if (!v->is_bool()) return Member::kWrongType;
  out = v->get_bool();
  return Member::kOk;
}

std::string Serialize(const json::value& v) { return json::serialize(v); }

}  // namespace pgwarden
