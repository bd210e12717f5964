// File: access_log.h
//
// One JSON line per HTTP request for stderr (issue 5 item 8), with no patient data and no tokens
// *by construction*: AccessLogEntry has no field that could hold a body, a query string, a raw
// path, a header or a token, and the fields it has are checked against what they may contain:
//   - method: one of the HTTP method tokens we know, else "OTHER";
//   - route: the router's *template* ("/cds-services/{id}"), never the raw target; a value with
//     characters outside [A-Za-z0-9/_.{}-] (e.g. '?', '=', '%', spaces) is replaced by "(invalid)";
//   - service: a discovery id ([A-Za-z0-9._-], <= 128), else "(invalid)";
//   - hookInstance: logged only if it is an RFC 4122 UUID (the spec's type), else "(invalid)";
//   - clientIss: the verified `iss` (item 103 says it is safe to log), <= 256 printable ASCII.
// Empty optional fields are logged as null, so every line has the same keys.
//
//   std::cerr << FormatAccessLogLine({.time = start, .method = "POST",
//                                     .route = "/cds-services/{id}",
//                                     .service_id = "headache-patient-view", .status = 200,
//                                     .duration_ms = 1.7, .bytes_in = 10240, .bytes_out = 2048,
//                                     .hook_instance = hook_instance, .client_iss = client.iss});
// Example output (one line):
//   {"time":"2026-11-21T17:45:00.123Z","type":"access","method":"POST","route":"/cds-services/{id}",
//    "service":"headache-patient-view","status":200,"durationMs":1.7,"bytesIn":10240,
//    "bytesOut":2048,"hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea","clientIss":"https://ehr.example.org"}
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cephalgia::hooks::metrics {

struct AccessLogEntry {
  std::chrono::system_clock::time_point time;  // when the request started
  std::string_view method;
  std::string_view route;          // route template matched; "" when none (e.g. 404)
  std::string_view service_id;     // the CDS service id, "" when the route has none
  int status = 0;
  double duration_ms = 0;
  std::uint64_t bytes_in = 0;      // request body bytes
  std::uint64_t bytes_out = 0;     // response body bytes
  std::string_view hook_instance;  // "" when not a service call
  std::string_view client_iss;     // VerifiedClient::iss, "" when auth is off or failed
  // W3C traceparent of the call (00-<32 hex>-<16 hex>-<2 hex>), else "(invalid)"; "" -> null.
  std::string_view traceparent;
};

// The JSON object, without a trailing newline.
std::string FormatAccessLogLine(const AccessLogEntry& entry);

// One JSON line per refused authentication (a 401), written beside the access line so an
// operator can tell why a client is turned away (issue 13), e.g.
//   {"time":"...","type":"auth_refusal","route":"/cds-services/{id}","reason":"token expired",
//    "label":"expired","iss":"https://ehr.example.org","kid":"ehr-key-1","remote":"10.1.2.3"}
// `reason` is the fixed phrase of the refusal; `iss` and `kid` are what the token claimed
// (unverified): printable ASCII of at most 256 (iss) / 128 (kid) characters, else "(invalid)";
// null when unknown. There is no field for the token or any header.
struct AuthRefusalEntry {
  std::chrono::system_clock::time_point time;
  std::string_view route;   // route template
  std::string_view reason;  // fixed phrase, e.g. "token expired"
  std::string_view label;   // metric label, e.g. "expired"
  std::string_view iss;
  std::string_view kid;
  std::string_view remote;  // the peer address
};
std::string FormatAuthRefusalLine(const AuthRefusalEntry& entry);

// RFC 3339 UTC with milliseconds, e.g. "2026-11-21T17:45:00.123Z".
std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t);

}  // namespace cephalgia::hooks::metrics
