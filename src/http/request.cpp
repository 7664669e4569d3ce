#include "http/request.hpp"

#include "core/text.hpp"

namespace pgwarden::http {

std::string_view Request::Header(bhttp::field f) const {
  const auto it = raw.find(f);
  return it == raw.end() ? std::string_view() : std::string_view(it->value());
}

std::string_view Request::Header(std::string_view name) const {
  const auto it = raw.find(name);
  return it == raw.end() ? std::string_view() : std::string_view(it->value());
}

std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexDigitValue(s[i + 1]), lo = HexDigitValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  if (s.empty()) return out;
  for (const auto part : Split(s, '&')) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto key = FormDecode(part.substr(0, eq));
    auto value = FormDecode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::optional<std::string> Request::Query(std::string_view name) const {
  for (const auto part : Split(query, '&')) {
    const auto eq = part.find('=');
    const auto key = part.substr(0, eq);
    // Keys may be encoded too: compare the decoded key when it has escapes ("x+y" is "x y"), else the raw one.
    if (key.find('%') == std::string_view::npos && key.find('+') == std::string_view::npos) {
      if (key != name) continue;
    } else {
      const auto decoded = FormDecode(key);
      if (!decoded || *decoded != name) continue;
    }
    if (eq == std::string_view::npos) return std::string();
    return FormDecode(part.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::Cookie(std::string_view name) const {
  for (auto it = raw.find(bhttp::field::cookie); it != raw.end() && it->name() == bhttp::field::cookie; ++it) {
    for (auto part : Split(std::string_view(it->value()), ';')) {
      part = Trim(part);
      const auto eq = part.find('=');
      if (eq == std::string_view::npos) continue;
      if (Trim(part.substr(0, eq)) == name) {
        auto v = Trim(part.substr(eq + 1));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return v;
      }
    }
  }
  return std::nullopt;
}

Response MakeResponse(const Request& req, bhttp::status status, std::string body, std::string_view content_type) {
  Response res{status, req.raw.version()};
  res.keep_alive(req.raw.keep_alive());
  if (!content_type.empty()) res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace pgwarden::http
