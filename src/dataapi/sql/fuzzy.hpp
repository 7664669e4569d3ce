//! PostgREST's "Perhaps you meant ..." suggestions: a port of the fuzzyset matching it uses (bigrams and
//! trigrams of the lower-cased alphanumeric text, cosine similarity, re-ranked by Levenshtein distance,
//! minimum score 0.33). Header-only; pure.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgwarden::dataapi {

namespace fuzzy_detail {

inline std::string Normalize(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || std::isspace(c) || c == ',' || c >= 0x80) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

inline std::map<std::string, int> Grams(const std::string& normalized, size_t n) {
  std::map<std::string, int> out;
  const std::string s = "-" + normalized + "-";
  if (s.size() < n) return out;
  for (size_t i = 0; i + n <= s.size(); ++i) ++out[s.substr(i, n)];
  return out;
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline size_t Levenshtein(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace fuzzy_detail

//! The best match of `value` among `items` (score >= 0.33), or nothing. With `exclude_exact`, an exact match
//! (score 1) means "no suggestion".
inline std::optional<std::string> FuzzyBest(const std::vector<std::string>& items, std::string_view value,
                                            bool exclude_exact) {
  using namespace fuzzy_detail;
  // As Data.FuzzySet: entries and the query are lower-cased; only the n-grams use the normalized text.
  const std::string lower = Lower(value);
  const std::string key = Normalize(value);
  for (const auto& it : items)
    if (Lower(it) == lower) return exclude_exact ? std::nullopt : std::optional<std::string>(it);
  for (size_t n = 3; n >= 2; --n) {
    const auto q = Grams(key, n);
    double qnorm = 0;
    for (const auto& [g, c] : q) qnorm += double(c) * c;
    qnorm = std::sqrt(qnorm);
    std::vector<std::pair<double, std::string>> scored;
    for (const auto& it : items) {
      const auto g = Grams(Normalize(it), n);
      double dot = 0, norm = 0;
      for (const auto& [gram, c] : g) {
        norm += double(c) * c;
        if (auto f = q.find(gram); f != q.end()) dot += double(c) * f->second;
      }
      if (dot > 0 && qnorm > 0 && norm > 0) scored.emplace_back(dot / (qnorm * std::sqrt(norm)), it);
    }
    if (scored.empty()) continue;
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (scored.size() > 50) scored.resize(50);
    for (auto& [score, it] : scored) {
      const std::string a = Lower(it);
      const double len = double(std::max(a.size(), lower.size()));
      score = len == 0 ? 1.0 : 1.0 - double(Levenshtein(a, lower)) / len;
    }
    // Equal scores (names that differ only in case): the one closest to the query as written wins.
    const std::string as_written(value);
    std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return Levenshtein(a.second, as_written) < Levenshtein(b.second, as_written);
    });
    std::vector<std::pair<double, std::string>> kept;
    for (const auto& s : scored)
      if (s.first >= 0.33) kept.push_back(s);
    if (kept.empty()) continue;
    if (exclude_exact && kept.front().first >= 1.0) return std::nullopt;
    return kept.front().second;
  }
  return std::nullopt;
}

}  // namespace pgwarden::dataapi
