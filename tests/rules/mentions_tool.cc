// Debug helper: prints every concept the headache pack's lexicon finds in a text, with its
// value set, its ConText judgement and where it stands (statement, clause), to see why a note
// did or did not raise a finding.
//   headache_mentions build/packs/headache "Headache since the fall, daily."
#include <iostream>
#include <string>

#include "cephalgia/text/clinical_text.h"
#include "knowledge.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " KNOWLEDGE_DIR TEXT\n";
    return 2;
  }
  auto k = cephalgia::rules::internal::LoadKnowledge(argv[1]);
  if (!k.ok()) {
    std::cerr << k.status().ToString() << "\n";
    return 1;
  }
  const cephalgia::rules::internal::Knowledge& knowledge = **k;
  const std::string text = argv[2];
  std::vector<cephalgia::text::Mention> mentions;
  cephalgia::text::FindMentions(text, *knowledge.lexicon, &mentions);
  const int sets = static_cast<int>(knowledge.value_set_ids.size());
  for (const auto& m : mentions) {
    std::string id =
        m.concept_id < 0 ? "?"
        : m.concept_id < sets
            ? knowledge.value_set_ids[static_cast<std::size_t>(m.concept_id)]
            : "cue:" + knowledge.value_set_ids[static_cast<std::size_t>(m.concept_id - sets)];
    const auto& c = m.context;
    std::cout << id << "\t\"" << text.substr(m.begin, m.end - m.begin) << "\"\t"
              << cephalgia::text::NegationName(c.negation) << "\t"
              << cephalgia::text::TemporalityName(c.temporality) << "\t"
              << cephalgia::text::ExperiencerName(c.experiencer)
              << (c.uncertain ? "\tuncertain" : "") << "\tstatement " << m.statement << " clause "
              << m.clause << " word " << m.clause_word << "\n";
  }
  return 0;
}
