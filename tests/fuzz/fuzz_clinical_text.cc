// libFuzzer target: the clinical text reader (cephalgia::text::FindMentions) over untrusted
// narrative (Condition notes, Observation text, free-text reasons) with the headache pack's own
// lexicon: every value set's synonyms on one word automaton, with the ConText rules for
// negation, temporality, experiencer and section headings. Each mention must lie inside the
// text and come in text order.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/text/clinical_text.h"
#include "fuzz_support.h"
#include "knowledge.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cephalgia::rules::internal::Knowledge* knowledge = [] {
    auto k = cephalgia::rules::internal::LoadKnowledge(cephalgia::fuzz::PackDir() + "/headache");
    if (!k.ok() || (*k)->lexicon == nullptr) {
      std::fprintf(stderr, "fuzz_clinical_text: %s\n",
                   k.ok() ? "the pack has no lexicon" : k.status().ToString().c_str());
      std::abort();
    }
    return k->release();
  }();
  const std::string_view text = cephalgia::fuzz::AsText(data, size);
  std::vector<cephalgia::text::Mention> mentions;
  cephalgia::text::FindMentions(text, *knowledge->lexicon, &mentions);
  size_t previous_begin = 0;
  for (const cephalgia::text::Mention& m : mentions) {
    if (m.begin > m.end || m.end > text.size() || m.begin < previous_begin || m.concept_id < 0) {
      std::fprintf(stderr, "fuzz_clinical_text: mention [%zu, %zu) of concept %d in %zu bytes\n",
                   m.begin, m.end, m.concept_id, text.size());
      __builtin_trap();
    }
    previous_begin = m.begin;
  }
  return 0;
}
