// File: pg_connection.h (private to hooks_feedback)
//
// libpq, the few ways we use it: one connection that re-establishes itself (PgConnection), and a
// small pool of them (PgConnectionPool). Every failure is a kUnavailable Status whose message
// says what failed; a connection on which a statement failed is closed, and the next use connects
// again, at most once per `reconnect_interval` (in between, callers fail at once instead of each
// waiting for a connect timeout).
//
//   PgConnectionPool pool(conninfo, 4, 500ms);
//   PgConnectionPool::Lease conn = pool.Acquire();             // waits for a free connection
//   Result<PgResultPtr> r = conn->Exec("SELECT $1::int + 1", {"41"});
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::hooks::feedback {

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultFree>;

class PgConnection {
 public:
  // `on_connect_sql` runs after every (re)connection, e.g. "SET synchronous_commit = off".
  // `recovered` (optional, shared by a pool): when it changes, the server was seen to be back,
  // so the wait between connection attempts is skipped once.
  PgConnection(std::string conninfo, std::chrono::milliseconds reconnect_interval,
               std::string on_connect_sql = {},
               std::shared_ptr<const std::atomic<std::uint64_t>> recovered = nullptr);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connected, or a new connection made now (unless the last attempt was too recent).
  Status Ensure();
  // Runs one statement with text parameters (nullopt is SQL NULL). Connects first if needed.
  Result<PgResultPtr> Exec(const std::string& sql,
                           const std::vector<std::optional<std::string>>& params = {});
  // COPY ... FROM STDIN with `data` in COPY's text format.
  Status CopyIn(const std::string& copy_sql, std::string_view data);
  bool connected() const { return conn_ != nullptr; }
  void Close();

 private:
  Status Failure(std::string_view what);

  const std::string conninfo_;
  const std::chrono::milliseconds reconnect_interval_;
  const std::string on_connect_sql_;
  PGconn* conn_ = nullptr;
  std::chrono::steady_clock::time_point last_attempt_{};
  Status last_connect_error_;
  const std::shared_ptr<const std::atomic<std::uint64_t>> recovered_;
  std::uint64_t recovered_at_attempt_ = 0;
};

class PgConnectionPool {
 public:
  PgConnectionPool(const std::string& conninfo, int size,
                   std::chrono::milliseconds reconnect_interval,
                   const std::string& on_connect_sql = {});

  class Lease {
   public:
    Lease(PgConnectionPool* pool, PgConnection* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(other.conn_) {
      other.conn_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Release(conn_);
    }
    PgConnection* operator->() const { return conn_; }
    PgConnection& operator*() const { return *conn_; }

   private:
    PgConnectionPool* pool_;
    PgConnection* conn_;
  };
  Lease Acquire();
  // The server answered again after an outage: every connection may try at once, not after its
  // reconnect interval (readiness says "ready" only when requests can succeed).
  void Recovered() { recovered_->fetch_add(1); }

 private:
  void Release(PgConnection* conn);

  const std::shared_ptr<std::atomic<std::uint64_t>> recovered_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::vector<std::unique_ptr<PgConnection>> all_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<PgConnection*> free_;
};

// Appends `value` to `out` escaped for COPY's text format (backslash, tab, newline, CR).
void AppendCopyField(std::string& out, std::string_view value);

}  // namespace cephalgia::hooks::feedback
