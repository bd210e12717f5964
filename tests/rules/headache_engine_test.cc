// Tests of the headache engine beyond the golden cases: knowledge validation errors (file +
// JSON Pointer, in-process and through the real plugin .so), the final safety filter, FHIR R4
// schema validity of every emitted resource, the Synthea patients, and two properties over all
// golden cases (entered-in-error data never changes the output; a red flag never lowers the
// highest indicator).
#include "cephalgia/rules/headache_engine.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "cephalgia/hooks/check/fhir_schema.h"
#include "cephalgia/json.h"
#include "cephalgia/plugin/rule_pack_abi.h"
#include "cephalgia/uuid.h"
#include "golden/golden_case.h"
#include "test_support.h"

namespace cephalgia::rules {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

rapidjson::Document ParseOrDie(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError());
  return d;
}

// A private copy of the pack data (knowledge + schema) that a test may break.
class DataCopy {
 public:
  DataCopy() {
    root_ = fs::temp_directory_path() / ("headache-test-" + NewUuidV4());
    fs::create_directories(root_ / "headache");
    fs::copy(SourceDataDir() + "/knowledge", root_ / "headache" / "knowledge",
             fs::copy_options::recursive);
    fs::copy(SourceDataDir() + "/schema", root_ / "headache" / "schema",
             fs::copy_options::recursive);
  }
  ~DataCopy() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string pack_dir() const { return root_.string(); }
  std::string data_dir() const { return (root_ / "headache").string(); }
  // Edits knowledge/<file> as a JSON document.
  void Edit(const std::string& file, const std::function<void(rapidjson::Document&)>& edit) {
    fs::path p = root_ / "headache" / "knowledge" / file;
    rapidjson::Document d = ParseOrDie(ReadText(p));
    edit(d);
    WriteText(p, json::Serialize(d));
  }

 private:
  fs::path root_;
};

std::string Indicator(const rapidjson::Value& response) {
  int best = -1;
  for (const auto& c : response["cards"].GetArray()) {
    std::string_view i = c["indicator"].GetString();
    best = std::max(best, i == "critical" ? 2 : i == "warning" ? 1 : 0);
  }
  return best == 2 ? "critical" : best == 1 ? "warning" : best == 0 ? "info" : "none";
}

int Rank(const std::string& i) {
  return i == "critical" ? 2 : i == "warning" ? 1 : i == "info" ? 0 : -1;
}

// The response with every uuid blanked, for comparing two evaluations.
std::string WithoutUuids(const std::string& response) {
  rapidjson::Document d = ParseOrDie(response);
  std::function<void(rapidjson::Value&)> walk = [&](rapidjson::Value& v) {
    if (v.IsObject()) {
      for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
        if (std::string_view(m->name.GetString()) == "uuid")
          m->value.SetString("-");
        else
          walk(m->value);
      }
    } else if (v.IsArray()) {
      for (auto& e : v.GetArray()) walk(e);
    }
  };
  walk(d);
  return json::Serialize(d);
}

const char* kFirstCase = "001-thunderclap-snomed.json";

