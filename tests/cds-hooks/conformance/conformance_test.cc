// CDS Hooks conformance suite: one test per checklist item (../shared/cds-hooks/checklist.md,
// sections A-K) that applies to a CDS *Service*, each named after the item's number.
//
// The real headache pack (build's pack directory) and the real service core are loaded
// in-process and driven through CdsService::Handle, so every answer is the one the binary would
// give, without a socket. The response-shape items are checked over a corpus of real answers:
// every golden clinical case (tests/rules/cases/*.json, both hooks), the CDS Hooks spec's own
// request examples, and discovery. Items already tested elsewhere are not repeated here; see
// CHECKLIST-COVERAGE.md in this folder for the full item -> test map.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/hooks/check/response_rules.h"
#include "cephalgia/hooks/fhir_fetcher.h"
#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/json.h"
#include "cephalgia/plugin/pack_registry.h"
#include "cephalgia/uuid.h"
#include "golden/golden_case.h"
#include "canned_http_server.h"

namespace cephalgia::hooks {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kNow[] = "2026-03-01T10:00:00Z";
constexpr char kPatientView[] = "headache-patient-view";
constexpr char kOrderSign[] = "headache-order-sign";
const std::string kShared = CEPHALGIA_SHARED_DIR;
const std::string kCasesDir = std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/cases";

// Each violation names the offending value by its JSON Pointer (cephalgia/hooks/check).
using Violations = check::RuleViolations;
using namespace ::cephalgia::hooks::check;  // the shared response and template rules

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rapidjson::Document Parse(std::string_view text) {
  auto doc = json::ParseUntrusted(text, 64u << 20);
  if (!doc.ok()) {
    ADD_FAILURE() << "not JSON: " << doc.status().ToString() << "\n" << text.substr(0, 300);
    return rapidjson::Document(rapidjson::kObjectType);
  }
  return std::move(*doc);
}

// ---------------------------------------------------------------------------------------------
// The service under test and the corpus of its answers (built once for the whole suite).

struct Exchange {
  std::string name;        // where the request came from
  std::string method;
  std::string target;
  std::string request;     // body sent
  HttpResponse response;
  bool is_service_call = false;  // a POST /cds-services/{id} answered 200
};

struct Suite {
  std::string load_error;
  plugin::PackRegistry registry;
  std::unique_ptr<CdsService> service;
  std::vector<std::unique_ptr<Exchange>> corpus;
  std::map<std::string, std::string> golden_requests;  // case name -> request JSON
  std::map<std::string, std::string> golden_services;  // case name -> service id
};

HttpRequest MakeRequest(std::string method, std::string target, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  if (!body.empty()) r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

ServiceOptions DefaultOptions() {
  ServiceOptions options;
  options.fixed_now = kNow;
  return options;
}

Suite& GetSuite() {
  // Built once and never destroyed: the packs' code must outlive every pointer into it, and the
  // corpus (~175 evaluations) is shared by all tests.
  static Suite* suite = [] {
    auto* s = new Suite;
    auto report = plugin::LoadPackDirectory(CEPHALGIA_PACK_DIR, {}, s->registry);
    if (!report.ok()) {
      s->load_error = report.status().ToString();
      return s;
    }
    if (s->registry.FindService(kPatientView) == nullptr || s->registry.FindService(kOrderSign) == nullptr) {
      s->load_error = "the headache pack's services are not in " CEPHALGIA_PACK_DIR;
      return s;
    }
    s->service = std::make_unique<CdsService>(s->registry, DefaultOptions(), nullptr);
    auto add = [&](std::string name, std::string method, std::string target, std::string body) {
      auto e = std::make_unique<Exchange>();
      e->name = std::move(name);
      e->method = method;
      e->target = target;
      e->request = body;
      e->response = s->service->Handle(MakeRequest(method, target, body));
      e->is_service_call = method == "POST" && e->response.status == 200;
      s->corpus.push_back(std::move(e));
    };
    add("discovery", "GET", "/cds-services", "");
    for (const std::string& path : testing::ListGoldenCaseFiles(kCasesDir)) {
      auto c = testing::LoadGoldenCase(path);
      if (!c.ok()) {
        s->load_error = c.status().ToString();
        return s;
      }
      s->golden_requests[c->name] = c->request_json;
      s->golden_services[c->name] = c->service;
      add("golden " + c->name, "POST", "/cds-services/" + c->service, c->request_json);
    }
    // The CDS Hooks spec's own request examples (../shared/fhir-samples/cds-hooks/hl7-spec).
    const std::string spec = kShared + "/fhir-samples/cds-hooks/hl7-spec/";
    add("spec patient-view-request", "POST", std::string("/cds-services/") + kPatientView,
        ReadFile(spec + "patient-view-request.json"));
    std::string paged = ReadFile(spec + "order-sign-request-paginated-prefetch.json");
    add("spec order-sign-request-paginated-prefetch (no Patient: 412)", "POST",
        std::string("/cds-services/") + kOrderSign, paged);
    rapidjson::Document with_patient = Parse(paged);
    if (with_patient.IsObject() && json::GetObject(with_patient, "prefetch") != nullptr) {
      auto& a = with_patient.GetAllocator();
      rapidjson::Value patient(rapidjson::kObjectType);
      patient.AddMember("resourceType", "Patient", a);
      patient.AddMember("id", "1288992", a);
      patient.AddMember("birthDate", "1980-05-01", a);
      with_patient["prefetch"].AddMember("patient", patient, a);
      add("spec order-sign-request-paginated-prefetch + Patient", "POST",
          std::string("/cds-services/") + kOrderSign, json::Serialize(with_patient));
    }
    return s;
  }();
  return *suite;
}

class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(GetSuite().load_error, IsEmpty());
    ASSERT_GE(GetSuite().golden_requests.size(), 100u) << "golden cases not found in " << kCasesDir;
  }
  static const CdsService& Service() { return *GetSuite().service; }
  static HttpResponse Post(std::string_view id, std::string body) {
    return Service().Handle(MakeRequest("POST", "/cds-services/" + std::string(id), std::move(body)));
  }
  static HttpResponse Get(std::string target) { return Service().Handle(MakeRequest("GET", std::move(target))); }
  static std::string Golden(const std::string& name) {
    auto it = GetSuite().golden_requests.find(name);
    EXPECT_NE(it, GetSuite().golden_requests.end()) << name;
    return it == GetSuite().golden_requests.end() ? std::string() : it->second;
  }
  // Golden request as a document, to edit.
  static rapidjson::Document GoldenDoc(const std::string& name) { return Parse(Golden(name)); }

  // Runs `check` over the response body of every 200 service call in the corpus.
  static Violations OverServiceResponses(const std::function<void(const rapidjson::Value&, Violations&)>& check,
                                         int* checked = nullptr) {
    Violations all;
    int n = 0;
    for (const auto& e : GetSuite().corpus) {
      if (!e->is_service_call) continue;
      rapidjson::Document doc = Parse(e->response.body);
      Violations v;
      check(doc, v);
      for (auto& s : v) all.push_back({e->name + ": " + s.pointer, s.message});
      ++n;
    }
    if (checked != nullptr) *checked = n;
    return all;
  }
};

// The OperationOutcome issue of an error response: (code, diagnostics, expression[0]).
struct Issue {
  std::string code, diagnostics, expression;
};
Issue IssueOf(const HttpResponse& r) {
  Issue out;
  rapidjson::Document doc = Parse(r.body);
  EXPECT_EQ(json::GetString(doc, "resourceType"), "OperationOutcome") << r.body;
  const rapidjson::Value* issues = json::GetArray(doc, "issue");
  if (issues == nullptr || issues->Empty()) {
    ADD_FAILURE() << "no issue in " << r.body;
    return out;
  }
  const rapidjson::Value& issue = (*issues)[0];
  out.code = std::string(json::GetString(issue, "code").value_or(""));
  out.diagnostics = std::string(json::GetString(issue, "diagnostics").value_or(""));
  if (const rapidjson::Value* e = json::GetArray(issue, "expression"); e && !e->Empty() && (*e)[0].IsString()) {
    out.expression = (*e)[0].GetString();
  }
  return out;
}

// Cards with their uuids removed (uuids are random per call), serialised: what the user sees.
std::string CardsWithoutUuids(const std::string& response_body) {
  rapidjson::Document doc = Parse(response_body);
  std::function<void(rapidjson::Value&)> strip = [&](rapidjson::Value& v) {
    if (v.IsObject()) {
      v.RemoveMember("uuid");
      for (auto& m : v.GetObject()) strip(m.value);
    } else if (v.IsArray()) {
      for (auto& e : v.GetArray()) strip(e);
    }
  };
  strip(doc);
  return json::Serialize(doc);
}

// ---------------------------------------------------------------------------------------------
// Response-shape checks (items A2-A8, F54-F77). Each is a plain function of one response so the
// validator itself is tested on known-bad answers (ValidatorSelfTest below): a check that cannot
// fail proves nothing.

// The checks themselves live in cds-hooks (cephalgia/hooks/check/response_rules.h), shared with
// `cephalgia check`; this suite runs them over its corpus and proves each able to fail.

struct NamedCheck {
  const char* item;
  void (*check)(const rapidjson::Value&, Violations&);
  const char* bad_example;  // a response this check must reject
};

// A minimal valid card, for the self-test's "must pass" side.
constexpr char kGoodResponse[] = R"({"cards":[{"uuid":"a5b0bcd6-9dcc-4d3a-9a3c-0a1d0d7b0f21",
  "summary":"Résumé ✓ short","indicator":"warning","detail":"**Why**: eGFR < 30, see <https://example.org/x>",
  "source":{"label":"Cephalgia","url":"https://example.org","topic":{"system":"urn:x","code":"t"}},
  "selectionBehavior":"at-most-one",
  "suggestions":[{"label":"Do it","uuid":"0b8c43a4-3f2c-4f55-8c0e-2b6a0c1b8f33","isRecommended":true,
    "actions":[{"type":"create","description":"Order","resource":{"resourceType":"ServiceRequest",
      "status":"draft","code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]}}},
      {"type":"delete","description":"Remove","resourceId":"MedicationRequest/m-1"}]}],
  "overrideReasons":[{"system":"urn:r","code":"c","display":"D"}],
  "links":[{"label":"App","url":"https://app.example/launch","type":"smart","appContext":"x"}]}]})";

