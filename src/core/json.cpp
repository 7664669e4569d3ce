#include "core/json.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <vector>

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

namespace {
struct StrictHandler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;

  std::vector<std::vector<std::string>> keys;  // per open object: the keys seen so far
  std::vector<bool> is_object;                 // per open container
  std::string key;
  std::size_t max_depth = 32;
  JsonCheck outcome;

  bool Fail(JsonStrictness r, ec_t& ec) {
    outcome.result = r;
    ec = boost::json::error::syntax;  // stops the parser; the outcome says why
    return false;
  }
  bool Push(bool object, ec_t& ec) {
    if (is_object.size() >= max_depth) return Fail(JsonStrictness::kTooDeep, ec);
    is_object.push_back(object);
    if (object) keys.emplace_back();
    return true;
  }
  bool Pop() {
    if (is_object.back()) keys.pop_back();
    is_object.pop_back();
    return true;
  }
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t& ec) { return Push(true, ec); }
  bool on_object_end(std::size_t, ec_t&) { return Pop(); }
  bool on_array_begin(ec_t& ec) { return Push(false, ec); }
  bool on_array_end(std::size_t, ec_t&) { return Pop(); }
  bool on_key_part(boost::json::string_view s, std::size_t, ec_t&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, ec_t& ec) {
    key.append(s.data(), s.size());
    if (key.find('\0') != std::string::npos) return Fail(JsonStrictness::kNulCharacter, ec);
    auto& seen = keys.back();
    for (const auto& k : seen) {
      if (k == key) {
        outcome.key = key;
        return Fail(JsonStrictness::kDuplicateKey, ec);
      }
    }
    seen.push_back(std::move(key));
    key.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, ec_t& ec) {
    if (std::string_view(s.data(), s.size()).find('\0') != std::string_view::npos)
      return Fail(JsonStrictness::kNulCharacter, ec);
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t n, ec_t& ec) { return on_string_part(s, n, ec); }
  bool on_number_part(boost::json::string_view, ec_t&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, ec_t&) { return true; }
  bool on_double(double, boost::json::string_view, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(boost::json::string_view, ec_t&) { return true; }
  bool on_comment(boost::json::string_view, ec_t&) { return true; }
};
}  // namespace

JsonCheck CheckJsonStrict(std::string_view text, std::size_t max_depth) {
  boost::json::parse_options opts;
  opts.max_depth = max_depth + 1;
  boost::json::basic_parser<StrictHandler> p(opts);
  p.handler().max_depth = max_depth;
  boost::system::error_code ec;
  p.write_some(false, text.data(), text.size(), ec);
  if (ec) {
    JsonCheck out = p.handler().outcome;
    if (out.result == JsonStrictness::kOk) out.result = JsonStrictness::kMalformed;
    return out;
  }
  return p.handler().outcome;
}

}  // namespace pgwarden
