#include "cephalgia/text/clinical_text.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "engine.h"

namespace cephalgia::text {
namespace detail {

extern const char kContextLexiconJson[];
extern const std::size_t kContextLexiconJsonSize;

namespace {

struct Token {
  std::uint32_t begin = 0, end = 0;
  std::int32_t word = kUnknownWord;
  std::uint16_t flags = 0;
};

struct Match {
  std::uint32_t start = 0, end = 0;  // token indexes [start, end)
  std::int32_t pattern = 0;
};

// Per-thread scratch space, reused from call to call: FindMentions allocates only when a
// sentence is longer than any seen before on this thread.
struct Scratch {
  std::vector<Token> tokens;
  std::vector<std::pair<std::uint32_t, std::int32_t>> hits;  // (token, state) where phrases end
  std::vector<Match> matches;   // everything the automaton found in the sentence
  std::vector<Match> rules;     // triggers, pseudo-triggers, terminations, valid headings
  std::vector<Match> concepts;  // concept phrases, then the mentions kept
  std::vector<std::pair<std::uint32_t, std::uint8_t>> sections;  // (first token, section)
  std::vector<std::uint8_t> forward, backward, stop_forward, stop_backward;
  std::vector<std::pair<int, std::uint32_t>> last_end;  // per concept: end of its last mention
};

int KindRank(PatternKind kind) {
  switch (kind) {
    case PatternKind::kHeading:
      return 0;
    case PatternKind::kPseudo:
      return 1;
    case PatternKind::kTrigger:
      return 2;
    case PatternKind::kTermination:
      return 3;
    case PatternKind::kConcept:
      return 4;
  }
  return 5;
}

// Words of an aside in parentheses that a scope passes over without counting them.
constexpr std::size_t kMaxAsideWords = 8;

// A heading found by its form rather than listed ("EXAMINATION PERFORMED:"): neutral.
constexpr std::int32_t kGenericHeading = -1;
const PatternInfo& GenericHeadingInfo() {
  static const PatternInfo info = [] {
    PatternInfo i;
    i.kind = PatternKind::kHeading;
    i.categories = 0;
    return i;
  }();
  return info;
}

// ConText over one sentence: the automaton's matches, section headings, trigger scopes.
class SentenceJudge {
 public:
  SentenceJudge(const Engine& engine, Scratch& scratch) : engine_(engine), s_(scratch) {}

  // Finds every phrase in the sentence and applies its headings. `section` is the section
  // context in force before the sentence; the one after it is section_after().
  // With `every_sentence` false a sentence without a concept or a heading is skipped after the
  // automaton (FindMentions); JudgeSpan judges a span that is no concept of the automaton.
  void Run(std::uint8_t section, bool every_sentence) {
    section_before_ = section;
    prepared_ = false;
    s_.matches.clear();
    s_.rules.clear();
    s_.concepts.clear();
    s_.sections.clear();
    const std::vector<Token>& tokens = s_.tokens;
    const Automaton& automaton = engine_.automaton;
    // First only where phrases end; their patterns are looked at only in a sentence with a
    // concept or a heading in it (or a colon, for a heading found by its form).
    s_.hits.clear();
    std::uint8_t seen = 0;
    std::uint16_t flags = 0;
    std::int32_t state = 0;
    for (std::uint32_t t = 0; t < tokens.size(); ++t) {
      flags |= tokens[t].flags;
      if ((tokens[t].flags & (kPunctBefore | kFieldColonBefore)) == kPunctBefore) {
        // A lone comma goes on only into a phrase written with one ("red, sore eye").
        state = (tokens[t].flags & kCommaBefore) && engine_.comma_word >= 0 && state != 0
                    ? automaton.Step(state, engine_.comma_word)
                    : 0;
      }
      state = automaton.Step(state, tokens[t].word);
      if (state == 0) continue;
      if (std::uint8_t bits = automaton.OutputBits(state); bits != 0) {
        seen |= bits;
        s_.hits.emplace_back(t, state);
      }
    }
    constexpr std::uint8_t kNeeded =
        KindBit(PatternKind::kConcept) | KindBit(PatternKind::kHeading);
    if (!every_sentence && !(seen & kNeeded) && !(flags & kColonAfter)) return;
    for (const auto& [t, end_state] : s_.hits) {
      const std::uint32_t end = t + 1;
      automaton.ForEachOutput(end_state, [&](std::int32_t p) {
        std::uint32_t length = engine_.patterns[static_cast<std::size_t>(p)].length;
        s_.matches.push_back({end - length, end, p});
      });
    }
    bool has_trigger = false;
    for (const Match& m : s_.matches) {
      const PatternInfo& info = Info(m);
      if (info.kind == PatternKind::kConcept) {
        s_.concepts.push_back(m);
      } else if (info.kind == PatternKind::kHeading) {
        if (IsHeading(m)) s_.rules.push_back(m);
      } else {
        has_trigger = has_trigger || info.kind == PatternKind::kTrigger;
        s_.rules.push_back(m);
      }
    }
    FindGenericHeadings(has_trigger);
    EndCarriedHistoricalSection();
    // Section changes, in token order.
    for (const Match& m : s_.rules) {
      const PatternInfo& info = Info(m);
      if (info.kind == PatternKind::kHeading) s_.sections.emplace_back(m.end, info.categories);
    }
    std::sort(s_.sections.begin(), s_.sections.end());
  }

