#include "cephalgia/hooks/feedback/postgres_replay_cache.h"

#include <atomic>
#include <cstdio>

#include "cephalgia/uuid.h"
#include "pg_connection.h"

namespace cephalgia::hooks::feedback {
namespace {

// Seconds since the epoch with microseconds, for to_timestamp(): the cache uses the
// authenticator's clock, never the database server's, so all replicas and tests agree.
std::string EpochSeconds(auth::ReplayCache::Clock::time_point t) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(us / 1000000),
                static_cast<long long>(us % 1000000 < 0 ? -(us % 1000000) : us % 1000000));
  return buf;
}

}  // namespace

struct PostgresReplayCache::Impl {
  Impl(const std::string& conninfo, Options o)
      : options(o), pool(conninfo, o.connections, o.reconnect_interval) {}
  const Options options;
  PgConnectionPool pool;
  std::atomic<std::int64_t> last_sweep_us{0};
};

PostgresReplayCache::PostgresReplayCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresReplayCache::~PostgresReplayCache() = default;

auth::ReplayCache::InsertResult PostgresReplayCache::Insert(std::string_view iss,
                                                            std::string_view jti,
                                                            Clock::time_point forget_at,
                                                            Clock::time_point now) {
  // The nonce makes a retry safe: if the connection died after the server committed our insert
  // but before we heard back, the retry finds the row accepted by this very call (fresh), not a
  // replay. One statement: the insert (a new row, or an expired one taken over) returns our
  // nonce; a live row returns the nonce of whoever accepted it.
  const std::string nonce = NewUuidV4();
  const std::vector<std::optional<std::string>> params = {
      std::string(iss), std::string(jti), EpochSeconds(forget_at), EpochSeconds(now), nonce};
  static const std::string kInsert =
      "WITH taken AS ("
      " INSERT INTO jti_replay (iss, jti, expires_at, accepted_by)"
      " VALUES ($1, $2, to_timestamp($3), $5)"
      " ON CONFLICT (iss, jti) DO UPDATE"
      " SET expires_at = EXCLUDED.expires_at, accepted_by = EXCLUDED.accepted_by"
      " WHERE jti_replay.expires_at <= to_timestamp($4)"
      " RETURNING accepted_by)"
      " SELECT accepted_by FROM taken"
      " UNION ALL SELECT accepted_by FROM jti_replay"
      " WHERE iss = $1 AND jti = $2 AND NOT EXISTS (SELECT 1 FROM taken)";
  Result<PgResultPtr> r = [&] {
    PgConnectionPool::Lease conn = impl_->pool.Acquire();
    Result<PgResultPtr> result = conn->Exec(kInsert, params);
    // A pooled connection that died idle (a server restart): once more on a new one.
    if (!result.ok() && !conn->connected()) result = conn->Exec(kInsert, params);
    return result;
  }();
  if (!r.ok()) return kUnavailable;
  const bool fresh = PQntuples(r->get()) == 1 && nonce == PQgetvalue(r->get(), 0, 0);

  // Sweep now and then (one replica at a time is enough, but each doing it is harmless).
  const std::int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::int64_t last = impl_->last_sweep_us.load(std::memory_order_relaxed);
  const std::int64_t interval_us =
      std::chrono::duration_cast<std::chrono::microseconds>(impl_->options.sweep_interval).count();
  if (now_us - last >= interval_us &&
      impl_->last_sweep_us.compare_exchange_strong(last, now_us, std::memory_order_relaxed)) {
    (void)SweepExpired(now);
  }
  return fresh ? kFresh : kReplayed;
}

Result<std::int64_t> PostgresReplayCache::SweepExpired(Clock::time_point now) {
  PgConnectionPool::Lease conn = impl_->pool.Acquire();
  CEPHALGIA_ASSIGN_OR_RETURN(
      PgResultPtr r, conn->Exec("DELETE FROM jti_replay WHERE expires_at <= to_timestamp($1)",
                                {EpochSeconds(now)}));
  return static_cast<std::int64_t>(std::atoll(PQcmdTuples(r.get())));
}

Result<std::shared_ptr<PostgresReplayCache>> OpenPostgresReplayCache(
    const std::string& conninfo, PostgresReplayCache::Options options) {
  auto impl = std::make_unique<PostgresReplayCache::Impl>(conninfo, options);
  {
    PgConnectionPool::Lease conn = impl->pool.Acquire();
    CEPHALGIA_RETURN_IF_ERROR(conn->Exec("SELECT 1 FROM jti_replay LIMIT 1").status());
  }
  return std::shared_ptr<PostgresReplayCache>(new PostgresReplayCache(std::move(impl)));
}

}  // namespace cephalgia::hooks::feedback