cephalgia::testing::GoldenCase LoadCase(const std::string& file) {
  auto c = cephalgia::testing::LoadGoldenCase(std::string(CEPHALGIA_SOURCE_DIR) +
                                              "/tests/rules/cases/" + file);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

// ---------------------------------------------------------------------------------------------

TEST(HeadacheDescriptor, HasTheFixedServicesAndPrefetch) {
  rapidjson::Document d = ParseOrDie(Engine().Describe());
  EXPECT_STREQ(d["packId"].GetString(), "org.cephalgia.headache");
  EXPECT_EQ(d["knowledgeVersion"].GetString(), Engine().knowledge_version());
  ASSERT_EQ(d["services"].Size(), 2u);
  const auto& pv = d["services"][0];
  EXPECT_STREQ(pv["id"].GetString(), "headache-patient-view");
  EXPECT_STREQ(pv["hook"].GetString(), "patient-view");
  EXPECT_STREQ(d["services"][1]["id"].GetString(), "headache-order-sign");
  EXPECT_STREQ(d["services"][1]["hook"].GetString(), "order-sign");
  for (const auto& s : d["services"].GetArray()) {
    EXPECT_STREQ(s["prefetch"]["patient"].GetString(), "Patient/{{context.patientId}}");
    EXPECT_STREQ(s["prefetch"]["medicationStatements"].GetString(),
                 "MedicationStatement?patient={{context.patientId}}");
    EXPECT_STREQ(s["prefetch"]["allergies"].GetString(),
                 "AllergyIntolerance?patient={{context.patientId}}");
    ASSERT_EQ(s["requiredPrefetch"].Size(), 1u);
    EXPECT_STREQ(s["requiredPrefetch"][0].GetString(), "patient");
  }
}

TEST(HeadacheKnowledge, SchemaViolationNamesFileAndPointer) {
  DataCopy copy;
  copy.Edit("red-flags.json",
            [](rapidjson::Document& d) { d["flags"][3]["tier"].SetString("SOON"); });
  auto engine = HeadacheEngine::Load(copy.data_dir());
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr("red-flags.json#/flags/3/tier"));
  EXPECT_THAT(engine.status().message(), HasSubstr("enum"));
}

TEST(HeadacheKnowledge, UnknownFindingNamesFileAndPointer) {
  DataCopy copy;
  copy.Edit("red-flags.json", [](rapidjson::Document& d) {
    d["flags"][0]["when"]["finding"].SetString("no_such_finding");
  });
  auto engine = HeadacheEngine::Load(copy.data_dir());
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(),
              HasSubstr("red-flags.json#/flags/0/when/finding: unknown finding 'no_such_finding'"));
}

// A cue phrase that begins with another set's phrase would hide it (at one position the lexicon
// keeps only the longest phrase): the pack refuses it and names both.
TEST(HeadacheKnowledge, ACueThatBeginsWithAnotherSetsPhraseIsRefused) {
  DataCopy copy;
  copy.Edit("valuesets.json", [](rapidjson::Document& d) {
    for (auto& set : d["valueSets"].GetArray()) {
      if (std::string_view(set["id"].GetString()) != "valsalva") continue;
      set["cues"]["phrases"].PushBack("neck stiffness when coughing", d.GetAllocator());
    }
  });
  auto engine = HeadacheEngine::Load(copy.data_dir());
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr("neck stiffness when coughing"));
  EXPECT_THAT(engine.status().message(), HasSubstr("begins with \"neck stiffness\""));
  EXPECT_THAT(engine.status().message(), HasSubstr("would hide it"));
}

TEST(HeadacheKnowledge, OverlongSummaryAndVersionMismatchAreRefused) {
  {
    DataCopy copy;
    copy.Edit("safety.json", [](rapidjson::Document& d) {
      d["cards"][1]["summary"].SetString(std::string(140, 'x').c_str(), d.GetAllocator());
    });
    auto engine = HeadacheEngine::Load(copy.data_dir());
    ASSERT_FALSE(engine.ok());
    EXPECT_THAT(engine.status().message(), HasSubstr("safety.json#/cards/1/summary"));
  }
  {
    DataCopy copy;
    copy.Edit("ladder.json",
              [](rapidjson::Document& d) { d["knowledgeVersion"].SetString("1999.1.1"); });
    auto engine = HeadacheEngine::Load(copy.data_dir());
    ASSERT_FALSE(engine.ok());
    EXPECT_THAT(engine.status().message(), HasSubstr("ladder.json#/knowledgeVersion"));
  }
  {
    DataCopy copy;
    copy.Edit("orders.json", [](rapidjson::Document& d) {
      d["orders"][0].AddMember("extra", 1, d.GetAllocator());
    });
    auto engine = HeadacheEngine::Load(copy.data_dir());
    ASSERT_FALSE(engine.ok());
    EXPECT_THAT(engine.status().message(), HasSubstr("orders.json#/orders/0"));
    EXPECT_THAT(engine.status().message(), HasSubstr("additionalProperties"));
  }
}

