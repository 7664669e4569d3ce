//! Composition root: builds everything from Config and runs it. The only module that knows every other.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "config/config.hpp"

namespace pgwarden::app {

//! Applies migrations (blocking). Returns a process exit code.
int Migrate(const config::Config& cfg);
//! Migrates, loads keys and serves until SIGINT/SIGTERM. `banner` is called once the port is bound.
int Serve(const config::Config& cfg, const std::function<void(std::uint16_t port)>& banner = {});
//! `pgwarden rest`: the Data API alone at the root path, a PostgREST drop-in (config::LoadRest).
int ServeRest(const config::Config& cfg, const std::function<void(std::uint16_t port)>& banner = {});
//! `make dev`: a private Postgres under `state_dir`, a kept secret, then Serve with URLs printed.
int Dev(std::map<std::string, std::string> env, const std::string& state_dir);

}  // namespace pgwarden::app
