// Operational behaviour of the real binary: client JWT authentication (checklist §J), feedback
// that survives the process being killed right after its 200 (§H), Prometheus metrics and a
// PHI-free access log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "auth/test_jwt_signer.h"
#include "canned_http_server.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"
#include "cephalgia_process.h"

namespace cephalgia::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using hooks::auth::testing::JwksJson;
using hooks::auth::testing::TestSigningKey;

const std::string kCasesDir = std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/cases";

// The request of golden case 001 (SNOMED thunderclap headache: a critical red-flag card with an
// emergency referral suggestion).
std::string ThunderclapRequest() {
  auto doc = json::ParseUntrusted(ReadFile(kCasesDir + "/001-thunderclap-snomed.json"), 8 << 20);
  if (!doc.ok() || !doc->HasMember("request")) return {};
  return json::Serialize((*doc)["request"]);
}

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()) + "-" +
                                             NewUuidV4().substr(0, 8));
  fs::create_directories(dir);
  return dir;
}

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new TestSigningKey(TestSigningKey::EcP384("ehr-key-1"));
    dir_ = new fs::path(TempDir("cephalgia-auth"));
    std::ofstream(*dir_ / "clients.jwks.json") << JwksJson({key_});
    std::ofstream(*dir_ / "admin.token") << kAdminToken << "\n";
    fs::permissions(*dir_ / "admin.token", fs::perms::owner_read | fs::perms::owner_write);
    auto server = CephalgiaServer::Start({"--plugins", BuiltPackDir(), "--auth", "required",
                                          "--jwks", (*dir_ / "clients.jwks.json").string(),
                                          "--trusted-issuer", "https://ehr.test",
                                          "--admin-token-file", (*dir_ / "admin.token").string(),
                                          "--data-dir", (*dir_ / "data").string()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    fs::remove_all(*dir_);
    delete dir_;
    delete key_;
  }

  static std::string Token(const std::string& aud, long exp_offset_seconds = 300,
                           const std::string& jti = NewUuidV4(), const TestSigningKey* key = nullptr) {
    long now = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count());
    std::string payload = R"({"iss":"https://ehr.test","aud":")" + aud + R"(","exp":)" +
                          std::to_string(now + exp_offset_seconds) + R"(,"iat":)" +
                          std::to_string(now - 5) + R"(,"jti":")" + jti + R"("})";
    return (key ? key : key_)->Sign(R"({"alg":"ES384","typ":"JWT","kid":"ehr-key-1"})", payload);
  }
  static HttpResult Discovery(const std::string& token) {
    return HttpCall("GET", server_->url("/cds-services"), "", {"Authorization: Bearer " + token});
  }

  static constexpr char kAdminToken[] = "admin-0123456789abcdef0123456789";
  static TestSigningKey* key_;
  static fs::path* dir_;
  static CephalgiaServer* server_;
};
TestSigningKey* AuthTest::key_ = nullptr;
fs::path* AuthTest::dir_ = nullptr;
CephalgiaServer* AuthTest::server_ = nullptr;

TEST_F(AuthTest, J98_ATokenSignedByATrustedKeyForThisUrlSucceeds) {
  HttpResult discovery = Discovery(Token(server_->url("/cds-services")));
  EXPECT_EQ(discovery.status, 200) << discovery.body;
  std::string path = "/cds-services/headache-patient-view";
  HttpResult call = HttpCall("POST", server_->url(path), ThunderclapRequest(),
                             {"Authorization: Bearer " + Token(server_->url(path))});
  EXPECT_EQ(call.status, 200) << call.body;
  EXPECT_THAT(server_->WaitForLog(R"("clientIss":"https://ehr.test")"),
              HasSubstr(R"("clientIss":"https://ehr.test")"));
}

TEST_F(AuthTest, J95_NoTokenIs401) {
  HttpResult r = HttpCall("GET", server_->url("/cds-services"));
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("OperationOutcome"));
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer");
}

TEST_F(AuthTest, J103_AnExpiredTokenIs401) {
  HttpResult r = Discovery(Token(server_->url("/cds-services"), -600));
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("expired"));
}

TEST_F(AuthTest, J98_ATokenForAnotherEndpointIs401) {
  HttpResult r = Discovery(Token(server_->url("/cds-services/headache-patient-view")));
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("audience"));
}

