// Measures the module on the development half of the NegEx/ConText test kit
// (../shared/clinical/context-testkit/dev.tsv, 1,189 annotated sentences from clinical reports):
// each row's concept is located in its sentence and judged exactly as `cephalgia context` does.
// Ours must beat a plain NegEx (about 0.98 negation accuracy on this kit) and reach a historical
// F1 of at least 0.75. The NegEx-only baseline is the same code with only the negation triggers.
// Set CEPHALGIA_KIT_VERBOSE=1 to print every disagreement.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "cephalgia/text/clinical_text.h"
#include "cephalgia/text/context_table.h"
#include "kit_scores.h"

namespace cephalgia::text::testing {
namespace {

std::map<std::string, Judgement> JudgeKit(const std::vector<KitRow>& kit,
                                          const ContextRules& rules) {
  std::map<std::string, Judgement> predicted;
  for (const KitRow& row : kit) {
    LocatedConcept at = LocateConcept(row.sentence, row.concept_text, rules);
    Context c = JudgeLocated(row.sentence, at, rules);
    predicted[row.id] = {std::string(NegationName(c.negation)),
                         std::string(TemporalityName(c.temporality)),
                         std::string(ExperiencerName(c.experiencer))};
  }
  return predicted;
}

class ContextKitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kit = LoadKit(KitPath());
    ASSERT_TRUE(kit.ok()) << kit.status().ToString();
    kit_ = std::move(*kit);
    ASSERT_EQ(kit_.size(), 1189u);
  }
  std::vector<KitRow> kit_;
};

TEST_F(ContextKitTest, BeatsNegExOnNegationAndReachesHistoricalF1) {
  auto rules = ContextRules::Default();
  auto predicted = JudgeKit(kit_, *rules);
  Scores ours = Score(kit_, predicted);
  Scores negex = Score(kit_, JudgeKit(kit_, *rules->NegationOnly()));
  std::cout << "[kit] ConText (ours, lexicon " << rules->version() << "): " << ours.ToString()
            << "\n[kit] NegEx-only baseline (same code, negation triggers only): "
            << negex.ToString() << "\n";
  if (const char* verbose = std::getenv("CEPHALGIA_KIT_VERBOSE"); verbose && *verbose == '1') {
    std::cout << Disagreements(kit_, predicted);
  }
  EXPECT_GT(ours.negation_accuracy, 0.98);
  EXPECT_GE(ours.negation_accuracy, negex.negation_accuracy);
  EXPECT_GE(ours.historical_f1, 0.75);
  // Not thresholds the issue sets, but a regression here means the lexicon got worse.
  EXPECT_GE(ours.hypothetical_f1, 0.70);
  EXPECT_GE(ours.experiencer_accuracy, 0.99);
}

// Every row's concept is found in its sentence, at least its leading words.
TEST_F(ContextKitTest, EveryConceptIsLocated) {
  auto rules = ContextRules::Default();
  std::size_t exact = 0, partial = 0;
  for (const KitRow& row : kit_) {
    LocatedConcept at = LocateConcept(row.sentence, row.concept_text, *rules);
    if (at.how == LocatedConcept::How::kExact) ++exact;
    if (at.how == LocatedConcept::How::kPartial) ++partial;
  }
  std::cout << "[kit] located exactly " << exact << ", partly " << partial << ", not at all "
            << kit_.size() - exact - partial << "\n";
  EXPECT_GE(exact, kit_.size() - 10);
}

}  // namespace
}  // namespace cephalgia::text::testing
