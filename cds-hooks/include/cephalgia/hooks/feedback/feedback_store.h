// File: feedback_store.h
//
// Durable storage of CDS Hooks feedback and of the cards we issued, in one embedded SQLite file in
// the data directory (WAL mode), plus the per-rule summary served at `GET /admin/feedback`.
//
//   CEPHALGIA_ASSIGN_OR_RETURN(auto store, FeedbackStore::Open(data_dir + "/feedback.sqlite"));
//   // after every successful service call (hot path: only enqueues):
//   store->RecordIssuedCards("headache-patient-view", hook_instance, {{card_uuid, rule_id}, ...});
//   // POST /cds-services/{id}/feedback, after ValidateFeedback():
//   Status s = store->Store(service_id, items, system_clock::now());   // OK => on disk
//   // GET /admin/feedback:
//   Result<std::string> json = store->Summary();
//
// Durability. Store() returns OK only after the SQLite transaction has committed with
// synchronous=FULL on its connection: in WAL mode that fsyncs the WAL on every commit, so a 200
// for feedback survives not only the process being killed right after (which WAL with NORMAL would
// already give us: the commit is in the OS page cache) but also an OS crash or power loss.
// Feedback is low-volume, so the fsync per request is affordable.
// Issued cards are high-volume and re-creatable analytics: RecordIssuedCards() only pushes onto a
// bounded in-memory queue; a background thread writes batches in one transaction each on its own
// connection with synchronous=NORMAL (no fsync per batch). If the queue is full the cards are
// dropped and counted (dropped_issued_cards()), never blocking a service call. Flush() and the
// destructor drain the queue.
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

class FeedbackStore {
 public:
  using Clock = std::chrono::system_clock;

  struct Options {
    std::size_t issued_queue_capacity = 100000;  // cards waiting for the writer thread
    std::size_t issued_batch_size = 1000;        // cards per transaction
    // Group commit: once cards are waiting, the writer waits this long for more (unless the batch
    // fills, Flush() is called or the store closes) and writes them in one transaction. Under
    // load that is one commit per interval instead of one per request; the cost is that a card
    // shown reaches the file up to this much later (it never was fsync'd per card).
    std::chrono::milliseconds issued_linger{50};
    int top_override_reasons = 5;                // per rule in Summary()
  };

  // Opens (creating if needed) the database at `path`, sets WAL and creates the tables.
  // kUnavailable if the file cannot be opened or is not a database we can use.
  static Result<std::unique_ptr<FeedbackStore>> Open(const std::string& path, Options options);
  static Result<std::unique_ptr<FeedbackStore>> Open(const std::string& path) {
    return Open(path, Options());
  }
  ~FeedbackStore();  // drains the issued-cards queue, then closes
  FeedbackStore(const FeedbackStore&) = delete;
  FeedbackStore& operator=(const FeedbackStore&) = delete;

  // Stores validated feedback for `service_id` in one durable transaction (all or nothing).
  Status Store(std::string_view service_id, const std::vector<FeedbackItem>& items,
               Clock::time_point received_at);

  // Enqueues the cards of one successful service call; never blocks on the disk. Returns false
  // if the queue was full and the cards were dropped.
  bool RecordIssuedCards(std::string_view service_id, std::string_view hook_instance,
                         std::vector<IssuedCard> cards, Clock::time_point issued_at = Clock::now());

  // Waits until every card enqueued before the call is written. Returns the writer's last error.
  Status Flush();

  // Per-rule summary as a JSON object (see feedback_store.cc for the exact shape):
  //   {"rules":[{"ruleId":..,"cardsShown":..,"accepted":..,"overridden":..,"feedbackEvents":..,
  //              "overridesWithUserComment":..,"topOverrideReasons":[{system,code,display,count}]}],
  //    "unknownCards":{"cards":..,"feedbackEvents":..}}
  // Counts only: user comments are free text and may hold patient data, so they are never shown.
  Result<std::string> Summary();

  std::uint64_t dropped_issued_cards() const;

 private:
  struct Impl;
  explicit FeedbackStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cephalgia::hooks::feedback
