// Integration tests of FhirClient against real servers on 127.0.0.1:
//  * the real test FHIR server (Medplum's engine, tests/fhir-server) with the Synthea patients and
//    HL7 examples loaded, started once for the suite by FhirTestServer; if Node or its npm
//    dependencies are missing every test here FAILS with the command to run;
//  * CannedHttpServer listeners for what a real server will not do on demand (bad JSON, huge
//    bodies, redirects, links to another origin, dropped connections), which also record what the
//    client sent.
// Deadline tests assert that a call returned within deadline + slack: that is the behaviour the
// CDS service relies on (answering in time), not a speed measurement.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "canned_http_server.h"
#include "cephalgia/fhir/client.h"
#include "cephalgia/json.h"
#include "fhir_test_server.h"

namespace cephalgia::fhir {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::CannedHttpServer;
using test::FhirTestServer;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kToken[] = "integration-token-7f3a9c";
// From /work/shared/fhir-samples/README.md (ids kept by the loader).
constexpr char kBradly[] = "326b4675-0bc8-4dbd-b406-a5564c282401";  // 34 MedicationRequests
constexpr char kMafalda[] = "11a7f0e3-b1d0-431c-adb6-ad1ad8d61720";
// Generous slack for a loaded 2-core machine; the point is "returned near the deadline", not
// "returned fast".
constexpr auto kSlack = 750ms;

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

size_t EntryCount(const rapidjson::Value& bundle) {
  const rapidjson::Value* entries = json::GetArray(bundle, "entry");
  return entries ? entries->Size() : 0;
}

bool HasLink(const rapidjson::Value& bundle, std::string_view relation) {
  const rapidjson::Value* links = json::GetArray(bundle, "link");
  if (links == nullptr) return false;
  for (const auto& l : links->GetArray()) {
    if (json::GetString(l, "relation") == std::optional<std::string_view>(relation)) return true;
  }
  return false;
}

std::string Describe(const FetchOutcome& o) {
  return o.ok() ? "ok" : o.error().ToString();
}

class FhirClientIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = FhirTestServer::Start(kToken);
    if (started.ok()) {
      server_ = std::move(*started).release();
    } else {
      start_error_ = new std::string(started.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete server_;  // kills exactly the node process we spawned
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "could not start the test FHIR server: " << *start_error_;
  }

  // Functional tests get a generous deadline so a loaded machine cannot turn them into timing
  // tests; the deadline tests below set their own.
  static FhirClient Client(FhirClientOptions options = {.deadline = 30s}) {
    return FhirClient(server_->base_url(), std::string(kToken), options);
  }

  static FhirTestServer* server_;
  static std::string* start_error_;
};

FhirTestServer* FhirClientIntegrationTest::server_ = nullptr;
std::string* FhirClientIntegrationTest::start_error_ = nullptr;

// --- Against the real FHIR server ----------------------------------------------------------------

TEST_F(FhirClientIntegrationTest, ReadsASyntheaPatientByItsKeptId) {
  FetchOutcome o = Client().Fetch({"patient", std::string("Patient/") + kBradly});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(o.key, "patient");
  EXPECT_EQ(o.http_status, 200);
  EXPECT_EQ(o.pages, 1);
  EXPECT_FALSE(o.partial);
  EXPECT_EQ(json::GetString(o.document(), "resourceType"), "Patient");
  EXPECT_EQ(json::GetString(o.document(), "id"), kBradly);
  const rapidjson::Value* names = json::GetArray(o.document(), "name");
  ASSERT_NE(names, nullptr);
  ASSERT_FALSE(names->Empty());
  EXPECT_THAT(std::string(json::GetString((*names)[0], "family").value_or("")), HasSubstr("Douglas"));
}

TEST_F(FhirClientIntegrationTest, ReadsAnHl7Example) {
  FetchOutcome o = Client().Fetch({"sr", "ServiceRequest/example"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(json::GetString(o.document(), "resourceType"), "ServiceRequest");
}

TEST_F(FhirClientIntegrationTest, SearchFollowsNextLinksAndMergesAllPages) {
  FetchOutcome o = Client().Fetch(
      {"meds", std::string("MedicationRequest?patient=") + kBradly + "&_count=5"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  const rapidjson::Document& bundle = o.document();
  EXPECT_EQ(json::GetString(bundle, "type"), "searchset");
  EXPECT_EQ(o.pages, 7);  // 34 results, 5 per page
  EXPECT_FALSE(o.partial) << o.partial_reason;
  EXPECT_EQ(json::GetInt64(bundle, "total"), 34);
  ASSERT_EQ(EntryCount(bundle), 34u);
  EXPECT_FALSE(HasLink(bundle, "next")) << "a merged bundle must not point at more pages";
  EXPECT_TRUE(HasLink(bundle, "self"));
  std::set<std::string> ids;
  for (const auto& e : json::GetArray(bundle, "entry")->GetArray()) {
    const rapidjson::Value* r = json::GetObject(e, "resource");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(json::GetString(*r, "resourceType"), "MedicationRequest");
    ids.insert(std::string(json::GetString(*r, "id").value_or("")));
  }
  EXPECT_EQ(ids.size(), 34u) << "every page's entries exactly once";
}

TEST_F(FhirClientIntegrationTest, DefaultPageSizeAlsoPages) {
  FetchOutcome o = Client().Fetch({"meds", std::string("MedicationRequest?patient=") + kBradly});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(o.pages, 2);
  EXPECT_EQ(EntryCount(o.document()), 34u);
}

TEST_F(FhirClientIntegrationTest, PageCapYieldsAPartialOutcomeThatSaysWhy) {
  FetchOutcome o = Client({.deadline = 30s, .max_pages = 3}).Fetch(
      {"meds", std::string("MedicationRequest?patient=") + kBradly + "&_count=5"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_TRUE(o.partial);
  EXPECT_THAT(o.partial_reason, HasSubstr("page cap of 3"));
  EXPECT_EQ(o.pages, 3);
  EXPECT_EQ(EntryCount(o.document()), 15u);
  EXPECT_EQ(json::GetInt64(o.document(), "total"), 34) << "total is the server's, kept";
  EXPECT_FALSE(HasLink(o.document(), "next"));
}

TEST_F(FhirClientIntegrationTest, WithoutFollowPagingTheFirstPageComesBackAsSent) {
  FetchOutcome o = Client().Fetch(
      {"meds", std::string("MedicationRequest?patient=") + kBradly + "&_count=5", false});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(EntryCount(o.document()), 5u);
  EXPECT_TRUE(HasLink(o.document(), "next")) << "the caller may continue with that link";
  EXPECT_FALSE(o.partial);
}

TEST_F(FhirClientIntegrationTest, ContinuesFromAnAbsoluteNextLinkOnTheSameOrigin) {
  // The CDS client may hand us page 1 in prefetch; we continue from its next link.
  std::string next = server_->base_url() + "/MedicationRequest?patient=" + kBradly +
                     "&_count=5&_offset=30";
  FetchOutcome o = Client().Fetch({"rest", next});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(EntryCount(o.document()), 4u);
}

TEST_F(FhirClientIntegrationTest, EmptySearchIsABundleWithNoEntries) {
  FetchOutcome o = Client().Fetch({"none", "AllergyIntolerance?patient=no-such-patient"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(json::GetInt64(o.document(), "total"), 0);
  EXPECT_EQ(EntryCount(o.document()), 0u);
}

TEST_F(FhirClientIntegrationTest, WrongTokenIsUnauthorizedAndTheTokenIsNowhereInTheError) {
  const std::string wrong = "wrong-token-5d1e";
  FhirClient client(server_->base_url(), wrong);
  FetchOutcome o = client.Fetch({"p", std::string("Patient/") + kBradly});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kUnauthorized);
  EXPECT_EQ(o.error().http_status, 401);
  EXPECT_THAT(o.error().ToString(), Not(HasSubstr(wrong)));
  EXPECT_EQ(o.error().ToStatus().code(), StatusCode::kUnauthenticated);
}

TEST_F(FhirClientIntegrationTest, NoTokenIsUnauthorized) {
  FhirClient client(server_->base_url(), std::nullopt);
  FetchOutcome o = client.Fetch({"p", std::string("Patient/") + kBradly});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kUnauthorized);
}

TEST_F(FhirClientIntegrationTest, MissingResourceIsNotFoundWithRedactedUrl) {
  FetchOutcome o = Client().Fetch({"p", "Patient/does-not-exist?access_token=leaky-value"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kNotFound);
  EXPECT_EQ(o.error().http_status, 404);
  EXPECT_THAT(o.error().url, HasSubstr("Patient/does-not-exist?access_token=REDACTED"));
  EXPECT_THAT(o.error().ToString(), Not(HasSubstr("leaky-value")));
  EXPECT_THAT(o.url, Not(HasSubstr("leaky-value")));
}

TEST_F(FhirClientIntegrationTest, EightQueriesAtOnceAllSucceedInOrder) {
  std::vector<FhirQuery> queries = {
      {"patient", std::string("Patient/") + kMafalda},
      {"conditions", std::string("Condition?patient=") + kMafalda},
      {"observations", std::string("Observation?patient=") + kMafalda + "&_count=50"},
      {"meds", std::string("MedicationRequest?patient=") + kBradly + "&_count=10"},
      {"procedures", std::string("Procedure?patient=") + kMafalda},
      {"encounters", std::string("Encounter?patient=") + kMafalda},
      {"allergies", "AllergyIntolerance?patient=64f4649d-8d2e-40ae-811d-7316accdf5ee"},
      {"service", "ServiceRequest?patient=example"},
  };
  std::vector<FetchOutcome> got = Client().FetchAll(queries);
  ASSERT_EQ(got.size(), queries.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, queries[i].key);
    ASSERT_TRUE(got[i].ok()) << queries[i].key << ": " << Describe(got[i]);
    EXPECT_FALSE(got[i].partial) << got[i].partial_reason;
  }
  EXPECT_EQ(json::GetString(got[0].document(), "id"), kMafalda);
  EXPECT_EQ(EntryCount(got[1].document()), 13u);   // README: Mafalda 13 Conditions
  EXPECT_EQ(EntryCount(got[2].document()), 106u);  // 106 Observations, 3 pages of 50
  EXPECT_EQ(EntryCount(got[3].document()), 34u);
  EXPECT_EQ(EntryCount(got[6].document()), 8u);    // Claudie Walsh: 8 allergies
}

TEST_F(FhirClientIntegrationTest, OneClientIsUsableFromManyThreadsAtOnce) {
  const FhirClient client = Client();
  std::atomic<int> ok_count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto got = client.FetchAll({{"p", std::string("Patient/") + kBradly},
                                  {"m", std::string("MedicationRequest?patient=") + kBradly}});
      if (got[0].ok() && got[1].ok() && EntryCount(got[1].document()) == 34) ++ok_count;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok_count.load(), 4);
}

TEST_F(FhirClientIntegrationTest, ASlowServerPastTheDeadlineIsATimeout) {
  const auto deadline = 400ms;
  const auto start = Clock::now();
  FetchOutcome o = Client({.deadline = deadline}).Fetch(
      {"slow", std::string("Patient/") + kBradly + "?_testDelayMs=3000"});
  const auto took = Since(start);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTimeout);
  EXPECT_GE(took, deadline - 50ms);
  EXPECT_LT(took, deadline + kSlack);
}

TEST_F(FhirClientIntegrationTest, TheDeadlineCoversAllPagesOfTheBatchNotEachRequest) {
  // Each page takes 300 ms, well inside the 1 s deadline, but 7 pages do not fit.
  const auto deadline = 1000ms;
  const auto start = Clock::now();
  std::vector<FetchOutcome> got = Client({.deadline = deadline}).FetchAll(
      {{"paged", std::string("MedicationRequest?patient=") + kBradly + "&_count=5&_testDelayMs=300"},
       {"quick", std::string("Patient/") + kBradly}});
  const auto took = Since(start);
  ASSERT_FALSE(got[0].ok());
  EXPECT_EQ(got[0].error().kind, FetchErrorKind::kTimeout);
  EXPECT_TRUE(got[1].ok()) << "a query that finished in time keeps its result: " << Describe(got[1]);
  EXPECT_LT(took, deadline + kSlack);
}

// --- Connection failures --------------------------------------------------------------------------

TEST(FhirClientNetworkTest, UnreachablePortFailsWithinTheDeadline) {
  const auto deadline = 1000ms;
  FhirClient client("http://127.0.0.1:" + std::to_string(test::UnusedLoopbackPort()) + "/fhir",
                    std::string(kToken), {.deadline = deadline});
  const auto start = Clock::now();
  std::vector<FetchOutcome> got = client.FetchAll({{"a", "Patient/1"}, {"b", "Condition?x=1"}});
  const auto took = Since(start);
  for (const FetchOutcome& o : got) {
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.error().kind, FetchErrorKind::kConnectionFailed) << o.error().ToString();
    EXPECT_THAT(o.error().message, HasSubstr("after one retry"));
    EXPECT_EQ(o.error().ToStatus().code(), StatusCode::kUnavailable);
  }
  EXPECT_LT(took, deadline + kSlack);
}

TEST(FhirClientNetworkTest, AListenerThatNeverAnswersTimesOutAtTheDeadline) {
  // The kernel completes the handshake (backlog) but nobody ever accepts or answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto deadline = 500ms;
  FhirClient client("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/fhir",
                    std::string(kToken), {.deadline = deadline});
  const auto start = Clock::now();
  FetchOutcome o = client.Fetch({"a", "Patient/1"});
  const auto took = Since(start);
  close(fd);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTimeout);
  EXPECT_GE(took, deadline - 50ms);
  EXPECT_LT(took, deadline + kSlack);
}

TEST(FhirClientNetworkTest, ADroppedConnectionIsRetriedOnce) {
  std::atomic<int> seen{0};
  CannedHttpServer server([&](const CannedHttpServer::Request&) {
    CannedHttpServer::Response r;
    if (seen++ == 0) {
      r.drop = true;  // closed with no response: CURLE_GOT_NOTHING
    } else {
      r.body = R"({"resourceType":"Patient","id":"1"})";
    }
    return r;
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(FhirClientNetworkTest, HttpErrorsAreNeverRetriedAndCarryTheServersDiagnostics) {
  CannedHttpServer server([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{
        503, "application/fhir+json",
        R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"database is warming up"}]})"};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kServerError);
  EXPECT_EQ(o.error().http_status, 503);
  EXPECT_THAT(o.error().message, HasSubstr("database is warming up"));
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(FhirClientNetworkTest, ATimeoutIsNeverRetried) {
  CannedHttpServer server([](const CannedHttpServer::Request&) {
    std::this_thread::sleep_for(600ms);  // past the client's deadline
    return CannedHttpServer::Response{200, "application/fhir+json", R"({"resourceType":"Patient"})"};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken), {.deadline = 200ms});
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTimeout);
  // A retry would be accepted once the handler returns; give it the chance to show up.
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(FhirClientNetworkTest, OtherStatusesMapToTheirKinds) {
  std::atomic<int> status{403};
  CannedHttpServer server([&](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{status.load(), "application/fhir+json", "{}"};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  EXPECT_EQ(client.Fetch({"p", "Patient/1"}).error().kind, FetchErrorKind::kForbidden);
  status = 400;
  EXPECT_EQ(client.Fetch({"p", "Patient/1"}).error().kind, FetchErrorKind::kHttpError);
  status = 410;
  EXPECT_EQ(client.Fetch({"p", "Patient/1"}).error().kind, FetchErrorKind::kNotFound);
}

// --- What is sent, and to whom --------------------------------------------------------------------

TEST(FhirClientNetworkTest, SendsBearerTokenAndFhirAcceptHeader) {
  CannedHttpServer server([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{200, "application/fhir+json",
                                      R"({"resourceType":"Patient","id":"1"})"};
  });
  FhirClient client(server.origin() + "/fhir/", std::string(kToken));
  ASSERT_TRUE(client.Fetch({"p", "Patient/1"}).ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/fhir/Patient/1");
  EXPECT_EQ(reqs[0].headers["authorization"], std::string("Bearer ") + kToken);
  EXPECT_EQ(reqs[0].headers["accept"], "application/fhir+json");
}

TEST(FhirClientNetworkTest, ATokenThatCouldInjectHeadersIsNeverSent) {
  CannedHttpServer server([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{200, "application/fhir+json", R"({"resourceType":"Patient"})"};
  });
  FhirClient client(server.origin() + "/fhir", std::string("abc\r\nX-Evil: 1"));
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kUnauthorized);
  EXPECT_TRUE(server.requests().empty());
}

TEST(FhirClientNetworkTest, ANextLinkToAnotherOriginIsNotFollowedAndGetsNoToken) {
  CannedHttpServer other([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{
        200, "application/fhir+json",
        R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Condition","id":"x"}}]})"};
  });
  const std::string next = other.origin() + "/fhir/Condition?page=2";
  CannedHttpServer ehr([&](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{
        200, "application/fhir+json",
        R"({"resourceType":"Bundle","type":"searchset","total":2,"link":[{"relation":"self","url":"x"},{"relation":"next","url":")" +
            next + R"("}],"entry":[{"resource":{"resourceType":"Condition","id":"a"}}]})"};
  });
  FhirClient client(ehr.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"c", "Condition?patient=1"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_TRUE(o.partial);
  EXPECT_THAT(o.partial_reason, HasSubstr("another origin"));
  EXPECT_EQ(EntryCount(o.document()), 1u);
  EXPECT_FALSE(HasLink(o.document(), "next"));
  EXPECT_TRUE(other.requests().empty()) << "nothing at all may reach the other origin";
  ASSERT_EQ(ehr.requests().size(), 1u);
  EXPECT_EQ(ehr.requests()[0].headers["authorization"], std::string("Bearer ") + kToken);
}

TEST(FhirClientNetworkTest, ANextLinkOnTheSameHostButAnotherPortIsAnotherOrigin) {
  CannedHttpServer other([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{200, "application/fhir+json", R"({"resourceType":"Bundle"})"};
  });
  CannedHttpServer ehr([&](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{
        200, "application/fhir+json",
        R"({"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"http://127.0.0.1:)" +
            std::to_string(other.port()) + R"(/fhir/Condition?p=2"}]})"};
  });
  FhirClient client(ehr.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"c", "Condition?patient=1"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_TRUE(o.partial);
  EXPECT_TRUE(other.requests().empty());
}

TEST(FhirClientNetworkTest, SameOriginRedirectsAreFollowedWithTheToken) {
  CannedHttpServer server([](const CannedHttpServer::Request& req) {
    if (req.target == "/fhir/Patient/old") {
      return CannedHttpServer::Response{301, "text/plain", "", {{"Location", "/fhir/Patient/new"}}};
    }
    return CannedHttpServer::Response{200, "application/fhir+json",
                                      R"({"resourceType":"Patient","id":"new"})"};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"p", "Patient/old"});
  ASSERT_TRUE(o.ok()) << Describe(o);
  EXPECT_EQ(json::GetString(o.document(), "id"), "new");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].headers["authorization"], std::string("Bearer ") + kToken);
}

TEST(FhirClientNetworkTest, ARedirectToAnotherOriginIsRefused) {
  CannedHttpServer other([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{200, "application/fhir+json", R"({"resourceType":"Patient"})"};
  });
  CannedHttpServer ehr([&](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{
        302, "text/plain", "", {{"Location", other.origin() + "/fhir/Patient/1?access_token=zzz"}}};
  });
  FhirClient client(ehr.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kCrossOrigin);
  EXPECT_THAT(o.error().message, Not(HasSubstr("zzz")));
  EXPECT_TRUE(other.requests().empty());
}

TEST(FhirClientNetworkTest, RedirectLoopsStopAfterTheLimit) {
  CannedHttpServer server([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{307, "text/plain", "", {{"Location", "/fhir/Patient/1"}}};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTooManyRedirects);
  EXPECT_EQ(server.requests().size(), 4u);  // the request and 3 redirects
}

// --- Bodies ---------------------------------------------------------------------------------------

std::string BigPatient(size_t bytes) {
  return R"({"resourceType":"Patient","id":"big","text":{"div":")" + std::string(bytes, 'x') +
         R"("}})";
}

