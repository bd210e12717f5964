// File: clinical_text.h
//
// Reading clinical narrative: normalisation, sentence and section splitting, a concept lexicon
// matched on word boundaries by one automaton, and ConText (Harkema et al., J Biomed Inform
// 2009;42:839-851; after NegEx, Chapman et al., J Biomed Inform 2001;34:301-310) for negation,
// temporality (historical, hypothetical) and experiencer, with uncertainty kept apart.
//
//   auto rules = ContextRules::Default();
//   ConceptLexicon::Builder builder(rules);
//   builder.Add(kPapilledema, "papilledema");
//   builder.Add(kPapilledema, "swollen optic discs");
//   CEPHALGIA_ASSIGN_OR_RETURN(ConceptLexicon lexicon, std::move(builder).Build());
//   std::vector<Mention> mentions;
//   FindMentions("Fundi: no papilloedema. FH: mother had SAH.", lexicon, &mentions);
//   // one mention, negated; Quote(text, mentions[0]) == "Fundi: no papilloedema."
//
// The trigger lexicon, section headings, spelling and abbreviation tables are data
// (rules/text/context-lexicon.json, embedded at build time). Everything here is immutable after
// it is built and safe to share between threads; FindMentions allocates only per sentence
// (amortised, reused per thread), never per character.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cephalgia/status.h"  // Status, Result<T> (plugin/include)

namespace cephalgia::text {

enum class Negation : std::uint8_t { kAffirmed, kNegated };
enum class Temporality : std::uint8_t { kRecent, kHistorical, kHypothetical };
enum class Experiencer : std::uint8_t { kPatient, kOther };

// "Affirmed"/"Negated", "Recent"/"Historical"/"Hypothetical", "Patient"/"Other" (the labels of
// the NegEx/ConText test kit and of `cephalgia context`).
std::string_view NegationName(Negation value);
std::string_view TemporalityName(Temporality value);
std::string_view ExperiencerName(Experiencer value);

struct Context {
  Negation negation = Negation::kAffirmed;
  Temporality temporality = Temporality::kRecent;
  Experiencer experiencer = Experiencer::kPatient;
  bool uncertain = false;  // "possible", "concern for", "cannot exclude", "rule out", "?"
  // True when the mention is affirmed, recent, about the patient (uncertain allowed).
  bool CurrentForPatient() const {
    return negation == Negation::kAffirmed && temporality == Temporality::kRecent &&
           experiencer == Experiencer::kPatient;
  }
  bool operator==(const Context&) const = default;
};

namespace detail {
struct Engine;  // vocabulary + automaton (src/engine.h)
struct RulesData;
}  // namespace detail

// The trigger lexicon and normalisation tables, loaded from versioned JSON data
// (rules/text/context-lexicon.json, embedded into the library at build time; every trigger group
// cites NegEx/ConText or the source it came from). Immutable after load; thread-safe to share.
class ContextRules {
 public:
  // Errors are kInvalidArgument naming the JSON Pointer of the problem.
  static Result<std::shared_ptr<const ContextRules>> FromJsonText(std::string_view json);
  // The embedded default lexicon (parsed once; aborts at start-up only if the embedded file is
  // broken, which a unit test rules out).
  static std::shared_ptr<const ContextRules> Default();
  // The embedded JSON text itself (for tests and `cephalgia context --help`).
  static std::string_view DefaultJsonText();
  std::string_view version() const;

  // How many trigger, pseudo-trigger and termination terms, and section headings, were loaded.
  std::size_t trigger_count() const;
  std::size_t heading_count() const;

  // A copy of these rules that keeps only the negation triggers (and their pseudo-triggers and
  // terminations): no historical, hypothetical, experiencer, uncertainty triggers or section
  // headings. The "plain NegEx" baseline the measurements are compared with.
  std::shared_ptr<const ContextRules> NegationOnly() const;

  ~ContextRules();
  ContextRules(const ContextRules&) = delete;
  ContextRules& operator=(const ContextRules&) = delete;

  // Implementation access (src/ only).
  const detail::RulesData& data() const { return *data_; }
  const std::shared_ptr<const detail::RulesData>& data_ptr() const { return data_; }
  const detail::Engine& engine() const { return *engine_; }

