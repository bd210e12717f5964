// Scale-out on PostgreSQL (issue 15): two real `cephalgia serve` processes (replicas A and B) on
// one real PostgreSQL 15 that the test starts (tests/support/postgres_test_server.h).
//   - feedback posted to A is in B's /admin/feedback, and feedback on a card A issued, posted to
//     B, is matched to A's card;
//   - a token accepted by A and replayed at B is refused (401);
//   - kill -9 of A during a burst of feedback loses none of the feedback that got a 200;
//   - PostgreSQL stopped and restarted under load: hook calls keep answering 200, /readyz goes
//     503 then 200, feedback gets 503 with Retry-After and then 200 again, and every card issued
//     meanwhile is in the database at the end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "auth/test_jwt_signer.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"
#include "cephalgia_process.h"
#include "postgres_test_server.h"

namespace cephalgia::test {
namespace {

namespace fs = std::filesystem;
using hooks::auth::testing::JwksJson;
using hooks::auth::testing::TestSigningKey;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using ::testing::HasSubstr;

const std::string kCasesDir = std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/cases";
const std::string kService = "/cds-services/headache-patient-view";
// Both replicas sit behind one load balancer: tokens name its URL as their audience.
const std::string kExternalBase = "https://cds.example.test";

// The request of golden case 001 (thunderclap headache: cards with uuids we can give feedback on).
std::string HookRequest() {
  auto doc = json::ParseUntrusted(ReadFile(kCasesDir + "/001-thunderclap-snomed.json"), 8 << 20);
  if (!doc.ok() || !doc->HasMember("request")) return {};
  return json::Serialize((*doc)["request"]);
}

// The card uuids of a hook response.
std::vector<std::string> CardUuids(const std::string& body) {
  std::vector<std::string> uuids;
  auto doc = json::ParseUntrusted(body, 8 << 20);
  if (!doc.ok() || !doc->IsObject()) return uuids;
  const rapidjson::Value* cards = json::Find(*doc, "cards");
  if (cards == nullptr || !cards->IsArray()) return uuids;
  for (const auto& card : cards->GetArray()) {
    if (auto uuid = json::GetString(card, "uuid")) uuids.emplace_back(*uuid);
  }
  return uuids;
}

std::string OverriddenFeedback(const std::string& card) {
  return R"({"feedback":[{"card":")" + card +
         R"(","outcome":"overridden","outcomeTimestamp":"2026-12-06T06:00:00Z"}]})";
}

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 (name + "-" + std::to_string(::getpid()) + "-" + NewUuidV4().substr(0, 8));
  fs::create_directories(dir);
  return dir;
}

// A replica on `store_uri`, with any extra flags.
Result<std::unique_ptr<CephalgiaServer>> StartReplica(const std::string& store_uri,
                                                      std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--plugins", BuiltPackDir(), "--store",
                                   store_uri,   "--threads",    "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return CephalgiaServer::Start(args);
}

// Polls `check` every 50 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& check, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (!check()) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

// The summary entry of `rule_id` in /admin/feedback's JSON, as "shown/overridden", and the
// number of unknown cards.
struct RuleCounts {
  int64_t shown = -1, overridden = -1, unknown_cards = -1;
};
RuleCounts Counts(const std::string& summary_json, const std::string& rule_id) {
  RuleCounts counts;
  auto doc = json::ParseUntrusted(summary_json, 8 << 20);
  if (!doc.ok() || !doc->IsObject()) return counts;
  const rapidjson::Value* rules = json::Find(*doc, "rules");
  if (rules != nullptr && rules->IsArray()) {
    for (const auto& rule : rules->GetArray()) {
      if (json::GetString(rule, "ruleId") != std::optional<std::string_view>(rule_id)) continue;
      const rapidjson::Value* shown = json::Find(rule, "cardsShown");
      const rapidjson::Value* overridden = json::Find(rule, "overridden");
      if (shown != nullptr && shown->IsInt64()) counts.shown = shown->GetInt64();
      if (overridden != nullptr && overridden->IsInt64())
        counts.overridden = overridden->GetInt64();
    }
  }
  const rapidjson::Value* unknown = json::Find(*doc, "unknownCards");
  if (unknown != nullptr && unknown->IsObject()) {
    const rapidjson::Value* cards = json::Find(*unknown, "cards");
    if (cards != nullptr && cards->IsInt64()) counts.unknown_cards = cards->GetInt64();
  }
  return counts;
}