TEST(FhirClientNetworkTest, AResponseOverTheCapIsAbortedAsTooLarge) {
  for (bool chunked : {false, true}) {  // with and without a Content-Length to check early
    CannedHttpServer server([&](const CannedHttpServer::Request&) {
      CannedHttpServer::Response r;
      r.body = BigPatient(2 << 20);
      r.chunked = chunked;
      return r;
    });
    FhirClient client(server.origin() + "/fhir", std::string(kToken),
                      {.max_response_bytes = 1 << 20});
    FetchOutcome o = client.Fetch({"p", "Patient/big"});
    ASSERT_FALSE(o.ok()) << "chunked=" << chunked;
    EXPECT_EQ(o.error().kind, FetchErrorKind::kTooLarge) << o.error().ToString();
  }
}

TEST(FhirClientNetworkTest, TheSizeCapCountsAllPagesOfOneQuery) {
  // Each page is ~400 KiB, under the 1 MiB cap, but three pages are not.
  CannedHttpServer server([&](const CannedHttpServer::Request& req) {
    EXPECT_EQ(req.target.rfind("/fhir/Condition?page=", 0), 0u) << req.target;
    std::string filler(400 << 10, 'x');
    int page = req.target.back() - '0';
    std::string next = page < 5 ? R"(,"link":[{"relation":"next","url":"/fhir/Condition?page=)" +
                                      std::to_string(page + 1) + R"("}])"
                                : "";
    return CannedHttpServer::Response{
        200, "application/fhir+json",
        R"({"resourceType":"Bundle","type":"searchset")" + next +
            R"(,"entry":[{"resource":{"resourceType":"Condition","id":")" + filler + R"("}}]})"};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken), {.max_response_bytes = 1 << 20});
  FetchOutcome o = client.Fetch({"c", "Condition?page=1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTooLarge);
}

TEST(FhirClientNetworkTest, InvalidJsonAndNonResourcesAreInvalidJson) {
  std::atomic<int> which{0};
  CannedHttpServer server([&](const CannedHttpServer::Request&) {
    const char* bodies[] = {R"({"resourceType":"Patient",)", "[1,2,3]", R"({"id":"no-type"})",
                            "<html>proxy error</html>"};
    return CannedHttpServer::Response{200, "application/fhir+json", bodies[which.load()]};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  for (int i = 0; i < 4; ++i) {
    which = i;
    FetchOutcome o = client.Fetch({"p", "Patient/1"});
    ASSERT_FALSE(o.ok()) << i;
    EXPECT_EQ(o.error().kind, FetchErrorKind::kInvalidJson) << i << ": " << o.error().ToString();
    EXPECT_EQ(o.error().http_status, 200);
  }
}

TEST(FhirClientNetworkTest, AnErrorOnALaterPageFailsTheWholeQuery) {
  CannedHttpServer server([&](const CannedHttpServer::Request& req) {
    if (req.target.find("page=2") != std::string::npos) {
      return CannedHttpServer::Response{500, "application/fhir+json", "{}"};
    }
    return CannedHttpServer::Response{
        200, "application/fhir+json",
        R"({"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"/fhir/Condition?page=2"}],"entry":[{"resource":{"resourceType":"Condition","id":"a"}}]})"};
  });
  FhirClient client(server.origin() + "/fhir", std::string(kToken));
  FetchOutcome o = client.Fetch({"c", "Condition?page=1"});
  ASSERT_FALSE(o.ok()) << "half a medication list must not pass for the whole list";
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[1].target, "/fhir/Condition?page=2") << "origin-relative next link";
  EXPECT_EQ(o.error().kind, FetchErrorKind::kServerError);
}

TEST(FhirClientNetworkTest, TlsToAPlainHttpServerIsATlsError) {
  CannedHttpServer server([](const CannedHttpServer::Request&) {
    return CannedHttpServer::Response{200, "application/fhir+json", "{}"};
  });
  FhirClient client("https://127.0.0.1:" + std::to_string(server.port()) + "/fhir",
                    std::string(kToken), {.deadline = 2000ms});
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTlsError) << o.error().ToString();
}

}  // namespace
}  // namespace cephalgia::fhir
