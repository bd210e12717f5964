// The PostgreSQL FeedbackStore: every replica of a scaled-out deployment writes feedback and
// issued cards to one database, so the summary and the card matching see all of them (issue 15).
#include <atomic>
#include <thread>

#include "cephalgia/hooks/feedback/feedback_store.h"
#include "cephalgia/hooks/metrics/access_log.h"  // FormatRfc3339Millis
#include "issued_card_queue.h"
#include "pg_connection.h"
#include "store_common.h"

namespace cephalgia::hooks::feedback {
namespace {

// Any constant works; it only has to be the same in every replica (pg_advisory_xact_lock key).
constexpr const char* kMigrationLockKey = "738201559";

// Migration N brings the schema from version N-1 to N; each is recorded in
// cephalgia_schema_migrations in the same transaction.
constexpr const char* kMigrations[kPostgresSchemaVersion] = {
    R"sql(
CREATE TABLE feedback (
  id bigserial PRIMARY KEY,
  card_uuid text NOT NULL,
  service_id text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
  accepted_suggestions text NOT NULL,  -- JSON array of suggestion ids, [] when none
  override_system text,
  override_code text,
  override_display text,
  user_comment text,
  outcome_timestamp text NOT NULL,     -- as the client sent it (RFC 3339)
  received_at timestamptz NOT NULL     -- the receiving replica's clock
);
CREATE INDEX feedback_card ON feedback (card_uuid);
CREATE TABLE issued_cards (
  card_uuid text NOT NULL,
  service_id text NOT NULL,
  rule_id text NOT NULL,
  hook_instance text NOT NULL,
  issued_at timestamptz NOT NULL
);
CREATE INDEX issued_cards_card ON issued_cards (card_uuid);
CREATE INDEX issued_cards_rule ON issued_cards (rule_id);
-- The JWT jti replay cache shared by the replicas (PostgresReplayCache).
CREATE TABLE jti_replay (
  iss text NOT NULL,
  jti text NOT NULL,
  expires_at timestamptz NOT NULL,
  accepted_by text NOT NULL,  -- a nonce of the insert that accepted the token (retries know it)
  PRIMARY KEY (iss, jti)
);
CREATE INDEX jti_replay_expires ON jti_replay (expires_at);
)sql"};

Status Migrate(PgConnection& conn) {
  CEPHALGIA_RETURN_IF_ERROR(conn.Exec("BEGIN").status());
  auto run = [&]() -> Status {
    // Replicas starting together: the first migrates, the others wait here and then find the
    // schema current.
    CEPHALGIA_RETURN_IF_ERROR(
        conn.Exec(std::string("SELECT pg_advisory_xact_lock(") + kMigrationLockKey + ")").status());
    CEPHALGIA_RETURN_IF_ERROR(conn.Exec("CREATE TABLE IF NOT EXISTS cephalgia_schema_migrations ("
                                        " version integer PRIMARY KEY,"
                                        " applied_at timestamptz NOT NULL DEFAULT now())")
                                  .status());
    CEPHALGIA_ASSIGN_OR_RETURN(
        PgResultPtr r,
        conn.Exec("SELECT COALESCE(MAX(version), 0) FROM cephalgia_schema_migrations"));
    const int version = std::atoi(PQgetvalue(r.get(), 0, 0));
    CEPHALGIA_RETURN_IF_ERROR(
        CheckSchemaVersion("feedback store: PostgreSQL", version, kPostgresSchemaVersion));
    for (int v = version + 1; v <= kPostgresSchemaVersion; ++v) {
      CEPHALGIA_RETURN_IF_ERROR(conn.Exec(kMigrations[v - 1]).status());
      CEPHALGIA_RETURN_IF_ERROR(
          conn.Exec("INSERT INTO cephalgia_schema_migrations (version) VALUES ($1::integer)",
                    {std::to_string(v)})
              .status());
    }
    return conn.Exec("COMMIT").status();
  };
  Status s = run();
  if (!s.ok() && conn.connected()) (void)conn.Exec("ROLLBACK");
  return s;
}

class PostgresFeedbackStore final : public FeedbackStore {
 public:
  PostgresFeedbackStore(const std::string& conninfo, Options options)
      : options_(options),
        pool_(conninfo, options.foreground_connections, options.reconnect_interval),
        // Issued cards are group-committed analytics: the writer does not wait for the server's
        // WAL flush (a crash of the database server can lose the last moments of "shown" counts,
        // never feedback).
        writer_conn_(conninfo, options.reconnect_interval, "SET synchronous_commit = off"),
        health_conn_(conninfo, options.reconnect_interval),
        queue_(
            options, [this](const std::vector<QueuedCard>& b) { return WriteBatch(b); },
            IssuedCardQueue::kRetryFailedBatches, options.reconnect_interval) {}

  ~PostgresFeedbackStore() override {
    {
      std::lock_guard lock(health_mu_);
      stop_ = true;
    }
    health_cv_.notify_all();
    if (monitor_.joinable()) monitor_.join();
    queue_.Stop();
  }

  Status Open() {
    {
      PgConnectionPool::Lease conn = pool_.Acquire();
      CEPHALGIA_RETURN_IF_ERROR(Migrate(*conn));
    }
    queue_.Start();
    monitor_ = std::thread([this] { MonitorLoop(); });
    return Status::Ok();
  }

