#include "expr.h"

#include "facts.h"
#include "knowledge.h"

namespace cephalgia::rules::internal {

bool Compare(double a, CompareOp op, double b) {
  switch (op) {
    case CompareOp::kLt: return a < b;
    case CompareOp::kLe: return a <= b;
    case CompareOp::kGt: return a > b;
    case CompareOp::kGe: return a >= b;
    case CompareOp::kEq: return a == b;
  }
  return false;
}

std::optional<CompareOp> ParseCompareOp(std::string_view s) {
  if (s == "<") return CompareOp::kLt;
  if (s == "<=") return CompareOp::kLe;
  if (s == ">") return CompareOp::kGt;
  if (s == ">=") return CompareOp::kGe;
  if (s == "==") return CompareOp::kEq;
  return std::nullopt;
}

std::string_view CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
    case CompareOp::kEq: return "==";
  }
  return "?";
}

namespace {

// `trace` null: plain evaluation with short-circuit. Otherwise every branch is evaluated,
// labelled nodes are recorded, and the findings met on the way are appended to `found` (a
// labelled node's are the run appended while it was evaluated).
bool EvalImpl(const Expr& e, const EvalEnv& env, std::vector<TraceLine>* trace, int depth,
              std::vector<int>* found) {
  std::size_t line = 0;
  int child_depth = depth;
  const bool labelled = trace != nullptr && !e.label.empty();
  if (labelled) {
    line = trace->size();
    const auto begin = static_cast<uint32_t>(found->size());
    trace->push_back(TraceLine{depth, e.label, false, begin, begin});
    child_depth = depth + 1;
  }
  bool result = false;
  switch (e.kind) {
    case ExprKind::kFinding:
      result = env.facts->findings[e.index].present;
      if (found != nullptr) found->push_back(e.index);
      break;
    case ExprKind::kAbsent:
      result = env.facts->findings[e.index].absent;
      if (found != nullptr) found->push_back(e.index);
      break;
    case ExprKind::kAll:
      result = true;
      for (const Expr& c : e.children) {
        bool r = EvalImpl(c, env, trace, child_depth, found);
        result = result && r;
        if (!result && trace == nullptr) break;
      }
      break;
    case ExprKind::kAny:
      result = false;
      for (const Expr& c : e.children) {
        bool r = EvalImpl(c, env, trace, child_depth, found);
        result = result || r;
        if (result && trace == nullptr) break;
      }
      break;
    case ExprKind::kNot:
      result = !EvalImpl(e.children[0], env, trace, child_depth, found);
      break;
    case ExprKind::kAtLeast: {
      int n = 0;
      for (const Expr& c : e.children) {
        if (EvalImpl(c, env, trace, child_depth, found)) ++n;
        if (n >= e.count && trace == nullptr) break;
      }
      result = n >= e.count;
      break;
    }
    case ExprKind::kCriterion: {
      const Expr& body = env.knowledge->criteria[e.index];
      if (trace != nullptr) {
        result = EvalImpl(body, env, trace, child_depth, found);
      } else {
        int8_t& cached = (*env.criterion_cache)[e.index];
        if (cached < 0) cached = EvalImpl(body, env, nullptr, 0, nullptr) ? 1 : 0;
        result = cached == 1;
      }
      break;
    }
    case ExprKind::kDiagnosis:
      result = env.diagnoses != nullptr && (*env.diagnoses)[e.index] == 1;
      break;
    case ExprKind::kRedFlag:
      result = e.index == 0 ? env.max_red_flag_tier > 0 : env.max_red_flag_tier >= e.index;
      break;
    case ExprKind::kAge:
      result = env.facts->age.has_value() ? Compare(*env.facts->age, e.op, e.value) : e.if_unknown;
      break;
    case ExprKind::kSex:
      result = env.facts->sex == e.text;
      break;
  }
  if (labelled) {
    (*trace)[line].met = result;
    (*trace)[line].findings_end = static_cast<uint32_t>(found->size());
  }
  return result;
}

}  // namespace

bool Eval(const Expr& e, const EvalEnv& env) { return EvalImpl(e, env, nullptr, 0, nullptr); }

bool EvalTraced(const Expr& e, const EvalEnv& env, std::vector<TraceLine>* trace,
                std::vector<int>* findings) {
  return EvalImpl(e, env, trace, 0, findings);
}

}  // namespace cephalgia::rules::internal
