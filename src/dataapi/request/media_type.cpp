#include "dataapi/request/media_type.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <utility>

namespace pgwarden::dataapi {
namespace {

//! BS.split c: no pieces for an empty input, otherwise every piece (empty ones included).
std::vector<std::string_view> SplitBytes(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
}

bool IsDigitByte(char c) { return c >= '0' && c <= '9'; }

//! Haskell's `reads` for a Double, prefix only: [-]digits[.digits][(e|E)[+-]digits], "NaN", "Infinity".
std::optional<double> ReadsDouble(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || (s.front() >= '\t' && s.front() <= '\r'))) s.remove_prefix(1);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  if (s.starts_with("NaN")) return std::nan("");
  if (s.starts_with("Infinity")) return negative ? -HUGE_VAL : HUGE_VAL;
  std::size_t i = 0;
  while (i < s.size() && IsDigitByte(s[i])) ++i;
  if (i == 0) return std::nullopt;
  std::size_t end = i;
  if (i + 1 < s.size() && s[i] == '.' && IsDigitByte(s[i + 1])) {
    i += 1;
    while (i < s.size() && IsDigitByte(s[i])) ++i;
    end = i;
  }
  if (end < s.size() && (s[end] == 'e' || s[end] == 'E')) {
    std::size_t j = end + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && IsDigitByte(s[j])) {
      while (j < s.size() && IsDigitByte(s[j])) ++j;
      end = j;
    }
  }
  const double v = std::strtod(std::string(s.substr(0, end)).c_str(), nullptr);
  return negative ? -v : v;
}

MediaType Kind(MediaTypeKind k) {
  MediaType mt;
  mt.kind = k;
  return mt;
}

MediaType Plan(PlanFormat format, const std::vector<std::string_view>& rest) {
  MediaType mt = Kind(MediaTypeKind::kPlan);
  mt.plan_format = format;
  std::vector<std::string_view> options;
  for (const std::string_view p : rest) {
    if (p.starts_with("options=")) {
      options = SplitBytes(p.substr(8), '|');
      break;
    }
  }
  const auto has = [&](std::string_view o) { return std::find(options.begin(), options.end(), o) != options.end(); };
  if (has("analyze")) mt.plan_options.push_back(PlanOption::kAnalyze);
  if (has("verbose")) mt.plan_options.push_back(PlanOption::kVerbose);
  if (has("settings")) mt.plan_options.push_back(PlanOption::kSettings);
  if (has("buffers")) mt.plan_options.push_back(PlanOption::kBuffers);
  if (has("wal")) mt.plan_options.push_back(PlanOption::kWal);
  MediaType target = Kind(MediaTypeKind::kApplicationJson);
  for (const std::string_view p : rest) {
    if (p.starts_with("for=")) {
      std::string_view v = p.substr(4);
      while (!v.empty() && v.front() == '"') v.remove_prefix(1);
      while (!v.empty() && v.back() == '"') v.remove_suffix(1);
      target = DecodeMediaType(v);
      break;
    }
  }
  mt.plan_for.push_back(std::move(target));
  return mt;
}

std::string_view PlanOptionName(PlanOption o) {
  switch (o) {
    case PlanOption::kAnalyze:
      return "analyze";
    case PlanOption::kVerbose:
      return "verbose";
    case PlanOption::kSettings:
      return "settings";
    case PlanOption::kBuffers:
      return "buffers";
    case PlanOption::kWal:
      return "wal";
  }
  return {};
}

}  // namespace

