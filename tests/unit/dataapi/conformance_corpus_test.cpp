//! Every request of PostgREST's translated spec suite (../shared/conformance/postgrest/cases/*.json), sent
//! through ParseQuery as the conformance runner would send it:
//!  - requests PostgREST answered with 2xx, or with an error it raises after parsing the request (planner,
//!    database), must parse;
//!  - requests it answered with a request-stage error (PGRST100 parse errors, PGRST103 limit/Range, PGRST106
//!    profile, PGRST114 PUT limit) must fail with the same status, code, message and details;
//!  - requests refused before parsing (authentication, path, method), or whose answer the case does not check
//!    or does not tell apart, are not judged.
//! Skipped when the shared folder is absent (a plain clone).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "dataapi/request/query_params.hpp"
#include "test_support.hpp"

#ifndef PGWARDEN_SOURCE_DIR
#define PGWARDEN_SOURCE_DIR ""
#endif

namespace pgwarden::dataapi {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

fs::path ConformanceDir() {
  const std::string source = PGWARDEN_SOURCE_DIR;
  if (source.empty()) return {};
  return fs::path(source) / ".." / "shared" / "conformance" / "postgrest";
}

json::value ReadJson(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

//! run.mjs encodeTarget: percent-encode what cannot appear raw in a request-target (space, controls,
//! non-ASCII, "#<>[\]^`{|} and a '%' that does not start an escape).
std::string EncodeTarget(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto b = static_cast<unsigned char>(path[i]);
    if (b == '%' && i + 2 < path.size() && hex(path[i + 1]) && hex(path[i + 2])) {
      out += '%';
      continue;
    }
    if (b <= 0x20 || b >= 0x7F ||
        std::string_view("\"#%<>[\\]^`{|}").find(static_cast<char>(b)) != std::string_view::npos) {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      continue;
    }
    out += static_cast<char>(b);
  }
  return out;
}

std::optional<Verb> VerbOf(std::string_view m) {
  if (m == "GET") return Verb::kGet;
  if (m == "HEAD") return Verb::kHead;
  if (m == "POST") return Verb::kPost;
  if (m == "PATCH") return Verb::kPatch;
  if (m == "PUT") return Verb::kPut;
  if (m == "DELETE") return Verb::kDelete;
  if (m == "OPTIONS") return Verb::kOptions;
  return std::nullopt;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

enum class Expectation { kParses, kSameError, kNotJudged };

struct Judgement {
  Expectation expectation = Expectation::kNotJudged;
  std::optional<ApiError> error;  //!< kSameError
};

//! What the request stage must do, from the answer PostgREST gave.
Judgement Judge(const json::object& expect) {
  Judgement j;
  const json::value* status = expect.if_contains("status");
  if (!status || !status->is_int64()) return j;
  const std::int64_t code = status->as_int64();
  if (code >= 200 && code < 300) {
    j.expectation = Expectation::kParses;
    return j;
  }
  const json::value* body = expect.if_contains("body");
  const json::value* js = body && body->is_object() ? body->as_object().if_contains("json") : nullptr;
  if (!js || !js->is_object() || !js->as_object().if_contains("code") || !js->as_object().at("code").is_string()) {
    // No code to go by. 400/406/409/500 come from the planner or the database (media types, SQL errors);
    // 401/403/404/405 may be decided before the query string (authentication, path, method).
    if (code == 400 || code == 406 || code == 409 || code == 500) j.expectation = Expectation::kParses;
    return j;
  }
  const json::object& err = js->as_object();
  const std::string pgrst(err.at("code").as_string());
  const auto text = [&](std::string_view key) -> std::optional<std::string> {
    const json::value* v = err.if_contains(key);
    if (!v || !v->is_string()) return std::nullopt;
    return std::string(v->as_string());
  };
  const std::optional<std::string> details = text("details");
  const bool request_stage = pgrst == "PGRST100" || pgrst == "PGRST106" || pgrst == "PGRST114" ||
                             (pgrst == "PGRST103" && details &&
                              (details->starts_with("Limit should") || details->starts_with("The lower boundary")));
  if (request_stage) {
    j.expectation = Expectation::kSameError;
    j.error = ApiError{
        ApiErrorCode::kQueryParam, static_cast<int>(code), pgrst, text("message").value_or(""), details, text("hint")};
    return j;
  }
  // Decided before the query string is read: authentication (PGRST30x, 401), the path (PGRST125), the method.
  if (pgrst.starts_with("PGRST3") || pgrst == "PGRST125" || pgrst == "PGRST101" || pgrst == "PGRST117") {
    return j;
  }
  j.expectation = Expectation::kParses;  // planner or database errors: the request itself was fine
  return j;
}

struct Tally {
  int parses = 0, parses_ok = 0, errors = 0, errors_ok = 0, not_judged = 0;
  std::vector<std::string> mismatches;
};

TEST(ConformanceCorpus, RequestStageAgreesWithPostgrest) {
  const fs::path dir = ConformanceDir();
  if (dir.empty() || !fs::exists(dir / "cases")) GTEST_SKIP() << "no ../shared/conformance/postgrest";

  const json::object configs = ReadJson(dir / "configs.json").as_object();
  const auto schemas_of = [&](std::string_view config) {
    std::vector<std::string> out;
    const json::value* list = nullptr;
    if (const json::value* v = configs.at("variants").as_object().if_contains(config)) {
      list = v->as_object().at("overrides").as_object().if_contains("db-schemas");
    }
    if (!list) list = &configs.at("base").as_object().at("settings").as_object().at("db-schemas");
    for (const json::value& s : list->as_array()) out.emplace_back(s.as_string());
    return out;
  };

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "cases")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());

