// File: kit_scores.h
//
// Scores ConText judgements against the NegEx/ConText test kit's reference labels
// (../shared/clinical/context-testkit/dev.tsv): negation accuracy, F1 of the negated class,
// F1 of historical and of hypothetical temporality, experiencer accuracy. The kit's "Not
// particular" temporality is our Hypothetical; "Family member" and "Other" are our Other.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::text::testing {

struct Judgement {
  std::string negation, temporality, experiencer;  // our labels
};

struct KitRow {
  std::string id, concept_text, sentence;
  Judgement gold;  // mapped to our labels
};

// The kit's rows with gold labels mapped to ours.
Result<std::vector<KitRow>> LoadKit(const std::string& path);

struct Scores {
  std::size_t rows = 0;
  double negation_accuracy = 0, negated_f1 = 0, historical_f1 = 0, hypothetical_f1 = 0,
         experiencer_accuracy = 0, temporality_accuracy = 0;
  std::string ToString() const;
};

// `predicted` by row id. A row without a prediction counts as wrong everywhere.
Scores Score(const std::vector<KitRow>& kit, const std::map<std::string, Judgement>& predicted);

// Rows where the prediction differs from gold, one per line (for diagnosing, not asserted).
std::string Disagreements(const std::vector<KitRow>& kit,
                          const std::map<std::string, Judgement>& predicted);

std::string KitPath();

}  // namespace cephalgia::text::testing
