// FHIR -> findings. One pass per resource type; each resource's code is matched once against
// every value set (ValueSetIndex::Match), and the matches are dispatched to the finding
// sources that use those value sets (precomputed at load), so the cost is linear in the
// number of resources, not resources x findings.
#include "facts.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "cephalgia/fhir/resources.h"
#include "cephalgia/fhir/terminology.h"
#include "cephalgia/text/clinical_text.h"
#include "knowledge.h"

namespace cephalgia::rules::internal {
namespace {

using fhir::Certainty;
using fhir::Instant;

struct VsHit {
  int value_set;
  Certainty certainty;
  bool historical = false;  // a text mention of the past ("history of ...", "in 2009")
  bool uncertain = false;   // a text mention hedged ("possible ...", "cannot exclude ...")
  std::string_view quote;   // text mentions: the matched words, a short span (in Facts::text)
  int written_year = 0;     // an event dated by a year written after it ("RTC 2009"); 0: none
};

// How the record that supports a finding is shown to a clinician.
struct Shown {
  std::string_view display;
  std::optional<Instant> date;
  const VsHit* hit = nullptr;  // a text match: its quote and hedging
  bool history = false;
};

// The note[].text strings of a resource (Annotation), in order.
template <typename Fn>
void ForEachNote(const rapidjson::Value* resource, Fn&& fn) {
  if (resource == nullptr || !resource->IsObject()) return;
  auto it = resource->FindMember("note");
  if (it == resource->MemberEnd() || !it->value.IsArray()) return;
  for (const rapidjson::Value& n : it->value.GetArray()) {
    if (!n.IsObject()) continue;
    auto t = n.FindMember("text");
    if (t != n.MemberEnd() && t->value.IsString())
      fn(std::string_view(t->value.GetString(), t->value.GetStringLength()));
  }
}

// fn(element) for each object element of the first member of `resource` named `key` when it is
// an array: what ElementView::Children gives a view without a sink, without the vector.
template <typename Fn>
void ForEachObjectIn(const rapidjson::Value* resource, std::string_view key, Fn&& fn) {
  if (resource == nullptr || !resource->IsObject()) return;
  for (auto m = resource->MemberBegin(); m != resource->MemberEnd(); ++m) {
    if (std::string_view(m->name.GetString(), m->name.GetStringLength()) != key) continue;
    if (!m->value.IsArray()) return;
    for (const rapidjson::Value& e : m->value.GetArray()) {
      if (e.IsObject()) fn(e);
    }
    return;
  }
}

// Whether a category of the resource has one of the two codes (in any system).
bool HasCategory(const rapidjson::Value* resource, std::string_view code1, std::string_view code2) {
  bool found = false;
  ForEachObjectIn(resource, "category", [&](const rapidjson::Value& e) {
    if (found) return;
    fhir::CodeableConceptView(&e, nullptr).ForEachCoding([&](const fhir::CodingView& c) {
      if (auto v = c.code(); !found && v && (*v == code1 || *v == code2)) found = true;
    });
  });
  return found;
}

// ASCII case folding (the process runs in the "C" locale, where std::tolower is exactly this).
char FoldAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsFolded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // the common case (a display that repeats the text), without folding
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (FoldAscii(a[i]) != FoldAscii(b[i])) return false;
  }
  return true;
}

// `word` equals one of `list` (lower case), case folded.
bool EqualsFoldedOneOf(std::string_view word, const std::vector<std::string>& list) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& entry) { return EqualsFolded(word, entry); });
}

// Text matches are "from text"; a hedged one says "possible" and quotes the words it read.
void AppendTextNote(const VsHit& hit, std::string* out) {
  out->append(hit.uncertain ? "possible, from text" : "from text");
  if (!hit.quote.empty()) out->append(" \u201c").append(hit.quote).append("\u201d");
  if (hit.historical) out->append(", described as past");
}

void AppendDays(int64_t days, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, days);
  (void)ec;
  out->append(buf, end);
}

// The concept's text and displays, one after another (read when none of its codes is known).
void ConceptText(const fhir::CodeableConceptView& cc, std::string* text) {
  text->clear();
  if (auto t = cc.text()) text->append(*t);
  cc.ForEachCoding([&](const fhir::CodingView& c) {
    if (auto d = c.display()) {
      text->push_back(' ');
      text->append(*d);
    }
  });
}

// A view into the request document (or a literal): stored where it must outlast the call.
std::string_view ConceptName(const fhir::CodeableConceptView& cc) {
  if (auto t = cc.text(); t && !t->empty()) return *t;
  std::optional<std::string_view> display, code;
  cc.ForEachCoding([&](const fhir::CodingView& c) {
    if (!display) {
      if (auto d = c.display(); d && !d->empty()) display = d;
    }
    if (!code) code = c.code();
  });
  if (display) return *display;
  if (code) return *code;
  return "unnamed";
}

// printf's "%g": std::to_chars with chars_format::general and precision 6 is specified to give
// the same characters, and whole numbers (most values: days, scores, mmHg) skip even that.
std::string Num(double v) {
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e6 && !(v == 0 && std::signbit(v))) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    if (ec == std::errc()) return std::string(buf, end);
  }
  if (std::isfinite(v)) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
    if (ec == std::errc()) return std::string(buf, end);
  }
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::optional<Instant> Start(const std::optional<fhir::Interval>& i) {
  if (!i) return std::nullopt;
  if (i->start == fhir::DistantPast()) return std::nullopt;
  return i->start;
}

}  // namespace

TextArena::TextArena(TextArena&& other) noexcept
    : last_block_(std::exchange(other.last_block_, nullptr)),
      next_(std::exchange(other.next_, nullptr)),
      left_(std::exchange(other.left_, 0)) {}

TextArena& TextArena::operator=(TextArena&& other) noexcept {
  if (this != &other) {
    Release();
    last_block_ = std::exchange(other.last_block_, nullptr);
    next_ = std::exchange(other.next_, nullptr);
    left_ = std::exchange(other.left_, 0);
  }
  return *this;
}

TextArena::~TextArena() { Release(); }

void TextArena::Release() {
  for (char* block = last_block_; block != nullptr;) {
    char* previous;
    std::memcpy(&previous, block, sizeof previous);
    delete[] block;
    block = previous;
  }
  last_block_ = next_ = nullptr;
  left_ = 0;
}

std::string_view TextArena::Store(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  if (size == 0) return {};
  if (size > left_) {
    // 4 KiB holds a request's evidence text several times over; longer text gets its own block.
    constexpr std::size_t kBlock = 4096 - sizeof(char*);
    std::size_t payload = std::max(size, kBlock);
    char* block = new char[sizeof(char*) + payload];
    std::memcpy(block, &last_block_, sizeof last_block_);
    last_block_ = block;
    next_ = block + sizeof(char*);
    left_ = payload;
  }
  char* out = next_;
  for (std::string_view p : parts) {
    if (!p.empty()) std::memcpy(next_, p.data(), p.size());
    next_ += p.size();
  }
  left_ -= size;
  return {out, size};
}

namespace {

std::optional<double> DaysPerMonthIn(const rapidjson::Value* resource, std::string_view key);

// Observations whose finding is judged on the most recent value (thresholds, components)
// or on a series (trend) are collected first and evaluated in EvaluateLatest().
struct Candidate {
  const fhir::IndexedResource* r = nullptr;
  std::optional<Instant> date;
  Certainty certainty = Certainty::kConfirmed;
};

struct SeriesPoint {
  int source;
  const fhir::IndexedResource* r;
  std::optional<Instant> date;
};

// A Condition kept for its findings: its hits are cond_hits[first, end).
struct ConditionRecord {
  const fhir::IndexedResource* r;
  fhir::StatusAssessment a;
  std::size_t first, end;
  std::optional<Instant> onset;
  std::optional<Instant> latest;  // the latest of onset, recordedDate, abatement
  std::string_view name;          // in the request document, or a literal
};

// Evidence for a finding, in the order found; grouped by finding into Facts at the end.
struct PendingEvidence {
  int finding;
  Evidence evidence;
};

// The extractor's working buffers, kept per thread from call to call so that a request
// allocates for them only when it is larger than any seen before on its thread.
struct ExtractScratch {
  std::vector<text::Mention> mentions;                    // TextHits
  std::vector<std::pair<int, std::size_t>> negated_sets;  // TextHits: (set, last negation's byte)
  std::vector<uint32_t> code_sets;                        // CodeHits
  std::string lower_window;                               // Excluded
  // The texts of one mark (reference, note, display) and a concept's words: Mark copies what
  // it keeps into the facts' text.
  std::string ref, note, shown, concept_text;
  // Value-set hits: of one resource, of an Observation's narrative, of TiedTo, of a draft and
  // of its reasons; every kept Condition's, one after another.
  std::vector<VsHit> hits, narrative_hits, tied_hits, draft_hits, reason_hits, cond_hits;
  std::vector<ConditionRecord> conditions;
  std::vector<std::optional<Instant>> earliest;
  // (source, its most recent candidate), for the sources an Observation reached: a request
  // touches a few of the knowledge's sources, so they are not all walked.
  std::vector<std::pair<int, Candidate>> latest;
  std::vector<SeriesPoint> series;
  std::vector<PendingEvidence> evidence;
  std::vector<uint32_t> evidence_order;
};

ExtractScratch& ThreadExtractScratch() {
  thread_local ExtractScratch scratch;
  return scratch;
}

class Extractor {
 public:
  Extractor(const Knowledge& k, const fhir::ResourceIndex& index, Instant now,
            std::string_view draft_origin)
      : k_(k), index_(index), now_(now), draft_origin_(draft_origin), s_(ThreadExtractScratch()) {
    f_.findings.resize(k.findings.size());
    f_.active_value_sets.assign(k.value_set_ids.size(), 0);
    s_.latest.clear();
    s_.series.clear();
    s_.evidence.clear();
  }

  Facts Run() {
    ReadPatient();
    ReadConditions();
    ReadObservations();
    ReadEncounters();
    ReadMedications("MedicationRequest");
    ReadMedications("MedicationStatement");
    ReadOrders("ServiceRequest");
    ReadOrders("Procedure");
    ReadAllergies();
    EvaluateLatest();
    EvaluateOveruse();
    GroupEvidence();
    for (FindingState& s : f_.findings) {
      if (s.present) s.absent = false;
    }
    return std::move(f_);
  }

 private:
  bool IsDraftOrigin(const fhir::IndexedResource& r) const {
    return !draft_origin_.empty() && r.origin == draft_origin_;
  }

  // "Condition/c1", written into a buffer the extractor keeps: Mark copies it into the facts'
  // text only for a new piece of evidence. Valid until the next call.
  std::string_view Ref(const fhir::IndexedResource& r) {
    // Sized once and copied in three pieces into the reused buffer (an assign and two appends
    // were three calls that each checked the capacity, about 170 instructions a reference).
    const std::string_view sep = r.id.empty() ? std::string_view(" at ") : std::string_view("/");
    const std::string_view tail = r.id.empty() ? r.location : r.id;
    std::string& ref = s_.ref;
    ref.resize(r.resource_type.size() + sep.size() + tail.size());
    char* p = ref.data();
    for (std::string_view piece : {r.resource_type, sep, tail}) {
      if (!piece.empty()) std::memcpy(p, piece.data(), piece.size());
      p += piece.size();
    }
    return ref;
  }

  // knowledge.md §0.2: a record dated after the evaluation time does not exist yet for this
  // decision (a replayed or back-dated evaluation).
  bool InFuture(const std::optional<Instant>& t) const { return t && *t > now_; }

  // Value sets the concept belongs to by one of its codes (no text). Knowledge loads the value
  // sets in its own order, so a MatchCodes position is the value set's index here.
  // Appended to `hits`.
  void CodeHits(const fhir::CodeableConceptView& cc, std::vector<VsHit>* hits) {
    s_.code_sets.clear();
    k_.value_sets.MatchCodes(cc, &s_.code_sets);
    for (uint32_t vs : s_.code_sets) hits->push_back({static_cast<int>(vs), Certainty::kConfirmed});
  }

