#include "cephalgia/fhir/datatypes.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "cephalgia/fhir/terminology.h"
#include "json_names.h"

namespace cephalgia::fhir {

using rapidjson::Value;

// --- ElementView ---------------------------------------------------------------------------

namespace {

const Value* Member(const Value* object, std::string_view key) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  return FindMemberNamed(*object, key);
}

}  // namespace

void ElementView::Report(Severity severity, IssueCode code, std::string location,
                         std::string message) const {
  if (sink_ != nullptr) sink_->Add(severity, code, std::move(location), std::move(message));
}

std::string ElementView::ChildPath(std::string_view key) const {
  // Paths only ever locate issues; without a sink nobody reads them.
  if (sink_ == nullptr) return {};
  return ChildPathString(path_, key);
}

std::string ElementView::ChildPath(std::string_view key, std::size_t index) const {
  if (sink_ == nullptr) return {};
  return ChildPathString(path_, key, index);
}

std::optional<std::string_view> ElementView::GetString(std::string_view key) const {
  const Value* v = Member(json_, key);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString()) {
    Report(Severity::kError, IssueCode::kStructure, ChildPath(key),
           std::string("expected a string, got ") + std::string(JsonTypeName(*v)));
    return std::nullopt;
  }
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<bool> ElementView::GetBool(std::string_view key) const {
  const Value* v = Member(json_, key);
  if (v == nullptr) return std::nullopt;
  if (!v->IsBool()) {
    Report(Severity::kError, IssueCode::kStructure, ChildPath(key),
           std::string("expected a boolean, got ") + std::string(JsonTypeName(*v)));
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<double> ElementView::GetNumber(std::string_view key) const {
  const Value* v = Member(json_, key);
  if (v == nullptr) return std::nullopt;
  if (!v->IsNumber()) {
    Report(Severity::kError, IssueCode::kStructure, ChildPath(key),
           std::string("expected a number, got ") + std::string(JsonTypeName(*v)));
    return std::nullopt;
  }
  return v->GetDouble();
}

std::optional<int64_t> ElementView::GetInteger(std::string_view key) const {
  const Value* v = Member(json_, key);
  if (v == nullptr) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsNumber()) {
    double d = v->GetDouble();
    // 2.0 is accepted as 2; 2.5 or an out-of-range number is not an integer.
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
    Report(Severity::kError, IssueCode::kValue, ChildPath(key), "expected an integer");
    return std::nullopt;
  }
  Report(Severity::kError, IssueCode::kStructure, ChildPath(key),
         std::string("expected an integer, got ") + std::string(JsonTypeName(*v)));
  return std::nullopt;
}

namespace {

// ParseDateReporting for a view without a sink: nobody hears its issues, so no location is
// built or copied for them.
std::optional<DateTime> ParseDateSilently(std::string_view text, DateKind kind) {
  Result<DateTime> dt = DateTime::Parse(text, kind);
  if (!dt.ok()) return std::nullopt;
  return *std::move(dt);
}

}  // namespace

std::optional<DateTime> ElementView::GetDate(std::string_view key, DateKind kind) const {
  std::optional<std::string_view> s = GetString(key);
  if (!s) return std::nullopt;
  if (sink_ == nullptr) return ParseDateSilently(*s, kind);
  return ParseDateReporting(*s, kind, *this, ChildPath(key));
}

const Value* ElementView::GetObject(std::string_view key) const {
  const Value* v = Member(json_, key);
  if (v == nullptr) return nullptr;
  if (!v->IsObject()) {
    Report(Severity::kError, IssueCode::kStructure, ChildPath(key),
           std::string("expected an object, got ") + std::string(JsonTypeName(*v)));
    return nullptr;
  }
  return v;
}

const Value* ElementView::GetArray(std::string_view key) const {
  const Value* v = Member(json_, key);
  if (v == nullptr) return nullptr;
  if (!v->IsArray()) {
    Report(Severity::kError, IssueCode::kStructure, ChildPath(key),
           std::string("expected an array, got ") + std::string(JsonTypeName(*v)));
    return nullptr;
  }
  return v;
}

std::vector<std::string_view> ElementView::StringArray(std::string_view key) const {
  std::vector<std::string_view> out;
  const Value* arr = GetArray(key);
  if (arr == nullptr) return out;
  out.reserve(arr->Size());
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    const Value& e = (*arr)[i];
    if (!e.IsString()) {
      Report(Severity::kError, IssueCode::kStructure, ChildPath(key, i),
             std::string("expected a string, got ") + std::string(JsonTypeName(e)));
      continue;
    }
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

std::optional<DateTime> ParseDateReporting(std::string_view text, DateKind kind,
                                           const ElementView& where, std::string location) {
  Result<DateTime> dt = DateTime::Parse(text, kind);
  if (!dt.ok()) {
    where.Report(Severity::kError, IssueCode::kValue, std::move(location), dt.status().message());
    return std::nullopt;
  }
  if (dt->assumed_utc()) {
    where.Report(
        Severity::kWarning, IssueCode::kValue, std::move(location),
        "dateTime '" + std::string(text) + "' has a time but no time-zone offset; UTC assumed");
  }
  return *std::move(dt);
}

// --- data types ----------------------------------------------------------------------------

CodingView::SystemCode CodingView::system_and_code() const {
  // A sink hears the issues of each in its order: read them as the accessors do.
  if (sink() != nullptr) return {system(), code()};
  SystemCode out;
  const Value* object = json();
  if (object == nullptr || !object->IsObject()) return out;
  bool seen_system = false;
  bool seen_code = false;
  for (auto it = object->MemberBegin(), end = object->MemberEnd(); it != end; ++it) {
    // The first member of each name counts (as Member's lookup); one of another type is absent.
    const Value& name = it->name;
    const std::size_t size = name.GetStringLength();
    const char* chars = name.GetString();
    if (size == 6 && !seen_system && std::memcmp(chars, "system", 6) == 0) {
      seen_system = true;
      if (it->value.IsString()) {
        out.system = std::string_view(it->value.GetString(), it->value.GetStringLength());
      }
    } else if (size == 4 && !seen_code && std::memcmp(chars, "code", 4) == 0) {
      seen_code = true;
      if (it->value.IsString()) {
        out.code = std::string_view(it->value.GetString(), it->value.GetStringLength());
      }
    } else {
      continue;
    }
    if (seen_system && seen_code) break;
  }
  return out;
}

bool CodingView::Is(std::string_view system, std::string_view code) const {
  auto [s, c] = system_and_code();
  return s && c && SameCode(*s, *c, system, code);
}

std::vector<CodingView> CodeableConceptView::codings() const {
  return Children<CodingView>("coding");
}

// These stop reading codings at the first answer (a later coding's issues stay unreported, as
// when they returned from a loop over codings()).
bool CodeableConceptView::HasCoding(std::string_view system, std::string_view code) const {
  bool found = false;
  ForEachCoding([&](const CodingView& c) {
    if (!found && c.Is(system, code)) found = true;
  });
  return found;
}

std::optional<std::string_view> CodeableConceptView::CodeIn(std::string_view system) const {
  // A system written exactly as asked is the same system; only other spellings need the
  // canonical forms (worked out once, when first needed).
  std::optional<std::string_view> canonical;
  std::optional<std::string_view> found;
  // Without a sink, a coding's system and code are read in one pass over its members (with
  // one, code is read only for a coding in `system`, so that issues stay as they were).
  const bool one_pass = sink() == nullptr;
  ForEachCoding([&](const CodingView& c) {
    if (found) return;
    CodingView::SystemCode sc;
    if (one_pass) {
      sc = c.system_and_code();
    } else {
      sc.system = c.system();
    }
    const std::optional<std::string_view>& s = sc.system;
    if (!s) return;
    if (*s != system) {
      if (!canonical) canonical = CanonicalSystem(system);
      if (CanonicalSystem(*s) != *canonical) return;
    }
    found = one_pass ? sc.code : c.code();
  });
  return found;
}

std::optional<std::string_view> CodeableConceptView::FirstCode() const {
  std::optional<std::string_view> found;
  ForEachCoding([&](const CodingView& c) {
    if (!found) found = c.code();
  });
  return found;
}

std::optional<std::string_view> QuantityView::UnitCode() const {
  if (auto c = code()) return c;
  return unit();
}

std::optional<Interval> PeriodView::ToInterval() const {
  std::optional<DateTime> s = start();
  std::optional<DateTime> e = end();
  if (!s && !e) return std::nullopt;
  Interval out{s ? s->start() : DistantPast(), e ? e->end() : DistantFuture()};
  if (s && e && e->end() <= s->start()) {
    Report(Severity::kError, IssueCode::kValue, ChildPath("end"),
           "Period.end is before Period.start");
    return std::nullopt;
  }
  return out;
}

bool ReferenceView::IsContained() const {
  auto r = reference();
  return r && !r->empty() && r->front() == '#';
}

std::optional<double> TimingRepeatView::UnitInDays(std::string_view unit) {
  if (unit == "s") return 1.0 / 86400.0;
  if (unit == "min") return 1.0 / 1440.0;
  if (unit == "h") return 1.0 / 24.0;
  if (unit == "d") return 1.0;
  if (unit == "wk") return 7.0;
  if (unit == "mo") return 30.4375;
  if (unit == "a") return 365.25;
  return std::nullopt;
}

std::optional<double> TimingRepeatView::PerDay() const {
  std::optional<double> p = period();
  std::optional<std::string_view> unit = period_unit();
  if (!p || !unit) return std::nullopt;
  std::optional<double> unit_days = UnitInDays(*unit);
  if (!unit_days) {
    Report(Severity::kError, IssueCode::kValue, ChildPath("periodUnit"),
           "unknown periodUnit '" + std::string(*unit) + "' (s|min|h|d|wk|mo|a)");
    return std::nullopt;
  }
  if (!(*p > 0)) {
    Report(Severity::kError, IssueCode::kValue, ChildPath("period"), "period must be positive");
    return std::nullopt;
  }
  int64_t f = frequency().value_or(1);
  double per_day = static_cast<double>(f) / (*p * *unit_days);
  // More than one dose per second is not a dosing schedule; it is a data error.
  if (!std::isfinite(per_day) || f < 0 || per_day > 86400.0) {
    Report(Severity::kError, IssueCode::kValue, path(),
           "frequency/period gives an implausible " + std::to_string(per_day) + " per day");
    return std::nullopt;
  }
  return per_day;
}

std::vector<DateTime> TimingView::events() const {
  std::vector<DateTime> out;
  const Value* arr = GetArray("event");
  if (arr == nullptr) return out;
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    const Value& e = (*arr)[i];
    if (!e.IsString()) {
      Report(Severity::kError, IssueCode::kStructure, ChildPath("event", i),
             std::string("expected a string, got ") + std::string(JsonTypeName(e)));
      continue;
    }
    if (auto dt = ParseDateReporting(std::string_view(e.GetString(), e.GetStringLength()),
                                     DateKind::kDateTime, *this, ChildPath("event", i))) {
      out.push_back(*dt);
    }
  }
  return out;
}

std::optional<AsNeeded> DosageView::as_needed() const {
  ChoiceView c = ChoiceView::Find(*this, "asNeeded");
  switch (c.type()) {
    case ChoiceType::kBoolean:
      if (auto b = c.boolean()) return AsNeeded{*b, std::nullopt};
      return std::nullopt;
    case ChoiceType::kCodeableConcept:
      if (auto cc = c.codeable_concept()) return AsNeeded{true, cc};
      return std::nullopt;
    case ChoiceType::kNone:
      return std::nullopt;
    default:
      Report(Severity::kError, IssueCode::kStructure, c.path(),
             "asNeeded[x] must be Boolean or CodeableConcept");
      return std::nullopt;
  }
}

std::vector<DoseAndRateView> DosageView::dose_and_rate() const {
  return Children<DoseAndRateView>("doseAndRate");
}

// --- ChoiceView ----------------------------------------------------------------------------

namespace {

struct SuffixInfo {
  std::string_view suffix;
  ChoiceType type;
  rapidjson::Type json_type;  // kObjectType / kStringType / kTrueType (bool) / kNumberType
};

// Suffixes of the FHIR R4 open type list we care about; others map to kOther (still checked
// to be present, not typed). Grouped by first letter (SuffixesStartingWith relies on it).
constexpr SuffixInfo kSuffixes[] = {
    {"Age", ChoiceType::kAge, rapidjson::kObjectType},
    {"Boolean", ChoiceType::kBoolean, rapidjson::kTrueType},
    {"Code", ChoiceType::kString, rapidjson::kStringType},
    {"Canonical", ChoiceType::kString, rapidjson::kStringType},
    {"CodeableConcept", ChoiceType::kCodeableConcept, rapidjson::kObjectType},
    {"Coding", ChoiceType::kCoding, rapidjson::kObjectType},
    {"Decimal", ChoiceType::kDecimal, rapidjson::kNumberType},
    {"Date", ChoiceType::kDate, rapidjson::kStringType},
    {"DateTime", ChoiceType::kDateTime, rapidjson::kStringType},
    {"Duration", ChoiceType::kDuration, rapidjson::kObjectType},
    {"Integer", ChoiceType::kInteger, rapidjson::kNumberType},
    {"Id", ChoiceType::kString, rapidjson::kStringType},
    {"Instant", ChoiceType::kInstant, rapidjson::kStringType},
    {"Markdown", ChoiceType::kString, rapidjson::kStringType},
    {"PositiveInt", ChoiceType::kInteger, rapidjson::kNumberType},
    {"Period", ChoiceType::kPeriod, rapidjson::kObjectType},
    {"Quantity", ChoiceType::kQuantity, rapidjson::kObjectType},
    {"Range", ChoiceType::kRange, rapidjson::kObjectType},
    {"Ratio", ChoiceType::kRatio, rapidjson::kObjectType},
    {"Reference", ChoiceType::kReference, rapidjson::kObjectType},
    {"String", ChoiceType::kString, rapidjson::kStringType},
    {"SampledData", ChoiceType::kSampledData, rapidjson::kObjectType},
    {"Time", ChoiceType::kTime, rapidjson::kStringType},
    {"Timing", ChoiceType::kTiming, rapidjson::kObjectType},
    {"UnsignedInt", ChoiceType::kInteger, rapidjson::kNumberType},
    {"Uri", ChoiceType::kString, rapidjson::kStringType},
    {"Url", ChoiceType::kString, rapidjson::kStringType},
};

// The entries of kSuffixes whose suffix starts with `first` (none for a byte outside A-Z):
// the table is grouped by first letter, so they are contiguous.
struct SuffixRange {
  const SuffixInfo* begin;
  const SuffixInfo* end;
};

SuffixRange SuffixesStartingWith(char first) {
  struct Ranges {
    SuffixRange by_letter[26];
  };
  static const Ranges ranges = [] {
    Ranges r{};
    for (auto& range : r.by_letter) range = {nullptr, nullptr};
    for (const SuffixInfo& s : kSuffixes) {
      SuffixRange& range = r.by_letter[s.suffix[0] - 'A'];
      if (range.begin == nullptr) range.begin = &s;
      range.end = &s + 1;
    }
    return r;
  }();
  if (first < 'A' || first > 'Z') return {nullptr, nullptr};
  return ranges.by_letter[first - 'A'];
}

bool JsonTypeFits(const Value& v, rapidjson::Type expected) {
  switch (expected) {
    case rapidjson::kTrueType:
      return v.IsBool();
    case rapidjson::kNumberType:
      return v.IsNumber();
    case rapidjson::kStringType:
      return v.IsString();
    case rapidjson::kObjectType:
      return v.IsObject();
    default:
      return true;
  }
}

std::string_view ExpectedName(rapidjson::Type t) {
  switch (t) {
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kNumberType:
      return "a number";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kObjectType:
      return "an object";
    default:
      return "a value";
  }
}

}  // namespace

ChoiceView ChoiceView::Find(const ElementView& parent, std::string_view base) {
  const Value* obj = parent.json();
  if (obj == nullptr || !obj->IsObject()) return ChoiceView();
  const Value* found = nullptr;
  std::string_view found_suffix;
  int count = 0;
  for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    // The first byte decides for most members, without a call to memcmp.
    if (name.size() <= base.size()) continue;
    if (!base.empty() &&
        (name[0] != base[0] || !SameBytes(name.data(), base.data(), base.size()))) {
      continue;
    }
    char next = name[base.size()];
    if (next < 'A' || next > 'Z') continue;
    if (++count == 1) {
      found = &it->value;
      found_suffix = name.substr(base.size());
      // A second element only matters for the issue it raises; without a sink nobody reads it.
      if (parent.sink() == nullptr) break;
    }
  }
  if (found == nullptr) return ChoiceView();
  // The found member's name: base + suffix, in the document.
  const PathNode* path = parent.ChildNode(
      std::string_view(found_suffix.data() - base.size(), base.size() + found_suffix.size()));
  if (count > 1) {
    parent.Report(Severity::kError, IssueCode::kStructure,
                  parent.ChildPath(std::string(base) + "[x]"),
                  "more than one " + std::string(base) + "[x] element; the first is used");
  }
  ChoiceType type = ChoiceType::kOther;
  // Only the suffixes with the found one's first letter are compared (a few, not all 27).
  const SuffixRange range = SuffixesStartingWith(found_suffix[0]);
  for (const SuffixInfo* it = range.begin; it != range.end; ++it) {
    const SuffixInfo& s = *it;
    if (s.suffix.size() != found_suffix.size()) continue;
    if (s.suffix == found_suffix) {
      type = s.type;
      if (!JsonTypeFits(*found, s.json_type)) {
        parent.Report(Severity::kError, IssueCode::kStructure, PathString(path),
                      "expected " + std::string(ExpectedName(s.json_type)) + ", got " +
                          std::string(JsonTypeName(*found)));
        // Keep the type (callers see what was meant) but no typed accessor will return it.
        return ChoiceView(nullptr, parent.sink(), path, type, found_suffix);
      }
      break;
    }
  }
  return ChoiceView(found, parent.sink(), path, type, found_suffix);
}

