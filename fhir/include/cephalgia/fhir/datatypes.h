// File: datatypes.h
//
// Read-only typed views over FHIR R4 data types in a RapidJSON document: Coding,
// CodeableConcept, Quantity, Range, Ratio, Period, Reference, Timing, Dosage, and the choice
// types (`value[x]`, `onset[x]`, ...).
//
// A view is a pointer into the document plus the element's FHIR path and an IssueSink. Nothing
// is copied: string_views point into the document, so a view must not outlive it. Every
// accessor checks the JSON type before reading; malformed content is reported to the sink with
// its path (e.g. `Observation.valueQuantity.value`) and the accessor returns nullopt/empty.
// Absent elements are simply nullopt and produce no issue. The sink may be null (issues are
// then dropped and views carry no path). Views are three pointers, cheap to copy: the path is
// a PathNode (the parent's node plus the key/index) owned by the sink, made into a string only
// when an issue is reported, so a view must not outlive its sink (nor its document).
//
//   CodeableConceptView code = condition.code();
//   for (const CodingView& c : code.codings()) {
//     if (c.system() == kSnomedSystem && c.code() == "279016001") ...
//   }
//   ChoiceView v = observation.value();               // value[x]
//   if (auto q = v.quantity()) use(q->value(), q->unit());
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/issues.h"

namespace cephalgia::fhir {

// Base of every view: the JSON element (nullptr = absent), its path and the sink.
// The public Get* helpers are the generic, type-checked way to read any member the typed
// accessors do not cover (extensions, rarely used fields). Each reports a wrong JSON type as a
// kError/kStructure issue at `path.key` and returns nullopt.
class ElementView {
 public:
  ElementView() = default;
  // `path` is a node of `sink` (IssueSink::ExtendPath), or null.
  ElementView(const rapidjson::Value* json, IssueSink* sink, const PathNode* path = nullptr)
      : json_(json), sink_(sink), path_(path) {}
  // A root view labelled `path` (e.g. "Condition.code"); the label is kept only with a sink.
  ElementView(const rapidjson::Value* json, IssueSink* sink, std::string_view path)
      : json_(json), sink_(sink), path_(IssueSink::ExtendPath(sink, nullptr, path)) {}

  bool present() const { return json_ != nullptr; }
  explicit operator bool() const { return present(); }
  const rapidjson::Value* json() const { return json_; }
  IssueSink* sink() const { return sink_; }
  // The FHIR path ("" without a sink), built from the path nodes on each call.
  std::string path() const { return PathString(path_); }
  const PathNode* path_node() const { return path_; }
  // The node of child `key` (or `key[index]`) for a child view: null without a sink.
  const PathNode* ChildNode(std::string_view key, std::size_t index = PathNode::kNoIndex) const {
    return IssueSink::ExtendPath(sink_, path_, key, index);
  }

  std::optional<std::string_view> GetString(std::string_view key) const;
  std::optional<bool> GetBool(std::string_view key) const;
  std::optional<double> GetNumber(std::string_view key) const;    // decimal
  std::optional<int64_t> GetInteger(std::string_view key) const;  // integer/positiveInt/...
  // Parses the member as a FHIR date/dateTime/instant; a bad value is a kError/kValue issue,
  // a dateTime without an offset a kWarning.
  std::optional<DateTime> GetDate(std::string_view key, DateKind kind) const;
  // The member if it is an object / array (wrong type: issue, nullptr). Absent: nullptr.
  const rapidjson::Value* GetObject(std::string_view key) const;
  const rapidjson::Value* GetArray(std::string_view key) const;

  // Paths of children: `path.key`, `path.key[i]`. Empty when the view has no sink: paths exist
  // to locate issues, and a view whose issues are dropped skips building them.
  std::string ChildPath(std::string_view key) const;
  std::string ChildPath(std::string_view key, std::size_t index) const;
  // Reports an issue at `location` (nothing when sink is null).
  void Report(Severity severity, IssueCode code, std::string location, std::string message) const;

