// File: postgres_test_server.h
//
// PostgresTestServer: a real PostgreSQL 15 (Debian's postgresql-15 package) for the tests that
// need one, started by the test itself in a temporary directory and stopped by its pid:
//   - initdb and postgres run as an unprivileged user: the caller itself, or, when the tests run
//     as root (CI), the `nobody` user (initdb refuses root), dropped to in the forked child;
//   - TCP on 127.0.0.1 on a free port only, unix sockets off, trust authentication for the
//     `cephalgia` role (nothing but this machine's loopback can reach it);
//   - fsync off (the data dies with the test; what the tests check is what a replica sees from
//     a committed transaction, not the server's own crash safety);
//   - the postmaster is our child; SIGINT (fast shutdown) stops it, SIGQUIT then SIGKILL if it
//     does not go; it also gets SIGQUIT if this process dies (PR_SET_PDEATHSIG).
//
//   auto pg = PostgresTestServer::Start();
//   CEPHALGIA_ASSERT_POSTGRES(pg);          // fails with the reason (never skips)
//   std::string uri = *(*pg)->CreateDatabase("store_test");   //
//   postgresql://cephalgia@127.0.0.1:P/store_test
//   (*pg)->Stop(); (*pg)->Restart();        // an outage, for degradation tests
//
// The binaries come from $CEPHALGIA_PG_BINDIR, else /usr/lib/postgresql/15/bin (never pg_ctl from
// PATH). `bash scripts/setup.sh --test` installs them.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::test {

class PostgresTestServer {
 public:
  static Result<std::unique_ptr<PostgresTestServer>> Start();
  // One server for the whole test process, started on first use and stopped at exit, for tests
  // that only need a database of their own (CreateDatabase) and never stop the server.
  static Result<PostgresTestServer*> Shared();
  ~PostgresTestServer();  // stops the server, removes the directory
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // postgresql://cephalgia@127.0.0.1:<port>/<database>
  std::string Uri(const std::string& database = "postgres") const;
  // Creates a fresh database (name: letters, digits, _) and returns its URI.
  Result<std::string> CreateDatabase(const std::string& name);
  // Runs one SQL statement in `database` (tests look at tables as an operator with psql would);
  // the rows as text, NULL as "NULL".
  Result<std::vector<std::vector<std::string>>> Query(const std::string& database,
                                                      const std::string& sql);

  // Fast shutdown (connections are closed); the data directory stays for Restart().
  Status Stop();
  // Starts the postmaster again on the same port and data.
  Status Restart();
  // The server's log so far (for failure messages).
  std::string Log() const;

  // Where the binaries are looked for.
  static std::string BinDir();

 private:
  PostgresTestServer() = default;
  Status Launch();

  std::string dir_;       // temporary directory (owned by the server's user)
  std::string data_dir_;  // dir_/data
  std::string log_path_;  // dir_/postgres.log
  int port_ = 0;
  pid_t pid_ = -1;
  uid_t run_uid_ = 0;
  gid_t run_gid_ = 0;
  bool drop_privileges_ = false;
};

}  // namespace cephalgia::test

// In a test body: fails when `pg` (a Result<unique_ptr<PostgresTestServer>>) holds an error,
// saying why and what to install. Never a skip: the tests that need PostgreSQL are part of the
// test command (CI=true or not), like those that need the test FHIR server.
#define CEPHALGIA_ASSERT_POSTGRES(pg) \
  ASSERT_TRUE((pg).ok()) << "PostgreSQL test server: " << (pg).status().ToString()
