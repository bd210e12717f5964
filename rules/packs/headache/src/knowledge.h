// File: knowledge.h (private)
//
// The compiled form of the knowledge files: every id is resolved to an index at load time, so
// evaluation never looks anything up by name. Load order and checks are in knowledge.cc.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cephalgia/fhir/terminology.h"
#include "cephalgia/status.h"
#include "cephalgia/text/clinical_text.h"
#include "expr.h"

namespace cephalgia::rules::internal {

enum class Tier { kNone = 0, kUrgent = 1, kEmergency = 2 };

struct RenderFragments;  // render.cc

struct Threshold {
  CompareOp op = CompareOp::kGe;
  double value = 0;
  std::vector<std::string> units;  // empty: any unit
};

// kEncounter: Encounter.reasonCode; kDeceased: the Patient is deceased at `now`; kDraftReason:
// the reasonCode of an order-sign draft order.
enum class SourceKind {
  kCondition,
  kObservation,
  kMedication,
  kAllergy,
  kOrder,
  kOveruse,
  kEncounter,
  kDeceased,
  kDraftReason
};
enum class Scope { kCurrent, kHistory, kAny };

struct FindingSource {
  SourceKind kind = SourceKind::kCondition;
  int finding = -1;               // owning finding index
  int value_set = -1;             // index into Knowledge::value_set_ids (-1 for overuse)
  Scope scope = Scope::kCurrent;  // conditions
  bool coded_only = false;        // ignore text matches (kText certainty)
  bool allow_current = true, allow_history = false;  // medications / orders
  std::optional<int> onset_within_days;
  // Conditions: the latest of onset, recordedDate and abatement within N days ("recorded
  // recently", knowledge.md §0); Encounters: the period within N days.
  std::optional<int> recorded_within_days;
  // Conditions: judge the onset of the earliest condition in the same value set (the first
  // recorded date of the headache, §0.1), not of this record.
  bool earliest_onset = false;
  bool onset_known = false;  // conditions: only records with an onset or recordedDate
  std::optional<double> onset_age_above;
  int onset_after_value_set = -1;
  int onset_after_days = 0;
  std::optional<int> effective_within_days;
  // Observations: only readings tied to this value set (code, bodySite, focus or note name it),
  // e.g. a generic pain score that belongs to the headache (§0.1).
  int tied_to_value_set = -1;
  // Observations with a threshold: the highest reading within this many hours before the most
  // recent one, not only the most recent (§e.3, blood pressure).
  std::optional<int> highest_within_hours;
  // Observations: a historical text mention ("history of breast cancer") counts too.
  bool history_mentions = false;
  std::optional<Threshold> quantity;
  int component_value_set = -1;
  Threshold component;
  int answer_value_set = -1;
  std::optional<double> trend_rise;               // latest - earliest >= rise
  std::optional<double> trend_improvement_below;  // earliest - latest < value
  int trend_days = 0;
  std::optional<int> min_duration_days;
  std::optional<int> started_at_least_days_ago;
  std::optional<int> started_within_days;  // orders: performed/started at most N days ago
  std::string resource_type;         // orders: "Procedure" or "ServiceRequest" only ("" = both)
  std::vector<int> overuse_classes;  // empty = all
  bool require_duration = true;
};

struct Finding {
  std::string id;
  std::string display;
};

struct OveruseClass {
  std::string id, display;
  int value_set = -1;
  double min_days_per_month = 0;
};

struct Coding {
  std::string system, code, display;
};

struct OrderDef {
  std::string id;
  bool medication = false;  // MedicationRequest, else ServiceRequest
  Coding code;
  std::string label, note, dosage;
  std::vector<std::string> classes;
  int active_value_set = -1;
  // Worked out at load for decide.cc, as they never change: the restrictions whose value set
  // holds this order's code (in file order), the code keyed as Facts::active_codes keys codes,
  // and the description of the action that creates the order.
  std::vector<int> restricted_by;
  std::string active_code_key;
  std::string create_description;  // "Propose <label>" / "Order <label>"
};

struct TierDef {
  std::string indicator, priority, label;
  std::vector<int> always_orders;
};

// A presentation of a red flag that changes its tier, wording or orders (e.g. GCA features make
// new onset after 50 same-day; visual symptoms make it an emergency). The first that applies wins.
struct RedFlagVariant {
  Tier tier = Tier::kEmergency;
  Expr when;
  std::vector<int> orders;
  std::string summary, detail;
};

struct RedFlag {
  std::string id, title, summary, detail;
  Tier tier = Tier::kUrgent;
  Expr when;
  std::vector<int> orders;
  std::vector<int> citations;
  std::vector<RedFlagVariant> variants;  // "variants" then "escalation", in file order
};

struct Diagnosis {
  // summary: the card summary when no ladder step suggests anything; short_name starts the
  // summary otherwise ("Cervicogenic headache: refer to physiotherapy (step 1)").
  std::string id, title, short_name, summary, detail;
  Expr explicit_dx, criteria;
  int ladder = -1;
  std::vector<int> citations;
};

struct Undetermined {
  std::string id, title, summary, detail;
  Expr when;
  std::vector<int> deciding_findings;
  std::vector<int> citations;
};

struct LadderStep {
  std::string id, title, summary;  // summary: what to do, e.g. "refer to physiotherapy (step 1)"
  int step = 1;
  Expr when;
  std::vector<int> orders;
  bool alternatives = false;
  std::vector<int> citations;
};

struct Ladder {
  std::string id;
  std::vector<int> steps;
};

struct SafetyCard {
  std::string id, title, summary, detail;
  Expr when;
  std::vector<int> citations;
  // When this order is suggested on another card, the caution goes into that suggestion's note
  // instead of a card of its own (e.g. "no cervical manipulation" on the physiotherapy referral).
  int fold_into_order = -1;
};

struct Restriction {
  std::string id, reason;
  int value_set = -1;
  bool has_when = false, has_unless = false;
  Expr when, unless;
};

struct OrderSignRule {
  std::string id, title, indicator, summary, detail;
  int draft_value_set = -1;
  bool draft_overuse = false;
  // Overuse (ICHD-3 8.2 needs regular overuse for > 3 months): the existing use of the class plus
  // the draft's supply and refills must exceed `sustained_days`; a draft without a supply counts
  // as `assumed_supply_days`.
  int sustained_days = 0;
  int assumed_supply_days = 30;
  bool has_when = false;
  Expr when;
  bool delete_draft = false, propose_ladder = false;
  std::vector<int> citations;
};

struct Citation {
  std::string id, text, url, label;  // label: the short name on a card link
  bool guideline = false;            // guideline-grade: shown to clinicians as a card link
};

struct Service {
  std::string id, hook, title, description;
  std::vector<std::pair<std::string, std::string>> prefetch;
  std::vector<std::string> required_prefetch;
  bool order_sign = false;
};

// Hash and equality that accept std::string_view, so lookups by a view do not allocate.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// When the service speaks at all (knowledge.md §0), and how old a record may be to count as
// current (§0.2).
struct Relevance {
  Expr gate;
  std::vector<int> citations;
  int stale_medication_request_days = 365;  // active MedicationRequest authored longer ago ...
  int statement_ended_within_days = 90;     // MedicationStatement ended at most this long ago
};

// A value set's cues (valuesets.json `cues`): phrases that mention the set only in the same
// statement as a current mention of one of the `with` sets, and not beside an `unless` phrase.
struct Cues {
  std::vector<int> with;            // value set indexes (a headache)
  std::vector<std::string> unless;  // lower case, searched in the statement
  // A past mention of a `with` set anchors the cue too: a change of pattern or a worsening is
  // told against the long-standing headache ("Tension headaches since childhood; now
  // different"), and it makes that headache current.
  bool with_may_be_past = false;
  // With with_may_be_past, the set's own phrases ("frequency increased", "aura now lasting
  // longer") take a past `with` mention anywhere in the same text, not only in their statement:
  // "PMH: migraine. Today: frequency increased to near-daily" tells a change of that migraine.
  bool own_phrases_take_past_with_in_text = false;
};

struct Knowledge {
  std::string knowledge_version, pack_id, pack_version, rule_system, extension_key;
  std::string source_label, source_url;
  std::vector<Service> services;
  std::vector<Coding> override_reasons;
  // Per prefetch key, the plain sentence a clinician reads when it could not be had.
  std::unordered_map<std::string, std::string> prefetch_gap_text;
  std::vector<Citation> citations;

