#include "http/cors.hpp"

#include <vector>

#include "core/text.hpp"

namespace pgwarden::http {
namespace {

// '*' stands for one or more host characters ([A-Za-z0-9.-]): a wildcard can only widen the host name (or a
// port), never swallow '?', '#', '@', ':' or '/' that would let another host through (CS-04).
bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

bool Glob(std::string_view pattern, std::string_view text) {
  // Dynamic programming over suffixes, O(|pattern| * |text|): no backtracking blow-up for any pattern.
  std::vector<char> row(text.size() + 1, 0), next(text.size() + 1, 0);
  row[text.size()] = 1;  // the empty pattern suffix matches the empty text suffix
  for (size_t i = pattern.size(); i-- > 0;) {
    for (size_t j = text.size() + 1; j-- > 0;) {
      if (pattern[i] == '*') {
        next[j] = j < text.size() && IsHostChar(text[j]) && (row[j + 1] || next[j + 1]);
      } else {
        next[j] = j < text.size() && pattern[i] == text[j] && row[j + 1];
      }
    }
    row.swap(next);
  }
  return row[0] != 0;
}

bool IsLocalhost(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!StartsWith(origin, scheme)) continue;
    std::string_view host = origin.substr(scheme.size());
    for (std::string_view name : {"localhost", "127.0.0.1", "[::1]"}) {
      if (host == name) return true;
      if (StartsWith(host, name) && host.size() > name.size() + 1 && host[name.size()] == ':') {
        const auto port = host.substr(name.size() + 1);
        bool digits = port.size() <= 5;
        for (const char c : port) digits = digits && c >= '0' && c <= '9';
        if (digits) return true;
      }
    }
  }
  return false;
}

}  // namespace

bool OriginMatcher::Matches(std::string_view origin_in) const {
  if (origin_in.empty() || origin_in.size() > 512) return false;
  const std::string origin = AsciiLower(origin_in);
  if (trust_localhost_ && IsLocalhost(origin)) return true;
  for (const auto& p : patterns_) {
    if (p.find('*') == std::string::npos ? p == origin : Glob(p, origin)) return true;
  }
  return false;
}

namespace {
bool Allowed(const CorsPolicy& policy, std::string_view origin) {
  if (origin.empty()) return false;
  if (policy.any_origin && !policy.credentials) return true;
  return policy.origins && policy.origins->Matches(origin);
}
}  // namespace

void ApplyCors(const CorsPolicy& policy, const Request& req, Response& res) {
  res.set(bhttp::field::vary, "Origin");
  const auto origin = req.Header(bhttp::field::origin);
  if (!Allowed(policy, origin)) return;
  res.set(bhttp::field::access_control_allow_origin, origin);
  if (policy.credentials) res.set(bhttp::field::access_control_allow_credentials, "true");
  if (!policy.expose_headers.empty()) {
    // Handlers may already expose some headers (set-auth-token); merge, keeping theirs first.
    const auto existing = res.find(bhttp::field::access_control_expose_headers);
    std::string merged = existing == res.end() ? std::string() : std::string(existing->value());
    for (auto h : Split(policy.expose_headers, ',')) {
      h = Trim(h);
      if (merged.find(h) == std::string::npos) merged += (merged.empty() ? "" : ", ") + std::string(h);
    }
    res.set(bhttp::field::access_control_expose_headers, merged);
  }
}

Response Preflight(const CorsPolicy& policy, const Request& req) {
  Response res = MakeResponse(req, bhttp::status::no_content);
  res.set(bhttp::field::vary, "Origin, Access-Control-Request-Headers");
  const auto origin = req.Header(bhttp::field::origin);
  if (!Allowed(policy, origin)) return res;
  res.set(bhttp::field::access_control_allow_origin, origin);
  if (policy.credentials) res.set(bhttp::field::access_control_allow_credentials, "true");
  res.set(bhttp::field::access_control_allow_methods, policy.allow_methods);
  const auto requested = req.Header(bhttp::field::access_control_request_headers);
  // Echoing the requested list is what browsers need; the handlers, not CORS, decide what a header may do.
  res.set(bhttp::field::access_control_allow_headers,
          requested.empty() ? std::string_view(policy.allow_headers) : requested);
  res.set(bhttp::field::access_control_max_age, std::to_string(policy.max_age_s));
  return res;
}

}  // namespace pgwarden::http
