// File: fhir_fetcher.h
//
// The production FhirFetcher: the libcurl FhirClient (fhir/client.h) with one deadline for all
// the queries of one hook call. One client per call, because base URL and token come from that
// call's request.
#pragma once

#include "cephalgia/fhir/client.h"
#include "cephalgia/hooks/prefetch.h"

namespace cephalgia::hooks {

class CurlFhirFetcher final : public FhirFetcher {
 public:
  explicit CurlFhirFetcher(fhir::FhirClientOptions options) : options_(std::move(options)) {}
  std::vector<FetchResult> FetchAll(std::string_view fhir_server,
                                    const std::optional<std::string>& bearer_token,
                                    const std::vector<FetchQuery>& queries) override;
  std::vector<FetchResult> FetchAllTraced(std::string_view fhir_server,
                                          const std::optional<std::string>& bearer_token,
                                          const std::vector<FetchQuery>& queries,
                                          const std::string& traceparent) override;

 private:
  fhir::FhirClientOptions options_;
};

}  // namespace cephalgia::hooks