std::string Database(const std::string& prefix) {
  std::string name = prefix + "_" + NewUuidV4().substr(0, 8);
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

TEST(ScaleOutTest, FeedbackAndIssuedCardsAreSharedByTheReplicas) {
  auto pg = PostgresTestServer::Shared();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  const std::string db = Database("shared");
  auto uri = (*pg)->CreateDatabase(db);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  auto a = StartReplica(*uri);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = StartReplica(*uri);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  CephalgiaServer& replica_a = **a;
  CephalgiaServer& replica_b = **b;

  // A issues the cards of two calls.
  std::vector<std::string> cards;
  for (int i = 0; i < 2; ++i) {
    HttpResult call = HttpCall("POST", replica_a.url(kService), HookRequest());
    ASSERT_EQ(call.status, 200) << call.body;
    std::vector<std::string> uuids = CardUuids(call.body);
    ASSERT_FALSE(uuids.empty()) << call.body;
    cards.push_back(uuids.front());
  }
  auto rule = (*pg)->Query(
      db, "SELECT DISTINCT rule_id FROM issued_cards WHERE card_uuid = '" + cards[0] + "'");
  // A's writer commits its group within its linger (50 ms); wait for it like B's reader would.
  ASSERT_TRUE(Eventually(
      [&] {
        rule = (*pg)->Query(db, "SELECT DISTINCT rule_id FROM issued_cards WHERE card_uuid IN ('" +
                                    cards[0] + "', '" + cards[1] + "')");
        return rule.ok() && rule->size() == 1;
      },
      milliseconds(5000)));
  const std::string rule_id = (*rule)[0][0];

  // Feedback on the first card to A, on the second to B.
  HttpResult to_a =
      HttpCall("POST", replica_a.url(kService + "/feedback"), OverriddenFeedback(cards[0]));
  EXPECT_EQ(to_a.status, 200) << to_a.body;
  HttpResult to_b =
      HttpCall("POST", replica_b.url(kService + "/feedback"), OverriddenFeedback(cards[1]));
  EXPECT_EQ(to_b.status, 200) << to_b.body;

  // Each replica's summary has both, matched to the cards A issued (no unknown card).
  for (CephalgiaServer* replica : {&replica_a, &replica_b}) {
    HttpResult summary = HttpCall("GET", replica->url("/admin/feedback"));
    ASSERT_EQ(summary.status, 200) << summary.body;
    const RuleCounts counts = Counts(summary.body, rule_id);
    EXPECT_EQ(counts.overridden, 2) << summary.body;
    EXPECT_GE(counts.shown, 2) << summary.body;
    EXPECT_EQ(counts.unknown_cards, 0) << summary.body;
  }
  HttpResult ready = HttpCall("GET", replica_b.url("/readyz"));
  EXPECT_EQ(ready.status, 200) << ready.body;
}

TEST(ScaleOutTest, ATokenAcceptedByOneReplicaIsRefusedWhenReplayedAtTheOther) {
  auto pg = PostgresTestServer::Shared();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  auto uri = (*pg)->CreateDatabase(Database("replay"));
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  const fs::path dir = TempDir("cephalgia-scale-out-auth");
  const TestSigningKey key = TestSigningKey::EcP384("ehr-key-1");
  std::ofstream(dir / "clients.jwks.json") << JwksJson({&key});
  const std::vector<std::string> auth = {"--auth",
                                         "required",
                                         "--jwks",
                                         (dir / "clients.jwks.json").string(),
                                         "--trusted-issuer",
                                         "https://ehr.test",
                                         "--external-base-url",
                                         kExternalBase};
  auto a = StartReplica(*uri, auth);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = StartReplica(*uri, auth);
  ASSERT_TRUE(b.ok()) << b.status().ToString();

  auto token = [&key] {
    const long now = static_cast<long>(
        std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    const std::string payload = R"({"iss":"https://ehr.test","aud":")" + kExternalBase +
                                R"(/cds-services","exp":)" + std::to_string(now + 300) +
                                R"(,"iat":)" + std::to_string(now - 5) + R"(,"jti":")" +
                                NewUuidV4() + R"("})";
    return key.Sign(R"({"alg":"ES384","typ":"JWT","kid":"ehr-key-1"})", payload);
  };
  const std::string once = token();
  HttpResult at_a =
      HttpCall("GET", (*a)->url("/cds-services"), "", {"Authorization: Bearer " + once});
  EXPECT_EQ(at_a.status, 200) << at_a.body;
  HttpResult replayed_at_b =
      HttpCall("GET", (*b)->url("/cds-services"), "", {"Authorization: Bearer " + once});
  EXPECT_EQ(replayed_at_b.status, 401) << replayed_at_b.body;
  EXPECT_THAT(replayed_at_b.body, HasSubstr("replayed"));
  // B itself accepts a fresh token: the refusal was the replay, nothing else.
  HttpResult fresh_at_b =
      HttpCall("GET", (*b)->url("/cds-services"), "", {"Authorization: Bearer " + token()});
  EXPECT_EQ(fresh_at_b.status, 200) << fresh_at_b.body;
  fs::remove_all(dir);
}

