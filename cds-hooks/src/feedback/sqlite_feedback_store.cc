// The SQLite FeedbackStore: one embedded file in WAL mode, the single-replica default.
#include <sqlite3.h>

#include <memory>
#include <mutex>

#include "cephalgia/hooks/feedback/feedback_store.h"
#include "cephalgia/hooks/metrics/access_log.h"  // FormatRfc3339Millis
#include "issued_card_queue.h"
#include "store_common.h"

namespace cephalgia::hooks::feedback {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// Migration N brings the schema from version N-1 to N; PRAGMA user_version holds the version.
// Version 1 is the schema of the first release (IF NOT EXISTS: files created before versioning
// already hold it at user_version 1).
constexpr const char* kMigrations[kSqliteSchemaVersion] = {
    R"sql(
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY,
  card_uuid TEXT NOT NULL,
  service_id TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
  accepted_suggestions TEXT NOT NULL,  -- JSON array of suggestion ids, [] when none
  override_system TEXT,
  override_code TEXT,
  override_display TEXT,
  user_comment TEXT,
  outcome_timestamp TEXT NOT NULL,     -- as the client sent it (RFC 3339)
  received_at TEXT NOT NULL            -- our clock, RFC 3339 UTC
);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid);
CREATE TABLE IF NOT EXISTS issued_cards (
  card_uuid TEXT NOT NULL,
  service_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  hook_instance TEXT NOT NULL,
  issued_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issued_cards_card ON issued_cards (card_uuid);
CREATE INDEX IF NOT EXISTS issued_cards_rule ON issued_cards (rule_id);
)sql"};

Status SqliteError(sqlite3* db, std::string_view what) {
  return Unavailable("feedback store: " + std::string(what) + ": " +
                     (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Unavailable("feedback store: " + message);
  }
  return Status::Ok();
}

struct StmtFree {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFree>;

Result<StmtPtr> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK)
    return SqliteError(db, "prepare");
  return StmtPtr(stmt);
}

