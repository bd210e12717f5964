// The 20 Synthea charts of ../shared/fhir-samples/synthea, each opened with `patient-view` on the
// day of its last Encounter, as a clinician would (issue 11). Which charts have a current headache
// comes from tests/rules/synthea-headache-review.json, reviewed by reading each chart against
// knowledge.md §0, never from the engine. Every chart without a current headache must get zero
// cards (§0); every chronic-migraine chart is classified migraine with no trauma and no
// progressive red flag (§0.1). The same requests go through the real `cephalgia evaluate --now`
// binary, which must reach the same verdict and the same cards.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cephalgia/json.h"
#include "cephalgia/uuid.h"
#include "cephalgia_process.h"
#include "golden/golden_case.h"
#include "test_support.h"

namespace cephalgia::rules {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;

const std::string kSyntheaDir = std::string(CEPHALGIA_SHARED_DIR) + "/fhir-samples/synthea";
const std::string kReviewFile =
    std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/synthea-headache-review.json";

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  return d;
}

std::string Str(const rapidjson::Value& v, const char* key) {
  const rapidjson::Value* m = json::Find(v, key);
  return m != nullptr && m->IsString() ? m->GetString() : std::string();
}

// One reviewed chart of synthea-headache-review.json.
struct ReviewedChart {
  std::string file;
  std::string patient_id;
  std::string evaluated_at;
  bool current_headache = false;
  std::string classification;  // "migraine" for the chronic-migraine charts
};

void PrintTo(const ReviewedChart& chart, std::ostream* os) { *os << chart.file; }

std::vector<ReviewedChart> LoadReview() {
  std::vector<ReviewedChart> out;
  rapidjson::Document d = Parse(ReadTextFile(kReviewFile));
  const rapidjson::Value* patients = d.IsObject() ? json::GetArray(d, "patients") : nullptr;
  if (patients == nullptr) return out;
  for (const rapidjson::Value& p : patients->GetArray()) {
    ReviewedChart c;
    c.file = Str(p, "file");
    c.patient_id = Str(p, "patientId");
    c.evaluated_at = Str(p, "evaluatedAt");
    const rapidjson::Value* current = json::Find(p, "currentHeadache");
    c.current_headache = current != nullptr && current->IsBool() && current->GetBool();
    c.classification = Str(p, "classification");
    out.push_back(std::move(c));
  }
  return out;
}

const std::vector<ReviewedChart>& Review() {
  static const std::vector<ReviewedChart> review = LoadReview();
  return review;
}

// The prefetch key the headache services advertise for each resource type.
const std::map<std::string, std::string>& PrefetchKeyOf() {
  static const std::map<std::string, std::string> keys = {
      {"Condition", "conditions"},
      {"Observation", "observations"},
      {"MedicationRequest", "medicationRequests"},
      {"MedicationStatement", "medicationStatements"},
      {"Procedure", "procedures"},
      {"ServiceRequest", "serviceRequests"},
      {"AllergyIntolerance", "allergies"}};
  return keys;
}

