// Benchmark of one in-process headache evaluation (issue 4 item 10): parse the CDS Hooks
// request, extract findings, evaluate red flags / classification / ladder / safety, build and
// serialise the cards. Input: golden case 217 (a typical ~10 KB patient-view request: CGH with
// PT history, pain scores, medicines and imaging findings). Target: <= 50 us median (Release).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "cephalgia/rules/headache_engine.h"
#include "golden/golden_case.h"

namespace {

const cephalgia::rules::HeadacheEngine& Engine() {
  static auto* engine = [] {
    auto e = cephalgia::rules::HeadacheEngine::Load(std::string(CEPHALGIA_SOURCE_DIR) + "/rules/packs/headache");
    if (!e.ok()) {
      std::fprintf(stderr, "%s\n", e.status().ToString().c_str());
      std::abort();
    }
    return e->release();
  }();
  return *engine;
}

void BM_EvaluateCase(benchmark::State& state, const char* file) {
  auto c = cephalgia::testing::LoadGoldenCase(std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/cases/" + file);
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

BENCHMARK_CAPTURE(BM_EvaluateCase, typical_patient_view_217, "217-step4-neurosurgeon-structural-lesion.json")
    ->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_EvaluateCase, cgh_rule_113, "113-cgh-operational-rule-rom-frt.json")
    ->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_EvaluateCase, order_sign_601, "601-order-sign-opioid-draft.json")
    ->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
