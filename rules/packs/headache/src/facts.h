// File: facts.h (private)
//
// FHIR -> findings. Reads every resource the request carries (all prefetch keys, whatever their
// names, and for order-sign the draft orders kept apart), applies the status semantics of
// cephalgia::fhir (clinical_status.h) and the value sets (terminology.h), and records for each
// finding of findings.json whether it is present, documented absent, its best certainty and the
// resources it came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/datatypes.h"
#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/resource_index.h"

namespace cephalgia::rules::internal {

struct Knowledge;

// Text the facts own (references, notes, names, quotes): each piece is written once into blocks
// that never move, so evidence holds views of it. A request allocates a block or two instead of
// a string per evidence field, and dropping the facts frees the blocks, not every string.
class TextArena {
 public:
  TextArena() = default;
  TextArena(TextArena&& other) noexcept;
  TextArena& operator=(TextArena&& other) noexcept;
  TextArena(const TextArena&) = delete;
  TextArena& operator=(const TextArena&) = delete;
  ~TextArena();

  // A lasting copy of the concatenation of `parts`.
  std::string_view Store(std::initializer_list<std::string_view> parts);
  std::string_view Store(std::string_view text) {
    // One piece that fits the current block: a copy and two updates, inline.
    if (text.empty() || text.size() > left_) return Store({text});
    char* out = next_;
    std::memcpy(out, text.data(), text.size());
    next_ += text.size();
    left_ -= text.size();
    return {out, text.size()};
  }

 private:
  void Release();
  // Blocks are chained through their first bytes (the previous block), newest first.
  char* last_block_ = nullptr;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

// The string_views of Evidence point into Facts::text (or at string literals).
struct Evidence {
  std::string_view ref;  // "Condition/abc"
  std::string_view
      note;  // e.g. "active, onset 3 days ago", "38.6 Cel", "~30 days/month for 200 days"
  fhir::Certainty certainty = fhir::Certainty::kConfirmed;
  // What a clinician knows the record by: its concept name ("Cervical spondylosis"), its date,
  // and for a finding read from narrative the words quoted (a short span) and whether the
  // text hedged ("possible ...").
  std::string_view display;
  std::optional<fhir::Instant> date;
  std::string_view quote;
  bool possible = false;
  bool history = false;  // a past record or a mention of the past
};

struct FindingState {
  bool present = false;
  bool absent = false;  // documented absent (and not present)
  fhir::Certainty certainty = fhir::Certainty::kText;
  std::span<const Evidence> evidence;  // in Facts::evidence_pool, in the order found
};

// One medicine the patient takes or took, as used for ICHD-3 8.2.
struct MedUse {
  std::string_view ref;   // in Facts::text
  std::string_view name;  // in Facts::text
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
  TextArena text;  // what the evidence's views point into; declared first, destroyed last
  std::vector<Evidence> evidence_pool;  // every finding's evidence, grouped by finding
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
