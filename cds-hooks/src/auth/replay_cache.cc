#include "cephalgia/hooks/auth/replay_cache.h"

namespace cephalgia::hooks::auth {

JtiReplayCache::InsertResult JtiReplayCache::Insert(std::string_view iss, std::string_view jti,
                                                    Clock::time_point forget_at,
                                                    Clock::time_point now) {
  // '\n' cannot appear in a URL-shaped iss, so the pair maps to exactly one key.
  std::string key;
  key.reserve(iss.size() + 1 + jti.size());
  key.append(iss).append(1, '\n').append(jti);
  std::lock_guard lock(mu_);
  PurgeExpiredLocked(now);  // amortised O(1): each entry is purged once
  auto it = entries_.find(key);
  if (it != entries_.end()) return kReplayed;  // live: expired ones were just purged
  if (entries_.size() >= max_entries_) return kFull;
  entries_.emplace(key, forget_at);
  by_expiry_.emplace(forget_at, std::move(key));
  return kFresh;
}

void JtiReplayCache::PurgeExpiredLocked(Clock::time_point now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    entries_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

ReplayCache::InsertResult SharedReplayCacheWithLocalFallback::Insert(std::string_view iss,
                                                                     std::string_view jti,
                                                                     Clock::time_point forget_at,
                                                                     Clock::time_point now) {
  // Local first: a replay this replica has seen is refused whatever the database says.
  const InsertResult local = local_.Insert(iss, jti, forget_at, now);
  if (local == kReplayed || local == kFull) return local;
  const InsertResult shared = shared_->Insert(iss, jti, forget_at, now);
  if (shared != kUnavailable) return shared;
  accepted_during_outage_.fetch_add(1);
  return kFresh;
}

std::size_t JtiReplayCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace cephalgia::hooks::auth