// A patient-view request as an EHR would send it for this chart: Patient plus one searchset Bundle
// per advertised prefetch key (empty when the chart has none of that type).
std::string PatientViewRequest(const rapidjson::Document& bundle, const std::string& patient_id) {
  rapidjson::Document request(rapidjson::kObjectType);
  auto& a = request.GetAllocator();
  request.AddMember("hook", "patient-view", a);
  request.AddMember("hookInstance", rapidjson::Value(NewUuidV4().c_str(), a), a);
  rapidjson::Value context(rapidjson::kObjectType);
  context.AddMember("userId", "Practitioner/synthea-review", a);
  context.AddMember("patientId", rapidjson::Value(patient_id.c_str(), a), a);
  request.AddMember("context", context, a);

  std::map<std::string, rapidjson::Value> searchsets;
  for (const auto& [type, key] : PrefetchKeyOf()) {
    rapidjson::Value b(rapidjson::kObjectType);
    b.AddMember("resourceType", "Bundle", a);
    b.AddMember("type", "searchset", a);
    b.AddMember("entry", rapidjson::Value(rapidjson::kArrayType), a);
    searchsets.emplace(key, std::move(b));
  }
  rapidjson::Value patient(rapidjson::kObjectType);
  const rapidjson::Value* entries = json::GetArray(bundle, "entry");
  static const rapidjson::Value kNoEntries(rapidjson::kArrayType);
  for (const rapidjson::Value& entry : (entries != nullptr ? *entries : kNoEntries).GetArray()) {
    const rapidjson::Value* r = json::GetObject(entry, "resource");
    if (r == nullptr) continue;
    std::string type = Str(*r, "resourceType");
    if (type == "Patient") {
      patient.CopyFrom(*r, a);
      continue;
    }
    auto key = PrefetchKeyOf().find(type);
    if (key == PrefetchKeyOf().end()) continue;
    rapidjson::Value e(rapidjson::kObjectType);
    e.AddMember("fullUrl", rapidjson::Value((type + "/" + Str(*r, "id")).c_str(), a), a);
    e.AddMember("resource", rapidjson::Value(*r, a), a);
    rapidjson::Value search(rapidjson::kObjectType);
    search.AddMember("mode", "match", a);
    e.AddMember("search", search, a);
    searchsets[key->second]["entry"].PushBack(e, a);
  }
  rapidjson::Value prefetch(rapidjson::kObjectType);
  prefetch.AddMember("patient", patient, a);
  for (auto& [key, b] : searchsets) {
    b.AddMember("total", b["entry"].Size(), a);
    prefetch.AddMember(rapidjson::Value(key.c_str(), a), b, a);
  }
  request.AddMember("prefetch", prefetch, a);
  return json::Serialize(request);
}

// "topic/indicator" of every card, in order.
std::vector<std::string> Cards(const rapidjson::Value& response) {
  std::vector<std::string> out;
  const rapidjson::Value* cards = json::GetArray(response, "cards");
  if (cards == nullptr) return out;
  for (const auto& card : cards->GetArray()) {
    const rapidjson::Value* source = json::GetObject(card, "source");
    const rapidjson::Value* topic = source != nullptr ? json::GetObject(*source, "topic") : nullptr;
    out.push_back((topic != nullptr ? Str(*topic, "code") : std::string("?")) + "/" +
                  Str(card, "indicator"));
  }
  return out;
}

// What the review says the answer must be. Empty = the verdict holds.
std::vector<std::string> VerdictProblems(const ReviewedChart& chart,
                                         const rapidjson::Value& response) {
  std::vector<std::string> problems;
  std::vector<std::string> cards = Cards(response);
  auto has = [&](const std::string& topic) {
    for (const std::string& c : cards) {
      if (c.rfind(topic + "/", 0) == 0) return true;
    }
    return false;
  };
  std::string got;
  for (const std::string& c : cards) got += " " + c;
  if (!chart.current_headache) {
    if (!cards.empty()) problems.push_back("no current headache (§0) but cards:" + got);
    return problems;
  }
  if (!chart.classification.empty() && !has(chart.classification)) {
    problems.push_back("not classified " + chart.classification + ":" + got);
  }
  for (const char* topic : {"head_neck_trauma", "progressive_or_refractory"}) {
    if (has(topic)) problems.push_back(std::string(topic) + " fired (§0.1):" + got);
  }
  return problems;
}

