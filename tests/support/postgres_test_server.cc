#include "postgres_test_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace cephalgia::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A port the kernel just handed out on 127.0.0.1 (free now; the postmaster binds it a moment
// later, and Launch() tries another if it lost the race).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct SpawnSpec {
  std::vector<std::string> argv;
  std::string log_path;
  std::string cwd;
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool die_with_parent = false;
};

// fork + exec with stdout/stderr appended to the log; privileges dropped in the child.
pid_t Spawn(const SpawnSpec& spec) {
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::close_range(3, ~0U, 0);
    if (::chdir(spec.cwd.c_str()) != 0) ::_exit(126);
    if (spec.drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(spec.gid) != 0 || ::setuid(spec.uid) != 0) {
        ::_exit(126);
      }
    }
    // After setuid (a change of credentials clears it).
    if (spec.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  ::close(null);
  return pid;
}

// Waits up to `timeout` for `pid` to exit; true when it has (and is reaped).
bool WaitExit(pid_t pid, milliseconds timeout, int* status = nullptr) {
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      if (status != nullptr) *status = st;
      return true;
    }
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::string Tail(const std::string& path, std::size_t max = 2000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  return text.size() > max ? text.substr(text.size() - max) : text;
}

}  // namespace

std::string PostgresTestServer::BinDir() {
  const char* env = std::getenv("CEPHALGIA_PG_BINDIR");
  return env != nullptr && *env != '\0' ? env : "/usr/lib/postgresql/15/bin";
}

Result<std::unique_ptr<PostgresTestServer>> PostgresTestServer::Start() {
  const std::string bin = BinDir();
  for (const char* tool : {"initdb", "postgres"}) {
    if (::access((bin + "/" + tool).c_str(), X_OK) != 0) {
      return Unavailable(bin + "/" + tool +
                         " not found: install PostgreSQL 15 with `bash scripts/setup.sh --test` "
                         "(Debian package postgresql-15), or set CEPHALGIA_PG_BINDIR");
    }
  }
  std::unique_ptr<PostgresTestServer> server(new PostgresTestServer());
  // As root the server runs as nobody, which must be able to reach its directory: /tmp then,
  // whatever TMPDIR says (it may be a private directory under /root).
  const fs::path parent = ::geteuid() == 0 ? fs::path("/tmp") : fs::temp_directory_path();
  std::string templ = (parent / "cephalgia-pg-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return Unavailable("mkdtemp failed for " + templ);
  server->dir_ = templ;
  server->data_dir_ = templ + "/data";
  server->log_path_ = templ + "/postgres.log";
  if (::geteuid() == 0) {
    // initdb and postgres refuse to run as root: run them as nobody, in a directory it owns.
    const passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr)
      return Unavailable("running as root, and there is no user 'nobody' to run PostgreSQL as");
    server->drop_privileges_ = true;
    server->run_uid_ = pw->pw_uid;
    server->run_gid_ = pw->pw_gid;
    if (::chown(server->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Unavailable("cannot chown " + server->dir_ + " to nobody");
    }
  }
  ::chmod(server->dir_.c_str(), 0700);

  SpawnSpec init{{bin + "/initdb", "-D", server->data_dir_, "-U", "cephalgia", "-A", "trust", "-E",
                  "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                 server->dir_ + "/initdb.log",
                 server->dir_,
                 server->drop_privileges_,
                 server->run_uid_,
                 server->run_gid_,
                 /*die_with_parent=*/true};
  const pid_t initdb = Spawn(init);
  int status = 0;
  if (initdb < 0 || !WaitExit(initdb, milliseconds(60000), &status) || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    if (initdb > 0) ::kill(initdb, SIGKILL), WaitExit(initdb, milliseconds(2000));
    return Unavailable("initdb failed: " + Tail(init.log_path));
  }
  Status launched;
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    launched = server->Launch();
    if (launched.ok()) return server;
  }
  return launched;
}

Result<PostgresTestServer*> PostgresTestServer::Shared() {
  static Result<std::unique_ptr<PostgresTestServer>>* shared =
      new Result<std::unique_ptr<PostgresTestServer>>(Start());
  // Stopped at exit (a function-local static would be, too, but in an unspecified order with
  // the tests' own statics; this runs after them).
  static const bool registered = [] {
    std::atexit([] {
      if (shared->ok()) shared->value().reset();
    });
    return true;
  }();
  (void)registered;
  if (!shared->ok()) return shared->status();
  return shared->value().get();
}

Status PostgresTestServer::Launch() {
  const SpawnSpec spec{{BinDir() + "/postgres", "-D", data_dir_, "-p", std::to_string(port_), "-c",
                        "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c",
                        "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=32MB",
                        "-c", "max_connections=80", "-c", "log_min_messages=warning"},
                       log_path_,
                       dir_,
                       drop_privileges_,
                       run_uid_,
                       run_gid_,
                       /*die_with_parent=*/true};
  pid_ = Spawn(spec);
  if (pid_ < 0) return Unavailable("cannot start postgres");
  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) +
                           " dbname=postgres user=cephalgia connect_timeout=2";
  const auto deadline = steady_clock::now() + milliseconds(30000);
  while (steady_clock::now() < deadline) {
    if (PQping(ping.c_str()) == PQPING_OK) return Status::Ok();
    if (WaitExit(pid_, milliseconds(0))) {
      pid_ = -1;
      return Unavailable("postgres exited at start-up: " + Tail(log_path_));
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  (void)Stop();
  return Unavailable("postgres did not accept connections within 30 s: " + Tail(log_path_));
}

Status PostgresTestServer::Stop() {
  if (pid_ <= 0) return Status::Ok();
  // Fast shutdown: sessions are cut, a checkpoint is written. Then quit, then kill.
  ::kill(pid_, SIGINT);
  bool gone = WaitExit(pid_, milliseconds(15000));
  if (!gone) {
    ::kill(pid_, SIGQUIT);
    gone = WaitExit(pid_, milliseconds(5000));
  }
  if (!gone) {
    ::kill(pid_, SIGKILL);
    WaitExit(pid_, milliseconds(5000));
  }
  pid_ = -1;
  return gone ? Status::Ok() : Unavailable("postgres had to be killed");
}

Status PostgresTestServer::Restart() {
  if (pid_ > 0) return Status::Ok();
  return Launch();
}

PostgresTestServer::~PostgresTestServer() {
  (void)Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string PostgresTestServer::Uri(const std::string& database) const {
  return "postgresql://cephalgia@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresTestServer::Log() const { return Tail(log_path_, 8000); }

Result<std::vector<std::vector<std::string>>> PostgresTestServer::Query(const std::string& database,
                                                                        const std::string& sql) {
  PGconn* conn = PQconnectdb(Uri(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    return Unavailable("cannot connect to the test PostgreSQL: " + error);
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(conn);
    return Internal(sql + ": " + error);
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r); ++j) {
      row.push_back(PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
    }
    rows.push_back(std::move(row));
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
}

Result<std::string> PostgresTestServer::CreateDatabase(const std::string& name) {
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return InvalidArgument("database name must be letters, digits and _: " + name);
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(Query("postgres", "CREATE DATABASE " + name).status());
  return Uri(name);
}

}  // namespace cephalgia::test