const std::vector<NamedCheck>& AllChecks() {
  static const std::vector<NamedCheck> checks = {
      {"A2", CheckNoNull, R"({"cards":[{"summary":"x","detail":null}]})"},
      {"A3", CheckNoEmptyValues, R"({"cards":[{"summary":"x","suggestions":[],"source":{}}]})"},
      {"A4", CheckOptionalAttributesOmittedNotEmpty, R"({"cards":[{"summary":"x","links":[]}]})"},
      {"A5", CheckNoBlankStrings, R"({"cards":[{"summary":"  "}]})"},
      {"A6", CheckEmbeddedFhirResources,
       R"({"cards":[{"suggestions":[{"label":"l","actions":[{"type":"create","description":"d","resource":{"resourceType":"ServiceRequest","extension":{"a":1}}}]}]}]})"},
      {"A8", CheckCdsExtensionsAreObjects, R"({"cards":[{"summary":"x","extension":[1]}]})"},
      {"F54", CheckCardsArray, R"({"card":[]})"},
      {"F56", CheckSystemActions, R"({"cards":[],"systemActions":[]})"},
      {"F58", CheckUuids, R"({"cards":[{"uuid":"1234"},{"summary":"no uuid"}]})"},
      {"F59", CheckSummary,
       R"({"cards":[{"summary":"ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"}]})"},
      {"F60", CheckDetail, R"({"cards":[{"detail":"<b>bold</b>"}]})"},
      {"F61", CheckIndicator, R"({"cards":[{"indicator":"hard-stop"}]})"},
      {"F62", CheckSource, R"({"cards":[{"source":{"label":"x","url":"/relative","topic":{"code":"c"}}}]})"},
      {"F63", CheckSuggestionsAndSelectionBehavior, R"({"cards":[{"suggestions":[{"label":"x"}]}]})"},
      {"F65", CheckIsRecommended,
       R"({"cards":[{"selectionBehavior":"at-most-one","suggestions":[{"label":"a","isRecommended":true},{"label":"b","isRecommended":true}]}]})"},
      {"F66", CheckOverrideReasons, R"({"cards":[{"overrideReasons":[{"system":"s","code":"c"}]}]})"},
      {"F67", CheckLinks, R"({"cards":[{"links":[{"label":"l","url":"https://x.org","type":"absolute","appContext":"a"}]}]})"},
      {"F68", CheckSuggestionShape, R"({"cards":[{"suggestions":[{"uuid":"x","actions":[]}]}]})"},
      {"F69", CheckNoActionSelectionBehavior, R"({"cards":[{"suggestions":[{"label":"x","actionSelectionBehavior":"all"}]}]})"},
      {"F71", CheckSmartLinkUrls,
       R"({"cards":[{"links":[{"label":"l","type":"smart","url":"https://app/launch?launch=1&iss=x"}]}]})"},
      {"F72", CheckActions,
       R"({"cards":[{"suggestions":[{"label":"l","actions":[{"type":"delete","description":"d","resource":"MedicationRequest/1"},{"type":"create"}]}]}]})"},
      {"F77", CheckCodings,
       R"({"cards":[{"suggestions":[{"label":"l","actions":[{"type":"create","description":"d","resource":{"resourceType":"ServiceRequest","code":{"coding":[{"code":"1"}]}}}]}]}]})"},
  };
  return checks;
}

// ---------------------------------------------------------------------------------------------
// Prefetch template checks (D32-D40, I89, I90): check::CheckPrefetchTemplate, static over the
// discovery document.

// ---------------------------------------------------------------------------------------------
// The tests.

// Self-test of the validator: each check rejects its known-bad example and accepts a good card.
TEST(ValidatorSelfTest, EachResponseCheckRejectsItsBadExampleAndAcceptsAGoodCard) {
  rapidjson::Document good = Parse(kGoodResponse);
  for (const NamedCheck& c : AllChecks()) {
    Violations on_good, on_bad;
    c.check(good, on_good);
    EXPECT_THAT(on_good, IsEmpty()) << c.item;
    rapidjson::Document bad = Parse(c.bad_example);
    c.check(bad, on_bad);
    EXPECT_THAT(on_bad, Not(IsEmpty())) << c.item << " accepted " << c.bad_example;
  }
}

TEST(ValidatorSelfTest, TemplateCheckRejectsEachKindOfBadTemplate) {
  EXPECT_THAT(CheckPrefetchTemplate("patient-view", "Patient/{{context.patientId}}"), IsEmpty());
  EXPECT_THAT(CheckPrefetchTemplate("patient-view", "Observation?patient={{context.patientId}}&code:in=http://x/vs&_sort=-date&_count=10&date=ge2020-01-01"),
              IsEmpty());
  EXPECT_THAT(CheckPrefetchTemplate("patient-view", "{{context.userId}}"), IsEmpty());
  EXPECT_THAT(CheckPrefetchTemplate("patient-view", "Practitioner/{{userPractitionerId}}"), IsEmpty());
  for (const char* bad : {
           "https://ehr/fhir/Patient/{{context.patientId}}",        // D32
           "/Patient/{{context.patientId}}",                         // D32
           "Patient/{context.patientId}",                            // D33
           "Patient/{{patientId}}",                                  // D34
           "Patient/{{context.medication.id}}",                      // D35
           "MedicationRequest?_id={{context.draftOrders}}",          // I89
           "Practitioner/{{user}}",                                  // D37
           "Condition?patient={{context.patientId}}&_include=Condition:subject",  // D38
           "Condition?patient={{context.patientId}}&_revinclude=Provenance:target",
           "Condition?_has:Observation:patient:code=1",
           "Condition?subject:Patient.name=x",
           "Condition?patient={{context.patientId}}&code:text=headache",
           "Condition?patient={{context.patientId}}&onset-date=ne2020-01-01",
           "Observation?patient={{context.patientId}}&date=ge{{today() - 90 days}}",  // D39
           "Patient/{{context.patientId}}?_elements=id",
           "Practitioner/{{context.userId}}",                        // I90
       }) {
    EXPECT_THAT(CheckPrefetchTemplate("order-sign", bad), Not(IsEmpty())) << bad;
  }
}

// A1: every answer (discovery, cards, errors) is JSON with Content-Type application/json.
TEST_F(ConformanceTest, A1_EveryResponseIsJsonWithApplicationJsonContentType) {
  int n = 0;
  for (const auto& e : GetSuite().corpus) {
    EXPECT_THAT(e->response.content_type, HasSubstr("application/json")) << e->name;
    EXPECT_TRUE(json::ParseUntrusted(e->response.body, 64u << 20).ok()) << e->name << ": " << e->response.body;
    ++n;
  }
  EXPECT_GE(n, 170);
}

// A7 (SHOULD NOT): no JSON comments or trailing commas: RapidJSON's strict default flags accept
// every answer.
TEST_F(ConformanceTest, A7_ResponsesHaveNoCommentsOrTrailingCommas) {
  for (const auto& e : GetSuite().corpus) {
    rapidjson::Document strict;
    strict.Parse<rapidjson::kParseDefaultFlags>(e->response.body.c_str(), e->response.body.size());
    EXPECT_FALSE(strict.HasParseError()) << e->name;
  }
}

// A2-A8 and F54-F77: every check over every 200 service answer, discovery included for the
// generic JSON rules. One test per item, so a failure names the item.
class ShapeTest : public ConformanceTest {
 protected:
  void ExpectCorpusPasses(const char* item) {
    const NamedCheck* check = nullptr;
    for (const NamedCheck& c : AllChecks()) {
      if (std::string(c.item) == item) check = &c;
    }
    ASSERT_NE(check, nullptr) << item;
    int checked = 0;
    Violations v = OverServiceResponses(check->check, &checked);
    EXPECT_GE(checked, 170) << "too few service answers to check";
    EXPECT_THAT(v, IsEmpty()) << item;
  }
  // The generic JSON rules also hold for discovery and for error bodies.
  void ExpectAllBodiesPass(void (*check)(const rapidjson::Value&, Violations&)) {
    for (const auto& e : GetSuite().corpus) {
      rapidjson::Document doc = Parse(e->response.body);
      Violations v;
      check(doc, v);
      EXPECT_THAT(v, IsEmpty()) << e->name;
    }
  }
};

TEST_F(ShapeTest, A2_NoNullValuesAnywhereInResponses) {
  ExpectCorpusPasses("A2");
  ExpectAllBodiesPass(CheckNoNull);
}
TEST_F(ShapeTest, A3_NoEmptyStringArrayOrObjectExceptNoGuidanceCards) {
  ExpectCorpusPasses("A3");
  ExpectAllBodiesPass(CheckNoEmptyValues);
}
TEST_F(ShapeTest, A4_OptionalAttributesAreLeftOutRatherThanSentEmpty) { ExpectCorpusPasses("A4"); }
TEST_F(ShapeTest, A5_NoRequiredOrOtherStringIsWhitespaceOnly) {
  ExpectCorpusPasses("A5");
  ExpectAllBodiesPass(CheckNoBlankStrings);
}
TEST_F(ShapeTest, A6_SuggestedResourcesUseTheFhirJsonSerialization) { ExpectCorpusPasses("A6"); }
TEST_F(ShapeTest, A8_ExtensionsWeSendAreJsonObjects) { ExpectCorpusPasses("A8"); }
TEST_F(ShapeTest, F54_EveryServiceAnswerIsAnObjectWithACardsArray) { ExpectCorpusPasses("F54"); }
TEST_F(ShapeTest, F56_SystemActionsAreOmittedOrANonEmptyArray) { ExpectCorpusPasses("F56"); }
TEST_F(ShapeTest, F58_EveryCardAndSuggestionHasAUniqueRfc4122Uuid) {
  ExpectCorpusPasses("F58");
  // Unique across calls too (feedback is keyed by card uuid): no two answers share one.
  std::set<std::string> seen;
  int total = 0;
  for (const auto& e : GetSuite().corpus) {
    if (!e->is_service_call) continue;
    rapidjson::Document doc = Parse(e->response.body);
    auto add = [&](const rapidjson::Value& v, const std::string&) {
      if (auto u = json::GetString(v, "uuid")) {
        ++total;
        EXPECT_TRUE(seen.insert(std::string(*u)).second) << e->name << " reuses " << *u;
      }
    };
    ForEachCard(doc, add);
    ForEachSuggestion(doc, add);
  }
  EXPECT_GT(total, 200);
}
TEST_F(ShapeTest, F59_SummaryUnder140UnicodeCharacters) { ExpectCorpusPasses("F59"); }
TEST_F(ShapeTest, F60_DetailIsMarkdownWithoutRawHtml) { ExpectCorpusPasses("F60"); }
TEST_F(ShapeTest, F61_IndicatorIsInfoWarningOrCritical) { ExpectCorpusPasses("F61"); }
TEST_F(ShapeTest, F62_SourceHasALabelAbsoluteUrlsAndACodingTopic) { ExpectCorpusPasses("F62"); }
TEST_F(ShapeTest, F63_F64_SuggestionsAreNonEmptyAndCarryAValidSelectionBehavior) { ExpectCorpusPasses("F63"); }
TEST_F(ShapeTest, F65_AtMostOneMeansAtMostOneRecommendedSuggestion) { ExpectCorpusPasses("F65"); }
TEST_F(ShapeTest, F66_OverrideReasonsAreCodingsWithDisplay) { ExpectCorpusPasses("F66"); }
TEST_F(ShapeTest, F67_F70_LinksHaveLabelUrlAndTypeAndAppContextOnlyWhenSmart) { ExpectCorpusPasses("F67"); }
TEST_F(ShapeTest, F68_SuggestionsHaveALabelAndNonEmptyActions) { ExpectCorpusPasses("F68"); }
TEST_F(ShapeTest, F69_ActionSelectionBehaviorIsNotUsed) { ExpectCorpusPasses("F69"); }
TEST_F(ShapeTest, F71_SmartLinksCarryNoIssOrLaunch) { ExpectCorpusPasses("F71"); }
TEST_F(ShapeTest, F72_F75_ActionsAreTypedDescribedAndCarryResourceOrResourceId) { ExpectCorpusPasses("F72"); }
TEST_F(ShapeTest, F77_EveryCodingHasSystemAndCode) { ExpectCorpusPasses("F77"); }

// The corpus exercises the shapes the checks look at; otherwise they would pass vacuously.
TEST_F(ConformanceTest, F54_TheCorpusHoldsEveryCardFeatureTheChecksCover) {
  int cards = 0, suggestions = 0, creates = 0, deletes = 0, override_reasons = 0, no_guidance = 0;
  std::set<std::string> indicators;
  for (const auto& e : GetSuite().corpus) {
    if (!e->is_service_call) continue;
    rapidjson::Document doc = Parse(e->response.body);
    if (const rapidjson::Value* c = json::GetArray(doc, "cards"); c && c->Empty()) ++no_guidance;
    ForEachCard(doc, [&](const rapidjson::Value& card, const std::string&) {
      ++cards;
      indicators.insert(std::string(json::GetString(card, "indicator").value_or("")));
      override_reasons += json::Find(card, "overrideReasons") != nullptr;
    });
    ForEachSuggestion(doc, [&](const rapidjson::Value&, const std::string&) { ++suggestions; });
    ForEachAction(doc, [&](const rapidjson::Value& a, const std::string&, bool) {
      creates += json::GetString(a, "type") == "create";
      deletes += json::GetString(a, "type") == "delete";
    });
  }
  EXPECT_GT(cards, 170);
  EXPECT_GT(suggestions, 10);
  EXPECT_GT(creates, 10);
  EXPECT_GT(deletes, 0) << "no delete action in the corpus: F75 unexercised";
  EXPECT_GT(override_reasons, 0);
  EXPECT_EQ(indicators, (std::set<std::string>{"info", "warning", "critical"}));
  RecordProperty("no_guidance_answers", no_guidance);
}

// F55: no guidance is exactly 200 {"cards": []}: never 204, never an empty body.
TEST_F(ConformanceTest, F55_NoGuidanceIs200WithAnEmptyCardsArray) {
  // A benign order-sign: a paracetamol draft for a healthy adult with nothing else on record.
  HttpResponse r = Post(kOrderSign, R"({"hook":"order-sign","hookInstance":"7c1b2d4e-6a0f-4c3e-9b5d-2e8f1a3c4b6d",
    "context":{"userId":"Practitioner/pr-1","patientId":"p-f55",
      "draftOrders":{"resourceType":"Bundle","type":"collection","entry":[{"resource":{
        "resourceType":"ServiceRequest","id":"sr-f55","status":"draft","intent":"order",
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"1234567"}],"text":"Blood pressure check"},
        "subject":{"reference":"Patient/p-f55"}}}]}},
    "prefetch":{"patient":{"resourceType":"Patient","id":"p-f55","birthDate":"1990-01-01","gender":"male"},
      "conditions":{"resourceType":"Bundle","type":"searchset","total":0},
      "observations":{"resourceType":"Bundle","type":"searchset","total":0},
      "medicationRequests":{"resourceType":"Bundle","type":"searchset","total":0},
      "medicationStatements":{"resourceType":"Bundle","type":"searchset","total":0},
      "procedures":{"resourceType":"Bundle","type":"searchset","total":0},
      "serviceRequests":{"resourceType":"Bundle","type":"searchset","total":0},
      "allergies":{"resourceType":"Bundle","type":"searchset","total":0}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = Parse(r.body);
  const rapidjson::Value* cards = json::GetArray(doc, "cards");
  ASSERT_NE(cards, nullptr) << r.body;
  EXPECT_TRUE(cards->Empty()) << r.body;
  // Nothing else but an optional `extension` object (A8) may accompany the empty cards.
  for (const auto& m : doc.GetObject()) {
    std::string name = m.name.GetString();
    EXPECT_TRUE(name == "cards" || (name == "extension" && m.value.IsObject())) << name;
  }
}

// B12 (SHOULD): a host with no services answers {"services": []}.
TEST(DiscoveryTest, B12_NoServicesIsAnEmptyServicesArray) {
  plugin::PackRegistry empty;
  CdsService service(empty, DefaultOptions(), nullptr);
  HttpResponse r = service.Handle(MakeRequest("GET", "/cds-services"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"services":[]})");
}

// B13-B20: each service entry of the headache pack's discovery document.
TEST_F(ConformanceTest, B13_B20_EveryDiscoveryEntryHasTheRequiredFieldsWithTheirTypes) {
  HttpResponse r = Get("/cds-services");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document doc = Parse(r.body);
  const rapidjson::Value* services = json::GetArray(doc, "services");
  ASSERT_NE(services, nullptr);
  ASSERT_GE(services->Size(), 2u);
  std::set<std::string> ids;
  for (const auto& s : services->GetArray()) {
    ASSERT_TRUE(s.IsObject());
    std::string id(json::GetString(s, "id").value_or(""));
    EXPECT_TRUE(NonBlankString(s, "hook")) << id;                       // B13
    // L110: a hook is a published one, or an organisation-specific one in reverse-DNS form.
    std::string hook(json::GetString(s, "hook").value_or(""));
    EXPECT_TRUE(IsKnownHook(hook) || hook.find('.') != std::string::npos) << hook;
    EXPECT_TRUE(NonBlankString(s, "title")) << id;                      // B14 (SHOULD)
    EXPECT_TRUE(NonBlankString(s, "description")) << id;                // B15
    EXPECT_TRUE(plugin::IsValidServiceId(id)) << "B16 id not path-safe: " << id;  // B16
    ids.insert(id);
    if (const rapidjson::Value* p = json::Find(s, "prefetch")) {       // B17
      ASSERT_TRUE(p->IsObject()) << id;
      EXPECT_FALSE(p->ObjectEmpty()) << id;
      for (const auto& m : p->GetObject()) EXPECT_TRUE(m.value.IsString()) << id << " " << m.name.GetString();
    }
    if (const rapidjson::Value* u = json::Find(s, "usageRequirements")) {  // B18
      EXPECT_TRUE(u->IsString() && !IsBlank(json::AsStringView(*u))) << id;
    }
    if (const rapidjson::Value* v = json::Find(s, "hookVersion")) {        // B20
      EXPECT_TRUE(v->IsString() && json::AsStringView(*v) == "1.0") << id;
    }
    if (const rapidjson::Value* v = json::Find(s, "version")) {            // B19
      EXPECT_TRUE(v->IsString()) << id;
    }
    // B16: reachable at /cds-services/{id}: a GET there is 405 (the route exists), not 404.
    EXPECT_EQ(Get("/cds-services/" + id).status, 405) << id;
  }
  EXPECT_EQ(ids.count(kPatientView), 1u);
  EXPECT_EQ(ids.count(kOrderSign), 1u);
}

// D32-D40, I89, I90: every advertised template is relative, uses only valid tokens and the
// restricted query subset; and each expands against a real hook context.
TEST_F(ConformanceTest, D38_PrefetchTemplatesUseOnlyTheRestrictedSubset) {
  rapidjson::Document doc = Parse(Get("/cds-services").body);
  const rapidjson::Value* services = json::GetArray(doc, "services");
  ASSERT_NE(services, nullptr);
  auto context = json::ParseUntrusted(R"({"userId":"Practitioner/pr-1","patientId":"p-1","encounterId":"e-1"})");
  ASSERT_TRUE(context.ok());
  int templates = 0;
  for (const auto& s : services->GetArray()) {
    const rapidjson::Value* p = json::GetObject(s, "prefetch");
    if (p == nullptr) continue;
    std::string hook(json::GetString(s, "hook").value_or(""));
    for (const auto& m : p->GetObject()) {
      std::string t = m.value.GetString();
      EXPECT_THAT(CheckPrefetchTemplate(hook, t), IsEmpty()) << m.name.GetString() << ": " << t;
      auto expanded = ExpandPrefetchTemplate(t, *context);
      EXPECT_TRUE(expanded.ok()) << t;
      if (expanded.ok()) {
        EXPECT_EQ(expanded->find("{{"), std::string::npos) << *expanded;
      }
      // D40: no %key variables, so key order carries no dependency.
      EXPECT_EQ(t.find('%'), std::string::npos) << t;
      ++templates;
    }
  }
  EXPECT_EQ(templates, 16);
}

// The headache pack advertises the eight resource types the issue requires, for both hooks.
TEST_F(ConformanceTest, D32_TheHeadachePackPrefetchesTheEightResourceTypes) {
  for (const char* id : {kPatientView, kOrderSign}) {
    const plugin::ServiceEntry* e = GetSuite().registry.FindService(id);
    ASSERT_NE(e, nullptr);
    std::set<std::string> types;
    for (const auto& [key, t] : e->descriptor->prefetch) types.insert(t.substr(0, t.find_first_of("/?")));
    EXPECT_EQ(types, (std::set<std::string>{"Patient", "Condition", "Observation", "MedicationRequest",
                                            "MedicationStatement", "Procedure", "ServiceRequest",
                                            "AllergyIntolerance"}))
        << id;
  }
}

// A8 + A9: `extension` objects and unknown fields anywhere in the request envelope and context
// are accepted and ignored: every golden case gives the same cards with and without them.
TEST_F(ConformanceTest, A9_UnknownFieldsAndExtensionsInRequestsChangeNothing) {
  int compared = 0;
  for (const auto& [name, body] : GetSuite().golden_requests) {
    HttpResponse plain = Post(GetSuite().golden_services.at(name), body);
    ASSERT_EQ(plain.status, 200) << name << ": " << plain.body;
    rapidjson::Document doc = Parse(body);
    auto& a = doc.GetAllocator();
    rapidjson::Value ext(rapidjson::kObjectType);
    ext.AddMember("org.example.ehr.session", rapidjson::Value("abc", a), a);
    doc.AddMember("extension", rapidjson::Value(ext, a), a);
    doc.AddMember("org.example.futureField", rapidjson::Value(rapidjson::kArrayType).PushBack(1, a), a);
    doc.AddMember("user", "Practitioner/pr-gp-1", a);  // C31: a 1.0-era top-level user
    doc["context"].AddMember("extension", rapidjson::Value(ext, a), a);
    doc["context"].AddMember("someNewContextField", rapidjson::Value(rapidjson::kObjectType).AddMember("x", 1, a), a);
    HttpResponse extended = Post(GetSuite().golden_services.at(name), json::Serialize(doc));
    ASSERT_EQ(extended.status, 200) << name << ": " << extended.body;
    EXPECT_EQ(CardsWithoutUuids(extended.body), CardsWithoutUuids(plain.body)) << name;
    ++compared;
  }
  EXPECT_GE(compared, 170);
}

// C26: hookInstance is "a string"; a non-UUID value is not refused.
TEST_F(ConformanceTest, C26_HookInstanceIsOnlyRequiredToBeAString) {
  rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
  doc["hookInstance"].SetString("instance-42 (not a uuid)", doc.GetAllocator());
  HttpResponse r = Post(kPatientView, json::Serialize(doc));
  EXPECT_EQ(r.status, 200) << r.body;
  doc["hookInstance"].SetInt(42);
  r = Post(kPatientView, json::Serialize(doc));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(IssueOf(r).expression, "hookInstance");
}

// C28: fhirAuthorization with SMART v1 and v2 scopes and the 2.0 `patient` member is accepted.
TEST_F(ConformanceTest, C28_SmartV1AndV2ScopesAndPatientAreAccepted) {
  for (const char* scope : {"user/Patient.read user/Condition.read", "patient/Patient.rs patient/Condition.rs",
                            "launch openid fhirUser user/*.cruds"}) {
    rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
    auto& a = doc.GetAllocator();
    doc.AddMember("fhirServer", "https://ehr.example.org/fhir", a);
    rapidjson::Value auth(rapidjson::kObjectType);
    auth.AddMember("access_token", "opaque-token-c28", a);
    auth.AddMember("token_type", "Bearer", a);
    auth.AddMember("expires_in", 300, a);
    auth.AddMember("scope", rapidjson::Value(scope, a), a);
    auth.AddMember("subject", "cephalgia", a);
    auth.AddMember("patient", "p001", a);
    doc.AddMember("fhirAuthorization", auth, a);
    HttpResponse r = Post(kPatientView, json::Serialize(doc));
    EXPECT_EQ(r.status, 200) << scope << ": " << r.body;
  }
}

// C29: context is REQUIRED and must be an object.
TEST_F(ConformanceTest, C29_MissingOrNonObjectContextIs400) {
  for (const char* id : {kPatientView, kOrderSign}) {
    std::string hook = id == std::string(kPatientView) ? "patient-view" : "order-sign";
    HttpResponse missing = Post(id, R"({"hook":")" + hook + R"(","hookInstance":"c0ffee00-0000-4000-8000-000000000029"})");
    EXPECT_EQ(missing.status, 400) << missing.body;
    EXPECT_EQ(IssueOf(missing).expression, "context");
    for (const char* bad : {"[]", "\"p1\"", "7", "null", "true"}) {
      HttpResponse r = Post(id, R"({"hook":")" + hook +
                                    R"(","hookInstance":"c0ffee00-0000-4000-8000-000000000029","context":)" + bad + "}");
      EXPECT_EQ(r.status, 400) << bad;
      EXPECT_EQ(IssueOf(r).expression, "context") << bad;
    }
  }
}

