#include "cephalgia/hooks/hook_request.h"

#include <array>
#include <string>

#include "cephalgia/json.h"

namespace cephalgia::hooks {
namespace {

enum class FieldType { kString, kArrayOfStrings, kObject };

struct ContextField {
  std::string_view name;
  FieldType type;
};

struct HookContext {
  std::string_view hook;
  std::array<ContextField, 5> required;  // unused slots have an empty name
};

// Required context fields per hook, from the CDS Hooks Library (checklist §I).
constexpr std::array<HookContext, 8> kHookContexts{{
    {"patient-view", {{{"userId", FieldType::kString}, {"patientId", FieldType::kString}}}},
    {"order-select",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"selections", FieldType::kArrayOfStrings},
       {"draftOrders", FieldType::kObject}}}},
    {"order-sign",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"draftOrders", FieldType::kObject}}}},
    {"encounter-start",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"encounterId", FieldType::kString}}}},
    {"encounter-discharge",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"encounterId", FieldType::kString}}}},
    {"appointment-book",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"appointments", FieldType::kObject}}}},
    // Deprecated 1.0-era hooks some clients still send (checklist item 92): same core fields.
    {"medication-prescribe",
     {{{"patientId", FieldType::kString}, {"medications", FieldType::kObject}}}},
    {"order-review", {{{"patientId", FieldType::kString}, {"orders", FieldType::kObject}}}},
}};

const HookContext* FindHook(std::string_view hook) {
  for (const HookContext& h : kHookContexts) {
    if (h.hook == hook) return &h;
  }
  return nullptr;
}

// FHIR `id`: [A-Za-z0-9\-\.]{1,64}. patientId and encounterId are substituted into FHIR URLs
// (`Patient/{{context.patientId}}`), so anything else could change which resource is read.
// An id of dots only (`.`, `..`) matches the pattern but is a path segment of its own:
// `Patient/..` is a request to the FHIR base, with the token. Refused.
bool IsFhirId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (s.find_first_not_of('.') == std::string_view::npos) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// `Type/id` as the CDS Hooks library's invariant ord-1 requires of userId and selections.
bool IsTypeSlashId(std::string_view s) {
  std::size_t slash = s.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  for (char c : s.substr(0, slash)) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return IsFhirId(s.substr(slash + 1));
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

const char* TypeName(FieldType t) {
  switch (t) {
    case FieldType::kString: return "a non-empty string";
    case FieldType::kArrayOfStrings: return "a non-empty array of strings";
    case FieldType::kObject: return "an object";
  }
  return "";
}

bool HasType(const rapidjson::Value& v, FieldType t) {
  switch (t) {
    case FieldType::kString: return v.IsString() && !IsBlank(json::AsStringView(v));
    case FieldType::kObject: return v.IsObject();
    case FieldType::kArrayOfStrings:
      if (!v.IsArray() || v.Empty()) return false;
      for (const auto& e : v.GetArray()) {
        if (!e.IsString()) return false;
      }
      return true;
  }
  return false;
}

bool IsHttpUrl(std::string_view url) {
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return false;
  }
  return !rest.empty() && rest.front() != '/' && url.find_first_of(" \t\r\n") == std::string_view::npos;
}

