// The jti replay cache, the same tests against both implementations: in process (JtiReplayCache)
// and in the PostgreSQL database the replicas share (PostgresReplayCache, issue 15), plus what
// only the shared one does: two replicas see each other's tokens, expired rows are swept, an
// unreachable database fails closed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "auth/test_jwt_signer.h"
#include "cephalgia/hooks/auth/client_authenticator.h"
#include "cephalgia/hooks/feedback/feedback_store.h"
#include "cephalgia/hooks/feedback/postgres_replay_cache.h"
#include "postgres_test_server.h"

namespace cephalgia::hooks::feedback {
namespace {

using auth::JtiReplayCache;
using auth::ReplayCache;
using Clock = ReplayCache::Clock;
using std::chrono::seconds;
using test::PostgresTestServer;

const Clock::time_point kNow = Clock::time_point(seconds(1'800'000'000));

enum class Cache { kInProcess, kPostgres };

// A database with the store's schema (the replay table comes with its migrations).
Result<std::string> FreshDatabase(PostgresTestServer& pg) {
  static std::atomic<int> counter{0};
  CEPHALGIA_ASSIGN_OR_RETURN(std::string uri,
                             pg.CreateDatabase("replay_" + std::to_string(counter.fetch_add(1))));
  CEPHALGIA_RETURN_IF_ERROR(OpenPostgresFeedbackStore(uri).status());
  return uri;
}

class ReplayCacheTest : public ::testing::TestWithParam<Cache> {
 protected:
  void SetUp() override {
    if (GetParam() == Cache::kInProcess) {
      cache_ = std::make_shared<JtiReplayCache>(100000);
      return;
    }
    auto pg = PostgresTestServer::Shared();
    CEPHALGIA_ASSERT_POSTGRES(pg);
    Result<std::string> uri = FreshDatabase(**pg);
    ASSERT_TRUE(uri.ok()) << uri.status().ToString();
    uri_ = *uri;
    auto cache = OpenPostgresReplayCache(uri_);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = *cache;
  }
  std::shared_ptr<ReplayCache> cache_;
  std::string uri_;
};

INSTANTIATE_TEST_SUITE_P(Caches, ReplayCacheTest,
                         ::testing::Values(Cache::kInProcess, Cache::kPostgres),
                         [](const auto& info) {
                           return info.param == Cache::kInProcess ? "InProcess" : "PostgreSQL";
                         });

TEST_P(ReplayCacheTest, SecondUseIsReplayUntilForgotten) {
  EXPECT_EQ(cache_->Insert("iss", "j1", kNow + seconds(300), kNow), ReplayCache::kFresh);
  EXPECT_EQ(cache_->Insert("iss", "j1", kNow + seconds(300), kNow + seconds(299)),
            ReplayCache::kReplayed);
  // The key is (iss, jti): another client may pick the same nonce.
  EXPECT_EQ(cache_->Insert("other", "j1", kNow + seconds(300), kNow), ReplayCache::kFresh);
  // Once the token could no longer be accepted anyway, its jti is forgotten.
  EXPECT_EQ(cache_->Insert("iss", "j1", kNow + seconds(900), kNow + seconds(300)),
            ReplayCache::kFresh);
  EXPECT_EQ(cache_->Insert("iss", "j1", kNow + seconds(900), kNow + seconds(301)),
            ReplayCache::kReplayed);
}

TEST_P(ReplayCacheTest, ConcurrentInsertsOfTheSameJtiSucceedExactlyOnce) {
  constexpr int kThreads = 8, kRounds = 20;
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRounds; ++round) {
        if (cache_->Insert("iss", "jti-" + std::to_string(round), kNow + seconds(60), kNow) ==
            ReplayCache::kFresh) {
          fresh.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), kRounds);
}

// Two replicas, two caches, one database: a token accepted at one is a replay at the other.
TEST(PostgresReplayCacheTest, ReplicasShareTheCacheAndSweepExpiredRows) {
  auto pg = PostgresTestServer::Shared();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  Result<std::string> uri = FreshDatabase(**pg);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  auto a = OpenPostgresReplayCache(*uri);
  auto b = OpenPostgresReplayCache(*uri);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->Insert("iss", "shared", kNow + seconds(300), kNow), ReplayCache::kFresh);
  EXPECT_EQ((*b)->Insert("iss", "shared", kNow + seconds(300), kNow + seconds(1)),
            ReplayCache::kReplayed);
  EXPECT_EQ((*b)->Insert("iss", "short", kNow + seconds(10), kNow), ReplayCache::kFresh);
  EXPECT_TRUE((*a)->remote());

  // At kNow + 100 s only "short" has expired.
  Result<std::int64_t> swept = (*a)->SweepExpired(kNow + seconds(100));
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, 1);
  auto db = uri->substr(uri->rfind('/') + 1);
  auto rows = (*pg)->Query(db, "SELECT iss, jti FROM jti_replay ORDER BY jti");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, (std::vector<std::vector<std::string>>{{"iss", "shared"}}));
}