// The real plugin: dlopen the built .so, create it over good and broken data.
class HeadachePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string so = std::string(CEPHALGIA_PACK_DIR) + "/cephalgia_headache.so";
    handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    auto init =
        reinterpret_cast<cephalgia_rule_pack_init_fn>(dlsym(handle_, CEPHALGIA_RULE_PACK_ENTRY));
    ASSERT_NE(init, nullptr);
    pack_ = init(nullptr);
    ASSERT_NE(pack_, nullptr);
  }
  void TearDown() override {
    if (handle_ != nullptr) dlclose(handle_);
  }
  cephalgia_pack_code Create(const std::string& pack_dir, cephalgia_pack_instance** inst,
                             std::string* error) {
    std::string config = "{\"packDirectory\":\"" + pack_dir + "\",\"config\":{}}";
    cephalgia_buffer err{nullptr, 0};
    cephalgia_pack_code code = pack_->create(config.data(), config.size(), inst, &err);
    if (err.data != nullptr) *error = std::string(err.data, err.size);
    pack_->free_buffer(&err);
    return code;
  }
  void* handle_ = nullptr;
  const cephalgia_rule_pack_v1* pack_ = nullptr;
};

TEST_F(HeadachePlugin, CreatesFromItsBuildDirectoryAndEvaluates) {
  EXPECT_EQ(pack_->abi_major, CEPHALGIA_RULE_PACK_ABI_MAJOR);
  EXPECT_STREQ(pack_->pack_id, "org.cephalgia.headache");
  cephalgia_pack_instance* inst = nullptr;
  std::string error;
  ASSERT_EQ(Create(CEPHALGIA_PACK_DIR, &inst, &error), CEPHALGIA_PACK_OK) << error;
  cephalgia_buffer out{nullptr, 0};
  ASSERT_EQ(pack_->describe(inst, &out), CEPHALGIA_PACK_OK);
  EXPECT_THAT(std::string(out.data, out.size), HasSubstr("headache-order-sign"));
  pack_->free_buffer(&out);
  cephalgia::testing::GoldenCase c = LoadCase(kFirstCase);
  std::string options = "{\"now\":\"" + c.now + "\"}";
  ASSERT_EQ(pack_->evaluate(inst, "headache-patient-view", c.request_json.data(),
                            c.request_json.size(), options.data(), options.size(), &out),
            CEPHALGIA_PACK_OK);
  rapidjson::Document response = ParseOrDie(std::string(out.data, out.size));
  pack_->free_buffer(&out);
  EXPECT_THAT(cephalgia::testing::CheckGoldenCase(c.json, response), IsEmpty());
  EXPECT_EQ(pack_->evaluate(inst, "no-such-service", "{}", 2, "{}", 2, &out),
            CEPHALGIA_PACK_NOT_FOUND);
  pack_->free_buffer(&out);
  pack_->destroy(inst);
}

TEST_F(HeadachePlugin, BrokenKnowledgeStopsCreateWithFileAndPointer) {
  DataCopy copy;
  copy.Edit("red-flags.json",
            [](rapidjson::Document& d) { d["flags"][3]["tier"].SetString("SOON"); });
  cephalgia_pack_instance* inst = nullptr;
  std::string error;
  EXPECT_NE(Create(copy.pack_dir(), &inst, &error), CEPHALGIA_PACK_OK);
  EXPECT_EQ(inst, nullptr);
  EXPECT_THAT(error, HasSubstr("red-flags.json#/flags/3/tier"));
}

