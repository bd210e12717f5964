#include "issued_card_queue.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "cephalgia/hooks/metrics/access_log.h"  // FormatRfc3339Millis

namespace cephalgia::hooks::feedback {

IssuedCardQueue::IssuedCardQueue(const FeedbackStore::Options& options, WriteBatch write,
                                 FailurePolicy policy, std::chrono::milliseconds retry_interval)
    : options_(options),
      write_(std::move(write)),
      policy_(policy),
      retry_interval_(retry_interval) {}

IssuedCardQueue::~IssuedCardQueue() { Stop(); }

void IssuedCardQueue::Start() {
  writer_ = std::thread([this] { WriterLoop(); });
}

void IssuedCardQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();  // the loop drains the queue before returning
}

void IssuedCardQueue::WriterLoop() {
  // Bookkeeping yields to requests: at nice 10 the writer's group commits (a few ms of CPU each)
  // do not take a core from the I/O threads under load, which showed as p99 latency. The queue
  // absorbs the delay. (Linux sets the nice value per thread; failure just keeps the default.)
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  std::vector<QueuedCard> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop requested and everything drained
      work_cv_.wait_for(lock, options_.issued_linger, [&] {
        return stop_ || flush_waiters_ > 0 || queue_.size() >= options_.issued_batch_size;
      });
      const std::size_t n = std::min(queue_.size(), options_.issued_batch_size);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      in_flight_ = n;
      stopping = stop_;
    }
    Status s = write_(batch);
    {
      std::unique_lock lock(mu_);
      in_flight_ = 0;
      if (s.ok()) {
        handled_ += batch.size();
        if (policy_ == kRetryFailedBatches) last_error_ = Status::Ok();
      } else {
        ++failures_;
        last_error_ = s;
        if (policy_ == kRetryFailedBatches && !stopping) {
          // Back to the head of the queue, in order; tried again after the retry interval (or
          // at once when the store closes, for the last attempt).
          queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                        std::make_move_iterator(batch.end()));
          batch.clear();
          written_cv_.notify_all();  // a Flush() waiting returns the error instead of waiting
          work_cv_.wait_for(lock, retry_interval_, [&] { return stop_; });
          continue;
        }
        dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
        handled_ += batch.size();
      }
    }
    written_cv_.notify_all();
    batch.clear();
  }
}

bool IssuedCardQueue::Enqueue(std::string_view service_id, std::string_view hook_instance,
                              std::vector<IssuedCard> cards,
                              FeedbackStore::Clock::time_point issued_at) {
  if (cards.empty()) return true;
  const std::string at = metrics::FormatRfc3339Millis(issued_at);
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stop_ || queue_.size() + in_flight_ + cards.size() > options_.issued_queue_capacity) {
      dropped_.fetch_add(cards.size(), std::memory_order_relaxed);
      return false;
    }
    // Wake the writer only when it has something new to decide: the queue was empty (it sleeps
    // until work arrives) or a batch is now full (it stops lingering). Not once per request.
    wake = queue_.empty();
    for (IssuedCard& card : cards) {
      queue_.push_back(QueuedCard{std::string(service_id), std::string(hook_instance),
                                  std::move(card.card_uuid), std::move(card.rule_id), at});
    }
    enqueued_ += cards.size();
    wake = wake || queue_.size() >= options_.issued_batch_size;
  }
  if (wake) work_cv_.notify_one();
  return true;
}

Status IssuedCardQueue::Flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = enqueued_;
  const std::uint64_t failures_before = failures_;
  ++flush_waiters_;
  work_cv_.notify_one();  // the writer stops lingering
  written_cv_.wait(lock, [&] {
    return handled_ >= target || (policy_ == kRetryFailedBatches && failures_ != failures_before);
  });
  --flush_waiters_;
  // Retrying: everything handled was written. Dropping: a failure meanwhile lost cards.
  if (handled_ >= target && (policy_ == kRetryFailedBatches || failures_ == failures_before)) {
    return Status::Ok();
  }
  return last_error_;
}

std::size_t IssuedCardQueue::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size() + in_flight_;
}

}  // namespace cephalgia::hooks::feedback
