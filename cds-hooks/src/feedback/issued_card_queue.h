// File: issued_card_queue.h (private to hooks_feedback)
//
// The bounded queue of issued-card records and the background thread that writes them in
// groups, shared by the SQLite and the PostgreSQL store. The store gives it one function that
// writes a batch in one transaction.
//
//   IssuedCardQueue queue(options, [this](const std::vector<QueuedCard>& b) { return Write(b); },
//                         IssuedCardQueue::kRetryFailedBatches);
//   queue.Start();
//   queue.Enqueue("svc", "hook-1", {{"uuid", "rule"}}, Clock::now());  // never blocks
//
// Failure policy. kDropFailedBatches (SQLite: a failed write is a disk problem that retrying will
// not fix) counts a failed batch as dropped. kRetryFailedBatches (PostgreSQL: a failed write is
// usually the server being away) keeps the batch at the head of the queue and tries it again
// after `retry_interval`; cards already queued and in flight count against the capacity, so
// memory stays bounded during an outage and new cards are dropped (and counted) once it is full.
// At Stop() a retrying queue makes one last attempt per batch and drops what still fails.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cephalgia/hooks/feedback/feedback_store.h"

namespace cephalgia::hooks::feedback {

struct QueuedCard {
  std::string service_id;
  std::string hook_instance;
  std::string card_uuid;
  std::string rule_id;
  std::string issued_at;  // RFC 3339 UTC with milliseconds
};

class IssuedCardQueue {
 public:
  enum FailurePolicy { kDropFailedBatches, kRetryFailedBatches };
  using WriteBatch = std::function<Status(const std::vector<QueuedCard>&)>;

  IssuedCardQueue(const FeedbackStore::Options& options, WriteBatch write, FailurePolicy policy,
                  std::chrono::milliseconds retry_interval = std::chrono::milliseconds(500));
  ~IssuedCardQueue();  // Stop()
  IssuedCardQueue(const IssuedCardQueue&) = delete;
  IssuedCardQueue& operator=(const IssuedCardQueue&) = delete;

  void Start();
  // Drains the queue (see the failure policy) and joins the writer. Idempotent.
  void Stop();

  bool Enqueue(std::string_view service_id, std::string_view hook_instance,
               std::vector<IssuedCard> cards, FeedbackStore::Clock::time_point issued_at);
  Status Flush();

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::size_t queued() const;

 private:
  void WriterLoop();

  const FeedbackStore::Options options_;
  const WriteBatch write_;
  const FailurePolicy policy_;
  const std::chrono::milliseconds retry_interval_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // the writer waits for work (or a retry time)
  std::condition_variable written_cv_;  // Flush() waits for progress
  std::deque<QueuedCard> queue_;
  std::size_t in_flight_ = 0;   // cards taken out of the queue for the current write
  std::uint64_t enqueued_ = 0;  // cards accepted into the queue, ever
  std::uint64_t handled_ = 0;   // cards written or dropped by the writer, ever
  std::uint64_t failures_ = 0;  // failed write attempts, ever
  bool stop_ = false;
  int flush_waiters_ = 0;  // Flush() calls waiting: the writer must not linger
  Status last_error_;
  std::atomic<std::uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace cephalgia::hooks::feedback
