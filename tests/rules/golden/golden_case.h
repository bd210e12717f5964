// File: golden_case.h
//
// Checks a CDS Hooks response against a golden clinical case (tests/rules/cases/*.json, format in
// tests/rules/cases/README.md) and against the global safety invariants every response of the
// headache pack must keep. Shared by the in-process golden runner and the lead's runs of the
// same cases through `cephalgia evaluate` and HTTP, so the three agree on what "pass" means.
//
//   GoldenCase c = *LoadGoldenCase(path);
//   std::vector<std::string> failures = CheckGoldenCase(c.json, response_doc);
//   EXPECT_THAT(failures, IsEmpty());
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "cephalgia/plugin/sdk.h"
#include "cephalgia/status.h"

namespace cephalgia::testing {

struct GoldenCase {
  std::string name;          // file name without .json
  std::string path;
  std::string service;       // "headache-patient-view" | "headache-order-sign"
  std::string now;           // RFC 3339
  std::string request_json;  // the "request" member, serialised
  std::vector<plugin::PrefetchGap> unavailable_prefetch, partial_prefetch;  // optional case keys
  rapidjson::Document json;  // the whole case file
};

Result<GoldenCase> LoadGoldenCase(const std::string& path);
// Every *.json in `dir`, sorted by name.
std::vector<std::string> ListGoldenCaseFiles(const std::string& dir);

// `expect` of the case plus CheckResponseInvariants. Empty = pass; each string says what failed.
std::vector<std::string> CheckGoldenCase(const rapidjson::Value& case_json,
                                         const rapidjson::Value& response);

// The invariants alone (any request/response pair of the headache pack):
//  - no suggested resource is cervical manipulation (399010004/119600000) or an opioid (RxNorm
//    opioid group of knowledge.md §d.5, ingredients and listed products);
//  - no imaging (knowledge.md §d.6 CT/MRI/X-ray codes) unless a red-flag card fired;
//  - nothing suggested that the request shows active (same code on an active
//    MedicationRequest/MedicationStatement, an active/on-hold ServiceRequest or an in-progress
//    Procedure; physiotherapy referrals count as one group);
//  - summary < 140 characters; indicator in {info, warning, critical}; uuids RFC 4122 and unique;
//  - no null, empty string, empty array or empty object anywhere;
//  - selectionBehavior present iff suggestions; overrideReasons each with system/code/display;
//  - created resources: status draft, intent proposal, subject Patient/<context.patientId>.
std::vector<std::string> CheckResponseInvariants(const rapidjson::Value& request,
                                                 const rapidjson::Value& response);

// Codes of every resource created by the card's suggestions.
std::vector<std::string> SuggestedCodes(const rapidjson::Value& card);
// Every created resource in the response (for FHIR schema validation).
std::vector<const rapidjson::Value*> CreatedResources(const rapidjson::Value& response);

}  // namespace cephalgia::testing
