#include "cephalgia/hooks/prefetch.h"

#include <cstdint>
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

// A context field as template expansion sees it, from a DOM or from a scanned envelope.
struct ContextValue {
  bool found = false;
  bool is_string = false;
  std::string_view text;
  bool is_int64 = false;
  std::int64_t int64 = 0;
};

ContextValue DomField(const rapidjson::Value& context, std::string_view field) {
  ContextValue out;
  const rapidjson::Value* v = json::Find(context, field);
  if (v == nullptr) return out;
  out.found = true;
  out.is_string = v->IsString();
  out.text = json::AsStringView(*v);
  out.is_int64 = v->IsInt64();
  if (out.is_int64) out.int64 = v->GetInt64();
  return out;
}

ContextValue EnvelopeField(const HookEnvelope& request, std::string_view field) {
  ContextValue out;
  const ScannedValue& v = request.ContextField(field);
  if (!v.present()) return out;
  out.found = true;
  out.is_string = v.is_string();
  out.text = v.text;
  out.is_int64 = v.kind == ScannedValue::Kind::kNumber && v.is_int64;
  out.int64 = v.int64;
  return out;
}

// The value of one token, or an error saying why it cannot be filled.
template <typename Lookup>
Result<std::string> TokenValue(std::string_view token, const Lookup& lookup) {
  if (token.rfind("context.", 0) == 0) {
    std::string_view field = token.substr(8);
    ContextValue v = lookup(field);
    if (!v.found) {
      return FailedPrecondition("prefetch token {{" + std::string(token) + "}}: context has no " +
                                std::string(field));
    }
    if (v.is_string) return std::string(v.text);
    if (v.is_int64) return std::to_string(v.int64);
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
    ContextValue user_value = lookup("userId");
    std::string_view user = user_value.is_string ? user_value.text : std::string_view();
    std::string prefix = std::string(u.type) + "/";
    if (user.rfind(prefix, 0) != 0) {
      return FailedPrecondition("prefetch token {{" + std::string(token) +
                                "}}: context.userId is not a " + std::string(u.type));
    }
    return std::string(user.substr(prefix.size()));
  }
  return FailedPrecondition("unknown prefetch token {{" + std::string(token) + "}}");
}

template <typename Lookup>
Result<std::string> Expand(std::string_view query_template, const Lookup& lookup) {
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
      return InvalidArgument("unterminated {{ in prefetch template '" +
                             std::string(query_template) + "'");
    }
    out.append(query_template.substr(pos, open - pos));
    std::string_view token = query_template.substr(open + 2, close - open - 2);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    CEPHALGIA_ASSIGN_OR_RETURN(std::string value, TokenValue(token, lookup));
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

bool IsOperationOutcome(const rapidjson::Value& v) {
  return json::GetString(v, "resourceType") == std::optional<std::string_view>("OperationOutcome");
}

// A read template (`Patient/{{context.patientId}}`) is satisfied by that resource under any
// prefetch key: clients name keys after their own templates (the spec's example sends the
// Patient as `patientToGreet`), and the resource is the same. The scan recorded, per prefetch
// value, the resources of the read types it is or holds as a Bundle.
bool ReadSatisfiedElsewhere(const HookEnvelope& request, std::string_view query_template) {
  if (query_template.find('?') != std::string_view::npos) return false;
  auto read = ExpandPrefetchTemplate(query_template, request);
  if (!read.ok()) return false;
  std::string_view path = *read;
  std::size_t slash = path.find('/');
  if (slash == std::string_view::npos || path.find('/', slash + 1) != std::string_view::npos) {
    return false;
  }
  std::string_view type = path.substr(0, slash);
  std::string_view id = path.substr(slash + 1);
  for (const ScannedPrefetch& p : request.prefetch_values) {
    for (std::size_t i = p.held_begin; i < p.held_end; ++i) {
      if (request.held[i].first == type && request.held[i].second == id) return true;
    }
  }
  return false;
}

}  // namespace

Result<std::string> ExpandPrefetchTemplate(std::string_view query_template,
                                           const rapidjson::Value& context) {
  return Expand(query_template,
                [&context](std::string_view field) { return DomField(context, field); });
}

Result<std::string> ExpandPrefetchTemplate(std::string_view query_template,
                                           const HookEnvelope& request) {
  return Expand(query_template,
                [&request](std::string_view field) { return EnvelopeField(request, field); });
}

