// File: hook_request.h
//
// Validation of a CDS Hooks service-call request (checklist §C and the hook context tables of
// §I). Unknown fields and `extension` objects are accepted (items 8, 9); a 1.0-era top-level
// `user` is tolerated (item 31). What is wrong comes back as kInvalidArgument with a location
// such as `context.patientId`, which the HTTP layer turns into a 400 OperationOutcome.
#pragma once

#include <rapidjson/document.h>

#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::hooks {

// Checks the request envelope and the REQUIRED context fields of `expected_hook`:
// `hook` equals expected_hook; `hookInstance` is a non-empty string; `fhirServer`, when present,
// is an absolute http(s) URL and is present whenever `fhirAuthorization` is (cds-r-1);
// `fhirAuthorization` has a string `access_token` and `token_type` "Bearer" and correctly typed
// optional members; `context` is an object with the hook's required fields; `prefetch`, when
// present, is an object (its values may be null: checklist item 42).
Status ValidateHookRequest(const rapidjson::Value& request, std::string_view expected_hook);

// True if the hook name is one this host knows the context of (§I); other hooks are validated
// only for the envelope.
bool IsKnownHook(std::string_view hook);

}  // namespace cephalgia::hooks