 protected:
  // Helpers for derived views: a child view of type V over member `key` (absent -> nullopt,
  // wrong type -> issue + nullopt) and over every object element of array member `key`
  // (a non-array or non-object element -> issue, element skipped).
  template <typename V>
  std::optional<V> Child(std::string_view key) const {
    const rapidjson::Value* v = GetObject(key);
    if (v == nullptr) return std::nullopt;
    return std::optional<V>(std::in_place, v, sink_, ChildNode(key));
  }
  template <typename V>
  std::vector<V> Children(std::string_view key) const;
  // Calls fn(const V&) for what Children<V>(key) would return, without building the vector.
  // With a sink the vector is built first, so that issues keep the order Children gives them
  // (every element's structure issue before anything fn reports); without one (the evaluation
  // path) the array is walked in place.
  template <typename V, typename Fn>
  void ForEachChild(std::string_view key, Fn&& fn) const;
  // Strings of array member `key` (non-string elements -> issue, skipped).
  std::vector<std::string_view> StringArray(std::string_view key) const;

  const rapidjson::Value* json_ = nullptr;
  IssueSink* sink_ = nullptr;
  const PathNode* path_ = nullptr;  // owned by sink_; always null without a sink
};

class CodingView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<std::string_view> system() const { return GetString("system"); }
  std::optional<std::string_view> version() const { return GetString("version"); }
  std::optional<std::string_view> code() const { return GetString("code"); }
  std::optional<std::string_view> display() const { return GetString("display"); }
  std::optional<bool> user_selected() const { return GetBool("userSelected"); }
  // system() and code() together: without a sink, in one pass over the coding's members.
  struct SystemCode {
    std::optional<std::string_view> system;
    std::optional<std::string_view> code;
  };
  SystemCode system_and_code() const;
  // True when system and code are both present and equal (system compared canonically, see
  // terminology.h; ICD-10 codes compared without dots, case-insensitively).
  bool Is(std::string_view system, std::string_view code) const;
};

class CodeableConceptView : public ElementView {
 public:
  using ElementView::ElementView;
  std::vector<CodingView> codings() const;  // coding[]
  // fn(const CodingView&) for each of codings(), without allocating when the view has no sink.
  template <typename Fn>
  void ForEachCoding(Fn&& fn) const {
    ForEachChild<CodingView>("coding", fn);
  }
  std::optional<std::string_view> text() const { return GetString("text"); }
  // Any coding Is(system, code).
  bool HasCoding(std::string_view system, std::string_view code) const;
  // The code of the first coding in `system` (canonical comparison), e.g. the clinicalStatus
  // code from http://terminology.hl7.org/CodeSystem/condition-clinical.
  std::optional<std::string_view> CodeIn(std::string_view system) const;
  // The code of the first coding whatever its system (for status concepts that omit it).
  std::optional<std::string_view> FirstCode() const;
};

class QuantityView : public ElementView {  // also Age, Duration, SimpleQuantity, Count
 public:
  using ElementView::ElementView;
  std::optional<double> value() const { return GetNumber("value"); }
  std::optional<std::string_view> comparator() const { return GetString("comparator"); }
  std::optional<std::string_view> unit() const { return GetString("unit"); }
  std::optional<std::string_view> system() const { return GetString("system"); }
  std::optional<std::string_view> code() const { return GetString("code"); }
  // The UCUM code if present, else the unit text ("a", "mo", "d", "mg", "mm[Hg]").
  std::optional<std::string_view> UnitCode() const;
};

class RangeView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<QuantityView> low() const { return Child<QuantityView>("low"); }
  std::optional<QuantityView> high() const { return Child<QuantityView>("high"); }
};

class RatioView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<QuantityView> numerator() const { return Child<QuantityView>("numerator"); }
  std::optional<QuantityView> denominator() const { return Child<QuantityView>("denominator"); }
};

class PeriodView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<DateTime> start() const { return GetDate("start", DateKind::kDateTime); }
  std::optional<DateTime> end() const { return GetDate("end", DateKind::kDateTime); }
  // [start.start, end.end): an open start is the distant past, an open end the distant future
  // (an ongoing period). nullopt when both are absent/invalid or end is before start (issue).
  std::optional<Interval> ToInterval() const;
};

