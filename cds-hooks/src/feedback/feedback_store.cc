#include "cephalgia/hooks/feedback/feedback_store.h"

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "cephalgia/hooks/metrics/access_log.h"  // FormatRfc3339Millis
#include "cephalgia/json.h"

namespace cephalgia::hooks::feedback {
namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
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
PRAGMA user_version = 1;
)sql";

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
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return SqliteError(db, "prepare");
  return StmtPtr(stmt);
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

// Opens one connection configured for this store. `synchronous` is FULL or NORMAL (see header).
Result<sqlite3*> OpenConnection(const std::string& path, const char* synchronous) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
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

struct QueuedCard {
  std::string service_id;
  std::string hook_instance;
  std::string card_uuid;
  std::string rule_id;
  std::string issued_at;
};

}  // namespace

struct FeedbackStore::Impl {
  Options options;
  // Foreground connection: Store() and Summary(). synchronous=FULL.
  std::mutex db_mu;
  sqlite3* db = nullptr;
  StmtPtr insert_feedback;
  // Writer thread's connection: issued cards. synchronous=NORMAL.
  sqlite3* writer_db = nullptr;
  StmtPtr insert_issued;

  std::mutex q_mu;
  std::condition_variable q_cv;        // writer waits for work
  std::condition_variable written_cv;  // Flush() waits for progress
  std::deque<QueuedCard> queue;
  std::uint64_t enqueued = 0;  // cards accepted into the queue, ever
  std::uint64_t written = 0;   // cards taken out of the queue and handled (written or failed)
  bool stop = false;
  int flush_waiters = 0;  // Flush() calls waiting: the writer must not linger
  Status last_error;
  std::atomic<std::uint64_t> dropped{0};
  std::thread writer;

  ~Impl() {
    insert_feedback.reset();
    insert_issued.reset();
    sqlite3_close(db);
    sqlite3_close(writer_db);
  }

  void WriterLoop();
  Status WriteBatch(const std::vector<QueuedCard>& batch);
};

Status FeedbackStore::Impl::WriteBatch(const std::vector<QueuedCard>& batch) {
  CEPHALGIA_RETURN_IF_ERROR(Exec(writer_db, "BEGIN IMMEDIATE"));
  sqlite3_stmt* s = insert_issued.get();
  for (const QueuedCard& card : batch) {
    sqlite3_reset(s);
    BindText(s, 1, card.card_uuid);
    BindText(s, 2, card.service_id);
    BindText(s, 3, card.rule_id);
    BindText(s, 4, card.hook_instance);
    BindText(s, 5, card.issued_at);
    if (sqlite3_step(s) != SQLITE_DONE) {
      Status err = SqliteError(writer_db, "insert issued card");
      sqlite3_reset(s);
      (void)Exec(writer_db, "ROLLBACK");
      return err;
    }
  }
  sqlite3_reset(s);
  Status commit = Exec(writer_db, "COMMIT");
  if (!commit.ok()) (void)Exec(writer_db, "ROLLBACK");
  return commit;
}

void FeedbackStore::Impl::WriterLoop() {
  // Bookkeeping yields to requests: at nice 10 the writer's group commits (a few ms of CPU each)
  // do not take a core from the I/O threads under load, which showed as p99 latency. The queue
  // absorbs the delay. (Linux sets the nice value per thread; failure just keeps the default.)
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  std::vector<QueuedCard> batch;
  for (;;) {
    {
      std::unique_lock lock(q_mu);
      q_cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stop requested and everything drained
      q_cv.wait_for(lock, options.issued_linger, [&] {
        return stop || flush_waiters > 0 || queue.size() >= options.issued_batch_size;
      });
      const std::size_t n = std::min(queue.size(), options.issued_batch_size);
      batch.assign(std::make_move_iterator(queue.begin()),
                   std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(n)));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
    }
    Status s = WriteBatch(batch);
    if (!s.ok()) dropped.fetch_add(batch.size(), std::memory_order_relaxed);
    {
      std::lock_guard lock(q_mu);
      written += batch.size();
      if (!s.ok()) last_error = s;
    }
    written_cv.notify_all();
    batch.clear();
  }
}

FeedbackStore::FeedbackStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->writer = std::thread([impl = impl_.get()] { impl->WriterLoop(); });
}

FeedbackStore::~FeedbackStore() {
  {
    std::lock_guard lock(impl_->q_mu);
    impl_->stop = true;
  }
  impl_->q_cv.notify_all();
  impl_->writer.join();  // the loop drains the queue before returning
}

