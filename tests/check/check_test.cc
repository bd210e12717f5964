// `cephalgia check` against real services: our own `cephalgia serve` process (every check
// passes, client JWTs included) and a small CDS service that breaks one rule at a time (the
// checks for that rule fail, with a clear message, and the others still pass). The checker runs
// as the real binary; reports are read back as JSON.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "broken_cds_service.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"
#include "cephalgia_process.h"

namespace cephalgia::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A loopback port nothing listens on (bound by the kernel's choice, then closed).
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

const std::string kSource = CEPHALGIA_SOURCE_DIR;

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 (name + "-" + std::to_string(::getpid()) + "-" + NewUuidV4().substr(0, 8));
  fs::create_directories(dir);
  return dir;
}

// A fresh EC P-384 private key in PEM, as a tester would make with `openssl ecparam`.
void WriteP384Key(const fs::path& path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  ASSERT_NE(key, nullptr);
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
  EVP_PKEY_free(key);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// A golden case's prefetch as one collection Bundle: FHIR data the checker can read.
void WriteCaseAsBundle(const std::string& case_file, const fs::path& out) {
  auto doc = json::ParseUntrusted(ReadFile(kSource + "/tests/rules/cases/" + case_file), 64u << 20);
  ASSERT_TRUE(doc.ok()) << case_file;
  const rapidjson::Value* prefetch = json::GetObject((*doc)["request"], "prefetch");
  ASSERT_NE(prefetch, nullptr);
  std::string entries;
  auto add = [&](const rapidjson::Value& r) {
    entries +=
        (entries.empty() ? "" : ",") + std::string(R"({"resource":)") + json::Serialize(r) + "}";
  };
  for (const auto& m : prefetch->GetObject()) {
    if (!m.value.IsObject()) continue;
    if (json::GetString(m.value, "resourceType") == "Bundle") {
      if (const rapidjson::Value* e = json::GetArray(m.value, "entry")) {
        for (const auto& entry : e->GetArray()) {
          if (const rapidjson::Value* r = json::GetObject(entry, "resource")) add(*r);
        }
      }
    } else {
      add(m.value);
    }
  }
  std::ofstream(out) << R"({"resourceType":"Bundle","type":"collection","entry":[)" << entries
                     << "]}";
}

// One check of a JSON report.
struct Check {
  std::string item, force, title, subject, result, note, evidence;  // evidence: all messages joined
};

struct Report {
  int exit_code = -1;
  std::string raw, err;
  std::vector<Check> checks;
  std::string result;
  std::vector<const Check*> With(const std::string& result_value) const {
    std::vector<const Check*> out;
    for (const Check& c : checks) {
      if (c.result == result_value) out.push_back(&c);
    }
    return out;
  }
  std::set<std::string> FailedItems() const {
    std::set<std::string> out;
    for (const Check* c : With("fail")) out.insert(c->item);
    return out;
  }
  std::string Describe(const std::string& result_value) const {
    std::string out;
    for (const Check* c : With(result_value)) {
      out += c->item + " " + c->title + " [" + c->subject + "]: " + c->note + c->evidence + "\n";
    }
    return out;
  }
  bool Has(const std::string& item, const std::string& result_value) const {
    for (const Check& c : checks) {
      if (c.item == item && c.result == result_value) return true;
    }
    return false;
  }
};

Report RunCheck(std::vector<std::string> args) {
  args.insert(args.begin(), "check");
  args.push_back("--report");
  args.push_back("json");
  ProcessResult p = RunCephalgia(args);
  Report r;
  r.exit_code = p.exit_code;
  r.raw = p.out;
  r.err = p.err;
  auto doc = json::ParseUntrusted(p.out, 64u << 20);
  if (!doc.ok()) {
    ADD_FAILURE() << "not a JSON report (exit " << p.exit_code << "): " << p.out << "\n" << p.err;
    return r;
  }
  if (const rapidjson::Value* s = json::GetObject(*doc, "summary")) {
    r.result = std::string(json::GetString(*s, "result").value_or(""));
  }
  if (const rapidjson::Value* checks = json::GetArray(*doc, "checks")) {
    for (const auto& c : checks->GetArray()) {
      Check k;
      k.item = std::string(json::GetString(c, "item").value_or(""));
      k.force = std::string(json::GetString(c, "force").value_or(""));
      k.title = std::string(json::GetString(c, "title").value_or(""));
      k.subject = std::string(json::GetString(c, "subject").value_or(""));
      k.result = std::string(json::GetString(c, "result").value_or(""));
      k.note = std::string(json::GetString(c, "note").value_or(""));
      if (const rapidjson::Value* ev = json::GetArray(c, "evidence")) {
        for (const auto& e : ev->GetArray()) {
          k.evidence += "\n    " + std::string(json::GetString(e, "request").value_or("")) +
                        " -> " + std::to_string(json::GetInt64(e, "status").value_or(0)) + " " +
                        std::string(json::GetString(e, "pointer").value_or("")) + " " +
                        std::string(json::GetString(e, "message").value_or(""));
        }
      }
      r.checks.push_back(std::move(k));
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Our own service.

class OwnServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(TempDir("cephalgia-check"));
    fs::create_directories(*dir_ / "data");
    // Four golden patients on the date and time the cases are written for: a thunderclap red flag,
    // a cervicogenic headache with a physiotherapy referral, a step-3 chronic migraine, and stage-4
    // kidney disease (the checker's ibuprofen draft order then gets an order-sign card).
    for (const char* c :
         {"001-thunderclap-snomed.json", "201-step1-pt-referral.json",
          "214-step3-pain-management.json", "603-order-sign-nsaid-draft-ckd4.json"}) {
      WriteCaseAsBundle(c, *dir_ / "data" / c);
    }
    WriteP384Key(*dir_ / "client-key.pem");
    ProcessResult jwks =
        RunCephalgia({"check", "--print-jwks", "--jwks-key", (*dir_ / "client-key.pem").string()});
    ASSERT_EQ(jwks.exit_code, 0) << jwks.err;
    std::ofstream(*dir_ / "clients.jwks.json") << jwks.out;
    auto server = CephalgiaServer::Start(
        {"--plugins", BuiltPackDir(), "--now", "2026-03-01T10:00:00Z", "--auth", "required",
         "--jwks", (*dir_ / "clients.jwks.json").string(), "--trusted-issuer", "cephalgia-check",
         "--data-dir", (*dir_ / "feedback").string()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    if (dir_ != nullptr) fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Base() { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  static fs::path* dir_;
  static CephalgiaServer* server_;
};
fs::path* OwnServiceTest::dir_ = nullptr;
CephalgiaServer* OwnServiceTest::server_ = nullptr;

// The whole run with client authentication: every check passes (latency aside, which depends on
// the machine and is a SHOULD), and the checks that matter ran, not only "n/a".
TEST_F(OwnServiceTest, EveryCheckPassesWithSignedClientTokens) {
  Report r = RunCheck({Base(), "--fhir-data", (*dir_ / "data").string(), "--max-patients", "4",
                       "--jwks-key", (*dir_ / "client-key.pem").string()});
  ASSERT_FALSE(r.checks.empty()) << r.raw << r.err;
  std::vector<const Check*> failed = r.With("fail");
  for (const Check* c : failed) {
    EXPECT_EQ(c->item, "E52") << "failed: " << c->item << " " << c->title << c->evidence;
  }
  EXPECT_EQ(r.exit_code, 0) << r.Describe("fail");
  EXPECT_EQ(r.result, "pass");
  // What must have been exercised, with a pass.
  for (const char* item :
       {"B11", "B13", "B15", "B16", "B17",  "D33",  "D38", "C24", "E50", "E42",  "G79", "C26",
        "I88", "C25", "H82", "H86", "K107", "J101", "J95", "J98", "J99", "J103", "A1",  "A2",
        "F54", "F58", "F59", "F61", "F62",  "F63",  "F65", "F66", "F72", "F77",  "F76"}) {
    EXPECT_TRUE(r.Has(item, "pass")) << item << " did not pass:\n"
                                     << r.Describe("fail") << r.Describe("n/a");
  }
  // Cards and suggested resources were really looked at: the four patients' cards on both hooks
  // (red flag, classification, order-sign) and their suggested ServiceRequests/deletions.
  // (The exact numbers are the pack's business; these are floors.)
  int answers = 0, cards = 0, resources = 0;
  for (const Check& c : r.checks) {
    if (c.item == "F59") std::sscanf(c.note.c_str(), "%d answers, %d cards", &answers, &cards);
    if (c.item == "F76") std::sscanf(c.note.c_str(), "%d resources validated", &resources);
  }
  EXPECT_EQ(answers, 8);  // 4 patients x 2 services, full prefetch
  EXPECT_GE(cards, 4);
  EXPECT_GE(resources, 3);
  // Nothing was left out: n/a is for what could not be run.
  EXPECT_TRUE(r.With("n/a").empty()) << r.Describe("n/a");
}

// Without a key the service refuses discovery, and the checker says what to do.
TEST_F(OwnServiceTest, WithoutAKeyTheCheckerSaysAuthenticationIsRequired) {
  Report r = RunCheck({Base(), "--fhir-data", (*dir_ / "data").string()});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_FALSE(r.checks.empty());
  EXPECT_EQ(r.checks.front().item, "B11");
  EXPECT_EQ(r.checks.front().result, "fail");
  EXPECT_THAT(r.checks.front().evidence,
              HasSubstr("requires client authentication: run again with --jwks-key"));
}

// The default run: no authentication, the Synthea sample from ../shared, the text report.
TEST(OwnServiceDefaultsTest, TheSyntheaSampleAndTextReportPass) {
  fs::path dir = TempDir("cephalgia-check-open");
  auto server = CephalgiaServer::Start(
      {"--plugins", BuiltPackDir(), "--data-dir", (dir / "feedback").string()});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  ProcessResult p = RunCephalgia({"check", base});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_THAT(p.out, HasSubstr("fhir-samples/synthea (20 patients)"));
  EXPECT_THAT(p.out, HasSubstr("RESULT: PASS"));
  EXPECT_THAT(p.out, HasSubstr("N/A   J95 MUST  a call without a token is refused"));
  // No check fails but, on a loaded machine, the latency SHOULD.
  std::istringstream lines(p.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("  FAIL  ") != std::string::npos) {
      EXPECT_THAT(line, HasSubstr("FAIL  E52 SHOULD")) << p.out;
    }
  }
  // JUnit: one testcase per check, the n/a ones skipped.
  ProcessResult x = RunCephalgia({"check", base, "--report", "junit", "--hook", "order-sign"});
  EXPECT_EQ(x.exit_code, 0) << x.out << x.err;
  EXPECT_THAT(x.out, HasSubstr("<testsuites name=\"cephalgia check\""));
  EXPECT_THAT(x.out, HasSubstr("classname=\"cds-hooks.K\""));
  EXPECT_THAT(x.out, HasSubstr("<skipped message=\"no --jwks-key given\"/>"));
  EXPECT_THAT(x.out, HasSubstr("[headache-order-sign (order-sign)]"));
  EXPECT_THAT(x.out,
              Not(HasSubstr("[headache-patient-view (patient-view)]")));  // --hook order-sign only
  fs::remove_all(dir);
}

TEST(CheckArgumentsTest, BadArgumentsAreExit2WithTheReason) {
  ProcessResult p = RunCephalgia({"check"});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_THAT(p.err, HasSubstr("BASE_URL is required"));
  p = RunCephalgia({"check", "http://127.0.0.1:1", "--report", "xml"});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_THAT(p.err, HasSubstr("--report must be text, json or junit"));
  p = RunCephalgia({"check", "http://127.0.0.1:1", "--jwks-key", "/nonexistent/key.pem"});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_THAT(p.err, HasSubstr("cannot read --jwks-key /nonexistent/key.pem"));
}

// Nothing listening: discovery fails with the transport's reason, exit 1.
TEST(CheckArgumentsTest, AServiceThatIsNotThereFailsDiscovery) {
  Report r = RunCheck({"http://127.0.0.1:" + std::to_string(UnusedPort()), "--fhir-data",
                       kSource + "/../shared/fhir-samples/hl7-r4-examples"});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.checks.size(), 1u) << r.raw;
  EXPECT_EQ(r.checks[0].item, "B11");
  EXPECT_THAT(r.checks[0].evidence, HasSubstr("no answer: "));
}

// ---------------------------------------------------------------------------------------------
// Broken services: each defect makes exactly its checks fail, with a message that says why.

Report CheckBroken(const BrokenCdsService::Defects& defects) {
  BrokenCdsService service(defects);
  return RunCheck(
      {service.base_url(), "--fhir-data", kSource + "/../shared/fhir-samples/hl7-r4-examples"});
}

const Check* Failed(const Report& r, const std::string& item) {
  for (const Check* c : r.With("fail")) {
    if (c->item == item) return c;
  }
  return nullptr;
}

TEST(BrokenServiceTest, WithoutDefectsTheTestServicePassesEverything) {
  Report r = CheckBroken({});
  EXPECT_EQ(r.exit_code, 0) << r.Describe("fail");
  // Both hooks were called with their own context (order-select: selections and draftOrders).
  int full_prefetch_calls = 0;
  for (const Check& c : r.checks) {
    if (c.item == "C24" && c.result == "pass") ++full_prefetch_calls;
  }
  EXPECT_EQ(full_prefetch_calls, 2) << r.Describe("pass");
  EXPECT_TRUE(r.FailedItems().empty() || r.FailedItems() == std::set<std::string>{"E52"})
      << r.Describe("fail");
  EXPECT_TRUE(r.Has("F76", "pass")) << r.Describe("n/a");  // its ServiceRequest was schema-checked
}

TEST(BrokenServiceTest, NoCorsFailsBothCorsChecks) {
  BrokenCdsService::Defects d;
  d.no_cors = true;
  Report r = CheckBroken(d);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"K107"})) << r.Describe("fail");
  EXPECT_EQ(r.With("fail").size(), 2u) << r.Describe("fail");  // preflight and actual answers
  const Check* k = Failed(r, "K107");
  ASSERT_NE(k, nullptr);
  EXPECT_THAT(r.Describe("fail"), HasSubstr("OPTIONS /cds-services (preflight for GET) -> 405"));
  EXPECT_THAT(r.Describe("fail"), HasSubstr("Access-Control-Allow-Origin ''"));
  EXPECT_THAT(r.Describe("fail"), HasSubstr("without Access-Control-Allow-Origin"));
}

TEST(BrokenServiceTest, HardStopIndicatorFailsF61AtItsPointer) {
  BrokenCdsService::Defects d;
  d.indicator = "hard-stop";
  Report r = CheckBroken(d);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"F61"})) << r.Describe("fail");
  const Check* c = Failed(r, "F61");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->evidence,
              HasSubstr("-> 200 /cards/0/indicator is 'hard-stop', not info|warning|critical"));
}