TEST_F(AuthTest, J103_AReplayedTokenIs401) {
  std::string token = Token(server_->url("/cds-services"));
  EXPECT_EQ(Discovery(token).status, 200);
  HttpResult again = Discovery(token);
  EXPECT_EQ(again.status, 401);
  EXPECT_THAT(again.body, HasSubstr("replayed"));
}

TEST_F(AuthTest, J99_AnUnsignedTokenIs401) {
  std::string signed_token = Token(server_->url("/cds-services"));
  std::string header = hooks::auth::Base64UrlEncode(R"({"alg":"none","typ":"JWT","kid":"ehr-key-1"})");
  std::string payload = signed_token.substr(signed_token.find('.') + 1);
  payload = payload.substr(0, payload.find('.'));
  HttpResult r = Discovery(header + "." + payload + ".");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("unsupported alg"));
}

TEST_F(AuthTest, J101_ATokenSignedByAnotherKeyIs401) {
  TestSigningKey impostor = TestSigningKey::EcP384("ehr-key-1");  // same kid, other key
  HttpResult r = Discovery(Token(server_->url("/cds-services"), 300, NewUuidV4(), &impostor));
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("bad signature"));
}

// Issue 13: with --auth required the admin endpoints are no longer open; --admin-token-file
// puts them behind a bearer token of their own (a client's JWT is not it).
TEST_F(AuthTest, Issue13_MetricsAndAdminFeedbackNeedTheAdminToken) {
  for (const std::string path : {"/metrics", "/admin/feedback"}) {
    HttpResult none = HttpCall("GET", server_->url(path));
    EXPECT_EQ(none.status, 401) << path << ": " << none.body;
    EXPECT_EQ(none.Header("WWW-Authenticate"), "Bearer");
    HttpResult client_jwt = HttpCall("GET", server_->url(path), "",
                                     {"Authorization: Bearer " + Token(server_->url(path))});
    EXPECT_EQ(client_jwt.status, 401) << path;
    HttpResult admin = HttpCall("GET", server_->url(path), "",
                                {std::string("Authorization: Bearer ") + kAdminToken});
    EXPECT_EQ(admin.status, 200) << path << ": " << admin.body;
  }
  EXPECT_EQ(HttpCall("GET", server_->url("/healthz")).status, 200) << "liveness stays open";
}

// Issue 13: every 401 is logged with its reason and who the token claimed to be (never the
// token), and counted by reason in cephalgia_auth_refusals_total.
TEST_F(AuthTest, Issue13_EveryRefusalIsLoggedWithItsReasonAndCounted) {
  const std::string expired = Token(server_->url("/cds-services"), -600);
  ASSERT_EQ(Discovery(expired).status, 401);
  const std::string wrong_aud = Token(server_->url("/cds-services/headache-patient-view"));
  ASSERT_EQ(Discovery(wrong_aud).status, 401);
  ASSERT_EQ(HttpCall("GET", server_->url("/cds-services")).status, 401);

  const std::string log = server_->WaitForLog(R"("reason":"missing bearer token")");
  std::vector<std::string> refusals;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(R"("type":"auth_refusal")") != std::string::npos) refusals.push_back(line);
  }
  auto find = [&](const std::string& reason) {
    for (const std::string& line : refusals) {
      if (line.find(R"("reason":")" + reason + "\"") != std::string::npos) return line;
    }
    return std::string();
  };
  const std::string expired_line = find("token expired");
  EXPECT_THAT(expired_line, HasSubstr(R"("label":"expired")"));
  EXPECT_THAT(expired_line, HasSubstr(R"("iss":"https://ehr.test")"));
  EXPECT_THAT(expired_line, HasSubstr(R"("kid":"ehr-key-1")"));
  EXPECT_THAT(expired_line, HasSubstr(R"("route":"/cds-services")"));
  EXPECT_THAT(find("audience mismatch"), HasSubstr(R"("label":"wrong_audience")"));
  EXPECT_THAT(find("missing bearer token"), HasSubstr(R"("iss":null)"));
  for (const std::string& token : {expired, wrong_aud}) {
    EXPECT_THAT(log, Not(HasSubstr(token.substr(token.rfind('.') + 1)))) << "a signature leaked";
    EXPECT_THAT(log, Not(HasSubstr(token.substr(0, token.rfind('.'))))) << "a token leaked";
  }

  HttpResult metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = HttpCall("GET", server_->url("/metrics"), "",
                       {std::string("Authorization: Bearer ") + kAdminToken});
    if (metrics.body.find(R"(reason="missing_token")") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE cephalgia_auth_refusals_total counter"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(cephalgia_auth_refusals_total{reason="expired"})"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(cephalgia_auth_refusals_total{reason="wrong_audience"})"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(cephalgia_auth_refusals_total{reason="missing_token"})"));
}

