#include "cephalgia/hooks/prefetch.h"

#include <cstdio>

#include "cephalgia/json.h"

namespace cephalgia::hooks {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '/';
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

// Whether `value` may be put into a URL path as one segment. The hook's context is validated
// (patientId and encounterId are FHIR ids) for the hooks we know, but a template may name any
// primitive context field, so the path is guarded here too: a dot segment (`Patient/..`) or a
// slash, backslash, `?`, `#` or `%` (an encoded dot or slash) would change which resource, or
// which endpoint of the FHIR server, is read with the token.
bool IsSafePathSegment(std::string_view value) {
  if (value.empty() || value.find_first_not_of('.') == std::string_view::npos) return false;
  return value.find_first_of("/\\?#%") == std::string_view::npos;
}

// The value of one token, or an error saying why it cannot be filled.
Result<std::string> TokenValue(std::string_view token, const rapidjson::Value& context) {
  if (token.rfind("context.", 0) == 0) {
    std::string_view field = token.substr(8);
    const rapidjson::Value* v = json::Find(context, field);
    if (v == nullptr) {
      return FailedPrecondition("prefetch token {{" + std::string(token) + "}}: context has no " +
                                std::string(field));
    }
    if (v->IsString()) return std::string(json::AsStringView(*v));
    if (v->IsInt64()) return std::to_string(v->GetInt64());
    return FailedPrecondition("prefetch token {{" + std::string(token) +
                              "}} does not name a primitive context field");
  }
  struct UserToken {
    std::string_view token;
    std::string_view type;
  };
  static constexpr UserToken kUserTokens[] = {{"userPractitionerId", "Practitioner"},
                                              {"userPractitionerRoleId", "PractitionerRole"},
                                              {"userPatientId", "Patient"},
                                              {"userRelatedPersonId", "RelatedPerson"}};
  for (const UserToken& u : kUserTokens) {
    if (token != u.token) continue;
    std::string_view user = json::GetString(context, "userId").value_or("");
    std::string prefix = std::string(u.type) + "/";
    if (user.rfind(prefix, 0) != 0) {
      return FailedPrecondition("prefetch token {{" + std::string(token) +
                                "}}: context.userId is not a " + std::string(u.type));
    }
    return std::string(user.substr(prefix.size()));
  }
  return FailedPrecondition("unknown prefetch token {{" + std::string(token) + "}}");
}

bool IsOperationOutcome(const rapidjson::Value& v) {
  return json::GetString(v, "resourceType") == std::optional<std::string_view>("OperationOutcome");
}

void AppendEntries(rapidjson::Value& bundle, rapidjson::Value& more,
                   rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value* entries = const_cast<rapidjson::Value*>(json::GetArray(bundle, "entry"));
  if (entries == nullptr) {
    bundle.RemoveMember("entry");
    bundle.AddMember("entry", rapidjson::Value(rapidjson::kArrayType), alloc);
    entries = &bundle["entry"];
  }
  if (rapidjson::Value* add = const_cast<rapidjson::Value*>(json::GetArray(more, "entry"))) {
    for (auto& e : add->GetArray()) entries->PushBack(rapidjson::Value(e, alloc), alloc);
  }
}

void RemoveNextLink(rapidjson::Value& bundle) {
  rapidjson::Value* links = const_cast<rapidjson::Value*>(json::GetArray(bundle, "link"));
  if (links == nullptr) return;
  for (auto it = links->Begin(); it != links->End();) {
    if (json::GetString(*it, "relation") == std::optional<std::string_view>("next")) {
      it = links->Erase(it);
    } else {
      ++it;
    }
  }
  if (links->Empty()) bundle.RemoveMember("link");
}

// True if `value` is, or is a Bundle holding, the resource `type`/`id`.
bool HoldsResource(const rapidjson::Value& value, std::string_view type, std::string_view id) {
  if (!value.IsObject()) return false;
  auto rt = json::GetString(value, "resourceType");
  if (rt == type && json::GetString(value, "id") == id) return true;
  if (rt != std::optional<std::string_view>("Bundle")) return false;
  if (const rapidjson::Value* entries = json::GetArray(value, "entry")) {
    for (const auto& e : entries->GetArray()) {
      if (const rapidjson::Value* r = json::GetObject(e, "resource"); r && HoldsResource(*r, type, id)) {
        return true;
      }
    }
  }
  return false;
}

// A read template (`Patient/{{context.patientId}}`) is satisfied by that resource under any
// prefetch key: clients name keys after their own templates (the spec's example sends the
// Patient as `patientToGreet`), and the resource is the same.
bool ReadSatisfiedElsewhere(const rapidjson::Value& prefetch, std::string_view query_template,
                            const rapidjson::Value& context) {
  if (query_template.find('?') != std::string_view::npos) return false;
  auto read = ExpandPrefetchTemplate(query_template, context);
  if (!read.ok()) return false;
  std::string_view path = *read;
  std::size_t slash = path.find('/');
  if (slash == std::string_view::npos || path.find('/', slash + 1) != std::string_view::npos) {
    return false;
  }
  for (auto it = prefetch.MemberBegin(); it != prefetch.MemberEnd(); ++it) {
    if (HoldsResource(it->value, path.substr(0, slash), path.substr(slash + 1))) return true;
  }
  return false;
}

}  // namespace