TEST(PostgresReplayCacheTest, UnreachableDatabaseFailsClosed) {
  auto pg = PostgresTestServer::Start();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  Result<std::string> uri = FreshDatabase(**pg);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  auto cache = OpenPostgresReplayCache(*uri, {.connections = 1,
                                              .sweep_interval = seconds(60),
                                              .reconnect_interval = std::chrono::milliseconds(50)});
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ((*cache)->Insert("iss", "before", kNow + seconds(60), kNow), ReplayCache::kFresh);
  ASSERT_TRUE((*pg)->Stop().ok());
  EXPECT_EQ((*cache)->Insert("iss", "during", kNow + seconds(60), kNow), ReplayCache::kUnavailable);
  ASSERT_TRUE((*pg)->Restart().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // past the reconnect interval
  EXPECT_EQ((*cache)->Insert("iss", "before", kNow + seconds(60), kNow), ReplayCache::kReplayed);
  EXPECT_EQ((*cache)->Insert("iss", "during", kNow + seconds(60), kNow), ReplayCache::kFresh);
}

// The authenticator with the shared cache: a token is accepted once across two authenticators
// (two replicas); verification may block (MayFetchKeys is true, so the service takes it off the
// I/O threads); with the database away a valid token is refused with kUnavailable (503) by the
// shared cache alone (--replay-cache-outage refuse) and checked on the replica's own cache with
// the fallback (the default); never accepted unchecked.
TEST(PostgresReplayCacheTest, AuthenticatorsShareItAndFallBackOnlyToTheirOwnCheckWhenItIsAway) {
  auto pg = PostgresTestServer::Start();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  Result<std::string> uri = FreshDatabase(**pg);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  const auth::testing::TestSigningKey key = auth::testing::TestSigningKey::EcP384("k1");
  const std::filesystem::path jwks = std::filesystem::path(::testing::TempDir()) /
                                     ("replay_jwks_" + std::to_string(::getpid()) + ".json");
  std::ofstream(jwks) << auth::testing::JwksJson({&key});
  // One replica's authenticator on the shared cache; with `fallback` set, wired as `serve` does
  // by default (--replay-cache-outage local): the shared cache with the replica's own beside it.
  auto make = [&](std::shared_ptr<auth::SharedReplayCacheWithLocalFallback>* fallback =
                      nullptr) -> std::unique_ptr<auth::ClientAuthenticator> {
    auth::AuthConfig config;
    config.mode = auth::AuthMode::kRequired;
    config.jwks_file = jwks.string();
    config.trusted_issuers = {"https://ehr.test"};
    auto cache =
        OpenPostgresReplayCache(*uri, {.connections = 1,
                                       .sweep_interval = seconds(60),
                                       .reconnect_interval = std::chrono::milliseconds(50)});
    if (!cache.ok()) return nullptr;
    config.replay_cache = *cache;
    if (fallback != nullptr) {
      *fallback = std::make_shared<auth::SharedReplayCacheWithLocalFallback>(*cache, 1000);
      config.replay_cache = *fallback;
    }
    auto auth = auth::ClientAuthenticator::Create(config);
    return auth.ok() ? *std::move(auth) : nullptr;
  };
  auto replica_a = make();
  auto replica_b = make();
  std::shared_ptr<auth::SharedReplayCacheWithLocalFallback> fallback;
  auto replica_c = make(&fallback);
  ASSERT_TRUE(replica_a && replica_b && replica_c);
  const std::string aud = "https://cds.example.test/cds-services";
  const auto now = Clock::now();
  auto token = [&](const std::string& jti) {
    const long t =
        static_cast<long>(std::chrono::duration_cast<seconds>(now.time_since_epoch()).count());
    return "Bearer " + key.Sign(R"({"alg":"ES384","typ":"JWT","kid":"k1"})",
                                R"({"iss":"https://ehr.test","aud":")" + aud + R"(","exp":)" +
                                    std::to_string(t + 300) + R"(,"iat":)" + std::to_string(t - 5) +
                                    R"(,"jti":")" + jti + R"("})");
  };
  EXPECT_TRUE(replica_a->MayFetchKeys(token("j0"), now));
  EXPECT_TRUE(replica_a->Verify(token("j1"), aud, now).ok());
  Result<auth::VerifiedClient> replayed = replica_b->Verify(token("j1"), aud, now);
  ASSERT_FALSE(replayed.ok());
  EXPECT_EQ(replayed.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(replayed.status().message(), "replayed jti");

  EXPECT_TRUE(replica_c->Verify(token("j5"), aud, now).ok()) << "shared cache up";
  ASSERT_TRUE((*pg)->Stop().ok());
  Result<auth::VerifiedClient> away = replica_b->Verify(token("j2"), aud, now);
  ASSERT_FALSE(away.ok());
  EXPECT_EQ(away.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(away.status().message(), "replay cache unavailable");

  // The default wiring keeps CDS answering through the outage on its own jti check: a replay at
  // the same replica is still refused; the acceptance is counted for the metric.
  EXPECT_FALSE(replica_c->Verify(token("j5"), aud, now).ok())
      << "a replay is refused while the database is away when this replica saw the token";
  EXPECT_TRUE(replica_c->Verify(token("j3"), aud, now).ok()) << "database away: checked locally";
  Result<auth::VerifiedClient> again = replica_c->Verify(token("j3"), aud, now);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "replayed jti");
  EXPECT_EQ(fallback->accepted_during_outage(), 1);
  ASSERT_TRUE((*pg)->Restart().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past the reconnect interval
  EXPECT_TRUE(replica_c->Verify(token("j4"), aud, now).ok());
  Result<auth::VerifiedClient> shared_again = replica_a->Verify(token("j4"), aud, now);
  ASSERT_FALSE(shared_again.ok()) << "back to the shared cache once the database is back";
  EXPECT_EQ(shared_again.status().message(), "replayed jti");
  EXPECT_EQ(fallback->accepted_during_outage(), 1);
  std::filesystem::remove(jwks);
}

}  // namespace
}  // namespace cephalgia::hooks::feedback
