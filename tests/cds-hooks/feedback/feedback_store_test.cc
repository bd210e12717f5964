// FeedbackStore, the whole suite against both stores: real SQLite files, and a real PostgreSQL 15
// started by the test (tests/support/postgres_test_server.h), one fresh database per test.
// Storage, summary, concurrency, durability across SIGKILL (issue 5), schema versions, and for
// PostgreSQL an outage of the server and its end (issue 15).
#include "cephalgia/hooks/feedback/feedback_store.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "postgres_test_server.h"

namespace cephalgia::hooks::feedback {
namespace {

using Clock = FeedbackStore::Clock;
using test::PostgresTestServer;
using Rows = std::vector<std::vector<std::string>>;

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

FeedbackItem Accepted(std::string card, std::string suggestion) {
  FeedbackItem item;
  item.card = std::move(card);
  item.outcome = Outcome::kAccepted;
  item.accepted_suggestions = {std::move(suggestion)};
  item.outcome_timestamp = "2021-12-11T10:05:31Z";
  return item;
}
FeedbackItem Overridden(std::string card, std::optional<Coding> reason,
                        std::optional<std::string> comment = std::nullopt) {
  FeedbackItem item;
  item.card = std::move(card);
  item.outcome = Outcome::kOverridden;
  if (reason || comment)
    item.override_reason = OverrideReason{std::move(reason), std::move(comment)};
  item.outcome_timestamp = "2021-12-11T10:06:00Z";
  return item;
}

// A database name from the test's name: lower-case letters, digits and _, at most 63 bytes.
std::string DatabaseName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "t_";
  for (char c : std::string(info->test_suite_name()) + "_" + info->name()) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c))
                       ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                       : '_');
  }
  static std::atomic<int> counter{0};
  const std::string suffix = "_" + std::to_string(counter.fetch_add(1));
  return name.substr(0, 63 - suffix.size()) + suffix;
}

// A fresh store location per test: a directory with an SQLite path, or a PostgreSQL database.
class FeedbackStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("feedback_store_" + std::to_string(::getpid()) + "_" + DatabaseName());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (GetParam() == Backend::kSqlite) {
      path_ = (dir_ / "feedback.sqlite").string();
      spec_ = StoreSpec{StoreSpec::kSqlite, path_};
    } else {
      auto pg = PostgresTestServer::Shared();
      CEPHALGIA_ASSERT_POSTGRES(pg);
      pg_ = *pg;
      database_ = DatabaseName();
      Result<std::string> uri = pg_->CreateDatabase(database_);
      ASSERT_TRUE(uri.ok()) << uri.status().ToString();
      spec_ = StoreSpec{StoreSpec::kPostgres, *uri};
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  bool postgres() const { return GetParam() == Backend::kPostgres; }

  std::unique_ptr<FeedbackStore> OpenStore(FeedbackStore::Options options = {}) {
    Result<std::unique_ptr<FeedbackStore>> store = OpenFeedbackStore(spec_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Runs SQL with an independent connection, as an operator with sqlite3 or psql would.
  Rows Query(const std::string& sql) {
    if (postgres()) {
      auto rows = pg_->Query(database_, sql);
      EXPECT_TRUE(rows.ok()) << rows.status().ToString();
      return rows.ok() ? *rows : Rows();
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    Rows rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
      rows.push_back(std::move(row));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
  }
  int64_t Count(const std::string& table) {
    Rows rows = Query("SELECT COUNT(*) FROM " + table);
    return rows.empty() ? -1 : std::stoll(rows[0][0]);
  }
  // A timestamp column as RFC 3339 UTC text with milliseconds (SQLite stores it so already).
  std::string TimestampText(const std::string& column) const {
    return postgres()
               ? "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
               : column;
  }

  std::filesystem::path dir_;
  std::string path_;
  PostgresTestServer* pg_ = nullptr;
  std::string database_;
  StoreSpec spec_;
};

INSTANTIATE_TEST_SUITE_P(Stores, FeedbackStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

TEST_P(FeedbackStoreTest, StoresEveryField) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->Store("headache-patient-view",
                          {Accepted("card-1", "sugg-1"),
                           Overridden("card-2", Coding{"http://s", "already-done", "Already done"},
                                      "patient declined")},
                          Clock::time_point(std::chrono::seconds(1'700'000'000)))
                  .ok());
  const auto rows = Query(
      "SELECT card_uuid, service_id, outcome, accepted_suggestions, override_system, override_code,"
      " override_display, user_comment, outcome_timestamp, " +
      TimestampText("received_at") + " FROM feedback ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"card-1", "headache-patient-view", "accepted",
                                      R"(["sugg-1"])", "NULL", "NULL", "NULL", "NULL",
                                      "2021-12-11T10:05:31Z", "2023-11-14T22:13:20.000Z"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"card-2", "headache-patient-view", "overridden",
                                               "[]", "http://s", "already-done", "Already done",
                                               "patient declined", "2021-12-11T10:06:00Z",
                                               "2023-11-14T22:13:20.000Z"}));
}

TEST_P(FeedbackStoreTest, Item84_RepeatedFeedbackIsStoredEachTimeAndNeverFails) {
  auto store = OpenStore();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->Store("svc", {Accepted("card-1", "s1")}, Clock::now()).ok());
  }
  ASSERT_TRUE(
      store->Store("svc", {Overridden("card-1", std::nullopt, "changed my mind")}, Clock::now())
          .ok());
  EXPECT_EQ(Count("feedback"), 4);
}

TEST_P(FeedbackStoreTest, RecordsIssuedCardsInTheBackground) {
  auto store = OpenStore();
  // Text COPY and SQL must both keep odd characters as they are.
  EXPECT_TRUE(store->RecordIssuedCards("svc", "hook-1", {{"c1", "rule.a"}, {"c2", "rule\\b\t'x"}}));
  ASSERT_TRUE(store->Flush().ok());
  const auto rows = Query(
      "SELECT card_uuid, service_id, rule_id, hook_instance FROM issued_cards ORDER BY card_uuid");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"c1", "svc", "rule.a", "hook-1"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"c2", "svc", "rule\\b\t'x", "hook-1"}));
  EXPECT_EQ(store->queued_issued_cards(), 0u);
}

