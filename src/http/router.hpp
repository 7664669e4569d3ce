//! Method + path routing. Exact paths are one hash lookup; patterns with ":name" segments are tried in
//! order. Paths are matched exactly as sent (no trailing-slash or case folding: Better Auth answers 404).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "http/request.hpp"

namespace pgwarden::http {

class Router {
 public:
  void Add(bhttp::verb method, std::string pattern, Handler handler);
  //! nullptr when nothing matches; fills `params` for pattern routes.
  const Handler* Find(bhttp::verb method, std::string_view path, std::vector<std::string>& params) const;
  //! True when some method is routed for this path (used to answer OPTIONS).
  bool Knows(std::string_view path) const;

 private:
  struct Pattern {
    bhttp::verb method;
    std::vector<std::string> segments;  // ":x" = parameter
    Handler handler;
  };
  std::unordered_map<std::string, std::vector<std::pair<bhttp::verb, Handler>>> exact_;
  std::vector<Pattern> patterns_;
};

}  // namespace pgwarden::http
