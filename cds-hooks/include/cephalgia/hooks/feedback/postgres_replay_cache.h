// File: postgres_replay_cache.h
//
// The JWT `jti` replay cache in the PostgreSQL database the replicas share (issue 15): a token
// accepted by one replica is refused when replayed at any other. Table `jti_replay` (created by
// the PostgreSQL feedback store's migrations, so open the store first):
//   INSERT ... ON CONFLICT (iss, jti) DO UPDATE ... WHERE the existing row has expired
// is one atomic statement: of two replicas inserting the same (iss, jti) at once, exactly one gets
// its row (kFresh); the other waits for that commit and finds the row live (kReplayed). Each
// insert carries a nonce, so a statement retried after its connection died (it may have
// committed) recognises its own row instead of calling it a replay. A row
// lives until the token's exp (plus skew, as the authenticator computes it); expired rows are
// swept by a DELETE at most once per `sweep_interval` per replica.
//
//   CEPHALGIA_ASSIGN_OR_RETURN(auto cache, OpenPostgresReplayCache(conninfo));
//   auth_config.replay_cache = cache;     // ClientAuthenticator then uses it
//
// When the database cannot be reached, Insert answers kUnavailable (the authenticator then
// refuses the token with a 503, fail closed) and reconnects by itself on a later call.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cephalgia/hooks/auth/replay_cache.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks::feedback {

class PostgresReplayCache final : public auth::ReplayCache {
 public:
  struct Options {
    int connections = 4;  // concurrent Insert calls beyond this wait for a connection
    std::chrono::seconds sweep_interval{60};
    std::chrono::milliseconds reconnect_interval{500};
  };
  ~PostgresReplayCache() override;

  InsertResult Insert(std::string_view iss, std::string_view jti, Clock::time_point forget_at,
                      Clock::time_point now) override;
  bool remote() const override { return true; }

  // Deletes the rows expired at `now`; returns how many (for tests and the periodic sweep).
  Result<std::int64_t> SweepExpired(Clock::time_point now);

 private:
  friend Result<std::shared_ptr<PostgresReplayCache>> OpenPostgresReplayCache(
      const std::string& conninfo, Options options);
  struct Impl;
  explicit PostgresReplayCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Connects (the first connection must succeed) and checks that the table exists.
Result<std::shared_ptr<PostgresReplayCache>> OpenPostgresReplayCache(
    const std::string& conninfo, PostgresReplayCache::Options options);
inline Result<std::shared_ptr<PostgresReplayCache>> OpenPostgresReplayCache(
    const std::string& conninfo) {
  return OpenPostgresReplayCache(conninfo, PostgresReplayCache::Options());
}

}  // namespace cephalgia::hooks::feedback