MediaType DecodeMediaType(std::string_view text) {
  const std::vector<std::string_view> parts = SplitBytes(text, ';');
  if (parts.empty()) return Kind(MediaTypeKind::kAny);
  const std::string_view head = parts.front();
  const std::vector<std::string_view> rest(parts.begin() + 1, parts.end());
  const bool stripped = rest.size() == 1 && rest[0] == "nulls=stripped";
  if (head == "application/json") return Kind(MediaTypeKind::kApplicationJson);
  if (head == "application/geo+json") return Kind(MediaTypeKind::kGeoJson);
  if (head == "text/csv") return Kind(MediaTypeKind::kTextCsv);
  if (head == "text/plain") return Kind(MediaTypeKind::kTextPlain);
  if (head == "text/xml") return Kind(MediaTypeKind::kTextXml);
  if (head == "application/openapi+json") return Kind(MediaTypeKind::kOpenApi);
  if (head == "application/x-www-form-urlencoded") return Kind(MediaTypeKind::kUrlEncoded);
  if (head == "application/octet-stream") return Kind(MediaTypeKind::kOctetStream);
  if (head == "application/vnd.pgrst.plan" || head == "application/vnd.pgrst.plan+text") {
    return Plan(PlanFormat::kText, rest);
  }
  if (head == "application/vnd.pgrst.plan+json") return Plan(PlanFormat::kJson, rest);
  if (head == "application/vnd.pgrst.object+json" || head == "application/vnd.pgrst.object") {
    MediaType mt = Kind(MediaTypeKind::kSingularJson);
    mt.nulls_stripped = stripped;
    return mt;
  }
  if (head == "application/vnd.pgrst.array+json" || head == "application/vnd.pgrst.array") {
    return Kind(stripped ? MediaTypeKind::kArrayJsonStripped : MediaTypeKind::kApplicationJson);
  }
  if (head == "*/*") return Kind(MediaTypeKind::kAny);
  MediaType mt = Kind(MediaTypeKind::kOther);
  mt.other = std::string(head);
  return mt;
}

std::vector<MediaType> ParseAccept(std::string_view accept) {
  struct Entry {
    std::string type;
    double q;
    int specificity;
  };
  std::vector<Entry> entries;
  for (const std::string_view item : SplitBytes(accept, ',')) {
    std::string s;
    for (const char c : item) {
      if (c != ' ') s += c;
    }
    double q = 1.0;
    const std::size_t at = s.find(";q=");
    if (at != std::string::npos) {
      std::string_view qtext = std::string_view(s).substr(at + 3);
      qtext = qtext.substr(0, qtext.find(';'));
      q = ReadsDouble(qtext).value_or(1.0);
      // Haskell's compare makes a NaN q-value order inconsistently; rank it last instead.
      if (std::isnan(q)) q = -HUGE_VAL;
      s.resize(at);
    }
    const int semicolons = static_cast<int>(std::count(s.begin(), s.end(), ';'));
    const int stars = static_cast<int>(std::count(s.begin(), s.end(), '*'));
    entries.push_back(Entry{std::move(s), q, semicolons - stars});
  }
  // sortBy (flip compare `on` (q, specificity)): stable, highest first.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.q != b.q) return a.q > b.q;
    return a.specificity > b.specificity;
  });
  std::vector<MediaType> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(DecodeMediaType(e.type));
  return out;
}

std::string ToMime(const MediaType& mt) {
  switch (mt.kind) {
    case MediaTypeKind::kApplicationJson:
      return "application/json";
    case MediaTypeKind::kArrayJsonStripped:
      return "application/vnd.pgrst.array+json;nulls=stripped";
    case MediaTypeKind::kGeoJson:
      return "application/geo+json";
    case MediaTypeKind::kTextCsv:
      return "text/csv";
    case MediaTypeKind::kTextPlain:
      return "text/plain";
    case MediaTypeKind::kTextXml:
      return "text/xml";
    case MediaTypeKind::kOpenApi:
      return "application/openapi+json";
    case MediaTypeKind::kSingularJson:
      return mt.nulls_stripped ? "application/vnd.pgrst.object+json;nulls=stripped"
                               : "application/vnd.pgrst.object+json";
    case MediaTypeKind::kUrlEncoded:
      return "application/x-www-form-urlencoded";
    case MediaTypeKind::kOctetStream:
      return "application/octet-stream";
    case MediaTypeKind::kAny:
      return "*/*";
    case MediaTypeKind::kOther:
      return mt.other;
    case MediaTypeKind::kPlan: {
      std::string out = "application/vnd.pgrst.plan+";
      out += mt.plan_format == PlanFormat::kJson ? "json" : "text";
      out += "; for=\"";
      out += mt.plan_for.empty() ? std::string("application/json") : ToMime(mt.plan_for.front());
      out += "\"";
      if (!mt.plan_options.empty()) {
        out += "; options=";
        for (std::size_t i = 0; i < mt.plan_options.size(); ++i) {
          if (i) out += '|';
          out += PlanOptionName(mt.plan_options[i]);
        }
      }
      return out;
    }
  }
  return {};
}

}  // namespace pgwarden::dataapi
