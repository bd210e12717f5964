#include "pg_connection.h"

namespace cephalgia::hooks::feedback {

PgConnection::PgConnection(std::string conninfo, std::chrono::milliseconds reconnect_interval,
                           std::string on_connect_sql,
                           std::shared_ptr<const std::atomic<std::uint64_t>> recovered)
    : conninfo_(std::move(conninfo)),
      reconnect_interval_(reconnect_interval),
      on_connect_sql_(std::move(on_connect_sql)),
      recovered_(std::move(recovered)) {}

PgConnection::~PgConnection() { Close(); }

void PgConnection::Close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

Status PgConnection::Failure(std::string_view what) {
  std::string message = "PostgreSQL: " + std::string(what);
  if (conn_ != nullptr) {
    std::string detail = PQerrorMessage(conn_);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    if (!detail.empty()) message += ": " + detail;
    // Any failed statement drops the connection; the next use makes a new one. A server shutting
    // down first sends "terminating connection due to administrator command" as the answer to
    // the next statement, with the connection still looking fine (PQstatus OK) until the one
    // after: waiting for PQstatus to notice would fail two requests per stale connection.
    // Failures are rare, and a reconnect on loopback or a LAN costs a few milliseconds.
    Close();
  }
  return Unavailable(message);
}

Status PgConnection::Ensure() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  Close();
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t recovered = recovered_ != nullptr ? recovered_->load() : 0;
  if (last_attempt_ != std::chrono::steady_clock::time_point{} &&
      now - last_attempt_ < reconnect_interval_ && !last_connect_error_.ok() &&
      recovered == recovered_at_attempt_) {
    return last_connect_error_;  // the database was away a moment ago: do not wait on it again
  }
  last_attempt_ = now;
  recovered_at_attempt_ = recovered;
  // Our defaults first; the conninfo (expanded in place of dbname) overrides any of them.
  // connect_timeout and tcp_user_timeout bound how long a vanished server can hold a caller.
  const char* keys[] = {"connect_timeout",  "tcp_user_timeout", "keepalives_idle",
                        "application_name", "dbname",           nullptr};
  const char* values[] = {"3", "10000", "10", "cephalgia", conninfo_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    last_connect_error_ = Failure("cannot connect");
    Close();
    return last_connect_error_;
  }
  // Server NOTICEs (e.g. "relation already exists, skipping") are not for the service's log.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  if (!on_connect_sql_.empty()) {
    PgResultPtr r(PQexec(conn_, on_connect_sql_.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      last_connect_error_ = Failure("session setup");
      Close();
      return last_connect_error_;
    }
  }
  last_connect_error_ = Status::Ok();
  return Status::Ok();
}

Result<PgResultPtr> PgConnection::Exec(const std::string& sql,
                                       const std::vector<std::optional<std::string>>& params) {
  CEPHALGIA_RETURN_IF_ERROR(Ensure());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  // Without parameters the simple protocol, which also runs several statements (migrations).
  PgResultPtr r(params.empty()
                    ? PQexec(conn_, sql.c_str())
                    : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                   values.data(), nullptr, nullptr, /*resultFormat=*/0));
  const ExecStatusType status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Failure("query failed");  // PQerrorMessage holds the server's message
  }
  return r;
}

Status PgConnection::CopyIn(const std::string& copy_sql, std::string_view data) {
  CEPHALGIA_RETURN_IF_ERROR(Ensure());
  {
    PgResultPtr r(PQexec(conn_, copy_sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) return Failure("COPY");
  }
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(conn_, nullptr) != 1) {
    // Read what the server said, then drop whatever state the connection is in.
    while (PGresult* r = PQgetResult(conn_)) PQclear(r);
    Status failure = Failure("COPY data");
    Close();
    return failure;
  }
  bool ok = true;
  while (PGresult* r = PQgetResult(conn_)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) ok = false;
    PQclear(r);
  }
  return ok ? Status::Ok() : Failure("COPY end");
}

PgConnectionPool::PgConnectionPool(const std::string& conninfo, int size,
                                   std::chrono::milliseconds reconnect_interval,
                                   const std::string& on_connect_sql) {
  for (int i = 0; i < std::max(size, 1); ++i) {
    all_.push_back(
        std::make_unique<PgConnection>(conninfo, reconnect_interval, on_connect_sql, recovered_));
    free_.push_back(all_.back().get());
  }
}

PgConnectionPool::Lease PgConnectionPool::Acquire() {
  std::unique_lock lock(mu_);
  available_.wait(lock, [&] { return !free_.empty(); });
  PgConnection* conn = free_.back();
  free_.pop_back();
  return Lease(this, conn);
}

void PgConnectionPool::Release(PgConnection* conn) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(conn);
  }
  available_.notify_one();
}

void AppendCopyField(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace cephalgia::hooks::feedback