TEST(BrokenServiceTest, ServerErrorsOnMalformedCallsFailEachMalformedCheck) {
  BrokenCdsService::Defects d;
  d.server_error_on_malformed = true;
  Report r = CheckBroken(d);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"G79", "C26", "I88", "C25", "H86"}))
      << r.Describe("fail");
  const Check* c = Failed(r, "C26");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->evidence, HasSubstr("malformed: no hookInstance) -> 500"));
  EXPECT_THAT(c->evidence, HasSubstr("a server error for a client mistake"));
  // The unknown-service 404 is still right: only the malformed checks fail, on both services.
  EXPECT_EQ(r.With("fail").size(), 12u) << r.Describe("fail");  // 2 x (2 x G79, C26, I88, C25, H86)
}

TEST(BrokenServiceTest, AnInvalidSuggestedResourceFailsF76AtItsElement) {
  BrokenCdsService::Defects d;
  d.invalid_fhir_resource = true;
  Report r = CheckBroken(d);
  EXPECT_EQ(r.exit_code, 0) << r.Describe("fail");  // F76 is a SHOULD (checklist item 76)
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"F76"})) << r.Describe("fail");
  const Check* c = Failed(r, "F76");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->evidence,
              HasSubstr("-> 200 /cards/0/suggestions/0/actions/0/resource violates required"));
}

