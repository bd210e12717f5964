// FeedbackStore against real SQLite files: storage, summary, concurrency and durability
// (issue 5: "a stored feedback survives the process being killed right after its 200").
#include "cephalgia/hooks/feedback/feedback_store.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace cephalgia::hooks::feedback {
namespace {

using Clock = FeedbackStore::Clock;

// A fresh directory per test, removed afterwards.
class FeedbackStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("feedback_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "feedback.sqlite").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<FeedbackStore> OpenStore(FeedbackStore::Options options = {}) {
    Result<std::unique_ptr<FeedbackStore>> store = FeedbackStore::Open(path_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Runs a query with an independent connection, as an operator with sqlite3 would.
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::vector<std::vector<std::string>> rows;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
  }
  int64_t Count(const std::string& table) { return std::stoll(Query("SELECT COUNT(*) FROM " + table)[0][0]); }

  static FeedbackItem Accepted(std::string card, std::string suggestion) {
    FeedbackItem item;
    item.card = std::move(card);
    item.outcome = Outcome::kAccepted;
    item.accepted_suggestions = {std::move(suggestion)};
    item.outcome_timestamp = "2021-12-11T10:05:31Z";
    return item;
  }
  static FeedbackItem Overridden(std::string card, std::optional<Coding> reason,
                                 std::optional<std::string> comment = std::nullopt) {
    FeedbackItem item;
    item.card = std::move(card);
    item.outcome = Outcome::kOverridden;
    if (reason || comment) item.override_reason = OverrideReason{std::move(reason), std::move(comment)};
    item.outcome_timestamp = "2021-12-11T10:06:00Z";
    return item;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(FeedbackStoreTest, UsesWalAndStoresEveryField) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  EXPECT_EQ(Query("PRAGMA journal_mode")[0][0], "wal");
  ASSERT_TRUE(store->Store("headache-patient-view",
                           {Accepted("card-1", "sugg-1"),
                            Overridden("card-2", Coding{"http://s", "already-done", "Already done"},
                                       "patient declined")},
                           Clock::time_point(std::chrono::seconds(1'700'000'000)))
                  .ok());
  const auto rows = Query(
      "SELECT card_uuid, service_id, outcome, accepted_suggestions, override_system, override_code,"
      " override_display, user_comment, outcome_timestamp, received_at FROM feedback ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"card-1", "headache-patient-view", "accepted",
                                               R"(["sugg-1"])", "NULL", "NULL", "NULL", "NULL",
                                               "2021-12-11T10:05:31Z", "2023-11-14T22:13:20.000Z"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"card-2", "headache-patient-view", "overridden", "[]",
                                               "http://s", "already-done", "Already done",
                                               "patient declined", "2021-12-11T10:06:00Z",
                                               "2023-11-14T22:13:20.000Z"}));
}

TEST_F(FeedbackStoreTest, Item84_RepeatedFeedbackIsStoredEachTimeAndNeverFails) {
  auto store = OpenStore();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->Store("svc", {Accepted("card-1", "s1")}, Clock::now()).ok());
  }
  ASSERT_TRUE(store->Store("svc", {Overridden("card-1", std::nullopt, "changed my mind")},
                           Clock::now()).ok());
  EXPECT_EQ(Count("feedback"), 4);
}

TEST_F(FeedbackStoreTest, RecordsIssuedCardsInTheBackground) {
  auto store = OpenStore();
  EXPECT_TRUE(store->RecordIssuedCards("svc", "hook-1", {{"c1", "rule.a"}, {"c2", "rule.b"}}));
  ASSERT_TRUE(store->Flush().ok());
  const auto rows =
      Query("SELECT card_uuid, service_id, rule_id, hook_instance FROM issued_cards ORDER BY card_uuid");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"c1", "svc", "rule.a", "hook-1"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"c2", "svc", "rule.b", "hook-1"}));
}

TEST_F(FeedbackStoreTest, DestructorDrainsTheQueue) {
  {
    auto store = OpenStore({.issued_queue_capacity = 100000, .issued_batch_size = 7});
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(store->RecordIssuedCards("svc", "h", {{"c" + std::to_string(i), "rule.a"}}));
    }
  }
  EXPECT_EQ(Count("issued_cards"), 100);
}