// Issue 13: with --auth required and no admin token, the admin endpoints answer loopback clients
// only (a client elsewhere gets 403; see cds_service_test), and the server says so at start.
TEST(AdminAccessTest, Issue13_WithoutAnAdminTokenOnlyLoopbackClientsReadMetrics) {
  TestSigningKey key = TestSigningKey::EcP384("k1");
  fs::path dir = TempDir("cephalgia-admin");
  std::ofstream(dir / "clients.jwks.json") << JwksJson({&key});
  auto server = CephalgiaServer::Start({"--plugins", BuiltPackDir(), "--auth", "required", "--jwks",
                                        (dir / "clients.jwks.json").string(), "--trusted-issuer",
                                        "https://ehr.test", "--data-dir", (dir / "data").string()});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(HttpCall("GET", (*server)->url("/metrics")).status, 200);
  EXPECT_EQ(HttpCall("GET", (*server)->url("/cds-services")).status, 401);
  EXPECT_THAT((*server)->Log(), HasSubstr("admin_loopback_only"));
  // A token file that cannot be a token stops start-up.
  std::ofstream(dir / "short.token") << "short\n";
  auto refused = CephalgiaServer::Start(
      {"--plugins", BuiltPackDir(), "--admin-token-file", (dir / "short.token").string(),
       "--data-dir", (dir / "data2").string()},
      std::chrono::milliseconds(5000));
  EXPECT_FALSE(refused.ok());
  fs::remove_all(dir);
}

