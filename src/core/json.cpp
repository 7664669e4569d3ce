#include "core/json.hpp"

namespace pgwarden {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t run = 0;  // start of the current run of characters that need no escaping (appended in bulk)
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
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