  // Concepts that narrative text affirms about the patient (knowledge.md §e.2): ConText drops
  // negated, hypothetical and other people's mentions, since text never asserts an absence;
  // past ones are kept and flagged. The phrases of findings.json's text exclusions ("screening",
  // "aspirin 81") cancel a mention when they stand in its sentence.
  // Appended to `hits`; a value set already in hits[from, end) is not added again (its hit may
  // be upgraded).
  void TextHits(std::string_view text, std::vector<VsHit>* hits, std::size_t from = 0) {
    if (text.empty() || !k_.lexicon) return;
    s_.mentions.clear();
    text::FindMentions(text, *k_.lexicon, &s_.mentions);
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    // A differential the note weighs and then sets aside is no possible finding: "Differential
    // diagnosis includes ... subarachnoid haemorrhage ... SAH considered and felt unlikely". An
    // uncertain mention of a set that the same text negates about the patient after it does not
    // count (an affirmed one still does, and a negation before it sets nothing aside).
    // knowledge.md §e.2: uncertain mentions fire, negated ones never.
    s_.negated_sets.clear();
    for (const text::Mention& m : s_.mentions) {
      if (m.context.negation == text::Negation::kNegated &&
          m.context.experiencer == text::Experiencer::kPatient && m.concept_id >= 0 &&
          m.concept_id < set_count) {
        s_.negated_sets.emplace_back(m.concept_id, m.begin);  // in text order: the last wins
      }
    }
    auto set_aside_later = [&](const text::Mention& m) {
      for (auto it = s_.negated_sets.rbegin(); it != s_.negated_sets.rend(); ++it) {
        if (it->first == m.concept_id) return it->second > m.begin;
      }
      return false;
    };
    const FreeSpan free = HeadacheFreeSpan(text);
    bool cues = false;
    for (const text::Mention& m : s_.mentions) {
      const text::Context& c = m.context;
      if (c.negation == text::Negation::kNegated || c.experiencer == text::Experiencer::kOther ||
          c.temporality == text::Temporality::kHypothetical) {
        continue;
      }
      if (c.uncertain && set_aside_later(m)) continue;
      int vs = m.concept_id;
      if (vs >= set_count) {
        cues = true;  // read below, beside the mentions it needs
        continue;
      }
      if (vs < 0) continue;
      if (Excluded(text, m, vs) || ExcludedBefore(text, m, vs) || ToldOfAnotherComplaint(m, vs))
        continue;
      AddTextHit(text, m, vs,
                 (c.temporality == text::Temporality::kHistorical && !DatedDaysAgo(text, m, vs)) ||
                     ResolvedAfter(text, m, vs) || BeforeFreeSpan(m, free),
                 c.uncertain, hits, from, WrittenYear(text, m, vs));
      if (k_.cues[static_cast<std::size_t>(vs)].with_may_be_past && c.CurrentForPatient())
        cues = true;  // its past headache may be current, read below
    }
    if (cues) CueHits(text, hits, from);
    if (k_.rising_scores.value_set >= 0) RisingScoreHits(text, hits, from);
  }

  // findings.json risingScoresInText: on one line, at least min_readings pain scores written
  // "N/10", each higher than the one before and the last at least min_rise above the first
  // ("Pain diary: average 4/10 in early January, 6/10 by end of January, 8/10 this
  // fortnight"), with a word of time on the line (scores by body part, "back 3/10, neck 5/10,
  // head 7/10", are no trend), no other complaint named on it and the span itself affirmed about
  // the patient (not negated, hypothetical or another person's): knowledge.md §0.1, pain scores
  // rising across readings, as written rather than coded.
  void RisingScoreHits(std::string_view text, std::vector<VsHit>* hits, std::size_t from) {
    const Knowledge::RisingScores& r = k_.rising_scores;
    // Most texts hold no score at all; lines are walked only from the first one on.
    const std::size_t first_score = text.find("/10");
    if (first_score == std::string_view::npos) return;
    std::size_t line = text.rfind('\n', first_score);
    line = line == std::string_view::npos ? 0 : line + 1;
    while (line < text.size()) {
      std::size_t line_end = text.find('\n', line);
      if (line_end == std::string_view::npos) line_end = text.size();
      int readings = 0;
      bool rising = true;
      std::string scores;  // the evidence: "4/10 → 6/10 → 8/10"
      double first = 0, last = 0;
      std::size_t span_begin = 0, span_end = 0;
      for (std::size_t at = line; at + 3 <= line_end && rising; ++at) {
        if (text[at] != '/' || text[at + 1] != '1' || text[at + 2] != '0') continue;
        if (at + 3 < line_end && IsAsciiAlnum(text[at + 3])) continue;  // "/100"
        std::size_t b = at;
        while (b > line && ((text[b - 1] >= '0' && text[b - 1] <= '9') || text[b - 1] == '.')) --b;
        if (b == at || (b > line && IsAsciiAlnum(text[b - 1])) || text[b] == '.') continue;
        double value = 0, scale = 0;
        for (std::size_t d = b; d < at; ++d) {
          if (text[d] == '.') {
            scale = scale == 0 ? 0.1 : -1;
          } else if (scale > 0) {
            value += (text[d] - '0') * scale;
            scale /= 10;
          } else if (scale == 0) {
            value = value * 10 + (text[d] - '0');
          }
        }
        if (scale < 0 || value > 10) continue;
        if (readings > 0 && value <= last) rising = false;
        if (readings == 0) {
          first = value;
          span_begin = b;
        }
        last = value;
        span_end = at + 3;
        if (readings > 0) scores += " \u2192 ";
        scores.append(text.substr(b, at + 3 - b));
        ++readings;
      }
      if (rising && readings >= r.min_readings && last - first >= r.min_rise &&
          ContainsAnyAtWordStart(text.substr(line, line_end - line), r.time_words) &&
          !OtherComplaintBetween(line, line_end)) {
        const text::Context c = text::JudgeSpan(text, span_begin, span_end, *k_.context_rules);
        if (c.negation != text::Negation::kNegated &&
            c.experiencer == text::Experiencer::kPatient &&
            c.temporality != text::Temporality::kHypothetical) {
          text::Mention m;
          m.concept_id = r.value_set;
          m.begin = span_begin;
          m.end = span_end;
          m.context = c;
          AddTextHit(text, m, r.value_set, c.temporality == text::Temporality::kHistorical,
                     c.uncertain, hits, from, 0, &scores);
        }
      }
      line = line_end + 1;
    }
  }

  // An affirmed mention of another complaint ("knee pain") that begins in [begin, end).
  bool OtherComplaintBetween(std::size_t begin, std::size_t end) const {
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    for (const text::Mention& o : s_.mentions) {
      if (o.begin >= end) break;
      if (o.begin < begin || o.concept_id < 0 || o.concept_id >= set_count) continue;
      if (k_.other_complaint[static_cast<std::size_t>(o.concept_id)] &&
          o.context.negation != text::Negation::kNegated) {
        return true;
      }
    }
    return false;
  }

  // A cue ("sudden", "on standing", "drowsy") mentions its value set only in the same statement
  // as a current mention of one of its `with` sets (a headache), both about the patient, now:
  // "Sudden, severe headache", "Headache on standing", "Headache; drowsy". Statements are the
  // text library's (text::Mention): a ',' does not end one, since terse notes list a headache's
  // features that way, and neither does a line the note wraps.
  void CueHits(std::string_view text, std::vector<VsHit>* hits, std::size_t from) {
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    for (const text::Mention& cue : s_.mentions) {
      if (cue.concept_id < 0 || !cue.context.CurrentForPatient()) continue;
      if (cue.concept_id < set_count) {
        PastHeadacheMadeCurrent(text, cue, hits, from);
        continue;
      }
      const int vs = cue.concept_id - set_count;
      const Cues& rule = k_.cues[static_cast<std::size_t>(vs)];
      for (const text::Mention& with : s_.mentions) {
        const bool past = rule.with_may_be_past && PastForPatient(with.context);
        if (!(with.context.CurrentForPatient() || past) ||
            std::find(rule.with.begin(), rule.with.end(), with.concept_id) == rule.with.end()) {
          continue;
        }
        const bool same_statement = SameStatement(cue, with);
        if (!same_statement && !OnePainHistoryForm(text, cue, with)) continue;
        // On a form, the lines between are other fields ("Frequency: unchanged" above
        // "Character: CHANGED"): only the cue's own line may cancel it.
        if (CueCancelled(text, cue, same_statement ? with : cue, rule) || Excluded(text, cue, vs))
          break;
        const bool uncertain = cue.context.uncertain || with.context.uncertain;
        AddTextHit(text, QuotedTogether(cue, with, cue), vs, false, uncertain, hits, from);
        // "Migraine since childhood; now different": the headache is going on now.
        if (past)
          AddTextHit(text, QuotedTogether(cue, with, with), with.concept_id, false, uncertain, hits,
                     from);
        break;
      }
    }
  }

  // A set's own phrase whose cues take a past headache ("Tension headaches since childhood; now
  // different in character"): the long-standing headache the change is told against is going on
  // now, in the same statement as for a cue, or anywhere in the text for a set whose own phrases
  // say it alone ("PMH: migraine. Today: frequency increased to near-daily").
  void PastHeadacheMadeCurrent(std::string_view text, const text::Mention& m,
                               std::vector<VsHit>* hits, std::size_t from) {
    const Cues& rule = k_.cues[static_cast<std::size_t>(m.concept_id)];
    if (!rule.with_may_be_past || Excluded(text, m, m.concept_id) ||
        ToldOfAnotherComplaint(m, m.concept_id))
      return;
    for (const text::Mention& with : s_.mentions) {
      if (!PastForPatient(with.context) ||
          std::find(rule.with.begin(), rule.with.end(), with.concept_id) == rule.with.end() ||
          !(rule.own_phrases_take_past_with_in_text || SameStatement(m, with))) {
        continue;
      }
      AddTextHit(text, QuotedTogether(m, with, with), with.concept_id, false,
                 m.context.uncertain || with.context.uncertain, hits, from);
      return;
    }
  }

  static constexpr std::size_t kQuoteBytes = 60;  // text::Quote's default

  // What a card quotes for two mentions read together: both when they are close, else
  // `alone`.
  static text::Mention QuotedTogether(const text::Mention& a, const text::Mention& b,
                                      const text::Mention& alone) {
    text::Mention both = a;
    both.begin = std::min(a.begin, b.begin);
    both.end = std::max(a.end, b.end);
    return both.end - both.begin <= kQuoteBytes ? both : alone;
  }

  // Affirmed, about the patient, in the past (not hypothetical).
  static bool PastForPatient(const text::Context& c) {
    return c.negation == text::Negation::kAffirmed &&
           c.temporality == text::Temporality::kHistorical &&
           c.experiencer == text::Experiencer::kPatient;
  }

  // The cue and its headache in one statement, in one clause or in two next to each other when
  // the cue opens its clause (after at most two words), as in a terse note's list of a
  // headache's features ("Headache; drowsy", "Known migraine; atypical for her", "Headache;
  // speech slurred"). A clause about something else ("TTH as usual; low back pain worsening")
  // is not about the headache.
  static bool SameStatement(const text::Mention& cue, const text::Mention& with) {
    if (cue.statement != with.statement) return false;
    if (cue.clause == with.clause) return true;
    const std::uint32_t apart =
        cue.clause > with.clause ? cue.clause - with.clause : with.clause - cue.clause;
    return apart == 1 && cue.clause_word <= 2;
  }

  // The cue and its headache on two lines of one pain history written as a form: each line
  // opens with a field label of findings.json's painHistoryForm ("Site: occipital" and "Rel:
  // lying flat"), and so does every line between them, with no blank line and at most maxLines
  // apart. A review of systems ("Head: headache" / "Eyes: red eye") has other labels.
  bool OnePainHistoryForm(std::string_view text, const text::Mention& cue,
                          const text::Mention& with) const {
    const Knowledge::PainHistoryForm& form = k_.pain_history_form;
    if (form.max_lines == 0 || cue.statement == with.statement) return false;
    std::size_t from = std::min(cue.begin, with.begin), to = std::max(cue.begin, with.begin);
    while (from > 0 && text[from - 1] != '\n') --from;  // the first line's start
    int lines = 0;
    for (std::size_t at = from; at <= to;) {
      if (!OpensWithFieldLabel(text.substr(at), form.labels)) return false;
      const std::size_t end = text.find('\n', at);
      if (end == std::string_view::npos || end >= to) return true;
      if (++lines > form.max_lines) return false;
      at = end + 1;
    }
    return true;
  }

