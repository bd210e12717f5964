// File: feedback.h
//
// Validation of `POST {baseUrl}/cds-services/{id}/feedback` bodies (checklist §H, items 82-87;
// invariants cds-fb-1..3). Pure function: JSON text in, typed items or a located error out.
//
//   Result<std::vector<FeedbackItem>> items = ValidateFeedback(body);
//   if (!items.ok()) -> 400, OperationOutcome with items.status().message() at .location()
//
// Rules (the first violation is reported, with a location such as `feedback[2].outcome`):
//   - the body is an object with a `feedback` array (item 83; an empty array is accepted);
//   - `card`: required non-empty string (the card.uuid we issued). Unknown uuids are NOT an error
//     here (item 86: analytics; the store keeps them and the summary counts them apart);
//   - `outcome`: required, "accepted" or "overridden" (cds-fb-1);
//   - `acceptedSuggestions`: required non-empty array of {"id": string} when accepted
//     (cds-fb-2; an empty array is "not present" in FHIRPath terms). Allowed on overridden too;
//   - `overrideReason`: optional object with `reason` (a Coding: `system` and `code` strings,
//     `display` optional, item 87) and/or `userComment` (string); at least one (cds-fb-3);
//   - `outcomeTimestamp`: required RFC 3339 §5.6 date-time (`2021-12-11T10:05:31Z`; fractions and
//     numeric offsets accepted, as RFC 3339 allows them);
//   - unknown members are ignored (forward compatibility with later spec versions).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::hooks::feedback {

enum class Outcome { kAccepted, kOverridden };
std::string_view OutcomeName(Outcome outcome);  // "accepted" / "overridden"

struct Coding {
  std::string system;
  std::string code;
  std::optional<std::string> display;
};

struct OverrideReason {
  std::optional<Coding> reason;
  std::optional<std::string> user_comment;
};

struct FeedbackItem {
  std::string card;  // card.uuid as sent (not required to be one we know)
  Outcome outcome = Outcome::kOverridden;
  std::vector<std::string> accepted_suggestions;  // suggestion ids
  std::optional<OverrideReason> override_reason;
  std::string outcome_timestamp;  // as sent, validated RFC 3339
};

// Largest body accepted (the HTTP layer should already have capped it lower).
inline constexpr std::size_t kMaxFeedbackBodyBytes = 1 << 20;

Result<std::vector<FeedbackItem>> ValidateFeedback(std::string_view json_body);

// True if `text` is an RFC 3339 §5.6 `date-time` with valid ranges (leap years included).
bool IsRfc3339DateTime(std::string_view text);

}  // namespace cephalgia::hooks::feedback
