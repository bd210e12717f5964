#include "cephalgia/fhir/clinical_status.h"

#include <initializer_list>
#include <string>

#include "cephalgia/fhir/terminology.h"

namespace cephalgia::fhir {
namespace {

bool OneOf(std::string_view v, std::initializer_list<std::string_view> list) {
  for (std::string_view s : list) {
    if (v == s) return true;
  }
  return false;
}

StatusAssessment Make(Relevance r, Certainty c, std::string_view reason) {
  return StatusAssessment{r, c, false, reason};
}

// An unknown code is invalid FHIR: report it and keep the resource at lower certainty (we
// cannot tell what it means, and dropping it could hide a contraindication).
StatusAssessment UnknownStatus(const ElementView& view, std::string_view element,
                               std::string_view value, std::string_view allowed) {
  view.Report(Severity::kError, IssueCode::kValue, view.ChildPath(element),
              "unknown " + std::string(element) + " '" + std::string(value) + "' (expected " +
                  std::string(allowed) + ")");
  return Make(Relevance::kCurrent, Certainty::kProvisional, "unknown status: treated as current");
}

StatusAssessment MissingStatus(const ElementView& view) {
  view.Report(Severity::kError, IssueCode::kRequired, view.ChildPath("status"),
              "status is required");
  return Make(Relevance::kCurrent, Certainty::kProvisional, "status missing: treated as current");
}

}  // namespace

std::string_view RelevanceName(Relevance r) {
  switch (r) {
    case Relevance::kIgnore:
      return "ignore";
    case Relevance::kHistory:
      return "history";
    case Relevance::kCurrent:
      return "current";
  }
  return "current";
}

std::string_view CertaintyName(Certainty c) {
  switch (c) {
    case Certainty::kConfirmed:
      return "confirmed";
    case Certainty::kProvisional:
      return "provisional";
    case Certainty::kText:
      return "text";
  }
  return "text";
}

StatusAssessment AssessCondition(const ConditionView& condition) {
  return AssessCondition(condition, condition.abatement());
}

StatusAssessment AssessCondition(const ConditionView& condition, const ChoiceView& abatement) {
  Certainty certainty = Certainty::kConfirmed;
  if (std::optional<std::string_view> ver = condition.verification_status_code()) {
    if (*ver == "entered-in-error") {
      return Make(Relevance::kIgnore, certainty, "verificationStatus entered-in-error");
    }
    if (*ver == "refuted") return Make(Relevance::kIgnore, certainty, "verificationStatus refuted");
    if (OneOf(*ver, {"unconfirmed", "provisional", "differential"})) {
      certainty = Certainty::kProvisional;
    } else if (*ver != "confirmed") {
      condition.Report(Severity::kError, IssueCode::kValue,
                       condition.ChildPath("verificationStatus"),
                       "unknown verificationStatus '" + std::string(*ver) +
                           "' (expected unconfirmed|provisional|differential|confirmed|refuted|"
                           "entered-in-error)");
      certainty = Certainty::kProvisional;
    }
  }
  // abatementBoolean (STU3) false means "not abated"; any other abatement[x] ends the condition.
  bool abated = abatement.type() != ChoiceType::kNone &&
                !(abatement.type() == ChoiceType::kBoolean && abatement.boolean() == false);
  std::optional<std::string_view> clin = condition.clinical_status_code();
  if (clin &&
      !OneOf(*clin, {"active", "recurrence", "relapse", "inactive", "remission", "resolved"})) {
    condition.Report(Severity::kError, IssueCode::kValue, condition.ChildPath("clinicalStatus"),
                     "unknown clinicalStatus '" + std::string(*clin) +
                         "' (expected active|recurrence|relapse|inactive|remission|resolved)");
    if (abated) return Make(Relevance::kHistory, certainty, "abatement[x] present");
    return Make(Relevance::kCurrent, Certainty::kProvisional,
                "unknown clinicalStatus: treated as current");
  }
  if (abated) return Make(Relevance::kHistory, certainty, "abatement[x] present");
  if (!clin) {
    // Required by FHIR, yet often omitted on problem-list entries; an unrefuted, unabated
    // diagnosis is safest read as current.
    return Make(Relevance::kCurrent, certainty, "clinicalStatus missing: treated as active");
  }
  if (OneOf(*clin, {"inactive", "remission", "resolved"})) {
    return Make(Relevance::kHistory, certainty, "clinicalStatus inactive/remission/resolved");
  }
  return Make(Relevance::kCurrent, certainty, "clinicalStatus active/recurrence/relapse");
}

StatusAssessment AssessObservation(const ObservationView& observation) {
  std::optional<std::string_view> s = observation.status();
  if (!s) return MissingStatus(observation);
  if (OneOf(*s, {"entered-in-error", "cancelled"})) {
    return Make(Relevance::kIgnore, Certainty::kConfirmed, "status entered-in-error/cancelled");
  }
  if (OneOf(*s, {"final", "amended", "corrected"})) {
    return Make(Relevance::kCurrent, Certainty::kConfirmed, "status final/amended/corrected");
  }
  if (OneOf(*s, {"preliminary", "registered", "unknown"})) {
    return Make(Relevance::kCurrent, Certainty::kProvisional,
                "status preliminary/registered/unknown");
  }
  return UnknownStatus(observation, "status", *s,
                       "registered|preliminary|final|amended|corrected|cancelled|"
                       "entered-in-error|unknown");
}

StatusAssessment AssessMedicationRequest(const MedicationRequestView& request) {
  std::optional<std::string_view> s = request.status();
  if (!s) return MissingStatus(request);
  StatusAssessment a;
  if (OneOf(*s, {"active", "on-hold"})) {
    a = Make(Relevance::kCurrent, Certainty::kConfirmed, "status active/on-hold");
  } else if (*s == "unknown") {
    a = Make(Relevance::kCurrent, Certainty::kProvisional, "status unknown: treated as current");
  } else if (OneOf(*s, {"completed", "stopped"})) {
    a = Make(Relevance::kHistory, Certainty::kConfirmed, "status completed/stopped");
  } else if (OneOf(*s, {"cancelled", "entered-in-error"})) {
    return Make(Relevance::kIgnore, Certainty::kConfirmed, "status cancelled/entered-in-error");
  } else if (*s == "draft") {
    a = Make(Relevance::kIgnore, Certainty::kConfirmed, "status draft: proposed, not therapy");
    a.draft = true;
  } else {
    a = UnknownStatus(request, "status", *s,
                      "active|on-hold|cancelled|completed|entered-in-error|stopped|draft|unknown");
  }
  if (request.do_not_perform() == true) {
    a.relevance = Relevance::kIgnore;
    a.reason = "doNotPerform: an order not to give it";
  }
  return a;
}

StatusAssessment AssessMedicationStatement(const MedicationStatementView& statement) {
  std::optional<std::string_view> s = statement.status();
  if (!s) return MissingStatus(statement);
  if (OneOf(*s, {"active", "intended", "on-hold"})) {
    return Make(Relevance::kCurrent, Certainty::kConfirmed, "status active/intended/on-hold");
  }
  if (*s == "unknown") {
    return Make(Relevance::kCurrent, Certainty::kProvisional, "status unknown: treated as current");
  }
  if (OneOf(*s, {"completed", "stopped"})) {
    return Make(Relevance::kHistory, Certainty::kConfirmed, "status completed/stopped");
  }
  if (OneOf(*s, {"not-taken", "entered-in-error"})) {
    return Make(Relevance::kIgnore, Certainty::kConfirmed, "status not-taken/entered-in-error");
  }
  return UnknownStatus(statement, "status", *s,
                       "active|completed|entered-in-error|intended|stopped|on-hold|unknown|"
                       "not-taken");
}

StatusAssessment AssessProcedure(const ProcedureView& procedure) {
  std::optional<std::string_view> s = procedure.status();
  if (!s) return MissingStatus(procedure);
  if (OneOf(*s, {"in-progress", "preparation", "on-hold"})) {
    return Make(Relevance::kCurrent, Certainty::kConfirmed,
                "status in-progress/preparation/on-hold");
  }
  if (*s == "completed")
    return Make(Relevance::kHistory, Certainty::kConfirmed, "status completed");
  if (*s == "stopped") {
    return Make(Relevance::kHistory, Certainty::kProvisional, "status stopped: partly done");
  }
  if (*s == "unknown") {
    return Make(Relevance::kHistory, Certainty::kProvisional, "status unknown");
  }
  if (OneOf(*s, {"not-done", "entered-in-error"})) {
    return Make(Relevance::kIgnore, Certainty::kConfirmed, "status not-done/entered-in-error");
  }
  return UnknownStatus(procedure, "status", *s,
                       "preparation|in-progress|not-done|on-hold|stopped|completed|"
                       "entered-in-error|unknown");
}

StatusAssessment AssessServiceRequest(const ServiceRequestView& request) {
  std::optional<std::string_view> s = request.status();
  if (!s) return MissingStatus(request);
  StatusAssessment a;
  if (OneOf(*s, {"active", "on-hold"})) {
    a = Make(Relevance::kCurrent, Certainty::kConfirmed, "status active/on-hold: ordered");
  } else if (*s == "unknown") {
    a = Make(Relevance::kCurrent, Certainty::kProvisional, "status unknown: treated as current");
  } else if (*s == "completed") {
    a = Make(Relevance::kHistory, Certainty::kConfirmed, "status completed");
  } else if (OneOf(*s, {"revoked", "entered-in-error"})) {
    return Make(Relevance::kIgnore, Certainty::kConfirmed, "status revoked/entered-in-error");
  } else if (*s == "draft") {
    a = Make(Relevance::kIgnore, Certainty::kConfirmed, "status draft: proposed, not ordered");
    a.draft = true;
  } else {
    a = UnknownStatus(request, "status", *s,
                      "draft|active|on-hold|revoked|completed|entered-in-error|unknown");
  }
  if (request.do_not_perform() == true) {
    a.relevance = Relevance::kIgnore;
    a.reason = "doNotPerform: an order not to do it";
  }
  return a;
}

StatusAssessment AssessAllergyIntolerance(const AllergyIntoleranceView& allergy) {
  Certainty certainty = Certainty::kConfirmed;
  if (std::optional<std::string_view> ver = allergy.verification_status_code()) {
    if (OneOf(*ver, {"entered-in-error", "refuted"})) {
      return Make(Relevance::kIgnore, certainty, "verificationStatus entered-in-error/refuted");
    }
    if (OneOf(*ver, {"unconfirmed", "presumed"})) {
      certainty = Certainty::kProvisional;
    } else if (*ver != "confirmed") {
      allergy.Report(Severity::kError, IssueCode::kValue, allergy.ChildPath("verificationStatus"),
                     "unknown verificationStatus '" + std::string(*ver) +
                         "' (expected unconfirmed|confirmed|refuted|entered-in-error)");
      certainty = Certainty::kProvisional;
    }
  }
  std::optional<std::string_view> clin = allergy.clinical_status_code();
  if (!clin || *clin == "active") {
    return Make(Relevance::kCurrent, certainty, "clinicalStatus active or missing");
  }
  if (OneOf(*clin, {"inactive", "resolved"})) {
    return Make(Relevance::kHistory, certainty, "clinicalStatus inactive/resolved");
  }
  StatusAssessment a = UnknownStatus(allergy, "clinicalStatus", *clin, "active|inactive|resolved");
  return a;
}

StatusAssessment AssessEncounter(const EncounterView& encounter) {
  std::optional<std::string_view> s = encounter.status();
  if (!s) return MissingStatus(encounter);
  if (OneOf(*s, {"entered-in-error", "cancelled"})) {
    return Make(Relevance::kIgnore, Certainty::kConfirmed, "status entered-in-error/cancelled");
  }
  if (OneOf(*s, {"planned", "arrived", "triaged", "in-progress", "onleave"})) {
    return Make(Relevance::kCurrent, Certainty::kConfirmed, "status planned..in-progress");
  }
  if (*s == "finished") return Make(Relevance::kHistory, Certainty::kConfirmed, "status finished");
  if (*s == "unknown") return Make(Relevance::kHistory, Certainty::kProvisional, "status unknown");
  return UnknownStatus(encounter, "status", *s,
                       "planned|arrived|triaged|in-progress|onleave|finished|cancelled|"
                       "entered-in-error|unknown");
}

// --- Polarity ------------------------------------------------------------------------------

namespace {

constexpr std::string_view kV2YesNo = "http://terminology.hl7.org/CodeSystem/v2-0136";
constexpr std::string_view kV2YesNoOld = "http://hl7.org/fhir/v2/0136";
constexpr std::string_view kInterpretation =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
constexpr std::string_view kInterpretationOld = "http://hl7.org/fhir/v3/ObservationInterpretation";

Polarity CodingPolarity(std::string_view system, std::string_view code) {
  CodeSystem cs = IdentifySystem(system);
  std::string_view canon = CanonicalSystem(system);
  if (cs == CodeSystem::kSnomed) {
    if (OneOf(code, {"260385009", "272519000", "2667000", "260415000", "373067005"})) {
      return Polarity::kAbsent;
    }
    if (OneOf(code, {"10828004", "52101004", "260373001", "373066001"})) return Polarity::kPresent;
  } else if (canon == kV2YesNo || canon == kV2YesNoOld) {
    if (code == "N") return Polarity::kAbsent;
    if (code == "Y") return Polarity::kPresent;
  } else if (canon == kInterpretation || canon == kInterpretationOld) {
    if (OneOf(code, {"NEG", "ND"})) return Polarity::kAbsent;
    if (OneOf(code, {"POS", "DET"})) return Polarity::kPresent;
  }
  return Polarity::kUnknown;
}

// Shared by Observation and its components (both have value[x], interpretation,
// dataAbsentReason).
template <typename V>
Polarity PolarityOf(const V& v, const ChoiceView& value) {
  // A malformed value[x] (already reported) says nothing either way.
  if (value.type() != ChoiceType::kNone && value.json() == nullptr) return Polarity::kUnknown;
  if (value.type() == ChoiceType::kBoolean) {
    if (auto b = value.boolean()) return *b ? Polarity::kPresent : Polarity::kAbsent;
  }
  if (auto cc = value.codeable_concept()) {
    Polarity p = CodedPolarity(*cc);
    if (p != Polarity::kUnknown) return p;
  }
  for (const CodeableConceptView& i : v.interpretation()) {
    Polarity p = CodedPolarity(i);
    if (p != Polarity::kUnknown) return p;
  }
  if (value.type() == ChoiceType::kNone && v.data_absent_reason()) return Polarity::kUnknown;
  return Polarity::kPresent;
}

}  // namespace

Polarity CodedPolarity(const CodeableConceptView& cc) {
  Polarity found = Polarity::kUnknown;
  cc.ForEachCoding([&](const CodingView& c) {
    if (found != Polarity::kUnknown) return;  // the first coding that says wins
    auto [system, code] = c.system_and_code();
    if (system && code) found = CodingPolarity(*system, *code);
  });
  return found;
}

Polarity ObservationPolarity(const ObservationView& observation) {
  return PolarityOf(observation, observation.value());
}

Polarity ObservationPolarity(const ObservationView& observation, const ChoiceView& value) {
  return PolarityOf(observation, value);
}

Polarity ComponentPolarity(const ObservationComponentView& component) {
  return PolarityOf(component, component.value());
}

}  // namespace cephalgia::fhir