Result<std::string> ExpandPrefetchTemplate(std::string_view query_template,
                                           const rapidjson::Value& context) {
  std::string out;
  std::size_t pos = 0;
  const std::size_t query_start = query_template.find('?');
  while (pos < query_template.size()) {
    std::size_t open = query_template.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(query_template.substr(pos));
      break;
    }
    std::size_t close = query_template.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated {{ in prefetch template '" + std::string(query_template) + "'");
    }
    out.append(query_template.substr(pos, open - pos));
    std::string_view token = query_template.substr(open + 2, close - open - 2);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    CEPHALGIA_ASSIGN_OR_RETURN(std::string value, TokenValue(token, context));
    bool in_query = query_start != std::string_view::npos && open > query_start;
    if (!in_query && !IsSafePathSegment(value)) {
      return InvalidArgument("prefetch token {{" + std::string(token) +
                             "}}: its value is not a FHIR id (empty, only dots, or with / \\ ? # "
                             "%), so it is not put into a FHIR URL");
    }
    out += in_query ? PercentEncode(value) : value;
    pos = close + 2;
  }
  return out;
}

std::string_view PrefetchStateName(PrefetchState state) {
  switch (state) {
    case PrefetchState::kSatisfied: return "satisfied";
    case PrefetchState::kNoData: return "no data (null)";
    case PrefetchState::kMissing: return "not prefetched";
    case PrefetchState::kError: return "prefetch error (OperationOutcome)";
    case PrefetchState::kPaged: return "paginated";
  }
  return "";
}

PrefetchState ClassifyPrefetchValue(const rapidjson::Value* value, std::string* next_url) {
  if (value == nullptr) return PrefetchState::kMissing;
  if (value->IsNull()) return PrefetchState::kNoData;
  if (!value->IsObject()) return PrefetchState::kError;
  if (IsOperationOutcome(*value)) return PrefetchState::kError;
  if (json::GetString(*value, "resourceType") != std::optional<std::string_view>("Bundle")) {
    return PrefetchState::kSatisfied;
  }
  // A Bundle whose entries are all OperationOutcomes reports an error, not data (item 43).
  if (const rapidjson::Value* entries = json::GetArray(*value, "entry"); entries && !entries->Empty()) {
    bool all_outcomes = true;
    for (const auto& e : entries->GetArray()) {
      const rapidjson::Value* r = json::GetObject(e, "resource");
      all_outcomes = all_outcomes && r != nullptr && IsOperationOutcome(*r);
    }
    if (all_outcomes) return PrefetchState::kError;
  }
  if (const rapidjson::Value* links = json::GetArray(*value, "link")) {
    for (const auto& link : links->GetArray()) {
      if (json::GetString(link, "relation") == std::optional<std::string_view>("next")) {
        if (auto url = json::GetString(link, "url"); url && !url->empty()) {
          if (next_url != nullptr) *next_url = std::string(*url);
          return PrefetchState::kPaged;
        }
      }
    }
  }
  return PrefetchState::kSatisfied;
}

namespace {

bool IsRequired(const plugin::ServiceDescriptor& service, const std::string& key) {
  for (const auto& r : service.required_prefetch) {
    if (r == key) return true;
  }
  return false;
}

}  // namespace

