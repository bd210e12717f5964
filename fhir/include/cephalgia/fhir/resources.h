// File: resources.h
//
// Read-only typed views over FHIR R4 resources: Patient, Condition, Observation,
// MedicationRequest, MedicationStatement, Medication, Procedure, ServiceRequest,
// AllergyIntolerance, Encounter, Bundle and OperationOutcome. Same rules as datatypes.h: no
// copies, type-checked, malformed content becomes an issue at a FHIR path, never an exception.
//
// A view is built over the resource JSON, or over an entry of a ResourceIndex (then its path is
// the resource's location, e.g. `Bundle.entry[3].resource`):
//
//   IssueSink sink;
//   ResourceIndex index(&sink);
//   index.AddJson(prefetch_text, "prefetch.medications");
//   for (const IndexedResource* r : index.OfType("MedicationRequest")) {
//     MedicationRequestView mr(*r, &sink);
//     std::optional<CodeableConceptView> drug = mr.MedicationCode(&index);  // [x] resolved
//   }
//
// The status semantics (what "active", "refuted", "not-done" mean for the rules) are not here
// but in clinical_status.h, so that every rule interprets them the same way.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/fhir/datatypes.h"
#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/issues.h"

namespace cephalgia::fhir {

class ResourceIndex;
struct IndexedResource;

// Common to all resources. The path defaults to the JSON's resourceType (or "Resource").
class ResourceView : public ElementView {
 public:
  ResourceView() = default;
  ResourceView(const rapidjson::Value& json, IssueSink* sink, std::string_view path = {});
  ResourceView(const IndexedResource& resource, IssueSink* sink);

  std::optional<std::string_view> resource_type() const { return GetString("resourceType"); }
  std::optional<std::string_view> id() const { return GetString("id"); }
  std::optional<DateTime> last_updated() const;  // meta.lastUpdated

  // The contained resource with this id ("med1" or "#med1"), or nullptr.
  const rapidjson::Value* FindContained(std::string_view id) const;
  // The JSON of the resource `reference` points to: "#id" -> contained; otherwise looked up in
  // `index` (fullUrl, `Type/id`, absolute URL, urn:uuid). nullptr when it does not resolve
  // (no issue: callers decide whether that matters). The location of the result is written to
  // `location` when non-null.
  const rapidjson::Value* Resolve(const ReferenceView& reference, const ResourceIndex* index,
                                  std::string* location = nullptr) const;
};

// deceased[x]: deceasedBoolean or deceasedDateTime.
struct Deceased {
  bool deceased = false;
  std::optional<DateTime> when;  // deceasedDateTime
};

enum class Gender { kMale, kFemale, kOther, kUnknown };

class PatientView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  std::optional<DateTime> birth_date() const { return GetDate("birthDate", DateKind::kDate); }
  // Raw administrative gender code; gender_enum() maps it (an unknown code -> issue, kUnknown).
  std::optional<std::string_view> gender() const { return GetString("gender"); }
  std::optional<Gender> gender_enum() const;
  // nullopt when no deceased[x] member. deceasedDateTime means deceased.
  std::optional<Deceased> deceased() const;
  std::optional<AgeYears> AgeAt(Instant at) const;  // from birth_date()
};

class ConditionView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  std::optional<CodeableConceptView> clinical_status() const {
    return Child<CodeableConceptView>("clinicalStatus");
  }
  std::optional<CodeableConceptView> verification_status() const {
    return Child<CodeableConceptView>("verificationStatus");
  }
  std::vector<CodeableConceptView> category() const {
    return Children<CodeableConceptView>("category");
  }
  std::optional<CodeableConceptView> severity() const {
    return Child<CodeableConceptView>("severity");
  }
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  std::vector<CodeableConceptView> body_site() const {
    return Children<CodeableConceptView>("bodySite");
  }
  std::optional<ReferenceView> subject() const { return Child<ReferenceView>("subject"); }
  std::optional<ReferenceView> encounter() const { return Child<ReferenceView>("encounter"); }
  ChoiceView onset() const { return ChoiceView::Find(*this, "onset"); }
  ChoiceView abatement() const { return ChoiceView::Find(*this, "abatement"); }
  std::optional<DateTime> recorded_date() const {
    return GetDate("recordedDate", DateKind::kDateTime);
  }
  // Codes from the standard systems (condition-clinical / condition-ver-status), or the first
  // coding's code when the system is missing.
  std::optional<std::string_view> clinical_status_code() const;
  std::optional<std::string_view> verification_status_code() const;
};

// Observation.component[i].
class ObservationComponentView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  ChoiceView value() const { return ChoiceView::Find(*this, "value"); }
  std::optional<CodeableConceptView> data_absent_reason() const {
    return Child<CodeableConceptView>("dataAbsentReason");
  }
  std::vector<CodeableConceptView> interpretation() const {
    return Children<CodeableConceptView>("interpretation");
  }
};