  // A line that opens (after blanks and a bullet) with one of `labels` and a colon, or with
  // labels joined by '/' ("Exacerbating/relieving:", "Exac/Rel:").
  static bool OpensWithFieldLabel(std::string_view line, const std::vector<std::string>& labels) {
    std::size_t at = 0;
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t' || line[at] == '-' ||
                                line[at] == '*' || line[at] == '>'))
      ++at;
    const std::size_t colon = line.find(':', at);
    constexpr std::size_t kMaxLabelBytes = 32;
    if (colon == std::string_view::npos || colon == at || colon - at > kMaxLabelBytes) return false;
    std::string_view label = line.substr(at, colon - at);
    if (label.find('\n') != std::string_view::npos) return false;
    while (!label.empty()) {
      const std::size_t slash = label.find('/');
      std::string_view part = label.substr(0, slash);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      if (!EqualsFoldedOneOf(part, labels)) return false;
      if (slash == std::string_view::npos) break;
      label.remove_prefix(slash + 1);
    }
    return true;
  }

  // An `unless` phrase of the cue in the clauses that hold it and its headache ("sudden
  // movements", "makes her drowsy"): the words mean something else there.
  bool CueCancelled(std::string_view text, const text::Mention& cue, const text::Mention& with,
                    const Cues& rule) {
    if (rule.unless.empty()) return false;
    const std::size_t from = std::min(cue.clause_begin, with.clause_begin);
    const std::size_t to = std::max(cue.clause_end, with.clause_end);
    // An exception inside a cue of the same set is that cue's own words ("gone in bed" holds
    // "in bed", the exception for sleeping an attack off): it cancels nothing.
    return FindAnyAtWordStart(text.substr(from, to - from), rule.unless, nullptr,
                              [&](std::size_t at, std::size_t size) {
                                return InsideCueOf(cue.concept_id, from + at, from + at + size);
                              });
  }

  // [begin, end) lies within a mention of concept `id` (a cue of the same set).
  bool InsideCueOf(int id, std::size_t begin, std::size_t end) const {
    for (const text::Mention& o : s_.mentions) {
      if (o.begin > begin) break;
      if (o.concept_id == id && o.end >= end) return true;
    }
    return false;
  }

  // One of `phrases` (lower case) in `window`, case-folded, starting at a word's start: "aura"
  // is not in "Laura", "intentional" not in "unintentional". A phrase may end inside a word
  // ("allerg" finds "allergic"); one that starts with a blank or a mark carries its own start.
  // With `denied_by`, a phrase right after one of those words does not count: "without dieting"
  // is no diet.
  bool ContainsAnyAtWordStart(std::string_view window, const std::vector<std::string>& phrases,
                              const std::vector<std::string>* denied_by = nullptr) {
    return FindAnyAtWordStart(window, phrases, denied_by,
                              [](std::size_t, std::size_t) { return false; });
  }

  // ContainsAnyAtWordStart, where a match at [at, at + size) of the window for which
  // skip(at, size) holds does not count. Leaves the window, folded, in s_.lower_window.
  template <typename Skip>
  bool FindAnyAtWordStart(std::string_view window, const std::vector<std::string>& phrases,
                          const std::vector<std::string>* denied_by, Skip skip) {
    s_.lower_window.assign(window);
    for (char& c : s_.lower_window) c = FoldAscii(c);
    const std::string_view lower = s_.lower_window;
    for (const std::string& phrase : phrases) {
      if (phrase.empty()) continue;
      const bool needs_start = IsAsciiAlnum(phrase.front());
      for (std::size_t at = lower.find(phrase); at != std::string_view::npos;
           at = lower.find(phrase, at + 1)) {
        if (needs_start && !BeginsWord(lower, at)) continue;
        if (denied_by != nullptr && needs_start && FollowsOneOf(lower, at, *denied_by)) continue;
        if (skip(at, phrase.size())) continue;
        return true;
      }
    }
    return false;
  }

  // Word boundaries in `s`: no letter or digit just before `at`, or just at `end`.
  static bool BeginsWord(std::string_view s, std::size_t at) {
    return at == 0 || !IsAsciiAlnum(s[at - 1]);
  }
  static bool EndsWord(std::string_view s, std::size_t end) {
    return end >= s.size() || !IsAsciiAlnum(s[end]);
  }

  // The word before `at` in `lower` (blanks between) is one of `words`.
  static bool FollowsOneOf(std::string_view lower, std::size_t at,
                           const std::vector<std::string>& words) {
    std::size_t end = at;
    while (end > 0 && (lower[end - 1] == ' ' || lower[end - 1] == '\t')) --end;
    if (end == at) return false;
    std::size_t begin = end;
    while (begin > 0 && IsAsciiAlnum(lower[begin - 1])) --begin;
    const std::string_view word = lower.substr(begin, end - begin);
    for (const std::string& w : words) {
      if (word == w) return true;
    }
    return false;
  }

  static bool IsDigits(std::string_view w) {
    return !w.empty() &&
           std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  static int ParseDigits(std::string_view w) {  // at most a few digits, checked by IsDigits
    int value = 0;
    for (char c : w) value = value * 10 + (c - '0');
    return value;
  }

  static bool IsAsciiAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }

  // One text hit for value set `vs`; a set already in hits[from, end) is not added again (a code
  // match stands; a current mention beats a past one, a definite one a hedged one).
  // A mention that is no older than another of its set replaces it: one not in the past, or
  // not dated by a written year.
  // `quote`, when given, is the evidence instead of the mention's words with their neighbours.
  void AddTextHit(std::string_view text, const text::Mention& m, int vs, bool historical,
                  bool uncertain, std::vector<VsHit>* hits, std::size_t from, int written_year = 0,
                  const std::string* quote = nullptr) {
    auto same = std::find_if(hits->begin() + static_cast<std::ptrdiff_t>(from), hits->end(),
                             [vs](const VsHit& h) { return h.value_set == vs; });
    if (same != hits->end()) {
      if (same->certainty != Certainty::kText) return;
      const bool newer = (same->historical && !historical) ||
                         (same->historical == historical && same->written_year != 0 &&
                          (written_year == 0 || written_year > same->written_year));
      if (newer) {
        *same = {vs,
                 Certainty::kText,
                 historical,
                 uncertain,
                 f_.text.Store(quote ? *quote : text::Quote(text, m)),
                 written_year};
      } else if (same->uncertain && !uncertain && same->historical == historical) {
        same->uncertain = false;
      }
      return;
    }
    hits->push_back({vs, Certainty::kText, historical, uncertain,
                     f_.text.Store(quote ? *quote : text::Quote(text, m)), written_year});
  }

  // The year written after an event's mention in its clause ("Whiplash RTC 2009", "last seizure
  // 2020"), for findings.json's datedByWrittenYear sets: at most maxWordsBetween words between
  // (the day and month of a date are no words), and not a duration's start ("since 2019",
  // "2019 onwards"). 0 when there is none.
  int WrittenYear(std::string_view text, const text::Mention& m, int vs) const {
    const Knowledge::WrittenYearDating& rule = k_.written_year;
    if (!rule.value_sets[static_cast<std::size_t>(vs)] || m.clause_end <= m.end) return 0;
    const std::string_view rest = text.substr(m.end, m.clause_end - m.end);
    std::string_view previous;
    int words = 0;
    for (std::size_t at = 0; at < rest.size();) {
      if (!IsAsciiAlnum(rest[at])) {
        ++at;
        continue;
      }
      std::size_t end = at;
      bool digits = true;
      while (end < rest.size() && IsAsciiAlnum(rest[end])) {
        digits = digits && rest[end] >= '0' && rest[end] <= '9';
        ++end;
      }
      const std::string_view word = rest.substr(at, end - at);
      at = end;
      if (digits && word.size() == 4) {
        const int year =
            (word[0] - '0') * 1000 + (word[1] - '0') * 100 + (word[2] - '0') * 10 + (word[3] - '0');
        if (year < 1900 || year > 2099 || EqualsFoldedOneOf(previous, rule.not_after)) return 0;
        std::size_t next = at;
        while (next < rest.size() && !IsAsciiAlnum(rest[next])) ++next;
        std::size_t next_end = next;
        while (next_end < rest.size() && IsAsciiAlnum(rest[next_end])) ++next_end;
        if (EqualsFoldedOneOf(rest.substr(next, next_end - next), rule.not_before)) return 0;
        return year;
      }
      if (!(digits && word.size() <= 2) && ++words > rule.max_words_between) return 0;
      previous = word;
    }
    return 0;
  }

  // A text hit dated by a written year whose end is already older than `within_days`.
  bool OlderThanItsYear(const VsHit& hit, int within_days) const {
    if (hit.written_year == 0) return false;
    return DaysAgo(fhir::UtcMidnight(hit.written_year + 1, 1, 1)) > within_days;
  }

  // A phrase that tells a property of a complaint ("worse on standing", "came on suddenly")
  // after another complaint in its clause, with no headache named in the clause up to its end,
  // is that complaint's: "Knee pain worse on standing (OA)", "Chest pain came on suddenly",
  // "Urinary frequency increased" (the two may share words).
  // A headache named before it, even in a list ("Headache and back pain, worse on standing"),
  // keeps it the headache's: when the words leave it open, the red flag stands. Cues are not
  // read here: they need a headache in their statement already.
  bool ToldOfAnotherComplaint(const text::Mention& m, int vs) const {
    if (!k_.tells_complaint_property[static_cast<std::size_t>(vs)]) return false;
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    bool after_other = false;
    for (const text::Mention& o : s_.mentions) {  // in text order
      if (o.begin >= m.end) break;
      if (o.statement != m.statement || o.clause != m.clause || o.concept_id < 0 ||
          o.concept_id >= set_count) {
        continue;
      }
      const auto set = static_cast<std::size_t>(o.concept_id);
      if (k_.names_headache[set]) return false;
      if (k_.other_complaint[set] && o.begin < m.begin &&
          o.context.negation != text::Negation::kNegated) {
        after_other = true;
      }
    }
    return after_other;
  }

  // findings.json resolvedAfter: a phrase after the mention, within its statement and
  // max_words words, says the episode is over. An episode phrase ("fully resolved") counts only
  // when no other finding stands between ("fever 38.5 today; sore throat fully resolved" keeps
  // the fever); a phrase right after "not" or "no" counts for nothing ("not resolved").
  bool ResolvedAfter(std::string_view text, const text::Mention& m, int vs) {
    const Knowledge::ResolvedAfter& r = k_.resolved_after;
    if (r.applies.empty() || !r.applies[static_cast<std::size_t>(vs)]) return false;
    std::size_t end = m.end;
    int words = 0;
    bool in_word = false;
    while (end < text.size() && words <= r.max_words) {
      const char c = text[end];
      if (c == '\n' ||
          ((c == '.' || c == '!' || c == '?') &&
           (end + 1 == text.size() || text[end + 1] == ' ' || text[end + 1] == '\n'))) {
        break;
      }
      const bool alnum = IsAsciiAlnum(c);
      if (alnum && !in_word) ++words;
      in_word = alnum;
      ++end;
    }
    s_.lower_window.assign(text.substr(m.end, end - m.end));
    for (char& c : s_.lower_window) c = FoldAscii(c);
    const std::string_view lower = s_.lower_window;
    auto found = [&](const std::vector<std::string>& phrases, bool episode) {
      for (const std::string& phrase : phrases) {
        for (std::size_t at = lower.find(phrase); at != std::string_view::npos;
             at = lower.find(phrase, at + 1)) {
          if (!BeginsWord(lower, at)) continue;
          if (IsAsciiAlnum(phrase.back()) && !EndsWord(lower, at + phrase.size())) continue;
          if (FollowsOneOf(lower, at, k_.text_exclusions_denied_by)) continue;
          if (episode && FindingBetween(m, m.end + at, vs)) continue;
          return true;
        }
      }
      return false;
    };
    return found(r.own, false) || found(r.episode, true);
  }

  // A word of a folded window (s_.lower_window).
  struct Word {
    std::string_view text;
    std::size_t end;  // in the window
  };

  // findings.json recentByWrittenAgo: an event a note puts in the past ("H/o RTA (two-wheeler
  // skid) 5 days back") but dates, in its clause, by a span ago no longer than max_days. The
  // span may stand before the mention: "H/o fall from motorbike 1 week back, helmet not worn,
  // sustained head injury".
  bool DatedDaysAgo(std::string_view text, const text::Mention& m, int vs) {
    const Knowledge::RecentByWrittenAgo& r = k_.recent_by_written_ago;
    if (r.applies.empty() || !r.applies[static_cast<std::size_t>(vs)]) return false;
    s_.lower_window.assign(text.substr(m.clause_begin, m.clause_end - m.clause_begin));
    for (char& c : s_.lower_window) c = FoldAscii(c);
    const std::string_view lower = s_.lower_window;
    Word words[24];
    std::size_t count = 0;
    for (std::size_t at = 0; at < lower.size() && count < std::size(words);) {
      if (!IsAsciiAlnum(lower[at])) {
        ++at;
        continue;
      }
      std::size_t end = at;
      while (end < lower.size() && IsAsciiAlnum(lower[end])) ++end;
      words[count++] = {lower.substr(at, end - at), end};
      at = end;
    }
    static const std::vector<std::string> kNoFillers;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t next = i;
      const int64_t days = WrittenDurationDays(words, count, kNoFillers, &next);
      if (days < 0 || next >= count) continue;
      if (EqualsFoldedOneOf(words[next].text, r.ago_words)) return days <= r.max_days;
    }
    return false;
  }

  // findings.json headacheFreeSpan. `statement` < 0: none in the text.
  struct FreeSpan {
    int statement = -1;
    std::size_t end = 0;  // the end of the mention the span follows
  };

  // The last headache of the text with a span longer than the gate's window after it, negated
  // ("headache-free since 2023", "no headaches at all for the last 12 months") or affirmed and
  // followed by one of none_words ("occasional migraines in his 20s, none since 2005"), that
  // nothing in the text takes back: a headache told after it, or a headache told anywhere as a
  // symptom rather than named as a diagnosis or a heading ("Worst headache of my life 2 hours
  // ago, no headaches in the past 10 years" is a current headache).
  FreeSpan HeadacheFreeSpan(std::string_view text) {
    const Knowledge::HeadacheFreeSpan& r = k_.headache_free_span;
    FreeSpan found;
    if (r.applies.empty()) return found;
    std::size_t own_begin = std::string_view::npos;  // the affirmed mention the span follows
    for (const text::Mention& m : s_.mentions) {
      if (!CurrentHeadacheMention(m)) continue;
      if (found.statement >= 0 && m.begin < found.end) continue;  // the same words, another set
      const bool negated = m.context.negation == text::Negation::kNegated;
      if (SpanBeyondWindow(text, m, /*after_none=*/!negated)) {
        found = {static_cast<int>(m.statement), m.end};
        own_begin = negated ? std::string_view::npos : m.begin;
      } else if (!negated) {
        found = {};  // a headache told after it: the span is over
      }
    }
    if (found.statement < 0) return found;
    for (const text::Mention& m : s_.mentions) {
      if (!CurrentHeadacheMention(m) || m.context.negation == text::Negation::kNegated ||
          m.begin == own_begin) {
        continue;
      }
      if (!NamesHeadacheDiagnosis(m) && !HeadingLabel(text, m)) return {};
    }
    return found;
  }

  // A mention of one of headacheFreeSpan's sets, about the patient and neither past nor
  // hypothetical.
  bool CurrentHeadacheMention(const text::Mention& m) const {
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    return m.concept_id >= 0 && m.concept_id < set_count &&
           k_.headache_free_span.applies[static_cast<std::size_t>(m.concept_id)] &&
           m.context.experiencer == text::Experiencer::kPatient &&
           m.context.temporality == text::Temporality::kRecent;
  }

  // The mention's words name a headache diagnosis ("Migraine without aura"): a mention of
  // diagnosisValueSets begins where it does.
  bool NamesHeadacheDiagnosis(const text::Mention& m) const {
    const Knowledge::HeadacheFreeSpan& r = k_.headache_free_span;
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    for (const text::Mention& o : s_.mentions) {  // in text order
      if (o.begin > m.begin) break;
      if (o.begin == m.begin && o.concept_id >= 0 && o.concept_id < set_count &&
          r.diagnosis[static_cast<std::size_t>(o.concept_id)]) {
        return true;
      }
    }
    return false;
  }

  // The mention labels a heading: a colon follows within three words, with no other mark
  // between ("Headache history:", "Migraine follow-up:").
  static bool HeadingLabel(std::string_view text, const text::Mention& m) {
    int words = 0;
    bool in_word = false;
    for (std::size_t at = m.end; at < text.size() && at < m.end + 48; ++at) {
      const char c = text[at];
      if (c == ':') {  // a time ("yesterday at 18:00") is no heading
        auto digit = [&](std::size_t i) {
          return i < text.size() && text[i] >= '0' && text[i] <= '9';
        };
        return !(digit(at - 1) && digit(at + 1));
      }
      const bool alnum = IsAsciiAlnum(c);
      if (alnum && !in_word && ++words > 3) return false;
      in_word = alnum;
      if (!alnum && c != ' ' && c != '-') return false;
    }
    return false;
  }

  // Before the free span: every headache mention that HeadacheFreeSpan left standing is a
  // diagnosis's name, a heading's label or the span's own mention, now past.
  bool BeforeFreeSpan(const text::Mention& m, const FreeSpan& free) const {
    return free.statement >= 0 && m.begin < free.end &&
           k_.headache_free_span.applies[static_cast<std::size_t>(m.concept_id)];
  }

  // After the negated mention `m`, in its clause: a span ("since 2023", "for the last 12
  // months") longer than min_days that has not ended ("until last week"), and no word of a
  // span already over just before it ("previously headache-free", "had been headache free").
  // `after_none`: `m` is affirmed, and the span must follow one of none_words ("occasional
  // migraines in his 20s, none since 2005").
  bool SpanBeyondWindow(std::string_view text, const text::Mention& m, bool after_none) {
    const Knowledge::HeadacheFreeSpan& r = k_.headache_free_span;
    // The clause from three words before the mention to its end, folded.
    std::size_t from = m.begin;
    for (int words = 0; words < 3 && from > m.clause_begin;) {
      while (from > m.clause_begin && !IsAsciiAlnum(text[from - 1])) --from;
      while (from > m.clause_begin && IsAsciiAlnum(text[from - 1])) --from;
      ++words;
    }
    if (m.clause_end <= m.end) return false;
    s_.lower_window.assign(text.substr(from, m.clause_end - from));
    for (char& c : s_.lower_window) c = FoldAscii(c);
    const std::string_view lower = s_.lower_window;
    const std::size_t mention_begin = m.begin - from, mention_end = m.end - from;
    Word words[24];
    std::size_t count = 0;
    for (std::size_t at = 0; at < lower.size() && count < std::size(words);) {
      if (!IsAsciiAlnum(lower[at])) {
        ++at;
        continue;
      }
      std::size_t end = at;
      while (end < lower.size() && IsAsciiAlnum(lower[end])) ++end;
      if (at < mention_begin) {
        if (EqualsFoldedOneOf(lower.substr(at, end - at), r.past_before)) return false;
      } else if (at >= mention_end) {
        words[count++] = {lower.substr(at, end - at), end};
      }
      at = end;
    }
    for (std::size_t i = 0; i < count && i <= static_cast<std::size_t>(r.max_words); ++i) {
      std::size_t next = i + 1;
      int64_t days = -1;
      if (after_none && !AfterNoneWords(lower, words, i, r.none_words)) continue;
      if (EqualsFoldedOneOf(words[i].text, r.openers_since)) {
        days = DaysSinceWrittenDate(words, count, &next);
        // "since 3 days", "since more than 15 years": a duration, as Indian and translated
        // English write "for".
        if (days < 0) days = WrittenDurationDays(words, count, r.fillers, &next);
      } else if (EqualsFoldedOneOf(words[i].text, r.openers_for)) {
        days = WrittenDurationDays(words, count, r.fillers, &next);
      }
      if (days < 0) continue;
      if (days <= r.min_days) return false;
      const std::size_t span_end = words[next - 1].end;
      return !ContainsAnyAtWordStart(lower.substr(span_end), r.ended_by);
    }
    return false;
  }

  // One of `none_words` ("none", "no attacks", "without episodes") ends right before words[i].
  template <typename Word>
  static bool AfterNoneWords(std::string_view lower, const Word* words, std::size_t i,
                             const std::vector<std::string>& none_words) {
    if (i == 0) return false;
    const std::size_t end = words[i - 1].end;
    for (const std::string& phrase : none_words) {
      if (phrase.size() <= end && lower.substr(end - phrase.size(), phrase.size()) == phrase &&
          BeginsWord(lower, end - phrase.size())) {
        return true;
      }
    }
    return false;
  }

  // The days from the end of a date written as words[*next...] ("2023", "June 2024", "6/2024",
  // "14/02/2024", "2024-02-14") to now: the latest the span can have begun, so an ambiguous
  // day and month take the later reading. -1 when no year is written. *next: past the date.
  template <typename Word>
  int64_t DaysSinceWrittenDate(const Word* words, std::size_t count, std::size_t* next) const {
    static constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                                   "may",       "june",     "july",     "august",
                                                   "september", "october",  "november", "december"};
    int year = 0, month = 0, numbers[2] = {0, 0}, numbered = 0;
    bool year_first = false;
    std::size_t past_date = *next;
    for (std::size_t i = *next, skipped = 0; i < count && i < *next + 4; ++i) {
      const std::string_view w = words[i].text;
      const bool digits = IsDigits(w);
      if (digits && w.size() == 4) {
        year = ParseDigits(w);
        year_first = numbered == 0 && month == 0;
        past_date = i + 1;
        if (!year_first) break;
        continue;
      }
      if (digits && w.size() <= 2 && numbered < 2) {
        numbers[numbered++] = ParseDigits(w);
        past_date = i + 1;
        continue;
      }
      int named = 0;
      for (int k = 0; k < 12 && w.size() >= 3; ++k) {
        if (kMonths[k].substr(0, w.size()) == w) named = k + 1;
      }
      if (named != 0 && month == 0 && year == 0 && numbered == 0) {
        month = named;
        past_date = i + 1;
        continue;
      }
      if (year != 0 || numbered > 0 || month != 0 || skipped++ > 0) break;  // "since early 2025"
    }
    if (year < 1900 || year > 2099) return -1;
    *next = past_date;
    if (month == 0 && numbered > 0) {
      if (year_first) {
        month = numbers[0];
      } else if (numbered == 1) {
        month = numbers[0];
      } else {  // day and month in either order: the later
        for (int n : numbers) {
          if (n >= 1 && n <= 12) month = std::max(month, n);
        }
      }
    }
    if (month < 0 || month > 12) return -1;
    const Instant end = month == 0    ? fhir::UtcMidnight(year + 1, 1, 1)
                        : month == 12 ? fhir::UtcMidnight(year + 1, 1, 1)
                                      : fhir::UtcMidnight(year, month + 1, 1);
    return DaysAgo(end);
  }

  // The days of a duration written as words[*next...] ("the last 12 months", "over a year",
  // "2 yrs"): fillers, an optional number (digits or a word), then a unit. -1 when none.
  template <typename Word>
  static int64_t WrittenDurationDays(const Word* words, std::size_t count,
                                     const std::vector<std::string>& fillers, std::size_t* next) {
    static constexpr std::pair<std::string_view, int> kNumbers[] = {
        {"a", 1},    {"an", 1},   {"one", 1},     {"two", 2},     {"three", 3},
        {"four", 4}, {"five", 5}, {"six", 6},     {"seven", 7},   {"eight", 8},
        {"nine", 9}, {"ten", 10}, {"eleven", 11}, {"twelve", 12}, {"eighteen", 18}};
    static constexpr std::pair<std::string_view, int> kUnits[] = {
        {"day", 1},    {"days", 1},    {"week", 7},    {"weeks", 7}, {"wk", 7},   {"wks", 7},
        {"month", 30}, {"months", 30}, {"mo", 30},     {"mos", 30},  {"mth", 30}, {"mths", 30},
        {"mnths", 30}, {"year", 365},  {"years", 365}, {"yr", 365},  {"yrs", 365}};
    std::size_t i = *next;
    while (i < count && EqualsFoldedOneOf(words[i].text, fillers)) ++i;
    int number = 1;
    if (i < count) {
      const std::string_view w = words[i].text;
      if (w.size() <= 3 && IsDigits(w)) {
        number = ParseDigits(w);
        ++i;
      } else {
        for (const auto& [name, value] : kNumbers) {
          if (w == name) {
            number = value;
            ++i;
            break;
          }
        }
      }
    }
    if (i >= count) return -1;
    for (const auto& [name, unit_days] : kUnits) {
      if (words[i].text == name) {
        *next = i + 1;
        return static_cast<int64_t>(number) * unit_days;
      }
    }
    return -1;
  }

  // A mention of another value set (not a cue) that begins after `m` and before `before`.
  bool FindingBetween(const text::Mention& m, std::size_t before, int vs) const {
    const int set_count = static_cast<int>(k_.value_set_ids.size());
    for (const text::Mention& o : s_.mentions) {  // in text order
      if (o.begin >= before) break;
      if (o.begin < m.end || o.concept_id < 0 || o.concept_id >= set_count) continue;
      if (o.concept_id != vs) return true;
    }
    return false;
  }

  // A phrase of findings.json's text exclusions for `vs`, or of its global ones, in the mention's
  // clause. A global one ("screening") does not cancel what the clause says was found: "Screening:
  // known atlantoaxial instability", "instability on screening X-ray".
  bool Excluded(std::string_view text, const text::Mention& m, int vs) {
    const std::string_view clause = text.substr(m.clause_begin, m.clause_end - m.clause_begin);
    const std::vector<std::string>& phrases = k_.text_exclusions[vs];
    if (!phrases.empty() && ContainsAnyAtWordStart(clause, phrases, &k_.text_exclusions_denied_by))
      return true;
    return ContainsAnyAtWordStart(clause, k_.global_text_exclusions) &&
           !KeptDespiteGlobalExclusion(text, m);
  }

  bool KeptDespiteGlobalExclusion(std::string_view text, const text::Mention& m) {
    const Knowledge::GlobalExclusionKept& kept = k_.global_exclusion_kept;
    std::size_t word_end = m.begin;
    while (word_end > m.clause_begin && !IsAsciiAlnum(text[word_end - 1])) --word_end;
    std::size_t word_begin = word_end;
    while (word_begin > m.clause_begin && IsAsciiAlnum(text[word_begin - 1])) --word_begin;
    if (word_begin < word_end &&
        EqualsFoldedOneOf(text.substr(word_begin, word_end - word_begin), kept.words_before)) {
      return true;
    }
    // The phrase after the mention, or starting at its last word: a value-set phrase may end
    // with the "on" of "on screening".
    std::size_t after = m.end;
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
    std::size_t last_word = m.end;
    while (last_word > m.begin && IsAsciiAlnum(text[last_word - 1])) --last_word;
    for (const std::size_t at : {after, last_word}) {
      const std::string_view rest = text.substr(at);
      for (const std::string& phrase : kept.phrases_after) {
        if (rest.size() >= phrase.size() && EqualsFolded(rest.substr(0, phrase.size()), phrase) &&
            EndsWord(rest, phrase.size())) {
          return true;
        }
      }
    }
    return false;
  }

  // A phrase of findings.json's textExclusionsBefore for `vs` before the mention in its clause,
  // with no word of taking the medicine after it: "Allergies: Methotrexate - mucositis" is no
  // methotrexate taken; "Allergic to penicillin, on methotrexate weekly" still is.
  bool ExcludedBefore(std::string_view text, const text::Mention& m, int vs) {
    const Knowledge::ExclusionBefore& e = k_.text_exclusions_before[static_cast<std::size_t>(vs)];
    if (e.phrases.empty() || m.begin <= m.clause_begin) return false;
    const std::string_view before = text.substr(m.clause_begin, m.begin - m.clause_begin);
    std::size_t last = std::string_view::npos;
    for (std::size_t at = 0; at < before.size(); ++at) {
      if (at > 0 && IsAsciiAlnum(before[at - 1])) continue;
      for (const std::string& phrase : e.phrases) {
        if (before.size() - at >= phrase.size() &&
            EqualsFolded(before.substr(at, phrase.size()), phrase)) {
          last = at;
          break;
        }
      }
    }
    if (last == std::string_view::npos) return false;
    return !ContainsAnyAtWordStart(before.substr(last), e.unless_between);
  }

  // A coded concept: its codes, and its words only where no code was recognised (a display of
  // a recognised code is not read again, §e.2) or where code.text says more than the displays.
  // Appended to `hits` (the concept's own hits are those after hits->size() on entry).
  void ConceptHits(const fhir::CodeableConceptView& cc, std::vector<VsHit>* hits) {
    const std::size_t from = hits->size();
    CodeHits(cc, hits);
    if (hits->size() == from) {
      ConceptText(cc, &s_.concept_text);
      TextHits(s_.concept_text, hits, from);
      return;
    }
    if (auto t = cc.text(); t && !t->empty()) {
      bool is_display = false;
      cc.ForEachCoding([&](const fhir::CodingView& c) {
        if (auto d = c.display(); d && EqualsFolded(*d, *t)) is_display = true;
      });
      if (!is_display) TextHits(*t, hits, from);
    }
  }

  // `ref`, `note` and `shown.display` may be views of scratch buffers: copied into the facts'
  // text when they make new evidence.
  void Mark(int finding, std::string_view ref, std::string_view note, Certainty c,
            Shown shown = {}) {
    FindingState& s = f_.findings[finding];
    s.present = true;
    if (c < s.certainty) s.certainty = c;
    for (PendingEvidence& p : s_.evidence) {
      if (p.finding == finding && p.evidence.ref == ref) {
        if (c < p.evidence.certainty) p.evidence.certainty = c;
        return;
      }
    }
    Evidence e{f_.text.Store(ref), f_.text.Store(note), c};
    e.display = f_.text.Store(shown.display);
    e.date = shown.date;
    e.history = shown.history;
    if (shown.hit != nullptr && shown.hit->certainty == Certainty::kText) {
      e.quote = shown.hit->quote;
      e.possible = shown.hit->uncertain;
      e.history = e.history || shown.hit->historical;
    }
    s_.evidence.push_back({finding, e});
  }

  void MarkAbsent(int finding, std::string_view ref) {
    FindingState& s = f_.findings[finding];
    s.absent = true;
    std::size_t count = 0;
    for (const PendingEvidence& p : s_.evidence) count += p.finding == finding;
    if (count < 8)
      s_.evidence.push_back(
          {finding, {f_.text.Store(ref), "documented absent", Certainty::kConfirmed}});
  }

  // Every finding's evidence into one array, grouped by finding in the order found (a counting
  // sort), each FindingState viewing its part.
  // Every finding's evidence into one array, grouped by finding in the order found (sorted by
  // finding, then by arrival: a few dozen pieces, not a walk over every finding), each
  // FindingState viewing its part.
  void GroupEvidence() {
    const std::vector<PendingEvidence>& pending = s_.evidence;
    std::vector<uint32_t>& order = s_.evidence_order;
    order.resize(pending.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return pending[a].finding != pending[b].finding ? pending[a].finding < pending[b].finding
                                                      : a < b;
    });
    f_.evidence_pool.resize(pending.size());
    for (std::size_t i = 0; i < order.size(); ++i) f_.evidence_pool[i] = pending[order[i]].evidence;
    for (std::size_t i = 0; i < order.size();) {
      const int finding = pending[order[i]].finding;
      std::size_t j = i;
      while (j < order.size() && pending[order[j]].finding == finding) ++j;
      f_.findings[static_cast<std::size_t>(finding)].evidence =
          std::span<const Evidence>(f_.evidence_pool.data() + i, j - i);
      i = j;
    }
  }

  void ReadPatient() {
    const fhir::IndexedResource* p = index_.patient();
    if (p == nullptr) return;
    fhir::PatientView pv(*p, nullptr);
    if (auto id = pv.id()) f_.patient_id = std::string(*id);
    birth_ = pv.birth_date();
    if (birth_) {
      fhir::AgeYears age = fhir::AgeAt(*birth_, now_);
      f_.age = age.min_years;
    }
    if (auto g = pv.gender()) f_.sex = std::string(*g);
    // §0.2: a deceased patient gets no cards (deceasedBoolean, or a date not after now).
    if (auto d = pv.deceased(); d && d->deceased && (!d->when || d->when->start() <= now_)) {
      for (int si : k_.deceased_sources)
        Mark(k_.sources[si].finding, Ref(*p), "deceased", Certainty::kConfirmed,
             {"Patient deceased",
              d->when ? std::optional<Instant>(d->when->start()) : std::nullopt});
    }
  }

  int64_t DaysAgo(Instant t) const { return fhir::DaysBetween(t, now_); }

  void ReadConditions() {
    std::vector<ConditionRecord>& recs = s_.conditions;
    std::vector<VsHit>& all_hits = s_.cond_hits;
    recs.clear();
    all_hits.clear();
    for (const fhir::IndexedResource* r : index_.OfType("Condition")) {
      if (IsDraftOrigin(*r)) continue;
      fhir::ConditionView cv(*r, nullptr);
      const fhir::ChoiceView abatement = cv.abatement();  // found once: read twice below
      fhir::StatusAssessment a = fhir::AssessCondition(cv, abatement);
      if (a.relevance == fhir::Relevance::kIgnore) continue;
      auto code = cv.code();
      const std::size_t first = all_hits.size();
      if (code) ConceptHits(*code, &all_hits);
      ForEachNote(r->json, [&](std::string_view note) { TextHits(note, &all_hits, first); });
      if (all_hits.size() == first) continue;
      std::optional<Instant> onset = Start(cv.onset().ToInterval(birth_));
      std::optional<Instant> recorded;
      if (auto rd = cv.recorded_date()) recorded = rd->start();
      if (InFuture(onset) || InFuture(recorded)) {
        all_hits.resize(first);
        continue;
      }
      if (!onset) onset = recorded;
      std::optional<Instant> latest = onset;
      if (recorded && (!latest || *recorded > *latest)) latest = recorded;
      if (auto ab = Start(abatement.ToInterval(birth_));
          ab && !InFuture(ab) && (!latest || *ab > *latest))
        latest = ab;
      recs.push_back({r, a, first, all_hits.size(), onset, latest,
                      code ? ConceptName(*code) : std::string_view("Problem list entry")});
    }
    auto hits_of = [&](const ConditionRecord& rec) {
      return std::span<const VsHit>(all_hits.data() + rec.first, rec.end - rec.first);
    };
    // The first recorded onset per value set: "the headache's onset" (§0.1) is that of its
    // earliest record, not of this year's encounter diagnosis.
    std::vector<std::optional<Instant>>& earliest = s_.earliest;
    earliest.assign(k_.value_set_ids.size(), std::nullopt);
    for (const ConditionRecord& rec : recs) {
      if (!rec.onset) continue;
      for (const VsHit& hit : hits_of(rec)) {
        std::optional<Instant>& e = earliest[hit.value_set];
        if (!e || *rec.onset < *e) e = rec.onset;
      }
    }
    for (const ConditionRecord& rec : recs) {
      for (const VsHit& hit : hits_of(rec)) {
        // A mention of the past in the record's words makes that finding history.
        bool current = rec.a.relevance == fhir::Relevance::kCurrent && !hit.historical;
        for (int si : k_.sources_by_value_set[hit.value_set]) {
          const FindingSource& src = k_.sources[si];
          if (src.kind != SourceKind::kCondition) continue;
          if (src.coded_only && hit.certainty == Certainty::kText) continue;
          if (src.scope == Scope::kCurrent && !current) continue;
          if (src.scope == Scope::kHistory && current) continue;
          if (src.onset_known && !rec.onset) continue;
          std::optional<Instant> onset = src.earliest_onset ? earliest[hit.value_set] : rec.onset;
          if (src.earliest_onset && !onset) onset = rec.onset;
          std::string& note = s_.note;
          note.assign(current ? "active" : "history (resolved/inactive/remission)");
          if (src.recorded_within_days) {
            if (!rec.latest || DaysAgo(*rec.latest) > *src.recorded_within_days) continue;
            note += ", recorded ";
            AppendDays(DaysAgo(*rec.latest), &note);
            note += " days ago";
          }
          if (src.onset_within_days) {
            // A record without any date is treated as recent: missing data must not hide an
            // emergency.
            if (onset && DaysAgo(*onset) > *src.onset_within_days) continue;
            if (onset) {
              note += ", onset ";
              AppendDays(DaysAgo(*onset), &note);
              note += " days ago";
            } else {
              note += ", onset date not recorded";
            }
          }
          if (src.onset_age_above) {
            std::optional<int> age_at_onset;
            if (birth_ && onset)
              age_at_onset = fhir::AgeAt(*birth_, *onset).min_years;
            else if (!onset)
              age_at_onset = f_.age;
            if (!age_at_onset || !(*age_at_onset > *src.onset_age_above)) continue;
            note += ", onset at age ";
            AppendDays(*age_at_onset, &note);
          }
          if (src.onset_after_value_set >= 0) {
            if (!rec.onset) continue;
            bool related = false;
            for (const ConditionRecord& other : recs) {
              if (!other.onset) continue;
              for (const VsHit& oh : hits_of(other)) {
                if (oh.value_set != src.onset_after_value_set || oh.historical) continue;
                int64_t gap = fhir::DaysBetween(*other.onset, *rec.onset);
                if (gap >= 0 && gap <= src.onset_after_days) related = true;
              }
            }
            if (!related) continue;
            note += ", began within ";
            AppendDays(src.onset_after_days, &note);
            note += " days after ";
            note += k_.value_set_ids[src.onset_after_value_set];
          }
          if (hit.certainty == Certainty::kText) {
            note += ", ";
            AppendTextNote(hit, &note);
          }
          Mark(src.finding, Ref(*rec.r), note, fhir::Weakest(rec.a.certainty, hit.certainty),
               {rec.name, rec.onset ? rec.onset : rec.latest, &hit, !current});
        }
      }
    }
  }

  // Encounter.reasonCode (why the patient came, §0): a headache here opens the gate.
  void ReadEncounters() {
    for (const fhir::IndexedResource* r : index_.OfType("Encounter")) {
      if (IsDraftOrigin(*r)) continue;
      fhir::EncounterView ev(*r, nullptr);
      auto status = ev.status();
      if (status && (*status == "entered-in-error" || *status == "cancelled")) continue;
      std::optional<Instant> when;
      if (auto period = ev.period()) {
        if (auto start = period->start()) when = start->start();
        if (auto end = period->end()) when = end->start();
      }
      if (InFuture(when)) continue;
      std::vector<VsHit>& hits = s_.hits;
      hits.clear();
      for (const fhir::CodeableConceptView& cc : ev.reason_code()) ConceptHits(cc, &hits);
      for (const VsHit& hit : hits) {
        if (hit.historical) continue;
        for (int si : k_.sources_by_value_set[hit.value_set]) {
          const FindingSource& src = k_.sources[si];
          if (src.kind != SourceKind::kEncounter) continue;
          if (src.coded_only && hit.certainty == Certainty::kText) continue;
          if (src.recorded_within_days && (!when || DaysAgo(*when) > *src.recorded_within_days))
            continue;
          std::string& note = s_.note;
          note.assign("reason for the visit");
          if (when) {
            note += ", ";
            AppendDays(DaysAgo(*when), &note);
            note += " days ago";
          }
          if (hit.certainty == Certainty::kText) {
            note += ", ";
            AppendTextNote(hit, &note);
          }
          Mark(src.finding, Ref(*r), note, hit.certainty, {"Reason for visit", when, &hit});
        }
      }
    }
  }

  static bool Newer(const std::optional<Instant>& a, const std::optional<Instant>& b) {
    if (!a) return false;
    if (!b) return true;
    return *a >= *b;
  }

  // An Observation counts through its code (its value and interpretation decide, §0.2) and
  // through what its narrative says (valueString, note, ... §e.1). The name of a laboratory test
  // or a vital sign is never read as a finding ("HIV 1+2 antibody" is not HIV).
  void ReadObservations() {
    for (const fhir::IndexedResource* r : index_.OfType("Observation")) {
      if (IsDraftOrigin(*r)) continue;
      fhir::ObservationView ov(*r, nullptr);
      fhir::StatusAssessment a = fhir::AssessObservation(ov);
      if (a.relevance == fhir::Relevance::kIgnore) continue;
      std::optional<Instant> date = Start(ov.effective().ToInterval(birth_));
      if (!date) {
        if (auto issued = ov.issued()) date = issued->start();
      }
      if (InFuture(date)) continue;
      bool measurement = HasCategory(r->json, "laboratory", "vital-signs");
      auto code = ov.code();
      std::vector<VsHit>& hits = s_.hits;
      hits.clear();
      if (code) {
        if (measurement) {
          CodeHits(*code, &hits);
        } else {
          ConceptHits(*code, &hits);
        }
      }
      const fhir::ChoiceView value = ov.value();  // found once: read up to four times below
      const std::vector<VsHit>& narrative = NarrativeHits(ov, value);
      if (hits.empty() && narrative.empty()) continue;
      std::optional<fhir::Polarity> polarity;
      for (const VsHit& hit : hits) {
        for (int si : k_.sources_by_value_set[hit.value_set]) {
          const FindingSource& src = k_.sources[si];
          if (src.kind != SourceKind::kObservation) continue;
          if (src.coded_only && hit.certainty == Certainty::kText) continue;
          if (hit.historical && !src.history_mentions) continue;
          if (src.effective_within_days && date && DaysAgo(*date) > *src.effective_within_days)
            continue;
          if (src.effective_within_days && OlderThanItsYear(hit, *src.effective_within_days))
            continue;
          if (src.tied_to_value_set >= 0 && !TiedTo(ov, src.tied_to_value_set)) continue;
          Certainty c = fhir::Weakest(a.certainty, hit.certainty);
          if (src.quantity || src.component_value_set >= 0 || src.trend_days > 0) {
            if (src.trend_days > 0 || src.highest_within_hours) {
              s_.series.push_back({si, r, date});
            } else if (Candidate& latest = LatestOf(si);
                       Newer(date, latest.date) || latest.r == nullptr) {
              latest = {r, date, c};
            }
            continue;
          }
          if (src.answer_value_set >= 0) {
            auto cc = value.codeable_concept();
            if (cc && k_.value_sets.MatchIn(k_.value_set_ids[src.answer_value_set], *cc)) {
              s_.note.assign("coded answer ").append(ConceptName(*cc));
              s_.shown.assign(code ? ConceptName(*code) : std::string_view("Observation"))
                  .append(": ")
                  .append(ConceptName(*cc));
              Mark(src.finding, Ref(*r), s_.note, c, {s_.shown, date});
            } else if (cc) {
              MarkAbsent(src.finding, Ref(*r));
            }
            continue;
          }
          if (!polarity) polarity = fhir::ObservationPolarity(ov, value);
          // A measurement with a number and no interpretation asserts nothing by its name.
          if (measurement && *polarity == fhir::Polarity::kPresent && value.quantity() &&
              ov.interpretation().empty())
            continue;
          if (*polarity == fhir::Polarity::kPresent) {
            s_.note.assign("observation");
            if (hit.certainty == Certainty::kText) {
              s_.note += ", ";
              AppendTextNote(hit, &s_.note);
            }
            Mark(src.finding, Ref(*r), s_.note, c,
                 {code ? ConceptName(*code) : std::string_view("Observation"), date, &hit});
          } else if (*polarity == fhir::Polarity::kAbsent) {
            MarkAbsent(src.finding, Ref(*r));
          }
        }
      }
      // What the narrative affirms stands on its own: it needs no value.
      for (const VsHit& hit : narrative) {
        for (int si : k_.sources_by_value_set[hit.value_set]) {
          const FindingSource& src = k_.sources[si];
          if (src.kind != SourceKind::kObservation || src.coded_only) continue;
          if (src.quantity || src.component_value_set >= 0 || src.trend_days > 0 ||
              src.answer_value_set >= 0)
            continue;
          if (hit.historical && !src.history_mentions) continue;
          if (src.effective_within_days && date && DaysAgo(*date) > *src.effective_within_days)
            continue;
          if (src.effective_within_days && OlderThanItsYear(hit, *src.effective_within_days))
            continue;
          std::string& note = s_.note;
          note.assign("written in ");
          note += code ? ConceptName(*code) : std::string_view("an observation");
          note += ", ";
          AppendTextNote(hit, &note);
          if (date) {
            note += ", ";
            AppendDays(DaysAgo(*date), &note);
            note += " days ago";
          }
          Mark(src.finding, Ref(*r), note, fhir::Weakest(a.certainty, hit.certainty),
               {code ? ConceptName(*code) : std::string_view("Note"), date, &hit});
        }
      }
    }
  }

  // The narrative parts of an Observation (knowledge.md §e.1); `value` is its value[x].
  const std::vector<VsHit>& NarrativeHits(const fhir::ObservationView& ov,
                                          const fhir::ChoiceView& value) {
    std::vector<VsHit>& hits = s_.narrative_hits;
    hits.clear();
    if (auto str = value.string(); str && value.codeable_concept() == std::nullopt)
      TextHits(*str, &hits);
    if (auto cc = value.codeable_concept()) {
      if (auto t = cc->text()) TextHits(*t, &hits);
    }
    ForEachNote(ov.json(), [&](std::string_view note) { TextHits(note, &hits); });
    for (const fhir::ObservationComponentView& comp : ov.components()) {
      fhir::ChoiceView cv = comp.value();
      if (auto str = cv.string(); str && cv.codeable_concept() == std::nullopt && !cv.quantity())
        TextHits(*str, &hits);
    }
    return hits;
  }

  // Whether an Observation belongs to the concepts of `vs` (its code, body site or notes name
  // them), e.g. a generic 0-10 pain score recorded for the headache.
  bool TiedTo(const fhir::ObservationView& ov, int vs) {
    const std::string& id = k_.value_set_ids[vs];
    if (auto code = ov.code(); code && k_.value_sets.MatchIn(id, *code)) return true;
    if (auto site = ov.body_site(); site && k_.value_sets.MatchIn(id, *site)) return true;
    std::vector<VsHit>& hits = s_.tied_hits;
    hits.clear();
    ForEachNote(ov.json(), [&](std::string_view note) { TextHits(note, &hits); });
    return std::any_of(hits.begin(), hits.end(),
                       [vs](const VsHit& h) { return h.value_set == vs && !h.historical; });
  }

  // The numeric value of an observation (or of its component in `component_vs`) with its unit
  // (a view of the request document). The last answer is kept: the sources that judge one
  // Observation's value ask for it one after another.
  using Numeric = std::optional<std::pair<double, std::string_view>>;
  Numeric NumericValue(const fhir::IndexedResource& r, int component_vs) {
    if (&r == numeric_of_ && component_vs == numeric_component_) return numeric_;
    numeric_of_ = &r;
    numeric_component_ = component_vs;
    numeric_ = ReadNumericValue(r, component_vs);
    return numeric_;
  }

  Numeric ReadNumericValue(const fhir::IndexedResource& r, int component_vs) const {
    fhir::ObservationView ov(r, nullptr);
    auto read = [](const fhir::ChoiceView& v) -> Numeric {
      if (auto q = v.quantity()) {
        if (auto val = q->value()) {
          auto unit = q->UnitCode();
          return std::make_pair(*val, unit ? *unit : std::string_view());
        }
        return std::nullopt;
      }
      if (auto d = v.decimal()) return std::make_pair(*d, std::string_view());
      return std::nullopt;
    };
    if (component_vs < 0) return read(ov.value());
    for (const fhir::ObservationComponentView& comp : ov.components()) {
      auto cc = comp.code();
      if (cc && k_.value_sets.MatchIn(k_.value_set_ids[component_vs], *cc))
        return read(comp.value());
    }
    return std::nullopt;
  }

  static bool UnitOk(const Threshold& t, std::string_view unit) {
    if (t.units.empty() || unit.empty()) return true;
    return std::find(t.units.begin(), t.units.end(), unit) != t.units.end();
  }

  // The most extreme reading (highest for ">", lowest for "<") within the window before the
  // most recent reading of s_.series[from, to) (sorted by date): a blood pressure of 150/95
  // yesterday still counts when today's is 130/85 (§e.3).
  void EvaluateHighest(const FindingSource& src, std::size_t from, std::size_t to) {
    const Threshold& t = src.component_value_set >= 0 ? src.component : *src.quantity;
    std::optional<Instant> newest;
    for (std::size_t i = from; i < to; ++i) {
      if (s_.series[i].date && (!newest || *s_.series[i].date > *newest))
        newest = s_.series[i].date;
    }
    bool want_high = t.op == CompareOp::kGt || t.op == CompareOp::kGe;
    Numeric best;
    const fhir::IndexedResource* best_r = nullptr;
    for (std::size_t i = from; i < to; ++i) {
      const SeriesPoint& p = s_.series[i];
      if (newest && p.date &&
          std::chrono::duration_cast<std::chrono::hours>(*newest - *p.date).count() >
              *src.highest_within_hours)
        continue;
      if (newest && !p.date) continue;
      auto v = NumericValue(*p.r, src.component_value_set);
      if (!v || !UnitOk(t, v->second)) continue;
      if (!best || (want_high ? v->first > best->first : v->first < best->first)) {
        best = v;
        best_r = p.r;
      }
    }
    if (best && Compare(best->first, t.op, t.value)) {
      fhir::ObservationView bv(*best_r, nullptr);
      auto bcode = bv.code();
      std::optional<Instant> bdate = Start(bv.effective().ToInterval(birth_));
      // "8 {score}": the value with its unit, written once for both texts.
      std::string value = Num(best->first);
      if (!best->second.empty()) value.append(" ").append(best->second);
      s_.shown.assign(bcode ? ConceptName(*bcode) : std::string_view("Observation"))
          .append(" ")
          .append(value);
      s_.note.assign(want_high ? "highest value of " : "lowest value of ");
      AppendDays(*src.highest_within_hours, &s_.note);
      s_.note.append(" h ").append(value).append(" ").append(CompareOpText(t.op)).append(" ");
      s_.note.append(Num(t.value));
      Mark(src.finding, Ref(*best_r), s_.note, Certainty::kConfirmed, {s_.shown, bdate});
    }
  }

  Candidate& LatestOf(int source) {
    for (auto& [si, cand] : s_.latest) {
      if (si == source) return cand;
    }
    return s_.latest.emplace_back(source, Candidate{}).second;
  }

  void EvaluateLatest() {
    // In the order of the sources, as a walk over all of them would mark.
    std::sort(s_.latest.begin(), s_.latest.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [si, cand] : s_.latest) {
      if (cand.r == nullptr) continue;
      const FindingSource& src = k_.sources[si];
      const Threshold& t = src.component_value_set >= 0 ? src.component : *src.quantity;
      auto v = NumericValue(*cand.r, src.component_value_set);
      if (!v || !UnitOk(t, v->second)) continue;
      if (Compare(v->first, t.op, t.value)) {
        fhir::ObservationView lv(*cand.r, nullptr);
        auto lcode = lv.code();
        // "8 {score}": the value with its unit, written once for both texts.
        std::string value = Num(v->first);
        if (!v->second.empty()) value.append(" ").append(v->second);
        s_.shown.assign(lcode ? ConceptName(*lcode) : std::string_view("Observation"));
        s_.shown.append(" ").append(value);
        s_.note.assign("most recent value ");
        s_.note.append(value)
            .append(" ")
            .append(CompareOpText(t.op))
            .append(" ")
            .append(Num(t.value));
        Mark(src.finding, Ref(*cand.r), s_.note, cand.certainty, {s_.shown, cand.date});
      }
    }
    // Trends: the rise between the earliest and the latest value within the window.
    std::sort(s_.series.begin(), s_.series.end(), [](const SeriesPoint& a, const SeriesPoint& b) {
      if (a.source != b.source) return a.source < b.source;
      return a.date.value_or(Instant{}) < b.date.value_or(Instant{});
    });
    for (std::size_t i = 0; i < s_.series.size();) {
      std::size_t j = i;
      const FindingSource& src = k_.sources[s_.series[i].source];
      if (src.highest_within_hours) {
        while (j < s_.series.size() && s_.series[j].source == s_.series[i].source) ++j;
        EvaluateHighest(src, i, j);
        i = j;
        continue;
      }
      std::optional<std::pair<double, const fhir::IndexedResource*>> first, last;
      for (; j < s_.series.size() && s_.series[j].source == s_.series[i].source; ++j) {
        if (!s_.series[j].date || DaysAgo(*s_.series[j].date) > src.trend_days) continue;
        auto v = NumericValue(*s_.series[j].r, -1);
        if (!v) continue;
        if (!first) first = std::make_pair(v->first, s_.series[j].r);
        last = std::make_pair(v->first, s_.series[j].r);
      }
      bool met = false;
      if (first && last && first->second != last->second) {
        met = src.trend_rise ? last->first - first->first >= *src.trend_rise
                             : first->first - last->first < *src.trend_improvement_below;
      }
      if (met) {
        std::string note = "changed from " + Num(first->first) + " to " + Num(last->first) +
                           " within " + std::to_string(src.trend_days) + " days";
        std::string shown = "Pain score " + Num(first->first) + " then " + Num(last->first);
        Mark(src.finding, Ref(*first->second), note, Certainty::kConfirmed, {shown, std::nullopt});
        Mark(src.finding, Ref(*last->second), note, Certainty::kConfirmed, {shown, std::nullopt});
      }
      i = j;
    }
  }

  void RecordActive(std::span<const VsHit> hits, const fhir::CodeableConceptView& cc) {
    for (const VsHit& h : hits) f_.active_value_sets[h.value_set] = 1;
    cc.ForEachCoding([&](const fhir::CodingView& c) {
      auto [sys, code] = c.system_and_code();
      if (sys && code) {
        f_.active_codes.insert(std::string(fhir::CanonicalSystem(*sys)) + "|" +
                               fhir::NormalizeCode(fhir::IdentifySystem(*sys), *code));
      }
    });
  }

  int OveruseClassOf(std::span<const VsHit> hits) const {
    for (const VsHit& h : hits) {
      if (h.value_set == k_.overuse_exclude_value_set) return -1;
    }
    for (std::size_t c = 0; c < k_.overuse_classes.size(); ++c) {
      for (const VsHit& h : hits) {
        if (h.value_set == k_.overuse_classes[c].value_set) return static_cast<int>(c);
      }
    }
    return -1;
  }

  // §0.2: an "active" MedicationRequest authored long ago, with no refills and no validity
  // period covering now, is a status nobody closed, not current use.
  bool StaleRequest(const fhir::MedicationRequestView& mr,
                    const std::optional<Instant>& authored) const {
    if (!authored || DaysAgo(*authored) <= k_.relevance.stale_medication_request_days) return false;
    if (auto repeats = mr.dispense_repeats_allowed(); repeats && *repeats > 0) return false;
    if (auto validity = mr.dispense_validity_period()) {
      if (auto iv = validity->ToInterval(); iv && iv->Contains(now_)) return false;
    }
    return true;
  }

  void ReadMedications(std::string_view type) {
    bool is_request = type == "MedicationRequest";
    for (const fhir::IndexedResource* r : index_.OfType(type)) {
      fhir::MedicationUseView mu(*r, nullptr);
      std::optional<fhir::CodeableConceptView> drug = mu.MedicationCode(&index_);
      // Read only for a draft or a medicine the findings use (views without a sink report
      // nothing, so when they are read does not matter).
      auto read_dosages = [&] {
        return is_request ? fhir::MedicationRequestView(*r, nullptr).dosage_instruction()
                          : fhir::MedicationStatementView(*r, nullptr).dosage();
      };
      if (IsDraftOrigin(*r)) {
        std::vector<fhir::DosageView> dosages = read_dosages();
        AddDraft(*r, drug ? std::optional<fhir::CodeableConceptView>(*drug) : std::nullopt,
                 &dosages);
        continue;
      }
      fhir::StatusAssessment a =
          is_request ? fhir::AssessMedicationRequest(fhir::MedicationRequestView(*r, nullptr))
                     : fhir::AssessMedicationStatement(fhir::MedicationStatementView(*r, nullptr));
      if (a.relevance == fhir::Relevance::kIgnore) continue;
      if (!drug) {
        f_.notes.push_back(std::string(Ref(*r)) + ": the medicine could not be identified");
        continue;
      }
      std::vector<VsHit>& hits = s_.hits;
      hits.clear();
      ConceptHits(*drug, &hits);
      if (hits.empty()) continue;
      bool current = a.relevance == fhir::Relevance::kCurrent;
      std::optional<Instant> start;
      if (is_request) {
        fhir::MedicationRequestView mr(*r, nullptr);
        if (auto ao = mr.authored_on()) start = ao->start();
        if (InFuture(start)) continue;
        if (current && StaleRequest(mr, start)) current = false;
      } else {
        std::optional<fhir::Interval> effective =
            fhir::MedicationStatementView(*r, nullptr).effective().ToInterval(birth_);
        start = Start(effective);
        if (InFuture(start)) continue;
        // §0.2: a statement is current use only while its period covers now or ended lately.
        if (current && effective && effective->end != fhir::DistantFuture() &&
            DaysAgo(effective->end) > k_.relevance.statement_ended_within_days) {
          current = false;
        }
      }
      MedUse use;
      use.ref = f_.text.Store(Ref(*r));
      use.name = f_.text.Store(ConceptName(*drug));
      use.overuse_class = OveruseClassOf(hits);
      use.days_per_month = DaysPerMonthIn(r->json, is_request ? "dosageInstruction" : "dosage");
      if (start) use.duration_days = DaysAgo(*start);
      use.current = current;
      if (current) RecordActive(hits, *drug);
      if (current && use.overuse_class >= 0 && !use.days_per_month) {
        f_.notes.push_back(std::string(use.ref) + " (" + std::string(use.name) +
                           "): no dosing frequency, so days per month are not documented");
      }
      for (const VsHit& hit : hits) {
        for (int si : k_.sources_by_value_set[hit.value_set]) {
          const FindingSource& src = k_.sources[si];
          if (src.kind != SourceKind::kMedication) continue;
          if (current ? !src.allow_current : !src.allow_history) continue;
          std::string& note = s_.note;
          note.assign(use.name).append(current ? " (active" : " (past");
          if (src.min_duration_days) {
            // No start date: counted (missing data must not hide a risk), and said so.
            if (use.duration_days && *use.duration_days < *src.min_duration_days) continue;
            if (use.duration_days) {
              note += ", ";
              AppendDays(*use.duration_days, &note);
              note += " days";
            } else {
              note += ", start not recorded";
            }
          }
          note += ")";
          Mark(src.finding, use.ref, note, fhir::Weakest(a.certainty, hit.certainty),
               {use.name, start, &hit, !current});
        }
      }
      f_.med_uses.push_back(std::move(use));
    }
  }

  void AddDraft(const fhir::IndexedResource& r, std::optional<fhir::CodeableConceptView> code,
                const std::vector<fhir::DosageView>* dosages) {
    DraftOrder d;
    d.ref = r.id.empty() ? std::string() : std::string(r.resource_type) + "/" + std::string(r.id);
    d.resource_type = std::string(r.resource_type);
    if (code) {
      d.name = std::string(ConceptName(*code));
      std::vector<VsHit>& hits = s_.draft_hits;
      hits.clear();
      ConceptHits(*code, &hits);
      for (const VsHit& h : hits) d.value_sets.push_back(h.value_set);
      d.overuse_class = OveruseClassOf(hits);
    } else {
      d.name = "unidentified " + d.resource_type;
    }
    // Why the draft is ordered: a headache reason opens the gate for order-sign (§0).
    if (const rapidjson::Value* json = r.json; json != nullptr && json->IsObject()) {
      auto reasons = json->FindMember("reasonCode");
      if (reasons != json->MemberEnd() && reasons->value.IsArray()) {
        for (const rapidjson::Value& reason : reasons->value.GetArray()) {
          fhir::CodeableConceptView cc(&reason, nullptr);
          s_.reason_hits.clear();
          ConceptHits(cc, &s_.reason_hits);
          for (const VsHit& hit : s_.reason_hits) {
            if (hit.historical) continue;
            for (int si : k_.sources_by_value_set[hit.value_set]) {
              if (k_.sources[si].kind != SourceKind::kDraftReason) continue;
              if (k_.sources[si].coded_only && hit.certainty == Certainty::kText) continue;
              Mark(k_.sources[si].finding, d.ref.empty() ? d.resource_type + " draft" : d.ref,
                   "reason for the draft order", hit.certainty,
                   {"Reason for the draft order", std::nullopt, &hit});
            }
          }
        }
      }
    }
    if (dosages != nullptr) d.days_per_month = DaysPerMonthFromDosage(*dosages);
    if (r.resource_type == "MedicationRequest") {
      fhir::MedicationRequestView mr(r, nullptr);
      if (auto supply = mr.dispense_expected_supply_duration()) {
        auto value = supply->value();
        auto unit = supply->UnitCode();
        std::optional<double> unit_days =
            unit ? fhir::TimingRepeatView::UnitInDays(*unit) : std::optional<double>(1.0);
        if (value && unit_days) {
          int64_t refills = mr.dispense_repeats_allowed().value_or(0);
          d.supply_days =
              *value * *unit_days * static_cast<double>(1 + std::max<int64_t>(0, refills));
        }
      }
    }
    f_.drafts.push_back(std::move(d));
  }

  void ReadOrders(std::string_view type) {
    bool is_sr = type == "ServiceRequest";
    for (const fhir::IndexedResource* r : index_.OfType(type)) {
      std::optional<fhir::CodeableConceptView> code;
      fhir::StatusAssessment a;
      std::optional<Instant> start;
      if (is_sr) {
        fhir::ServiceRequestView v(*r, nullptr);
        code = v.code();
        if (IsDraftOrigin(*r)) {
          AddDraft(*r, code, nullptr);
          continue;
        }
        a = fhir::AssessServiceRequest(v);
        start = Start(v.occurrence().ToInterval(birth_));
        std::optional<Instant> authored;
        if (auto ao = v.authored_on()) authored = ao->start();
        if (InFuture(authored)) continue;
        if (!start) start = authored;
      } else {
        fhir::ProcedureView v(*r, nullptr);
        code = v.code();
        if (IsDraftOrigin(*r)) {
          AddDraft(*r, code, nullptr);
          continue;
        }
        a = fhir::AssessProcedure(v);
        start = Start(v.performed().ToInterval(birth_));
        if (InFuture(start)) continue;
      }
      if (a.relevance == fhir::Relevance::kIgnore || !code) continue;
      std::vector<VsHit>& hits = s_.hits;
      hits.clear();
      ConceptHits(*code, &hits);
      if (hits.empty()) continue;
      bool current = a.relevance == fhir::Relevance::kCurrent;
      if (current) RecordActive(hits, *code);
      std::string_view name;  // the order's name, read once at its first mark
      for (const VsHit& hit : hits) {
        for (int si : k_.sources_by_value_set[hit.value_set]) {
          const FindingSource& src = k_.sources[si];
          if (src.kind != SourceKind::kOrder) continue;
          if (!src.resource_type.empty() && src.resource_type != type) continue;
          if (current ? !src.allow_current : !src.allow_history) continue;
          if (src.started_at_least_days_ago &&
              (!start || DaysAgo(*start) < *src.started_at_least_days_ago))
            continue;
          if (src.started_within_days && (!start || DaysAgo(*start) > *src.started_within_days))
            continue;
          if (name.empty()) name = ConceptName(*code);
          s_.note.assign(name).append(current ? " (ordered / in progress" : " (completed");
          if (start) {
            s_.note += ", started ";
            AppendDays(DaysAgo(*start), &s_.note);
            s_.note += " days ago";
          }
          s_.note += ")";
          s_.shown.assign(name).append(current ? " (ordered)" : " (done)");
          Mark(src.finding, Ref(*r), s_.note, fhir::Weakest(a.certainty, hit.certainty),
               {s_.shown, start, &hit, !current});
        }
      }
    }
  }

  void ReadAllergies() {
    for (const fhir::IndexedResource* r : index_.OfType("AllergyIntolerance")) {
      if (IsDraftOrigin(*r)) continue;
      fhir::AllergyIntoleranceView v(*r, nullptr);
      fhir::StatusAssessment a = fhir::AssessAllergyIntolerance(v);
      if (a.relevance != fhir::Relevance::kCurrent) continue;
      std::vector<fhir::CodeableConceptView> concepts = v.reaction_substances();
      if (auto code = v.code()) concepts.insert(concepts.begin(), *code);
      for (const fhir::CodeableConceptView& cc : concepts) {
        s_.hits.clear();
        ConceptHits(cc, &s_.hits);
        for (const VsHit& hit : s_.hits) {
          for (int si : k_.sources_by_value_set[hit.value_set]) {
            const FindingSource& src = k_.sources[si];
            if (src.kind != SourceKind::kAllergy) continue;
            s_.note.assign("allergy/intolerance: ").append(ConceptName(cc));
            s_.shown.assign("Allergy: ").append(ConceptName(cc));
            Mark(src.finding, Ref(*r), s_.note, fhir::Weakest(a.certainty, hit.certainty),
                 {s_.shown, std::nullopt, &hit});
          }
        }
      }
    }
  }

  // "Sumatriptan, about 12 days/month for 200 days" (the clinician's view of an overused medicine).
  static std::string UseShown(const MedUse& u) {
    std::string s(u.name);
    if (u.days_per_month) s += ", about " + Num(std::round(*u.days_per_month)) + " days/month";
    if (u.duration_days) s += " for " + std::to_string(*u.duration_days) + " days";
    return s;
  }

  // ICHD-3 8.2: per class, the days per month of the current medicines of that class (summed,
  // at most 30) against the class threshold, for longer than the minimum duration; several
  // classes none of which is overused alone count against the combined threshold.
  void EvaluateOveruse() {
    const std::size_t n = k_.overuse_classes.size();
    std::vector<double> days(n, 0);
    std::vector<bool> long_enough(n, false);
    std::vector<std::vector<const MedUse*>> uses(n);
    for (const MedUse& u : f_.med_uses) {
      if (!u.current || u.overuse_class < 0 || !u.days_per_month) continue;
      days[u.overuse_class] = std::min(30.0, days[u.overuse_class] + *u.days_per_month);
      if (!u.duration_days || *u.duration_days > k_.overuse_min_duration_days)
        long_enough[u.overuse_class] = true;
      uses[u.overuse_class].push_back(&u);
    }
    auto note = [&](const MedUse& u, double threshold) {
      std::string s = std::string(u.name) + ": about " + Num(std::round(*u.days_per_month)) +
                      " days/month (limit " + Num(threshold) + " for " +
                      k_.overuse_classes[u.overuse_class].display + ")";
      s += u.duration_days ? ", for " + std::to_string(*u.duration_days) + " days"
                           : ", start date not recorded";
      return s;
    };
    for (int si : k_.overuse_sources) {
      const FindingSource& src = k_.sources[si];
      bool any_class = false;
      double total = 0;
      bool total_long = false;
      for (std::size_t c = 0; c < n; ++c) {
        bool selected = src.overuse_classes.empty() ||
                        std::find(src.overuse_classes.begin(), src.overuse_classes.end(),
                                  static_cast<int>(c)) != src.overuse_classes.end();
        if (!selected) continue;
        total += days[c];
        total_long = total_long || long_enough[c];
        bool duration_ok = !src.require_duration || long_enough[c];
        if (days[c] >= k_.overuse_classes[c].min_days_per_month && duration_ok) {
          any_class = true;
          for (const MedUse* u : uses[c])
            Mark(src.finding, u->ref, note(*u, k_.overuse_classes[c].min_days_per_month),
                 Certainty::kConfirmed, {Shown{UseShown(*u), std::nullopt}});
        }
      }
      if (!any_class && src.overuse_classes.empty() &&
          std::min(total, 30.0) >= k_.overuse_combined_days &&
          (!src.require_duration || total_long)) {
        for (std::size_t c = 0; c < n; ++c) {
          for (const MedUse* u : uses[c]) {
            Mark(src.finding, u->ref,
                 note(*u, k_.overuse_classes[c].min_days_per_month) +
                     "; several classes together >= " + Num(k_.overuse_combined_days),
                 Certainty::kConfirmed, {Shown{UseShown(*u), std::nullopt}});
          }
        }
      }
    }
  }

  const Knowledge& k_;
  const fhir::ResourceIndex& index_;
  Instant now_;
  std::string_view draft_origin_;
  std::optional<fhir::DateTime> birth_;
  Facts f_;
  ExtractScratch& s_;
  // NumericValue's last question and answer (per call: resources are this request's).
  const fhir::IndexedResource* numeric_of_ = nullptr;
  int numeric_component_ = 0;
  Numeric numeric_;
};

}  // namespace