 private:
  ContextRules(std::shared_ptr<const detail::RulesData> data,
               std::shared_ptr<const detail::Engine> engine);
  std::shared_ptr<const detail::RulesData> data_;
  std::shared_ptr<const detail::Engine> engine_;
};

// A phrase dictionary: (concept id, phrase) pairs compiled into one automaton over normalised
// words (case, punctuation, hyphens, British/American spelling, listed abbreviations), matched
// on word boundaries, multi-word phrases supported; linear in the text. A phrase never matches
// across punctuation other than a hyphen, an apostrophe or a field's colon ("GCS: 13": "word: "
// and nothing else), nor across a sentence end.
class ConceptLexicon {
 public:
  class Builder {
   public:
    explicit Builder(std::shared_ptr<const ContextRules> rules);
    // `concept_id` must be >= 0. The same (id, phrase) twice is kept once.
    void Add(int concept_id, std::string_view phrase);
    Result<ConceptLexicon> Build() &&;  // error: empty phrase, negative id, no rules

   private:
    std::shared_ptr<const ContextRules> rules_;
    std::vector<std::pair<int, std::string>> phrases_;
  };
  // An empty lexicon that finds nothing (so a lexicon can be a member assigned later).
  ConceptLexicon() = default;
  std::size_t size() const;  // distinct (id, normalised phrase) pairs
  bool empty() const { return size_ == 0; }
  // Implementation access (src/ only); engine() is null for an empty lexicon.
  const std::shared_ptr<const ContextRules>& rules() const { return rules_; }
  const detail::Engine* engine() const { return engine_.get(); }

 private:
  ConceptLexicon(std::shared_ptr<const ContextRules> rules,
                 std::shared_ptr<const detail::Engine> engine, std::size_t size);
  std::shared_ptr<const ContextRules> rules_;
  std::shared_ptr<const detail::Engine> engine_;
  std::size_t size_ = 0;
};

struct Mention {
  int concept_id = -1;
  std::size_t begin = 0, end = 0;  // byte range of the matched words in the original text
  Context context;
  // Where it stands. A statement is what a clinician wrote as one sentence: it ends at '.', '!'
  // or '?' before a blank, at a line break (not a wrapped line: the next line going on in lower
  // case) and at a blank line, never after an abbreviation ("Dr.") or inside a number ("38.5").
  // Its clauses end at ';' as well. Numbers count from 0 in text order.
  std::uint32_t statement = 0, clause = 0;
  std::uint32_t clause_word = 0;                 // words of its clause before it
  std::size_t clause_begin = 0, clause_end = 0;  // byte range of its clause
};

// Every mention in `text` of a lexicon concept, in text order, each judged by ConText within
// its sentence (section headings such as "Family history:" or "Plan:" set the context of what
// follows until the next heading or a blank line). At one position the longest phrase wins; the
// same words are never reported twice for one concept. Appends to `out`.
void FindMentions(std::string_view text, const ConceptLexicon& lexicon, std::vector<Mention>* out);

// The context of the byte span [begin, end) of `text`, judged as FindMentions would (within the
// sentence where the span begins).
Context JudgeSpan(std::string_view text, std::size_t begin, std::size_t end,
                  const ContextRules& rules);

// Finds `phrase` in `text` (same normalisation, word boundaries, within one sentence; punctuation
// between the words is ignored, so a phrase copied with its commas is found); nullopt when
// absent or when the phrase has no words.
std::optional<std::pair<std::size_t, std::size_t>> FindPhrase(std::string_view text,
                                                              std::string_view phrase,
                                                              const ContextRules& rules);
// Every non-overlapping occurrence, in text order.
std::vector<std::pair<std::size_t, std::size_t>> FindPhraseAll(std::string_view text,
                                                               std::string_view phrase,
                                                               const ContextRules& rules);
// The longest leading run of the phrase's words found in one sentence of `text` (at least one
// word), with how many of the phrase's words it covers: the fallback of `cephalgia context` for
// a concept written differently in its sentence. nullopt when not even the first word is there.
struct PartialMatch {
  std::size_t begin = 0, end = 0;
  std::size_t words_matched = 0, words_in_phrase = 0;
};
std::optional<PartialMatch> FindPhrasePrefix(std::string_view text, std::string_view phrase,
                                             const ContextRules& rules);

// The phrase as the lexicon reads it: its normal-form words (lower case, the spelling and
// abbreviation tables applied) joined by one blank, so that two phrases can be compared word by
// word ("papilloedema" and "papilledema" are the same phrase). Empty when it has no words.
std::string NormalizedPhrase(std::string_view phrase, const ContextRules& rules);

// A short quote for a card: the matched words (plus up to a few words either side when short),
// at most `max_bytes`, never cutting a UTF-8 character, whitespace collapsed.
std::string Quote(std::string_view text, const Mention& m, std::size_t max_bytes = 60);

}  // namespace cephalgia::text