Result<PrefetchPlan> PlanPrefetch(rapidjson::Document& request,
                                  const plugin::ServiceDescriptor& service) {
  PrefetchPlan plan;
  PrefetchResolution& resolution = plan.known;
  auto& alloc = request.GetAllocator();
  if (json::Find(request, "prefetch") == nullptr) {
    request.AddMember("prefetch", rapidjson::Value(rapidjson::kObjectType), alloc);
  }
  rapidjson::Value& prefetch = request["prefetch"];
  static const rapidjson::Value kEmptyObject(rapidjson::kObjectType);
  const rapidjson::Value* context = json::GetObject(request, "context");
  if (context == nullptr) context = &kEmptyObject;
  std::optional<std::string_view> fhir_server = json::GetString(request, "fhirServer");
  if (fhir_server) plan.fhir_server = std::string(*fhir_server);
  if (const rapidjson::Value* auth = json::GetObject(request, "fhirAuthorization")) {
    if (auto t = json::GetString(*auth, "access_token")) plan.bearer_token = std::string(*t);
  }
  auto is_required = [&](const std::string& key) { return IsRequired(service, key); };

  for (const auto& [key, query_template] : service.prefetch) {
    std::string next;
    PrefetchState state = ClassifyPrefetchValue(json::Find(prefetch, key), &next);
    if (state == PrefetchState::kSatisfied) continue;
    if (state == PrefetchState::kMissing && ReadSatisfiedElsewhere(prefetch, query_template, *context)) {
      continue;
    }
    if (state == PrefetchState::kNoData) {
      if (is_required(key)) {
        return FailedPrecondition("required prefetch '" + key +
                                      "' is null: the EHR has no data for " + query_template,
                                  "prefetch." + key);
      }
      continue;
    }
    std::string why(PrefetchStateName(state));
    if (!fhir_server) {
      if (state == PrefetchState::kPaged) {
        resolution.partial.push_back({key, "only the first page was prefetched and no fhirServer was given to fetch the rest"});
        continue;
      }
      if (is_required(key)) {
        return FailedPrecondition("required prefetch '" + key + "' is " + why +
                                      " and the request has no fhirServer to fetch it from",
                                  "prefetch." + key);
      }
      resolution.unavailable.push_back({key, why + "; no fhirServer to fetch it from"});
      continue;
    }
    if (state == PrefetchState::kPaged) {
      plan.queries.push_back({key, next, /*next_page=*/true});
      continue;
    }
    auto url = ExpandPrefetchTemplate(query_template, *context);
    if (!url.ok()) {
      if (is_required(key)) return Status(url.status().code(), url.status().message(), "prefetch." + key);
      resolution.unavailable.push_back({key, why + "; " + url.status().message()});
      continue;
    }
    plan.queries.push_back({key, std::move(*url), /*next_page=*/false});
  }
  return plan;
}

Result<PrefetchResolution> CompletePrefetch(rapidjson::Document& request,
                                            const plugin::ServiceDescriptor& service,
                                            PrefetchPlan plan, FhirFetcher* fetcher,
                                            std::string_view no_fetch_reason) {
  PrefetchResolution resolution = std::move(plan.known);
  const std::vector<FetchQuery>& queries = plan.queries;
  if (queries.empty()) return resolution;
  auto is_required = [&](const std::string& key) { return IsRequired(service, key); };
  auto& alloc = request.GetAllocator();
  if (fetcher == nullptr) {
    for (std::size_t i = 0; i < queries.size(); ++i) {
      if (!queries[i].next_page && is_required(queries[i].key)) {
        return FailedPrecondition("required prefetch '" + queries[i].key +
                                      "' is missing and cannot be fetched: " +
                                      std::string(no_fetch_reason),
                                  "prefetch." + queries[i].key);
      }
      (queries[i].next_page ? resolution.partial : resolution.unavailable)
          .push_back({queries[i].key, std::string(no_fetch_reason)});
    }
    return resolution;
  }

  rapidjson::Value& prefetch = request["prefetch"];
  std::vector<FetchResult> results =
      fetcher->FetchAllTraced(plan.fhir_server, plan.bearer_token, queries, plan.traceparent);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const FetchQuery& q = queries[i];
    FetchResult* result = nullptr;
    for (FetchResult& r : results) {
      if (r.key == q.key) result = &r;
    }
    if (result == nullptr || !result->status.ok()) {
      std::string reason = result == nullptr ? "no result" : result->status.message();
      if (result != nullptr) {
        resolution.fetch_error_kinds.push_back(
            result->error_kind.empty() ? std::string(StatusCodeName(result->status.code()))
                                       : result->error_kind);
      }
      if (queries[i].next_page) {
        resolution.partial.push_back({q.key, "remaining pages could not be fetched: " + reason});
        continue;
      }
      if (is_required(q.key)) {
        return FailedPrecondition("required prefetch '" + q.key +
                                      "' could not be fetched from the FHIR server: " + reason,
                                  "prefetch." + q.key);
      }
      resolution.unavailable.push_back({q.key, "could not be fetched: " + reason});
      continue;
    }
    if (result->partial) resolution.partial.push_back({q.key, result->partial_reason});
    rapidjson::Value key_name(q.key.c_str(), alloc);
    if (queries[i].next_page) {
      rapidjson::Value& existing = prefetch[key_name];
      AppendEntries(existing, result->document, alloc);
      RemoveNextLink(existing);
    } else {
      rapidjson::Value copy(result->document, alloc);
      if (prefetch.HasMember(key_name)) {
        prefetch[key_name] = copy;
      } else {
        prefetch.AddMember(key_name, copy, alloc);
      }
    }
    resolution.modified = true;
  }
  return resolution;
}

}  // namespace cephalgia::hooks
