// The Prometheus exposition is parsed back line by line, as a scraper would.
#include "cephalgia/hooks/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace cephalgia::hooks::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// One sample line: name, labels (unescaped), value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A strict reader of text format 0.0.4 for what we emit. Fails the test on anything unexpected.
struct Exposition {
  std::map<std::string, std::string> type;  // family -> counter/gauge/histogram
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;

  static Exposition Parse(const std::string& text) {
    Exposition e;
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    std::istringstream in(text);
    std::string line;
    std::string current_family;
    static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$)");
    static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
    static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$)");
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_match(line, m, kHelp)) {
        EXPECT_EQ(e.help.count(m[1]), 0u) << "HELP twice: " << line;
        e.help[m[1]] = m[2];
        current_family = m[1];
      } else if (std::regex_match(line, m, kType)) {
        EXPECT_EQ(m[1], current_family) << "TYPE must follow its HELP: " << line;
        e.type[m[1]] = m[2];
      } else if (std::regex_match(line, m, kSample)) {
        Sample s;
        s.name = m[1];
        s.labels = ParseLabels(m[2].str(), line);
        s.value = m[3] == "+Inf" ? INFINITY : std::stod(m[3]);
        // Every sample belongs to the family declared just above it.
        const std::string& family = current_family;
        const bool ok = s.name == family ||
                        (e.type[family] == "histogram" &&
                         (s.name == family + "_bucket" || s.name == family + "_sum" ||
                          s.name == family + "_count"));
        EXPECT_TRUE(ok) << "sample outside its family: " << line;
        e.samples.push_back(std::move(s));
      } else {
        ADD_FAILURE() << "unparseable line: [" << line << "]";
      }
    }
    return e;
  }

  static std::map<std::string, std::string> ParseLabels(const std::string& text,
                                                        const std::string& line) {
    std::map<std::string, std::string> labels;
    if (text.empty()) return labels;
    size_t i = 1;  // after '{'
    while (i < text.size() - 1) {
      const size_t eq = text.find("=\"", i);
      if (eq == std::string::npos) {
        ADD_FAILURE() << "bad labels: " << line;
        return labels;
      }
      const std::string name = text.substr(i, eq - i);
      EXPECT_TRUE(std::regex_match(name, std::regex("[a-zA-Z_][a-zA-Z0-9_]*"))) << line;
      std::string value;
      size_t j = eq + 2;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\') {
          ++j;
          EXPECT_TRUE(text[j] == '\\' || text[j] == '"' || text[j] == 'n') << line;
          value += text[j] == 'n' ? '\n' : text[j];
        } else {
          value += text[j];
        }
      }
      labels[name] = value;
      i = j + 1;
      if (i < text.size() && text[i] == ',') ++i;
    }
    return labels;
  }

  // The value of the one sample with this name and exactly these labels; NaN if absent.
  double Value(const std::string& name, const std::map<std::string, std::string>& labels) const {
    double found = NAN;
    int n = 0;
    for (const Sample& s : samples) {
      if (s.name == name && s.labels == labels) {
        found = s.value;
        ++n;
      }
    }
    EXPECT_LE(n, 1) << "duplicate series " << name;
    return found;
  }
};

TEST(MetricsRegistryTest, EmptyRegistryDeclaresEveryFamily) {
  Registry registry;
  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  EXPECT_EQ(e.type.at("cephalgia_http_requests_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_http_request_duration_seconds"), "histogram");
  EXPECT_EQ(e.type.at("cephalgia_cards_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_fhir_fetch_errors_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_http_open_connections"), "gauge");
  EXPECT_EQ(e.type.at("cephalgia_deferred_calls_in_progress"), "gauge");
  EXPECT_EQ(e.type.at("cephalgia_auth_refusals_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_connections_refused_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_idle_connections_evicted_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_issued_cards_dropped_total"), "counter");
  EXPECT_EQ(e.type.at("cephalgia_issued_cards_queued"), "gauge");
  EXPECT_EQ(e.type.at("cephalgia_store_up"), "gauge");
  EXPECT_EQ(e.type.at("cephalgia_tokens_accepted_replay_cache_away_total"), "counter");
  EXPECT_EQ(e.help.size(), 13u);
  EXPECT_EQ(e.Value("cephalgia_http_open_connections", {}), 0);
  EXPECT_EQ(e.Value("cephalgia_deferred_calls_in_progress", {}), 0);
}

