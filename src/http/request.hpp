//! The request as handlers see it: Beast's parsed message plus the split target, the peer address, the io
//! thread it runs on and the router's path parameters. Responses are Beast string-body responses.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using RawRequest = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

struct Request {
  RawRequest raw;
  std::string_view path;   //!< target up to '?', not decoded
  std::string_view query;  //!< after '?', not decoded
  std::string remote_ip;   //!< the TCP peer
  int worker = 0;          //!< index of the io thread serving this request
  std::vector<std::string> params;  //!< decoded ":name" segments, in pattern order

  std::string_view Header(bhttp::field f) const;
  std::string_view Header(std::string_view name) const;
  bool HasHeader(bhttp::field f) const { return raw.find(f) != raw.end(); }
  //! First occurrence of a query parameter, percent- and '+'-decoded.
  std::optional<std::string> Query(std::string_view name) const;
  //! Cookie value by exact name (first occurrence), not decoded.
  std::optional<std::string_view> Cookie(std::string_view name) const;
};

using Handler = std::function<asio::awaitable<Response>(Request&)>;

//! Decodes application/x-www-form-urlencoded text ('+' is a space). nullopt on malformed escapes.
std::optional<std::string> FormDecode(std::string_view s);
//! Splits "a=1&b=2" into decoded pairs; nullopt on malformed escapes.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view s);

//! A response with a body and content type (keep-alive follows the request).
Response MakeResponse(const Request& req, bhttp::status status, std::string body = {},
                      std::string_view content_type = {});

}  // namespace pgwarden::http
