#include "core/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/json.hpp"
#include "core/time.hpp"

namespace pgwarden::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::mutex g_mutex;
constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void SetLevel(Level level) { g_level.store(level); }

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  std::string line;
  line.reserve(128);
  line += "{\"ts\":\"";
  line += FormatIso8601Ms(NowMs());
  line += "\",\"level\":\"";
  line += kNames[static_cast<int>(level)];
  line += "\",\"event\":";
  AppendJsonString(line, event);
  for (const auto& [k, v] : fields) {
    line += ',';
    AppendJsonString(line, k);
    line += ':';
    AppendJsonString(line, v);
  }
  line += "}\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace pgwarden::log
