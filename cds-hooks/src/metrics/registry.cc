#include "cephalgia/hooks/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

namespace cephalgia::hooks::metrics {
namespace {

constexpr std::size_t kShards = 16;
constexpr char kOverflow[] = "_overflow_";

constexpr std::array<std::int64_t, kLatencyBucketsSeconds.size()> BucketBoundsNanos() {
  std::array<std::int64_t, kLatencyBucketsSeconds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::int64_t>(kLatencyBucketsSeconds[i] * 1e9 + 0.5);
  }
  return out;
}
constexpr auto kBoundsNanos = BucketBoundsNanos();

// Shortest fixed-point text that reads back as the same double ("0.0005", "5", "2.5"); fixed, so
// that `le` labels read the way every other Prometheus client writes them (not "5e-04").
std::string FormatDouble(double v) {
  char buf[400];  // fixed notation of a large double is long
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

// A family of series of metric T, keyed by label values, sharded so that updates to different
// series rarely touch the same lock, and reads of existing series only take a shared lock.
template <typename T>
class Family {
 public:
  struct Series {
    std::vector<std::string> values;
    T metric;
  };

  Family(std::vector<std::string> label_names, std::size_t max_series)
      : label_names_(std::move(label_names)), max_series_(max_series) {}

  const std::vector<std::string>& label_names() const { return label_names_; }

  T& Get(std::initializer_list<std::string_view> values) {
    // The key is written on the stack and looked up as a view (a heap string built with a
    // to_string per label cost more than the lookup itself, three times a request); only a new
    // series stores it as a string. Longer label sets (rare) build it on the heap.
    char stack_key[256];
    std::string heap_key;
    const std::string_view key = WriteKey(values, stack_key, heap_key);
    Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
    {
      std::shared_lock lock(shard.mu);
      auto it = shard.map.find(key);
      if (it != shard.map.end()) return it->second->metric;
    }
    if (count_.load(std::memory_order_relaxed) >= max_series_) return Overflow();
    std::unique_lock lock(shard.mu);
    auto [it, inserted] = shard.map.try_emplace(std::string(key));
    if (inserted) {
      it->second = std::make_unique<Series>();
      it->second->values.assign(values.begin(), values.end());
      count_.fetch_add(1, std::memory_order_relaxed);
    }
    return it->second->metric;
  }

  // All series, sorted by label values (stable output for diffing and tests).
  std::vector<const Series*> Sorted() const {
    std::vector<const Series*> out;
    for (const Shard& shard : shards_) {
      std::shared_lock lock(shard.mu);
      for (const auto& [key, series] : shard.map) out.push_back(series.get());
    }
    std::lock_guard lock(overflow_mu_);
    if (overflow_) out.push_back(overflow_.get());
    std::sort(out.begin(), out.end(),
              [](const Series* a, const Series* b) { return a->values < b->values; });
    return out;
  }

 private:
  // Found by a view of the key, without a string (heterogeneous lookup).
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, std::unique_ptr<Series>, KeyHash, std::equal_to<>> map;
  };

  // Each value length-prefixed ("<size>:<value>"): no two label sets share a key. Into `stack`
  // when it fits, else into `heap`.
  static std::string_view WriteKey(std::initializer_list<std::string_view> values,
                                   char (&stack)[256], std::string& heap) {
    constexpr std::size_t kMaxPrefix = std::numeric_limits<std::size_t>::digits10 + 2;  // + ':'
    std::size_t bound = 0;
    for (std::string_view v : values) bound += v.size() + kMaxPrefix;
    char* out = stack;
    if (bound > sizeof(stack)) {
      heap.resize(bound);
      out = heap.data();
    }
    char* p = out;
    for (std::string_view v : values) {
      p = std::to_chars(p, p + kMaxPrefix, v.size()).ptr;
      *p++ = ':';
      if (!v.empty()) std::memcpy(p, v.data(), v.size());
      p += v.size();
    }
    return std::string_view(out, static_cast<std::size_t>(p - out));
  }

  T& Overflow() {
    std::lock_guard lock(overflow_mu_);
    if (!overflow_) {
      overflow_ = std::make_unique<Series>();
      overflow_->values.assign(label_names_.size(), kOverflow);
    }
    return overflow_->metric;
  }

  const std::vector<std::string> label_names_;
  const std::size_t max_series_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> count_{0};
  mutable std::mutex overflow_mu_;
  std::unique_ptr<Series> overflow_;
};

// `{a="x",b="y"}` plus an optional extra label (for `le`).
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

void Header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;  // fixed text without '\\' or '\n', so no HELP escaping is needed
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void RenderCounters(std::string& out, const char* name, const char* help,
                    const Family<Counter>& family) {
  Header(out, name, "counter", help);
  for (const auto* s : family.Sorted()) {
    out += name + LabelSet(family.label_names(), s->values) + " " +
           std::to_string(s->metric.value()) + "\n";
  }
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

void Histogram::Observe(std::chrono::nanoseconds duration) {
  const std::int64_t ns = std::max<std::int64_t>(0, duration.count());
  const auto it = std::lower_bound(kBoundsNanos.begin(), kBoundsNanos.end(), ns);  // ns <= le
  buckets_[static_cast<std::size_t>(it - kBoundsNanos.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snap;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snap.cumulative[i] = running;
  }
  snap.count = running;  // == +Inf bucket, by construction
  snap.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return snap;
}

struct Registry::Impl {
  explicit Impl(std::size_t max)
      : requests({"route", "service", "status"}, max),
        duration({"route", "service"}, max),
        cards({"service", "rule_id", "indicator"}, max),
        fhir_errors({"kind"}, max),
        auth_refusals({"reason"}, max),
        connections_refused({"reason"}, max) {}
  Family<Counter> requests;
  Family<Histogram> duration;
  Family<Counter> cards;
  Family<Counter> fhir_errors;
  Family<Counter> auth_refusals;
  Family<Counter> connections_refused;
  Counter idle_connections_evicted;
  Gauge open_connections;
  Gauge deferred_in_progress;
  Counter issued_cards_dropped;
  Gauge issued_cards_queued;
  Gauge store_up;
  Counter tokens_accepted_replay_cache_away;
};

Registry::Registry(std::size_t max_series_per_family)
    : impl_(std::make_unique<Impl>(max_series_per_family)) {}
Registry::~Registry() = default;

Counter& Registry::Requests(std::string_view route, std::string_view service, int status) {
  return impl_->requests.Get({route, service, std::to_string(status)});
}
Histogram& Registry::Duration(std::string_view route, std::string_view service) {
  return impl_->duration.Get({route, service});
}
Counter& Registry::Cards(std::string_view service, std::string_view rule_id,
                         std::string_view indicator) {
  return impl_->cards.Get({service, rule_id, indicator});
}
Counter& Registry::FhirFetchErrors(std::string_view kind) { return impl_->fhir_errors.Get({kind}); }
Counter& Registry::AuthRefusals(std::string_view reason) {
  return impl_->auth_refusals.Get({reason});
}
Counter& Registry::ConnectionsRefused(std::string_view reason) {
  return impl_->connections_refused.Get({reason});
}
Counter& Registry::IdleConnectionsEvicted() { return impl_->idle_connections_evicted; }
Gauge& Registry::OpenConnections() { return impl_->open_connections; }
Gauge& Registry::DeferredInProgress() { return impl_->deferred_in_progress; }
Counter& Registry::IssuedCardsDropped() { return impl_->issued_cards_dropped; }
Gauge& Registry::IssuedCardsQueued() { return impl_->issued_cards_queued; }
Gauge& Registry::StoreUp() { return impl_->store_up; }
Counter& Registry::TokensAcceptedWhileReplayCacheAway() {
  return impl_->tokens_accepted_replay_cache_away;
}

void Registry::RecordRequest(std::string_view route, std::string_view service, int status,
                             std::chrono::nanoseconds duration) {
  Requests(route, service, status).Inc();
  Duration(route, service).Observe(duration);
}
void Registry::RecordCard(std::string_view service, std::string_view rule_id,
                          std::string_view indicator) {
  Cards(service, rule_id, indicator).Inc();
}
void Registry::RecordFhirFetchError(std::string_view kind) { FhirFetchErrors(kind).Inc(); }
void Registry::RecordAuthRefusal(std::string_view reason) { AuthRefusals(reason).Inc(); }

std::string Registry::RenderPrometheusText() const {
  std::string out;
  RenderCounters(out, "cephalgia_http_requests_total",
                 "HTTP requests by route template, CDS service id and status code.",
                 impl_->requests);

  constexpr const char* kDuration = "cephalgia_http_request_duration_seconds";
  Header(out, kDuration, "histogram", "HTTP request latency in seconds, by route template and service.");
  const std::vector<std::string>& names = impl_->duration.label_names();
  for (const auto* s : impl_->duration.Sorted()) {
    const Histogram::Snapshot snap = s->metric.Read();
    for (std::size_t i = 0; i <= kLatencyBucketsSeconds.size(); ++i) {
      const std::string le =
          i < kLatencyBucketsSeconds.size() ? FormatDouble(kLatencyBucketsSeconds[i]) : "+Inf";
      out += std::string(kDuration) + "_bucket" + LabelSet(names, s->values, "le", le) + " " +
             std::to_string(snap.cumulative[i]) + "\n";
    }
    const std::string labels = LabelSet(names, s->values);
    out += std::string(kDuration) + "_sum" + labels + " " + FormatDouble(snap.sum_seconds) + "\n";
    out += std::string(kDuration) + "_count" + labels + " " + std::to_string(snap.count) + "\n";
  }

  RenderCounters(out, "cephalgia_cards_total",
                 "Cards returned, by CDS service id, rule id and indicator.", impl_->cards);
  RenderCounters(out, "cephalgia_fhir_fetch_errors_total",
                 "Failed FHIR fetches (fallback for missing prefetch), by kind.", impl_->fhir_errors);
  RenderCounters(out, "cephalgia_auth_refusals_total",
                 "Requests refused with 401 (client or admin authentication), by reason.",
                 impl_->auth_refusals);
  RenderCounters(out, "cephalgia_connections_refused_total",
                 "Connections refused or cut by the transport (connection caps, descriptors, "
                 "header and body timeouts), by reason.",
                 impl_->connections_refused);
  Header(out, "cephalgia_idle_connections_evicted_total", "counter",
         "Idle connections closed to make room for new ones (at --max-connections or out of "
         "descriptors).");
  out += "cephalgia_idle_connections_evicted_total " +
         std::to_string(impl_->idle_connections_evicted.value()) + "\n";
  Header(out, "cephalgia_http_open_connections", "gauge", "HTTP connections currently open.");
  out += "cephalgia_http_open_connections " + std::to_string(impl_->open_connections.value()) + "\n";
  Header(out, "cephalgia_deferred_calls_in_progress", "gauge",
         "Calls on the blocking pool (FHIR fetches, feedback writes, jku key fetches), queued or running.");
  out += "cephalgia_deferred_calls_in_progress " +
         std::to_string(impl_->deferred_in_progress.value()) + "\n";
  Header(out, "cephalgia_issued_cards_dropped_total", "counter",
         "Issued-card records dropped because the feedback store's queue was full.");
  out += "cephalgia_issued_cards_dropped_total " +
         std::to_string(impl_->issued_cards_dropped.value()) + "\n";
  Header(out, "cephalgia_issued_cards_queued", "gauge",
         "Issued-card records waiting to be written to the feedback store.");
  out += "cephalgia_issued_cards_queued " + std::to_string(impl_->issued_cards_queued.value()) + "\n";
  Header(out, "cephalgia_store_up", "gauge",
         "Whether the feedback store is reachable (1) or not (0).");
  out += "cephalgia_store_up " + std::to_string(impl_->store_up.value()) + "\n";
  Header(out, "cephalgia_tokens_accepted_replay_cache_away_total", "counter",
         "Client tokens accepted on this replica's own jti check while the shared replay cache "
         "was unreachable (--replay-cache-outage local).");
  out += "cephalgia_tokens_accepted_replay_cache_away_total " +
         std::to_string(impl_->tokens_accepted_replay_cache_away.value()) + "\n";
  return out;
}

}  // namespace cephalgia::hooks::metrics
