// File: clinical_status.h
//
// Status semantics in ONE place: what each FHIR status means for clinical rules. Every rule
// asks these functions instead of reading status codes itself, so "refuted", "not-taken" or
// "entered-in-error" can never be treated as a fact by one rule and ignored by another.
//
//   StatusAssessment a = AssessCondition(condition);
//   if (a.relevance == Relevance::kIgnore) continue;          // refuted / entered-in-error
//   bool active = a.relevance == Relevance::kCurrent;          // else kHistory (cancer history)
//   Certainty c = Weakest(a.certainty, valueset_match.certainty);
//
// Decisions (with the reasons):
//
// Condition (knowledge.md §d.7)
//   verificationStatus entered-in-error | refuted           -> kIgnore
//   any abatement[x], or clinicalStatus inactive | resolved | remission -> kHistory
//     (still counts for history-based red flags such as a cancer history)
//   clinicalStatus active | recurrence | relapse            -> kCurrent
//   clinicalStatus missing                                  -> kCurrent. FHIR makes it
//     required unless verificationStatus is entered-in-error, but many EHRs omit it on problem
//     list entries; a recorded, unrefuted diagnosis without abatement is safest read as current
//     (missing a red flag costs more than an extra caution card).
//   verificationStatus unconfirmed | provisional | differential -> certainty kProvisional;
//     confirmed or missing -> kConfirmed.
//
// Observation
//   status entered-in-error | cancelled                     -> kIgnore
//   status final | amended | corrected                      -> kCurrent, kConfirmed
//   status preliminary | registered | unknown               -> kCurrent, kProvisional
//   Polarity (ObservationPolarity): valueBoolean false, or a value / interpretation coded as
//   absent -> kAbsent; a dataAbsentReason -> kUnknown; otherwise kPresent (an Observation
//   coded with a finding and no value asserts that finding). Coded "absent" values:
//     SNOMED 260385009 Negative, 272519000 Absence of findings, 2667000 Absent,
//            260415000 Not detected, 373067005 No
//     HL7 v2-0136 N (No); HL7 ObservationInterpretation NEG (Negative), ND (Not detected)
//   Coded "present": SNOMED 10828004 Positive, 52101004 Present, 260373001 Detected,
//     373066001 Yes; v2-0136 Y; interpretation POS, DET.
//   Interpretation N (Normal) is deliberately NOT "absent": it says a measured value is in its
//   reference range, not that a finding is missing; rules about a lab value read the value.
//
// MedicationRequest
//   active | on-hold                                        -> kCurrent (on-hold is still the
//     patient's therapy; for safety we treat it as current)
//   unknown                                                 -> kCurrent, kProvisional
//   completed | stopped                                     -> kHistory
//   cancelled | entered-in-error                            -> kIgnore
//   draft                                                   -> kIgnore with draft = true: a
//     proposal, not the patient's therapy. Order-select/order-sign rules that look at the
//     order being written read context.draftOrders and check `draft`.
//   doNotPerform true                                       -> kIgnore (an order NOT to give it)
// MedicationStatement
//   active | intended | on-hold                             -> kCurrent
//   unknown                                                 -> kCurrent, kProvisional
//   completed | stopped                                     -> kHistory
//   not-taken | entered-in-error                            -> kIgnore
// Procedure
//   in-progress | preparation | on-hold                     -> kCurrent
//   completed                                               -> kHistory (it was done)
//   stopped                                                 -> kHistory, kProvisional
//     (partly done)
//   unknown                                                 -> kHistory, kProvisional
//   not-done | entered-in-error                             -> kIgnore
// ServiceRequest
//   active | on-hold                                        -> kCurrent (ordered, pending)
//   unknown                                                 -> kCurrent, kProvisional
//   completed                                               -> kHistory
//   revoked | entered-in-error                              -> kIgnore
//   draft                                                   -> kIgnore with draft = true (as
//     for MedicationRequest)
//   doNotPerform true                                       -> kIgnore
// AllergyIntolerance
//   verificationStatus entered-in-error | refuted           -> kIgnore
//   clinicalStatus inactive | resolved                      -> kHistory
//   clinicalStatus active or missing                        -> kCurrent (an allergy on file is
//     a contraindication until someone says otherwise)
//   verificationStatus unconfirmed (| presumed, R5)         -> kProvisional
// Encounter
//   entered-in-error | cancelled                            -> kIgnore
//   planned | arrived | triaged | in-progress | onleave     -> kCurrent
//   finished                                                -> kHistory
//   unknown                                                 -> kHistory, kProvisional
//
// A status code outside the FHIR value set is a kError/kValue issue; the resource is then
// assessed as kCurrent at kProvisional (we cannot tell, and dropping it could hide a
// contraindication). A missing required status (Observation, MedicationRequest, ...) is the
// same, with a kError/kRequired issue.
#pragma once