namespace {

// The days per month one dosage implies; nullopt when it cannot tell (the next one is read).
std::optional<double> DosageDaysPerMonth(const fhir::DosageView& d) {
  auto timing = d.timing();
  if (!timing) return std::nullopt;
  if (auto repeat = timing->repeat()) {
    auto unit = repeat->period_unit();
    if (unit) {
      auto unit_days = fhir::TimingRepeatView::UnitInDays(*unit);
      if (!unit_days) return std::nullopt;
      double period_days = repeat->period().value_or(1.0) * *unit_days;
      double freq = static_cast<double>(repeat->frequency().value_or(1));
      if (period_days <= 1.0) return 30.0;
      return 30.0 * std::min(freq, period_days) / period_days;
    }
  }
  if (auto code = timing->code()) {
    std::string c = code->FirstCode() ? std::string(*code->FirstCode()) : std::string();
    for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    static constexpr std::string_view kDaily[] = {"QD",  "BID", "TID", "QID", "AM", "PM",
                                                  "QAM", "QPM", "Q4H", "Q6H", "Q8H"};
    for (std::string_view dcode : kDaily) {
      if (c == dcode) return 30.0;
    }
    if (c == "QOD") return 15.0;
    if (c == "WK") return 30.0 / 7.0;
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> DaysPerMonthFromDosage(const std::vector<fhir::DosageView>& dosages) {
  for (const fhir::DosageView& d : dosages) {
    if (auto days = DosageDaysPerMonth(d)) return days;
  }
  return std::nullopt;
}

namespace {

// DaysPerMonthFromDosage over the dosages in `resource`'s array member `key`, read in place.
std::optional<double> DaysPerMonthIn(const rapidjson::Value* resource, std::string_view key) {
  std::optional<double> days;
  ForEachObjectIn(resource, key, [&](const rapidjson::Value& e) {
    if (!days) days = DosageDaysPerMonth(fhir::DosageView(&e, nullptr));
  });
  return days;
}

}  // namespace

Facts ExtractFacts(const Knowledge& k, const fhir::ResourceIndex& index, fhir::Instant now,
                   std::string_view draft_origin) {
  return Extractor(k, index, now, draft_origin).Run();
}

}  // namespace cephalgia::rules::internal
