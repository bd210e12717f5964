#include "cephalgia/hooks/auth/replay_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cephalgia::hooks::auth {
namespace {

using Clock = JtiReplayCache::Clock;
using std::chrono::seconds;

const Clock::time_point kNow = Clock::time_point(seconds(1'700'000'000));

TEST(JtiReplayCacheTest, SecondUseIsReplayUntilForgotten) {
  JtiReplayCache cache(10);
  EXPECT_EQ(cache.Insert("iss", "j1", kNow + seconds(300), kNow), JtiReplayCache::kFresh);
  EXPECT_EQ(cache.Insert("iss", "j1", kNow + seconds(300), kNow + seconds(299)),
            JtiReplayCache::kReplayed);
  // Another issuer may use the same nonce.
  EXPECT_EQ(cache.Insert("other", "j1", kNow + seconds(300), kNow), JtiReplayCache::kFresh);
  // After forget_at the entry is gone (the token it came from is expired by then).
  EXPECT_EQ(cache.Insert("iss", "j1", kNow + seconds(900), kNow + seconds(300)),
            JtiReplayCache::kFresh);
}

TEST(JtiReplayCacheTest, BoundedAndFailsClosedWhenFullOfLiveEntries) {
  JtiReplayCache cache(3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cache.Insert("iss", "j" + std::to_string(i), kNow + seconds(10 + i), kNow),
              JtiReplayCache::kFresh);
  }
  EXPECT_EQ(cache.Insert("iss", "j3", kNow + seconds(60), kNow), JtiReplayCache::kFull);
  EXPECT_EQ(cache.size(), 3u);
  // Once the first entry expires there is room again, and it is purged, not evicted early.
  EXPECT_EQ(cache.Insert("iss", "j3", kNow + seconds(60), kNow + seconds(10)),
            JtiReplayCache::kFresh);
  EXPECT_EQ(cache.Insert("iss", "j1", kNow + seconds(60), kNow + seconds(10)),
            JtiReplayCache::kReplayed);
  EXPECT_LE(cache.size(), 3u);
}

TEST(JtiReplayCacheTest, ConcurrentInsertsOfTheSameJtiSucceedExactlyOnce) {
  JtiReplayCache cache(100000);
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (cache.Insert("iss", "j" + std::to_string(i), kNow + seconds(60), kNow) ==
            JtiReplayCache::kFresh) {
          fresh.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 1000);
}

}  // namespace
}  // namespace cephalgia::hooks::auth