std::vector<std::string_view> ReadTemplateTypes(const plugin::ServiceDescriptor& service) {
  std::vector<std::string_view> types;
  for (const auto& [key, query_template] : service.prefetch) {
    std::string_view t = query_template;
    if (t.find('?') != std::string_view::npos) continue;
    std::size_t slash = t.find('/');
    if (slash == std::string_view::npos) continue;
    types.push_back(t.substr(0, slash));
  }
  return types;
}

std::string_view PrefetchStateName(PrefetchState state) {
  switch (state) {
    case PrefetchState::kSatisfied:
      return "satisfied";
    case PrefetchState::kNoData:
      return "no data (null)";
    case PrefetchState::kMissing:
      return "not prefetched";
    case PrefetchState::kError:
      return "prefetch error (OperationOutcome)";
    case PrefetchState::kPaged:
      return "paginated";
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
  if (const rapidjson::Value* entries = json::GetArray(*value, "entry");
      entries && !entries->Empty()) {
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

Result<PrefetchPlan> PlanPrefetch(const HookEnvelope& request,
                                  const plugin::ServiceDescriptor& service) {
  PrefetchPlan plan;
  PrefetchResolution& resolution = plan.known;
  const bool has_server = request.fhir_server.is_string();
  if (has_server) plan.fhir_server = std::string(request.fhir_server.text);
  if (request.fhir_authorization.kind == ScannedValue::Kind::kObject &&
      request.access_token.is_string()) {
    plan.bearer_token = std::string(request.access_token.text);
  }
  auto is_required = [&](const std::string& key) { return IsRequired(service, key); };

  for (const auto& [key, query_template] : service.prefetch) {
    const ScannedPrefetch* value = request.FindPrefetch(key);
    PrefetchState state = value == nullptr ? PrefetchState::kMissing : value->state;
    if (state == PrefetchState::kSatisfied) continue;
    if (state == PrefetchState::kMissing && ReadSatisfiedElsewhere(request, query_template)) {
      continue;
    }
    if (state == PrefetchState::kNoData) {
      if (is_required(key)) {
        return FailedPrecondition(
            "required prefetch '" + key + "' is null: the EHR has no data for " + query_template,
            "prefetch." + key);
      }
      continue;
    }
    std::string why(PrefetchStateName(state));
    if (!has_server) {
      if (state == PrefetchState::kPaged) {
        resolution.partial.push_back(
            {key,
             "only the first page was prefetched and no fhirServer was given to fetch the rest"});
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
      plan.queries.push_back({key, std::string(value->next_url), /*next_page=*/true});
      continue;
    }
    auto url = ExpandPrefetchTemplate(query_template, request);
    if (!url.ok()) {
      if (is_required(key))
        return Status(url.status().code(), url.status().message(), "prefetch." + key);
      resolution.unavailable.push_back({key, why + "; " + url.status().message()});
      continue;
    }
    plan.queries.push_back({key, std::move(*url), /*next_page=*/false});
  }
  return plan;
}

Result<PrefetchResolution> CompletePrefetch(const plugin::ServiceDescriptor& service,
                                            PrefetchPlan plan, FhirFetcher* fetcher,
                                            std::string_view no_fetch_reason) {
  PrefetchResolution resolution = std::move(plan.known);
  const std::vector<FetchQuery>& queries = plan.queries;
  if (queries.empty()) return resolution;
  auto is_required = [&](const std::string& key) { return IsRequired(service, key); };
  if (fetcher == nullptr) {
    for (std::size_t i = 0; i < queries.size(); ++i) {
      if (!queries[i].next_page && is_required(queries[i].key)) {
        return FailedPrecondition(
            "required prefetch '" + queries[i].key +
                "' is missing and cannot be fetched: " + std::string(no_fetch_reason),
            "prefetch." + queries[i].key);
      }
      (queries[i].next_page ? resolution.partial : resolution.unavailable)
          .push_back({queries[i].key, std::string(no_fetch_reason)});
    }
    return resolution;
  }

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
    // What was fetched travels beside the client's request as a raw JSON part: the request
    // itself is never rewritten.
    resolution.parts.push_back({q.key, json::Serialize(result->document), queries[i].next_page});
    resolution.modified = true;
  }
  return resolution;
}

}  // namespace cephalgia::hooks
