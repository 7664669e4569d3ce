//! Origin allow-listing shared by CORS and the CSRF origin check: exact origins, patterns with '*'
//! (matching any run of characters except '/'), and optionally any localhost / 127.0.0.1 / [::1] port.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/request.hpp"

namespace pgwarden::http {

class OriginMatcher {
 public:
  OriginMatcher(std::vector<std::string> patterns, bool trust_localhost)
      : patterns_(std::move(patterns)), trust_localhost_(trust_localhost) {}
  //! `origin` is an Origin header value (or the origin of a URL); compared case-insensitively.
  bool Matches(std::string_view origin) const;

 private:
  std::vector<std::string> patterns_;
  bool trust_localhost_;
};

struct CorsPolicy {
  const OriginMatcher* origins = nullptr;
  bool any_origin = false;  //!< every Origin is allowed (only without credentials)
  bool credentials = true;
  std::string allow_methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
  std::string allow_headers;   //!< default list when the preflight asks for none
  std::string expose_headers;
  int max_age_s = 600;
};

//! Adds Access-Control-* headers for an allowed Origin (and Vary: Origin always).
void ApplyCors(const CorsPolicy& policy, const Request& req, Response& res);
//! Answers a preflight (OPTIONS with Access-Control-Request-Method): 204 with the allow headers, or 204
//! without them for a foreign origin (the browser then blocks the request).
Response Preflight(const CorsPolicy& policy, const Request& req);

}  // namespace pgwarden::http
