#include "store_common.h"

#include <map>

#include "cephalgia/json.h"

namespace cephalgia::hooks::feedback {
namespace {

int64_t ToInt(const std::string& text) {
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') break;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::vector<std::optional<std::string>> FeedbackColumns(std::string_view service_id,
                                                        const FeedbackItem& item) {
  rapidjson::Document ids(rapidjson::kArrayType);
  for (const std::string& id : item.accepted_suggestions) {
    ids.PushBack(json::MakeString(id, ids.GetAllocator()), ids.GetAllocator());
  }
  std::vector<std::optional<std::string>> columns(9);
  columns[0] = item.card;
  columns[1] = std::string(service_id);
  columns[2] = std::string(OutcomeName(item.outcome));
  columns[3] = json::Serialize(ids);
  if (item.override_reason && item.override_reason->reason) {
    const Coding& reason = *item.override_reason->reason;
    columns[4] = reason.system;
    columns[5] = reason.code;
    columns[6] = reason.display;
  }
  if (item.override_reason) columns[7] = item.override_reason->user_comment;
  columns[8] = item.outcome_timestamp;
  return columns;
}

Status CheckSchemaVersion(std::string_view store, int found, int known) {
  if (found <= known) return Status::Ok();
  return Status(StatusCode::kFailedPrecondition,
                std::string(store) + " schema version " + std::to_string(found) +
                    " is newer than this binary knows (" + std::to_string(known) +
                    "); run a binary at least as new as the one that migrated it");
}

Result<std::string> BuildSummary(const RunQuery& run, int top_override_reasons) {
  struct RuleSummary {
    int64_t shown = 0, accepted = 0, overridden = 0, events = 0, with_comment = 0;
    struct Reason {
      std::string system, code, display;
      int64_t count;
    };
    std::vector<Reason> reasons;
  };
  std::map<std::string, RuleSummary> rules;
  int64_t unknown_cards = 0, unknown_events = 0;

  // Card uuids are unique per issue; DISTINCT guards against a card recorded twice (a batch
  // retried after a commit whose answer was lost).
  const std::string issued = "(SELECT DISTINCT card_uuid, rule_id FROM issued_cards)";
  CEPHALGIA_RETURN_IF_ERROR(
      run("SELECT rule_id, COUNT(DISTINCT card_uuid) FROM issued_cards GROUP BY rule_id",
          [&](const std::vector<std::string>& r) { rules[r[0]].shown = ToInt(r[1]); }));
  CEPHALGIA_RETURN_IF_ERROR(
      run("SELECT c.rule_id,"
          " COUNT(DISTINCT CASE WHEN f.outcome = 'accepted' THEN f.card_uuid END),"
          " COUNT(DISTINCT CASE WHEN f.outcome = 'overridden' THEN f.card_uuid END),"
          " COUNT(*),"
          " COUNT(DISTINCT CASE WHEN f.outcome = 'overridden' AND f.user_comment <> ''"
          "   THEN f.card_uuid END)"
          " FROM feedback f JOIN " +
              issued + " c ON c.card_uuid = f.card_uuid GROUP BY c.rule_id",
          [&](const std::vector<std::string>& r) {
            RuleSummary& rule = rules[r[0]];
            rule.accepted = ToInt(r[1]);
            rule.overridden = ToInt(r[2]);
            rule.events = ToInt(r[3]);
            rule.with_comment = ToInt(r[4]);
          }));
  CEPHALGIA_RETURN_IF_ERROR(
      run("SELECT c.rule_id, f.override_system, f.override_code,"
          " MAX(COALESCE(f.override_display, '')), COUNT(DISTINCT f.card_uuid) AS n"
          " FROM feedback f JOIN " +
              issued +
              " c ON c.card_uuid = f.card_uuid"
              " WHERE f.outcome = 'overridden' AND f.override_code IS NOT NULL"
              " GROUP BY c.rule_id, f.override_system, f.override_code"
              " ORDER BY c.rule_id, n DESC, f.override_system, f.override_code",
          [&](const std::vector<std::string>& r) {
            RuleSummary& rule = rules[r[0]];
            if (static_cast<int>(rule.reasons.size()) < top_override_reasons) {
              rule.reasons.push_back({r[1], r[2], r[3], ToInt(r[4])});
            }
          }));
  CEPHALGIA_RETURN_IF_ERROR(
      run("SELECT COUNT(DISTINCT card_uuid), COUNT(*) FROM feedback"
          " WHERE card_uuid NOT IN (SELECT card_uuid FROM issued_cards)",
          [&](const std::vector<std::string>& r) {
            unknown_cards = ToInt(r[0]);
            unknown_events = ToInt(r[1]);
          }));

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& [rule_id, rule] : rules) {
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("ruleId", json::MakeString(rule_id, a), a);
    o.AddMember("cardsShown", rule.shown, a);
    o.AddMember("accepted", rule.accepted, a);
    o.AddMember("overridden", rule.overridden, a);
    o.AddMember("feedbackEvents", rule.events, a);
    o.AddMember("overridesWithUserComment", rule.with_comment, a);
    rapidjson::Value reasons(rapidjson::kArrayType);
    for (const auto& r : rule.reasons) {
      rapidjson::Value ro(rapidjson::kObjectType);
      ro.AddMember("system", json::MakeString(r.system, a), a);
      ro.AddMember("code", json::MakeString(r.code, a), a);
      if (!r.display.empty()) ro.AddMember("display", json::MakeString(r.display, a), a);
      ro.AddMember("count", r.count, a);
      reasons.PushBack(ro, a);
    }
    o.AddMember("topOverrideReasons", reasons, a);
    list.PushBack(o, a);
  }
  doc.AddMember("rules", list, a);
  rapidjson::Value unknown(rapidjson::kObjectType);
  unknown.AddMember("cards", unknown_cards, a);
  unknown.AddMember("feedbackEvents", unknown_events, a);
  doc.AddMember("unknownCards", unknown, a);
  return json::Serialize(doc);
}

}  // namespace cephalgia::hooks::feedback