// Issue 13: unsigned tokens naming a fresh jku each (under an allowed prefix whose host takes
// 100 ms) no longer hold up a legitimate client: past the issuer's fetch budget they are refused
// on the I/O threads without a fetch, and the blocking pool stays free for real work. (Before,
// one global mutex serialised every fetch and a signed feedback POST took 4.7 s.)
TEST(JkuFloodTest, Issue13_FreshJkuTokensDoNotDelayASignedFeedback) {
  std::atomic<int> jku_fetches{0};
  CannedHttpServer jku_host([&](const CannedHttpServer::Request&) {
    ++jku_fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CannedHttpServer::Response r;
    r.status = 404;
    r.body = "{}";
    return r;
  });
  TestSigningKey key = TestSigningKey::EcP384("ehr-key-1");
  fs::path dir = TempDir("cephalgia-jku-flood");
  std::ofstream(dir / "clients.jwks.json") << JwksJson({&key});
  auto server = CephalgiaServer::Start(
      {"--plugins", BuiltPackDir(), "--auth", "required", "--jwks",
       (dir / "clients.jwks.json").string(), "--trusted-issuer", "https://ehr.test", "--jku-allow",
       "https://ehr.test=" + jku_host.origin() + "/keys/", "--data-dir", (dir / "data").string()});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string path = "/cds-services/headache-patient-view/feedback";
  const std::string url = (*server)->url(path);
  const std::string feedback = R"({"feedback":[{"card":"a5b0bcd6-9dcc-4d3a-9a3c-0a1d0d7b0f21",
      "outcome":"overridden","outcomeTimestamp":"2026-03-01T10:05:00Z"}]})";
  auto now_s = [] {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
  };

  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> attackers;
  for (int t = 0; t < 50; ++t) {
    attackers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string jku =
            jku_host.origin() + "/keys/" + std::to_string(t) + "-" + std::to_string(i) + ".json";
        const std::string token =
            hooks::auth::Base64UrlEncode(R"({"alg":"ES384","typ":"JWT","kid":"x","jku":")" + jku +
                                         "\"}") +
            "." +
            hooks::auth::Base64UrlEncode(R"({"iss":"https://ehr.test","aud":")" + url +
                                         R"(","exp":)" + std::to_string(now_s() + 300) +
                                         R"(,"iat":)" + std::to_string(now_s()) + R"(,"jti":")" +
                                         NewUuidV4() + R"("})") +
            "." + hooks::auth::Base64UrlEncode("not a signature");
        HttpResult r = HttpCall("POST", url, feedback, {"Authorization: Bearer " + token});
        (r.status == 401 ? refused : other).fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the flood is under way
  std::vector<long> took_ms;
  for (int i = 0; i < 5; ++i) {
    std::string payload = R"({"iss":"https://ehr.test","aud":")" + url + R"(","exp":)" +
                          std::to_string(now_s() + 300) + R"(,"iat":)" + std::to_string(now_s()) +
                          R"(,"jti":")" + NewUuidV4() + R"("})";
    const std::string token = key.Sign(R"({"alg":"ES384","typ":"JWT","kid":"ehr-key-1"})", payload);
    const auto start = std::chrono::steady_clock::now();
    HttpResult r = HttpCall("POST", url, feedback, {"Authorization: Bearer " + token});
    took_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    EXPECT_EQ(r.status, 200) << r.body;
  }
  stop = true;
  for (auto& t : attackers) t.join();
  EXPECT_GT(refused.load(), 200) << "the flood ran";
  EXPECT_EQ(other.load(), 0);
  for (long ms : took_ms) EXPECT_LT(ms, 300) << "a signed feedback POST during the flood";
  EXPECT_LE(jku_fetches.load(), 11) << "at most the issuer's burst of 10 (plus one refill)";
  fs::remove_all(dir);
}