// C30: prefetch is an object; anything else is a 400 naming `prefetch`.
TEST_F(ConformanceTest, C30_PrefetchMustBeAnObject) {
  for (const char* bad : {"[]", "\"x\"", "1", "true"}) {
    rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
    rapidjson::Document v = Parse(bad);
    doc["prefetch"].CopyFrom(v, doc.GetAllocator());
    HttpResponse r = Post(kPatientView, json::Serialize(doc));
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(IssueOf(r).expression, "prefetch") << bad;
  }
}

// C31: a 1.0-era top-level `user` is tolerated and ignored (same cards).
TEST_F(ConformanceTest, C31_TopLevelUserIsToleratedAndIgnored) {
  const std::string body = Golden("001-thunderclap-snomed");
  rapidjson::Document doc = Parse(body);
  doc.AddMember("user", "Practitioner/someone-else", doc.GetAllocator());
  HttpResponse with_user = Post(kPatientView, json::Serialize(doc));
  ASSERT_EQ(with_user.status, 200) << with_user.body;
  EXPECT_EQ(CardsWithoutUuids(with_user.body), CardsWithoutUuids(Post(kPatientView, body).body));
}

// The data-incomplete reporting of the headache pack: the text of every card.
std::string AllDetails(const HttpResponse& r) {
  std::string out;
  rapidjson::Document doc = Parse(r.body);
  ForEachCard(doc, [&](const rapidjson::Value& c, const std::string&) {
    out += std::string(json::GetString(c, "summary").value_or("")) + "\n" +
           std::string(json::GetString(c, "detail").value_or("")) + "\n";
  });
  return out;
}