std::optional<bool> ChoiceView::boolean() const {
  if (type_ != ChoiceType::kBoolean || json_ == nullptr || !json_->IsBool()) return std::nullopt;
  return json_->GetBool();
}

std::optional<int64_t> ChoiceView::integer() const {
  if (type_ != ChoiceType::kInteger || json_ == nullptr) return std::nullopt;
  if (json_->IsInt64()) return json_->GetInt64();
  Report(Severity::kError, IssueCode::kValue, path(), "expected an integer");
  return std::nullopt;
}

std::optional<double> ChoiceView::decimal() const {
  if ((type_ != ChoiceType::kDecimal && type_ != ChoiceType::kInteger) || json_ == nullptr ||
      !json_->IsNumber()) {
    return std::nullopt;
  }
  return json_->GetDouble();
}

std::optional<std::string_view> ChoiceView::string() const {
  if (json_ == nullptr || !json_->IsString()) return std::nullopt;
  return std::string_view(json_->GetString(), json_->GetStringLength());
}

std::optional<DateTime> ChoiceView::date_time() const {
  if (json_ == nullptr || !json_->IsString()) return std::nullopt;
  DateKind kind;
  switch (type_) {
    case ChoiceType::kDate:
      kind = DateKind::kDate;
      break;
    case ChoiceType::kDateTime:
      kind = DateKind::kDateTime;
      break;
    case ChoiceType::kInstant:
      kind = DateKind::kInstant;
      break;
    default:
      return std::nullopt;
  }
  const std::string_view text(json_->GetString(), json_->GetStringLength());
  if (sink_ == nullptr) return ParseDateSilently(text, kind);
  return ParseDateReporting(text, kind, *this, path());
}