// The review covers exactly the sample, and its ids and dates are the charts' own.
TEST(SyntheaReview, CoversEveryChartWithItsOwnPatientAndLastEncounter) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kSyntheaDir)) {
    if (e.path().extension() == ".json") files.push_back(e.path().filename().string());
  }
  ASSERT_EQ(files.size(), 20u);
  ASSERT_EQ(Review().size(), files.size()) << kReviewFile;
  for (const ReviewedChart& chart : Review()) {
    SCOPED_TRACE(chart.file);
    ASSERT_TRUE(fs::exists(kSyntheaDir + "/" + chart.file));
    rapidjson::Document bundle = Parse(ReadTextFile(kSyntheaDir + "/" + chart.file));
    const rapidjson::Value* entries = bundle.IsObject() ? json::GetArray(bundle, "entry") : nullptr;
    ASSERT_NE(entries, nullptr);
    std::string patient_id, last_end;
    for (const rapidjson::Value& entry : entries->GetArray()) {
      const rapidjson::Value* resource = json::GetObject(entry, "resource");
      if (resource == nullptr) continue;
      const rapidjson::Value& r = *resource;
      std::string type = Str(r, "resourceType");
      if (type == "Patient") patient_id = Str(r, "id");
      if (type == "Encounter") {
        const rapidjson::Value* period = json::GetObject(r, "period");
        std::string end = period != nullptr ? Str(*period, "end") : std::string();
        if (end > last_end) last_end = end;
      }
    }
    EXPECT_EQ(chart.patient_id, patient_id);
    EXPECT_EQ(chart.evaluated_at, last_end);
  }
  int with_headache = 0;
  for (const ReviewedChart& chart : Review()) with_headache += chart.current_headache ? 1 : 0;
  EXPECT_EQ(with_headache, 8)
      << "the review found 8 chronic-migraine charts and 12 without headache";
}

class SyntheaPopulationTest : public ::testing::TestWithParam<ReviewedChart> {};

TEST_P(SyntheaPopulationTest, LastEncounterAnswerFollowsTheReview) {
  const ReviewedChart& chart = GetParam();
  rapidjson::Document bundle = Parse(ReadTextFile(kSyntheaDir + "/" + chart.file));
  ASSERT_TRUE(bundle.IsObject() && json::GetArray(bundle, "entry") != nullptr) << chart.file;
  std::string request = PatientViewRequest(bundle, chart.patient_id);

  auto in_process = EvaluateRequest("headache-patient-view", request, chart.evaluated_at);
  ASSERT_TRUE(in_process.ok()) << in_process.status().ToString();
  rapidjson::Document engine_doc = Parse(*in_process);
  ASSERT_TRUE(engine_doc.IsObject() && json::GetArray(engine_doc, "cards") != nullptr)
      << *in_process;
  EXPECT_THAT(VerdictProblems(chart, engine_doc), IsEmpty()) << "in-process";
  rapidjson::Document request_doc = Parse(request);
  EXPECT_THAT(cephalgia::testing::CheckResponseInvariants(request_doc, engine_doc), IsEmpty());

  cephalgia::test::ProcessResult cli = cephalgia::test::RunCephalgia(
      {"evaluate", "--now", chart.evaluated_at, "--service", "headache-patient-view", "--plugins",
       cephalgia::test::BuiltPackDir(), "-"},
      request);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  rapidjson::Document cli_doc = Parse(cli.out);
  ASSERT_TRUE(cli_doc.IsObject() && json::GetArray(cli_doc, "cards") != nullptr) << cli.out;
  EXPECT_THAT(VerdictProblems(chart, cli_doc), IsEmpty()) << "via cephalgia evaluate";
  EXPECT_EQ(Cards(cli_doc), Cards(engine_doc)) << "the binary and the engine disagree";

  // And over HTTP, as an EHR calls it (a server per chart: each is opened on its own date).
  auto server = cephalgia::test::CephalgiaServer::Start(
      {"--now", chart.evaluated_at, "--plugins", cephalgia::test::BuiltPackDir()});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  cephalgia::test::HttpResult http = cephalgia::test::HttpCall(
      "POST", (*server)->url("/cds-services/headache-patient-view"), request);
  ASSERT_EQ(http.status, 200) << http.body;
  rapidjson::Document http_doc = Parse(http.body);
  ASSERT_TRUE(http_doc.IsObject() && json::GetArray(http_doc, "cards") != nullptr) << http.body;
  EXPECT_THAT(VerdictProblems(chart, http_doc), IsEmpty()) << "via HTTP";
  EXPECT_EQ(Cards(http_doc), Cards(engine_doc)) << "HTTP and the engine disagree";
}

std::string ChartName(const ::testing::TestParamInfo<ReviewedChart>& info) {
  std::string name =
      info.param.file.substr(0, info.param.file.find('_', info.param.file.find('_') + 1));
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Charts, SyntheaPopulationTest, ::testing::ValuesIn(Review()), ChartName);

}  // namespace
}  // namespace cephalgia::rules