#include <string_view>

#include "cephalgia/fhir/resources.h"

namespace cephalgia::fhir {

enum class Relevance {
  kIgnore,   // not a fact about the patient (refuted, entered in error, cancelled, not taken)
  kHistory,  // was true, not now (resolved, completed, stopped)
  kCurrent,  // true now
};

// Ordered strongest first; combine with Weakest().
enum class Certainty {
  kConfirmed,    // coded, confirmed
  kProvisional,  // provisional / differential / unconfirmed / preliminary
  kText,         // recognised only from free text (terminology.h)
};

inline Certainty Weakest(Certainty a, Certainty b) { return a > b ? a : b; }

std::string_view RelevanceName(Relevance r);  // "ignore" | "history" | "current"
std::string_view CertaintyName(Certainty c);  // "confirmed" | "provisional" | "text"

struct StatusAssessment {
  Relevance relevance = Relevance::kCurrent;
  Certainty certainty = Certainty::kConfirmed;
  bool draft = false;       // a draft MedicationRequest / ServiceRequest
  std::string_view reason;  // static text: why, e.g. "verificationStatus refuted"
};

// Standard status code systems.
inline constexpr std::string_view kConditionClinicalSystem =
    "http://terminology.hl7.org/CodeSystem/condition-clinical";
inline constexpr std::string_view kConditionVerificationSystem =
    "http://terminology.hl7.org/CodeSystem/condition-ver-status";
inline constexpr std::string_view kAllergyClinicalSystem =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
inline constexpr std::string_view kAllergyVerificationSystem =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

StatusAssessment AssessCondition(const ConditionView& condition);
// The same with the condition's abatement[x] already found (condition.abatement()), for a
// caller that reads it too: ChoiceView::Find scans every member of the resource.
StatusAssessment AssessCondition(const ConditionView& condition, const ChoiceView& abatement);
StatusAssessment AssessObservation(const ObservationView& observation);
StatusAssessment AssessMedicationRequest(const MedicationRequestView& request);
StatusAssessment AssessMedicationStatement(const MedicationStatementView& statement);
StatusAssessment AssessProcedure(const ProcedureView& procedure);
StatusAssessment AssessServiceRequest(const ServiceRequestView& request);
StatusAssessment AssessAllergyIntolerance(const AllergyIntoleranceView& allergy);
StatusAssessment AssessEncounter(const EncounterView& encounter);

// Whether an Observation says its finding is there. See the table above.
enum class Polarity { kPresent, kAbsent, kUnknown };
Polarity ObservationPolarity(const ObservationView& observation);
// The same with the observation's value[x] already found (observation.value()).
Polarity ObservationPolarity(const ObservationView& observation, const ChoiceView& value);
// The same for one component (value / interpretation / dataAbsentReason of the component).
Polarity ComponentPolarity(const ObservationComponentView& component);
// Whether a coded value means absent / present (the code lists above); kUnknown otherwise.
Polarity CodedPolarity(const CodeableConceptView& cc);

}  // namespace cephalgia::fhir