// ---------------------------------------------------------------------------------------------
// The final safety filter must hold even when the knowledge itself proposes forbidden orders.
TEST(HeadacheSafetyFilter, RemovesForbiddenSuggestionsTheKnowledgeProposes) {
  DataCopy copy;
  copy.Edit("orders.json", [](rapidjson::Document& d) {
    auto& a = d.GetAllocator();
    rapidjson::Document extra = ParseOrDie(
        R"([{"id":"neck_manipulation","resourceType":"ServiceRequest","code":{"system":"http://snomed.info/sct","code":"399010004","display":"Manipulation of the cervical spine"},"label":"Manipulate the neck"},
            {"id":"oxycodone","resourceType":"MedicationRequest","code":{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7804","display":"oxycodone"},"label":"Oxycodone","dosage":"5 mg"}])");
    for (auto& o : extra.GetArray()) d["orders"].PushBack(rapidjson::Value(o, a), a);
  });
  copy.Edit("red-flags.json", [](rapidjson::Document& d) {
    auto& a = d.GetAllocator();
    d["flags"][0]["orders"].PushBack("neck_manipulation", a).PushBack("oxycodone", a);
  });
  copy.Edit("ladder.json", [](rapidjson::Document& d) {
    auto& a = d.GetAllocator();
    d["steps"][0]["orders"]
        .PushBack("oxycodone", a)
        .PushBack("mri_brain", a)
        .PushBack("neck_manipulation", a);
  });
  auto engine = HeadacheEngine::Load(copy.data_dir());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  for (const char* file : {"001-thunderclap-snomed.json", "201-step1-pt-referral.json"}) {
    cephalgia::testing::GoldenCase c = LoadCase(file);
    auto response = EvaluateCaseWith(**engine, c);
    ASSERT_TRUE(response.ok());
    EXPECT_THAT(*response, ::testing::Not(HasSubstr("\"399010004\""))) << file;
    EXPECT_THAT(*response, ::testing::Not(HasSubstr("\"7804\""))) << file;
    // What was held back is said in the card and kept in the evidence extension.
    EXPECT_THAT(*response, HasSubstr("**Not suggested:**")) << file;
    EXPECT_THAT(*response, HasSubstr("\"notSuggested\"")) << file;
    rapidjson::Document doc = ParseOrDie(*response);
    EXPECT_THAT(cephalgia::testing::CheckGoldenCase(c.json, doc), IsEmpty()) << file;
  }
  // Case 201 has no red flag: the MRI the broken ladder proposes must be filtered too.
  cephalgia::testing::GoldenCase c = LoadCase("201-step1-pt-referral.json");
  auto response = EvaluateCaseWith(**engine, c);
  ASSERT_TRUE(response.ok());
  EXPECT_THAT(*response, ::testing::Not(HasSubstr("\"816077007\"")));
  EXPECT_THAT(*response, HasSubstr("308447003"));  // the PT referral itself stays
}

// ---------------------------------------------------------------------------------------------
// FHIR R4 JSON schema: the same validator `cephalgia check` and the conformance test use.
TEST(HeadacheFhirOutput, EveryEmittedResourceValidatesAgainstTheR4Schema) {
  auto loaded = hooks::check::FhirSchemaValidator::Load(std::string(CEPHALGIA_SHARED_DIR) +
                                                        "/fhir-r4-json-schema/fhir.schema.json");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  hooks::check::FhirSchemaValidator& schema = **loaded;
  // The validator must be able to fail.
  rapidjson::Document bad = ParseOrDie(
      R"({"resourceType":"ServiceRequest","status":"draft","intent":"proposal","priority":"stat","subject":{"reference":"Patient/1"},"reasonText":"x"})");
  EXPECT_NE(schema.Check(bad), "");
  rapidjson::Document bad2 = ParseOrDie(
      R"({"resourceType":"MedicationRequest","status":"draft","intent":"proposal","subject":{"reference":"Patient/1"},"dosageInstruction":"twice"})");
  EXPECT_NE(schema.Check(bad2), "");
  int checked = 0;
  std::set<std::string> types;
  for (const std::string& file : CaseFiles()) {
    auto c = cephalgia::testing::LoadGoldenCase(file);
    ASSERT_TRUE(c.ok());
    auto response = EvaluateCase(*c);
    ASSERT_TRUE(response.ok()) << file;
    rapidjson::Document doc = ParseOrDie(*response);
    for (const rapidjson::Value* r : cephalgia::testing::CreatedResources(doc)) {
      std::string type = (*r)["resourceType"].GetString();
      types.insert(type);
      ASSERT_TRUE(type == "ServiceRequest" || type == "MedicationRequest") << type;
      EXPECT_EQ(schema.Check(*r), "") << file << ": " << json::Serialize(*r);
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
  EXPECT_EQ(types.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
TEST(HeadacheSynthea, EveryPatientBundleRunsWithoutError) {
  int patients = 0;
  for (const auto& e :
       fs::directory_iterator(std::string(CEPHALGIA_SHARED_DIR) + "/fhir-samples/synthea")) {
    if (e.path().extension() != ".json") continue;
    rapidjson::Document bundle = ParseOrDie(ReadText(e.path()));
    std::string patient_id;
    for (const auto& entry : bundle["entry"].GetArray()) {
      const auto& r = entry["resource"];
      if (std::string_view(r["resourceType"].GetString()) == "Patient")
        patient_id = r["id"].GetString();
    }
    ASSERT_FALSE(patient_id.empty()) << e.path();
    rapidjson::Document request(rapidjson::kObjectType);
    auto& a = request.GetAllocator();
    request.AddMember("hook", "patient-view", a);
    request.AddMember("hookInstance", rapidjson::Value(NewUuidV4().c_str(), a), a);
    rapidjson::Value context(rapidjson::kObjectType);
    context.AddMember("userId", "Practitioner/synthea", a);
    context.AddMember("patientId", rapidjson::Value(patient_id.c_str(), a), a);
    request.AddMember("context", context, a);
    rapidjson::Value prefetch(rapidjson::kObjectType);
    prefetch.AddMember("everything", rapidjson::Value(bundle, a), a);
    request.AddMember("prefetch", prefetch, a);
    std::string text = json::Serialize(request);
    auto response = EvaluateRequest("headache-patient-view", text);
    ASSERT_TRUE(response.ok()) << e.path() << ": " << response.status().ToString();
    rapidjson::Document doc = ParseOrDie(*response);
    EXPECT_THAT(cephalgia::testing::CheckResponseInvariants(request, doc), IsEmpty()) << e.path();
    auto order_sign = EvaluateRequest("headache-order-sign", text);
    ASSERT_TRUE(order_sign.ok()) << e.path();
    ++patients;
  }
  EXPECT_EQ(patients, 20);
}

// ---------------------------------------------------------------------------------------------
// Properties over every golden case.
std::string WithExtraPrefetch(const std::string& request_json, const std::string& key,
                              const std::string& bundle_json) {
  rapidjson::Document d = ParseOrDie(request_json);
  rapidjson::Document extra = ParseOrDie(bundle_json);
  auto& a = d.GetAllocator();
  if (!d.HasMember("prefetch") || !d["prefetch"].IsObject()) {
    d.RemoveMember("prefetch");
    d.AddMember("prefetch", rapidjson::Value(rapidjson::kObjectType), a);
  }
  d["prefetch"].AddMember(rapidjson::Value(key.c_str(), a), rapidjson::Value(extra, a), a);
  return json::Serialize(d);
}

std::string PatientOf(const cephalgia::testing::GoldenCase& c) {
  return c.json["request"]["context"]["patientId"].GetString();
}

TEST(HeadacheProperties, EnteredInErrorDataNeverChangesTheOutput) {
  for (const std::string& file : CaseFiles()) {
    auto c = cephalgia::testing::LoadGoldenCase(file);
    ASSERT_TRUE(c.ok());
    std::string p = PatientOf(*c);
    std::string eie =
        R"({"resourceType":"Bundle","type":"searchset","entry":[
      {"resource":{"resourceType":"Condition","id":"eie-1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
        "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"entered-in-error"}]},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"95660002","display":"Thunderclap headache"}]},"subject":{"reference":"Patient/)" +
        p + R"("}}},
      {"resource":{"resourceType":"Observation","id":"eie-2","status":"entered-in-error","code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},
        "subject":{"reference":"Patient/)" +
        p +
        R"("},"effectiveDateTime":"2026-02-28T10:00:00Z","valueQuantity":{"value":39.6,"unit":"Cel","system":"http://unitsofmeasure.org","code":"Cel"}}},
      {"resource":{"resourceType":"MedicationStatement","id":"eie-3","status":"entered-in-error","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7804"}]},
        "subject":{"reference":"Patient/)" +
        p +
        R"("},"effectivePeriod":{"start":"2025-01-01"},"dosage":[{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}]}},
      {"resource":{"resourceType":"ServiceRequest","id":"eie-4","status":"entered-in-error","intent":"order","code":{"coding":[{"system":"http://snomed.info/sct","code":"308447003"}]},"subject":{"reference":"Patient/)" +
        p + R"("}}},
      {"resource":{"resourceType":"AllergyIntolerance","id":"eie-5","verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification","code":"entered-in-error"}]},
        "code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"5640"}]},"patient":{"reference":"Patient/)" +
        p + R"("}}}]})";
    cephalgia::testing::GoldenCase changed = std::move(*c);
    auto before = EvaluateCase(changed);
    changed.request_json = WithExtraPrefetch(changed.request_json, "zzEnteredInError", eie);
    auto after = EvaluateCase(changed);
    ASSERT_TRUE(before.ok() && after.ok()) << file;
    EXPECT_EQ(WithoutUuids(*before), WithoutUuids(*after)) << file;
  }
}

