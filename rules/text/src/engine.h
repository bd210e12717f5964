// File: engine.h (private)
//
// The machinery behind clinical_text.h:
//   Scanner     one pass over the bytes: words (lower-cased ASCII, UTF-8 kept), their flags
//               (punctuation before, colon after, capitals, line start), sentence ends.
//   RulesData   the parsed context lexicon (triggers, pseudo-triggers, terminations, section
//               headings, spelling and abbreviation tables).
//   Vocabulary  normalised word -> word ids (a British spelling or an abbreviation maps to the
//               ids of its normal form, so the text is normalised by one hash lookup per word).
//   Automaton   Aho-Corasick over word ids: every trigger, heading and concept phrase at once.
//   Engine      the three together, built once and shared read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cephalgia/status.h"
#include "cephalgia/text/clinical_text.h"

namespace cephalgia::text::detail {

// ConText categories, as bits so a token's scope can hold several.
enum Category : std::uint8_t {
  kNegated = 1,
  kHistorical = 2,
  kHypothetical = 4,
  kOther = 8,  // experiencer other than the patient
  kUncertain = 16,
  kAllCategories = 31,
  // Not a category: marks where a section heading stops every scope (PatternInfo::whole_item).
  kHeadingStop = 32,
};
enum Direction : std::uint8_t { kForward = 1, kBackward = 2, kBothDirections = 3 };

enum class PatternKind : std::uint8_t { kTrigger, kPseudo, kTermination, kHeading, kConcept };
// A bit per kind, for Automaton::OutputBits.
constexpr std::uint8_t KindBit(PatternKind kind) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(kind));
}

// What a phrase of the automaton means.
struct PatternInfo {
  PatternKind kind = PatternKind::kConcept;
  std::uint8_t categories = 0;  // trigger: its category; termination: what it ends; heading:
                                // the section's context (0 = a neutral heading)
  std::uint8_t direction = 0;   // trigger: its direction; termination: the scopes it ends
  std::uint16_t max_scope = 0;  // trigger only, in words after it
  std::uint16_t max_scope_backward = 0;  // trigger only, in words before it
  std::uint16_t length = 0;              // in words
  int concept_id = -1;                   // concept only
  // Trigger only: a checklist answer (kNegativeAnswerWord) answers its whole item, which the
  // scanner has already cut at the item's start; a determiner inside the item ("Did it start
  // suddenly like a thunderclap? No") does not end its scope as it ends a post-negation's.
  bool whole_item = false;
  // Termination only: a word of the present ("today", "this morning", "presents") that also ends
  // a historical section carried into its sentence from an earlier line or sentence ("PMH: HTN" /
  // "Sudden severe headache this morning"): the note has moved on to the presentation.
  bool ends_carried_section = false;
  // When not 0, it ends a carried section only if it starts within this many words of its
  // sentence's start: a duration that opens the statement ("Headache for 10 days", "3 weeks of
  // headache") tells the presentation, one deep in a history line ("SAH treated in ICU for 3
  // weeks") does not.
  std::uint8_t ends_carried_section_within = 0;
  // Trigger only: a backward trigger that heads a list when a colon follows it ("Negative:
  // fever, chills", "Neg: HA, stiff neck") reaches this many words forward as well; without the
  // colon it is a result ("troponin negative, fever 39") and reaches only back.
  std::uint16_t colon_forward_scope = 0;
};

// One term of the lexicon as written, with its meaning.
struct TermSpec {
  std::string text;
  PatternInfo info;
};

struct RulesData {
  std::string version;
  std::vector<TermSpec> terms;  // triggers, pseudo-triggers, terminations, headings
  std::unordered_map<std::string, std::string> spelling;  // variant -> normal form (one word)
  std::unordered_map<std::string, std::vector<std::string>> abbreviations;  // -> words
  std::vector<std::string> no_split_abbreviations;  // "dr", "e.g": a period after them goes on
  // Words that answer an item "no" in a checklist ("Fever: no.", "Neck stiffness? Denies"):
  // the scanner reads them as the word kNegativeAnswerWord, which the lexicon makes a trigger.
  std::vector<std::string> negative_answers;
};