template <typename V>
static std::optional<V> ObjectAs(const ChoiceView& c, bool type_ok) {
  if (!type_ok || c.json() == nullptr || !c.json()->IsObject()) return std::nullopt;
  return std::optional<V>(std::in_place, c.json(), c.sink(), c.path_node());
}

std::optional<QuantityView> ChoiceView::quantity() const {
  return ObjectAs<QuantityView>(*this, type_ == ChoiceType::kQuantity ||
                                           type_ == ChoiceType::kAge ||
                                           type_ == ChoiceType::kDuration);
}
std::optional<CodeableConceptView> ChoiceView::codeable_concept() const {
  return ObjectAs<CodeableConceptView>(*this, type_ == ChoiceType::kCodeableConcept);
}
std::optional<CodingView> ChoiceView::coding() const {
  return ObjectAs<CodingView>(*this, type_ == ChoiceType::kCoding);
}
std::optional<RangeView> ChoiceView::range() const {
  return ObjectAs<RangeView>(*this, type_ == ChoiceType::kRange);
}
std::optional<RatioView> ChoiceView::ratio() const {
  return ObjectAs<RatioView>(*this, type_ == ChoiceType::kRatio);
}
std::optional<PeriodView> ChoiceView::period() const {
  return ObjectAs<PeriodView>(*this, type_ == ChoiceType::kPeriod);
}
std::optional<TimingView> ChoiceView::timing() const {
  return ObjectAs<TimingView>(*this, type_ == ChoiceType::kTiming);
}
std::optional<ReferenceView> ChoiceView::reference() const {
  return ObjectAs<ReferenceView>(*this, type_ == ChoiceType::kReference);
}

