#include "dataapi/request/query_params.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/text.hpp"
#include "dataapi/request/grammar.hpp"
#include "dataapi/request/media_type.hpp"
#include "dataapi/request/preferences.hpp"
#include "dataapi/request/unicode.hpp"

namespace pgwarden::dataapi {
namespace {


//! http-types' urlDecode True.
std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && HexDigitValue(s[i + 1]) >= 0 && HexDigitValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

//! The last '.'-separated word of a key (T.split, not quote-aware): how PostgREST tells `rel.order` from a filter.
std::string_view LastWord(std::string_view key) {
  const std::size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

bool EndsIn(std::string_view key, std::initializer_list<std::string_view> words) {
  const std::string_view last = LastWord(key);
  return std::find(words.begin(), words.end(), last) != words.end();
}

// ------------------------------------------------------------------------------------------------- ranges

//! Data.Ranged's Range Integer as PostgREST uses it: [lower, upper], upper absent = unbounded. An inverted
//! range is empty; `canonical_empty` is Data.Ranged's emptyRange (what intersecting with an empty range gives).
struct Range {
  std::int64_t lower = 0;
  std::optional<std::int64_t> upper;
  bool canonical_empty = false;

  bool IsEmpty() const { return canonical_empty || (upper && *upper < lower); }
  friend bool operator==(const Range& a, const Range& b) {
    if (a.IsEmpty() || b.IsEmpty()) return a.IsEmpty() && b.IsEmpty();
    return a.lower == b.lower && a.upper == b.upper;
  }
};

const Range kAllRange{};

Range Intersect(const Range& a, const Range& b) {
  if (a.IsEmpty() || b.IsEmpty()) return Range{0, std::nullopt, true};
  Range r;
  r.lower = std::max(a.lower, b.lower);
  if (a.upper && b.upper) {
    r.upper = std::min(*a.upper, *b.upper);
  } else {
    r.upper = a.upper ? a.upper : b.upper;
  }
  return r;
}

std::int64_t SatAdd(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

//! restrictRange (readMaybe v) allRange
Range LimitRange(std::string_view v) {
  const std::optional<std::int64_t> limit = ReadInteger(v);
  if (!limit) return kAllRange;
  return Intersect(kAllRange, Range{std::numeric_limits<std::int64_t>::min(), SatAdd(*limit, -1)});
}

//! maybe allRange rangeGeq (readMaybe v)
Range OffsetRange(std::string_view v) {
  const std::optional<std::int64_t> offset = ReadInteger(v);
  if (!offset) return kAllRange;
  return Range{*offset, std::nullopt};
}

//! The union of a limit and an offset given for the same path:
//! Range (BoundaryBelow o) (BoundaryAbove $ o + l - 1) with l = fromMaybe 0 (rangeLimit rl), o = rangeOffset ro.
Range Combine(const Range& limit, const Range& offset) {
  const std::int64_t l = limit.upper ? SatAdd(SatAdd(*limit.upper, -limit.lower), 1) : 0;
  const std::int64_t o = offset.lower;
  return Range{o, SatAdd(SatAdd(o, l), -1)};
}

//! rangeParse: "^([0-9]+)-([0-9]*)$", anything else is ignored (all rows).
Range HeaderRange(std::string_view h) {
  const std::size_t dash = h.find('-');
  if (dash == std::string_view::npos || dash == 0) return kAllRange;
  const std::string_view lo = h.substr(0, dash);
  const std::string_view hi = h.substr(dash + 1);
  const auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(lo) || !digits(hi)) return kAllRange;
  Range r{ReadInteger(lo).value_or(0), std::nullopt};
  if (!hi.empty()) r.upper = ReadInteger(hi);
  return r;
}

bool HasLimitZero(const Range& r) { return !r.canonical_empty && r.upper == -1; }

RowRange ToRowRange(const Range& r) {
  RowRange out;
  out.offset = r.lower;
  if (r.upper) out.limit = SatAdd(SatAdd(*r.upper, -r.lower), 1);
  return out;
}

struct KeyedRange {
  std::string key;  //!< the limit key: "limit", "rel.limit" (offsets are re-keyed to their limit)
  std::optional<Range> limit;
  std::optional<Range> offset;
};

//! qsRanges: HM.unionWith f limitParams offsetParams, with `.offset` keys renamed to `.limit`. The last value of
//! a repeated key wins (HM.fromList); keys keep their first appearance for a stable order.
std::vector<KeyedRange> CollectRanges(const std::vector<QueryParam>& params) {
  std::vector<KeyedRange> out;
  const auto slot = [&](std::string key) -> KeyedRange& {
    for (KeyedRange& k : out) {
      if (k.key == key) return k;
    }
    out.push_back(KeyedRange{std::move(key), std::nullopt, std::nullopt});
    return out.back();
  };
  for (const QueryParam& p : params) {
    if (!p.value) continue;
    const std::string_view last = LastWord(p.key);
    if (last == "limit") {
      slot(p.key).limit = LimitRange(*p.value);
    } else if (last == "offset") {
      const std::size_t dot = p.key.rfind('.');
      std::string key = dot == std::string::npos ? std::string("limit") : p.key.substr(0, dot) + ".limit";
      slot(std::move(key)).offset = OffsetRange(*p.value);
    }
  }
  return out;
}

Range Resolve(const KeyedRange& k) {
  if (k.limit && k.offset) return Combine(*k.limit, *k.offset);
  return k.limit ? *k.limit : *k.offset;
}

// ------------------------------------------------------------------------------------------------- profiles

bool UsesContentProfile(Verb v) {
  return v == Verb::kDelete || v == Verb::kPost || v == Verb::kPatch || v == Verb::kPut;
}

const QueryParam* Lookup(const std::vector<QueryParam>& params, std::string_view key) {
  for (const QueryParam& p : params) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

//! lookupParam: the first occurrence of the key; a bare `key` (no '=') counts as absent.
std::optional<std::string> LookupValue(const std::vector<QueryParam>& params, std::string_view key) {
  const QueryParam* p = Lookup(params, key);
  if (!p || !p->value) return std::nullopt;
  return p->value;
}

}  // namespace

std::optional<std::vector<QueryParam>> DecodeQueryString(std::string_view qs) {
  if (!qs.empty() && qs.front() == '?') qs.remove_prefix(1);
  std::vector<QueryParam> out;
  while (!qs.empty()) {
    const std::size_t sep = qs.find_first_of("&;");
    const std::string_view piece = qs.substr(0, sep);
    qs = sep == std::string_view::npos ? std::string_view() : qs.substr(sep + 1);
    const std::size_t eq = piece.find('=');
    QueryParam p;
    p.key = UrlDecode(piece.substr(0, eq));
    if (eq != std::string_view::npos) p.value = UrlDecode(piece.substr(eq + 1));
    // Text.decodeUtf8 in PostgREST: keys and values must be UTF-8.
    if (!IsValidUtf8(p.key) || (p.value && !IsValidUtf8(*p.value))) return std::nullopt;
    out.push_back(std::move(p));
  }
  return out;
}

std::string CanonicalQuery(const std::vector<QueryParam>& params) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  sorted.reserve(params.size());
  for (const QueryParam& p : params) sorted.emplace_back(p.key, p.value ? std::string_view(*p.value) : "");
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Network.HTTP.Base.urlEncode over the bytes taken as Latin-1 characters: unreserved ASCII stays, any other
  // ASCII byte is %XX, a byte >= 0x80 is the UTF-8 of that Latin-1 character, escaped.
  const auto encode = [](std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const auto escape = [&](unsigned char b) {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    };
    for (const char ch : s) {
      const auto b = static_cast<unsigned char>(ch);
      if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' || b == '_' ||
          b == '.' || b == '~') {
        out += ch;
      } else if (b < 0x80) {
        escape(b);
      } else {
        escape(static_cast<unsigned char>(0xC0 | (b >> 6)));
        escape(static_cast<unsigned char>(0x80 | (b & 0x3F)));
      }
    }
  };
  std::string out;
  std::vector<bool> done(sorted.size(), false);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (done[i]) continue;
    if (!out.empty()) out += '&';
    encode(out, sorted[i].first);
    out += '=';
    encode(out, sorted[i].second);
    for (std::size_t j = i + 1; j < sorted.size(); ++j) {
      if (!done[j] && sorted[j].first == sorted[i].first) {
        out += ',';
        encode(out, sorted[j].second);
        done[j] = true;
      }
    }
  }
  return out;
}

