// File: prefetch.h
//
// Prefetch handling, checklist §D-§E. The service never assumes a key is present (item 41):
//   missing key          -> the client did not satisfy it: fetch it ourselves
//   key with null value  -> the client has no data (a read found nothing): satisfied, empty
//   OperationOutcome     -> the client failed to prefetch (item 43): fetch it ourselves
//   Bundle with `next`   -> paginated (item 44): fetch the remaining pages
// What still cannot be had is reported: a required key makes the call fail with 412
// (kFailedPrecondition, item 50); any other key is passed to the pack as unavailable or partial,
// and the pack says so in its cards (never a silent gap).
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/plugin/pack_registry.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks {

// Replaces `{{context.<field>}}` (primitive root-level context fields only) and the user tokens
// `{{userPractitionerId}}`, `{{userPractitionerRoleId}}`, `{{userPatientId}}`,
// `{{userRelatedPersonId}}` (derived from context.userId "Type/id"). Fails when a token is
// unknown or its value is absent, so we never query with a half-filled URL. Values are
// percent-encoded where they land in a query string.
Result<std::string> ExpandPrefetchTemplate(std::string_view query_template,
                                           const rapidjson::Value& context);
// The same over a scanned request's context.
Result<std::string> ExpandPrefetchTemplate(std::string_view query_template,
                                           const HookEnvelope& request);

// The resource types of the service's read templates (`Patient/{{context.patientId}}` ->
// "Patient"): what the envelope scan records per prefetch value (ScanHookRequest's read_types).
// The views point into `service`.
std::vector<std::string_view> ReadTemplateTypes(const plugin::ServiceDescriptor& service);

std::string_view PrefetchStateName(PrefetchState state);

// Classifies one prefetch value (nullptr = key absent). For kPaged, `next_url` receives the link.
PrefetchState ClassifyPrefetchValue(const rapidjson::Value* value, std::string* next_url);

// One FHIR query the host needs: `url` is relative to fhirServer (`Condition?patient=1`) or an
// absolute `next` link of a paged Bundle (`next_page`: its results extend the prefetched value).
struct FetchQuery {
  std::string key;
  std::string url;
  bool next_page = false;
};

struct FetchResult {
  std::string key;
  Status status;                 // OK, or why the data could not be had
  std::string error_kind;        // on failure, the fetcher's error class (for metrics)
  rapidjson::Document document;  // the resource, or one searchset Bundle with every page merged
  bool partial = false;          // the page cap cut the result short
  std::string partial_reason;
};

// Fetches FHIR data for the host: all queries of one hook call concurrently, under one deadline.
// Implemented over libcurl (fhir_fetcher.h); an interface so the pipeline is testable alone.
class FhirFetcher {
 public:
  virtual ~FhirFetcher() = default;
  virtual std::vector<FetchResult> FetchAll(std::string_view fhir_server,
                                            const std::optional<std::string>& bearer_token,
                                            const std::vector<FetchQuery>& queries) = 0;
  // FetchAll with a W3C `traceparent` header on every request; by default it is not sent.
  virtual std::vector<FetchResult> FetchAllTraced(std::string_view fhir_server,
                                                  const std::optional<std::string>& bearer_token,
                                                  const std::vector<FetchQuery>& queries,
                                                  const std::string& /*traceparent*/) {
    return FetchAll(fhir_server, bearer_token, queries);
  }
};

struct PrefetchGapInfo {
  std::string key;
  std::string reason;
};

// What the host fetched for one key, as raw JSON beside the client's untouched request: the
// key's value (`more_pages` false: it replaces what the client sent, or fills a missing key), or
// a searchset Bundle of the remaining pages of the client's paged Bundle (`more_pages` true).
struct PrefetchPart {
  std::string key;
  std::string json;
  bool more_pages = false;
};

struct PrefetchResolution {
  bool modified = false;  // something was fetched (`parts` is not empty)
  std::vector<PrefetchPart> parts;
  std::vector<PrefetchGapInfo> unavailable;
  std::vector<PrefetchGapInfo> partial;
  std::vector<std::string> fetch_error_kinds;  // for metrics, one per failed fetch
};

// What completing a request's prefetch takes, worked out without fetching: the queries to run
// and the gaps already known. A caller learns from it whether completing will block on the
// FHIR server before it commits a thread to that.
struct PrefetchPlan {
  PrefetchResolution known;  // gaps found without fetching
  std::vector<FetchQuery> queries;
  std::string fhir_server;
  std::optional<std::string> bearer_token;
  std::string traceparent;  // W3C trace context sent with every fetch; empty: none
};

// Completing a request's prefetch for `service` is PlanPrefetch then CompletePrefetch, so a
// caller can decide where to run the second half. PlanPrefetch returns kFailedPrecondition naming
// the key when a required key is already known to be unobtainable (null, or missing with no
// fhirServer). `request` was scanned with ReadTemplateTypes(service).
Result<PrefetchPlan> PlanPrefetch(const HookEnvelope& request,
                                  const plugin::ServiceDescriptor& service);

// Runs the plan's queries with `fetcher` (null: nothing is fetched and `no_fetch_reason` is
// given for every gap); what was fetched comes back as parts. kFailedPrecondition naming the key
// and the reason when a required key can be neither found nor fetched. The gaps it returns are
// the only account of missing data the pack receives.
Result<PrefetchResolution> CompletePrefetch(
    const plugin::ServiceDescriptor& service, PrefetchPlan plan, FhirFetcher* fetcher,
    std::string_view no_fetch_reason = "FHIR fetching is not available");

}  // namespace cephalgia::hooks