// The data gaps the answer reports, one "prefetch `key` <what happened>" line each, from the
// response's evidence extension (issue 12: clinicians read a plain sentence in the card, the
// technical detail goes to the extension). Reported even when no card is shown.
std::string GapReport(const HttpResponse& r) {
  std::string out;
  rapidjson::Document doc = Parse(r.body);
  const rapidjson::Value* ext = doc.IsObject() ? json::GetObject(doc, "extension") : nullptr;
  const rapidjson::Value* pack = ext != nullptr ? json::GetObject(*ext, "org.cephalgia.headache") : nullptr;
  const rapidjson::Value* gaps = pack != nullptr ? json::GetArray(*pack, "dataGaps") : nullptr;
  if (gaps == nullptr) return out;
  for (const rapidjson::Value& g : gaps->GetArray()) {
    out += "prefetch `" + std::string(json::GetString(g, "prefetchKey").value_or("")) + "` " +
           std::string(json::GetString(g, "detail").value_or("")) + "\n";
  }
  return out;
}

// True when a card of the answer has source.topic.code == topic.
bool HasTopicCode(const HttpResponse& r, std::string_view topic) {
  bool found = false;
  rapidjson::Document doc = Parse(r.body);
  ForEachCard(doc, [&](const rapidjson::Value& c, const std::string&) {
    if (const rapidjson::Value* s = json::GetObject(c, "source")) {
      if (const rapidjson::Value* t = json::GetObject(*s, "topic")) found = found || json::GetString(*t, "code") == topic;
    }
  });
  return found;
}

// Replaces (or removes, when `value` is empty) prefetch key `key` of a golden request.
std::string WithPrefetch(const std::string& body, const std::string& key, const std::string& value) {
  rapidjson::Document doc = Parse(body);
  auto& a = doc.GetAllocator();
  rapidjson::Value& prefetch = doc["prefetch"];
  prefetch.RemoveMember(key.c_str());
  if (!value.empty()) {
    rapidjson::Document v = Parse(value);
    prefetch.AddMember(rapidjson::Value(key.c_str(), a), rapidjson::Value(v, a), a);
  }
  return json::Serialize(doc);
}

const char* const kOptionalKeys[] = {"conditions", "observations", "medicationRequests", "medicationStatements",
                                     "procedures", "serviceRequests", "allergies"};

