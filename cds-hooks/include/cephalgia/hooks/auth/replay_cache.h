// File: replay_cache.h
//
// The `jti` replay cache (checklist item 103: "jti has not been seen before; cache it until exp,
// an hour at most"). Keys are (iss, jti): two clients may pick the same nonce independently.
//
// ReplayCache is the interface the authenticator uses. Two implementations:
//   - JtiReplayCache (here): in this process; right for one replica (the SQLite default);
//   - PostgresReplayCache (cephalgia/hooks/feedback/postgres_replay_cache.h): in the database the
//     replicas share, so a token accepted by one replica is refused when replayed at another.
//
// JtiReplayCache is bounded in size. When full, expired entries are purged first; if it is still
// full the new token is refused (fail closed): evicting a live entry would silently re-open a
// replay window. Only tokens whose signature already verified are inserted, so only trusted
// clients can fill it. Thread-safe (one mutex; the cost is a hash insert next to a public-key
// signature verify).
//
//   JtiReplayCache cache(100000);
//   switch (cache.Insert(iss, jti, expires_at, now)) { case ReplayCache::kFresh: ... }
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace cephalgia::hooks::auth {

class ReplayCache {
 public:
  using Clock = std::chrono::system_clock;
  // kUnavailable: the cache could not be asked (its database is away); the token cannot be
  // accepted, since a replay could not be ruled out.
  enum InsertResult { kFresh, kReplayed, kFull, kUnavailable };

  virtual ~ReplayCache() = default;

  // Remembers (iss, jti) until `forget_at`, unless it is already remembered and not expired
  // (kReplayed). Entries whose forget_at <= now count as gone. Atomic: of two concurrent
  // inserts of one key, exactly one is kFresh.
  virtual InsertResult Insert(std::string_view iss, std::string_view jti,
                              Clock::time_point forget_at, Clock::time_point now) = 0;

  // Whether Insert may wait on the network: then verification belongs off the I/O threads.
  virtual bool remote() const { return false; }
};

class JtiReplayCache final : public ReplayCache {
 public:
  explicit JtiReplayCache(std::size_t max_entries) : max_entries_(max_entries) {}

  // As ReplayCache::Insert; kFull when the cache is full of live entries. Never kUnavailable.
  InsertResult Insert(std::string_view iss, std::string_view jti, Clock::time_point forget_at,
                      Clock::time_point now) override;

  std::size_t size() const;

 private:
  void PurgeExpiredLocked(Clock::time_point now);

  const std::size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> entries_;
  std::set<std::pair<Clock::time_point, std::string>> by_expiry_;  // for purging in time order
};

// The shared cache with this replica's own cache beside it, for when the shared one is away.
// Every token is recorded in both (write-through), so during an outage of the shared cache a
// replay at this replica is still refused; only a replay at another replica within the outage
// could pass. Used with `--replay-cache-outage local` (the default): CDS must keep answering
// (issue 15: hook calls never fail because the store is down). With `refuse`, the shared cache
// is used alone and an outage gives 503.
class SharedReplayCacheWithLocalFallback final : public ReplayCache {
 public:
  SharedReplayCacheWithLocalFallback(std::shared_ptr<ReplayCache> shared, std::size_t max_local)
      : shared_(std::move(shared)), local_(max_local) {}

  InsertResult Insert(std::string_view iss, std::string_view jti, Clock::time_point forget_at,
                      Clock::time_point now) override;
  bool remote() const override { return true; }

  // Tokens accepted on the local check alone while the shared cache was away (for a metric).
  long long accepted_during_outage() const { return accepted_during_outage_.load(); }

 private:
  std::shared_ptr<ReplayCache> shared_;
  JtiReplayCache local_;
  std::atomic<long long> accepted_during_outage_{0};
};

}  // namespace cephalgia::hooks::auth