  Tally t;
  for (const fs::path& file : files) {
    const json::value cases = ReadJson(file);  // kept alive: a temporary in the range-for would dangle
    for (const json::value& kase : cases.as_array()) {
      const json::object& c = kase.as_object();
      const std::string id(c.at("id").as_string());
      const std::vector<std::string> schemas = schemas_of(c.at("config").as_string());
      int step_no = 0;
      for (const json::value& step : c.at("steps").as_array()) {
        ++step_no;
        const json::object& request = step.at("request").as_object();
        const Judgement judgement = Judge(step.at("expect").as_object());
        const std::optional<Verb> verb = VerbOf(request.at("method").as_string());
        if (judgement.expectation == Expectation::kNotJudged || !verb) {
          ++t.not_judged;
          continue;
        }
        const std::string target = EncodeTarget(request.at("path").as_string());
        const std::size_t q = target.find('?');
        const std::string path = target.substr(0, q);
        const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);

        // Header values, each stored once so the views stay valid.
        std::map<std::string, std::vector<std::string>> values;
        for (const auto& [name, value] : request.at("headers").as_object()) {
          auto& slot = values[Lower(name)];
          if (value.is_array()) {
            for (const json::value& v : value.as_array()) slot.emplace_back(v.as_string());
          } else if (value.is_string()) {
            slot.emplace_back(value.as_string());
          }
        }
        RequestHeaders headers;
        const auto first = [&](std::string_view name) -> std::optional<std::string_view> {
          auto it = values.find(std::string(name));
          if (it == values.end() || it->second.empty()) return std::nullopt;
          return it->second.front();
        };
        if (auto it = values.find("prefer"); it != values.end()) {
          for (const std::string& v : it->second) headers.prefer.push_back(v);
        }
        headers.range = first("range");
        headers.range_unit = first("range-unit");
        headers.accept = first("accept");
        headers.content_type = first("content-type");
        headers.accept_profile = first("accept-profile");
        headers.content_profile = first("content-profile");

        const RequestTarget rt{*verb, path.starts_with("/rpc/"), schemas};
        const auto result = ParseQuery(query, headers, rt);
        const std::string where = id + " step " + std::to_string(step_no) + " " +
                                  std::string(request.at("method").as_string()) + " " + target;
        if (judgement.expectation == Expectation::kParses) {
          ++t.parses;
          if (result) {
            ++t.parses_ok;
          } else {
            t.mismatches.push_back(where + ": expected to parse, got " + ApiErrorBody(result.error()));
          }
        } else {
          ++t.errors;
          const ApiError& want = *judgement.error;
          if (!result) {
            const ApiError& got = result.error();
            if (got.status == want.status && got.code == want.code && got.message == want.message &&
                got.details == want.details && got.hint == want.hint) {
              ++t.errors_ok;
              continue;
            }
            t.mismatches.push_back(where + ": expected " + ApiErrorBody(want) + ", got " + ApiErrorBody(got));
          } else {
            t.mismatches.push_back(where + ": expected " + ApiErrorBody(want) + ", parsed");
          }
        }
      }
    }
  }
  std::cout << "[corpus] must parse: " << t.parses_ok << "/" << t.parses
            << ", same request-stage error: " << t.errors_ok << "/" << t.errors << ", not judged: " << t.not_judged
            << "\n";
  for (const std::string& m : t.mismatches) ADD_FAILURE() << m;
  EXPECT_GT(t.parses, 800);  // the corpus is there and was read
}

}  // namespace
}  // namespace pgwarden::dataapi
