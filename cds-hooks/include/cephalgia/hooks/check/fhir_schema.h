// File: fhir_schema.h
//
// FhirSchemaValidator: validates FHIR R4 resources (JSON) against the official R4 JSON Schema
// (fhir.schema.json, ../shared/fhir-r4-json-schema) with RapidJSON's SchemaValidator. The file
// is read once; each resource type gets its own small schema document holding only the
// definitions reachable from that type (compiled on first use and kept), which keeps RapidJSON's
// compilation cheap. RapidJSON 1.1 implements draft-04 and ignores the draft-06 `const` of
// `resourceType`, so the type is compared here. `contained` resources are not validated.
//
//   auto validator = FhirSchemaValidator::Load("../shared/fhir-r4-json-schema/fhir.schema.json");
//   if (validator.ok()) std::string problem = (*validator)->Check(resource);  // "" when valid
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cephalgia/status.h"

namespace cephalgia::hooks::check {

class FhirSchemaValidator {
 public:
  // Reads and parses the schema file (about 3 MB). Errors name the file.
  static Result<std::unique_ptr<FhirSchemaValidator>> Load(const std::string& schema_file);

  // "" when `resource` is valid; otherwise "<JSON Pointer in the resource> violates <keyword>
  // at <schema pointer>" or why it could not be checked (no or unknown resourceType).
  std::string Check(const rapidjson::Value& resource);

 private:
  FhirSchemaValidator() = default;
  struct TypeSchema {
    rapidjson::Document doc;
    std::unique_ptr<rapidjson::SchemaDocument> schema;
  };
  const TypeSchema* SchemaFor(const std::string& type);

  rapidjson::Document full_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<TypeSchema>> by_type_;
};

}  // namespace cephalgia::hooks::check