TEST(HeadacheProperties, AddingARedFlagNeverLowersTheHighestIndicator) {
  for (const std::string& file : CaseFiles()) {
    auto c = cephalgia::testing::LoadGoldenCase(file);
    ASSERT_TRUE(c.ok());
    if (c->service != "headache-patient-view") continue;
    std::string p = PatientOf(*c);
    std::string flag = R"({"resourceType":"Bundle","type":"searchset","entry":[
      {"resource":{"resourceType":"Condition","id":"rf-1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"94225005","display":"Metastatic malignant neoplasm to brain"}]},"subject":{"reference":"Patient/)" +
                       p + R"("}}}]})";
    auto before = EvaluateCase(*c);
    c->request_json = WithExtraPrefetch(c->request_json, "zzRedFlag", flag);
    auto after = EvaluateCase(*c);
    ASSERT_TRUE(before.ok() && after.ok()) << file;
    std::string b = Indicator(ParseOrDie(*before)), a = Indicator(ParseOrDie(*after));
    EXPECT_GE(Rank(a), Rank(b)) << file;
    // knowledge.md §0: a chart without a current headache gets no card, whatever its history
    // (these cases answer with no card at all); with the gate open, the flag must show.
    if (Rank(b) < 0) continue;
    EXPECT_GE(Rank(a), 1) << file << ": an URGENT red flag must give at least warning";
    EXPECT_THAT(*after, HasSubstr("\"cancer_history\"")) << file;
  }
}

