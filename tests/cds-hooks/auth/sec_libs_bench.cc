// Cost of the three security/ops libraries on the request path (Google Benchmark; run from a
// Release build: build-sec-rel/tests/cds-hooks/hooks_sec_bench). Never asserted in unit tests.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "cephalgia/hooks/auth/client_authenticator.h"
#include "cephalgia/hooks/feedback/feedback_store.h"
#include "cephalgia/hooks/metrics/access_log.h"
#include "cephalgia/hooks/metrics/registry.h"
#include "test_jwt_signer.h"

namespace cephalgia::hooks {
namespace {

using auth::testing::TestSigningKey;
using std::chrono::seconds;

constexpr int kTokens = 2000;  // one fresh jti per iteration: replayed tokens would be refused
constexpr char kIss[] = "https://ehr.example.org";
constexpr char kAud[] = "https://cds.example.org/cds-services/headache-patient-view";

void VerifyBench(benchmark::State& state, bool ec) {
  static const TestSigningKey ec_key = TestSigningKey::EcP384("k");
  static const TestSigningKey rsa_key = TestSigningKey::Rsa2048("k");
  const TestSigningKey& key = ec ? ec_key : rsa_key;
  const std::string path = "/tmp/sec_bench_jwks_" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << auth::testing::JwksJson({&key});
  auth::AuthConfig config;
  config.mode = auth::AuthMode::kRequired;
  config.jwks_file = path;
  config.trusted_issuers = {kIss};
  auto authenticator = std::move(auth::ClientAuthenticator::Create(config)).value();
  std::filesystem::remove(path);
  const auto now = auth::ClientAuthenticator::Clock::now();
  const int64_t t = std::chrono::duration_cast<seconds>(now.time_since_epoch()).count();
  std::vector<std::string> headers;
  for (int i = 0; i < kTokens; ++i) {
    const std::string payload = R"({"iss":")" + std::string(kIss) + R"(","aud":")" + kAud +
                                R"(","exp":)" + std::to_string(t + 300) + R"(,"iat":)" +
                                std::to_string(t) + R"(,"jti":"bench-)" + std::to_string(i) + "\"}";
    headers.push_back("Bearer " + key.Sign(std::string(R"({"alg":")") + (ec ? "ES384" : "RS384") +
                                               R"(","typ":"JWT","kid":"k"})",
                                           payload));
  }
  int i = 0;
  for (auto _ : state) {
    auto client = authenticator->Verify(headers[i++], kAud, now);
    if (!client.ok()) state.SkipWithError(client.status().message().c_str());
    benchmark::DoNotOptimize(client);
  }
}
void BM_VerifyEs384(benchmark::State& state) { VerifyBench(state, true); }
void BM_VerifyRs384(benchmark::State& state) { VerifyBench(state, false); }
BENCHMARK(BM_VerifyEs384)->Iterations(kTokens)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyRs384)->Iterations(kTokens)->Unit(benchmark::kMicrosecond);

metrics::Registry& SharedRegistry() {
  static metrics::Registry registry;
  return registry;
}
void BM_RecordRequest(benchmark::State& state) {
  metrics::Registry& registry = SharedRegistry();
  const std::string service = "svc-" + std::to_string(state.thread_index() % 4);
  for (auto _ : state) {
    registry.RecordRequest("/cds-services/{id}", service, 200, std::chrono::microseconds(900));
  }
}
BENCHMARK(BM_RecordRequest)->Threads(1)->Threads(2)->Threads(8);

void BM_RenderPrometheusText(benchmark::State& state) {
  metrics::Registry registry;
  for (int s = 0; s < 4; ++s) {
    for (int status : {200, 400, 401, 412, 500}) {
      registry.RecordRequest("/cds-services/{id}", "svc-" + std::to_string(s), status,
                             std::chrono::microseconds(900));
    }
    for (int r = 0; r < 20; ++r) registry.RecordCard("svc", "rule-" + std::to_string(r), "info");
  }
  for (auto _ : state) benchmark::DoNotOptimize(registry.RenderPrometheusText());
}
BENCHMARK(BM_RenderPrometheusText)->Unit(benchmark::kMicrosecond);

void BM_FormatAccessLogLine(benchmark::State& state) {
  metrics::AccessLogEntry e;
  e.time = std::chrono::system_clock::now();
  e.method = "POST";
  e.route = "/cds-services/{id}";
  e.service_id = "headache-patient-view";
  e.status = 200;
  e.duration_ms = 1.25;
  e.hook_instance = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea";
  e.client_iss = kIss;
  for (auto _ : state) benchmark::DoNotOptimize(metrics::FormatAccessLogLine(e));
}
BENCHMARK(BM_FormatAccessLogLine);

// The hot-path part of feedback storage: enqueueing the cards of one service call.
void BM_RecordIssuedCards(benchmark::State& state) {
  const std::string dir = "/tmp/sec_bench_store_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    auto store = std::move(feedback::FeedbackStore::Open(dir + "/f.sqlite")).value();
    int n = 0;
    for (auto _ : state) {
      const std::string id = std::to_string(n++);
      store->RecordIssuedCards("svc", "hook-" + id, {{"card-a-" + id, "rule.a"}, {"card-b-" + id, "rule.b"}});
    }
    state.counters["dropped"] = static_cast<double>(store->dropped_issued_cards());
    (void)store->Flush();
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RecordIssuedCards);

// How many issued cards per second the background writer can put on disk (batches of 1000).
void BM_IssuedCardsWriterThroughput(benchmark::State& state) {
  const std::string dir = "/tmp/sec_bench_writer_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    auto store = std::move(feedback::FeedbackStore::Open(dir + "/f.sqlite")).value();
    int n = 0;
    for (auto _ : state) {
      for (int call = 0; call < 500; ++call) {
        const std::string id = std::to_string(n++);
        store->RecordIssuedCards("svc", "hook-" + id,
                                 {{"card-a-" + id, "rule.a"}, {"card-b-" + id, "rule.b"}});
      }
      (void)store->Flush();
    }
    state.SetItemsProcessed(state.iterations() * 1000);
    state.counters["dropped"] = static_cast<double>(store->dropped_issued_cards());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_IssuedCardsWriterThroughput)->Unit(benchmark::kMillisecond)->UseRealTime();

// One durable feedback write (fsync of the WAL per call): depends on the disk.
void BM_StoreFeedback(benchmark::State& state) {
  const std::string dir = "/tmp/sec_bench_fb_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    auto store = std::move(feedback::FeedbackStore::Open(dir + "/f.sqlite")).value();
    feedback::FeedbackItem item;
    item.card = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea";
    item.outcome = feedback::Outcome::kOverridden;
    item.override_reason = feedback::OverrideReason{feedback::Coding{"http://s", "busy", "Busy"}, std::nullopt};
    item.outcome_timestamp = "2021-12-11T10:05:31Z";
    for (auto _ : state) {
      if (!store->Store("svc", {item}, std::chrono::system_clock::now()).ok()) state.SkipWithError("store");
    }
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StoreFeedback)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cephalgia::hooks

BENCHMARK_MAIN();
