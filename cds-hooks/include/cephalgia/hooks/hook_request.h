// File: hook_request.h
//
// Validation of a CDS Hooks service-call request (checklist §C and the hook context tables of
// §I). Unknown fields and `extension` objects are accepted (items 8, 9); a 1.0-era top-level
// `user` is tolerated (item 31). What is wrong comes back as kInvalidArgument with a location
// such as `context.patientId`, which the HTTP layer turns into a 400 OperationOutcome.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::hooks {

// Checks the request envelope and the REQUIRED context fields of `expected_hook`:
// `hook` equals expected_hook; `hookInstance` is a non-empty string; `fhirServer`, when present,
// is an absolute http(s) URL and is present whenever `fhirAuthorization` is (cds-r-1);
// `fhirAuthorization` has a string `access_token` and `token_type` "Bearer" and correctly typed
// optional members; `context` is an object with the hook's required fields; `prefetch`, when
// present, is an object (its values may be null: checklist item 42).
Status ValidateHookRequest(const rapidjson::Value& request, std::string_view expected_hook);

// What one prefetch value is (checklist §D-§E), as the host decides whether to fetch it.
enum class PrefetchState {
  kSatisfied,  // a usable resource or complete Bundle
  kNoData,     // null: the client has no data for this query
  kMissing,    // key absent
  kError,      // an OperationOutcome (or a Bundle of only OperationOutcomes) in place of data
  kPaged,      // a Bundle with a `next` link: the rest must be fetched
};

// One JSON value the envelope scan kept, with what validation and template expansion ask of it.
// `text` points into the owning HookEnvelope's buffer.
struct ScannedValue {
  enum class Kind : std::uint8_t { kAbsent, kNull, kBool, kNumber, kString, kObject, kArray };
  Kind kind = Kind::kAbsent;
  std::string_view text;  // kString
  bool is_int64 = false;  // kNumber representable as int64 (rapidjson IsInt64)
  std::int64_t int64 = 0;
  std::size_t array_size = 0;     // kArray
  bool array_all_strings = true;  // kArray

  bool present() const { return kind != Kind::kAbsent; }
  bool is_string() const { return kind == Kind::kString; }
};

// One member of the request's `prefetch` object, in document order (duplicates included).
struct ScannedPrefetch {
  std::string_view key;
  bool first = true;  // the first member with this key (the one a lookup by name finds)
  PrefetchState state = PrefetchState::kSatisfied;  // kSatisfied, kNoData, kError or kPaged
  std::string_view next_url;                        // kPaged
  // [held_begin, held_end) in HookEnvelope::held: the resources (of the scan's read types) this
  // value is or holds as a Bundle, as (resourceType, id).
  std::size_t held_begin = 0, held_end = 0;
};

// What the host reads of a CDS Hooks request, collected by one SAX pass over the body (no DOM):
// the envelope, the top-level context fields, fhirAuthorization's members and, per prefetch key,
// what the value is. Everything points into `buffer`, which holds copies of the strings kept (or
// an in-situ copy of the body, when RapidJSON's reader had to read it): the body need not outlive
// the envelope.
struct HookEnvelope {
  std::string buffer;
  bool root_is_object = false;
  ScannedValue hook, hook_instance, fhir_server, fhir_authorization, context, prefetch;
  // fhirAuthorization members (first occurrence of each), when it is an object.
  ScannedValue access_token, token_type, expires_in, scope, subject, patient;
  // Top-level members of `context`, in order, when it is an object.
  std::vector<std::pair<std::string_view, ScannedValue>> context_fields;
  std::vector<ScannedPrefetch> prefetch_values;  // when `prefetch` is an object
  std::vector<std::pair<std::string_view, std::string_view>> held;

  // The first context member named `name`, or an absent value.
  const ScannedValue& ContextField(std::string_view name) const;
  // The first prefetch member named `key`, or nullptr.
  const ScannedPrefetch* FindPrefetch(std::string_view key) const;
};

// Scans `body` (at most `max_bytes`: kPayloadTooLarge above; UTF-8 checked over the whole text,
// nesting capped as json::ParseUntrusted does, with the same error messages). `read_types` names
// the resource types whose (type, id) a prefetch value is recorded as holding (see
// ScannedPrefetch::held); empty records none.
Result<HookEnvelope> ScanHookRequest(std::string_view body, std::size_t max_bytes,
                                     const std::vector<std::string_view>& read_types = {});

// ValidateHookRequest over a scanned envelope: the same checks, in the same order, with the same
// messages and locations.
Status ValidateHookEnvelope(const HookEnvelope& request, std::string_view expected_hook);

// True if the hook name is one this host knows the context of (§I); other hooks are validated
// only for the envelope.
bool IsKnownHook(std::string_view hook);

}  // namespace cephalgia::hooks