// Group commit: the writer lingers for more cards, but neither Flush() (behind /admin/feedback)
// nor closing the store waits out the linger.
TEST_F(FeedbackStoreTest, FlushAndCloseDoNotWaitOutTheGroupCommitLinger) {
  const auto started = std::chrono::steady_clock::now();
  {
    auto store = OpenStore({.issued_queue_capacity = 100000,
                            .issued_batch_size = 1000,
                            .issued_linger = std::chrono::minutes(5)});
    ASSERT_TRUE(store->RecordIssuedCards("svc", "h1", {{"a1", "rule.a"}, {"a2", "rule.a"}}));
    ASSERT_TRUE(store->RecordIssuedCards("svc", "h2", {{"b1", "rule.b"}}));
    ASSERT_TRUE(store->Flush().ok());
    EXPECT_EQ(Count("issued_cards"), 3);
    ASSERT_TRUE(store->RecordIssuedCards("svc", "h3", {{"c1", "rule.c"}}));
  }  // the destructor drains the card recorded after the flush
  EXPECT_EQ(Count("issued_cards"), 4);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::minutes(1))
      << "Flush() or close waited for the linger";
}

TEST_F(FeedbackStoreTest, FullQueueDropsAndCountsInsteadOfBlocking) {
  auto store = OpenStore({.issued_queue_capacity = 5, .issued_batch_size = 5});
  // 6 cards in one call never fit, whatever the writer thread has done meanwhile.
  std::vector<IssuedCard> six;
  for (int i = 0; i < 6; ++i) six.push_back({"c" + std::to_string(i), "rule.a"});
  EXPECT_FALSE(store->RecordIssuedCards("svc", "h", six));
  EXPECT_EQ(store->dropped_issued_cards(), 6u);
  EXPECT_TRUE(store->RecordIssuedCards("svc", "h", {{"x", "rule.a"}}));
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count("issued_cards"), 1);
}

TEST_F(FeedbackStoreTest, SummaryPerRule) {
  auto store = OpenStore();
  store->RecordIssuedCards("svc", "h1", {{"a1", "rule.a"}, {"b1", "rule.b"}});
  store->RecordIssuedCards("svc", "h2", {{"a2", "rule.a"}, {"b2", "rule.b"}});
  store->RecordIssuedCards("svc", "h3", {{"a3", "rule.a"}});
  const Coding busy{"http://cephalgia.example/override", "busy", "Not now"};
  const Coding done{"http://cephalgia.example/override", "done", "Already done"};
  ASSERT_TRUE(store->Store("svc",
                           {Accepted("a1", "s"), Accepted("a1", "s"),  // duplicate delivery
                            Overridden("a2", busy, "PHI-LIKE COMMENT: Jane Doe 1970-01-01"),
                            Overridden("a3", busy), Overridden("b1", done),
                            Overridden("b2", std::nullopt, "no reason code"),
                            Accepted("ghost-card", "s")},
                           Clock::now()).ok());
  Result<std::string> summary = store->Summary();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  // User comments are free text and never leave the database through the summary.
  EXPECT_EQ(summary->find("Jane Doe"), std::string::npos);

  rapidjson::Document doc;
  doc.Parse(summary->c_str());
  ASSERT_FALSE(doc.HasParseError()) << *summary;
  ASSERT_TRUE(doc["rules"].IsArray());
  ASSERT_EQ(doc["rules"].Size(), 2u);
  const rapidjson::Value& a = doc["rules"][0];
  EXPECT_STREQ(a["ruleId"].GetString(), "rule.a");
  EXPECT_EQ(a["cardsShown"].GetInt64(), 3);
  EXPECT_EQ(a["accepted"].GetInt64(), 1);  // a1 twice counts once
  EXPECT_EQ(a["overridden"].GetInt64(), 2);
  EXPECT_EQ(a["feedbackEvents"].GetInt64(), 4);
  EXPECT_EQ(a["overridesWithUserComment"].GetInt64(), 1);
  ASSERT_EQ(a["topOverrideReasons"].Size(), 1u);
  EXPECT_STREQ(a["topOverrideReasons"][0]["code"].GetString(), "busy");
  EXPECT_STREQ(a["topOverrideReasons"][0]["display"].GetString(), "Not now");
  EXPECT_EQ(a["topOverrideReasons"][0]["count"].GetInt64(), 2);
  const rapidjson::Value& b = doc["rules"][1];
  EXPECT_STREQ(b["ruleId"].GetString(), "rule.b");
  EXPECT_EQ(b["cardsShown"].GetInt64(), 2);
  EXPECT_EQ(b["accepted"].GetInt64(), 0);
  EXPECT_EQ(b["overridden"].GetInt64(), 2);
  EXPECT_EQ(b["overridesWithUserComment"].GetInt64(), 1);
  ASSERT_EQ(b["topOverrideReasons"].Size(), 1u);
  EXPECT_STREQ(b["topOverrideReasons"][0]["code"].GetString(), "done");
  // Item 86: feedback on a card we do not know is kept and counted apart.
  EXPECT_EQ(doc["unknownCards"]["cards"].GetInt64(), 1);
  EXPECT_EQ(doc["unknownCards"]["feedbackEvents"].GetInt64(), 1);
}

