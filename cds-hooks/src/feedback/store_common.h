// File: store_common.h (private to hooks_feedback)
//
// What the SQLite and PostgreSQL stores share: the summary's queries (plain SQL both accept) and
// its JSON, the feedback row's columns, and the schema-version check.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/hooks/feedback/feedback.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks::feedback {

// Runs one query and calls `row` with each row's columns as text (NULL as ""), or returns why
// it failed. The summary's queries run in one read transaction the caller opened.
using RunQuery = std::function<Status(
    const std::string& sql, const std::function<void(const std::vector<std::string>&)>& row)>;

// The per-rule summary (see FeedbackStore::Summary) from four queries through `run`.
Result<std::string> BuildSummary(const RunQuery& run, int top_override_reasons);

// One feedback item as the text values of the feedback table's columns, in this order:
// card_uuid, service_id, outcome, accepted_suggestions (JSON array), override_system,
// override_code, override_display, user_comment, outcome_timestamp. Absent values are nullopt.
std::vector<std::optional<std::string>> FeedbackColumns(std::string_view service_id,
                                                        const FeedbackItem& item);

// kFailedPrecondition when the database's schema is newer than this binary knows.
Status CheckSchemaVersion(std::string_view store, int found, int known);

}  // namespace cephalgia::hooks::feedback