  fhir::ValueSetIndex value_sets;
  std::vector<std::string> value_set_ids;  // index -> id
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> value_set_index;
  std::vector<std::vector<std::string>> text_exclusions;  // per value set (lower case)
  // findings.json globalTextExclusions ("screening"), applied to every value set, and what keeps
  // a mention despite them: a word right before it ("known") or a phrase right after it ("on
  // screening"), lower case.
  std::vector<std::string> global_text_exclusions;
  struct GlobalExclusionKept {
    std::vector<std::string> words_before, phrases_after;
  } global_exclusion_kept;
  // findings.json textExclusionsDeniedBy: a word right before an exclusion phrase that denies it
  // ("without dieting"), lower case.
  std::vector<std::string> text_exclusions_denied_by;
  // findings.json textExclusionsBefore, per value set: a phrase before the mention in its clause
  // ("Allergies: methotrexate") cancels it unless a word of taking the medicine stands between.
  struct ExclusionBefore {
    std::vector<std::string> phrases, unless_between;  // lower case
  };
  std::vector<ExclusionBefore> text_exclusions_before;
  // findings.json's complaintProperties: per value set, whether its phrases tell a property of
  // whatever complaint they follow ("worse on standing"); which sets name another complaint
  // ("knee pain") and which a headache.
  std::vector<bool> tells_complaint_property;
  std::vector<bool> other_complaint, names_headache;
  // Per value set; a cue phrase is lexicon concept value_set_ids.size() + its set's index.
  std::vector<Cues> cues;
  // findings.json painHistoryForm: the field labels of a pain history written as a form
  // ("Site: occipital" / "Onset: sudden" / "Rel: lying flat"), whose lines are about one pain,
  // so that a cue on one of them goes with the headache on another.
  struct PainHistoryForm {
    std::vector<std::string> labels;  // lower case
    int max_lines = 0;                // 0: no form is read
  };
  PainHistoryForm pain_history_form;
  // findings.json resolvedAfter: words after a mention of one of `value_sets` in its statement
  // that say the episode is over ("fever 38.5 ... 4 days ago, fever resolved", "flu with a
  // fever last month; that has fully resolved"): the mention is past. `own` phrases name the
  // symptom itself ("now apyrexial"); `episode` phrases ("fully resolved") count only when no
  // other finding is mentioned between. Lower case.
  struct ResolvedAfter {
    std::vector<bool> applies;  // per value set
    std::vector<std::string> own, episode;
    int max_words = 0;
  } resolved_after;
  // findings.json recentByWrittenAgo: an event of one of the sets that ConText reads as past
  // ("H/o RTA 5 days back") is recent when its clause dates it by a span ago of at most
  // max_days.
  struct RecentByWrittenAgo {
    std::vector<bool> applies;           // per value set
    std::vector<std::string> ago_words;  // lower case: "ago", "back"
    int max_days = 0;
  } recent_by_written_ago;
  // findings.json headacheFreeSpan: a negated headache with a span longer than the gate's window
  // after it ("headache-free since 2023", "no headaches at all for the last 12 months") says
  // the headache is history: the diagnosis the same note names ("Migraine follow-up: ...") is
  // no current headache. Lower case.
  struct HeadacheFreeSpan {
    std::vector<bool> applies;    // per value set: headaches whose mention may be negated so
    std::vector<bool> diagnosis;  // per value set: names of a headache diagnosis
    std::vector<std::string> openers_since, openers_for, fillers, ended_by, past_before;
    std::vector<std::string> none_words;  // an affirmed headache's "none since 2005"
    int min_days = 0;                     // the span must be longer
    int max_words = 0;                    // from the mention to the span's opener
  } headache_free_span;
  // findings.json risingScoresInText: pain scores out of ten written on one line, each higher
  // than the one before ("Pain scores: 4/10 (2 Feb), 6/10 (16 Feb), 8/10 today"), tell a
  // worsening headache as a coded trend does. value_set < 0 when absent.
  struct RisingScores {
    int value_set = -1;
    int min_readings = 0;
    double min_rise = 0;
    std::vector<std::string> time_words;  // one must stand on the line: a trend is over time
  } rising_scores;
  // findings.json datedByWrittenYear: an event a note dates by a year written right after it
  // ("Whiplash RTC 2009", "last seizure 2020") happened by the end of that year at the latest.
  struct WrittenYearDating {
    std::vector<bool> value_sets;  // per value set: its mentions are events a year dates
    int max_words_between = 0;
    std::vector<std::string> not_after, not_before;  // lower case: "since 2019", "2019 onwards"
  };
  WrittenYearDating written_year;