// ---------------------------------------------------------------------------------------------
TEST(HeadacheEvaluate, NamesMissingPrefetchInEveryCard) {
  cephalgia::testing::GoldenCase c = LoadCase(kFirstCase);
  plugin::EvaluateCall call;
  call.service_id = c.service;
  call.request_json = c.request_json;
  call.now = c.now;
  call.unavailable_prefetch.push_back({"observations", "FHIR server timeout"});
  auto response = Engine().Evaluate(call);
  ASSERT_TRUE(response.ok());
  rapidjson::Document doc = ParseOrDie(*response);
  ASSERT_GT(doc["cards"].Size(), 0u);
  for (const auto& card : doc["cards"].GetArray()) {
    // The clinician reads which checks could not run; the technical reason is in the extension.
    EXPECT_THAT(std::string(card["detail"].GetString()),
                HasSubstr("Observations and notes could not be retrieved"));
    EXPECT_THAT(std::string(card["detail"].GetString()),
                ::testing::Not(HasSubstr("FHIR server timeout")));
    EXPECT_THAT(json::Serialize(card["extension"]), HasSubstr("unavailable: FHIR server timeout"));
    EXPECT_STREQ(card["extension"]["org.cephalgia.headache"]["knowledgeVersion"].GetString(),
                 Engine().knowledge_version().c_str());
  }
  // knowledge.md §0: on a chart without a current headache a gap is no reason to speak either
  // (no "data incomplete" card on a closed gate).
  std::string empty =
      R"({"hook":"patient-view","hookInstance":"5f8e7a52-3c55-4f0e-9a55-3d3fbe0c3a11","context":{"userId":"Practitioner/1","patientId":"p1"},
    "prefetch":{"patient":{"resourceType":"Patient","id":"p1","birthDate":"1980-01-01"}}})";
  call.request_json = empty;
  response = Engine().Evaluate(call);
  ASSERT_TRUE(response.ok());
  EXPECT_THAT(*response, ::testing::Not(HasSubstr("data_incomplete")));
  EXPECT_EQ(ParseOrDie(*response)["cards"].Size(), 0u);
  // A response without any card still says which knowledge produced it.
  call.unavailable_prefetch.clear();
  response = Engine().Evaluate(call);
  ASSERT_TRUE(response.ok());
  rapidjson::Document none = ParseOrDie(*response);
  EXPECT_EQ(none["cards"].Size(), 0u);
  EXPECT_STREQ(none["extension"]["org.cephalgia.headache"]["knowledgeVersion"].GetString(),
               Engine().knowledge_version().c_str());
}

