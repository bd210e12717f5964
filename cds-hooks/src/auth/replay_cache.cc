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

std::size_t JtiReplayCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace cephalgia::hooks::auth