TEST_F(FeedbackStoreTest, TopOverrideReasonsAreBoundedAndOrdered) {
  auto store = OpenStore({.top_override_reasons = 2});
  std::vector<FeedbackItem> items;
  std::vector<IssuedCard> cards;
  int n = 0;
  for (int code = 1; code <= 4; ++code) {
    for (int k = 0; k < code; ++k) {  // code "r4" is the most frequent
      const std::string card = "c" + std::to_string(n++);
      cards.push_back({card, "rule.x"});
      items.push_back(Overridden(card, Coding{"http://s", "r" + std::to_string(code), std::nullopt}));
    }
  }
  store->RecordIssuedCards("svc", "h", cards);
  ASSERT_TRUE(store->Store("svc", items, Clock::now()).ok());
  Result<std::string> summary = store->Summary();
  ASSERT_TRUE(summary.ok());
  rapidjson::Document doc;
  doc.Parse(summary->c_str());
  const rapidjson::Value& reasons = doc["rules"][0]["topOverrideReasons"];
  ASSERT_EQ(reasons.Size(), 2u);
  EXPECT_STREQ(reasons[0]["code"].GetString(), "r4");
  EXPECT_EQ(reasons[0]["count"].GetInt64(), 4);
  EXPECT_STREQ(reasons[1]["code"].GetString(), "r3");
  EXPECT_FALSE(reasons[0].HasMember("display"));
}

TEST_F(FeedbackStoreTest, ConcurrentWritersLoseNothing) {
  auto store = OpenStore();
  constexpr int kThreads = 6, kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string card = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->RecordIssuedCards("svc", "h", {{card, "rule." + std::to_string(t)}})) {
          failures.fetch_add(1);
        }
        if (!store->Store("svc", {Overridden(card, Coding{"http://s", "busy", std::nullopt})},
                          Clock::now()).ok()) {
          failures.fetch_add(1);
        }
        if (i % 10 == 0 && !store->Summary().ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("feedback"), kThreads * kPerThread);
  EXPECT_EQ(Count("issued_cards"), kThreads * kPerThread);
}

TEST_F(FeedbackStoreTest, ReopenKeepsDataAndTwoStoresCanShareAFile) {
  {
    auto first = OpenStore();
    ASSERT_TRUE(first->Store("svc", {Accepted("c1", "s1")}, Clock::now()).ok());
  }
  auto again = OpenStore();
  auto second = OpenStore();  // e.g. an admin tool next to the server
  ASSERT_TRUE(second->Store("svc", {Accepted("c2", "s1")}, Clock::now()).ok());
  ASSERT_TRUE(again->Store("svc", {Accepted("c3", "s1")}, Clock::now()).ok());
  EXPECT_EQ(Count("feedback"), 3);
}

TEST_F(FeedbackStoreTest, OpenFailsCleanlyOnUnusablePaths) {
  Result<std::unique_ptr<FeedbackStore>> in_missing_dir =
      FeedbackStore::Open((dir_ / "no-such-dir" / "f.sqlite").string());
  ASSERT_FALSE(in_missing_dir.ok());
  EXPECT_EQ(in_missing_dir.status().code(), StatusCode::kUnavailable);
  std::ofstream(path_) << "this is not an SQLite database, just some text that is long enough";
  EXPECT_FALSE(FeedbackStore::Open(path_).ok());
}

// Issue 5: "A stored feedback survives the process being killed right after its 200."
// The child stores one feedback, tells the parent through a pipe that Store() returned OK and
// then SIGKILLs itself at once: no destructor, no atexit, no SQLite close. The parent must find
// the row in the file.
TEST_F(FeedbackStoreTest, StoredFeedbackSurvivesSigkillRightAfterStoreReturns) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Result<std::unique_ptr<FeedbackStore>> store = FeedbackStore::Open(path_);
    char verdict = 'E';
    if (store.ok()) {
      (*store)->RecordIssuedCards("svc", "h", {{"durable-card", "rule.a"}});
      FeedbackItem item = Overridden("durable-card", Coding{"http://s", "busy", "Not now"});
      if ((*store)->Store("headache-patient-view", {item}, Clock::now()).ok()) verdict = 'K';
    }
    (void)!::write(fds[1], &verdict, 1);
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);  // not reached
  }
  ::close(fds[1]);
  char verdict = 0;
  ASSERT_EQ(::read(fds[0], &verdict, 1), 1);
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus));
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
  ASSERT_EQ(verdict, 'K') << "the child could not store the feedback";

  // Read it back through a fresh store (which also recovers the WAL left behind).
  auto store = OpenStore();
  ASSERT_TRUE(store);
  const auto rows = Query("SELECT card_uuid, service_id, outcome, override_code FROM feedback");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"durable-card", "headache-patient-view",
                                               "overridden", "busy"}));
}

}  // namespace
}  // namespace cephalgia::hooks::feedback