namespace {

// An age quantity (Age: value + UCUM unit a|mo|wk|d|h|min) as [lo, hi) offsets from birth;
// `value` years means "from the value-th birthday until the next one".
std::optional<Interval> AgeToInterval(const QuantityView& q, const DateTime& birth) {
  std::optional<double> v = q.value();
  std::optional<std::string_view> unit = q.UnitCode();
  // Ages beyond 200 years (in any unit) are data errors; refusing them also keeps the
  // calendar arithmetic below far from overflow.
  constexpr double kMaxAgeDays = 200 * 365.25;
  if (!v || !(*v >= 0)) return std::nullopt;
  std::optional<double> unit_days_check =
      (!unit || *unit == "yr" || *unit == "year" || *unit == "years")
          ? 365.25
          : TimingRepeatView::UnitInDays(*unit);
  if (!unit_days_check || *v * *unit_days_check > kMaxAgeDays) return std::nullopt;
  if (!unit || *unit == "a" || *unit == "yr" || *unit == "year" || *unit == "years") {
    int years = static_cast<int>(std::floor(*v));
    return Interval{AddYears(birth.start(), years), AddYears(birth.end(), years + 1)};
  }
  if (*unit == "mo") {
    int months = static_cast<int>(std::floor(*v));
    return Interval{AddMonths(birth.start(), months), AddMonths(birth.end(), months + 1)};
  }
  std::optional<double> unit_days = TimingRepeatView::UnitInDays(*unit);
  if (!unit_days) return std::nullopt;
  auto lo = std::chrono::seconds(static_cast<int64_t>(std::floor(*v) * *unit_days * 86400));
  auto hi = std::chrono::seconds(static_cast<int64_t>((std::floor(*v) + 1) * *unit_days * 86400));
  return Interval{birth.start() + lo, birth.end() + hi};
}

}  // namespace