class ObservationView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  // registered | preliminary | final | amended | corrected | cancelled | entered-in-error | unknown
  std::optional<std::string_view> status() const { return GetString("status"); }
  std::vector<CodeableConceptView> category() const {
    return Children<CodeableConceptView>("category");
  }
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  std::optional<ReferenceView> subject() const { return Child<ReferenceView>("subject"); }
  std::optional<ReferenceView> encounter() const { return Child<ReferenceView>("encounter"); }
  ChoiceView effective() const { return ChoiceView::Find(*this, "effective"); }
  std::optional<DateTime> issued() const { return GetDate("issued", DateKind::kInstant); }
  ChoiceView value() const { return ChoiceView::Find(*this, "value"); }
  std::optional<CodeableConceptView> data_absent_reason() const {
    return Child<CodeableConceptView>("dataAbsentReason");
  }
  std::vector<CodeableConceptView> interpretation() const {
    return Children<CodeableConceptView>("interpretation");
  }
  std::optional<CodeableConceptView> body_site() const {
    return Child<CodeableConceptView>("bodySite");
  }
  std::optional<CodeableConceptView> method() const { return Child<CodeableConceptView>("method"); }
  std::vector<ReferenceView> has_member() const { return Children<ReferenceView>("hasMember"); }
  std::vector<ObservationComponentView> components() const {
    return Children<ObservationComponentView>("component");
  }
};

// medication[x] of MedicationRequest / MedicationStatement.
struct MedicationChoice {
  std::optional<CodeableConceptView> codeable_concept;  // medicationCodeableConcept
  std::optional<ReferenceView> reference;               // medicationReference
};

class MedicationView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  std::optional<std::string_view> status() const { return GetString("status"); }
  // ingredient[i].itemCodeableConcept (itemReference ingredients are skipped).
  std::vector<CodeableConceptView> ingredient_codes() const;
};

// Shared by MedicationRequest and MedicationStatement.
class MedicationUseView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  std::optional<std::string_view> status() const { return GetString("status"); }
  MedicationChoice medication() const;
  // The CodeableConcept that says which drug: medicationCodeableConcept, or the code of the
  // Medication that medicationReference points to, resolved against `contained` ("#id") and then
  // `index` (may be null). An unresolvable reference, or a Medication without code, is a kWarning
  // (kNotFound) issue and nullopt: the drug cannot be classified, which rules must not read as
  // "no drug".
  std::optional<CodeableConceptView> MedicationCode(const ResourceIndex* index) const;
  std::optional<ReferenceView> subject() const { return Child<ReferenceView>("subject"); }
  std::vector<CodeableConceptView> reason_code() const {
    return Children<CodeableConceptView>("reasonCode");
  }
  std::vector<CodeableConceptView> status_reason_list() const;  // statusReason (0..1 or 0..*)
};

class MedicationRequestView : public MedicationUseView {
 public:
  using MedicationUseView::MedicationUseView;
  // active | on-hold | cancelled | completed | entered-in-error | stopped | draft | unknown
  std::optional<std::string_view> intent() const { return GetString("intent"); }
  std::vector<CodeableConceptView> category() const {
    return Children<CodeableConceptView>("category");
  }
  std::optional<bool> do_not_perform() const { return GetBool("doNotPerform"); }
  std::optional<DateTime> authored_on() const { return GetDate("authoredOn", DateKind::kDateTime); }
  std::vector<DosageView> dosage_instruction() const {
    return Children<DosageView>("dosageInstruction");
  }
  // dispenseRequest.validityPeriod / expectedSupplyDuration / numberOfRepeatsAllowed / quantity.
  std::optional<PeriodView> dispense_validity_period() const;
  std::optional<QuantityView> dispense_expected_supply_duration() const;
  std::optional<int64_t> dispense_repeats_allowed() const;
  std::optional<QuantityView> dispense_quantity() const;
};

class MedicationStatementView : public MedicationUseView {
 public:
  using MedicationUseView::MedicationUseView;
  // active | completed | entered-in-error | intended | stopped | on-hold | unknown | not-taken
  ChoiceView effective() const { return ChoiceView::Find(*this, "effective"); }
  std::optional<DateTime> date_asserted() const {
    return GetDate("dateAsserted", DateKind::kDateTime);
  }
  std::vector<DosageView> dosage() const { return Children<DosageView>("dosage"); }
};

class ProcedureView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  // preparation | in-progress | not-done | on-hold | stopped | completed | entered-in-error |
  // unknown
  std::optional<std::string_view> status() const { return GetString("status"); }
  std::optional<CodeableConceptView> status_reason() const {
    return Child<CodeableConceptView>("statusReason");
  }
  std::optional<CodeableConceptView> category() const {
    return Child<CodeableConceptView>("category");
  }
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  std::optional<ReferenceView> subject() const { return Child<ReferenceView>("subject"); }
  ChoiceView performed() const { return ChoiceView::Find(*this, "performed"); }
  std::vector<CodeableConceptView> reason_code() const {
    return Children<CodeableConceptView>("reasonCode");
  }
  std::vector<CodeableConceptView> body_site() const {
    return Children<CodeableConceptView>("bodySite");
  }
  std::optional<CodeableConceptView> outcome() const {
    return Child<CodeableConceptView>("outcome");
  }
};

