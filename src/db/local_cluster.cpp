#include "db/local_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/log.hpp"
#include "db/connection.hpp"

namespace pgwarden::db {
namespace fs = std::filesystem;
namespace {

std::string FindBinDir() {
  if (const char* env = std::getenv("PG_BIN"); env && *env) return env;
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb") && (best.empty() || entry.path().filename().string() > fs::path(best).parent_path().filename().string()))
      best = bin.string();
  }
  return best;
}

// Runs argv (as the postgres OS user when we are root); output goes to `log_file`. Returns the exit code.
int Run(const std::vector<std::string>& argv, const std::string& log_file) {
  std::vector<std::string> full;
  if (::geteuid() == 0) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::setsid();  // Ctrl-C in the terminal reaches pgwarden, which then stops Postgres in order
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int FreePort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ::close(s);
  return port;
}

bool PortFree(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(s);
  return ok;
}

void ChownToPostgres(const fs::path& p) {
  if (::geteuid() != 0) return;
  if (const passwd* pw = ::getpwnam("postgres")) {
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) log::Warn("dev.chown_failed", {{"path", p.string()}});
  }
}

}  // namespace

std::string LocalCluster::ConnInfo(const std::string& dbname) const {
  return "host=" + socket_dir + " port=" + std::to_string(port) + " dbname=" + dbname + " user=postgres";
}

Result<LocalCluster> EnsureLocalCluster(const std::string& dir, const std::string& dbname) {
  LocalCluster c;
  c.dir = fs::absolute(dir).string();
  c.data_dir = c.dir + "/pgdata";
  c.socket_dir = c.dir + "/run";
  c.bin_dir = FindBinDir();
  if (c.bin_dir.empty())
    return MakeError(ErrorCode::kInternal, "PostgreSQL binaries not found (install postgresql-15, or set PG_BIN)");
  std::error_code ec;
  fs::create_directories(c.socket_dir, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot create " + c.socket_dir + ": " + ec.message());
  ChownToPostgres(c.dir);
  ChownToPostgres(c.socket_dir);
  const std::string log_file = c.dir + "/postgres.log";
  {
    std::ofstream touch(log_file, std::ios::app);
  }
  ChownToPostgres(log_file);

  if (!fs::exists(c.data_dir + "/PG_VERSION")) {
    fs::create_directories(c.data_dir, ec);
    ChownToPostgres(c.data_dir);
    ::chmod(c.data_dir.c_str(), 0700);
    log::Info("dev.initdb", {{"dir", c.data_dir}});
    if (Run({c.bin_dir + "/initdb", "-D", c.data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"},
            log_file) != 0)
      return MakeError(ErrorCode::kInternal, "initdb failed; see " + log_file);
  }

  // The port is chosen once and kept (psql users and tools remember it); re-chosen only if taken.
  const std::string port_file = c.dir + "/port";
  if (std::ifstream in(port_file); in) in >> c.port;
  const bool running = Run({c.bin_dir + "/pg_ctl", "-D", c.data_dir, "status"}, "/dev/null") == 0;
  if (!running) {
    if (c.port <= 0 || !PortFree(c.port)) c.port = FreePort();
    std::ofstream(port_file) << c.port << "\n";
    const std::string opts = "-p " + std::to_string(c.port) + " -k " + c.socket_dir +
                             " -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB";
    log::Info("dev.postgres_start", {{"port", std::to_string(c.port)}});
    if (Run({c.bin_dir + "/pg_ctl", "-D", c.data_dir, "-l", log_file, "-w", "-t", "60", "-o", opts, "start"},
            log_file) != 0)
      return MakeError(ErrorCode::kInternal, "pg_ctl start failed; see " + log_file);
  }

  auto conn = Connection::ConnectBlocking(c.ConnInfo("postgres"));
  if (!conn) return conn.error();
  auto exists = (*conn)->QueryBlocking("SELECT 1 FROM pg_database WHERE datname = $1", {dbname});
  if (!exists) return exists.error();
  if (exists->Empty()) {
    std::string quoted = "\"";
    for (const char ch : dbname) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    quoted += '"';
    if (auto r = (*conn)->ScriptBlocking("CREATE DATABASE " + quoted); !r) return r.error();
  }
  return c;
}

Result<void> StopLocalCluster(const LocalCluster& c) {
  if (Run({c.bin_dir + "/pg_ctl", "-D", c.data_dir, "-m", "fast", "-w", "stop"}, c.dir + "/postgres.log") != 0)
    return MakeError(ErrorCode::kInternal, "pg_ctl stop failed; see " + c.dir + "/postgres.log");
  return {};
}

}  // namespace pgwarden::db
