// File: checker.h
//
// `cephalgia check`: holds any CDS Hooks 2.0 service to ../shared/cds-hooks/checklist.md over
// HTTP. Each check is numbered, tied to a checklist item, and ends pass, fail or not
// applicable, with its evidence (the request, the status, the offending JSON Pointer). The
// response rules are the ones the conformance test suite uses (cephalgia/hooks/check/
// response_rules.h).
//
//   CheckOptions options;
//   options.base_url = "http://127.0.0.1:8080";
//   Result<CheckRun> run = RunChecks(options);
//   std::cout << TextReport(*run);  return run->MustFailed() ? 1 : 0;
#pragma once

#include <string>
#include <vector>

#include "cephalgia/hooks/check/response_rules.h"
#include "cephalgia/status.h"

namespace cephalgia::check {

using hooks::check::Force;

enum class Outcome { kPass, kFail, kNotApplicable };
const char* OutcomeName(Outcome outcome);  // "pass", "fail", "n/a"

struct Evidence {
  std::string request;  // "POST /cds-services/x (patient-view, full prefetch)"
  long status = 0;      // HTTP status; 0 when no answer arrived
  std::string pointer;  // JSON Pointer into the answer, when one value is at fault
  std::string message;  // what was seen
};

struct CheckResult {
  int number = 0;
  std::string item;  // checklist item, e.g. "F59" or "K107"
  Force force = Force::kMust;
  std::string title;    // what is checked
  std::string subject;  // which service or endpoint ("" = the whole service)
  Outcome outcome = Outcome::kPass;
  std::string note;  // why not applicable, or a summary of what was looked at
  std::vector<Evidence> evidence;
  std::size_t evidence_left_out = 0;
};

struct CheckOptions {
  std::string base_url;            // up to, not including, /cds-services
  std::vector<std::string> hooks;  // --hook: only services of these hooks (empty: all)
  std::string service;             // --service: only this id
  std::string fhir_data;           // folder of FHIR JSON (Bundles or resources)
  std::string patient;             // --patient ID (default: the first --max-patients patients)
  int max_patients = 3;
  std::string jwks_key;  // PEM EC P-384 private key; enables the JWT checks
  std::string kid;       // default: the key's RFC 7638 thumbprint
  std::string issuer = "cephalgia-check";
  std::string fhir_schema;  // the FHIR R4 JSON Schema; empty: resources are not schema-checked
  double timeout_s = 10;
  double latency_budget_ms = 500;
  std::string origin = "https://sandbox.cds-hooks.org";  // Origin sent for the CORS checks
};

struct CheckRun {
  std::string base_url;
  std::string started_at;  // RFC 3339 UTC
  double duration_ms = 0;
  std::vector<std::string> notes;  // what the checker used (data, patients, key)
  std::vector<CheckResult> results;
  int Count(Outcome outcome) const;
  int FailedWith(Force force) const;
  bool MustFailed() const { return FailedWith(Force::kMust) > 0; }
};

// Runs every check. An error only when the run cannot start (unreadable key, data or schema).
Result<CheckRun> RunChecks(const CheckOptions& options);

std::string TextReport(const CheckRun& run);
std::string JsonReport(const CheckRun& run);
std::string JunitReport(const CheckRun& run);

}  // namespace cephalgia::check
