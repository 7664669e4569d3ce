//! Media types as PostgREST v13 reads them (MediaType.hs decodeMediaType, wai-extra's parseHttpAccept):
//! the Accept list ordered by q-value then specificity, Content-Type, and the text PGRST107 prints.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dataapi/request/api_request.hpp"

namespace pgwarden::dataapi {

//! One media type; parameters other than nulls=stripped / for= / options= are ignored. Matching is exact
//! (case and blanks matter, as in PostgREST). An empty text is */*.
MediaType DecodeMediaType(std::string_view text);

//! An Accept header value: split on ',', all spaces removed, ";q=" values read (1 when absent or
//! unreadable), stable-sorted by (q, ';' count - '*' count) descending. Items with q=0 are kept.
std::vector<MediaType> ParseAccept(std::string_view accept);

//! PostgREST's toMime (what PGRST107's message and Content-Type print).
std::string ToMime(const MediaType& mt);

}  // namespace pgwarden::dataapi
