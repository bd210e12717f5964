// The host's cost on top of the pack, in-process and without a socket: CdsService::CallService
// (parse behind the limit, validate, resolve prefetch, call the pack, read the cards back) against
// the pack's own evaluate on the same request (golden case 217, ~10 KB patient-view).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>

#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/hooks/http_message.h"
#include "cephalgia/plugin/pack_registry.h"
#include "golden/golden_case.h"

namespace {

using namespace cephalgia;

struct Fixture {
  plugin::PackRegistry registry;
  std::unique_ptr<hooks::CdsService> service;
  std::string request;
  std::string options = R"({"now":"2026-03-01T10:00:00Z"})";
  Fixture() {
    auto report = plugin::LoadPackDirectory(CEPHALGIA_PACK_DIR, {}, registry);
    if (!report.ok() || registry.FindService("headache-patient-view") == nullptr) {
      std::cerr << "cannot load the headache pack from " << CEPHALGIA_PACK_DIR << "\n";
      std::exit(1);
    }
    auto c = testing::LoadGoldenCase(std::string(CEPHALGIA_SOURCE_DIR) +
                                     "/tests/rules/cases/217-step4-neurosurgeon-structural-lesion.json");
    if (!c.ok()) std::exit(1);
    request = c->request_json;
    hooks::ServiceOptions o;
    o.fixed_now = "2026-03-01T10:00:00Z";
    service = std::make_unique<hooks::CdsService>(registry, o, nullptr);
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_PackEvaluateOnly(benchmark::State& state) {
  const plugin::ServiceEntry* entry = F().registry.FindService("headache-patient-view");
  for (auto _ : state) {
    auto r = entry->pack->Evaluate("headache-patient-view", F().request, F().options);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_PackEvaluateOnly);

void BM_ServiceCall(benchmark::State& state) {
  for (auto _ : state) {
    auto r = F().service->CallService("headache-patient-view", F().request);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ServiceCall);

void BM_HttpHandle(benchmark::State& state) {
  hooks::HttpRequest request;
  request.method = "POST";
  request.target = "/cds-services/headache-patient-view";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = F().request;
  for (auto _ : state) {
    hooks::HttpResponse r = F().service->Handle(request);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_HttpHandle);

}  // namespace

BENCHMARK_MAIN();
