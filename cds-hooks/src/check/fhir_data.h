// File: fhir_data.h
//
// The patient data `cephalgia check` sends: FHIR R4 JSON files from a folder (Bundles of any
// type, or single resources), grouped per Patient. A resource belongs to a patient when its
// `subject`, `patient` or `beneficiary` reference names it (`Patient/<id>` or the Patient
// entry's `urn:uuid:` fullUrl, as in Synthea bundles). From them it builds each hook's context
// and fills a service's prefetch templates: a read gives the resource or null, a search a
// `searchset` Bundle of the patient's resources of that type (search parameters other than the
// patient are not applied: a service gets at least what it asked for).
//
//   auto data = FhirData::LoadDirectory("../shared/fhir-samples/synthea");
//   std::string body = data->HookRequest(data->patients()[0], "patient-view", templates,
//   PrefetchMode::kFull);
#pragma once

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::check {

struct PatientRecord {
  std::string id;
  std::string file;  // where its Patient resource was read
  const rapidjson::Value* patient = nullptr;
  std::vector<const rapidjson::Value*> resources;  // everything that references the patient
};

enum class PrefetchMode {
  kFull,     // every template filled from the data
  kNone,     // no prefetch member
  kAllNull,  // every key present with the value null ("no data")
};

class FhirData {
 public:
  // Reads every *.json file of `dir` (not recursive), in name order. Files that are not FHIR
  // JSON are skipped and counted.
  static Result<std::unique_ptr<FhirData>> LoadDirectory(const std::string& dir);

  const std::vector<PatientRecord>& patients() const { return patients_; }
  std::size_t skipped_files() const { return skipped_files_; }

  // Whether the checker can build a context for this hook.
  static bool KnowsHook(const std::string& hook);

  // The hook's context for `patient` (a JSON object text).
  std::string ContextJson(const PatientRecord& patient, const std::string& hook) const;

  // A whole CDS Hooks request: hook, a fresh hookInstance, context, prefetch per `mode` from
  // `templates` (key -> template), and `fhir_server` when not empty.
  std::string HookRequest(const PatientRecord& patient, const std::string& hook,
                          const std::map<std::string, std::string>& templates, PrefetchMode mode,
                          const std::string& fhir_server = "") const;

 private:
  FhirData() = default;
  void Index();
  // The prefetch value of one expanded query (a resource, a searchset Bundle or null).
  rapidjson::Value Prefetch(const PatientRecord& patient, const std::string& query,
                            rapidjson::Document::AllocatorType& a) const;

  std::vector<std::unique_ptr<rapidjson::Document>> docs_;
  std::vector<std::pair<const rapidjson::Value*, std::string>> resources_;  // resource, fullUrl
  std::vector<std::string> resource_files_;
  std::vector<PatientRecord> patients_;
  std::size_t skipped_files_ = 0;
};

// Expands {{context.x}} and the user tokens ({{userPractitionerId}} ...) of a prefetch template
// against a context object; an unknown token is left as it is.
std::string ExpandTemplate(const std::string& query_template, const rapidjson::Value& context);

}  // namespace cephalgia::check