Status ValidateFhirAuthorization(const rapidjson::Value& auth) {
  if (!auth.IsObject()) return InvalidArgument("fhirAuthorization must be an object", "fhirAuthorization");
  auto token = json::GetString(auth, "access_token");
  if (!token || IsBlank(*token)) {
    return InvalidArgument("fhirAuthorization.access_token must be a non-empty string",
                           "fhirAuthorization.access_token");
  }
  auto type = json::GetString(auth, "token_type");
  if (!type || (*type != "Bearer" && *type != "bearer")) {
    return InvalidArgument("fhirAuthorization.token_type must be \"Bearer\"",
                           "fhirAuthorization.token_type");
  }
  // The remaining members are REQUIRED by the spec but not needed to call the FHIR server; real
  // clients omit some of them, so only their types are checked when present.
  if (const auto* v = json::Find(auth, "expires_in"); v != nullptr && !v->IsNumber()) {
    return InvalidArgument("fhirAuthorization.expires_in must be a number of seconds",
                           "fhirAuthorization.expires_in");
  }
  for (std::string_view key : {"scope", "subject", "patient"}) {
    if (const auto* v = json::Find(auth, key); v != nullptr && !v->IsString()) {
      return InvalidArgument("fhirAuthorization." + std::string(key) + " must be a string",
                             "fhirAuthorization." + std::string(key));
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsKnownHook(std::string_view hook) { return FindHook(hook) != nullptr; }

Status ValidateHookRequest(const rapidjson::Value& request, std::string_view expected_hook) {
  if (!request.IsObject()) return InvalidArgument("the request body must be a JSON object", "$");

  const rapidjson::Value* hook = json::Find(request, "hook");
  if (hook == nullptr) return InvalidArgument("hook is required", "hook");
  if (!hook->IsString()) return InvalidArgument("hook must be a string", "hook");
  if (json::AsStringView(*hook) != expected_hook) {
    return InvalidArgument("hook '" + std::string(json::AsStringView(*hook)) +
                               "' does not match this service, which answers '" +
                               std::string(expected_hook) + "'",
                           "hook");
  }

  const rapidjson::Value* instance = json::Find(request, "hookInstance");
  if (instance == nullptr) return InvalidArgument("hookInstance is required", "hookInstance");
  if (!instance->IsString() || IsBlank(json::AsStringView(*instance))) {
    return InvalidArgument("hookInstance must be a non-empty string", "hookInstance");
  }

  const rapidjson::Value* server = json::Find(request, "fhirServer");
  if (server != nullptr && (!server->IsString() || !IsHttpUrl(json::AsStringView(*server)))) {
    return InvalidArgument("fhirServer must be an absolute http(s) URL", "fhirServer");
  }
  if (const rapidjson::Value* auth = json::Find(request, "fhirAuthorization")) {
    if (server == nullptr) {
      return InvalidArgument("fhirServer is required when fhirAuthorization is present (cds-r-1)",
                             "fhirServer");
    }
    CEPHALGIA_RETURN_IF_ERROR(ValidateFhirAuthorization(*auth));
  }

  const rapidjson::Value* context = json::Find(request, "context");
  if (context == nullptr) return InvalidArgument("context is required", "context");
  if (!context->IsObject()) return InvalidArgument("context must be an object", "context");
  if (const HookContext* known = FindHook(expected_hook)) {
    for (const ContextField& field : known->required) {
      if (field.name.empty()) break;
      std::string where = "context." + std::string(field.name);
      const rapidjson::Value* v = json::Find(*context, field.name);
      if (v == nullptr) {
        return InvalidArgument(where + " is required for hook " + std::string(expected_hook), where);
      }
      if (!HasType(*v, field.type)) {
        return InvalidArgument(where + " must be " + TypeName(field.type), where);
      }
    }
    // Ids go into FHIR URLs: they must be FHIR ids (and userId a `Type/id` reference).
    for (std::string_view field : {"patientId", "encounterId"}) {
      const rapidjson::Value* v = json::Find(*context, field);
      if (v != nullptr && (!v->IsString() || !IsFhirId(json::AsStringView(*v)))) {
        return InvalidArgument("context." + std::string(field) +
                                   " must be a FHIR id ([A-Za-z0-9-.], at most 64 characters, "
                                   "not only dots)",
                               "context." + std::string(field));
      }
    }
    if (const rapidjson::Value* user = json::Find(*context, "userId")) {
      if (!user->IsString() || !IsTypeSlashId(json::AsStringView(*user))) {
        return InvalidArgument(
            "context.userId must be a reference such as Practitioner/123 "
            "(its id a FHIR id, not only dots)",
            "context.userId");
      }
    }
  }

  if (const rapidjson::Value* prefetch = json::Find(request, "prefetch")) {
    if (!prefetch->IsObject()) return InvalidArgument("prefetch must be an object", "prefetch");
  }
  return Status::Ok();
}

}  // namespace cephalgia::hooks
