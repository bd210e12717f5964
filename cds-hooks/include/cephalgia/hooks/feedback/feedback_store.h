// File: feedback_store.h
//
// Durable storage of CDS Hooks feedback and of the cards we issued, plus the per-rule summary
// served at `GET /admin/feedback`. One interface, two implementations chosen by one setting
// (`--store`, config `store`):
//   - `sqlite:PATH`: one embedded SQLite file (WAL mode), the single-replica default
//     (`<data-dir>/feedback.sqlite` when nothing is set);
//   - `postgresql://...` (or `postgres://...`, or libpq's `key=value` form after `postgresql:`):
//     a PostgreSQL server through libpq, shared by every replica (issue 15).
//
//   CEPHALGIA_ASSIGN_OR_RETURN(auto store, OpenFeedbackStore("sqlite:/var/lib/x/feedback.sqlite"));
//   // after every successful service call (hot path: only enqueues):
//   store->RecordIssuedCards("headache-patient-view", hook_instance, {{card_uuid, rule_id}, ...});
//   // POST /cds-services/{id}/feedback, after ValidateFeedback():
//   Status s = store->Store(service_id, items, system_clock::now());   // OK => committed
//   // GET /admin/feedback:
//   Result<std::string> json = store->Summary();
//   // GET /readyz:
//   Status up = store->Health();   // never blocks
//
// Durability. Store() returns OK only after its transaction has committed durably: SQLite with
// synchronous=FULL (the WAL is fsynced on every commit), PostgreSQL with synchronous_commit on (the
// server's WAL is flushed before COMMIT returns). A 200 for feedback therefore survives the
// replica being killed right after, and an OS crash of the machine holding the data.
// Issued cards are high-volume and re-creatable analytics: RecordIssuedCards() only pushes onto a
// bounded in-memory queue; a background thread writes them in groups (one transaction per
// `issued_linger` or `issued_batch_size` cards) without waiting for an fsync. If the queue is full
// the cards are dropped and counted (dropped_issued_cards()), never blocking a service call.
// Flush() and the destructor drain the queue.
//
// Degradation (PostgreSQL). When the server cannot be reached, Store() fails at once with
// kUnavailable (the caller answers 503 with Retry-After), issued cards stay queued (a batch that
// failed is retried, in order, until it is written; new cards are dropped and counted only once
// the queue is full), Health() reports the outage, and every connection is re-established by
// itself (at most one connection attempt per `reconnect_interval` per connection).
//
// Schema. Both stores apply versioned migrations at Open (SQLite `PRAGMA user_version`,
// PostgreSQL table `cephalgia_schema_migrations`, under an advisory lock so replicas starting
// together apply each migration once) and refuse to open a schema newer than this binary knows
// (kFailedPrecondition): an old replica must not write into a database a newer one reshaped.
//
// Idempotency (item 84): the same feedback may arrive several times; every arrival is stored as an
// event and never fails. The summary counts distinct cards, so duplicates do not inflate it.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/hooks/feedback/feedback.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks::feedback {

struct IssuedCard {
  std::string card_uuid;
  std::string rule_id;
};

// The newest schema version this binary knows, per store (see Schema above).
inline constexpr int kSqliteSchemaVersion = 1;
inline constexpr int kPostgresSchemaVersion = 1;

class FeedbackStore {
 public:
  using Clock = std::chrono::system_clock;

  struct Options {
    std::size_t issued_queue_capacity = 100000;  // cards waiting for the writer thread
    std::size_t issued_batch_size = 1000;        // cards per transaction
    // Group commit: once cards are waiting, the writer waits this long for more (unless the batch
    // fills, Flush() is called or the store closes) and writes them in one transaction. Under
    // load that is one commit per interval instead of one per request; the cost is that a card
    // shown reaches the database up to this much later (it never was fsync'd per card).
    std::chrono::milliseconds issued_linger{50};
    int top_override_reasons = 5;  // per rule in Summary()
    // PostgreSQL only: how often a lost connection is tried again, and how often the health
    // monitor checks the server (its answer is what Health() returns between checks).
    std::chrono::milliseconds reconnect_interval{500};
    std::chrono::milliseconds health_interval{1000};
    // PostgreSQL only: connections for Store()/Summary() (each call holds one for its
    // transaction; callers beyond this wait for one).
    int foreground_connections = 4;
  };

