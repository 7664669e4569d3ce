//! pgwarden: serve | dev | migrate | version.
#include <cstdio>
#include <cstring>
#include <string>

#include "app/app.hpp"
#include "config/config.hpp"
#include "db/local_cluster.hpp"

namespace {
constexpr const char* kUsage =
    "usage: pgwarden <command>\n"
    "  serve     run the auth service against DATABASE_URL (migrates first)\n"
    "  migrate   apply the database migrations and exit\n"
    "  rest      the Data API alone at the root path, a PostgREST drop-in configured by PGRST_* settings\n"
    "  dev       private Postgres under .pgwarden/ (or PGWARDEN_STATE_DIR), a kept secret, then serve\n"
    "  cluster start|stop <dir> [db]   a private Postgres in <dir> (tests, tooling); prints its conninfo\n"
    "  version   print the version\n"
    "Settings come from the environment (and PGWARDEN_CONFIG, a TOML file); see docs/configuration.md.\n";

int LoadOrReport(bool require_db, pgwarden::config::Config& out) {
  auto loaded = pgwarden::config::Load(pgwarden::config::ProcessEnvironment(), require_db);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "config: %s\n", e.c_str());
    return 2;
  }
  out = std::move(loaded.config);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  pgwarden::config::Config cfg;
  if (cmd == "serve") {
    if (int rc = LoadOrReport(true, cfg)) return rc;
    return pgwarden::app::Serve(cfg);
  }
  if (cmd == "rest") {
    auto loaded = pgwarden::config::LoadRest(pgwarden::config::ProcessEnvironment());
    if (!loaded.errors.empty()) {
      for (const auto& e : loaded.errors) std::fprintf(stderr, "config: %s\n", e.c_str());
      return 2;
    }
    return pgwarden::app::ServeRest(loaded.config);
  }
  if (cmd == "migrate") {
    auto loaded = pgwarden::config::Load(pgwarden::config::ProcessEnvironment(), true);
    // migrate needs only the database; other settings are not required here.
    for (const auto& e : loaded.errors)
      if (e.rfind("DATABASE_URL", 0) == 0) {
        std::fprintf(stderr, "config: %s\n", e.c_str());
        return 2;
      }
    return pgwarden::app::Migrate(loaded.config);
  }
  if (cmd == "dev") {
    auto env = pgwarden::config::ProcessEnvironment();
    const std::string dir = env.count("PGWARDEN_STATE_DIR") ? env["PGWARDEN_STATE_DIR"] : ".pgwarden";
    return pgwarden::app::Dev(env, dir);
  }
  if (cmd == "cluster" && argc >= 4) {
    // Test and tooling helper: a private Postgres in a folder (the same code as `dev`).
    const std::string action = argv[2], dir = argv[3], db = argc > 4 ? argv[4] : "postgres";
    auto cluster = pgwarden::db::EnsureLocalCluster(dir, db);
    if (!cluster) {
      std::fprintf(stderr, "pgwarden cluster: %s\n", std::string(cluster.error().Message()).c_str());
      return 1;
    }
    if (action == "start") {
      std::printf("%s\n", cluster->ConnInfo(db).c_str());
      return 0;
    }
    if (action == "stop") {
      auto stopped = pgwarden::db::StopLocalCluster(*cluster);
      if (!stopped) std::fprintf(stderr, "pgwarden cluster: %s\n", std::string(stopped.error().Message()).c_str());
      return stopped ? 0 : 1;
    }
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("pgwarden 0.1.0\n");
    return 0;
  }
  std::fputs(kUsage, cmd.empty() || cmd == "help" || cmd == "--help" ? stdout : stderr);
  return cmd.empty() || cmd == "help" || cmd == "--help" ? 0 : 2;
}
