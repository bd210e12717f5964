// FindMentions throughput: the NegEx/ConText kit's sentences (clinical prose, ~250 KB) repeated
// to 4 MB, against a lexicon of about 1,000 phrases: the kit's own concepts (the worst case:
// every sentence holds several mentions) and a headache-style lexicon not taken from the text;
// and a short narrative field as the pack sees them.
//   build-*/tests/text/clinical_text_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cephalgia/text/clinical_text.h"
#include "cephalgia/text/context_table.h"

namespace cephalgia::text {
namespace {

struct Corpus {
  std::vector<std::string> phrases;
  std::string text;
};

const Corpus& LoadCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    std::ifstream in(std::string(CEPHALGIA_SHARED_DIR) + "/clinical/context-testkit/dev.tsv");
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto table = ParseContextTable(buffer.str());
    if (!table.ok()) return c;
    std::set<std::string> phrases;
    std::string sentences;
    for (const auto& row : table->rows) {
      std::string concept_text = row.field(table->concept_column);
      for (char& ch : concept_text)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      phrases.insert(concept_text);
      sentences += row.field(table->sentence_column);
      sentences += '\n';
    }
    // Up to ~1,000 phrases: the kit's concepts, then "left"/"right" variants of the shorter ones.
    for (auto it = phrases.begin(); phrases.size() < 1000 && it != phrases.end(); ++it) {
      if (it->size() < 20) phrases.insert("left " + *it);
    }
    c.phrases.assign(phrases.begin(), phrases.end());
    while (c.text.size() < (4u << 20)) c.text += sentences;
    return c;
  }();
  return corpus;
}

const ConceptLexicon& Lexicon() {
  static const ConceptLexicon lexicon = [] {
    ConceptLexicon::Builder builder(ContextRules::Default());
    int id = 0;
    for (const std::string& phrase : LoadCorpus().phrases) builder.Add(id++, phrase);
    return std::move(*std::move(builder).Build());
  }();
  return lexicon;
}

void BM_FindMentions_Kit4MB(benchmark::State& state) {
  const Corpus& corpus = LoadCorpus();
  const ConceptLexicon& lexicon = Lexicon();
  std::vector<Mention> mentions;
  for (auto _ : state) {
    mentions.clear();
    FindMentions(corpus.text, lexicon, &mentions);
    benchmark::DoNotOptimize(mentions.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(corpus.text.size()));
  state.counters["phrases"] = static_cast<double>(lexicon.size());
  state.counters["mentions"] = static_cast<double>(mentions.size());
}
BENCHMARK(BM_FindMentions_Kit4MB)->Unit(benchmark::kMillisecond);

// ~1,000 phrases of the kind a headache pack lists (side x site x finding, plus red-flag
// terms), not taken from the text: mentions are as sparse as in real notes.
const ConceptLexicon& HeadacheStyleLexicon() {
  static const ConceptLexicon lexicon = [] {
    ConceptLexicon::Builder builder(ContextRules::Default());
    const char* sides[] = {"left", "right", "bilateral", "occipital", "unilateral"};
    const char* sites[] = {"neck",     "head",     "temporal", "frontal",        "suboccipital",
                           "cervical", "shoulder", "orbital",  "retro orbital",  "vertex",
                           "jaw",      "scalp",    "facial",   "upper cervical", "c2"};
    const char* findings[] = {
        "pain",          "stiffness", "tenderness",         "swelling",  "weakness",
        "numbness",      "ache",      "pressure",           "throbbing", "burning",
        "stabbing pain", "spasm",     "restricted rotation"};
    int id = 0;
    for (const char* side : sides) {
      for (const char* site : sites) {
        for (const char* finding : findings) {
          builder.Add(id++, std::string(side) + " " + site + " " + finding);
        }
      }
    }
    for (const char* term :
         {"thunderclap headache", "worst headache of life", "papilledema", "neck stiffness",
          "meningism", "subarachnoid hemorrhage", "horner syndrome", "jaw claudication",
          "giant cell arteritis", "head injury", "whiplash", "fever", "weight loss", "headache",
          "migraine", "aura", "photophobia", "phonophobia", "nausea"}) {
      builder.Add(id++, term);
    }
    return std::move(*std::move(builder).Build());
  }();
  return lexicon;
}

void BM_FindMentions_Kit4MB_HeadacheLexicon(benchmark::State& state) {
  const Corpus& corpus = LoadCorpus();
  const ConceptLexicon& lexicon = HeadacheStyleLexicon();
  std::vector<Mention> mentions;
  for (auto _ : state) {
    mentions.clear();
    FindMentions(corpus.text, lexicon, &mentions);
    benchmark::DoNotOptimize(mentions.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(corpus.text.size()));
  state.counters["phrases"] = static_cast<double>(lexicon.size());
  state.counters["mentions"] = static_cast<double>(mentions.size());
}
BENCHMARK(BM_FindMentions_Kit4MB_HeadacheLexicon)->Unit(benchmark::kMillisecond);

void BM_FindMentions_ShortField(benchmark::State& state) {
  const std::string field =
      "Sudden severe headache this morning, worst of her life. No fever. Neck stiffness on exam. "
      "History of migraine. Mother had a subarachnoid haemorrhage.";
  const ConceptLexicon& lexicon = Lexicon();
  std::vector<Mention> mentions;
  for (auto _ : state) {
    mentions.clear();
    FindMentions(field, lexicon, &mentions);
    benchmark::DoNotOptimize(mentions.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(field.size()));
}
BENCHMARK(BM_FindMentions_ShortField);

void BM_BuildLexicon(benchmark::State& state) {
  const Corpus& corpus = LoadCorpus();
  for (auto _ : state) {
    ConceptLexicon::Builder builder(ContextRules::Default());
    int id = 0;
    for (const std::string& phrase : corpus.phrases) builder.Add(id++, phrase);
    auto built = std::move(builder).Build();
    benchmark::DoNotOptimize(built.ok());
  }
}
BENCHMARK(BM_BuildLexicon)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cephalgia::text

BENCHMARK_MAIN();
