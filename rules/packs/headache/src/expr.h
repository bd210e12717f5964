// File: expr.h (private)
//
// The small criteria language of the knowledge files, compiled to a tree of Expr nodes:
//   {"finding": id}            the finding is present (any certainty)
//   {"absent": id}             the finding is documented as absent (e.g. valueBoolean false)
//   {"all": [..]} {"any": [..]} {"not": e} {"atLeast": n, "of": [..]}
//   {"criterion": id}          a named criterion of criteria.json
//   {"diagnosis": id}          an earlier diagnosis of classification.json is met
//   {"redFlag": ANY|URGENT|EMERGENCY}  a red flag of at least that tier fired
//   {"age": {"op", "value", "ifUnknown"}}  {"sex": "female"}
// Any node may carry a "label"; labelled nodes become the "criteria met / not met" lines of a
// card's detail, with the resources behind the findings under them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cephalgia::rules::internal {

enum class CompareOp { kLt, kLe, kGt, kGe, kEq };
bool Compare(double a, CompareOp op, double b);
std::optional<CompareOp> ParseCompareOp(std::string_view s);
std::string_view CompareOpText(CompareOp op);

enum class ExprKind {
  kFinding, kAbsent, kAll, kAny, kNot, kAtLeast, kCriterion, kDiagnosis, kRedFlag, kAge, kSex
};

struct Expr {
  ExprKind kind = ExprKind::kAll;
  int index = -1;       // finding / criterion / diagnosis index; red-flag tier (0 any,1,2)
  int count = 0;        // atLeast
  CompareOp op = CompareOp::kGe;
  double value = 0;     // age
  bool if_unknown = false;
  std::string text;     // sex
  std::string label;
  std::vector<Expr> children;
};

struct Facts;
struct Knowledge;

// One labelled node's outcome, for the card detail. The findings evaluated under the node
// (present or absent) are [findings_begin, findings_end) of the finding pool the trace was
// evaluated with (Decisions::trace_findings): one vector for every line, not one per line.
struct TraceLine {
  int depth = 0;
  std::string_view label;
  bool met = false;
  uint32_t findings_begin = 0, findings_end = 0;
  bool has_findings() const { return findings_end > findings_begin; }
  std::span<const int> findings(const std::vector<int>& pool) const {
    return std::span<const int>(pool.data() + findings_begin, findings_end - findings_begin);
  }
};

struct EvalEnv {
  const Knowledge* knowledge = nullptr;
  const Facts* facts = nullptr;
  std::vector<int8_t>* criterion_cache = nullptr;  // -1 unknown, 0/1
  const std::vector<int8_t>* diagnoses = nullptr;  // 0/1 per diagnosis (may be null)
  int max_red_flag_tier = 0;                       // 0 none, 1 urgent, 2 emergency
};

bool Eval(const Expr& e, const EvalEnv& env);
// Evaluates every branch (no short-circuit) and records labelled nodes into `trace`, their
// findings appended to `findings`.
bool EvalTraced(const Expr& e, const EvalEnv& env, std::vector<TraceLine>* trace,
                std::vector<int>* findings);

}  // namespace cephalgia::rules::internal
