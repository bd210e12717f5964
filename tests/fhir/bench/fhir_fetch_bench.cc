// Benchmark: eight FHIR queries fetched concurrently by one FhirClient::FetchAll, against the
// slowest of the same eight fetched alone, from the real test FHIR server on 127.0.0.1 (started
// here through FhirTestServer; run `bash tests/fhir-server/install.sh` first).
// Target (issue 3, item 6): the eight together take at most 1.5x the slowest single fetch.
//
//   BM_SingleFetch/<i>          one query alone (i = index into kQueries)
//   BM_EightConcurrent          all eight in one FetchAll
//   BM_EightVsSlowestSingle     per iteration: each query alone, then all eight together; the
//                               iteration time is the eight-together time, counters give the
//                               slowest single, the eight one after another, and the ratio
//                               (eight together / slowest single)
//
// Queries follow paging with the server's default page size (20), like a hook request would.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cephalgia/fhir/client.h"
#include "fhir_test_server.h"

namespace {

using cephalgia::fhir::FetchOutcome;
using cephalgia::fhir::FhirClient;
using cephalgia::fhir::FhirQuery;
using cephalgia::test::FhirTestServer;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "bench-token";
constexpr char kMafalda[] = "11a7f0e3-b1d0-431c-adb6-ad1ad8d61720";

// What a patient-view hook for a headache service might need about one patient.
const std::vector<FhirQuery>& Queries() {
  static const std::vector<FhirQuery> queries = {
      {"patient", std::string("Patient/") + kMafalda},
      {"conditions", std::string("Condition?patient=") + kMafalda},
      {"observations", std::string("Observation?patient=") + kMafalda},  // 106: 6 pages
      {"medreqs", std::string("MedicationRequest?patient=") + kMafalda},
      {"procedures", std::string("Procedure?patient=") + kMafalda},
      {"encounters", std::string("Encounter?patient=") + kMafalda},
      {"allergies", std::string("AllergyIntolerance?patient=") + kMafalda},
      {"medstatements", "MedicationStatement?patient=pat1"},
  };
  return queries;
}

FhirTestServer* g_server = nullptr;

FhirClient MakeClient() {
  cephalgia::fhir::FhirClientOptions options;
  options.deadline = std::chrono::seconds(10);  // measure, do not cut off
  return FhirClient(g_server->base_url(), std::string(kToken), options);
}

bool AllOk(const std::vector<FetchOutcome>& got, benchmark::State& state) {
  for (const FetchOutcome& o : got) {
    if (!o.ok()) {
      state.SkipWithError(("fetch failed: " + o.error().ToString()).c_str());
      return false;
    }
  }
  return true;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void BM_SingleFetch(benchmark::State& state) {
  const FhirClient client = MakeClient();
  const FhirQuery& q = Queries()[static_cast<size_t>(state.range(0))];
  state.SetLabel(q.key);
  for (auto _ : state) {
    std::vector<FetchOutcome> got = client.FetchAll({q});
    if (!AllOk(got, state)) break;
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_SingleFetch)->DenseRange(0, 7)->Unit(benchmark::kMillisecond);

void BM_EightConcurrent(benchmark::State& state) {
  const FhirClient client = MakeClient();
  for (auto _ : state) {
    std::vector<FetchOutcome> got = client.FetchAll(Queries());
    if (!AllOk(got, state)) break;
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_EightConcurrent)->Unit(benchmark::kMillisecond);

void BM_EightVsSlowestSingle(benchmark::State& state) {
  const FhirClient client = MakeClient();
  double sum_slowest = 0;
  double sum_eight = 0;
  double sum_sequential = 0;
  for (auto _ : state) {
    double slowest = 0;
    for (const FhirQuery& q : Queries()) {
      auto start = Clock::now();
      std::vector<FetchOutcome> one = client.FetchAll({q});
      const double took = Seconds(Clock::now() - start);
      slowest = std::max(slowest, took);
      sum_sequential += took;
      if (!AllOk(one, state)) return;
    }
    auto start = Clock::now();
    std::vector<FetchOutcome> eight = client.FetchAll(Queries());
    double together = Seconds(Clock::now() - start);
    if (!AllOk(eight, state)) return;
    state.SetIterationTime(together);
    sum_slowest += slowest;
    sum_eight += together;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["slowest_single_ms"] = 1000 * sum_slowest / n;
  state.counters["eight_ms"] = 1000 * sum_eight / n;
  state.counters["sequential_ms"] = 1000 * sum_sequential / n;  // the eight one after another
  state.counters["ratio"] = sum_slowest > 0 ? sum_eight / sum_slowest : 0;
}
BENCHMARK(BM_EightVsSlowestSingle)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto server = FhirTestServer::Start(kToken);
  if (!server.ok()) {
    std::fprintf(stderr, "fhir_fetch_bench: %s\n", server.status().ToString().c_str());
    return 1;
  }
  g_server = server->get();
  // Warm up the server (first searches of each type build its caches) and the connection path.
  {
    const FhirClient client = MakeClient();
    for (int i = 0; i < 3; ++i) (void)client.FetchAll(Queries());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_server = nullptr;
  return 0;  // `server` is destroyed here: the node process is stopped by pid
}