// The scanner's word for a checklist item answered "no"; a phrase of exactly these characters
// is that one word (no text can spell it: braces break words).
inline constexpr std::string_view kNegativeAnswerWord = "{negative answer}";
inline constexpr std::string_view kCommaWord = "{comma}";

Result<std::shared_ptr<const RulesData>> ParseRulesJson(std::string_view json);

// ---- Scanner ------------------------------------------------------------------------------

enum WordFlag : std::uint16_t {
  kPunctBefore = 1,     // punctuation (not a hyphen) between this word and the previous one
  kColonAfter = 2,      // the next character after optional blanks is ':'
  kUpper = 4,           // has letters, none lower case ("FINDINGS")
  kCapitalized = 8,     // first character an upper-case letter
  kSegmentStart = 16,   // first word of a sentence or of a line
  kYear = 32,           // four digits 1900-2099
  kSigned = 64,         // written with a leading '+' or '-' ("-ve")
  kLineEndAfter = 128,  // nothing but blanks after it on its line
  // Only "word: " between the previous word and this one: a field and its value ("GCS: 13",
  // "Onset: sudden"), which a phrase may span.
  kFieldColonBefore = 256,
  // A parenthesis between this word and the previous one: a forward scope that began inside
  // parentheses ends where they close ("(no joint involvement) on methotrexate").
  kParenOpenBefore = 512,
  kParenCloseBefore = 1024,
  // An age written as one word: one to three digits and "yo" ("15yo"); phrases name it "{age}"
  // ("mum with {age}"). "6-year-old" is three words (a hyphen joins nothing) and not an age.
  kAge = 2048,
  // A lone comma between this word and the previous one ("red, sore eye"). A phrase written
  // with a comma holds the word kCommaWord there and matches only text with the comma.
  kCommaBefore = 4096,
  // A lone '/' or '&' between this word and the previous one: items joined into one
  // ("Positional / Valsalva: N"), so a capital after it opens no heading of its own.
  kJoinBefore = 8192,
};

inline constexpr std::size_t kMaxWordBytes = 48;  // longer words are never in a vocabulary

struct WordEvent {
  std::uint32_t begin = 0, end = 0;  // bytes in the text
  std::string_view lower;            // lower-cased (ASCII), possessive "'s" dropped
  std::uint16_t flags = 0;
};

// What ended a sentence. ConText judges each sentence alone; a statement (what a clinician wrote
// as one sentence) can hold several: its clauses end at ';' and, inside a clause, a checklist
// answer or an answer mark ends the item it answers ("Headache, fever: no, sudden onset").
enum class Break : std::uint8_t {
  kClause,     // an answered item: an answer mark, "Fever: no", a comma before an answered item
  kSemicolon,  // ';': a clause of the same statement
  kSentence,   // '.', '!' or '?' before a blank, a line break (not a wrapped line), "2)"
  kBlankLine,  // a blank line: also ends a section
};

// Calls sink.OnWord(const WordEvent&), sink.OnSentenceEnd(Break) and asks
// sink.IsCompound(std::string_view) whether "s/p"-like forms are one word; stops early once
// sink.stopped() is true. Linear in the text.
template <typename Sink>
void Scan(std::string_view text, const RulesData& rules, Sink& sink);

// ---- Vocabulary ---------------------------------------------------------------------------

inline constexpr std::int32_t kUnknownWord = -1;

class Vocabulary {
 public:
  // Word ids the key stands for (one for a plain word, several for an expanded abbreviation);
  // empty when unknown.
  std::pair<const std::int32_t*, std::size_t> Find(std::string_view key) const;
  // The same for a key followed in memory by at least eight zero bytes (the scanner's buffer):
  // hashed and compared eight bytes at a time without copying.
  std::pair<const std::int32_t*, std::size_t> FindPadded(std::string_view key) const;
  bool Contains(std::string_view key) const { return Find(key).second != 0; }

  // Build-time.
  std::int32_t Intern(std::string_view word);  // the id of a normal-form word
  void AddAlias(std::string_view key, const std::vector<std::int32_t>& ids);
  std::int32_t size() const { return next_id_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t prefix = 0;  // the key's first eight bytes, zero-padded
    std::uint32_t key_offset = 0;
    std::uint16_t key_len = 0;
    std::uint16_t id_count = 0;  // 0: empty slot
    std::uint32_t id_offset = 0;
  };
  Slot* Probe(std::string_view key, std::uint64_t hash);
  const Slot* Probe(std::string_view key, std::uint64_t hash) const;
  void Grow();
  std::vector<Slot> slots_ = std::vector<Slot>(64);
  std::size_t used_ = 0;
  std::string keys_;
  std::vector<std::int32_t> ids_;
  std::int32_t next_id_ = 0;
};