// Issue 15: after SIGTERM a replica keeps answering, but /readyz says 503 so the load balancer
// takes it out of rotation during --shutdown-delay-ms; then it drains and exits cleanly.
TEST(ShutdownTest, Issue15_ReadyzFailsDuringTheShutdownDelayWhileCallsStillAnswer) {
  fs::path dir = TempDir("cephalgia-shutdown");
  auto server = CephalgiaServer::Start(
      {"--plugins", BuiltPackDir(), "--data-dir", dir.string(), "--shutdown-delay-ms", "3000"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_EQ(HttpCall("GET", (*server)->url("/readyz")).status, 200);
  ASSERT_EQ(::kill((*server)->pid(), SIGTERM), 0);
  (*server)->WaitForLog("stop signal received");
  HttpResult ready = HttpCall("GET", (*server)->url("/readyz"));
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_THAT(ready.body, HasSubstr("draining"));
  EXPECT_EQ(ready.Header("Retry-After"), "5");
  EXPECT_EQ(HttpCall("GET", (*server)->url("/livez")).status, 200) << "still alive";
  EXPECT_EQ(HttpCall("GET", (*server)->url("/cds-services")).status, 200)
      << "calls still answered during the delay";
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ((*server)->StopWith(0), 0) << "exits 0 once the delay and the drain are over";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT((*server)->Log(), HasSubstr("drained and stopped"));
  fs::remove_all(dir);
}

TEST(FeedbackDurabilityTest, H82_FeedbackSurvivesAKillRightAfterIts200) {
  fs::path dir = TempDir("cephalgia-feedback");
  std::vector<std::string> args = {"--plugins", BuiltPackDir(), "--data-dir", dir.string(),
                                   "--now", "2026-03-01T10:00:00Z"};
  std::string card_uuid, rule_id, suggestion_uuid;
  {
    auto server = CephalgiaServer::Start(args);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    HttpResult call = HttpCall("POST", (*server)->url("/cds-services/headache-patient-view"),
                               ThunderclapRequest());
    ASSERT_EQ(call.status, 200) << call.body;
    auto response = json::ParseUntrusted(call.body);
    ASSERT_TRUE(response.ok());
    for (const auto& card : (*response)["cards"].GetArray()) {
      if (!card.HasMember("suggestions")) continue;
      card_uuid = card["uuid"].GetString();
      rule_id = card["source"]["topic"]["code"].GetString();
      suggestion_uuid = card["suggestions"][0]["uuid"].GetString();
      break;
    }
    ASSERT_FALSE(card_uuid.empty()) << call.body;
    // Issued cards are written in the background; wait until the summary shows this one.
    bool shown = false;
    for (int i = 0; i < 200 && !shown; ++i) {
      shown = HttpCall("GET", (*server)->url("/admin/feedback")).body.find(rule_id) != std::string::npos;
      if (!shown) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_TRUE(shown);
    std::string feedback = R"({"feedback":[{"card":")" + card_uuid + R"(","outcome":"accepted",
        "acceptedSuggestions":[{"id":")" + suggestion_uuid + R"("}],"outcomeTimestamp":"2026-03-01T10:05:00Z"}]})";
    HttpResult stored = HttpCall("POST", (*server)->url("/cds-services/headache-patient-view/feedback"), feedback);
    ASSERT_EQ(stored.status, 200) << stored.body;
    (*server)->StopWith(SIGKILL);  // right after the 200: no flush, no clean shutdown
  }
  auto restarted = CephalgiaServer::Start(args);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  HttpResult summary = HttpCall("GET", (*restarted)->url("/admin/feedback"));
  ASSERT_EQ(summary.status, 200);
  auto doc = json::ParseUntrusted(summary.body);
  ASSERT_TRUE(doc.ok()) << summary.body;
  bool found = false;
  for (const auto& rule : (*doc)["rules"].GetArray()) {
    if (rule["ruleId"].GetString() != rule_id) continue;
    found = true;
    EXPECT_EQ(rule["accepted"].GetInt(), 1) << summary.body;
  }
  EXPECT_TRUE(found) << summary.body;
  fs::remove_all(dir);
}