  Status Store(std::string_view service_id, const std::vector<FeedbackItem>& items,
               Clock::time_point received_at) override {
    if (items.empty()) return Status::Ok();
    const std::string received = metrics::FormatRfc3339Millis(received_at);
    PgConnectionPool::Lease conn = pool_.Acquire();
    auto run = [&]() -> Status {
      CEPHALGIA_RETURN_IF_ERROR(Begin(*conn, "BEGIN"));
      for (const FeedbackItem& item : items) {
        std::vector<std::optional<std::string>> params = FeedbackColumns(service_id, item);
        params.push_back(received);
        CEPHALGIA_RETURN_IF_ERROR(
            conn->Exec("INSERT INTO feedback (card_uuid, service_id, outcome, "
                       "accepted_suggestions, override_system, override_code, override_display, "
                       "user_comment, outcome_timestamp, received_at) VALUES "
                       "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz)",
                       params)
                .status());
      }
      // synchronous_commit is on for this connection: COMMIT returns once the server's WAL is
      // flushed, so OK means durable.
      return conn->Exec("COMMIT").status();
    };
    Status s = run();
    if (!s.ok() && conn->connected()) (void)conn->Exec("ROLLBACK");
    ReportHealth(s);
    return s;
  }

  bool RecordIssuedCards(std::string_view service_id, std::string_view hook_instance,
                         std::vector<IssuedCard> cards, Clock::time_point issued_at) override {
    return queue_.Enqueue(service_id, hook_instance, std::move(cards), issued_at);
  }

  Status Flush() override { return queue_.Flush(); }

  Result<std::string> Summary() override {
    (void)Flush();  // show the cards issued so far (not waiting out an outage)
    PgConnectionPool::Lease conn = pool_.Acquire();
    Status begun = Begin(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    ReportHealth(begun);
    CEPHALGIA_RETURN_IF_ERROR(begun);
    Result<std::string> summary = BuildSummary(
        [&conn](const std::string& sql,
                const std::function<void(const std::vector<std::string>&)>& row) -> Status {
          CEPHALGIA_ASSIGN_OR_RETURN(PgResultPtr r, conn->Exec(sql));
          std::vector<std::string> columns;
          for (int i = 0; i < PQntuples(r.get()); ++i) {
            columns.clear();
            for (int j = 0; j < PQnfields(r.get()); ++j)
              columns.push_back(PQgetvalue(r.get(), i, j));
            row(columns);
          }
          return Status::Ok();
        },
        options_.top_override_reasons);
    if (conn->connected()) (void)conn->Exec(summary.ok() ? "COMMIT" : "ROLLBACK");
    return summary;
  }

  Status Health() const override {
    std::lock_guard lock(health_mu_);
    return health_;
  }
  std::uint64_t dropped_issued_cards() const override { return queue_.dropped(); }
  std::size_t queued_issued_cards() const override { return queue_.queued(); }

 private:
  Status WriteBatch(const std::vector<QueuedCard>& batch) {
    std::string data;
    data.reserve(batch.size() * 128);
    for (const QueuedCard& card : batch) {
      AppendCopyField(data, card.card_uuid);
      data.push_back('\t');
      AppendCopyField(data, card.service_id);
      data.push_back('\t');
      AppendCopyField(data, card.rule_id);
      data.push_back('\t');
      AppendCopyField(data, card.hook_instance);
      data.push_back('\t');
      AppendCopyField(data, card.issued_at);
      data.push_back('\n');
    }
    // One COPY is one transaction: the batch is written whole or not at all.
    Status s = writer_conn_.CopyIn(
        "COPY issued_cards (card_uuid, service_id, rule_id, hook_instance, issued_at) FROM STDIN",
        data);
    ReportHealth(s);
    return s;
  }

  // A pooled connection left idle while the server restarted is found dead only when used: if
  // BEGIN fails on it (nothing done yet, so nothing to lose), once more on a new connection.
  static Status Begin(PgConnection& conn, const char* begin) {
    Status begun = conn.Exec(begin).status();
    if (!begun.ok() && !conn.connected()) begun = conn.Exec(begin).status();
    return begun;
  }

  // Only a lost database makes the store unhealthy; Store() fails for no other reason here.
  void ReportHealth(const Status& s) {
    bool recovered = false;
    {
      std::lock_guard lock(health_mu_);
      recovered = s.ok() && !health_.ok();
      // Before "healthy" is visible: a request let in by readiness must not find its connection
      // still waiting out the reconnect interval.
      if (recovered) pool_.Recovered();
      health_ = s.ok() ? Status::Ok() : Unavailable("feedback store unreachable: " + s.message());
    }
  }

  // Checks the server every health_interval, so readiness follows an outage and its end even
  // when no request comes; its connection is also how a recovered server is first noticed.
  void MonitorLoop() {
    std::unique_lock lock(health_mu_);
    while (!stop_) {
      lock.unlock();
      Status s = health_conn_.Exec("SELECT 1").status();
      ReportHealth(s);
      lock.lock();
      health_cv_.wait_for(lock, options_.health_interval, [&] { return stop_; });
    }
  }

  const Options options_;
  PgConnectionPool pool_;     // Store() and Summary()
  PgConnection writer_conn_;  // the issued-cards writer thread only
  PgConnection health_conn_;  // the monitor thread only
  mutable std::mutex health_mu_;
  std::condition_variable health_cv_;
  Status health_;
  bool stop_ = false;
  std::thread monitor_;
  IssuedCardQueue queue_;
};

}  // namespace

Result<std::unique_ptr<FeedbackStore>> OpenPostgresFeedbackStore(const std::string& conninfo,
                                                                 FeedbackStore::Options options) {
  if (options.issued_batch_size == 0 || options.issued_queue_capacity == 0) {
    return InvalidArgument("feedback store: queue capacity and batch size must be positive");
  }
  auto store = std::make_unique<PostgresFeedbackStore>(conninfo, options);
  CEPHALGIA_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<FeedbackStore>(std::move(store));
}

}  // namespace cephalgia::hooks::feedback