TEST(HeadacheEvaluate, UsesTheNowOption) {
  // Case 010: a concussion 2 days before `now` is an EMERGENCY; a year later it is remote.
  cephalgia::testing::GoldenCase c = LoadCase("010-trauma-recent-concussion.json");
  auto recent = EvaluateRequest(c.service, c.request_json, c.now);
  auto later = EvaluateRequest(c.service, c.request_json, "2027-03-01T10:00:00Z");
  ASSERT_TRUE(recent.ok() && later.ok());
  EXPECT_EQ(Indicator(ParseOrDie(*recent)), "critical");
  rapidjson::Document l = ParseOrDie(*later);
  for (const auto& card : l["cards"].GetArray()) {
    if (std::string_view(card["source"]["topic"]["code"].GetString()) == "head_neck_trauma") {
      EXPECT_STREQ(card["indicator"].GetString(), "warning");
    }
  }
}

// The instance is shared by the host's worker threads: concurrent evaluations (which also share
// nothing but the per-thread parse buffers) give the same answers as sequential ones.
TEST(HeadacheEvaluate, ConcurrentEvaluationsMatchSequentialOnes) {
  std::vector<cephalgia::testing::GoldenCase> cases;
  std::vector<std::string> expected;
  for (const std::string& file : CaseFiles()) {
    auto c = cephalgia::testing::LoadGoldenCase(file);
    ASSERT_TRUE(c.ok());
    auto r = EvaluateCase(*c);
    ASSERT_TRUE(r.ok());
    expected.push_back(WithoutUuids(*r));
    cases.push_back(std::move(*c));
  }
  std::vector<std::vector<std::string>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
          std::size_t k = (i + static_cast<std::size_t>(t) * 7) % cases.size();
          auto r = EvaluateCase(cases[k]);
          if (round == 2)
            got[t].push_back(r.ok() ? WithoutUuids(*r) + "#" + std::to_string(k) : "error");
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    ASSERT_EQ(got[t].size(), cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      std::size_t k = (i + static_cast<std::size_t>(t) * 7) % cases.size();
      EXPECT_EQ(got[t][i], expected[k] + "#" + std::to_string(k)) << cases[k].name;
    }
  }
}