// E41: any subset of the prefetch keys may be sent; without fhirServer each optional key left
// out still gets a 200, and the answer says which key was missing (never a silent gap).
TEST_F(ConformanceTest, E41_EachOptionalKeyMayBeMissingAndIsNamedInTheAnswer) {
  for (const std::string& name : {std::string("001-thunderclap-snomed"), std::string()}) {
    std::string case_name = name;
    if (case_name.empty()) {  // the first order-sign case
      for (const auto& [n, s] : GetSuite().golden_services) {
        if (s == kOrderSign) {
          case_name = n;
          break;
        }
      }
    }
    ASSERT_FALSE(case_name.empty());
    const std::string& service = GetSuite().golden_services.at(case_name);
    const std::string body = Golden(case_name);
    EXPECT_THAT(GapReport(Post(service, body)), Not(HasSubstr("prefetch `conditions`"))) << case_name;
    for (const char* key : kOptionalKeys) {
      HttpResponse r = Post(service, WithPrefetch(body, key, ""));
      ASSERT_EQ(r.status, 200) << case_name << " without " << key << ": " << r.body;
      EXPECT_THAT(GapReport(r), HasSubstr(std::string("prefetch `") + key + "`")) << case_name << " without " << key;
    }
    // Only the required Patient: still answered, every other key named.
    std::string only_patient = body;
    for (const char* key : kOptionalKeys) only_patient = WithPrefetch(only_patient, key, "");
    HttpResponse r = Post(service, only_patient);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const char* key : kOptionalKeys) EXPECT_THAT(GapReport(r), HasSubstr(std::string("prefetch `") + key + "`"));
  }
}

// E42: missing key, null and an empty searchset are three different things: missing is reported
// as a gap, null and an empty Bundle mean "no data" and are not; a null required Patient is 412.
TEST_F(ConformanceTest, E42_NullMissingAndEmptyBundleAreHandledDifferently) {
  const std::string body = Golden("001-thunderclap-snomed");
  const std::string key = "medicationStatements";
  HttpResponse missing = Post(kPatientView, WithPrefetch(body, key, ""));
  HttpResponse null_value = Post(kPatientView, WithPrefetch(body, key, "null"));
  HttpResponse empty = Post(kPatientView, WithPrefetch(body, key, R"({"resourceType":"Bundle","type":"searchset","total":0})"));
  ASSERT_EQ(missing.status, 200);
  ASSERT_EQ(null_value.status, 200) << null_value.body;
  ASSERT_EQ(empty.status, 200);
  EXPECT_THAT(GapReport(missing), HasSubstr("prefetch `medicationStatements`"));
  EXPECT_THAT(GapReport(null_value), Not(HasSubstr("prefetch `medicationStatements`")));
  EXPECT_THAT(GapReport(empty), Not(HasSubstr("prefetch `medicationStatements`")));
  // The required read: null = the Patient does not exist -> 412 naming the key.
  HttpResponse null_patient = Post(kPatientView, WithPrefetch(body, "patient", "null"));
  EXPECT_EQ(null_patient.status, 412) << null_patient.body;
  EXPECT_EQ(IssueOf(null_patient).expression, "prefetch.patient");
}

// E43: an OperationOutcome (or a Bundle of only OperationOutcomes) in place of data is a failed
// prefetch: reported for an optional key, 412 for the required Patient.
TEST_F(ConformanceTest, E43_OperationOutcomeValuesAreTreatedAsNotSatisfied) {
  const std::string body = Golden("001-thunderclap-snomed");
  const std::string oo = R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"timeout"}]})";
  const std::string oo_bundle = R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":)" + oo + "}]}";
  for (const std::string& value : {oo, oo_bundle}) {
    HttpResponse r = Post(kPatientView, WithPrefetch(body, "conditions", value));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(GapReport(r), HasSubstr("prefetch `conditions`")) << value;
    HttpResponse patient = Post(kPatientView, WithPrefetch(body, "patient", value));
    EXPECT_EQ(patient.status, 412) << value;
    EXPECT_EQ(IssueOf(patient).expression, "prefetch.patient");
  }
}

// E44: a paged searchset that cannot be completed (no fhirServer) is evaluated and reported partial.
TEST_F(ConformanceTest, E44_APagedPrefetchThatCannotBeCompletedIsReportedPartial) {
  rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
  auto& a = doc.GetAllocator();
  rapidjson::Value& conditions = doc["prefetch"]["conditions"];
  rapidjson::Value next(rapidjson::kObjectType);
  next.AddMember("relation", "next", a);
  next.AddMember("url", "https://ehr.example.org/fhir/Condition?patient=p001&page=2", a);
  if (!conditions.HasMember("link")) conditions.AddMember("link", rapidjson::Value(rapidjson::kArrayType), a);
  conditions["link"].PushBack(next, a);
  HttpResponse r = Post(kPatientView, json::Serialize(doc));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(GapReport(r), HasSubstr("prefetch `conditions` partial"));
  // What was on the first page still counts: the thunderclap red flag still fires.
  EXPECT_THAT(r.body, HasSubstr("\"critical\""));
}

// E45-E49: with fhirServer and fhirAuthorization but no prefetch, the real fetcher queries the
// (loopback) FHIR server for every template, each call with `Authorization: Bearer <token>`;
// without fhirAuthorization no Authorization header is sent; the token never appears in any
// answer.
class SelfFetchTest : public ConformanceTest {
 protected:
  // A loopback FHIR server: `GET /Patient/<id>` is that Patient, any search an empty searchset.
  static test::CannedHttpServer::Response Answer(const test::CannedHttpServer::Request& request) {
    if (request.target.find("page=2") != std::string::npos) return {200, "application/fhir+json", PageTwo()};
    if (request.target.rfind("/Patient/", 0) == 0) {
      return {200, "application/fhir+json",
              R"({"resourceType":"Patient","id":")" + request.target.substr(9) + R"(","birthDate":"1981-05-12"})"};
    }
    return {200, "application/fhir+json", R"({"resourceType":"Bundle","type":"searchset","total":0})"};
  }
  std::string Request(bool with_auth, const std::string& base) const {
    std::string auth = with_auth ? R"("fhirAuthorization":{"access_token":"tok-E47-secret","token_type":"Bearer",
        "expires_in":300,"scope":"user/*.read","subject":"cephalgia"},)"
                                 : "";
    return R"({"hook":"patient-view","hookInstance":"5e0f3c1a-2b4d-4e6f-8a9b-0c1d2e3f4a5b","fhirServer":")" + base +
           R"(",)" + auth + R"("context":{"userId":"Practitioner/pr-1","patientId":"p-e45"}})";
  }
  HttpResponse Call(const std::string& body) {
    fhir::FhirClientOptions options;
    CurlFhirFetcher fetcher(options);
    CdsService service(GetSuite().registry, DefaultOptions(), &fetcher);
    return service.Handle(MakeRequest("POST", std::string("/cds-services/") + kPatientView, body));
  }
  // The body served for any `page=2` query (E44).
  static std::string& PageTwo() {
    static std::string body;
    return body;
  }
  // Golden case 001 (thunderclap) with fhirServer and a token, for tests that edit its prefetch.
  rapidjson::Document Case001WithFhirServer() const {
    rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
    auto& a = doc.GetAllocator();
    doc.AddMember("fhirServer", rapidjson::Value(fhir_.origin().c_str(), a), a);
    rapidjson::Value auth(rapidjson::kObjectType);
    auth.AddMember("access_token", "tok-E44", a);
    auth.AddMember("token_type", "Bearer", a);
    doc.AddMember("fhirAuthorization", auth, a);
    return doc;
  }
  test::CannedHttpServer fhir_{Answer};
};

// E44: the `next` page of a paged prefetch is fetched (same origin, with the token) and its
// entries are evaluated: the thunderclap Condition, moved to page 2, still raises its red flag.
TEST_F(SelfFetchTest, E44_TheNextPageIsFetchedWithTheTokenAndEvaluated) {
  rapidjson::Document doc = Case001WithFhirServer();
  auto& a = doc.GetAllocator();
  rapidjson::Value& conditions = doc["prefetch"]["conditions"];
  PageTwo() = json::Serialize(conditions);  // a searchset holding the thunderclap Condition
  conditions.RemoveMember("entry");
  conditions.RemoveMember("link");
  rapidjson::Value links(rapidjson::kArrayType);
  rapidjson::Value next(rapidjson::kObjectType);
  next.AddMember("relation", "next", a);
  next.AddMember("url", rapidjson::Value((fhir_.origin() + "/Condition?patient=p001&page=2").c_str(), a), a);
  links.PushBack(next, a);
  conditions.AddMember("link", links, a);
  fhir::FhirClientOptions options;
  CurlFhirFetcher fetcher(options);
  CdsService service(GetSuite().registry, DefaultOptions(), &fetcher);
  const std::string target = std::string("/cds-services/") + kPatientView;
  HttpResponse r = service.Handle(MakeRequest("POST", target, json::Serialize(doc)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(HasTopicCode(r, "thunderclap_onset")) << r.body;
  EXPECT_THAT(AllDetails(r), Not(HasSubstr("partial")));
  ASSERT_EQ(fhir_.requests().size(), 1u);
  EXPECT_EQ(fhir_.requests()[0].target, "/Condition?patient=p001&page=2");
  EXPECT_EQ(fhir_.requests()[0].headers.at("authorization"), "Bearer tok-E44");
  // Control, on the same service instance: without the second page the red flag is not raised,
  // so page 2 was what counted, and nothing fetched for the previous call is reused (L109).
  doc.RemoveMember("fhirServer");
  doc.RemoveMember("fhirAuthorization");
  HttpResponse first_page_only = service.Handle(MakeRequest("POST", target, json::Serialize(doc)));
  ASSERT_EQ(first_page_only.status, 200);
  EXPECT_FALSE(HasTopicCode(first_page_only, "thunderclap_onset"));
}

// E43/E45: an OperationOutcome in place of an optional key is not data: the service fetches
// that key itself (and only that key) when it can.
TEST_F(SelfFetchTest, E43_AnOperationOutcomePrefetchIsFetchedAgain) {
  rapidjson::Document doc = Case001WithFhirServer();
  rapidjson::Document oo = Parse(R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"timeout"}]})");
  doc["prefetch"]["allergies"].CopyFrom(oo, doc.GetAllocator());
  HttpResponse r = Call(json::Serialize(doc));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(fhir_.requests().size(), 1u);
  EXPECT_EQ(fhir_.requests()[0].target, "/AllergyIntolerance?patient=p001");
  EXPECT_THAT(GapReport(r), Not(HasSubstr("prefetch `allergies`")));
  EXPECT_TRUE(HasTopicCode(r, "thunderclap_onset"));
}

