#include "fhir_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cephalgia/json.h"
#include "cephalgia/uuid.h"

namespace cephalgia::check {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxFileBytes = 64u << 20;
constexpr char kUser[] = "Practitioner/cephalgia-check";
constexpr char kDraftId[] = "cephalgia-check-draft-1";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The patient a resource is about, by reference text.
std::vector<std::string> PatientReferencesOf(const rapidjson::Value& resource) {
  std::vector<std::string> out;
  for (const char* key : {"subject", "patient", "beneficiary"}) {
    if (const rapidjson::Value* ref = json::GetObject(resource, key)) {
      if (auto r = json::GetString(*ref, "reference")) out.emplace_back(*r);
    }
  }
  return out;
}

bool RefersTo(const std::string& reference, const std::string& patient_id,
              const std::string& full_url) {
  if (!full_url.empty() && reference == full_url) return true;
  const std::string tail = "Patient/" + patient_id;
  return reference == tail || reference == "urn:uuid:" + patient_id ||
         (reference.size() > tail.size() &&
          reference.compare(reference.size() - tail.size(), tail.size(), tail) == 0 &&
          reference[reference.size() - tail.size() - 1] == '/');
}

void AddString(rapidjson::Value& obj, const char* key, const std::string& value,
               rapidjson::Document::AllocatorType& a) {
  obj.AddMember(rapidjson::Value(key, a),
                rapidjson::Value(value.c_str(), static_cast<rapidjson::SizeType>(value.size()), a),
                a);
}

}  // namespace

Result<std::unique_ptr<FhirData>> FhirData::LoadDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("--fhir-data " + dir + " is not a directory");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::unique_ptr<FhirData> data(new FhirData());
  for (const fs::path& file : files) {
    if (fs::file_size(file, ec) > kMaxFileBytes) {
      ++data->skipped_files_;
      continue;
    }
    auto doc = json::ParseUntrusted(ReadFile(file), kMaxFileBytes);
    if (!doc.ok() || !json::GetString(*doc, "resourceType")) {
      ++data->skipped_files_;
      continue;
    }
    auto owned = std::make_unique<rapidjson::Document>(std::move(*doc));
    const rapidjson::Value& root = *owned;
    if (json::GetString(root, "resourceType") == "Bundle") {
      if (const rapidjson::Value* entries = json::GetArray(root, "entry")) {
        for (const auto& e : entries->GetArray()) {
          const rapidjson::Value* r = json::GetObject(e, "resource");
          if (r == nullptr || !json::GetString(*r, "resourceType")) continue;
          data->resources_.emplace_back(r, std::string(json::GetString(e, "fullUrl").value_or("")));
          data->resource_files_.push_back(file.filename().string());
        }
      }
    } else {
      data->resources_.emplace_back(&root, "");
      data->resource_files_.push_back(file.filename().string());
    }
    data->docs_.push_back(std::move(owned));
  }
  data->Index();
  if (data->patients_.empty()) return NotFound("no Patient resource in --fhir-data " + dir);
  return data;
}

void FhirData::Index() {
  for (std::size_t i = 0; i < resources_.size(); ++i) {
    const auto& [r, full_url] = resources_[i];
    if (json::GetString(*r, "resourceType") != "Patient") continue;
    auto id = json::GetString(*r, "id");
    if (!id) continue;
    PatientRecord p;
    p.id = std::string(*id);
    p.file = resource_files_[i];
    p.patient = r;
    for (const auto& [other, ignored] : resources_) {
      for (const std::string& ref : PatientReferencesOf(*other)) {
        if (RefersTo(ref, p.id, full_url)) {
          p.resources.push_back(other);
          break;
        }
      }
    }
    patients_.push_back(std::move(p));
  }
}

bool FhirData::KnowsHook(const std::string& hook) {
  return hook == "patient-view" || hook == "order-select" || hook == "order-sign" ||
         hook == "encounter-start" || hook == "encounter-discharge" || hook == "appointment-book";
}

std::string FhirData::ContextJson(const PatientRecord& patient, const std::string& hook) const {
  rapidjson::Document ctx(rapidjson::kObjectType);
  auto& a = ctx.GetAllocator();
  AddString(ctx, "userId", kUser, a);
  AddString(ctx, "patientId", patient.id, a);
  if (hook == "encounter-start" || hook == "encounter-discharge") {
    std::string encounter = "cephalgia-check-encounter";
    for (const rapidjson::Value* r : patient.resources) {
      if (json::GetString(*r, "resourceType") == "Encounter" && json::GetString(*r, "id")) {
        encounter = std::string(*json::GetString(*r, "id"));  // the last one listed
      }
    }
    AddString(ctx, "encounterId", encounter, a);
  }
  if (hook == "order-select" || hook == "order-sign") {
    // One draft order: ibuprofen 400 mg (RxNorm 197806), an everyday order any service can read.
    const std::string draft = R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{
      "resourceType":"MedicationRequest","id":")" +
                              std::string(kDraftId) + R"(","status":"draft","intent":"order",
      "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"197806",
        "display":"Ibuprofen 400 MG Oral Tablet"}],"text":"Ibuprofen 400 mg tablet"},
      "subject":{"reference":"Patient/)" +
                              patient.id + R"("},
      "dosageInstruction":[{"text":"1 tablet every 8 hours as needed for pain"}]}}]})";
    auto d = json::ParseUntrusted(draft);
    if (d.ok()) ctx.AddMember("draftOrders", rapidjson::Value(*d, a), a);
    if (hook == "order-select") {
      rapidjson::Value selections(rapidjson::kArrayType);
      selections.PushBack(
          rapidjson::Value(("MedicationRequest/" + std::string(kDraftId)).c_str(), a), a);
      ctx.AddMember("selections", selections, a);
    }
  }
  if (hook == "appointment-book") {
    const std::string appointments =
        R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{
      "resourceType":"Appointment","id":"cephalgia-check-appointment-1","status":"proposed",
      "participant":[{"actor":{"reference":"Patient/)" +
        patient.id + R"("},"status":"needs-action"}]}}]})";
    auto d = json::ParseUntrusted(appointments);
    if (d.ok()) ctx.AddMember("appointments", rapidjson::Value(*d, a), a);
  }
  return json::Serialize(ctx);
}

