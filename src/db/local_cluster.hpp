//! A private PostgreSQL cluster in a folder (the `.pgwarden/` of `make dev`, or a test's scratch folder),
//! made with the system's PostgreSQL binaries: initdb on first use, then pg_ctl start/stop. It listens on
//! a unix socket inside the folder and on 127.0.0.1 at a free port chosen once and kept. When run as root,
//! the server runs as the `postgres` OS user (initdb refuses root). Blocking; start-up/shutdown only.
#pragma once

#include <string>

#include "core/error.hpp"

namespace pgwarden::db {

struct LocalCluster {
  std::string dir;         //!< the state folder
  std::string data_dir;    //!< dir/pgdata
  std::string socket_dir;  //!< dir/run
  int port = 0;
  std::string bin_dir;     //!< PostgreSQL binaries

  //! libpq conninfo for `dbname` as the superuser `postgres`, over the unix socket.
  std::string ConnInfo(const std::string& dbname) const;
};

//! initdb if needed, start if not running, create `dbname` if missing.
Result<LocalCluster> EnsureLocalCluster(const std::string& dir, const std::string& dbname);
Result<void> StopLocalCluster(const LocalCluster& cluster);

}  // namespace pgwarden::db