const std::set<std::string> kAllEightQueries = {
    "/Patient/p-e45", "/Condition?patient=p-e45", "/Observation?patient=p-e45", "/MedicationRequest?patient=p-e45",
    "/MedicationStatement?patient=p-e45", "/Procedure?patient=p-e45", "/ServiceRequest?patient=p-e45",
    "/AllergyIntolerance?patient=p-e45"};

TEST_F(SelfFetchTest, E47_EveryFhirCallCarriesTheBearerToken) {
  HttpResponse r = Call(Request(true, fhir_.origin()));
  ASSERT_EQ(r.status, 200) << r.body;  // E45: fetched, evaluated, answered
  std::set<std::string> targets;
  for (const auto& q : fhir_.requests()) {
    targets.insert(q.target);
    EXPECT_EQ(q.method, "GET");
    auto auth = q.headers.find("authorization");
    ASSERT_NE(auth, q.headers.end()) << q.target;
    EXPECT_EQ(auth->second, "Bearer tok-E47-secret") << q.target;
  }
  EXPECT_EQ(targets, kAllEightQueries);
  // Everything was had: no gap reported.
  EXPECT_THAT(GapReport(r), Not(HasSubstr("prefetch `")));
  EXPECT_THAT(r.body, Not(HasSubstr("tok-E47-secret")));  // E49
}

// E45: a fhirServer base with a trailing slash (common in EHR configs) gives the same queries.
TEST_F(SelfFetchTest, E45_AFhirServerBaseWithATrailingSlashIsJoinedCorrectly) {
  HttpResponse r = Call(Request(true, fhir_.origin() + "/"));
  ASSERT_EQ(r.status, 200) << r.body;
  std::set<std::string> targets;
  for (const auto& q : fhir_.requests()) targets.insert(q.target);
  EXPECT_EQ(targets, kAllEightQueries);
}

TEST_F(SelfFetchTest, E48_WithoutFhirAuthorizationNoAuthorizationHeaderIsSent) {
  HttpResponse r = Call(Request(false, fhir_.origin()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(fhir_.requests().size(), 8u);
  for (const auto& q : fhir_.requests()) EXPECT_EQ(q.headers.count("authorization"), 0u) << q.target;
}

// E47/E49: a `next` link on another origin than fhirServer is not followed: the token never
// leaves the EHR's origin, and the answer says the data is partial.
TEST_F(SelfFetchTest, E49_ANextLinkOnAnotherOriginIsNotFollowedWithTheToken) {
  test::CannedHttpServer other(Answer);
  rapidjson::Document doc = Case001WithFhirServer();
  auto& a = doc.GetAllocator();
  rapidjson::Value& conditions = doc["prefetch"]["conditions"];
  rapidjson::Value next(rapidjson::kObjectType);
  next.AddMember("relation", "next", a);
  next.AddMember("url", rapidjson::Value((other.origin() + "/Condition?patient=p001&page=2").c_str(), a), a);
  if (!conditions.HasMember("link")) conditions.AddMember("link", rapidjson::Value(rapidjson::kArrayType), a);
  conditions["link"].PushBack(next, a);
  HttpResponse r = Call(json::Serialize(doc));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(other.requests().empty()) << "the token was sent to another origin";
  EXPECT_THAT(GapReport(r), HasSubstr("prefetch `conditions` partial"));
}

// E50/E81 with a FHIR server that fails: the required Patient is a 412 naming it (with an
// OperationOutcome); an optional key that fails is a 200 whose answer names the gap.
TEST_F(ConformanceTest, E50_AFailingFhirServerIs412ForThePatientAndAGapOtherwise) {
  test::CannedHttpServer failing([](const test::CannedHttpServer::Request&) {
    return test::CannedHttpServer::Response{500, "application/fhir+json",
                                            R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]})"};
  });
  fhir::FhirClientOptions options;
  CurlFhirFetcher fetcher(options);
  CdsService service(GetSuite().registry, DefaultOptions(), &fetcher);
  rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
  auto& a = doc.GetAllocator();
  doc.AddMember("fhirServer", rapidjson::Value(failing.origin().c_str(), a), a);
  const std::string target = std::string("/cds-services/") + kPatientView;
  // Optional key missing: fetched, fails, reported.
  rapidjson::Document optional_missing;
  optional_missing.CopyFrom(doc, optional_missing.GetAllocator());
  optional_missing["prefetch"].RemoveMember("allergies");
  HttpResponse gap = service.Handle(MakeRequest("POST", target, json::Serialize(optional_missing)));
  ASSERT_EQ(gap.status, 200) << gap.body;
  EXPECT_THAT(GapReport(gap), HasSubstr("prefetch `allergies`"));
  EXPECT_TRUE(HasTopicCode(gap, "thunderclap_onset"));
  // Required Patient missing: 412 with an OperationOutcome naming prefetch.patient.
  doc["prefetch"].RemoveMember("patient");
  HttpResponse r = service.Handle(MakeRequest("POST", target, json::Serialize(doc)));
  EXPECT_EQ(r.status, 412) << r.body;
  Issue issue = IssueOf(r);
  EXPECT_EQ(issue.expression, "prefetch.patient");
  EXPECT_THAT(r.body, Not(HasSubstr("\"cards\"")));
}

// I90/D34: patientId is a bare FHIR id. One that is not (here it holds `/` and `..` segments)
// must not steer the bearer-token read to another endpoint under the FHIR base: it is refused
// (400) or percent-encoded into the one path segment, never sent as path segments. (Found by
// this suite: the read once went to {fhirServer}/admin/tokens with the token; fixed in 2b05895.)
TEST_F(SelfFetchTest, I90_APatientIdWithPathSegmentsNeverLeavesThePatientPath) {
  std::string body = Request(true, fhir_.origin() + "/fhir");
  const std::string id = R"("patientId":"p-e45")";
  body.replace(body.find(id), id.size(), R"("patientId":"p-e45/../../admin/tokens")");
  HttpResponse r = Call(body);
  EXPECT_NE(r.status, 500) << r.body;
  for (const auto& q : fhir_.requests()) {
    std::string path = q.target.substr(0, q.target.find('?'));
    bool is_search = q.target.find('?') != std::string::npos;
    bool ok = is_search ? path.find('/', 6) == std::string::npos  // /fhir/<Type>?...
                        : path.rfind("/fhir/Patient/", 0) == 0 && path.find('/', 14) == std::string::npos;
    EXPECT_TRUE(ok) << "a token-bearing request went to " << q.target;
  }
}

// E49: the FHIR token is never echoed, in cards or in errors (a 412 explains without it).
TEST_F(ConformanceTest, E49_TheFhirAccessTokenNeverAppearsInAnAnswer) {
  const std::string token = "tok-E49-very-secret-value";
  std::string request = R"({"hook":"patient-view","hookInstance":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "fhirServer":"https://ehr.invalid/fhir","fhirAuthorization":{"access_token":")" + token +
                        R"(","token_type":"Bearer","expires_in":300,"scope":"user/*.read","subject":"c"},
    "context":{"userId":"Practitioner/pr-1","patientId":"p-e49"}})";
  HttpResponse r = Post(kPatientView, request);  // no fetcher: 412 (the Patient cannot be had)
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(r.body, Not(HasSubstr(token)));
  rapidjson::Document doc = GoldenDoc("001-thunderclap-snomed");
  auto& a = doc.GetAllocator();
  doc.AddMember("fhirServer", "https://ehr.invalid/fhir", a);
  rapidjson::Value auth(rapidjson::kObjectType);
  auth.AddMember("access_token", rapidjson::Value(token.c_str(), a), a);
  auth.AddMember("token_type", "Bearer", a);
  doc.AddMember("fhirAuthorization", auth, a);
  HttpResponse ok = Post(kPatientView, json::Serialize(doc));
  EXPECT_EQ(ok.status, 200);
  EXPECT_THAT(ok.body, Not(HasSubstr(token)));
}

// E50/E51/G79/G80: the recommended status codes, each with an OperationOutcome body, JSON
// content type and no cards (so an error never looks like guidance).
TEST_F(ConformanceTest, G79_ErrorsUseTheRecommendedCodesWithOperationOutcomeBodies) {
  struct Case {
    std::string name;
    HttpRequest request;
    int status;
  };
  std::string golden = Golden("001-thunderclap-snomed");
  std::vector<Case> cases = {
      {"malformed JSON", MakeRequest("POST", "/cds-services/headache-patient-view", R"({"hook":"patient-view",)"), 400},
      {"missing hook", MakeRequest("POST", "/cds-services/headache-patient-view", R"({"hookInstance":"x","context":{}})"), 400},
      {"unknown service", MakeRequest("POST", "/cds-services/no-such-service", golden), 404},
      {"unknown path", MakeRequest("GET", "/cds-services/headache-patient-view/extra"), 404},
      {"GET on a service", MakeRequest("GET", "/cds-services/headache-patient-view"), 405},
      {"PUT on a service", MakeRequest("PUT", "/cds-services/headache-patient-view", golden), 405},
      {"DELETE on discovery", MakeRequest("DELETE", "/cds-services"), 405},
      {"POST on discovery", MakeRequest("POST", "/cds-services", golden), 405},
      {"required data unobtainable", MakeRequest("POST", "/cds-services/headache-patient-view",
                                                  WithPrefetch(golden, "patient", "")), 412},
  };
  for (const Case& c : cases) {
    HttpResponse r = Service().Handle(c.request);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_THAT(r.content_type, HasSubstr("application/json")) << c.name;
    Issue issue = IssueOf(r);
    EXPECT_FALSE(issue.diagnostics.empty()) << c.name;
    EXPECT_FALSE(issue.code.empty()) << c.name;
    EXPECT_THAT(r.body, Not(HasSubstr("\"cards\""))) << c.name;
  }
}