class ReferenceView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<std::string_view> reference() const { return GetString("reference"); }
  std::optional<std::string_view> type() const { return GetString("type"); }
  std::optional<std::string_view> display() const { return GetString("display"); }
  // "#id" (a contained resource)?
  bool IsContained() const;
};

// Timing.repeat (http://hl7.org/fhir/R4/datatypes.html#Timing).
class TimingRepeatView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<PeriodView> bounds_period() const { return Child<PeriodView>("boundsPeriod"); }
  std::optional<QuantityView> bounds_duration() const {
    return Child<QuantityView>("boundsDuration");
  }
  std::optional<RangeView> bounds_range() const { return Child<RangeView>("boundsRange"); }
  std::optional<int64_t> count() const { return GetInteger("count"); }
  std::optional<int64_t> count_max() const { return GetInteger("countMax"); }
  std::optional<double> duration() const { return GetNumber("duration"); }
  std::optional<std::string_view> duration_unit() const { return GetString("durationUnit"); }
  std::optional<int64_t> frequency() const { return GetInteger("frequency"); }
  std::optional<int64_t> frequency_max() const { return GetInteger("frequencyMax"); }
  std::optional<double> period() const { return GetNumber("period"); }
  std::optional<double> period_max() const { return GetNumber("periodMax"); }
  // s | min | h | d | wk | mo | a (UCUM units of time).
  std::optional<std::string_view> period_unit() const { return GetString("periodUnit"); }
  std::vector<std::string_view> day_of_week() const { return StringArray("dayOfWeek"); }
  std::vector<std::string_view> time_of_day() const { return StringArray("timeOfDay"); }
  std::vector<std::string_view> when() const { return StringArray("when"); }

  // Occurrences per day from frequency (default 1) / (period periodUnit); nullopt when period
  // or periodUnit is missing or invalid. "1 per 1 wk" = 1/7; "2 per 1 d" = 2.
  std::optional<double> PerDay() const;
  // The length of one periodUnit in days (mo = 30.4375, a = 365.25); nullopt if unknown unit.
  static std::optional<double> UnitInDays(std::string_view unit);
};

class TimingView : public ElementView {
 public:
  using ElementView::ElementView;
  std::vector<DateTime> events() const;  // event[] (bad values -> issues, skipped)
  std::optional<TimingRepeatView> repeat() const { return Child<TimingRepeatView>("repeat"); }
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
};

// Dosage.doseAndRate[i].
class DoseAndRateView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<CodeableConceptView> type() const { return Child<CodeableConceptView>("type"); }
  std::optional<QuantityView> dose_quantity() const { return Child<QuantityView>("doseQuantity"); }
  std::optional<RangeView> dose_range() const { return Child<RangeView>("doseRange"); }
  std::optional<QuantityView> rate_quantity() const { return Child<QuantityView>("rateQuantity"); }
  std::optional<RangeView> rate_range() const { return Child<RangeView>("rateRange"); }
  std::optional<RatioView> rate_ratio() const { return Child<RatioView>("rateRatio"); }
};

// asNeeded[x]: asNeededBoolean, or asNeededCodeableConcept (which implies "as needed").
struct AsNeeded {
  bool as_needed = false;
  std::optional<CodeableConceptView> reason;  // asNeededCodeableConcept
};

class DosageView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<int64_t> sequence() const { return GetInteger("sequence"); }
  std::optional<std::string_view> text() const { return GetString("text"); }
  std::optional<std::string_view> patient_instruction() const {
    return GetString("patientInstruction");
  }
  std::optional<TimingView> timing() const { return Child<TimingView>("timing"); }
  // nullopt when neither asNeededBoolean nor asNeededCodeableConcept is present.
  std::optional<AsNeeded> as_needed() const;
  std::optional<CodeableConceptView> route() const { return Child<CodeableConceptView>("route"); }
  std::vector<DoseAndRateView> dose_and_rate() const;
  std::optional<RatioView> max_dose_per_period() const {
    return Child<RatioView>("maxDosePerPeriod");
  }
};