// Issue 15: "kill -9 of a replica loses nothing that got a 200". Four clients post feedback to A
// as fast as it answers; A is killed mid-burst; every feedback answered 200 is in the database.
TEST(ScaleOutTest, KillingAReplicaDuringAFeedbackBurstLosesNoFeedbackThatGot200) {
  auto pg = PostgresTestServer::Shared();
  CEPHALGIA_ASSERT_POSTGRES(pg);
  const std::string db = Database("burst");
  auto uri = (*pg)->CreateDatabase(db);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  auto a = StartReplica(*uri);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const std::string url = (*a)->url(kService + "/feedback");

  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string card = "burst-" + std::to_string(t) + "-" + std::to_string(i);
        if (HttpCall("POST", url, OverriddenFeedback(card)).status == 200) {
          std::lock_guard lock(mu);
          acknowledged.insert(card);
        }
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ((*a)->StopWith(SIGKILL), 128 + SIGKILL);
  stop.store(true);
  for (auto& c : clients) c.join();

  ASSERT_GT(acknowledged.size(), 20u) << "too few feedback posts answered before the kill";
  auto rows = (*pg)->Query(db, "SELECT DISTINCT card_uuid FROM feedback");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::set<std::string> stored;
  for (const auto& row : *rows) stored.insert(row[0]);
  std::vector<std::string> lost;
  for (const std::string& card : acknowledged) {
    if (stored.count(card) == 0) lost.push_back(card);
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << acknowledged.size()
                            << " acknowledged feedback posts are not in the database, e.g. "
                            << lost.front();
}

// Issue 15, degradation: PostgreSQL stopped and restarted under hook load.
TEST(ScaleOutTest, DatabaseOutageUnderLoadKeepsHookCallsAnsweredAndRecovers) {
  auto pg = PostgresTestServer::Start();  // its own server: this test stops it
  CEPHALGIA_ASSERT_POSTGRES(pg);
  PostgresTestServer& server = **pg;
  auto a = StartReplica(server.Uri());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  CephalgiaServer& replica = **a;
  ASSERT_EQ(HttpCall("GET", replica.url("/readyz")).status, 200);

  // Hook load from two clients for the whole test; every answer and card is kept.
  std::mutex mu;
  std::set<std::string> issued;
  std::atomic<int> calls{0};
  std::atomic<int> failed_calls{0};
  std::atomic<bool> stop{false};
  const std::string request = HookRequest();
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&] {
      while (!stop.load()) {
        HttpResult r = HttpCall("POST", replica.url(kService), request);
        calls.fetch_add(1);
        if (r.status != 200) {
          failed_calls.fetch_add(1);
          continue;
        }
        std::vector<std::string> uuids = CardUuids(r.body);
        std::lock_guard lock(mu);
        issued.insert(uuids.begin(), uuids.end());
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(500));
  // Feedback from several clients at once: several of the replica's database connections are
  // opened, and sit idle through the restart below.
  std::vector<std::thread> posters;
  std::atomic<int> posted{0};
  for (int i = 0; i < 4; ++i) {
    posters.emplace_back([&, i] {
      const std::string card = "pool-" + std::to_string(i);
      if (HttpCall("POST", replica.url(kService + "/feedback"), OverriddenFeedback(card)).status ==
          200) {
        posted.fetch_add(1);
      }
    });
  }
  for (auto& p : posters) p.join();
  EXPECT_EQ(posted.load(), 4);
  EXPECT_EQ(
      HttpCall("POST", replica.url(kService + "/feedback"), OverriddenFeedback("before")).status,
      200);

  ASSERT_TRUE(server.Stop().ok());
  const int calls_at_outage = calls.load();
  HttpResult not_ready;
  EXPECT_TRUE(Eventually(
      [&] {
        not_ready = HttpCall("GET", replica.url("/readyz"));
        return not_ready.status == 503;
      },
      milliseconds(5000)))
      << "readyz stayed " << not_ready.status;
  EXPECT_THAT(not_ready.body, HasSubstr("store"));
  HttpResult refused =
      HttpCall("POST", replica.url(kService + "/feedback"), OverriddenFeedback("during"));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_FALSE(refused.Header("Retry-After").empty());
  std::this_thread::sleep_for(milliseconds(1000));  // hook calls go on during the outage
  EXPECT_GT(calls.load(), calls_at_outage + 10);

  ASSERT_TRUE(server.Restart().ok()) << server.Log();
  EXPECT_TRUE(Eventually([&] { return HttpCall("GET", replica.url("/readyz")).status == 200; },
                         milliseconds(10000)));
  // Ready again means feedback is taken again, at the first try.
  HttpResult resumed =
      HttpCall("POST", replica.url(kService + "/feedback"), OverriddenFeedback("after"));
  EXPECT_EQ(resumed.status, 200) << resumed.body;
  std::this_thread::sleep_for(milliseconds(300));
  stop.store(true);
  for (auto& t : load) t.join();

  EXPECT_EQ(failed_calls.load(), 0) << "of " << calls.load() << " hook calls";
  // Every card answered, also those issued while the database was down, reaches it (the queue
  // holds them and the writer retries until it is back).
  std::set<std::string> missing;
  EXPECT_TRUE(Eventually(
      [&] {
        auto rows = server.Query("postgres", "SELECT DISTINCT card_uuid FROM issued_cards");
        if (!rows.ok()) return false;
        std::set<std::string> stored;
        for (const auto& row : *rows) stored.insert(row[0]);
        missing.clear();
        for (const std::string& card : issued) {
          if (stored.count(card) == 0) missing.insert(card);
        }
        return missing.empty();
      },
      milliseconds(10000)))
      << missing.size() << " of " << issued.size() << " issued cards are not in the database";
  auto feedback = server.Query(
      "postgres", "SELECT card_uuid FROM feedback WHERE card_uuid NOT LIKE 'pool-%' ORDER BY id");
  ASSERT_TRUE(feedback.ok());
  EXPECT_EQ(*feedback, (std::vector<std::vector<std::string>>{{"before"}, {"after"}}));
  HttpResult metrics = HttpCall("GET", replica.url("/metrics"));
  EXPECT_THAT(metrics.body, HasSubstr("cephalgia_issued_cards_dropped_total 0"));
  EXPECT_THAT(metrics.body, HasSubstr("cephalgia_store_up 1"));
}

}  // namespace
}  // namespace cephalgia::test
