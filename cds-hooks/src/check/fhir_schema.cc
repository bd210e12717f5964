#include "cephalgia/hooks/check/fhir_schema.h"

#include <rapidjson/stringbuffer.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <vector>

#include "cephalgia/json.h"

namespace cephalgia::hooks::check {

Result<std::unique_ptr<FhirSchemaValidator>> FhirSchemaValidator::Load(
    const std::string& schema_file) {
  std::ifstream in(schema_file, std::ios::binary);
  if (!in) return NotFound("cannot read the FHIR R4 JSON Schema " + schema_file);
  std::stringstream text;
  text << in.rdbuf();
  std::unique_ptr<FhirSchemaValidator> v(new FhirSchemaValidator());
  // A trusted local file, but still read behind a limit (the R4 schema is 2.8 MB).
  auto doc = json::ParseUntrusted(text.str(), 64u << 20);
  if (!doc.ok()) return InvalidArgument(schema_file + ": " + doc.status().message());
  v->full_ = std::move(*doc);
  if (json::GetObject(v->full_, "definitions") == nullptr) {
    return InvalidArgument(schema_file + " has no definitions: not the FHIR JSON Schema");
  }
  return v;
}

const FhirSchemaValidator::TypeSchema* FhirSchemaValidator::SchemaFor(const std::string& type) {
  auto it = by_type_.find(type);
  if (it != by_type_.end()) return it->second.get();
  const rapidjson::Value& defs = *json::GetObject(full_, "definitions");
  const rapidjson::Value* root = json::GetObject(defs, type);
  const rapidjson::Value* properties =
      root == nullptr ? nullptr : json::GetObject(*root, "properties");
  if (properties == nullptr || json::Find(*properties, "resourceType") == nullptr) {
    by_type_[type] = nullptr;
    return nullptr;
  }
  auto out = std::make_unique<TypeSchema>();
  auto& a = out->doc.GetAllocator();
  out->doc.SetObject();
  rapidjson::Value out_defs(rapidjson::kObjectType);
  std::vector<std::string> todo = {type};
  std::set<std::string> seen;
  std::function<void(const rapidjson::Value&)> refs = [&](const rapidjson::Value& v) {
    if (v.IsObject()) {
      for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
        if (json::AsStringView(m->name) == "$ref" && m->value.IsString()) {
          std::string r(json::AsStringView(m->value));
          if (r.rfind("#/definitions/", 0) == 0) todo.push_back(r.substr(14));
        } else {
          refs(m->value);
        }
      }
    } else if (v.IsArray()) {
      for (const auto& e : v.GetArray()) refs(e);
    }
  };
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    if (!seen.insert(name).second) continue;
    const rapidjson::Value* def = json::GetObject(defs, name);
    // ResourceList (the type of `contained`) would pull in every resource: left permissive.
    if (name == "ResourceList" || def == nullptr) {
      out_defs.AddMember(rapidjson::Value(name.c_str(), a),
                         rapidjson::Value(rapidjson::kObjectType), a);
      continue;
    }
    refs(*def);
    out_defs.AddMember(rapidjson::Value(name.c_str(), a), rapidjson::Value(*def, a), a);
  }
  out->doc.AddMember("definitions", out_defs, a);
  out->doc.AddMember("$ref", rapidjson::Value(("#/definitions/" + type).c_str(), a), a);
  out->schema = std::make_unique<rapidjson::SchemaDocument>(out->doc);
  const TypeSchema* result = out.get();
  by_type_[type] = std::move(out);
  return result;
}

std::string FhirSchemaValidator::Check(const rapidjson::Value& resource) {
  auto type = json::GetString(resource, "resourceType");
  if (!type) return "no resourceType";
  std::lock_guard<std::mutex> lock(mu_);
  const TypeSchema* schema = SchemaFor(std::string(*type));
  if (schema == nullptr) return "'" + std::string(*type) + "' is not an R4 resource type";
  rapidjson::SchemaValidator v(*schema->schema);
  if (resource.Accept(v)) return "";
  rapidjson::StringBuffer a, b;
  v.GetInvalidDocumentPointer().Stringify(a);
  v.GetInvalidSchemaPointer().Stringify(b);
  std::string where = a.GetString();
  return (where.empty() ? std::string("/") : where) + " violates " + v.GetInvalidSchemaKeyword() +
         " at " + b.GetString();
}

}  // namespace cephalgia::hooks::check