  // A negation that heads a list with a colon at the start of its clause ("Negative for: fever;
  // chills; neck stiffness", "ROS: Denies: ..."): the bare items after it, cut into clauses by
  // ';', are denied too (IsBareListItem), to the end of the statement.
  bool OpensNegatedList() const {
    for (const Match& m : s_.rules) {
      const PatternInfo& info = Info(m);
      if (info.kind != PatternKind::kTrigger || !(info.categories & kNegated) ||
          !((info.direction & kForward) || info.colon_forward_scope > 0) ||
          !(s_.tokens[m.end - 1].flags & kColonAfter)) {
        continue;
      }
      if (m.start == 0) return true;
      for (const Match& h : s_.rules) {
        if (Info(h).kind == PatternKind::kHeading && h.start == 0 && h.end == m.start) return true;
      }
    }
    return false;
  }

  // A bare item of such a list: a few words with no trigger, pseudo-trigger or termination of
  // their own ("chills", "neck stiffness", "weight loss"); "reports neck stiffness" is none.
  bool IsBareListItem() const {
    if (s_.tokens.size() > kMaxListItemWords) return false;
    for (const Match& m : s_.rules) {
      if (Info(m).kind != PatternKind::kHeading) return false;
    }
    return true;
  }
  static constexpr std::size_t kMaxListItemWords = 4;

  std::uint8_t section_after() const {
    return s_.sections.empty() ? section_before_ : s_.sections.back().second;
  }

  std::uint8_t SectionAt(std::uint32_t token) const {
    std::uint8_t section = section_before_;
    for (const auto& [first, value] : s_.sections) {
      if (first > token) break;
      section = value;
    }
    return section;
  }

  // The context of the words [start, end) of the sentence.
  Context Judge(std::uint32_t start, std::uint32_t end) {
    if (!prepared_) Prepare();
    std::uint8_t categories = SectionAt(start);
    if (start < s_.forward.size()) categories |= s_.forward[start];
    if (end >= 1 && end - 1 < s_.backward.size()) categories |= s_.backward[end - 1];
    Context context;
    if (categories & kNegated) context.negation = Negation::kNegated;
    if (categories & kUncertain) context.uncertain = true;
    if (categories & kHypothetical) {
      context.temporality = Temporality::kHypothetical;
    } else if (categories & kHistorical) {
      context.temporality = Temporality::kHistorical;
    }
    if (categories & kOther) context.experiencer = Experiencer::kOther;
    return context;
  }

  // Concept mentions: at one start the longest phrase wins (every concept with a phrase of that
  // length), and a concept's words are never reported twice. Leaves them in s_.concepts.
  void SelectMentions() {
    auto& concepts = s_.concepts;
    std::sort(concepts.begin(), concepts.end(), [](const Match& a, const Match& b) {
      if (a.start != b.start) return a.start < b.start;
      if (a.end != b.end) return a.end > b.end;
      return a.pattern < b.pattern;
    });
    s_.last_end.clear();
    std::size_t kept = 0;
    std::uint32_t longest_end = 0;
    for (std::size_t k = 0; k < concepts.size(); ++k) {
      const Match m = concepts[k];
      if (k == 0 || concepts[k - 1].start != m.start) longest_end = m.end;  // sorted longest first
      if (m.end < longest_end) continue;  // a shorter phrase where a longer one starts
      int id = Info(m).concept_id;
      auto it = std::find_if(s_.last_end.begin(), s_.last_end.end(),
                             [id](const auto& entry) { return entry.first == id; });
      if (it != s_.last_end.end()) {
        if (m.start < it->second) continue;
        it->second = m.end;
      } else {
        s_.last_end.emplace_back(id, m.end);
      }
      concepts[kept++] = m;
    }
    concepts.resize(kept);
  }

  const PatternInfo& Info(const Match& m) const {
    return m.pattern < 0 ? GenericHeadingInfo()
                         : engine_.patterns[static_cast<std::size_t>(m.pattern)];
  }

 private:
  // A listed heading counts when a colon follows it and it opens a line or sentence, or is
  // written in capitals ("... 1250 HOURS CLINICAL HISTORY: ...").
  bool IsHeading(const Match& m) const {
    const std::vector<Token>& tokens = s_.tokens;
    if (!(tokens[m.end - 1].flags & kColonAfter)) {
      // A heading that opens its sentence and closes it with a date is one in any case and
      // between rules of dashes ("--- copied forward 08/2025 ---", "Previous note (11/2024)"):
      // up to three words after it, joined by punctuation, the last a year.
      if (m.start == 0 && (tokens[0].flags & kSegmentStart) && m.end < tokens.size() &&
          tokens.size() - m.end <= 3 && (tokens.back().flags & kYear)) {
        bool date = true;
        for (std::size_t t = m.end + 1; t < tokens.size(); ++t) {
          date = date && (tokens[t].flags & kPunctBefore);
        }
        if (date) return true;
      }
      // Without a colon only alone on its line, in capitals or title case ("PAST MEDICAL
      // HISTORY", "Family History"), and only when it is the whole sentence.
      if (!(tokens[m.end - 1].flags & kLineEndAfter) || !(tokens[m.start].flags & kSegmentStart) ||
          m.start != 0 || m.end != tokens.size()) {
        return false;
      }
      for (std::uint32_t t = m.start; t < m.end; ++t) {
        if (!(tokens[t].flags & (kUpper | kCapitalized))) return false;
      }
      return true;
    }
    if (tokens[m.start].flags & kSegmentStart) return true;
    // Inside a longer run of capitals ("HOSPITAL COURSE & PLAN:") it is not this heading; the
    // run is a heading of its own (FindGenericHeadings).
    if (m.start > 0 && (tokens[m.start - 1].flags & kUpper)) return false;
    bool upper = true, titled = true;
    for (std::uint32_t t = m.start; t < m.end; ++t) {
      upper = upper && (tokens[t].flags & kUpper);
      titled = titled && (tokens[t].flags & (kUpper | kCapitalized));
    }
    // In capitals, or in title case right after punctuation ("{Not Entered}  Menstrual History:").
    return upper || (titled && (tokens[m.start].flags & kPunctBefore));
  }

