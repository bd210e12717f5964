// File: decide.h (private)
//
// Facts -> decisions: the relevance gate, red flags, classification and ladder, safety and the
// order-sign checks, then the final safety filter over every proposal. Nothing here writes text
// for a clinician beyond the knowledge files' own wording; render.h does that.
#pragma once

#include <forward_list>
#include <string>
#include <vector>

#include "decision.h"
#include "expr.h"
#include "facts.h"
#include "knowledge.h"

namespace cephalgia::rules::internal {

struct Decisions {
  bool gate_open = false;
  std::vector<TraceLine> gate_trace;  // what opened (or failed to open) the relevance gate
  std::vector<Decision> cards;
  std::vector<int> trace_findings;  // the findings of every trace line (TraceLine::findings)
  // Text composed for the decisions (order-sign labels and descriptions), which their views
  // point into; a list, so its strings never move.
  std::forward_list<std::string> composed_text;
};

// `host_reported_gaps`: the host said some prefetch was unavailable or partial, which on an open
// gate with nothing else to say is worth one information card (a gap is never silent).
Decisions DecidePatientView(const Knowledge& k, const Facts& facts, bool host_reported_gaps);
Decisions DecideOrderSign(const Knowledge& k, const Facts& facts);

}  // namespace cephalgia::rules::internal
