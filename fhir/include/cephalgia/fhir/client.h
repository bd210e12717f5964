// File: client.h
//
// FhirClient: a small libcurl FHIR R4 REST client for what the CDS Hooks service must fetch
// itself when the EHR did not prefetch it (checklist §E items 44-50). It does reads and searches
// against the request's `fhirServer` with the request's bearer token, and nothing else.
//
//   FhirClient client(request.fhir_server, request.access_token, {.deadline = 1500ms});
//   std::vector<FetchOutcome> got = client.FetchAll({
//       {"patient", "Patient/123"},
//       {"meds", "MedicationRequest?patient=123&status=active"}});
//   for (FetchOutcome& o : got) {
//     if (!o.ok()) { Log(o.error().ToString()); continue; }   // token never appears in it
//     Use(o.key, o.document());                                // one merged searchset Bundle
//   }
//
// What it guarantees (each is tested in tests/fhir/client_*_test.cc):
//  * All queries of one FetchAll run concurrently (curl multi) under ONE deadline for the whole
//    batch, paging and redirects included. When it passes, what is still in flight is kTimeout.
//  * Searchset Bundles are followed through `link[relation=next]` up to `max_pages` and returned
//    as ONE Bundle: all entries, the first page's `total`, no `next` link. If a page cap or a
//    refused next link stops paging, the outcome is ok but `partial` is true and says why. An
//    error on any page makes the whole outcome that error: incomplete data is never passed off
//    as complete.
//  * The token is sent only to the origin (scheme://host:port) of `base_url`. A query URL or a
//    redirect to another origin is refused (kCrossOrigin); a `next` link to another origin is not
//    followed (partial). We refuse rather than fetch without the token: data from a host the EHR
//    did not name is not the patient's record, and fetching it would make us an open proxy.
//  * Redirects: same-origin only, at most `max_redirects`, handled by us (curl's own redirect
//    following is off, so its rules about Authorization headers never come into play).
//  * TLS peer and host verification are on unless `verify_tls` is false (tests only).
//  * Response size is capped: the sum of all pages of one query may not exceed
//    `max_response_bytes`; the transfer is aborted as soon as it does (kTooLarge).
//  * A GET is retried once, only when the connection itself failed (refused, reset, closed with
//    no response) and only while the deadline allows; never on an HTTP error or a timeout.
//  * Errors are values. URLs in errors and outcomes are redacted (`access_token=`-style query
//    parameters, user info, and any occurrence of the bearer token). Nothing here logs.
//  * Thread safety: FetchAll is const and shares nothing mutable between calls; one client may be
//    used from many threads at once. curl_global_init runs exactly once per process.
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::fhir {

struct FhirClientOptions {
  // For the whole FetchAll batch: every query, page, redirect and retry.
  std::chrono::milliseconds deadline{2000};
  // Pages fetched per search query (the first page counts). Past it the outcome is `partial`.
  int max_pages = 10;
  // Per query, all pages together.
  std::size_t max_response_bytes = std::size_t{8} << 20;
  // PEM file of trusted CAs; empty means the system default store.
  std::string ca_bundle;
  // Only for tests against self-signed servers; never turn off in production.
  bool verify_tls = true;
  // Same-origin redirects followed per request.
  int max_redirects = 3;
  // Upper bound on connections to the FHIR server at once (0: one per query, unbounded).
  long max_connections = 0;
  std::string user_agent = "cephalgia-fhir-client/0.1";
  // W3C `traceparent` header sent with every request of the batch; empty: none.
  std::string traceparent;
};

enum class FetchErrorKind {
  kTimeout,            // the batch deadline passed before this query finished
  kUnauthorized,       // HTTP 401, or a token that cannot be sent in a header
  kForbidden,          // HTTP 403
  kNotFound,           // HTTP 404 (and 410 Gone)
  kServerError,        // HTTP 5xx
  kHttpError,          // any other non-2xx status (other 4xx, 3xx without a usable Location)
  kInvalidJson,        // a 2xx body that is not JSON or not a FHIR resource object
  kTooLarge,           // over max_response_bytes
  kConnectionFailed,   // could not connect / connection dropped (after the one retry)
  kTlsError,           // handshake or certificate verification failed
  kInvalidUrl,         // base URL or query URL unusable
  kCrossOrigin,        // a query URL or redirect pointed at another origin; refused
  kTooManyRedirects,   // more than max_redirects same-origin redirects
};

std::string_view FetchErrorKindName(FetchErrorKind kind);

struct FetchError {
  FetchErrorKind kind = FetchErrorKind::kConnectionFailed;
  std::string url;      // redacted: safe to log
  std::string message;  // human-readable; never contains the token
  int http_status = 0;  // 0 when no HTTP response was received

  // "TIMEOUT: deadline of 2000 ms passed (url: https://ehr/fhir/Condition?patient=1)".
  std::string ToString() const;
  // The project-wide Status for this error, e.g. kTimeout -> kDeadlineExceeded,
  // kConnectionFailed -> kUnavailable, kUnauthorized -> kUnauthenticated.
  Status ToStatus() const;
};

struct FhirQuery {
  std::string key;  // the caller's name for it (e.g. the prefetch key); copied to the outcome
  // Relative to the base (`Patient/123`, `Condition?patient=123`) or an absolute URL on the
  // base's origin (e.g. a prefetch Bundle's `next` link to continue).
  std::string url;
  bool follow_paging = true;
};

struct FetchOutcome {
  std::string key;
  std::string url;       // the first request's URL, redacted
  int http_status = 0;   // status of the last response received (0: none)
  int pages = 0;         // searchset pages merged into `document`
  bool partial = false;  // ok, but paging stopped early; `partial_reason` says why
  std::string partial_reason;
  std::variant<FetchError, rapidjson::Document> result;

  bool ok() const { return result.index() == 1; }
  // Precondition: ok().
  rapidjson::Document& document() { return std::get<1>(result); }
  const rapidjson::Document& document() const { return std::get<1>(result); }
  // Precondition: !ok().
  const FetchError& error() const { return std::get<0>(result); }
};

class FhirClient {
 public:
  // `base_url` is the FHIR base (e.g. `https://ehr.example/fhir`, trailing slash optional). An
  // unusable base URL does not throw: every query then fails with kInvalidUrl. The token, when
  // present, is sent as `Authorization: Bearer <token>` to the base's origin only.
  FhirClient(std::string base_url, std::optional<std::string> bearer_token,
             FhirClientOptions options = {});

  // Runs all queries concurrently under one deadline; returns one outcome per query, in order.
  std::vector<FetchOutcome> FetchAll(const std::vector<FhirQuery>& queries) const;
  // One query, same rules (its own deadline).
  FetchOutcome Fetch(const FhirQuery& query) const;

  const std::string& base_url() const { return base_url_; }
  const FhirClientOptions& options() const { return options_; }

 private:
  std::string base_url_;    // without trailing slash
  std::string base_error_;  // why base_url_ is unusable; empty when it is fine
  std::optional<std::string> token_;
  FhirClientOptions options_;
};

// A FHIR base URL as the client would use it, decided on libcurl's own parse (the same parse the
// client's token-only-to-this-origin rule compares against): its scheme, its origin
// (scheme://host:port) and whether its host is loopback (exactly `localhost`, 127.0.0.0/8 or ::1;
// `http://127.0.0.1@evil.example/` is evil.example, and is refused anyway for its user info).
struct FhirServerEndpoint {
  std::string scheme;  // "http" or "https"
  std::string origin;
  bool loopback = false;
};
// kInvalidArgument for anything FhirClient would refuse as a base URL (not absolute http(s),
// query or fragment, user info, malformed).
Result<FhirServerEndpoint> InspectFhirServerUrl(std::string_view base_url);

// Redacts secrets from a URL before it is shown anywhere: values of query parameters such as
// `access_token`, `token`, `code`, `client_secret`, the password in user info, and every
// occurrence of `secret` (the bearer token) if non-empty.
std::string RedactUrl(std::string_view url, std::string_view secret = {});

}  // namespace cephalgia::fhir
