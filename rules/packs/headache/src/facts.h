// File: facts.h (private)
//
// FHIR -> findings. Reads every resource the request carries (all prefetch keys, whatever their
// names, and for order-sign the draft orders kept apart), applies the status semantics of
// cephalgia::fhir (clinical_status.h) and the value sets (terminology.h), and records for each
// finding of findings.json whether it is present, documented absent, its best certainty and the
// resources it came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/datatypes.h"
#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/resource_index.h"

namespace cephalgia::rules::internal {

struct Knowledge;

struct Evidence {
  std::string ref;   // "Condition/abc"
  std::string note;  // e.g. "active, onset 3 days ago", "38.6 Cel", "~30 days/month for 200 days"
  fhir::Certainty certainty = fhir::Certainty::kConfirmed;
  // What a clinician knows the record by: its concept name ("Cervical spondylosis"), its date,
  // and for a finding read from narrative the words quoted (a short span) and whether the
  // text hedged ("possible ...").
  std::string display;
  std::optional<fhir::Instant> date;
  std::string quote;
  bool possible = false;
  bool history = false;  // a past record or a mention of the past
};

struct FindingState {
  bool present = false;
  bool absent = false;  // documented absent (and not present)
  fhir::Certainty certainty = fhir::Certainty::kText;
  std::vector<Evidence> evidence;
};

// One medicine the patient takes or took, as used for ICHD-3 8.2.
struct MedUse {
  std::string ref;
  std::string name;
  int overuse_class = -1;
  std::optional<double> days_per_month;
  std::optional<int64_t> duration_days;
  bool current = false;
};

// A resource of context.draftOrders (order-sign).
struct DraftOrder {
  std::string ref;  // "MedicationRequest/abc" ("" when the draft has no id)
  std::string resource_type;
  std::string name;  // display / text of its code
  std::vector<int> value_sets;
  int overuse_class = -1;
  std::optional<double> days_per_month;
  // MedicationRequest drafts: days of supply including refills (expectedSupplyDuration x (1 +
  // numberOfRepeatsAllowed)); nullopt when the draft does not say.
  std::optional<double> supply_days;
};

struct Facts {
  std::vector<FindingState> findings;
  std::optional<int> age;
  std::string sex;  // administrative gender code, "" unknown
  std::string patient_id;
  std::vector<MedUse> med_uses;
  std::vector<char> active_value_sets;           // per value set: a current med/order is in it
  std::unordered_set<std::string> active_codes;  // "system|code" of current meds/orders
  std::vector<std::string> notes;                // data problems worth telling the clinician
  std::vector<DraftOrder> drafts;

  bool Present(int finding) const { return findings[finding].present; }
};

// `draft_origin` is the ResourceIndex origin label of context.draftOrders ("" = none).
Facts ExtractFacts(const Knowledge& k, const fhir::ResourceIndex& index, fhir::Instant now,
                   std::string_view draft_origin);

// Days per month a dosage implies (FHIR-ENCODING.md §5); nullopt when it cannot be told.
std::optional<double> DaysPerMonthFromDosage(const std::vector<fhir::DosageView>& dosages);

}  // namespace cephalgia::rules::internal