// G79: a client's garbage is a 4xx, never a 500, and never a crash: truncated bodies, wrong JSON
// types at every envelope and context field, huge strings, deep nesting, odd encodings.
TEST_F(ConformanceTest, G79_GarbageRequestsAreNever500) {
  std::vector<std::pair<std::string, std::string>> bodies;  // (service, body)
  std::string pv;
  std::string os;
  for (const auto& [n, s] : GetSuite().golden_services) {
    if (s == kPatientView && pv.empty()) pv = n;
    if (s == kOrderSign && os.empty()) os = n;
  }
  for (const std::string& name : {pv, os}) {
    const std::string& service = GetSuite().golden_services.at(name);
    const std::string body = Golden(name);
    // Truncations.
    for (std::size_t cut = 0; cut < body.size(); cut += std::max<std::size_t>(1, body.size() / 150)) {
      bodies.emplace_back(service, body.substr(0, cut));
    }
    // Wrong JSON types at every top-level and context field (and the prefetch values).
    const char* const kWrong[] = {"null", "0", "-1.5e308", "true", "\"\"", "\" \"", "[]", "{}", "[null]", "{\"a\":null}"};
    rapidjson::Document doc = Parse(body);
    std::vector<std::string> top, ctx, pre;
    for (const auto& m : doc.GetObject()) top.emplace_back(m.name.GetString());
    for (const auto& m : doc["context"].GetObject()) ctx.emplace_back(m.name.GetString());
    for (const auto& m : doc["prefetch"].GetObject()) pre.emplace_back(m.name.GetString());
    for (const char* wrong : kWrong) {
      rapidjson::Document w = Parse(wrong);
      for (const std::string& f : top) {
        rapidjson::Document d = Parse(body);
        d[f.c_str()].CopyFrom(w, d.GetAllocator());
        bodies.emplace_back(service, json::Serialize(d));
      }
      for (const std::string& f : ctx) {
        rapidjson::Document d = Parse(body);
        d["context"][f.c_str()].CopyFrom(w, d.GetAllocator());
        bodies.emplace_back(service, json::Serialize(d));
      }
      for (const std::string& f : pre) {
        rapidjson::Document d = Parse(body);
        d["prefetch"][f.c_str()].CopyFrom(w, d.GetAllocator());
        bodies.emplace_back(service, json::Serialize(d));
      }
    }
    // Huge strings (under the 1 MiB body limit) in the ids.
    for (const char* f : {"patientId", "userId"}) {
      rapidjson::Document d = Parse(body);
      std::string huge(300 * 1024, 'x');
      d["context"][f].SetString(huge.c_str(), static_cast<rapidjson::SizeType>(huge.size()), d.GetAllocator());
      bodies.emplace_back(service, json::Serialize(d));
    }
    rapidjson::Document d = Parse(body);
    std::string huge(300 * 1024, 'y');
    d["hookInstance"].SetString(huge.c_str(), static_cast<rapidjson::SizeType>(huge.size()), d.GetAllocator());
    bodies.emplace_back(service, json::Serialize(d));
  }
  // Deep nesting, odd documents, invalid UTF-8, a BOM, NUL bytes, over-size.
  bodies.emplace_back(kPatientView, std::string(200000, '[') + std::string(200000, ']'));
  bodies.emplace_back(kPatientView, R"({"hook":"patient-view","hookInstance":"x","context":)" + std::string(100000, '[') +
                                        std::string(100000, ']') + "}");
  std::string nested_obj = R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p","x":)";
  for (int i = 0; i < 50000; ++i) nested_obj += R"({"a":)";
  nested_obj += "1" + std::string(50000, '}') + "}}";
  bodies.emplace_back(kPatientView, nested_obj);
  for (const char* odd : {"", " ", "null", "[]", "\"patient-view\"", "42", "{}", "{\"hook\":null}", "\xEF\xBB\xBF{}",
                          "{\"hook\":\"patient-\xC3\x28view\"}", "{\"hook\":\"patient-view\",\"hookInstance\":\"a\\u0000b\"}",
                          "{\"a\":1}{\"b\":2}", "{'hook':'patient-view'}", "{\"hook\":\"patient-view\",}",
                          "/* c */{\"hook\":\"patient-view\"}", "NaN", "{\"hook\":\"patient-view\",\"hookInstance\":\"x\",\"context\":{\"userId\":\"Practitioner/1\",\"patientId\":\"p\"},\"prefetch\":{\"patient\":{\"resourceType\":\"Patient\",\"id\":\"p\",\"birthDate\":1e999}}}"}) {
    bodies.emplace_back(kPatientView, odd);
    bodies.emplace_back(kOrderSign, odd);
  }
  bodies.emplace_back(kPatientView, std::string((1 << 20) + 10, ' '));
  std::map<int, int> statuses;
  for (const auto& [service, body] : bodies) {
    HttpResponse r = Post(service, body);
    ++statuses[r.status];
    EXPECT_TRUE(r.status == 200 || r.status == 400 || r.status == 412 || r.status == 413)
        << r.status << " for " << service << " body " << body.substr(0, 200) << "\n-> " << r.body.substr(0, 300);
    EXPECT_TRUE(json::ParseUntrusted(r.body, 64u << 20).ok()) << r.body.substr(0, 200);
  }
  EXPECT_GT(statuses[400], 100);
  std::string summary;
  for (auto [s, n] : statuses) summary += std::to_string(s) + ":" + std::to_string(n) + " ";
  RecordProperty("statuses", summary);
}

// G79: mutating the prefetched FHIR data itself (a wrong type at every node of two cases) is
// evaluated or refused, never a 500; every 200 still has a valid shape.
TEST_F(ConformanceTest, G79_MutatedPrefetchResourcesNeverCause500) {
  std::vector<std::string> names = {"001-thunderclap-snomed"};
  for (const auto& [n, s] : GetSuite().golden_services) {
    if (s == kOrderSign) {
      names.push_back(n);
      break;
    }
  }
  // CEPHALGIA_CONFORMANCE_FUZZ_ALL=1 mutates every golden case (minutes; for sanitizer runs).
  if (const char* all = std::getenv("CEPHALGIA_CONFORMANCE_FUZZ_ALL"); all != nullptr && std::string(all) == "1") {
    names.clear();
    for (const auto& [n, s] : GetSuite().golden_services) names.push_back(n);
  }
  int runs = 0;
  for (const std::string& name : names) {
    const std::string body = Golden(name);
    const std::string& service = GetSuite().golden_services.at(name);
    // Collect the JSON pointers of the nodes under prefetch and context.draftOrders.
    rapidjson::Document doc = Parse(body);
    std::vector<std::string> pointers;
    auto collect = [&](const rapidjson::Value& root, const std::string& base) {
      Walk(root, base, [&](const rapidjson::Value&, const std::string& path) { pointers.push_back(path); });
    };
    collect(doc["prefetch"], "/prefetch");
    if (const rapidjson::Value* d = json::Find(doc["context"], "draftOrders")) collect(*d, "/context/draftOrders");
    // The last value is a 300-character string, half of it multi-byte: texts copied from the
    // record into a card must keep the answer valid UTF-8 and the summary under 140 characters.
    std::string long_text = "\"" + std::string(150, 'L');
    for (int k = 0; k < 75; ++k) long_text += "\xC3\xA4\xE2\x9C\x93";  // ä✓
    long_text += "\"";
    const std::vector<std::string> kWrong = {"7", "\"x\"", "[]", "{}", "null", "true", long_text};
    for (std::size_t i = 0; i < pointers.size(); ++i) {
      // Pointer tokens here are plain names and indices (no '~' or '/').
      rapidjson::Document d = Parse(body);
      rapidjson::Value* target = rapidjson::Pointer(pointers[i].c_str()).Get(d);
      if (target == nullptr) continue;
      const std::string& wrong = kWrong[i % kWrong.size()];
      rapidjson::Document w = Parse(wrong);
      target->CopyFrom(w, d.GetAllocator());
      HttpResponse r = Post(service, json::Serialize(d));
      ++runs;
      ASSERT_TRUE(r.status == 200 || r.status == 400 || r.status == 412)
          << r.status << " when " << pointers[i] << " := " << wrong << " in " << name << "\n" << r.body;
      if (r.status == 200) {
        rapidjson::Document resp = Parse(r.body);
        Violations v;
        for (const NamedCheck& c : AllChecks()) c.check(resp, v);
        EXPECT_THAT(v, IsEmpty()) << name << ": " << pointers[i] << " := " << wrong;
      }
    }
  }
  EXPECT_GT(runs, 250);
}

// A1: the answer stays valid JSON (valid UTF-8) whatever text the record holds. (Found by this
// suite: the pack's medication-overuse sentence was cut at byte 199, mid-character, in a fixed
// snprintf buffer; fixed in f36de5e.)
TEST_F(ConformanceTest, A1_LongNonAsciiDraftOrderTextKeepsTheAnswerValidUtf8) {
  for (std::string name : {"Oxycodonhydrochlorid ", "Oxycodon-Hydrochlorid "}) {  // both byte parities
    for (int i = 0; i < 120; ++i) name += "\xC3\xA4";  // ä
    rapidjson::Document d = GoldenDoc("601-order-sign-opioid-draft");
    rapidjson::Value& concept_ = d["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"];
    concept_["text"].SetString(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), d.GetAllocator());
    HttpResponse r = Post(kOrderSign, json::Serialize(d));
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(json::ParseUntrusted(r.body, 64u << 20).ok()) << "the answer is not valid UTF-8 JSON";
  }
}

// The same long text in ASCII: the answer is valid and keeps every shape rule.
TEST_F(ConformanceTest, A1_LongDraftOrderTextKeepsTheAnswerValid) {
  rapidjson::Document d = GoldenDoc("601-order-sign-opioid-draft");
  std::string name = "Oxycodone hydrochloride " + std::string(300, 'x');
  rapidjson::Value& concept_ = d["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"];
  concept_["text"].SetString(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), d.GetAllocator());
  HttpResponse r = Post(kOrderSign, json::Serialize(d));
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(json::ParseUntrusted(r.body, 64u << 20).ok());
  rapidjson::Document resp = Parse(r.body);
  Violations v;
  for (const NamedCheck& c : AllChecks()) c.check(resp, v);
  EXPECT_THAT(v, IsEmpty());
}