// The type suffix of a choice element, e.g. value[x] = valueQuantity -> kQuantity.
enum class ChoiceType {
  kNone,  // no `<base>[x]` member
  kBoolean,
  kInteger,
  kDecimal,
  kString,
  kDate,
  kDateTime,
  kInstant,
  kTime,
  kQuantity,  // Quantity, Age, Duration (same JSON shape; suffix() tells which)
  kAge,
  kDuration,
  kCodeableConcept,
  kCoding,
  kRange,
  kRatio,
  kPeriod,
  kTiming,
  kReference,
  kSampledData,
  kOther,  // a suffix we do not model (still reachable through json())
};

// A choice element `<base>[x]`: value[x], onset[x], abatement[x], effective[x], performed[x],
// occurrence[x], deceased[x], medication[x], asNeeded[x]. Found by scanning the parent's
// members for `<base>` + an upper-case type suffix; more than one such member is a kError issue
// (the first is used). json() points at the member's value; path() is e.g.
// `Observation.valueQuantity`. A member whose JSON type does not fit its suffix (e.g.
// "valueQuantity": "7") is a kError issue and the typed accessor returns nullopt.
class ChoiceView : public ElementView {
 public:
  ChoiceView() = default;
  ChoiceView(const rapidjson::Value* json, IssueSink* sink, const PathNode* path, ChoiceType type,
             std::string_view suffix)
      : ElementView(json, sink, path), type_(type), suffix_(suffix) {}

  // Finds `<base>[x]` in `parent` (nullptr-safe).
  static ChoiceView Find(const ElementView& parent, std::string_view base);

  ChoiceType type() const { return type_; }
  std::string_view suffix() const { return suffix_; }  // "Quantity", "DateTime", ...

  std::optional<bool> boolean() const;
  std::optional<int64_t> integer() const;
  std::optional<double> decimal() const;           // decimal or integer
  std::optional<std::string_view> string() const;  // string / code / uri-like primitives
  std::optional<DateTime> date_time() const;       // date, dateTime, instant
  std::optional<QuantityView> quantity() const;    // Quantity, Age, Duration
  std::optional<CodeableConceptView> codeable_concept() const;
  std::optional<CodingView> coding() const;
  std::optional<RangeView> range() const;
  std::optional<RatioView> ratio() const;
  std::optional<PeriodView> period() const;
  std::optional<TimingView> timing() const;
  std::optional<ReferenceView> reference() const;

  // Time semantics for onset/abatement/effective/performed/occurrence: the UTC interval the
  // element denotes. dateTime/date/instant -> its interval; Period -> PeriodView::ToInterval;
  // Age (or an Age-shaped Range) -> birth_date shifted by the age(s), needing `birth_date`;
  // Timing -> from its first to its last event or its boundsPeriod. string/boolean and
  // anything else -> nullopt (no issue: the value is valid, just not a time).
  std::optional<Interval> ToInterval(const std::optional<DateTime>& birth_date = {}) const;

 private:
  ChoiceType type_ = ChoiceType::kNone;
  std::string_view suffix_;
};

// --- template implementation -------------------------------------------------------------

template <typename V>
std::vector<V> ElementView::Children(std::string_view key) const {
  std::vector<V> out;
  const rapidjson::Value* arr = GetArray(key);
  if (arr == nullptr) return out;
  out.reserve(arr->Size());
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    const rapidjson::Value& e = (*arr)[i];
    if (!e.IsObject()) {
      Report(Severity::kError, IssueCode::kStructure, ChildPath(key, i), "expected a JSON object");
      continue;
    }
    out.emplace_back(&e, sink_, ChildNode(key, i));
  }
  return out;
}

template <typename V, typename Fn>
void ElementView::ForEachChild(std::string_view key, Fn&& fn) const {
  if (sink_ != nullptr) {
    for (const V& child : Children<V>(key)) fn(child);
    return;
  }
  const rapidjson::Value* arr = GetArray(key);
  if (arr == nullptr) return;
  for (const rapidjson::Value& e : arr->GetArray()) {
    if (!e.IsObject()) continue;
    fn(V(&e, nullptr, nullptr));
  }
}

}  // namespace cephalgia::fhir