class ServiceRequestView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  // draft | active | on-hold | revoked | completed | entered-in-error | unknown
  std::optional<std::string_view> status() const { return GetString("status"); }
  std::optional<std::string_view> intent() const { return GetString("intent"); }
  std::optional<std::string_view> priority() const { return GetString("priority"); }
  std::optional<bool> do_not_perform() const { return GetBool("doNotPerform"); }
  std::vector<CodeableConceptView> category() const {
    return Children<CodeableConceptView>("category");
  }
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  std::optional<ReferenceView> subject() const { return Child<ReferenceView>("subject"); }
  ChoiceView occurrence() const { return ChoiceView::Find(*this, "occurrence"); }
  std::optional<DateTime> authored_on() const { return GetDate("authoredOn", DateKind::kDateTime); }
  std::vector<CodeableConceptView> reason_code() const {
    return Children<CodeableConceptView>("reasonCode");
  }
  std::vector<CodeableConceptView> body_site() const {
    return Children<CodeableConceptView>("bodySite");
  }
};

class AllergyIntoleranceView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  std::optional<CodeableConceptView> clinical_status() const {
    return Child<CodeableConceptView>("clinicalStatus");
  }
  std::optional<CodeableConceptView> verification_status() const {
    return Child<CodeableConceptView>("verificationStatus");
  }
  // Codes from allergyintolerance-clinical / allergyintolerance-verification (or the first code).
  std::optional<std::string_view> clinical_status_code() const;
  std::optional<std::string_view> verification_status_code() const;
  // allergy | intolerance
  std::optional<std::string_view> type() const { return GetString("type"); }
  // food | medication | environment | biologic
  std::vector<std::string_view> category() const { return StringArray("category"); }
  std::optional<std::string_view> criticality() const { return GetString("criticality"); }
  std::optional<CodeableConceptView> code() const { return Child<CodeableConceptView>("code"); }
  ChoiceView onset() const { return ChoiceView::Find(*this, "onset"); }
  // reaction[i].substance (each reaction's substance, when present).
  std::vector<CodeableConceptView> reaction_substances() const;
  // reaction[i].manifestation[j], all reactions.
  std::vector<CodeableConceptView> reaction_manifestations() const;
};

class EncounterView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  // planned | arrived | triaged | in-progress | onleave | finished | cancelled |
  // entered-in-error | unknown
  std::optional<std::string_view> status() const { return GetString("status"); }
  std::optional<CodingView> class_coding() const { return Child<CodingView>("class"); }
  std::vector<CodeableConceptView> type() const { return Children<CodeableConceptView>("type"); }
  std::optional<CodeableConceptView> service_type() const {
    return Child<CodeableConceptView>("serviceType");
  }
  std::optional<ReferenceView> subject() const { return Child<ReferenceView>("subject"); }
  std::optional<PeriodView> period() const { return Child<PeriodView>("period"); }
  std::vector<CodeableConceptView> reason_code() const {
    return Children<CodeableConceptView>("reasonCode");
  }
};

// Bundle.entry[i].
class BundleEntryView : public ElementView {
 public:
  using ElementView::ElementView;
  std::optional<std::string_view> full_url() const { return GetString("fullUrl"); }
  // The resource object (nullptr when absent; a non-object is an issue and nullptr).
  const rapidjson::Value* resource() const { return GetObject("resource"); }
  std::string resource_path() const { return ChildPath("resource"); }
  std::optional<std::string_view> search_mode() const;      // search.mode: match|include|outcome
  std::optional<std::string_view> request_method() const;   // request.method
  std::optional<std::string_view> request_url() const;      // request.url
  std::optional<std::string_view> response_status() const;  // response.status
};

class BundleView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  // document | message | transaction | transaction-response | batch | batch-response |
  // history | searchset | collection
  std::optional<std::string_view> type() const { return GetString("type"); }
  std::optional<int64_t> total() const { return GetInteger("total"); }
  // link[] with relation "next": the URL of the next page of a searchset, if any.
  std::optional<std::string_view> next_link() const;
  std::optional<std::string_view> link(std::string_view relation) const;
  std::vector<BundleEntryView> entries() const { return Children<BundleEntryView>("entry"); }
};

// OperationOutcome.issue[i].
class OutcomeIssueView : public ElementView {
 public:
  using ElementView::ElementView;
  // fatal | error | warning | information
  std::optional<std::string_view> severity() const { return GetString("severity"); }
  std::optional<std::string_view> code() const { return GetString("code"); }
  std::optional<CodeableConceptView> details() const {
    return Child<CodeableConceptView>("details");
  }
  std::optional<std::string_view> diagnostics() const { return GetString("diagnostics"); }
  std::vector<std::string_view> expression() const { return StringArray("expression"); }
  std::vector<std::string_view> location() const { return StringArray("location"); }
  // diagnostics, else details.text, else the code: a one-line description.
  std::string Describe() const;
};

class OperationOutcomeView : public ResourceView {
 public:
  using ResourceView::ResourceView;
  std::vector<OutcomeIssueView> issues() const { return Children<OutcomeIssueView>("issue"); }
  // Any issue with severity fatal or error.
  bool HasErrors() const;
};

}  // namespace cephalgia::fhir