  // A historical section carried into this sentence ("PMH: HTN" and then, on the next line,
  // "Sudden severe headache this morning") ends when the sentence speaks of the present before
  // any heading of its own: the note has moved on to the presentation. Only a section from an
  // earlier sentence: a heading's own sentence keeps its context ("PMH: migraine, now daily").
  // Family-history and plan sections are not ended so: their lines name the present of others
  // ("Mother: SAH at 45, now deceased") and of what is planned ("CT today").
  // A dated sentence ("SAH 2015, presented today to neurosurgery clinic") stays in the past.
  void EndCarriedHistoricalSection() {
    if (!(section_before_ & kHistorical)) return;
    for (const Token& token : s_.tokens) {
      if (token.flags & kYear) return;
    }
    std::uint32_t first_heading = static_cast<std::uint32_t>(s_.tokens.size());
    for (const Match& m : s_.rules) {
      if (Info(m).kind == PatternKind::kHeading) first_heading = std::min(first_heading, m.start);
    }
    for (const Match& m : s_.rules) {
      const PatternInfo& info = Info(m);
      if (info.kind == PatternKind::kTermination && info.ends_carried_section &&
          m.end <= first_heading &&
          (info.ends_carried_section_within == 0 || m.start < info.ends_carried_section_within)) {
        section_before_ &= static_cast<std::uint8_t>(~kHistorical);
        return;
      }
    }
  }

  // Any other heading ("EXAMINATION PERFORMED:", "Extremities:") ends the section before it and
  // is neutral: a run of up to eight words in capitals before a colon, or up to three words
  // opening a line or sentence. Not when a trigger is among its words ("Denies: fever").
  void FindGenericHeadings(bool has_trigger) {
    const std::vector<Token>& tokens = s_.tokens;
    const std::size_t listed = s_.rules.size();
    for (std::uint32_t t = 0; t < tokens.size(); ++t) {
      if (!(tokens[t].flags & kColonAfter)) continue;
      std::uint32_t first = t;
      bool found = false;
      // "01/03/2026:", "Interval hx 01/03/2026:", "Seen 12/05/2019:": a written date before the
      // colon opens an entry, alone or closing up to three words. Its parts are joined by
      // punctuation; a bare year ("since 2019:") is not a date.
      std::uint32_t last_word = t;
      if (tokens[t].flags & kYear) {
        std::uint32_t d = t;
        while (d > 0 && t - d < 2 && (tokens[d].flags & kPunctBefore) &&
               !(tokens[d].flags & kSegmentStart)) {
          --d;
        }
        if (d < t && (tokens[d].flags & kSegmentStart)) {
          first = d;
          found = true;
        } else if (d < t && d > 0 && !(tokens[d].flags & kPunctBefore)) {
          last_word = d - 1;
        }
      }
      if (!found && last_word == t && (tokens[t].flags & kUpper)) {
        while (first > 0 && t - first < 7 && (tokens[first - 1].flags & kUpper) &&
               !(tokens[first].flags & kSegmentStart)) {
          --first;
        }
        found = true;
      } else if (!found) {
        // Up to three words (before the date, if any) opening a line or sentence, or title-case
        // words after punctuation.
        first = last_word;
        bool titled = (tokens[first].flags & kCapitalized) != 0;
        while (first > 0 && last_word - first < 2 &&
               !(tokens[first].flags & (kSegmentStart | kPunctBefore))) {
          --first;
          titled = titled && (tokens[first].flags & (kCapitalized | kUpper));
        }
        found = (tokens[first].flags & kSegmentStart) ||
                (titled && (tokens[first].flags & kPunctBefore) &&
                 !(tokens[first].flags & kJoinBefore));
      }
      if (!found) continue;
      bool covered = false;
      for (std::size_t k = 0; k < listed && !covered; ++k) {
        const Match& m = s_.rules[k];
        PatternKind kind = Info(m).kind;
        bool overlaps = m.start <= t && m.end > first;
        if (kind == PatternKind::kHeading && m.end - 1 == t) covered = true;
        if (has_trigger && kind == PatternKind::kTrigger && overlaps) covered = true;
      }
      if (covered) continue;
      s_.rules.push_back({first, t + 1, kGenericHeading});
    }
  }