// E41/E42 over the whole corpus: every golden case, with each optional prefetch key in turn
// missing or null, still answers 200 and keeps every response-shape rule.
TEST_F(ConformanceTest, E42_EveryCaseWithAKeyMissingOrNullKeepsEveryShapeRule) {
  int runs = 0;
  for (const auto& [name, body] : GetSuite().golden_requests) {
    const std::string& service = GetSuite().golden_services.at(name);
    for (const char* key : kOptionalKeys) {
      for (const char* value : {"", "null"}) {
        HttpResponse r = Post(service, WithPrefetch(body, key, value));
        ASSERT_EQ(r.status, 200) << name << " " << key << "=" << value << ": " << r.body;
        rapidjson::Document resp = Parse(r.body);
        Violations v;
        for (const NamedCheck& c : AllChecks()) c.check(resp, v);
        EXPECT_THAT(v, IsEmpty()) << name << ": prefetch." << key << (*value ? " null" : " missing");
        ++runs;
      }
    }
  }
  EXPECT_GE(runs, 170 * 7 * 2);
}

// F65 (cds-resp-1) regression: with prefetch.medicationStatements missing or null in cases
// 214 and 217, several ladder steps apply at once (a medicine and a referral). The card then
// has one recommended suggestion per step, so it must be `any`, never `at-most-one` with two
// recommendations (the pack used to do that; fixed in Evaluation::Ladder).
TEST_F(ConformanceTest, F65_AMissingMedicationListNeverGivesTwoRecommendedSuggestions) {
  for (const char* name : {"214-step3-pain-management", "217-step4-neurosurgeon-structural-lesion"}) {
    for (const char* value : {"", "null"}) {
      HttpResponse r = Post(kPatientView, WithPrefetch(Golden(name), "medicationStatements", value));
      ASSERT_EQ(r.status, 200) << r.body;
      Violations v;
      CheckIsRecommended(Parse(r.body), v);
      EXPECT_THAT(v, IsEmpty()) << name << (*value ? " null" : " missing");
    }
  }
}

// I88: each hook the service answers checks its REQUIRED context fields: removing any one, or
// giving it the wrong type, is a 400 naming context.<field>.
TEST_F(ConformanceTest, I88_EachRequiredContextFieldOfEachHookIsValidated) {
  std::map<std::string, std::vector<std::string>> required = {
      {kPatientView, {"userId", "patientId"}},
      {kOrderSign, {"userId", "patientId", "draftOrders"}},
  };
  for (const auto& [service, fields] : required) {
    std::string case_name;
    for (const auto& [n, s] : GetSuite().golden_services) {
      if (s == service) {
        case_name = n;
        break;
      }
    }
    const std::string body = Golden(case_name);
    for (const std::string& field : fields) {
      rapidjson::Document d = Parse(body);
      d["context"].RemoveMember(field.c_str());
      HttpResponse r = Post(service, json::Serialize(d));
      EXPECT_EQ(r.status, 400) << service << " without " << field << ": " << r.body;
      EXPECT_EQ(IssueOf(r).expression, "context." + field);
      EXPECT_THAT(IssueOf(r).diagnostics, HasSubstr(field));
      const std::vector<std::string> wrong = field == "draftOrders"
                                                 ? std::vector<std::string>{"\"Bundle\"", "[]", "7", "null"}
                                                 : std::vector<std::string>{"7", "\"\"", "\"  \"", "[\"a\"]", "{}", "null"};
      for (const std::string& w : wrong) {
        rapidjson::Document dd = Parse(body);
        rapidjson::Document wv = Parse(w);
        dd["context"][field.c_str()].CopyFrom(wv, dd.GetAllocator());
        HttpResponse rr = Post(service, json::Serialize(dd));
        EXPECT_EQ(rr.status, 400) << service << " " << field << "=" << w << ": " << rr.body;
        EXPECT_EQ(IssueOf(rr).expression, "context." + field) << w;
      }
    }
    // The optional encounterId, when present, must be a string.
    rapidjson::Document d = Parse(body);
    d["context"].RemoveMember("encounterId");
    d["context"].AddMember("encounterId", 5, d.GetAllocator());
    HttpResponse r = Post(service, json::Serialize(d));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(IssueOf(r).expression, "context.encounterId");
  }
}

// I91: the official sandbox's loose draftOrders (no Bundle.type, a MedicationRequest without
// intent or medication) are evaluated, not refused and never a 500.
TEST_F(ConformanceTest, I91_SandboxStyleLooseDraftOrdersAreAnswered) {
  HttpResponse r = Post(kOrderSign, R"({"hook":"order-sign","hookInstance":"0d4f6a8c-1b3e-4c5a-9d7f-2e4a6c8e0b1d",
    "fhirServer":"https://launch.smarthealthit.org/v/r2/fhir",
    "context":{"userId":"Practitioner/COREPRACTITIONER1","patientId":"smart-1288992",
      "draftOrders":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest",
        "id":"request-123","status":"draft","subject":{"reference":"Patient/smart-1288992"},
        "dosageInstruction":[{"text":"1 tablet daily"}]}}]}},
    "prefetch":{"patient":{"resourceType":"Patient","id":"smart-1288992","birthDate":"1925-12-23"}}})");
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = Parse(r.body);
  Violations v;
  for (const NamedCheck& c : AllChecks()) c.check(doc, v);
  EXPECT_THAT(v, IsEmpty());
}

// I92 (decision): the deprecated medication-prescribe/order-review hooks are not answered by the
// order-sign service; sending one is a clear 400 on `hook`, not a 500.
TEST_F(ConformanceTest, I92_DeprecatedHooksGetAClear400) {
  for (const char* hook : {"medication-prescribe", "order-review", "order-select"}) {
    rapidjson::Document d = Parse(Golden("001-thunderclap-snomed"));
    d["hook"].SetString(hook, d.GetAllocator());
    HttpResponse r = Post(kOrderSign, json::Serialize(d));
    EXPECT_EQ(r.status, 400) << hook;
    EXPECT_EQ(IssueOf(r).expression, "hook");
    EXPECT_THAT(IssueOf(r).diagnostics, HasSubstr("does not match this service"));
  }
}

// B23/J95: with authentication configured, discovery, service and feedback calls all go
// through it with the path called (the JWT `aud` is checked against it); a refusal is a 401
// that carries no cards.
TEST_F(ConformanceTest, B23_DiscoveryServiceAndFeedbackAreAllAuthenticated) {
  std::vector<std::string> paths;
  ServiceHooks hooks;
  hooks.authenticate = [&](std::string_view authorization, std::string_view path,
                           AuthAttempt&) -> Result<std::string> {
    paths.emplace_back(path);
    if (authorization != "Bearer good") return Status(StatusCode::kUnauthenticated, "token refused");
    return std::string("https://ehr.example");
  };
  hooks.store_feedback = [](std::string_view, std::string_view) { return Status::Ok(); };
  CdsService service(GetSuite().registry, DefaultOptions(), nullptr, hooks);
  const std::string golden = Golden("001-thunderclap-snomed");
  const std::string feedback = R"({"feedback":[{"card":"a5b0bcd6-9dcc-4d3a-9a3c-0a1d0d7b0f21","outcome":"overridden",
    "outcomeTimestamp":"2026-03-01T10:05:00Z"}]})";
  struct Call {
    std::string method, target, body;
  };
  const std::vector<Call> calls = {{"GET", "/cds-services", ""},
                                   {"POST", "/cds-services/headache-patient-view", golden},
                                   {"POST", "/cds-services/headache-patient-view/feedback", feedback}};
  for (const Call& c : calls) {
    HttpRequest refused = MakeRequest(c.method, c.target, c.body);
    refused.headers.emplace_back("Authorization", "Bearer forged");
    HttpResponse r = service.Handle(refused);
    EXPECT_EQ(r.status, 401) << c.target;
    EXPECT_THAT(r.body, Not(HasSubstr("\"cards\"")));
    HttpRequest accepted = MakeRequest(c.method, c.target, c.body);
    accepted.headers.emplace_back("Authorization", "Bearer good");
    EXPECT_EQ(service.Handle(accepted).status, 200) << c.target;
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/cds-services", "/cds-services", "/cds-services/headache-patient-view",
                                             "/cds-services/headache-patient-view",
                                             "/cds-services/headache-patient-view/feedback",
                                             "/cds-services/headache-patient-view/feedback"}));
}

// K107: a browser's preflight works on all three CDS Hooks paths of the headache services, and
// the actual answers (including errors, which a browser must be able to read) carry the origin.
TEST_F(ConformanceTest, K107_PreflightOnDiscoveryServiceAndFeedbackPaths) {
  for (const char* path : {"/cds-services", "/cds-services/headache-patient-view", "/cds-services/headache-order-sign",
                           "/cds-services/headache-patient-view/feedback"}) {
    HttpRequest r = MakeRequest("OPTIONS", path);
    r.headers = {{"Origin", "https://sandbox.cds-hooks.org"},
                 {"Access-Control-Request-Method", "POST"},
                 {"Access-Control-Request-Headers", "authorization,content-type"}};
    HttpResponse response = Service().Handle(r);
    EXPECT_GE(response.status, 200) << path;
    EXPECT_LT(response.status, 300) << path;
    std::map<std::string, std::string> h(response.headers.begin(), response.headers.end());
    EXPECT_EQ(h["Access-Control-Allow-Origin"], "*") << path;
    EXPECT_THAT(h["Access-Control-Allow-Methods"], HasSubstr("GET")) << path;
    EXPECT_THAT(h["Access-Control-Allow-Methods"], HasSubstr("POST")) << path;
    EXPECT_THAT(h["Access-Control-Allow-Headers"], HasSubstr("Authorization")) << path;
    EXPECT_THAT(h["Access-Control-Allow-Headers"], HasSubstr("Content-Type")) << path;
    EXPECT_EQ(h.count("Access-Control-Allow-Credentials"), 0u) << "K108: no credentials with a wildcard origin";
  }
  for (const auto& e : GetSuite().corpus) {
    HttpRequest r = MakeRequest(e->method, e->target, e->request);
    r.headers.emplace_back("Origin", "https://sandbox.cds-hooks.org");
    HttpResponse response = Service().Handle(r);
    std::map<std::string, std::string> h(response.headers.begin(), response.headers.end());
    EXPECT_EQ(h["Access-Control-Allow-Origin"], "*") << e->name << " (" << response.status << ")";
  }
}

}  // namespace
}  // namespace cephalgia::hooks
