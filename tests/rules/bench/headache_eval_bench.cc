// Benchmark of one in-process headache evaluation (issue 4 item 10): parse the CDS Hooks
// request, extract findings, evaluate red flags / classification / ladder / safety, build and
// serialise the cards. Input: golden case 217 (a typical ~10 KB patient-view request: CGH with
// PT history, pain scores, medicines and imaging findings). Target: <= 50 us median (Release).
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cephalgia/rules/headache_engine.h"
#include "golden/golden_case.h"

namespace {

const cephalgia::rules::HeadacheEngine& Engine() {
  static auto* engine = [] {
    auto e = cephalgia::rules::HeadacheEngine::Load(std::string(CEPHALGIA_SOURCE_DIR) +
                                                    "/rules/packs/headache");
    if (!e.ok()) {
      std::fprintf(stderr, "%s\n", e.status().ToString().c_str());
      std::abort();
    }
    return e->release();
  }();
  return *engine;
}

void BM_EvaluateCase(benchmark::State& state, const char* file) {
  auto c = cephalgia::testing::LoadGoldenCase(std::string(CEPHALGIA_SOURCE_DIR) +
                                              "/tests/rules/cases/" + file);
  if (!c.ok()) {
    state.SkipWithError(c.status().message().c_str());
    return;
  }
  cephalgia::plugin::EvaluateCall call;
  call.service_id = c->service;
  call.request_json = c->request_json;
  call.now = c->now;
  std::size_t out_bytes = 0;
  for (auto _ : state) {
    auto response = Engine().Evaluate(call);
    if (!response.ok()) {
      state.SkipWithError(response.status().message().c_str());
      return;
    }
    out_bytes = response->size();
    benchmark::DoNotOptimize(response->data());
  }
  state.counters["request_bytes"] = static_cast<double>(c->request_json.size());
  state.counters["response_bytes"] = static_cast<double>(out_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c->request_json.size()));
}

// The biggest Synthea patient of ../shared (issue 11 item 8: a large chart; the file is 1.3 MB):
// opened on the day of the patient's last encounter, with every resource of the types the
// service prefetches under the eight prefetch keys (`whole_bundle` false), or with the whole
// Bundle as it is (billing, encounters and all: 0.5 MB compact) as one more prefetch value,
// as an EHR that sends everything would.
void BM_EvaluateLargeSyntheaChart(benchmark::State& state, bool whole_bundle) {
  std::ifstream in(
      std::string(CEPHALGIA_SHARED_DIR) +
      "/fhir-samples/synthea/Bradly_Douglas_18468941-bdaf-42a0-8648-cba7cafc27ce.json");
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document bundle;
  bundle.Parse(text.str().c_str());
  if (bundle.HasParseError() || !bundle.IsObject() || !bundle.HasMember("entry")) {
    state.SkipWithError("cannot read the Synthea bundle");
    return;
  }
  const std::pair<const char*, const char*> keys[] = {
      {"Condition", "conditions"},
      {"Observation", "observations"},
      {"MedicationRequest", "medicationRequests"},
      {"MedicationStatement", "medicationStatements"},
      {"Procedure", "procedures"},
      {"ServiceRequest", "serviceRequests"},
      {"AllergyIntolerance", "allergies"}};
  rapidjson::Document req(rapidjson::kObjectType);
  auto& a = req.GetAllocator();
  rapidjson::Value prefetch(rapidjson::kObjectType);
  std::string now, patient_id;
  for (const auto& [type, key] : keys) {
    rapidjson::Value b(rapidjson::kObjectType), entries(rapidjson::kArrayType);
    b.AddMember("resourceType", "Bundle", a).AddMember("type", "searchset", a);
    for (const auto& e : bundle["entry"].GetArray()) {
      const rapidjson::Value& r = e["resource"];
      if (std::string_view(r["resourceType"].GetString()) != type) continue;
      rapidjson::Value entry(rapidjson::kObjectType);
      entry.AddMember("resource", rapidjson::Value(r, a), a);
      entries.PushBack(entry, a);
    }
    b.AddMember("entry", entries, a);
    prefetch.AddMember(rapidjson::StringRef(key), b, a);
  }
  for (const auto& e : bundle["entry"].GetArray()) {
    const rapidjson::Value& r = e["resource"];
    std::string_view t = r["resourceType"].GetString();
    if (t == "Patient") {
      prefetch.AddMember("patient", rapidjson::Value(r, a), a);
      patient_id = r["id"].GetString();
    }
    if (t == "Encounter" && r.HasMember("period") && r["period"].HasMember("end")) {
      std::string end = r["period"]["end"].GetString();
      if (end > now) now = end;
    }
  }
  if (whole_bundle) prefetch.AddMember("everything", rapidjson::Value(bundle, a), a);
  rapidjson::Value context(rapidjson::kObjectType);
  context.AddMember("userId", "Practitioner/bench", a)
      .AddMember("patientId", rapidjson::Value(patient_id.c_str(), a), a);
  req.AddMember("hook", "patient-view", a)
      .AddMember("hookInstance", "8a2f0e4c-1b7d-4c3e-9f6a-5d4e3c2b1a09", a);
  req.AddMember("context", context, a).AddMember("prefetch", prefetch, a);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  req.Accept(w);
  cephalgia::plugin::EvaluateCall call;
  call.service_id = "headache-patient-view";
  std::string request(sb.GetString(), sb.GetSize());
  call.request_json = request;
  call.now = now;
  std::size_t cards_bytes = 0;
  for (auto _ : state) {
    auto response = Engine().Evaluate(call);
    if (!response.ok()) {
      state.SkipWithError(response.status().message().c_str());
      return;
    }
    cards_bytes = response->size();
    benchmark::DoNotOptimize(response->data());
  }
  state.counters["request_bytes"] = static_cast<double>(request.size());
  state.counters["response_bytes"] = static_cast<double>(cards_bytes);
}

BENCHMARK_CAPTURE(BM_EvaluateLargeSyntheaChart, eight_keys, false)
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_EvaluateLargeSyntheaChart, whole_bundle_too, true)
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

BENCHMARK_CAPTURE(BM_EvaluateCase, typical_patient_view_217,
                  "217-step4-neurosurgeon-structural-lesion.json")
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_EvaluateCase, cgh_rule_113, "113-cgh-operational-rule-rom-frt.json")
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_EvaluateCase, order_sign_601, "601-order-sign-opioid-draft.json")
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