  // Drops phrases inside longer ones, then spreads every trigger over its scope.
  void Prepare() {
    prepared_ = true;
    const std::size_t n = s_.tokens.size();
    auto& rules = s_.rules;
    std::sort(rules.begin(), rules.end(), [&](const Match& a, const Match& b) {
      if (a.start != b.start) return a.start < b.start;
      if (a.end != b.end) return a.end > b.end;
      return KindRank(Kind(a)) < KindRank(Kind(b));
    });
    std::size_t kept = 0;
    std::uint32_t max_end = 0;
    for (const Match& m : rules) {
      if (kept > 0 && m.end <= max_end) continue;  // inside a longer phrase
      max_end = std::max(max_end, m.end);
      rules[kept++] = m;
    }
    rules.resize(kept);
    s_.forward.assign(n, 0);
    s_.backward.assign(n, 0);
    s_.stop_forward.assign(n, 0);
    s_.stop_backward.assign(n, 0);
    for (const Match& m : rules) {
      PatternKind kind = Kind(m);
      if (kind == PatternKind::kTermination) {
        const PatternInfo& info = Info(m);
        if (info.direction & kForward) s_.stop_forward[m.start] |= info.categories;
        if (info.direction & kBackward) s_.stop_backward[m.end - 1] |= info.categories;
      } else if (kind == PatternKind::kHeading) {
        // Nothing before a heading reaches past it, and nothing after it reaches back beyond
        // it; a backward trigger may reach the heading itself ("Meningism: none").
        s_.stop_forward[m.start] |= kAllCategories;
        if (m.start > 0) s_.stop_backward[m.start - 1] |= kAllCategories | kHeadingStop;
      }
    }
    for (const Match& m : rules) {
      if (Kind(m) != PatternKind::kTrigger) continue;
      const PatternInfo& info = Info(m);
      const std::uint8_t category = info.categories;
      const bool heads_list =
          info.colon_forward_scope > 0 && (s_.tokens[m.end - 1].flags & kColonAfter);
      if ((info.direction & kForward) || heads_list) {
        const std::size_t scope =
            (info.direction & kForward) ? info.max_scope : info.colon_forward_scope;
        const std::size_t limit = std::min<std::size_t>(n, m.end + scope);
        // A trigger inside parentheses reaches no further than their close; one before them
        // reaches over them ("no (significant) neck stiffness").
        int depth = 0;
        for (std::size_t t = m.end; t < limit; ++t) {
          if (s_.stop_forward[t] & category) break;
          const std::uint16_t flags = s_.tokens[t].flags;
          if (flags & kParenCloseBefore) {
            if (depth == 0) break;
            --depth;
          }
          if (flags & kParenOpenBefore) ++depth;
          s_.forward[t] |= category;
        }
      }
      if (info.direction & kBackward) {
        // Words of an aside in parentheses do not count toward the scope ("Cervical instability
        // tests (Sharp-Purser, alar ligament) negative"), up to kMaxAsideWords of them.
        const std::uint8_t stops = info.whole_item ? std::uint8_t{kHeadingStop} : category;
        // A trigger inside parentheses after other words of them reaches no further back than
        // their open ("JIA (polyarticular, RF-negative)" denies no JIA); one that opens them
        // answers what stands before ("HIV (negative)").
        std::size_t budget = info.max_scope_backward, aside = 0;
        bool inside = false, own_aside_words = false;
        for (std::size_t t = m.start; t > 0 && budget > 0; --t) {
          const std::uint16_t between = s_.tokens[t].flags;  // what lies between t - 1 and t
          if (between & kParenOpenBefore) {
            if (!inside && own_aside_words) break;
            inside = false;
          } else if (between & kParenCloseBefore) {
            inside = true;
          }
          if (s_.stop_backward[t - 1] & stops) break;
          s_.backward[t - 1] |= category;
          if (inside && aside < kMaxAsideWords) {
            ++aside;
          } else {
            --budget;
          }
          if (!inside) own_aside_words = true;
        }
      }
    }
  }

  PatternKind Kind(const Match& m) const { return Info(m).kind; }

  const Engine& engine_;
  Scratch& s_;
  std::uint8_t section_before_ = 0;
  bool prepared_ = false;
};

// Feeds the scanner's words to a sentence buffer as word ids and hands each finished sentence
// to `on_sentence(Break)`.
template <typename OnSentence>
class TokenSink {
 public:
  TokenSink(const Engine& engine, std::vector<Token>& tokens, OnSentence on_sentence)
      : vocabulary_(engine.vocabulary), tokens_(tokens), on_sentence_(on_sentence) {}

  bool IsCompound(std::string_view s) const { return vocabulary_.Contains(s); }
  bool stopped() const { return stopped_; }
  void Stop() { stopped_ = true; }