TEST(FeedbackValidationTest, H86_InvalidFeedbackIs400WithItsLocation) {
  fs::path dir = TempDir("cephalgia-feedback-bad");
  auto server = CephalgiaServer::Start({"--plugins", BuiltPackDir(), "--data-dir", dir.string()});
  ASSERT_TRUE(server.ok());
  HttpResult r = HttpCall("POST", (*server)->url("/cds-services/headache-patient-view/feedback"),
                          R"({"feedback":[{"card":"x","outcome":"accepted","outcomeTimestamp":"2026-03-01T10:05:00Z"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("feedback[0].acceptedSuggestions"));
  fs::remove_all(dir);
}

TEST(MetricsAndLogTest, MetricsCountRequestsAndCardsAndTheLogHoldsNoPatientData) {
  fs::path dir = TempDir("cephalgia-metrics");
  auto server = CephalgiaServer::Start({"--plugins", BuiltPackDir(), "--data-dir", dir.string(),
                                        "--now", "2026-03-01T10:00:00Z"});
  ASSERT_TRUE(server.ok());
  std::string request = ThunderclapRequest();
  ASSERT_EQ(HttpCall("POST", (*server)->url("/cds-services/headache-patient-view"), request).status, 200);
  ASSERT_EQ(HttpCall("POST", (*server)->url("/cds-services/nope"), request).status, 404);
  // Metrics and the access log are recorded when a response has been written, which can be a
  // moment after the client has read it; scrape until the second exchange shows (at most 5 s).
  HttpResult metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = HttpCall("GET", (*server)->url("/metrics"));
    if (metrics.body.find(R"(status="404")") != std::string::npos &&
        metrics.body.find(R"(rule_id="thunderclap_onset")") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.Header("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(cephalgia_http_requests_total{route="/cds-services/{id}",service="headache-patient-view",status="200"} 1)"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(rule_id="thunderclap_onset")"));
  EXPECT_THAT(metrics.body, HasSubstr("cephalgia_http_request_duration_seconds_bucket"));
  EXPECT_THAT(metrics.body, Not(HasSubstr("nope"))) << "unknown ids are not label values";

  auto doc = json::ParseUntrusted(request, 8 << 20);
  std::string patient_id = (*doc)["context"]["patientId"].GetString();
  std::string log = (*server)->Log();
  EXPECT_THAT(log, HasSubstr(R"("type":"access")"));
  EXPECT_THAT(log, Not(HasSubstr(patient_id))) << "the access log must not carry patient ids";
  fs::remove_all(dir);
}

// An EHR's slow FHIR server delays only the calls that must fetch from it. With one I/O thread,
// a call without prefetch waits on a FHIR server that answers after 1.5 s, while a call with full
// prefetch on another connection is answered at once; the metrics show the deferred call.
TEST(DeferredFetchTest, ASlowFhirServerDelaysOnlyTheCallsThatFetch) {
  std::atomic<int> fhir_requests{0};
  CannedHttpServer slow_fhir([&](const CannedHttpServer::Request&) {
    ++fhir_requests;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CannedHttpServer::Response r;
    r.body = R"({"resourceType":"Bundle","type":"searchset","entry":[]})";
    return r;
  });
  fs::path dir = TempDir("cephalgia-deferred");
  auto server = CephalgiaServer::Start({"--plugins", BuiltPackDir(), "--data-dir", dir.string(),
                                        "--now", "2026-03-01T10:00:00Z", "--threads", "1"});
  ASSERT_TRUE(server.ok());
  const std::string url = (*server)->url("/cds-services/headache-patient-view");
  const std::string prefetched = ThunderclapRequest();
  auto doc = json::ParseUntrusted(prefetched, 8 << 20);
  ASSERT_TRUE(doc.ok());
  doc->RemoveMember("prefetch");
  doc->AddMember("fhirServer", json::MakeString(slow_fhir.origin() + "/fhir", doc->GetAllocator()),
                 doc->GetAllocator());
  const std::string needs_fetch = json::Serialize(*doc);

  using Clock = std::chrono::steady_clock;
  std::atomic<bool> slow_done{false};
  HttpResult slow;
  Clock::duration slow_took{};
  std::thread slow_client([&] {
    auto start = Clock::now();
    slow = HttpCall("POST", url, needs_fetch);
    slow_took = Clock::now() - start;
    slow_done = true;
  });
  for (int i = 0; i < 200 && fhir_requests == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(fhir_requests.load(), 0) << "the call without prefetch never reached the FHIR server";

  auto start = Clock::now();
  HttpResult fast = HttpCall("POST", url, prefetched);
  auto fast_took = Clock::now() - start;
  HttpResult metrics = HttpCall("GET", (*server)->url("/metrics"));
  bool slow_still_waiting = !slow_done;
  slow_client.join();

  EXPECT_EQ(fast.status, 200) << fast.body;
  EXPECT_THAT(fast.body, HasSubstr("thunderclap_onset"));
  EXPECT_TRUE(slow_still_waiting) << "the prefetched call waited for the fetching one";
  EXPECT_LT(fast_took, std::chrono::milliseconds(1000));
  EXPECT_THAT(metrics.body, HasSubstr("cephalgia_deferred_calls_in_progress 1"));
  // The fetching call itself is answered within its 2 s deadline: with its data or a 412.
  EXPECT_TRUE(slow.status == 200 || slow.status == 412) << slow.status << " " << slow.body;
  EXPECT_GE(slow_took, std::chrono::milliseconds(1400));
  EXPECT_LT(slow_took, std::chrono::milliseconds(4000));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cephalgia::test