  std::vector<Finding> findings;
  std::vector<FindingSource> sources;
  std::vector<std::vector<int>> sources_by_value_set;  // value set index -> source indexes
  std::vector<int> overuse_sources;
  std::vector<int> deceased_sources;
  std::vector<OveruseClass> overuse_classes;
  double overuse_combined_days = 10;
  int overuse_min_duration_days = 90;
  int overuse_exclude_value_set = -1;  // medicines in it never count (e.g. low-dose aspirin)

  std::vector<std::string> criterion_ids;
  std::vector<Expr> criteria;

  std::array<TierDef, 3> tiers;  // indexed by Tier
  std::vector<RedFlag> red_flags;
  std::vector<Diagnosis> diagnoses;
  Undetermined undetermined;
  std::string classification_indicator;
  bool has_classification_suppress = false, has_safety_suppress = false;
  Expr classification_suppress, safety_suppress;  // e.g. under an EMERGENCY red flag (§e.4)
  Relevance relevance;
  // Narrative reading (§e): every value set's text synonyms in one lexicon (concept id = value
  // set index) and the ConText trigger rules.
  std::shared_ptr<const text::ContextRules> context_rules;
  std::unique_ptr<text::ConceptLexicon> lexicon;
  std::vector<LadderStep> steps;
  std::vector<Ladder> ladders;
  Expr ladder_suppress;
  std::vector<OrderDef> orders;
  std::string safety_indicator;
  std::vector<SafetyCard> safety_cards;
  std::vector<Restriction> restrictions;
  std::vector<OrderSignRule> order_sign_rules;

  // JSON the renderer writes unchanged in every response, escaped once at load.
  std::shared_ptr<const RenderFragments> render_fragments;

  int ValueSet(std::string_view id) const {
    auto it = value_set_index.find(id);
    return it == value_set_index.end() ? -1 : it->second;
  }
};

// Loads and validates `<data_dir>/knowledge/*.json` against `<data_dir>/schema/*.schema.json`.
Result<std::unique_ptr<Knowledge>> LoadKnowledge(const std::string& data_dir);

}  // namespace cephalgia::rules::internal