Result<std::unique_ptr<FeedbackStore>> FeedbackStore::Open(const std::string& path,
                                                           Options options) {
  if (options.issued_batch_size == 0 || options.issued_queue_capacity == 0) {
    return InvalidArgument("feedback store: queue capacity and batch size must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  CEPHALGIA_ASSIGN_OR_RETURN(impl->db, OpenConnection(path, "FULL"));
  CEPHALGIA_RETURN_IF_ERROR(Exec(impl->db, kSchema));
  CEPHALGIA_ASSIGN_OR_RETURN(impl->writer_db, OpenConnection(path, "NORMAL"));
  CEPHALGIA_ASSIGN_OR_RETURN(
      impl->insert_feedback,
      Prepare(impl->db,
              "INSERT INTO feedback (card_uuid, service_id, outcome, accepted_suggestions, "
              "override_system, override_code, override_display, user_comment, outcome_timestamp, "
              "received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  CEPHALGIA_ASSIGN_OR_RETURN(
      impl->insert_issued,
      Prepare(impl->writer_db,
              "INSERT INTO issued_cards (card_uuid, service_id, rule_id, hook_instance, issued_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5)"));
  return std::unique_ptr<FeedbackStore>(new FeedbackStore(std::move(impl)));
}

Status FeedbackStore::Store(std::string_view service_id, const std::vector<FeedbackItem>& items,
                            Clock::time_point received_at) {
  if (items.empty()) return Status::Ok();
  const std::string received = metrics::FormatRfc3339Millis(received_at);
  std::lock_guard lock(impl_->db_mu);
  sqlite3* db = impl_->db;
  CEPHALGIA_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  sqlite3_stmt* s = impl_->insert_feedback.get();
  for (const FeedbackItem& item : items) {
    rapidjson::Document ids(rapidjson::kArrayType);
    for (const std::string& id : item.accepted_suggestions) {
      ids.PushBack(json::MakeString(id, ids.GetAllocator()), ids.GetAllocator());
    }
    const std::optional<Coding>* reason =
        item.override_reason ? &item.override_reason->reason : nullptr;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    BindText(s, 1, item.card);
    BindText(s, 2, service_id);
    BindText(s, 3, OutcomeName(item.outcome));
    BindText(s, 4, json::Serialize(ids));
    if (reason != nullptr && *reason) {
      BindText(s, 5, (*reason)->system);
      BindText(s, 6, (*reason)->code);
      BindOptional(s, 7, (*reason)->display);
    }
    if (item.override_reason) BindOptional(s, 8, item.override_reason->user_comment);
    BindText(s, 9, item.outcome_timestamp);
    BindText(s, 10, received);
    if (sqlite3_step(s) != SQLITE_DONE) {
      Status err = SqliteError(db, "insert feedback");
      sqlite3_reset(s);
      (void)Exec(db, "ROLLBACK");
      return err;
    }
  }
  sqlite3_reset(s);
  // With synchronous=FULL the WAL is fsynced before COMMIT returns: OK means durable.
  Status commit = Exec(db, "COMMIT");
  if (!commit.ok()) (void)Exec(db, "ROLLBACK");
  return commit;
}

bool FeedbackStore::RecordIssuedCards(std::string_view service_id, std::string_view hook_instance,
                                      std::vector<IssuedCard> cards, Clock::time_point issued_at) {
  if (cards.empty()) return true;
  const std::string at = metrics::FormatRfc3339Millis(issued_at);
  bool wake = false;
  {
    std::lock_guard lock(impl_->q_mu);
    if (impl_->stop || impl_->queue.size() + cards.size() > impl_->options.issued_queue_capacity) {
      impl_->dropped.fetch_add(cards.size(), std::memory_order_relaxed);
      return false;
    }
    // Wake the writer only when it has something new to decide: the queue was empty (it sleeps
    // until work arrives) or a batch is now full (it stops lingering). Not once per request.
    wake = impl_->queue.empty();
    for (IssuedCard& card : cards) {
      impl_->queue.push_back(QueuedCard{std::string(service_id), std::string(hook_instance),
                                        std::move(card.card_uuid), std::move(card.rule_id), at});
    }
    impl_->enqueued += cards.size();
    wake = wake || impl_->queue.size() >= impl_->options.issued_batch_size;
  }
  if (wake) impl_->q_cv.notify_one();
  return true;
}

Status FeedbackStore::Flush() {
  std::unique_lock lock(impl_->q_mu);
  const std::uint64_t target = impl_->enqueued;
  ++impl_->flush_waiters;
  impl_->q_cv.notify_one();  // the writer stops lingering
  impl_->written_cv.wait(lock, [&] { return impl_->written >= target; });
  --impl_->flush_waiters;
  return impl_->last_error;
}

std::uint64_t FeedbackStore::dropped_issued_cards() const {
  return impl_->dropped.load(std::memory_order_relaxed);
}

Result<std::string> FeedbackStore::Summary() {
  (void)Flush();  // show the cards issued so far, not only those the writer happened to reach

  struct RuleSummary {
    int64_t shown = 0, accepted = 0, overridden = 0, events = 0, with_comment = 0;
    struct Reason {
      std::string system, code, display;
      int64_t count;
    };
    std::vector<Reason> reasons;
  };
  std::map<std::string, RuleSummary> rules;
  int64_t unknown_cards = 0, unknown_events = 0;

  std::lock_guard lock(impl_->db_mu);
  sqlite3* db = impl_->db;
  // One read transaction, so the numbers come from one snapshot.
  CEPHALGIA_RETURN_IF_ERROR(Exec(db, "BEGIN"));
  auto run = [&](const char* sql, auto&& row) -> Status {
    CEPHALGIA_ASSIGN_OR_RETURN(StmtPtr stmt, Prepare(db, sql));
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) row(stmt.get());
    return rc == SQLITE_DONE ? Status::Ok() : SqliteError(db, "summary");
  };
  // Card uuids are unique per issue; DISTINCT guards against a card recorded twice.
  constexpr const char* kIssued = "(SELECT DISTINCT card_uuid, rule_id FROM issued_cards)";
  Status s = run("SELECT rule_id, COUNT(DISTINCT card_uuid) FROM issued_cards GROUP BY rule_id",
                 [&](sqlite3_stmt* r) { rules[ColumnText(r, 0)].shown = sqlite3_column_int64(r, 1); });
  if (s.ok()) {
    const std::string sql =
        std::string("SELECT c.rule_id,"
                    " COUNT(DISTINCT CASE WHEN f.outcome = 'accepted' THEN f.card_uuid END),"
                    " COUNT(DISTINCT CASE WHEN f.outcome = 'overridden' THEN f.card_uuid END),"
                    " COUNT(*),"
                    " COUNT(DISTINCT CASE WHEN f.outcome = 'overridden' AND f.user_comment <> ''"
                    "   THEN f.card_uuid END)"
                    " FROM feedback f JOIN ") + kIssued + " c ON c.card_uuid = f.card_uuid GROUP BY c.rule_id";
    s = run(sql.c_str(), [&](sqlite3_stmt* r) {
      RuleSummary& rule = rules[ColumnText(r, 0)];
      rule.accepted = sqlite3_column_int64(r, 1);
      rule.overridden = sqlite3_column_int64(r, 2);
      rule.events = sqlite3_column_int64(r, 3);
      rule.with_comment = sqlite3_column_int64(r, 4);
    });
  }
  if (s.ok()) {
    const std::string sql =
        std::string("SELECT c.rule_id, f.override_system, f.override_code,"
                    " MAX(COALESCE(f.override_display, '')), COUNT(DISTINCT f.card_uuid) AS n"
                    " FROM feedback f JOIN ") + kIssued + " c ON c.card_uuid = f.card_uuid"
        " WHERE f.outcome = 'overridden' AND f.override_code IS NOT NULL"
        " GROUP BY c.rule_id, f.override_system, f.override_code"
        " ORDER BY c.rule_id, n DESC, f.override_system, f.override_code";
    s = run(sql.c_str(), [&](sqlite3_stmt* r) {
      RuleSummary& rule = rules[ColumnText(r, 0)];
      if (static_cast<int>(rule.reasons.size()) < impl_->options.top_override_reasons) {
        rule.reasons.push_back({ColumnText(r, 1), ColumnText(r, 2), ColumnText(r, 3),
                                sqlite3_column_int64(r, 4)});
      }
    });
  }
  if (s.ok()) {
    s = run("SELECT COUNT(DISTINCT card_uuid), COUNT(*) FROM feedback"
            " WHERE card_uuid NOT IN (SELECT card_uuid FROM issued_cards)",
            [&](sqlite3_stmt* r) {
              unknown_cards = sqlite3_column_int64(r, 0);
              unknown_events = sqlite3_column_int64(r, 1);
            });
  }
  (void)Exec(db, "COMMIT");
  CEPHALGIA_RETURN_IF_ERROR(s);

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& [rule_id, rule] : rules) {
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("ruleId", json::MakeString(rule_id, a), a);
    o.AddMember("cardsShown", rule.shown, a);
    o.AddMember("accepted", rule.accepted, a);
    o.AddMember("overridden", rule.overridden, a);
    o.AddMember("feedbackEvents", rule.events, a);
    o.AddMember("overridesWithUserComment", rule.with_comment, a);
    rapidjson::Value reasons(rapidjson::kArrayType);
    for (const auto& r : rule.reasons) {
      rapidjson::Value ro(rapidjson::kObjectType);
      ro.AddMember("system", json::MakeString(r.system, a), a);
      ro.AddMember("code", json::MakeString(r.code, a), a);
      if (!r.display.empty()) ro.AddMember("display", json::MakeString(r.display, a), a);
      ro.AddMember("count", r.count, a);
      reasons.PushBack(ro, a);
    }
    o.AddMember("topOverrideReasons", reasons, a);
    list.PushBack(o, a);
  }
  doc.AddMember("rules", list, a);
  rapidjson::Value unknown(rapidjson::kObjectType);
  unknown.AddMember("cards", unknown_cards, a);
  unknown.AddMember("feedbackEvents", unknown_events, a);
  doc.AddMember("unknownCards", unknown, a);
  return json::Serialize(doc);
}

}  // namespace cephalgia::hooks::feedback