// Issue 13: refused authentications are counted by their fixed reason label.
// Counts mirrored from the store and the replay cache at each scrape: the counter follows the
// component's total and never goes back (a late scrape with an older total must not lower it).
TEST(MetricsRegistryTest, AdvanceToFollowsATotalAndNeverLowersIt) {
  Registry r;
  Counter& dropped = r.IssuedCardsDropped();
  dropped.AdvanceTo(3);
  EXPECT_EQ(dropped.value(), 3u);
  dropped.AdvanceTo(2);
  EXPECT_EQ(dropped.value(), 3u);
  dropped.AdvanceTo(10);
  EXPECT_EQ(dropped.value(), 10u);
  EXPECT_NE(r.RenderPrometheusText().find("cephalgia_issued_cards_dropped_total 10"),
            std::string::npos);
}

TEST(MetricsRegistryTest, AuthRefusalsAreCountedByReason) {
  Registry registry;
  registry.RecordAuthRefusal("expired");
  registry.RecordAuthRefusal("expired");
  registry.RecordAuthRefusal("bad_signature");
  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  EXPECT_EQ(e.Value("cephalgia_auth_refusals_total", {{"reason", "expired"}}), 2);
  EXPECT_EQ(e.Value("cephalgia_auth_refusals_total", {{"reason", "bad_signature"}}), 1);
  EXPECT_EQ(registry.AuthRefusals("expired").value(), 2u);
}

TEST(MetricsRegistryTest, RequestsAndHistogramRenderAsPrometheusExpects) {
  Registry registry;
  const std::string route = "/cds-services/{id}";
  registry.RecordRequest(route, "headache-patient-view", 200, microseconds(300));   // <= 0.5 ms
  registry.RecordRequest(route, "headache-patient-view", 200, microseconds(5000));  // == 5 ms, le inclusive
  registry.RecordRequest(route, "headache-patient-view", 400, milliseconds(30));
  registry.RecordRequest(route, "headache-patient-view", 200, std::chrono::seconds(9));  // > 5 s
  registry.RecordRequest("/cds-services", "", 200, microseconds(800));

  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  const std::map<std::string, std::string> svc = {{"route", route}, {"service", "headache-patient-view"}};
  auto with = [&](std::map<std::string, std::string> base, const std::string& k, const std::string& v) {
    base[k] = v;
    return base;
  };
  EXPECT_EQ(e.Value("cephalgia_http_requests_total", with(svc, "status", "200")), 3);
  EXPECT_EQ(e.Value("cephalgia_http_requests_total", with(svc, "status", "400")), 1);
  EXPECT_EQ(e.Value("cephalgia_http_requests_total",
                    {{"route", "/cds-services"}, {"service", ""}, {"status", "200"}}),
            1);

  const std::string h = "cephalgia_http_request_duration_seconds";
  // Exactly our buckets, in order, cumulative, ending with +Inf == _count.
  std::vector<std::string> les;
  double previous = 0;
  for (const Sample& s : e.samples) {
    if (s.name != h + "_bucket" || s.labels.at("service") != "headache-patient-view") continue;
    les.push_back(s.labels.at("le"));
    EXPECT_GE(s.value, previous);
    previous = s.value;
  }
  EXPECT_EQ(les, (std::vector<std::string>{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                           "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"}));
  EXPECT_EQ(e.Value(h + "_bucket", with(svc, "le", "0.0005")), 1);
  EXPECT_EQ(e.Value(h + "_bucket", with(svc, "le", "0.0025")), 1);
  EXPECT_EQ(e.Value(h + "_bucket", with(svc, "le", "0.005")), 2);
  EXPECT_EQ(e.Value(h + "_bucket", with(svc, "le", "0.05")), 3);
  EXPECT_EQ(e.Value(h + "_bucket", with(svc, "le", "5")), 3);
  EXPECT_EQ(e.Value(h + "_bucket", with(svc, "le", "+Inf")), 4);
  EXPECT_EQ(e.Value(h + "_count", svc), 4);
  EXPECT_NEAR(e.Value(h + "_sum", svc), 0.0003 + 0.005 + 0.03 + 9, 1e-9);
}

TEST(MetricsRegistryTest, CardsFhirErrorsAndConnections) {
  Registry registry;
  registry.RecordCard("headache-patient-view", "headache.red-flags", "critical");
  registry.RecordCard("headache-patient-view", "headache.red-flags", "critical");
  registry.RecordCard("headache-patient-view", "headache.moh", "warning");
  registry.RecordFhirFetchError("timeout");
  registry.ConnectionOpened();
  registry.ConnectionOpened();
  registry.ConnectionClosed();
  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  EXPECT_EQ(e.Value("cephalgia_cards_total", {{"service", "headache-patient-view"},
                                              {"rule_id", "headache.red-flags"},
                                              {"indicator", "critical"}}),
            2);
  EXPECT_EQ(e.Value("cephalgia_cards_total", {{"service", "headache-patient-view"},
                                              {"rule_id", "headache.moh"},
                                              {"indicator", "warning"}}),
            1);
  EXPECT_EQ(e.Value("cephalgia_fhir_fetch_errors_total", {{"kind", "timeout"}}), 1);
  EXPECT_EQ(e.Value("cephalgia_http_open_connections", {}), 1);
}