TEST_P(FeedbackStoreTest, DestructorDrainsTheQueue) {
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
TEST_P(FeedbackStoreTest, FlushAndCloseDoNotWaitOutTheGroupCommitLinger) {
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

TEST_P(FeedbackStoreTest, FullQueueDropsAndCountsInsteadOfBlocking) {
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

TEST_P(FeedbackStoreTest, SummaryPerRule) {
  auto store = OpenStore();
  store->RecordIssuedCards("svc", "h1", {{"a1", "rule.a"}, {"b1", "rule.b"}});
  store->RecordIssuedCards("svc", "h2", {{"a2", "rule.a"}, {"b2", "rule.b"}});
  store->RecordIssuedCards("svc", "h3", {{"a3", "rule.a"}});
  const Coding busy{"http://cephalgia.example/override", "busy", "Not now"};
  const Coding done{"http://cephalgia.example/override", "done", "Already done"};
  ASSERT_TRUE(
      store
          ->Store("svc",
                  {Accepted("a1", "s"), Accepted("a1", "s"),  // duplicate delivery
                   Overridden("a2", busy, "PHI-LIKE COMMENT: Jane Doe 1970-01-01"),
                   Overridden("a3", busy), Overridden("b1", done),
                   Overridden("b2", std::nullopt, "no reason code"), Accepted("ghost-card", "s")},
                  Clock::now())
          .ok());
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

TEST_P(FeedbackStoreTest, TopOverrideReasonsAreBoundedAndOrdered) {
  auto store = OpenStore({.top_override_reasons = 2});
  std::vector<FeedbackItem> items;
  std::vector<IssuedCard> cards;
  int n = 0;
  for (int code = 1; code <= 4; ++code) {
    for (int k = 0; k < code; ++k) {  // code "r4" is the most frequent
      const std::string card = "c" + std::to_string(n++);
      cards.push_back({card, "rule.x"});
      items.push_back(
          Overridden(card, Coding{"http://s", "r" + std::to_string(code), std::nullopt}));
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

TEST_P(FeedbackStoreTest, ConcurrentWritersLoseNothing) {
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
        if (!store
                 ->Store("svc", {Overridden(card, Coding{"http://s", "busy", std::nullopt})},
                         Clock::now())
                 .ok()) {
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

// Two stores on one file or database: an admin tool next to the server, or (PostgreSQL) two
// replicas. What one writes the other's summary shows.
TEST_P(FeedbackStoreTest, ReopenKeepsDataAndTwoStoresShareOneDatabase) {
  {
    auto first = OpenStore();
    ASSERT_TRUE(first->Store("svc", {Accepted("c1", "s1")}, Clock::now()).ok());
  }
  auto again = OpenStore();
  auto second = OpenStore();
  ASSERT_TRUE(second->Store("svc", {Accepted("c2", "s1")}, Clock::now()).ok());
  ASSERT_TRUE(again->Store("svc", {Accepted("c3", "s1")}, Clock::now()).ok());
  EXPECT_EQ(Count("feedback"), 3);
  ASSERT_TRUE(again->RecordIssuedCards("svc", "h", {{"c2", "rule.shared"}}));
  ASSERT_TRUE(again->Flush().ok());
  Result<std::string> summary = second->Summary();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_NE(summary->find(R"("ruleId":"rule.shared","cardsShown":1,"accepted":1)"),
            std::string::npos)
      << *summary;
}

TEST_P(FeedbackStoreTest, MigratesOnceAndRefusesASchemaNewerThanTheBinary) {
  { ASSERT_TRUE(OpenStore()); }
  if (postgres()) {
    EXPECT_EQ(Query("SELECT version FROM cephalgia_schema_migrations"),
              (Rows{{std::to_string(kPostgresSchemaVersion)}}));
    Query("INSERT INTO cephalgia_schema_migrations (version) VALUES (99)");
  } else {
    EXPECT_EQ(Query("PRAGMA user_version"), (Rows{{std::to_string(kSqliteSchemaVersion)}}));
    Query("PRAGMA user_version = 99");
  }
  Result<std::unique_ptr<FeedbackStore>> newer = OpenFeedbackStore(spec_);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("schema version 99 is newer"), std::string::npos)
      << newer.status().ToString();
}

// Issue 5: "A stored feedback survives the process being killed right after its 200."
// The child stores one feedback, tells the parent through a pipe that Store() returned OK and
// then SIGKILLs itself at once: no destructor, no atexit, no close. The parent must find the row.
TEST_P(FeedbackStoreTest, StoredFeedbackSurvivesSigkillRightAfterStoreReturns) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Result<std::unique_ptr<FeedbackStore>> store = OpenFeedbackStore(spec_);
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

  // Read it back through a fresh store (which also recovers the WAL SQLite left behind).
  auto store = OpenStore();
  ASSERT_TRUE(store);
  const auto rows = Query("SELECT card_uuid, service_id, outcome, override_code FROM feedback");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"durable-card", "headache-patient-view",
                                               "overridden", "busy"}));
}

// --- SQLite only ---

TEST(SqliteFeedbackStoreTest, UsesWalAndFailsCleanlyOnUnusablePaths) {
  const auto dir =
      std::filesystem::path(::testing::TempDir()) / ("sqlite_store_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "f.sqlite").string();
  {
    auto store = OpenSqliteFeedbackStore(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    EXPECT_TRUE((*store)->Health().ok());
  }
  Result<std::unique_ptr<FeedbackStore>> in_missing_dir =
      FeedbackStore::Open((dir / "no-such-dir" / "f.sqlite").string());
  ASSERT_FALSE(in_missing_dir.ok());
  EXPECT_EQ(in_missing_dir.status().code(), StatusCode::kUnavailable);
  const std::string text = (dir / "text.sqlite").string();
  std::ofstream(text) << "this is not an SQLite database, just some text that is long enough";
  EXPECT_FALSE(FeedbackStore::Open(text).ok());
  std::filesystem::remove_all(dir);
}

// --- The --store setting ---

TEST(StoreSpecTest, ParsesBothStoresAndRefusesAnythingElse) {
  auto def = ParseStoreSpec("", "data/feedback.sqlite");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->kind, StoreSpec::kSqlite);
  EXPECT_EQ(def->target, "data/feedback.sqlite");
  auto sqlite = ParseStoreSpec("sqlite:/var/lib/c/f.sqlite", "x");
  ASSERT_TRUE(sqlite.ok());
  EXPECT_EQ(sqlite->kind, StoreSpec::kSqlite);
  EXPECT_EQ(sqlite->target, "/var/lib/c/f.sqlite");
  for (const char* uri : {"postgresql://app@db:5432/cephalgia", "postgres://db/cephalgia"}) {
    auto pg = ParseStoreSpec(uri, "x");
    ASSERT_TRUE(pg.ok()) << uri;
    EXPECT_EQ(pg->kind, StoreSpec::kPostgres);
    EXPECT_EQ(pg->target, uri);
  }
  auto kv = ParseStoreSpec("postgresql:host=db dbname=cephalgia", "x");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->target, "host=db dbname=cephalgia");
  for (const char* bad : {"sqlite:", "mysql://db/x", "/var/lib/f.sqlite", "postgresql:"}) {
    auto refused = ParseStoreSpec(bad, "x");
    EXPECT_FALSE(refused.ok()) << bad;
    if (!refused.ok()) {
      EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
    }
  }
  // A password never reaches a log line or an error message.
  EXPECT_EQ(RedactConninfo("postgresql://app:s3cret@db:5432/c?sslmode=require"),
            "postgresql://app:***@db:5432/c?sslmode=require");
  EXPECT_EQ(RedactConninfo("host=db password=s3cret dbname=c"), "host=db password=*** dbname=c");
  auto bad = ParseStoreSpec("mysql://u:s3cret@db/x", "x");
  EXPECT_EQ(bad.status().message().find("s3cret"), std::string::npos);
}

// --- PostgreSQL only: the server goes away and comes back ---

TEST(PostgresFeedbackStoreTest, OpenFailsAtOnceWhenTheServerIsUnreachable) {
  // A port nothing listens on: one the kernel hands out, closed again.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string uri =
      "postgresql://cephalgia@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/postgres";
  const auto started = std::chrono::steady_clock::now();
  Result<std::unique_ptr<FeedbackStore>> store = OpenPostgresFeedbackStore(uri);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

// Issue 15, degradation: during an outage feedback fails fast with kUnavailable (the service
// answers 503), issued cards wait in the bounded queue, Health() says so; after it, the store
// reconnects by itself, the queued cards are written and feedback is taken again.
TEST(PostgresFeedbackStoreTest, SurvivesAnOutageAndReconnectsByItself) {
  auto pg = PostgresTestServer::Start();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  PostgresTestServer& server = **pg;
  FeedbackStore::Options options;
  options.issued_queue_capacity = 50;
  options.issued_linger = std::chrono::milliseconds(5);
  options.reconnect_interval = std::chrono::milliseconds(100);
  options.health_interval = std::chrono::milliseconds(100);
  auto opened = OpenPostgresFeedbackStore(server.Uri(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  FeedbackStore& store = **opened;
  // Several pooled connections in use at once, so some sit idle through the restart below.
  std::mutex error_mu;
  std::string last_error;  // why a Store() failed, for the failure message
  auto concurrently = [&](const std::string& card) {
    std::atomic<int> stored{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        Status s = store.Store("svc", {Accepted(card + std::to_string(i), "s")}, Clock::now());
        if (s.ok()) {
          stored.fetch_add(1);
        } else {
          std::lock_guard lock(error_mu);
          last_error = s.ToString();
        }
      });
    }
    for (auto& t : threads) t.join();
    return stored.load();
  };
  ASSERT_EQ(concurrently("pool-before-"), 4) << last_error;
  ASSERT_TRUE(store.Store("svc", {Accepted("before", "s")}, Clock::now()).ok());
  ASSERT_TRUE(store.RecordIssuedCards("svc", "h", {{"before", "rule.a"}}));
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_TRUE(store.Health().ok());

  ASSERT_TRUE(server.Stop().ok());
  const auto outage = std::chrono::steady_clock::now();
  Status during = store.Store("svc", {Accepted("during", "s")}, Clock::now());
  EXPECT_EQ(during.code(), StatusCode::kUnavailable) << during.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - outage, std::chrono::seconds(4));
  EXPECT_FALSE(store.Health().ok());
  // Cards issued during the outage are kept (40 fit in the queue of 50), then dropped and counted.
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(store.RecordIssuedCards("svc", "h", {{"out-" + std::to_string(i), "rule.a"}}));
  }
  EXPECT_FALSE(store.RecordIssuedCards("svc", "h", std::vector<IssuedCard>(20, {"x", "rule.a"})));
  EXPECT_EQ(store.dropped_issued_cards(), 20u);
  EXPECT_EQ(store.queued_issued_cards(), 40u);
  EXPECT_FALSE(store.Flush().ok());  // returns the failure, does not wait for the outage to end
  EXPECT_FALSE(store.Summary().ok());

  ASSERT_TRUE(server.Restart().ok()) << server.Log();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!store.Health().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(store.Health().ok()) << store.Health().ToString();
  // Connections idle through the restart are dead; none of that reaches a caller.
  EXPECT_EQ(concurrently("pool-after-"), 4) << last_error;
  EXPECT_TRUE(store.Store("svc", {Accepted("after", "s")}, Clock::now()).ok());
  Status flushed;
  while (!(flushed = store.Flush()).ok() && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_EQ(store.queued_issued_cards(), 0u);
  auto cards = server.Query("postgres", "SELECT COUNT(DISTINCT card_uuid) FROM issued_cards");
  ASSERT_TRUE(cards.ok());
  EXPECT_EQ((*cards)[0][0], "41");
  auto feedback = server.Query(
      "postgres", "SELECT card_uuid FROM feedback WHERE card_uuid NOT LIKE 'pool-%' ORDER BY id");
  ASSERT_TRUE(feedback.ok());
  EXPECT_EQ(*feedback, (Rows{{"before"}, {"after"}}));
  EXPECT_EQ(store.dropped_issued_cards(), 20u);
}

// Replicas starting together on an empty database: each migration is applied once.
TEST(PostgresFeedbackStoreTest, ReplicasStartingTogetherMigrateOnce) {
  auto pg = PostgresTestServer::Shared();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  const std::string database = DatabaseName();
  auto uri = (*pg)->CreateDatabase(database);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (OpenPostgresFeedbackStore(*uri).ok()) opened.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 4);
  auto versions = (*pg)->Query(database, "SELECT version FROM cephalgia_schema_migrations");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(*versions, (Rows{{"1"}}));
}

}  // namespace
}  // namespace cephalgia::hooks::feedback