  // SQLite at `path` (kept for callers that name a file; same as OpenSqliteFeedbackStore).
  static Result<std::unique_ptr<FeedbackStore>> Open(const std::string& path, Options options);
  static Result<std::unique_ptr<FeedbackStore>> Open(const std::string& path) {
    return Open(path, Options());
  }

  virtual ~FeedbackStore() = default;  // implementations drain the issued-cards queue, then close
  FeedbackStore(const FeedbackStore&) = delete;
  FeedbackStore& operator=(const FeedbackStore&) = delete;

  // Stores validated feedback for `service_id` in one durable transaction (all or nothing).
  // kUnavailable when the database cannot be reached or the commit failed: nothing was stored.
  virtual Status Store(std::string_view service_id, const std::vector<FeedbackItem>& items,
                       Clock::time_point received_at) = 0;

  // Enqueues the cards of one successful service call; never blocks on the database. Returns
  // false if the queue was full and the cards were dropped.
  virtual bool RecordIssuedCards(std::string_view service_id, std::string_view hook_instance,
                                 std::vector<IssuedCard> cards,
                                 Clock::time_point issued_at = Clock::now()) = 0;

  // Waits until every card enqueued before the call is written, or until a write attempt made
  // after the call has failed (the database is down: then it does not wait for the outage to
  // end). Returns the writer's last error, OK when everything was written.
  virtual Status Flush() = 0;

  // Per-rule summary as a JSON object:
  //   {"rules":[{"ruleId":..,"cardsShown":..,"accepted":..,"overridden":..,"feedbackEvents":..,
  //              "overridesWithUserComment":..,"topOverrideReasons":[{system,code,display,count}]}],
  //    "unknownCards":{"cards":..,"feedbackEvents":..}}
  // Counts only: user comments are free text and may hold patient data, so they are never shown.
  virtual Result<std::string> Summary() = 0;

  // Whether the store can take feedback now, from what it last saw; never blocks (readiness).
  virtual Status Health() const = 0;

  virtual std::uint64_t dropped_issued_cards() const = 0;
  // Issued cards waiting to be written (the queue and the batch being written).
  virtual std::size_t queued_issued_cards() const = 0;

 protected:
  FeedbackStore() = default;
};

// Opens (creating if needed) the SQLite database at `path`, sets WAL and migrates the schema.
// kUnavailable if the file cannot be opened or is not a database we can use.
Result<std::unique_ptr<FeedbackStore>> OpenSqliteFeedbackStore(
    const std::string& path, FeedbackStore::Options options = FeedbackStore::Options());

// Connects to PostgreSQL (`conninfo`: a libpq URI or key=value string) and migrates the schema.
// The first connection must succeed (kUnavailable otherwise): a replica that never reached its
// database should not start; outages after start-up are survived as described above.
Result<std::unique_ptr<FeedbackStore>> OpenPostgresFeedbackStore(
    const std::string& conninfo, FeedbackStore::Options options = FeedbackStore::Options());

// What `--store` names: kSqlite with a path, or kPostgres with a libpq conninfo.
struct StoreSpec {
  enum Kind { kSqlite, kPostgres } kind = kSqlite;
  std::string target;  // the path, or the conninfo
};
// "sqlite:PATH", "postgresql://...", "postgres://...", "postgresql:key=value ...". An empty
// `spec` means SQLite at `default_sqlite_path`. kInvalidArgument for anything else.
Result<StoreSpec> ParseStoreSpec(std::string_view spec, const std::string& default_sqlite_path);

// Opens the store a StoreSpec names.
Result<std::unique_ptr<FeedbackStore>> OpenFeedbackStore(
    const StoreSpec& spec, FeedbackStore::Options options = FeedbackStore::Options());

// A conninfo with any password removed, for logs ("postgresql://app@db:5432/cephalgia").
std::string RedactConninfo(std::string_view conninfo);

}  // namespace cephalgia::hooks::feedback