TEST(MetricsRegistryTest, LabelValuesAreEscapedAndReadBackUnchanged) {
  Registry registry;
  const std::string nasty = "a\"b\\c\nd}e,f=g";
  registry.RecordFhirFetchError(nasty);
  const std::string text = registry.RenderPrometheusText();
  EXPECT_NE(text.find(R"(kind="a\"b\\c\nd}e,f=g")"), std::string::npos) << text;
  const Exposition e = Exposition::Parse(text);
  EXPECT_EQ(e.Value("cephalgia_fhir_fetch_errors_total", {{"kind", nasty}}), 1);
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
}

TEST(MetricsRegistryTest, SeriesCountIsBounded) {
  Registry registry(/*max_series_per_family=*/2);
  registry.RecordFhirFetchError("a");
  registry.RecordFhirFetchError("b");
  registry.RecordFhirFetchError("c");
  registry.RecordFhirFetchError("d");
  registry.RecordFhirFetchError("a");
  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  EXPECT_EQ(e.Value("cephalgia_fhir_fetch_errors_total", {{"kind", "a"}}), 2);
  EXPECT_EQ(e.Value("cephalgia_fhir_fetch_errors_total", {{"kind", "_overflow_"}}), 2);
  EXPECT_TRUE(std::isnan(e.Value("cephalgia_fhir_fetch_errors_total", {{"kind", "c"}})));
}

TEST(MetricsRegistryTest, HandlesAreStable) {
  Registry registry;
  Counter& a = registry.Cards("s", "r", "info");
  for (int i = 0; i < 100; ++i) registry.Cards("s", "r" + std::to_string(i), "info").Inc();
  EXPECT_EQ(&a, &registry.Cards("s", "r", "info"));
}

// Series keys are written on the stack up to 256 bytes and on the heap beyond: both find the
// series they made, and label sets whose values only differ in where they split stay apart.
TEST(MetricsRegistryTest, LongAndSplitLabelValuesKeepTheirSeries) {
  Registry registry;
  const std::string long_rule(300, 'r');
  Counter& a = registry.Cards("s", long_rule, "info");
  a.Inc();
  EXPECT_EQ(&a, &registry.Cards("s", long_rule, "info"));
  EXPECT_NE(&a, &registry.Cards("s", long_rule + "r", "info"));
  EXPECT_NE(&registry.Cards("ab", "c", "info"), &registry.Cards("a", "bc", "info"));
  EXPECT_NE(&registry.Cards("", "", "info"), &registry.Cards("", "", "infox"));
  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  EXPECT_EQ(e.Value("cephalgia_cards_total",
                    {{"service", "s"}, {"rule_id", long_rule}, {"indicator", "info"}}),
            1);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesSumExactly) {
  Registry registry;
  constexpr int kThreads = 8, kIterations = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&registry, t] {
      const std::string service = "svc-" + std::to_string(t % 3);
      for (int i = 0; i < kIterations; ++i) {
        registry.ConnectionOpened();
        registry.RecordRequest("/cds-services/{id}", service, i % 2 == 0 ? 200 : 412,
                               microseconds(i % 7000));
        registry.RecordCard(service, "rule-" + std::to_string(i % 5), "info");
        if (i % 100 == 0) registry.RecordFhirFetchError("timeout");
        if (i % 1000 == 0) (void)registry.RenderPrometheusText();  // readers during writes
        registry.ConnectionClosed();
      }
    });
  }
  for (auto& th : threads) th.join();

  const Exposition e = Exposition::Parse(registry.RenderPrometheusText());
  double requests = 0, cards = 0, count = 0, inf = 0;
  for (const Sample& s : e.samples) {
    if (s.name == "cephalgia_http_requests_total") requests += s.value;
    if (s.name == "cephalgia_cards_total") cards += s.value;
    if (s.name == "cephalgia_http_request_duration_seconds_count") count += s.value;
    if (s.name == "cephalgia_http_request_duration_seconds_bucket" && s.labels.at("le") == "+Inf") {
      inf += s.value;
    }
  }
  EXPECT_EQ(requests, kThreads * kIterations);
  EXPECT_EQ(cards, kThreads * kIterations);
  EXPECT_EQ(count, kThreads * kIterations);
  EXPECT_EQ(inf, kThreads * kIterations);
  EXPECT_EQ(e.Value("cephalgia_fhir_fetch_errors_total", {{"kind", "timeout"}}),
            kThreads * (kIterations / 100));
  EXPECT_EQ(e.Value("cephalgia_http_open_connections", {}), 0);
}

}  // namespace
}  // namespace cephalgia::hooks::metrics