std::uint64_t HashWord(std::string_view s);
// HashWord of a key followed by at least eight zero bytes.
std::uint64_t HashPaddedWord(const char* data, std::size_t size);

// ---- Automaton ----------------------------------------------------------------------------

class Automaton {
 public:
  // Build-time: patterns are word-id sequences (no unknown words); `pattern_bits` a non-zero
  // byte per pattern (what kind of phrase it is), OR-ed per state into OutputBits.
  void Build(const std::vector<std::vector<std::int32_t>>& patterns,
             const std::vector<std::uint8_t>& pattern_bits, std::int32_t vocabulary_size);

  std::int32_t Step(std::int32_t state, std::int32_t word) const {
    if (word < 0) return 0;
    while (state != 0) {
      const Node& node = nodes_[static_cast<std::size_t>(state)];
      // States are numbered breadth first, so a node's children are consecutive states, their
      // edge words sorted: search that small range.
      const std::int32_t* words = edge_word_.data();
      std::uint32_t lo = node.first_child, hi = node.first_child + node.child_count;
      while (hi - lo > 8) {
        std::uint32_t mid = lo + (hi - lo) / 2;
        if (words[mid] <= word) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      for (std::uint32_t k = lo; k < hi; ++k) {
        if (words[k] == word) return static_cast<std::int32_t>(k);
      }
      state = node.fail;
    }
    return root_next_[static_cast<std::size_t>(word)];
  }
  // The OR of the bits of every pattern ending at `state`, 0 when none does (a byte per state:
  // stays in the first-level cache).
  std::uint8_t OutputBits(std::int32_t state) const {
    return output_bits_[static_cast<std::size_t>(state)];
  }
  // Calls f(pattern index) for every pattern ending at `state`.
  template <typename F>
  void ForEachOutput(std::int32_t state, F&& f) const {
    const Node* node = &nodes_[static_cast<std::size_t>(state)];
    if (node->out_count == 0) {
      if (node->dict_link == 0) return;
      node = &nodes_[static_cast<std::size_t>(node->dict_link)];
    }
    while (true) {
      for (std::uint32_t k = 0; k < node->out_count; ++k) f(outputs_[node->out_start + k]);
      if (node->dict_link == 0) return;
      node = &nodes_[static_cast<std::size_t>(node->dict_link)];
    }
  }

 private:
  struct Node {
    std::int32_t fail = 0;
    std::int32_t dict_link = 0;  // next state on the failure chain with outputs, or 0
    std::uint32_t first_child = 0;
    std::uint32_t child_count = 0;
    std::uint32_t out_start = 0;
    std::uint32_t out_count = 0;
  };
  std::vector<std::int32_t> root_next_;  // word -> depth-1 state (0: none)
  std::vector<Node> nodes_;
  std::vector<std::int32_t> edge_word_;  // per state: the word of the edge into it
  std::vector<std::int32_t> outputs_;
  std::vector<std::uint8_t> output_bits_;
};

// ---- Engine -------------------------------------------------------------------------------

struct Engine {
  std::shared_ptr<const RulesData> rules;
  Vocabulary vocabulary;
  Automaton automaton;
  std::vector<PatternInfo> patterns;
  std::size_t concept_phrases = 0;
  // The vocabulary id of kCommaWord when some phrase holds a comma, else -1.
  std::int32_t comma_word = -1;
};

// The words of a phrase after normalisation (spelling, abbreviations, possessives), as the
// vocabulary would see them ("{year}" for a year).
std::vector<std::string> NormalizePhraseWords(std::string_view phrase, const RulesData& rules);

// Builds the vocabulary and automaton of the rules' terms plus `concepts` (id, phrase).
Result<std::shared_ptr<const Engine>> BuildEngine(
    std::shared_ptr<const RulesData> rules,
    const std::vector<std::pair<int, std::string>>& concepts);

}  // namespace cephalgia::text::detail

#include "scanner_inl.h"
