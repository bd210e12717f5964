#include "cephalgia/hooks/fhir_fetcher.h"

namespace cephalgia::hooks {

std::vector<FetchResult> CurlFhirFetcher::FetchAll(std::string_view fhir_server,
                                                   const std::optional<std::string>& bearer_token,
                                                   const std::vector<FetchQuery>& queries) {
  return FetchAllTraced(fhir_server, bearer_token, queries, "");
}

std::vector<FetchResult> CurlFhirFetcher::FetchAllTraced(
    std::string_view fhir_server, const std::optional<std::string>& bearer_token,
    const std::vector<FetchQuery>& queries, const std::string& traceparent) {
  fhir::FhirClientOptions options = options_;
  options.traceparent = traceparent;
  fhir::FhirClient client(std::string(fhir_server), bearer_token, options);
  std::vector<fhir::FhirQuery> fhir_queries;
  fhir_queries.reserve(queries.size());
  for (const FetchQuery& q : queries) fhir_queries.push_back({q.key, q.url, true});
  std::vector<fhir::FetchOutcome> outcomes = client.FetchAll(fhir_queries);
  std::vector<FetchResult> results;
  results.reserve(outcomes.size());
  for (fhir::FetchOutcome& outcome : outcomes) {
    FetchResult r;
    r.key = outcome.key;
    if (outcome.ok()) {
      r.document = std::move(outcome.document());
      r.partial = outcome.partial;
      r.partial_reason = outcome.partial_reason;
    } else {
      // The message names the (redacted) URL and the error class; it never holds the token.
      const fhir::FetchError& e = outcome.error();
      r.status = Status(e.ToStatus().code(), e.ToString());
      r.error_kind = std::string(fhir::FetchErrorKindName(e.kind));
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace cephalgia::hooks