TEST(HeadacheEvaluate, RunsTheCdsHooksSpecExamples) {
  const std::string dir = std::string(CEPHALGIA_SHARED_DIR) + "/fhir-samples/cds-hooks/hl7-spec/";
  for (const auto& [file, service] :
       {std::pair<std::string, std::string>{"patient-view-request.json", "headache-patient-view"},
        {"order-sign-request-paginated-prefetch.json", "headache-order-sign"}}) {
    std::string text = ReadText(dir + file);
    auto response = EvaluateRequest(service, text);
    ASSERT_TRUE(response.ok()) << file << ": " << response.status().ToString();
    rapidjson::Document request = ParseOrDie(text);
    rapidjson::Document doc = ParseOrDie(*response);
    EXPECT_THAT(cephalgia::testing::CheckResponseInvariants(request, doc), IsEmpty()) << file;
  }
}

// Record text is copied into card details whole: a long non-ASCII medicine name on a draft that
// crosses the overuse limit must keep the answer valid UTF-8 and keep the day counts.
TEST(HeadacheEvaluate, LongNonAsciiDraftTextKeepsTheAnswerValidUtf8) {
  cephalgia::testing::GoldenCase c = LoadCase("605-order-sign-analgesic-crosses-overuse.json");
  rapidjson::Document d = ParseOrDie(c.request_json);
  std::string name = "Ibuprofen ";
  for (int i = 0; i < 150; ++i) name += "\xC3\xA4";  // a-umlaut
  bool changed = false;
  for (auto& e : d["context"]["draftOrders"]["entry"].GetArray()) {
    auto& r = e["resource"];
    if (r.HasMember("medicationCodeableConcept")) {
      r["medicationCodeableConcept"].RemoveMember("text");
      r["medicationCodeableConcept"].AddMember(
          "text", rapidjson::Value(name.c_str(), d.GetAllocator()), d.GetAllocator());
      changed = true;
    }
  }
  ASSERT_TRUE(changed);
  auto response = EvaluateRequest(c.service, json::Serialize(d), c.now);
  ASSERT_TRUE(response.ok());
  ASSERT_TRUE(json::ParseUntrusted(*response).ok()) << "not valid UTF-8 JSON";
  EXPECT_THAT(*response, HasSubstr("order_overuse_risk"));
  EXPECT_THAT(*response, HasSubstr("days a month of simple analgesics"));
  EXPECT_THAT(*response, HasSubstr("(limit 15) for about"));
}

// Issue 12 item 5: FHIR the pack could not read is not dropped silently; it is a data gap with
// its element path in the extension (not in the clinician's text).
TEST(HeadacheEvaluate, UnreadableFhirIsADataGapWithItsPath) {
  cephalgia::testing::GoldenCase c = LoadCase("201-step1-pt-referral.json");
  rapidjson::Document d = ParseOrDie(c.request_json);
  rapidjson::Document broken = ParseOrDie(
      R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"id":"no-type"}}]})");
  d["prefetch"]["observations"].CopyFrom(broken, d.GetAllocator());
  auto response = EvaluateRequest(c.service, json::Serialize(d), c.now);
  ASSERT_TRUE(response.ok());
  rapidjson::Document doc = ParseOrDie(*response);
  EXPECT_THAT(json::Serialize(doc["extension"]),
              HasSubstr("observations.entry[0].resource.resourceType"));
  ASSERT_GT(doc["cards"].Size(), 0u);
  EXPECT_THAT(json::Serialize(doc["cards"][0]["extension"]),
              HasSubstr("not read: observations.entry[0]"));
  EXPECT_THAT(std::string(doc["cards"][0]["detail"].GetString()),
              ::testing::Not(HasSubstr("entry[0]")));
}

TEST(HeadacheEvaluate, RejectsUnknownServiceAndMissingPatient) {
  EXPECT_EQ(EvaluateRequest("headache-patient-view",
                            R"({"hook":"patient-view","context":{"patientId":"p1/../../admin"}})")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateRequest("nope", "{}").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(EvaluateRequest("headache-patient-view", "[1]").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateRequest("headache-patient-view", R"({"hook":"patient-view","context":{}})")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      EvaluateRequest("headache-patient-view", R"({"context":{"patientId":"1"}})", "yesterday")
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cephalgia::rules