  __attribute__((always_inline)) void OnWord(const WordEvent& event) {
    static constexpr char kYearKey[16] = "{year}";  // zero-padded
    static constexpr char kAgeKey[16] = "{age}";
    // The scanner's word is followed by eight zero bytes (see Scan).
    std::pair<const std::int32_t*, std::size_t> ids =
        vocabulary_.FindPadded((event.flags & kYear) ? std::string_view(kYearKey, 6) : event.lower);
    if (event.flags & kAge) {
      // An age stands for "{age}" where a phrase names it, and for itself elsewhere.
      const std::pair<const std::int32_t*, std::size_t> age =
          vocabulary_.FindPadded(std::string_view(kAgeKey, 5));
      if (age.second != 0) ids = age;
    }
    if (ids.second == 0 && (event.flags & kSigned)) {
      ids = vocabulary_.FindPadded(event.lower.substr(1));
    }
    if (ids.second == 0) {
      tokens_.push_back({event.begin, event.end, kUnknownWord, event.flags});
      return;
    }
    for (std::size_t k = 0; k < ids.second; ++k) {
      std::uint16_t flags = event.flags;
      if (k > 0)
        flags &= static_cast<std::uint16_t>(
            ~(kPunctBefore | kSegmentStart | kFieldColonBefore | kCommaBefore | kJoinBefore));
      tokens_.push_back({event.begin, event.end, ids.first[k], flags});
    }
  }
  void OnSentenceEnd(Break how) {
    on_sentence_(how);
    tokens_.clear();
  }