// For texts that outlive the statement's step and its reset.
void BindTextStatic(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

// Runs a prepared statement that returns no rows (BEGIN, COMMIT) and leaves it reset.
Status StepOnce(sqlite3* db, sqlite3_stmt* s, std::string_view what) {
  const int rc = sqlite3_step(s);
  Status status = rc == SQLITE_DONE ? Status::Ok() : SqliteError(db, what);
  sqlite3_reset(s);
  return status;
}

void BindText(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void BindOptional(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v) {
    BindText(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}
std::string ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t != nullptr ? std::string(reinterpret_cast<const char*>(t),
                                    static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
                      : std::string();
}

// SQLite's allocation statistics off, once, before the library initialises: with them on, every
// sqlite3_malloc and sqlite3_free takes a process-wide mutex to count bytes nobody here reads
// (no sqlite3_memory_used, no heap limit), about 1k instructions per issued card. Too late (the
// library already initialised in this process) it answers SQLITE_MISUSE and nothing changes.
void DisableMemoryStatistics() {
  static const int once = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)once;
}

// Opens one connection configured for this store. `synchronous` is FULL or NORMAL (see header).
Result<sqlite3*> OpenConnection(const std::string& path, const char* synchronous) {
  DisableMemoryStatistics();
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(db, "open " + path);
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);  // the two connections take turns writing
  // journal_mode answers with the mode actually in force; anything but "wal" is a failure.
  std::string mode;
  {
    Result<StmtPtr> stmt = Prepare(db, "PRAGMA journal_mode=WAL");
    if (stmt.ok() && sqlite3_step(stmt->get()) == SQLITE_ROW) mode = ColumnText(stmt->get(), 0);
  }
  Status s = mode == "wal" ? Exec(db, (std::string("PRAGMA synchronous=") + synchronous).c_str())
                           : Unavailable("feedback store: cannot enable WAL on " + path);
  if (!s.ok()) {
    sqlite3_close(db);
    return s;
  }
  return db;
}

// Applies the migrations the file lacks, in one write transaction (so two processes opening a
// new file at once migrate it once), or refuses a file migrated by a newer binary.
Status Migrate(sqlite3* db) {
  CEPHALGIA_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  int version = 0;
  {
    Result<StmtPtr> stmt = Prepare(db, "PRAGMA user_version");
    if (!stmt.ok() || sqlite3_step(stmt->get()) != SQLITE_ROW) {
      (void)Exec(db, "ROLLBACK");
      return SqliteError(db, "read schema version");
    }
    version = sqlite3_column_int(stmt->get(), 0);
  }
  Status s = CheckSchemaVersion("feedback store: SQLite", version, kSqliteSchemaVersion);
  for (int v = version + 1; s.ok() && v <= kSqliteSchemaVersion; ++v) {
    s = Exec(db, kMigrations[v - 1]);
    if (s.ok()) s = Exec(db, ("PRAGMA user_version = " + std::to_string(v)).c_str());
  }
  if (s.ok()) s = Exec(db, "COMMIT");
  if (!s.ok()) (void)Exec(db, "ROLLBACK");
  return s;
}

class SqliteFeedbackStore final : public FeedbackStore {
 public:
  explicit SqliteFeedbackStore(Options options)
      : options_(options),
        queue_(
            options, [this](const std::vector<QueuedCard>& b) { return WriteBatch(b); },
            IssuedCardQueue::kDropFailedBatches) {}
  ~SqliteFeedbackStore() override {
    queue_.Stop();  // drains into writer_db_ before the connections close
    insert_feedback_.reset();
    insert_issued_.reset();
    begin_issued_.reset();
    commit_issued_.reset();
    sqlite3_close(db_);
    sqlite3_close(writer_db_);
  }

  Status Open(const std::string& path) {
    CEPHALGIA_ASSIGN_OR_RETURN(db_, OpenConnection(path, "FULL"));
    CEPHALGIA_RETURN_IF_ERROR(Migrate(db_));
    CEPHALGIA_ASSIGN_OR_RETURN(writer_db_, OpenConnection(path, "NORMAL"));
    CEPHALGIA_ASSIGN_OR_RETURN(
        insert_feedback_,
        Prepare(
            db_,
            "INSERT INTO feedback (card_uuid, service_id, outcome, accepted_suggestions, "
            "override_system, override_code, override_display, user_comment, "
            "outcome_timestamp, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    CEPHALGIA_ASSIGN_OR_RETURN(
        insert_issued_,
        Prepare(writer_db_,
                "INSERT INTO issued_cards (card_uuid, service_id, rule_id, hook_instance, "
                "issued_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    CEPHALGIA_ASSIGN_OR_RETURN(begin_issued_, Prepare(writer_db_, "BEGIN IMMEDIATE"));
    CEPHALGIA_ASSIGN_OR_RETURN(commit_issued_, Prepare(writer_db_, "COMMIT"));
    queue_.Start();
    return Status::Ok();
  }

  Status Store(std::string_view service_id, const std::vector<FeedbackItem>& items,
               Clock::time_point received_at) override {
    if (items.empty()) return Status::Ok();
    const std::string received = metrics::FormatRfc3339Millis(received_at);
    std::lock_guard lock(db_mu_);
    CEPHALGIA_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    sqlite3_stmt* s = insert_feedback_.get();
    for (const FeedbackItem& item : items) {
      const std::vector<std::optional<std::string>> columns = FeedbackColumns(service_id, item);
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      for (std::size_t i = 0; i < columns.size(); ++i) {
        BindOptional(s, static_cast<int>(i) + 1, columns[i]);
      }
      BindText(s, 10, received);
      if (sqlite3_step(s) != SQLITE_DONE) {
        Status err = SqliteError(db_, "insert feedback");
        sqlite3_reset(s);
        (void)Exec(db_, "ROLLBACK");
        return err;
      }
    }
    sqlite3_reset(s);
    // With synchronous=FULL the WAL is fsynced before COMMIT returns: OK means durable.
    Status commit = Exec(db_, "COMMIT");
    if (!commit.ok()) (void)Exec(db_, "ROLLBACK");
    return commit;
  }

  bool RecordIssuedCards(std::string_view service_id, std::string_view hook_instance,
                         std::vector<IssuedCard> cards, Clock::time_point issued_at) override {
    return queue_.Enqueue(service_id, hook_instance, std::move(cards), issued_at);
  }

  Status Flush() override { return queue_.Flush(); }

  Result<std::string> Summary() override {
    (void)Flush();  // show the cards issued so far, not only those the writer happened to reach
    std::lock_guard lock(db_mu_);
    // One read transaction, so the numbers come from one snapshot.
    CEPHALGIA_RETURN_IF_ERROR(Exec(db_, "BEGIN"));
    Result<std::string> summary = BuildSummary(
        [this](const std::string& sql,
               const std::function<void(const std::vector<std::string>&)>& row) -> Status {
          CEPHALGIA_ASSIGN_OR_RETURN(StmtPtr stmt, Prepare(db_, sql.c_str()));
          std::vector<std::string> columns;
          int rc;
          while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
            columns.clear();
            for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i) {
              columns.push_back(ColumnText(stmt.get(), i));
            }
            row(columns);
          }
          return rc == SQLITE_DONE ? Status::Ok() : SqliteError(db_, "summary");
        },
        options_.top_override_reasons);
    (void)Exec(db_, "COMMIT");
    return summary;
  }

  // An open file is always there to write to; a full disk shows in Store()'s answer.
  Status Health() const override { return Status::Ok(); }
  std::uint64_t dropped_issued_cards() const override { return queue_.dropped(); }
  std::size_t queued_issued_cards() const override { return queue_.queued(); }

 private:
  // One transaction per batch. BEGIN and COMMIT are prepared once (sqlite3_exec compiled them
  // again for every batch), and the row's texts are bound without a copy: `batch` outlives the
  // step.
  Status WriteBatch(const std::vector<QueuedCard>& batch) {
    CEPHALGIA_RETURN_IF_ERROR(StepOnce(writer_db_, begin_issued_.get(), "begin issued cards"));
    sqlite3_stmt* s = insert_issued_.get();
    for (const QueuedCard& card : batch) {
      sqlite3_reset(s);
      BindTextStatic(s, 1, card.card_uuid);
      BindTextStatic(s, 2, card.service_id);
      BindTextStatic(s, 3, card.rule_id);
      BindTextStatic(s, 4, card.hook_instance);
      BindTextStatic(s, 5, card.issued_at);
      if (sqlite3_step(s) != SQLITE_DONE) {
        Status err = SqliteError(writer_db_, "insert issued card");
        sqlite3_reset(s);
        (void)Exec(writer_db_, "ROLLBACK");
        return err;
      }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);  // no pointer into `batch` outlives it
    Status commit = StepOnce(writer_db_, commit_issued_.get(), "commit issued cards");
    if (!commit.ok()) (void)Exec(writer_db_, "ROLLBACK");
    return commit;
  }

  const Options options_;
  // Foreground connection: Store() and Summary(). synchronous=FULL.
  std::mutex db_mu_;
  sqlite3* db_ = nullptr;
  StmtPtr insert_feedback_;
  // Writer thread's connection: issued cards. synchronous=NORMAL.
  sqlite3* writer_db_ = nullptr;
  StmtPtr insert_issued_;
  StmtPtr begin_issued_;
  StmtPtr commit_issued_;
  IssuedCardQueue queue_;  // last member: its writer thread stops before the rest goes
};

}  // namespace

Result<std::unique_ptr<FeedbackStore>> OpenSqliteFeedbackStore(const std::string& path,
                                                               FeedbackStore::Options options) {
  if (options.issued_batch_size == 0 || options.issued_queue_capacity == 0) {
    return InvalidArgument("feedback store: queue capacity and batch size must be positive");
  }
  auto store = std::make_unique<SqliteFeedbackStore>(options);
  CEPHALGIA_RETURN_IF_ERROR(store->Open(path));
  return std::unique_ptr<FeedbackStore>(std::move(store));
}

Result<std::unique_ptr<FeedbackStore>> FeedbackStore::Open(const std::string& path,
                                                           Options options) {
  return OpenSqliteFeedbackStore(path, options);
}

}  // namespace cephalgia::hooks::feedback
