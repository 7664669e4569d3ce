//! Byte/text encodings used on the wire: hex, standard base64 (padded), base64url (unpadded), and
//! JavaScript's encodeURIComponent / decodeURIComponent (cookie values). Pure functions, no allocation
//! surprises: decoders return std::nullopt on any invalid input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgwarden::crypto {

std::string HexEncode(std::string_view bytes);                       //!< lowercase
std::optional<std::string> HexDecode(std::string_view hex);          //!< accepts upper and lower case
std::string Base64Encode(std::string_view bytes);                    //!< RFC 4648 §4, with '=' padding
std::optional<std::string> Base64Decode(std::string_view text);      //!< strict: padding required
std::string Base64UrlEncode(std::string_view bytes);                 //!< RFC 4648 §5, no padding
std::optional<std::string> Base64UrlDecode(std::string_view text);   //!< strict: no padding, no '+/'
std::string UriComponentEncode(std::string_view text);               //!< as JS encodeURIComponent
std::optional<std::string> UriComponentDecode(std::string_view text);  //!< '%XX' only; '+' stays '+'

}  // namespace pgwarden::crypto