 private:
  const Vocabulary& vocabulary_;
  std::vector<Token>& tokens_;
  OnSentence on_sentence_;
  bool stopped_ = false;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

}  // namespace detail

// ---- Names --------------------------------------------------------------------------------

std::string_view NegationName(Negation value) {
  return value == Negation::kNegated ? "Negated" : "Affirmed";
}
std::string_view TemporalityName(Temporality value) {
  switch (value) {
    case Temporality::kHistorical:
      return "Historical";
    case Temporality::kHypothetical:
      return "Hypothetical";
    case Temporality::kRecent:
      break;
  }
  return "Recent";
}
std::string_view ExperiencerName(Experiencer value) {
  return value == Experiencer::kOther ? "Other" : "Patient";
}

// ---- ContextRules -------------------------------------------------------------------------

ContextRules::ContextRules(std::shared_ptr<const detail::RulesData> data,
                           std::shared_ptr<const detail::Engine> engine)
    : data_(std::move(data)), engine_(std::move(engine)) {}
ContextRules::~ContextRules() = default;

Result<std::shared_ptr<const ContextRules>> ContextRules::FromJsonText(std::string_view json) {
  CEPHALGIA_ASSIGN_OR_RETURN(std::shared_ptr<const detail::RulesData> data,
                             detail::ParseRulesJson(json));
  CEPHALGIA_ASSIGN_OR_RETURN(std::shared_ptr<const detail::Engine> engine,
                             detail::BuildEngine(data, {}));
  return std::shared_ptr<const ContextRules>(new ContextRules(std::move(data), std::move(engine)));
}

std::string_view ContextRules::DefaultJsonText() {
  return std::string_view(detail::kContextLexiconJson, detail::kContextLexiconJsonSize);
}

std::shared_ptr<const ContextRules> ContextRules::Default() {
  static const std::shared_ptr<const ContextRules> rules = [] {
    auto loaded = FromJsonText(DefaultJsonText());
    if (!loaded.ok()) {
      std::fprintf(stderr, "cephalgia: the embedded context lexicon is broken: %s\n",
                   loaded.status().ToString().c_str());
      std::abort();
    }
    return *loaded;
  }();
  return rules;
}

std::string_view ContextRules::version() const { return data_->version; }

std::size_t ContextRules::trigger_count() const {
  std::size_t count = 0;
  for (const auto& term : data_->terms) count += term.info.kind != detail::PatternKind::kHeading;
  return count;
}
std::size_t ContextRules::heading_count() const { return data_->terms.size() - trigger_count(); }

std::shared_ptr<const ContextRules> ContextRules::NegationOnly() const {
  auto data = std::make_shared<detail::RulesData>(*data_);
  data->version += "+negation-only";
  std::vector<detail::TermSpec> kept;
  for (detail::TermSpec term : data->terms) {
    switch (term.info.kind) {
      case detail::PatternKind::kTrigger:
        if (term.info.categories != detail::kNegated) continue;
        break;
      case detail::PatternKind::kTermination:
        if (!(term.info.categories & detail::kNegated)) continue;
        term.info.categories = detail::kNegated;
        break;
      case detail::PatternKind::kPseudo:
        break;
      default:
        continue;
    }
    kept.push_back(std::move(term));
  }
  data->terms = std::move(kept);
  auto engine = detail::BuildEngine(data, {});
  if (!engine.ok()) return nullptr;  // cannot happen: a subset of valid rules
  return std::shared_ptr<const ContextRules>(new ContextRules(std::move(data), *engine));
}

// ---- ConceptLexicon -----------------------------------------------------------------------

ConceptLexicon::Builder::Builder(std::shared_ptr<const ContextRules> rules)
    : rules_(std::move(rules)) {}

void ConceptLexicon::Builder::Add(int concept_id, std::string_view phrase) {
  phrases_.emplace_back(concept_id, std::string(phrase));
}

Result<ConceptLexicon> ConceptLexicon::Builder::Build() && {
  if (rules_ == nullptr) return InvalidArgument("a concept lexicon needs context rules");
  CEPHALGIA_ASSIGN_OR_RETURN(std::shared_ptr<const detail::Engine> engine,
                             detail::BuildEngine(rules_->data_ptr(), phrases_));
  std::size_t size = engine->concept_phrases;
  return ConceptLexicon(rules_, std::move(engine), size);
}

ConceptLexicon::ConceptLexicon(std::shared_ptr<const ContextRules> rules,
                               std::shared_ptr<const detail::Engine> engine, std::size_t size)
    : rules_(std::move(rules)), engine_(std::move(engine)), size_(size) {}

std::size_t ConceptLexicon::size() const { return size_; }

std::string NormalizedPhrase(std::string_view phrase, const ContextRules& rules) {
  std::string joined;
  for (const std::string& word : detail::NormalizePhraseWords(phrase, rules.data())) {
    if (word == detail::kCommaWord) continue;  // the words alone, as the cue windows read them
    if (!joined.empty()) joined += ' ';
    joined += word;
  }
  return joined;
}

// ---- FindMentions / JudgeSpan -------------------------------------------------------------

void FindMentions(std::string_view text, const ConceptLexicon& lexicon, std::vector<Mention>* out) {
  const detail::Engine* engine = lexicon.engine();
  if (engine == nullptr || text.empty()) return;
  // Byte offsets are 32-bit; a narrative field is far smaller.
  if (text.size() > UINT32_MAX) text = text.substr(0, UINT32_MAX);
  detail::Scratch& scratch = detail::ThreadScratch();
  scratch.tokens.clear();
  detail::SentenceJudge judge(*engine, scratch);
  std::uint8_t section = 0;
  // Where each mention stands: its statement, its clause (the ConText sentences from one ';' or
  // statement end to the next) and that clause's byte range, known once the clause ends.
  std::uint32_t statement = 0, clause = 0, clause_words = 0;
  std::size_t clause_begin = 0, clause_end = 0, clause_first_mention = out->size();
  auto close_clause = [&] {
    for (std::size_t k = clause_first_mention; k < out->size(); ++k)
      (*out)[k].clause_end = clause_end;
    clause_first_mention = out->size();
    if (clause_words > 0) ++clause;
    clause_words = 0;
  };
  // Inside a list headed by a negation and cut by ';' ("Denies: fever; night sweats").
  bool negated_list = false;
  auto on_sentence = [&](detail::Break how) {
    if (!scratch.tokens.empty()) {
      if (clause_words == 0) clause_begin = scratch.tokens.front().begin;
      clause_end = scratch.tokens.back().end;
      judge.Run(section, /*every_sentence=*/false);
      const bool list_item = negated_list && judge.IsBareListItem();
      if (!scratch.concepts.empty()) {
        judge.SelectMentions();
        for (const detail::Match& m : scratch.concepts) {
          Mention mention;
          mention.concept_id = judge.Info(m).concept_id;
          mention.begin = scratch.tokens[m.start].begin;
          mention.end = scratch.tokens[m.end - 1].end;
          mention.context = judge.Judge(m.start, m.end);
          if (list_item) mention.context.negation = Negation::kNegated;
          mention.statement = statement;
          mention.clause = clause;
          mention.clause_word = clause_words + m.start;
          mention.clause_begin = clause_begin;
          out->push_back(mention);
        }
      }
      clause_words += static_cast<std::uint32_t>(scratch.tokens.size());
      section = judge.section_after();
      negated_list = how == detail::Break::kSemicolon && (list_item || judge.OpensNegatedList());
    }
    if (how != detail::Break::kClause) close_clause();
    if (how == detail::Break::kSentence || how == detail::Break::kBlankLine) {
      ++statement;
      negated_list = false;
    }
    if (how == detail::Break::kBlankLine) section = 0;
  };
  detail::TokenSink<decltype(on_sentence)&> sink(*engine, scratch.tokens, on_sentence);
  detail::Scan(text, *engine->rules, sink);
  close_clause();  // a text may end on an answered item
}

Context JudgeSpan(std::string_view text, std::size_t begin, std::size_t end,
                  const ContextRules& rules) {
  const detail::Engine& engine = rules.engine();
  if (text.size() > UINT32_MAX) text = text.substr(0, UINT32_MAX);
  detail::Scratch scratch;
  detail::SentenceJudge judge(engine, scratch);
  std::uint8_t section = 0;
  Context result;
  bool done = false;
  bool negated_list = false;  // as in FindMentions
  auto on_sentence = [&](detail::Break how) {
    if (done) return;
    if (!scratch.tokens.empty()) {
      judge.Run(section, /*every_sentence=*/true);
      const bool list_item = negated_list && judge.IsBareListItem();
      // The words of the span, if the span begins in this sentence.
      std::uint32_t first = 0;
      while (first < scratch.tokens.size() && scratch.tokens[first].end <= begin) ++first;
      if (first < scratch.tokens.size()) {
        std::uint32_t last = first;
        while (last < scratch.tokens.size() && scratch.tokens[last].begin < end) ++last;
        if (last > first) {
          result = judge.Judge(first, last);
        } else {
          std::uint8_t s = judge.SectionAt(first);
          if (s & detail::kHistorical) result.temporality = Temporality::kHistorical;
          if (s & detail::kHypothetical) result.temporality = Temporality::kHypothetical;
          if (s & detail::kOther) result.experiencer = Experiencer::kOther;
        }
        if (list_item) result.negation = Negation::kNegated;
        done = true;
        return;
      }
      section = judge.section_after();
      negated_list = how == detail::Break::kSemicolon && (list_item || judge.OpensNegatedList());
    }
    if (how == detail::Break::kSentence || how == detail::Break::kBlankLine) negated_list = false;
    if (how == detail::Break::kBlankLine) section = 0;
  };
  detail::TokenSink<decltype(on_sentence)&> sink(engine, scratch.tokens, on_sentence);
  detail::Scan(text, *engine.rules, sink);
  return result;
}

// ---- FindPhrase ---------------------------------------------------------------------------

namespace {

struct StringToken {
  std::size_t begin = 0, end = 0;
  std::string word;
  std::size_t sentence = 0;
};

// Normal-form words with their byte ranges and sentence numbers (the slow, general path used
// to find one phrase; FindMentions uses the automaton).
struct StringTokenSink {
  const detail::RulesData& rules;
  std::vector<StringToken>* tokens;
  std::size_t sentence = 0;
  bool IsCompound(std::string_view s) const {
    return rules.abbreviations.find(std::string(s)) != rules.abbreviations.end();
  }
  bool stopped() const { return false; }
  void OnWord(const detail::WordEvent& event) {
    std::string word(event.lower);
    if ((event.flags & detail::kSigned) &&
        rules.abbreviations.find(word) == rules.abbreviations.end()) {
      word.erase(0, 1);
    }
    if (auto it = rules.spelling.find(word); it != rules.spelling.end()) word = it->second;
    if (auto it = rules.abbreviations.find(word); it != rules.abbreviations.end()) {
      for (const std::string& w : it->second)
        tokens->push_back({event.begin, event.end, w, sentence});
      return;
    }
    tokens->push_back({event.begin, event.end, std::move(word), sentence});
  }
  void OnSentenceEnd(detail::Break) { ++sentence; }
};

std::vector<StringToken> StringTokens(std::string_view text, const detail::RulesData& rules) {
  std::vector<StringToken> tokens;
  StringTokenSink sink{rules, &tokens};
  detail::Scan(text, rules, sink);
  return tokens;
}

// Occurrences of the first `count` words of `phrase` in `tokens`, non-overlapping.
std::vector<std::pair<std::size_t, std::size_t>> Occurrences(const std::vector<StringToken>& tokens,
                                                             const std::vector<StringToken>& phrase,
                                                             std::size_t count, bool first_only) {
  std::vector<std::pair<std::size_t, std::size_t>> found;
  if (count == 0 || count > phrase.size()) return found;
  for (std::size_t i = 0; i + count <= tokens.size();) {
    bool match = true;
    for (std::size_t k = 0; k < count && match; ++k) {
      match = tokens[i + k].word == phrase[k].word && tokens[i + k].sentence == tokens[i].sentence;
    }
    if (!match) {
      ++i;
      continue;
    }
    found.emplace_back(tokens[i].begin, tokens[i + count - 1].end);
    if (first_only) break;
    i += count;
  }
  return found;
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> FindPhraseAll(std::string_view text,
                                                               std::string_view phrase,
                                                               const ContextRules& rules) {
  std::vector<StringToken> words = StringTokens(phrase, rules.data());
  return Occurrences(StringTokens(text, rules.data()), words, words.size(), false);
}

std::optional<std::pair<std::size_t, std::size_t>> FindPhrase(std::string_view text,
                                                              std::string_view phrase,
                                                              const ContextRules& rules) {
  std::vector<StringToken> words = StringTokens(phrase, rules.data());
  auto found = Occurrences(StringTokens(text, rules.data()), words, words.size(), true);
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::optional<PartialMatch> FindPhrasePrefix(std::string_view text, std::string_view phrase,
                                             const ContextRules& rules) {
  std::vector<StringToken> words = StringTokens(phrase, rules.data());
  std::vector<StringToken> tokens = StringTokens(text, rules.data());
  for (std::size_t count = words.size(); count >= 1; --count) {
    auto found = Occurrences(tokens, words, count, true);
    if (!found.empty()) {
      return PartialMatch{found.front().first, found.front().second, count, words.size()};
    }
  }
  return std::nullopt;
}

// ---- Quote --------------------------------------------------------------------------------

namespace {

bool IsBlankByte(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// A blank (IsBlankByte) or a control byte: every byte up to the space, and DEL (the blanks
// other than the space are control bytes), in two comparisons.
bool IsBlankOrControl(unsigned char c) { return c <= 0x20 || c == 0x7F; }

// Calls kept(c, after_blank) for each byte of text[begin, end) that is not blank or a control
// byte; after_blank says whether a run of such bytes came before it.
template <typename Kept>
void ForEachKeptByte(std::string_view text, std::size_t begin, std::size_t end, Kept kept) {
  bool blank = false;
  for (std::size_t i = begin; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (IsBlankOrControl(c)) {
      blank = true;
      continue;
    }
    kept(static_cast<char>(c), blank);
    blank = false;
  }
}

// Appends text[begin, end) with every run of blanks collapsed to one space: what
// ForEachKeptByte keeps, a run of kept bytes at a time (one push_back per byte showed in the
// profile of a request's quotes).
void AppendCollapsed(std::string_view text, std::size_t begin, std::size_t end, std::string* out) {
  bool blank = false;
  std::size_t i = begin;
  while (i < end) {
    if (IsBlankOrControl(static_cast<unsigned char>(text[i]))) {
      blank = true;
      ++i;
      continue;
    }
    std::size_t run_end = i + 1;
    while (run_end < end && !IsBlankOrControl(static_cast<unsigned char>(text[run_end]))) ++run_end;
    if (blank && !out->empty() && out->back() != ' ') out->push_back(' ');
    out->append(text.data() + i, run_end - i);
    blank = false;
    i = run_end;
  }
}

// The size AppendCollapsed would give text[begin, end) appended to an empty string, counted
// without building it: the kept bytes, plus one space per blank run between two of them.
std::size_t CollapsedSize(std::string_view text, std::size_t begin, std::size_t end) {
  std::size_t size = 0;
  ForEachKeptByte(text, begin, end, [&size](char, bool after_blank) {
    if (after_blank && size > 0) ++size;
    ++size;
  });
  return size;
}

// CollapsedSize of text[a, c) from the sizes of its two parts text[a, b) and text[b, c): one
// space joins them when both keep bytes and a blank run touches b (the last byte of the first
// part or the first byte of the second is blank), as one walk over text[a, c) would count it.
std::size_t JoinedSize(std::string_view text, std::size_t b, std::size_t first_size,
                       std::size_t second_size) {
  if (first_size == 0 || second_size == 0) return first_size + second_size;
  bool blank_at_b = IsBlankOrControl(static_cast<unsigned char>(text[b - 1])) ||
                    IsBlankOrControl(static_cast<unsigned char>(text[b]));
  return first_size + second_size + (blank_at_b ? 1 : 0);
}

// The longest prefix of `s` of at most `max_bytes` that does not cut a UTF-8 character.
std::size_t Utf8Prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  std::size_t cut = max_bytes;
  while (cut > 0 && IsContinuation(static_cast<unsigned char>(s[cut]))) --cut;
  return cut;
}

// text[i] ends a sentence (a '.', '!' or '?' before a blank or the end, ';', a line break).
bool EndsSentence(std::string_view text, std::size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  if (c == ';' || c == '\n') return true;
  if (c != '.' && c != '!' && c != '?') return false;
  return i + 1 == text.size() || IsBlankByte(static_cast<unsigned char>(text[i + 1]));
}

}  // namespace

std::string Quote(std::string_view text, const Mention& m, std::size_t max_bytes) {
  std::size_t begin = std::min(m.begin, text.size());
  std::size_t end = std::min(std::max(m.end, begin), text.size());
  // Whole characters only, whatever the span says.
  while (begin < end && IsContinuation(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end < text.size() && IsContinuation(static_cast<unsigned char>(text[end]))) ++end;
  std::string core;
  AppendCollapsed(text, begin, end, &core);
  if (core.size() >= max_bytes) {
    core.resize(Utf8Prefix(core, max_bytes));
    while (!core.empty() && core.back() == ' ') core.pop_back();
    return core;
  }
  // Widen by whole words, at most three either side, within the sentence and the budget. The
  // size of the quote so far is kept, and only the word tried is measured.
  constexpr int kWordsEachSide = 3;
  std::size_t left = begin, right = end;
  std::size_t size = core.size();  // CollapsedSize(text, left, right)
  for (int step = 0; step < kWordsEachSide; ++step) {
    // One word to the right: blanks, then non-blank bytes.
    std::size_t r = right;
    while (r < text.size() && IsBlankByte(static_cast<unsigned char>(text[r])) && text[r] != '\n')
      ++r;
    std::size_t word_start = r;
    while (r < text.size() && !IsBlankByte(static_cast<unsigned char>(text[r]))) {
      if (EndsSentence(text, r)) {
        ++r;  // keep the sentence's final mark, stop there
        break;
      }
      ++r;
    }
    bool right_grew = false;
    if (r > word_start && (right == end || !EndsSentence(text, right - 1))) {
      std::size_t grown = JoinedSize(text, right, size, CollapsedSize(text, right, r));
      if (grown <= max_bytes) {
        right_grew = true;
        right = r;
        size = grown;
      }
    }
    // One word to the left.
    std::size_t l = left;
    while (l > 0 && IsBlankByte(static_cast<unsigned char>(text[l - 1])) && text[l - 1] != '\n')
      --l;
    std::size_t word_end = l;
    while (l > 0 && !IsBlankByte(static_cast<unsigned char>(text[l - 1])) &&
           !EndsSentence(text, l - 1)) {
      --l;
    }
    bool left_grew = false;
    if (l < word_end) {
      std::size_t grown = JoinedSize(text, left, CollapsedSize(text, l, left), size);
      if (grown <= max_bytes) {
        left_grew = true;
        left = l;
        size = grown;
      }
    }
    if (!right_grew && !left_grew) break;
  }
  std::string quote;
  quote.reserve(size);  // CollapsedSize of [left, right): one allocation
  AppendCollapsed(text, left, right, &quote);
  return quote;
}

}  // namespace cephalgia::text
