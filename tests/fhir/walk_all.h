// Exercises every accessor of the typed views and every status assessment on one resource, so
// a corpus test can check that valid data produces no issue and broken data no crash.
#pragma once

#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/resource_index.h"
#include "cephalgia/fhir/resources.h"
#include "cephalgia/fhir/terminology.h"

namespace cephalgia::fhir::testing {

inline void WalkConcept(const std::optional<CodeableConceptView>& cc) {
  if (!cc) return;
  (void)cc->text();
  for (const CodingView& c : cc->codings()) {
    (void)c.system();
    (void)c.code();
    (void)c.display();
    (void)c.version();
    (void)c.user_selected();
  }
}
inline void WalkConcepts(const std::vector<CodeableConceptView>& list) {
  for (const auto& c : list) WalkConcept(c);
}
inline void WalkQuantity(const std::optional<QuantityView>& q) {
  if (!q) return;
  (void)q->value();
  (void)q->unit();
  (void)q->system();
  (void)q->code();
  (void)q->comparator();
}
inline void WalkRange(const std::optional<RangeView>& r) {
  if (!r) return;
  WalkQuantity(r->low());
  WalkQuantity(r->high());
}
inline void WalkChoice(const ChoiceView& c, const std::optional<DateTime>& birth) {
  (void)c.boolean();
  (void)c.integer();
  (void)c.decimal();
  (void)c.string();
  (void)c.date_time();
  WalkQuantity(c.quantity());
  WalkConcept(c.codeable_concept());
  WalkRange(c.range());
  if (auto r = c.ratio()) {
    WalkQuantity(r->numerator());
    WalkQuantity(r->denominator());
  }
  if (auto p = c.period()) (void)p->ToInterval();
  if (auto r = c.reference()) (void)r->reference();
  (void)c.ToInterval(birth);
}
inline void WalkDosages(const std::vector<DosageView>& dosages) {
  for (const DosageView& d : dosages) {
    (void)d.sequence();
    (void)d.text();
    (void)d.patient_instruction();
    if (auto a = d.as_needed()) WalkConcept(a->reason);
    WalkConcept(d.route());
    if (auto t = d.timing()) {
      (void)t->events();
      WalkConcept(t->code());
      if (auto r = t->repeat()) {
        if (auto bp = r->bounds_period()) (void)bp->ToInterval();
        WalkQuantity(r->bounds_duration());
        WalkRange(r->bounds_range());
        (void)r->count();
        (void)r->count_max();
        (void)r->duration();
        (void)r->duration_unit();
        (void)r->frequency();
        (void)r->frequency_max();
        (void)r->period();
        (void)r->period_max();
        (void)r->period_unit();
        (void)r->day_of_week();
        (void)r->time_of_day();
        (void)r->when();
        (void)r->PerDay();
      }
    }
    for (const DoseAndRateView& dr : d.dose_and_rate()) {
      WalkConcept(dr.type());
      WalkQuantity(dr.dose_quantity());
      WalkRange(dr.dose_range());
      WalkQuantity(dr.rate_quantity());
      WalkRange(dr.rate_range());
    }
  }
}

// Walks `r` as its type. Returns false for types the views do not model.
inline bool WalkResource(const IndexedResource& r, const ResourceIndex& index, IssueSink* sink,
                         const std::optional<DateTime>& birth) {
  std::string_view t = r.resource_type;
  ResourceView base(r, sink);
  (void)base.id();
  (void)base.last_updated();
  if (t == "Patient") {
    PatientView p(r, sink);
    (void)p.birth_date();
    (void)p.gender_enum();
    (void)p.deceased();
  } else if (t == "Condition") {
    ConditionView c(r, sink);
    WalkConcepts(c.category());
    WalkConcept(c.severity());
    WalkConcept(c.code());
    WalkConcepts(c.body_site());
    WalkChoice(c.onset(), birth);
    WalkChoice(c.abatement(), birth);
    (void)c.recorded_date();
    (void)c.subject();
    (void)AssessCondition(c);
  } else if (t == "Observation") {
    ObservationView o(r, sink);
    WalkConcepts(o.category());
    WalkConcept(o.code());
    WalkChoice(o.effective(), birth);
    (void)o.issued();
    WalkChoice(o.value(), birth);
    WalkConcept(o.data_absent_reason());
    WalkConcepts(o.interpretation());
    WalkConcept(o.body_site());
    WalkConcept(o.method());
    (void)o.has_member();
    for (const ObservationComponentView& c : o.components()) {
      WalkConcept(c.code());
      WalkChoice(c.value(), birth);
      WalkConcept(c.data_absent_reason());
      WalkConcepts(c.interpretation());
      (void)ComponentPolarity(c);
    }
    (void)AssessObservation(o);
    (void)ObservationPolarity(o);
  } else if (t == "MedicationRequest") {
    MedicationRequestView m(r, sink);
    WalkConcept(m.MedicationCode(&index));
    (void)m.intent();
    WalkConcepts(m.category());
    (void)m.do_not_perform();
    (void)m.authored_on();
    WalkDosages(m.dosage_instruction());
    if (auto p = m.dispense_validity_period()) (void)p->ToInterval();
    WalkQuantity(m.dispense_expected_supply_duration());
    (void)m.dispense_repeats_allowed();
    WalkQuantity(m.dispense_quantity());
    WalkConcepts(m.reason_code());
    WalkConcepts(m.status_reason_list());
    (void)AssessMedicationRequest(m);
  } else if (t == "MedicationStatement") {
    MedicationStatementView m(r, sink);
    WalkConcept(m.MedicationCode(&index));
    WalkChoice(m.effective(), birth);
    (void)m.date_asserted();
    WalkDosages(m.dosage());
    WalkConcepts(m.reason_code());
    WalkConcepts(m.status_reason_list());
    (void)AssessMedicationStatement(m);
  } else if (t == "Medication") {
    MedicationView m(r, sink);
    WalkConcept(m.code());
    WalkConcepts(m.ingredient_codes());
  } else if (t == "Procedure") {
    ProcedureView p(r, sink);
    WalkConcept(p.status_reason());
    WalkConcept(p.category());
    WalkConcept(p.code());
    WalkChoice(p.performed(), birth);
    WalkConcepts(p.reason_code());
    WalkConcepts(p.body_site());
    WalkConcept(p.outcome());
    (void)AssessProcedure(p);
  } else if (t == "ServiceRequest") {
    ServiceRequestView s(r, sink);
    (void)s.intent();
    (void)s.priority();
    (void)s.do_not_perform();
    WalkConcepts(s.category());
    WalkConcept(s.code());
    WalkChoice(s.occurrence(), birth);
    (void)s.authored_on();
    WalkConcepts(s.reason_code());
    WalkConcepts(s.body_site());
    (void)AssessServiceRequest(s);
  } else if (t == "AllergyIntolerance") {
    AllergyIntoleranceView a(r, sink);
    (void)a.type();
    (void)a.category();
    (void)a.criticality();
    WalkConcept(a.code());
    WalkChoice(a.onset(), birth);
    WalkConcepts(a.reaction_substances());
    WalkConcepts(a.reaction_manifestations());
    (void)AssessAllergyIntolerance(a);
  } else if (t == "Encounter") {
    EncounterView e(r, sink);
    if (auto c = e.class_coding()) (void)c->code();
    WalkConcepts(e.type());
    WalkConcept(e.service_type());
    if (auto p = e.period()) (void)p->ToInterval();
    WalkConcepts(e.reason_code());
    (void)AssessEncounter(e);
  } else if (t == "Bundle") {
    BundleView b(r, sink);
    (void)b.type();
    (void)b.total();
    (void)b.next_link();
    for (const BundleEntryView& e : b.entries()) {
      (void)e.full_url();
      (void)e.resource();
      (void)e.search_mode();
      (void)e.request_method();
      (void)e.request_url();
      (void)e.response_status();
    }
  } else if (t == "OperationOutcome") {
    OperationOutcomeView o(r, sink);
    for (const OutcomeIssueView& i : o.issues()) (void)i.Describe();
    (void)o.HasErrors();
  } else {
    return false;
  }
  return true;
}

}  // namespace cephalgia::fhir::testing
