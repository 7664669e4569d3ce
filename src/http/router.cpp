#include "http/router.hpp"

#include "core/text.hpp"

namespace pgwarden::http {

void Router::Add(bhttp::verb method, std::string pattern, Handler handler) {
  if (pattern.find("/:") == std::string::npos) {
    exact_[pattern].emplace_back(method, std::move(handler));
    return;
  }
  Pattern p{method, {}, std::move(handler)};
  for (const auto seg : Split(pattern, '/')) p.segments.emplace_back(seg);
  patterns_.push_back(std::move(p));
}

const Handler* Router::Find(bhttp::verb method, std::string_view path, std::vector<std::string>& params) const {
  if (const auto it = exact_.find(std::string(path)); it != exact_.end()) {
    for (const auto& [m, h] : it->second)
      if (m == method) return &h;
    return nullptr;
  }
  const auto segments = Split(path, '/');
  for (const auto& p : patterns_) {
    if (p.method != method || p.segments.size() != segments.size()) continue;
    bool ok = true;
    std::vector<std::string> found;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      if (!p.segments[i].empty() && p.segments[i][0] == ':') {
        auto decoded = FormDecode(segments[i]);
        if (segments[i].empty() || !decoded) ok = false;
        else found.push_back(std::move(*decoded));
      } else if (p.segments[i] != segments[i]) {
        ok = false;
      }
    }
    if (ok) {
      params = std::move(found);
      return &p.handler;
    }
  }
  return nullptr;
}

bool Router::Knows(std::string_view path) const {
  if (exact_.contains(std::string(path))) return true;
  const auto segments = Split(path, '/');
  for (const auto& p : patterns_) {
    if (p.segments.size() != segments.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i)
      ok = (!p.segments[i].empty() && p.segments[i][0] == ':') ? !segments[i].empty() : p.segments[i] == segments[i];
    if (ok) return true;
  }
  return false;
}

}  // namespace pgwarden::http
