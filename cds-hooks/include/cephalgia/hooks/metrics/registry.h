// File: registry.h
//
// The service's Prometheus metrics (issue 5 item 8) and their text exposition (format 0.0.4),
// served at `GET /metrics`:
//   cephalgia_http_requests_total{route,service,status}           counter
//   cephalgia_http_request_duration_seconds{route,service}        histogram, 0.5 ms .. 5 s
//   cephalgia_cards_total{service,rule_id,indicator}              counter
//   cephalgia_fhir_fetch_errors_total{kind}                       counter
//   cephalgia_http_open_connections                               gauge
//   cephalgia_auth_refusals_total{reason}                         counter (401s by reason label)
//   cephalgia_connections_refused_total{reason}                   counter (transport refusals)
//   cephalgia_idle_connections_evicted_total                      counter
//   cephalgia_issued_cards_dropped_total                          counter (store queue full)
//   cephalgia_issued_cards_queued                                 gauge (waiting to be written)
//   cephalgia_store_up                                            gauge (1: the store is reachable)
//
//   Registry metrics;                                    // one per process, owned by the server
//   metrics.RecordRequest("/cds-services/{id}", "headache-patient-view", 200, elapsed);
//   metrics.RecordCard("headache-patient-view", "headache.red-flags", "critical");
//   metrics.ConnectionOpened(); ... metrics.ConnectionClosed();
//   std::string body = metrics.RenderPrometheusText();  // Content-Type: text/plain; version=0.0.4
//
// Hot path: no global lock. Each family is a map split into shards; a lookup takes a shared lock
// on one shard (writers take it exclusively only the first time a label set is seen), then the
// update is a relaxed atomic add. Series are never removed, so the references returned by the
// handle getters (Requests(), Duration(), ...) stay valid for the registry's lifetime; keep them
// to skip even the lookup.
//
// Label values must come from a bounded set chosen by the server (route *templates*, configured
// service ids, rule ids, the indicator enum, a fixed list of error kinds), never raw client input:
// every label set is a time series. As a guard, a family holds at most `max_series_per_family`
// label sets; further ones are folded into one series whose labels are all "_overflow_".
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cephalgia::hooks::metrics {

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // For a count another component keeps (the store's drops, the replay cache's fallbacks):
  // raises the counter to `total`, never lowers it, so it stays monotonic for Prometheus even
  // when two scrapes race.
  void AdvanceTo(std::uint64_t total) {
    std::uint64_t seen = value_.load(std::memory_order_relaxed);
    while (seen < total && !value_.compare_exchange_weak(seen, total, std::memory_order_relaxed)) {
    }
  }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Upper bounds (seconds, inclusive) of the latency buckets; +Inf is implicit.
inline constexpr std::array<double, 13> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

class Histogram {
 public:
  void Observe(std::chrono::nanoseconds duration);
  void ObserveSeconds(double seconds) {
    Observe(std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9)));
  }

  struct Snapshot {
    std::array<std::uint64_t, kLatencyBucketsSeconds.size() + 1> cumulative{};  // last = +Inf
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot Read() const;

 private:
  // Per-bucket (not cumulative) counts; index size() is the +Inf overflow bucket.
  std::array<std::atomic<std::uint64_t>, kLatencyBucketsSeconds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_nanos_{0};
};

class Registry {
 public:
  explicit Registry(std::size_t max_series_per_family = 10000);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // One finished HTTP request: counts it and observes its latency.
  void RecordRequest(std::string_view route, std::string_view service, int status,
                     std::chrono::nanoseconds duration);
  void RecordCard(std::string_view service, std::string_view rule_id, std::string_view indicator);
  // `kind`: a short fixed token, e.g. "timeout", "connect", "http_4xx", "http_5xx", "parse".
  void RecordFhirFetchError(std::string_view kind);
  // `reason`: a fixed label (auth::RefusalReasonLabel, or "admin_token"), never client input.
  void RecordAuthRefusal(std::string_view reason);
  void ConnectionOpened() { OpenConnections().Add(1); }
  void ConnectionClosed() { OpenConnections().Add(-1); }

  // Handles (stable references; see the file comment).
  Counter& Requests(std::string_view route, std::string_view service, int status);
  Histogram& Duration(std::string_view route, std::string_view service);
  Counter& Cards(std::string_view service, std::string_view rule_id, std::string_view indicator);
  Counter& FhirFetchErrors(std::string_view kind);
  Counter& AuthRefusals(std::string_view reason);
  // `reason`: the transport's fixed label (HttpServerOptions::on_refused), never client input.
  Counter& ConnectionsRefused(std::string_view reason);
  Counter& IdleConnectionsEvicted();
  Gauge& OpenConnections();
  // Calls handed to the blocking pool (FHIR fetches, feedback writes, jku verification) that have
  // not been answered yet: queued or running. Near --blocking-threads means calls are waiting.
  Gauge& DeferredInProgress();
  // The feedback store (issue 15): issued-card records dropped because the store's bounded
  // queue was full (the store was away too long), records waiting to be written, and whether the
  // store is reachable (1) or not (0). Set from the store when /metrics is rendered.
  Counter& IssuedCardsDropped();
  Gauge& IssuedCardsQueued();
  Gauge& StoreUp();
  // Tokens accepted on the local jti check alone while the shared replay cache was away.
  Counter& TokensAcceptedWhileReplayCacheAway();

  // The whole registry in Prometheus text exposition format 0.0.4: for each family a HELP and a
  // TYPE line, then its series sorted by labels; label values escaped (\\, \", \n).
  std::string RenderPrometheusText() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Escapes a label value for the text format: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);

}  // namespace cephalgia::hooks::metrics
