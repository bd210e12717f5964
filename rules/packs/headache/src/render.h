// File: render.h (private)
//
// Decisions -> the CDS Hooks response, following rules/packs/headache/CARD-STYLE.md: a summary that
// says what to do, a detail of a few short lines a clinician reads in five seconds (the decisive
// findings by their clinical names, dates and origin; what would change the decision; what was held
// back; a plain sentence per data gap), guideline links, one-click suggestions, and the full
// evidence trail in the card's extension for integrators and testers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "decide.h"
#include "decision.h"
#include "facts.h"
#include "knowledge.h"

namespace cephalgia::rules::internal {

struct RenderContext {
  // Views of the caller's text, valid for the RenderResponse call.
  std::string_view patient_id;
  std::string_view now_text;  // the evaluation time, as given
  std::vector<DataGap> gaps;
};

// Escapes, once per knowledge, the JSON that every response repeats (labels, citations, links,
// codings, the fixed parts of suggested resources) into k.render_fragments. LoadKnowledge calls it.
void PrepareRendering(Knowledge& k);

std::string RenderResponse(const Knowledge& k, const Facts& facts, const Decisions& decisions,
                           const RenderContext& context);

}  // namespace cephalgia::rules::internal