ApiResult<ApiRequest> ParseQuery(std::string_view query_string, const RequestHeaders& headers,
                                 const RequestTarget& target) {
  ApiRequest req;

  // 1. The schema, from the profile header that applies to the verb (getSchema, before the query string).
  if (headers.accept_profile) req.accept_profile = std::string(*headers.accept_profile);
  if (headers.content_profile) req.content_profile = std::string(*headers.content_profile);
  const std::optional<std::string>& profile =
      UsesContentProfile(target.verb) ? req.content_profile : req.accept_profile;
  if (profile) {
    if (!target.schemas.empty() &&
        std::find(target.schemas.begin(), target.schemas.end(), *profile) == target.schemas.end()) {
      return UnacceptableSchemaError(*profile, target.schemas);
    }
    req.schema = *profile;
    req.negotiated_by_profile = true;
  } else if (!target.schemas.empty()) {
    req.schema = target.schemas.front();
    req.negotiated_by_profile = target.schemas.size() != 1;
  }

  // 2. The query string (QueryParams.parse).
  std::optional<std::vector<QueryParam>> decoded = DecodeQueryString(query_string);
  if (!decoded) {
    // PostgREST's Text.decodeUtf8 throws here (a 500); a client error is the honest answer.
    return QueryParamError("\"failed to parse query string\"", "invalid UTF-8 after percent-decoding");
  }
  req.params = std::move(*decoded);
  req.canonical_query = CanonicalQuery(req.params);
  const bool rpc_read = target.rpc && (target.verb == Verb::kGet || target.verb == Verb::kHead);

  for (const QueryParam& p : req.params) {
    if (!p.value || !EndsIn(p.key, {"order"})) continue;
    auto path = grammar::ParseTreePath(p.key);
    if (!path) return path.error();
    auto terms = grammar::ParseOrder(*p.value);
    if (!terms) return terms.error();
    req.order.push_back(PathOrder{std::move(path->first), std::move(*terms)});
  }
  for (const QueryParam& p : req.params) {
    if (!p.value || !EndsIn(p.key, {"and", "or"})) continue;
    auto path = grammar::ParseLogicPath(p.key);
    if (!path) return path.error();
    auto tree = grammar::ParseLogicTree(path->second, *p.value);
    if (!tree) return tree.error();
    req.logic.push_back(PathLogic{std::move(path->first), std::move(*tree)});
  }
  if (std::optional<std::string> columns = LookupValue(req.params, "columns")) {
    auto names = grammar::ParseColumns(*columns, "columns");
    if (!names) return names.error();
    // qsColumns is a set: keep the first of each name.
    std::vector<std::string> unique;
    for (std::string& n : *names) {
      if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(std::move(n));
    }
    req.columns = std::move(unique);
  }
  req.select_raw = LookupValue(req.params, "select").value_or("*");
  {
    auto select = grammar::ParseSelect(req.select_raw, target.max_embed_depth);
    if (!select) return select.error();
    req.select = std::move(*select);
  }
  for (const QueryParam& p : req.params) {
    if (!p.value) continue;
    if (EndsIn(p.key, {"order", "limit", "offset", "and", "or"})) continue;
    if (p.key == "select" || p.key == "columns" || p.key == "on_conflict") continue;
    auto path = grammar::ParseTreePath(p.key);
    if (!path) return path.error();
    auto expr = grammar::ParseFilterValue(*p.value, rpc_read);
    if (!expr) return expr.error();
    if (*expr) {
      req.filters.push_back(PathFilter{std::move(path->first), Filter{std::move(path->second), std::move(**expr)}});
    } else {
      // An RPC argument: PostgREST keeps the field name only (an embed path or JSON path is dropped).
      req.rpc_args.push_back(RpcArg{std::move(path->second.name), *p.value});
    }
  }
  if (std::optional<std::string> on_conflict = LookupValue(req.params, "on_conflict")) {
    auto names = grammar::ParseColumns(*on_conflict, "on_conflict");
    if (!names) return names.error();
    req.on_conflict = std::move(*names);
  }

  // 3. Ranges (ApiRequest.getRanges). Only GET reads the Range header (RFC 9110: other methods ignore it).
  const std::vector<KeyedRange> keyed = CollectRanges(req.params);
  Range limit_range = kAllRange;
  for (const KeyedRange& k : keyed) {
    if (k.key == "limit") {
      limit_range = Resolve(k);
      continue;
    }
    auto path = grammar::ParseTreePath(k.key);
    if (!path) return path.error();
    // A key such as `a"b.limit` parses to an empty path; PostgREST would apply it to the root in an unspecified
    // order against `limit`. It is dropped here.
    if (path->first.empty()) continue;
    req.embedded_ranges.push_back(PathRange{std::move(path->first), ToRowRange(Resolve(k))});
  }
  const Range header_range = (target.verb == Verb::kGet && headers.range) ? HeaderRange(*headers.range) : kAllRange;
  const Range top = HasLimitZero(limit_range) ? Range{0, -1} : Intersect(header_range, limit_range);
  if (top.IsEmpty() && !HasLimitZero(limit_range)) {
    return InvalidRangeError(header_range.IsEmpty() ? RangeErrorKind::kLowerGreaterThanUpper
                                                    : RangeErrorKind::kNegativeLimit);
  }
  if (target.verb == Verb::kPut && !(top == kAllRange)) return PutLimitNotAllowedError();
  req.range = ToRowRange(top);

  // 4. Headers that never fail here.
  req.prefer = ParsePreferences(headers.prefer);
  req.accept = headers.accept ? ParseAccept(*headers.accept) : std::vector<MediaType>{DecodeMediaType("*/*")};
  req.content_type = headers.content_type ? DecodeMediaType(*headers.content_type) : MediaType{};
  if (headers.range_unit) req.range_unit = std::string(*headers.range_unit);
  return req;
}

}  // namespace pgwarden::dataapi