TEST(BrokenServiceTest, AServerErrorWithoutPrefetchFailsE50AndE42) {
  BrokenCdsService::Defects d;
  d.server_error_without_prefetch = true;
  Report r = CheckBroken(d);
  EXPECT_EQ(r.exit_code, 1);
  // Both services, both calls without a patient (the malformed calls are refused before).
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"E50", "E42"})) << r.Describe("fail");
  const Check* c = Failed(r, "E50");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->evidence, HasSubstr("no prefetch, fhirServer http://127.0.0.1:"));
  EXPECT_THAT(c->evidence, HasSubstr("unreachable) -> 500"));
}

// A service that never looks at the Authorization header: with --jwks-key every refusal check
// fails, and the good token's check passes.
TEST(BrokenServiceTest, AServiceThatAcceptsAnyTokenFailsEveryRefusalCheck) {
  fs::path dir = TempDir("cephalgia-check-anytoken");
  WriteP384Key(dir / "key.pem");
  BrokenCdsService service({});
  Report r = RunCheck({service.base_url(), "--fhir-data",
                       kSource + "/../shared/fhir-samples/hl7-r4-examples", "--jwks-key",
                       (dir / "key.pem").string()});
  fs::remove_all(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"J95", "J98", "J99", "J101", "J103"}))
      << r.Describe("fail");
  EXPECT_EQ(r.With("fail").size(), 6u)
      << r.Describe("fail");           // no token, aud, none, unknown key, expired, replay
  EXPECT_TRUE(r.Has("J101", "pass"));  // the good token
  EXPECT_THAT(r.Describe("fail"), HasSubstr("alg none) -> 200"));
  EXPECT_THAT(r.Describe("fail"), HasSubstr("never saw) -> 200  accepted (200)"));
}

TEST(BrokenServiceTest, OverLongSummaryFailsF59WithItsLength) {
  BrokenCdsService::Defects d;
  d.summary_length = 200;
  Report r = CheckBroken(d);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.FailedItems(), (std::set<std::string>{"F59"})) << r.Describe("fail");
  const Check* c = Failed(r, "F59");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->evidence, HasSubstr("/cards/0/summary has 200 characters (must be < 140)"));
}

}  // namespace
}  // namespace cephalgia::test