std::string ExpandTemplate(const std::string& t, const rapidjson::Value& context) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t open = t.find("{{", pos);
    std::size_t close = open == std::string::npos ? open : t.find("}}", open + 2);
    if (open == std::string::npos || close == std::string::npos) {
      out += t.substr(pos);
      return out;
    }
    out += t.substr(pos, open - pos);
    std::string token = t.substr(open + 2, close - open - 2);
    std::optional<std::string> value;
    if (token.rfind("context.", 0) == 0) {
      if (auto v = json::GetString(context, token.substr(8))) value = std::string(*v);
    } else {
      // userPractitionerId etc.: the id part of context.userId when its type matches.
      std::string user(json::GetString(context, "userId").value_or(""));
      std::size_t slash = user.find('/');
      if (slash != std::string::npos && token == "user" + user.substr(0, slash) + "Id") {
        value = user.substr(slash + 1);
      }
    }
    out += value ? *value : "{{" + token + "}}";
    pos = close + 2;
  }
}

rapidjson::Value FhirData::Prefetch(const PatientRecord& patient, const std::string& query,
                                    rapidjson::Document::AllocatorType& a) const {
  const std::size_t q = query.find('?');
  const std::string path = query.substr(0, q);
  const std::size_t slash = path.find('/');
  const std::string type = path.substr(0, slash);
  if (slash != std::string::npos) {  // a read
    const std::string id = path.substr(slash + 1);
    if (type == "Patient" && id == patient.id) return rapidjson::Value(*patient.patient, a);
    for (const auto& [r, full_url] : resources_) {
      if (json::GetString(*r, "resourceType") == type && json::GetString(*r, "id") == id) {
        return rapidjson::Value(*r, a);
      }
    }
    return rapidjson::Value(rapidjson::kNullType);
  }
  rapidjson::Value bundle(rapidjson::kObjectType);
  AddString(bundle, "resourceType", "Bundle", a);
  AddString(bundle, "type", "searchset", a);
  rapidjson::Value entries(rapidjson::kArrayType);
  const std::vector<const rapidjson::Value*> own =
      type == "Patient" ? std::vector<const rapidjson::Value*>{patient.patient} : patient.resources;
  for (const rapidjson::Value* r : own) {
    if (json::GetString(*r, "resourceType") != type) continue;
    rapidjson::Value entry(rapidjson::kObjectType);
    if (auto id = json::GetString(*r, "id")) {
      AddString(entry, "fullUrl", type + "/" + std::string(*id), a);
    }
    entry.AddMember("resource", rapidjson::Value(*r, a), a);
    entries.PushBack(entry, a);
  }
  bundle.AddMember("total", entries.Size(), a);
  if (!entries.Empty()) bundle.AddMember("entry", entries, a);
  return bundle;
}

std::string FhirData::HookRequest(const PatientRecord& patient, const std::string& hook,
                                  const std::map<std::string, std::string>& templates,
                                  PrefetchMode mode, const std::string& fhir_server) const {
  rapidjson::Document req(rapidjson::kObjectType);
  auto& a = req.GetAllocator();
  AddString(req, "hook", hook, a);
  AddString(req, "hookInstance", NewUuidV4(), a);
  if (!fhir_server.empty()) AddString(req, "fhirServer", fhir_server, a);
  auto context = json::ParseUntrusted(ContextJson(patient, hook));
  rapidjson::Value ctx(rapidjson::kObjectType);
  if (context.ok()) ctx.CopyFrom(*context, a);
  if (mode != PrefetchMode::kNone && !templates.empty()) {
    rapidjson::Value prefetch(rapidjson::kObjectType);
    for (const auto& [key, t] : templates) {
      rapidjson::Value value = mode == PrefetchMode::kAllNull
                                   ? rapidjson::Value(rapidjson::kNullType)
                                   : Prefetch(patient, ExpandTemplate(t, ctx), a);
      prefetch.AddMember(rapidjson::Value(key.c_str(), a), value, a);
    }
    req.AddMember("context", ctx, a);
    req.AddMember("prefetch", prefetch, a);
  } else {
    req.AddMember("context", ctx, a);
  }
  return json::Serialize(req);
}

}  // namespace cephalgia::check