std::optional<Interval> ChoiceView::ToInterval(const std::optional<DateTime>& birth_date) const {
  switch (type_) {
    case ChoiceType::kDate:
    case ChoiceType::kDateTime:
    case ChoiceType::kInstant:
      if (auto dt = date_time()) return dt->interval();
      return std::nullopt;
    case ChoiceType::kPeriod:
      if (auto p = period()) return p->ToInterval();
      return std::nullopt;
    case ChoiceType::kAge:
      if (!birth_date) return std::nullopt;
      if (auto q = quantity()) return AgeToInterval(*q, *birth_date);
      return std::nullopt;
    case ChoiceType::kRange: {
      if (!birth_date) return std::nullopt;
      auto r = range();
      if (!r) return std::nullopt;
      auto low = r->low();
      auto high = r->high();
      std::optional<Interval> lo = low ? AgeToInterval(*low, *birth_date) : std::nullopt;
      std::optional<Interval> hi = high ? AgeToInterval(*high, *birth_date) : std::nullopt;
      if (!lo && !hi) return std::nullopt;
      return Interval{lo ? lo->start : birth_date->start(), hi ? hi->end : DistantFuture()};
    }
    case ChoiceType::kTiming: {
      auto t = timing();
      if (!t) return std::nullopt;
      std::vector<DateTime> events = t->events();
      if (!events.empty()) {
        Interval out = events.front().interval();
        for (const DateTime& e : events) {
          out.start = std::min(out.start, e.start());
          out.end = std::max(out.end, e.end());
        }
        return out;
      }
      if (auto rep = t->repeat()) {
        if (auto bp = rep->bounds_period()) return bp->ToInterval();
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace cephalgia::fhir
