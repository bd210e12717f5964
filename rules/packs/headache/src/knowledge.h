// File: knowledge.h (private)
//
// The compiled form of the knowledge files: every id is resolved to an index at load time, so
// evaluation never looks anything up by name. Load order and checks are in knowledge.cc.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <functional>
#include <unordered_map>
#include <vector>

#include "cephalgia/fhir/terminology.h"
#include "cephalgia/status.h"
#include "expr.h"

namespace cephalgia::rules::internal {

enum class Tier { kNone = 0, kUrgent = 1, kEmergency = 2 };

struct Threshold {
  CompareOp op = CompareOp::kGe;
  double value = 0;
  std::vector<std::string> units;  // empty: any unit
};

enum class SourceKind { kCondition, kObservation, kMedication, kAllergy, kOrder, kOveruse };
enum class Scope { kCurrent, kHistory, kAny };

struct FindingSource {
  SourceKind kind = SourceKind::kCondition;
  int finding = -1;    // owning finding index
  int value_set = -1;  // index into Knowledge::value_set_ids (-1 for overuse)
  Scope scope = Scope::kCurrent;  // conditions
  bool coded_only = false;        // ignore text matches (kText certainty)
  bool allow_current = true, allow_history = false;  // medications / orders
  std::optional<int> onset_within_days;
  std::optional<double> onset_age_above;
  int onset_after_value_set = -1;
  int onset_after_days = 0;
  std::optional<int> effective_within_days;
  std::optional<Threshold> quantity;
  int component_value_set = -1;
  Threshold component;
  int answer_value_set = -1;
  std::optional<double> trend_rise;               // latest - earliest >= rise
  std::optional<double> trend_improvement_below;  // earliest - latest < value
  int trend_days = 0;
  std::optional<int> min_duration_days;
  std::optional<int> started_at_least_days_ago;
  std::vector<int> overuse_classes;  // empty = all
  bool require_duration = true;
};

struct Finding {
  std::string id;
  std::string display;
};

struct OveruseClass {
  std::string id, display;
  int value_set = -1;
  double min_days_per_month = 0;
};

struct Coding {
  std::string system, code, display;
};

struct OrderDef {
  std::string id;
  bool medication = false;  // MedicationRequest, else ServiceRequest
  Coding code;
  std::string label, note, dosage;
  std::vector<std::string> classes;
  int active_value_set = -1;
};

struct TierDef {
  std::string indicator, priority, label;
  std::vector<int> always_orders;
};

struct RedFlag {
  std::string id, title, summary, detail;
  Tier tier = Tier::kUrgent;
  Expr when;
  std::vector<int> orders;
  std::vector<int> citations;
  bool has_escalation = false;
  Expr escalation_when;
  std::vector<int> escalation_orders;
  std::string escalation_summary;
};

struct Diagnosis {
  std::string id, title, summary, detail;
  Expr explicit_dx, criteria;
  int ladder = -1;
  std::vector<int> citations;
};

struct Undetermined {
  std::string id, title, summary, detail;
  Expr when;
  std::vector<int> deciding_findings;
  std::vector<int> citations;
};

struct LadderStep {
  std::string id, title;
  int step = 1;
  Expr when;
  std::vector<int> orders;
  bool alternatives = false;
  std::vector<int> citations;
};

struct Ladder {
  std::string id;
  std::vector<int> steps;
};

struct SafetyCard {
  std::string id, title, summary, detail;
  Expr when;
  std::vector<int> citations;
};

struct Restriction {
  std::string id, reason;
  int value_set = -1;
  bool has_when = false, has_unless = false;
  Expr when, unless;
};

struct OrderSignRule {
  std::string id, title, indicator, summary, detail;
  int draft_value_set = -1;
  bool draft_overuse = false;
  bool has_when = false;
  Expr when;
  bool delete_draft = false, propose_ladder = false;
  std::vector<int> citations;
};

struct Citation {
  std::string id, text, url;
};

struct Service {
  std::string id, hook, title, description;
  std::vector<std::pair<std::string, std::string>> prefetch;
  std::vector<std::string> required_prefetch;
  bool order_sign = false;
};

// Hash and equality that accept std::string_view, so lookups by a view do not allocate.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Knowledge {
  std::string knowledge_version, pack_id, pack_version, rule_system, extension_key;
  std::string source_label, source_url;
  std::vector<Service> services;
  std::vector<Coding> override_reasons;
  std::vector<Citation> citations;

  fhir::ValueSetIndex value_sets;
  std::vector<std::string> value_set_ids;  // index -> id
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> value_set_index;
  std::vector<std::vector<std::string>> text_exclusions;  // per value set (lower case)

  std::vector<Finding> findings;
  std::vector<FindingSource> sources;
  std::vector<std::vector<int>> sources_by_value_set;  // value set index -> source indexes
  std::vector<int> overuse_sources;
  std::vector<OveruseClass> overuse_classes;
  double overuse_combined_days = 10;
  int overuse_min_duration_days = 90;
  int overuse_exclude_value_set = -1;  // medicines in it never count (e.g. low-dose aspirin)

  std::vector<std::string> criterion_ids;
  std::vector<Expr> criteria;

  std::array<TierDef, 3> tiers;  // indexed by Tier
  std::vector<RedFlag> red_flags;
  std::vector<Diagnosis> diagnoses;
  Undetermined undetermined;
  std::string classification_indicator;
  std::vector<LadderStep> steps;
  std::vector<Ladder> ladders;
  Expr ladder_suppress;
  std::vector<OrderDef> orders;
  std::string safety_indicator;
  std::vector<SafetyCard> safety_cards;
  std::vector<Restriction> restrictions;
  std::vector<OrderSignRule> order_sign_rules;

  int ValueSet(std::string_view id) const {
    auto it = value_set_index.find(id);
    return it == value_set_index.end() ? -1 : it->second;
  }
};

// Loads and validates `<data_dir>/knowledge/*.json` against `<data_dir>/schema/*.schema.json`.
Result<std::unique_ptr<Knowledge>> LoadKnowledge(const std::string& data_dir);

}  // namespace cephalgia::rules::internal
