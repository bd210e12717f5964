#include "cephalgia/fhir/resources.h"

#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/resource_index.h"
#include "json_names.h"

namespace cephalgia::fhir {

using rapidjson::Value;

namespace {

std::string_view DefaultPath(const Value& json) {
  if (json.IsObject()) {
    auto it = json.FindMember("resourceType");
    if (it != json.MemberEnd() && it->value.IsString()) {
      return std::string_view(it->value.GetString(), it->value.GetStringLength());
    }
  }
  return "Resource";
}

// The object member `key` of `parent` as a view of type V, nested one level: parent.key.child.
template <typename V>
std::optional<V> Grandchild(const ElementView& parent, std::string_view key,
                            std::string_view child) {
  const Value* mid = parent.GetObject(key);
  if (mid == nullptr) return std::nullopt;
  ElementView m(mid, parent.sink(), parent.ChildNode(key));
  const Value* v = m.GetObject(child);
  if (v == nullptr) return std::nullopt;
  return std::optional<V>(std::in_place, v, parent.sink(), m.ChildNode(child));
}

// parent.key.child as a string (key must be an object).
std::optional<std::string_view> NestedString(const ElementView& parent, std::string_view key,
                                             std::string_view child) {
  const Value* mid = parent.GetObject(key);
  if (mid == nullptr) return std::nullopt;
  return ElementView(mid, parent.sink(), parent.ChildNode(key)).GetString(child);
}

// Status code of a status CodeableConcept: the code in `system`, else the first code.
std::optional<std::string_view> StatusCode(const std::optional<CodeableConceptView>& cc,
                                           std::string_view system) {
  if (!cc) return std::nullopt;
  if (auto c = cc->CodeIn(system)) return c;
  return cc->FirstCode();
}

}  // namespace

// --- ResourceView --------------------------------------------------------------------------

ResourceView::ResourceView(const Value& json, IssueSink* sink, std::string_view path)
    // The label is looked up only for a sink, the only reader of paths.
    : ElementView(&json, sink,
                  IssueSink::ExtendPath(
                      sink, nullptr, sink != nullptr && path.empty() ? DefaultPath(json) : path)) {}

ResourceView::ResourceView(const IndexedResource& resource, IssueSink* sink)
    : ElementView(resource.json, sink, resource.location) {}

std::optional<DateTime> ResourceView::last_updated() const {
  const Value* meta = GetObject("meta");
  if (meta == nullptr) return std::nullopt;
  return ElementView(meta, sink_, ChildNode("meta")).GetDate("lastUpdated", DateKind::kInstant);
}

const Value* ResourceView::FindContained(std::string_view id) const {
  if (!id.empty() && id.front() == '#') id.remove_prefix(1);
  const Value* arr = GetArray("contained");
  if (arr == nullptr || id.empty()) return nullptr;
  for (const Value& r : arr->GetArray()) {
    if (!r.IsObject()) continue;
    auto it = r.FindMember("id");
    if (it != r.MemberEnd() && it->value.IsString() &&
        std::string_view(it->value.GetString(), it->value.GetStringLength()) == id) {
      return &r;
    }
  }
  return nullptr;
}

const Value* ResourceView::Resolve(const ReferenceView& reference, const ResourceIndex* index,
                                   std::string* location) const {
  std::optional<std::string_view> ref = reference.reference();
  if (!ref || ref->empty()) return nullptr;
  if (ref->front() == '#') {
    if (*ref == "#") {  // "#" alone refers to the container itself
      if (location != nullptr) *location = path();
      return json_;
    }
    const Value* arr = GetArray("contained");
    if (arr == nullptr) return nullptr;
    std::string_view id = ref->substr(1);
    for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
      const Value& r = (*arr)[i];
      if (!r.IsObject()) continue;
      auto it = r.FindMember("id");
      if (it != r.MemberEnd() && it->value.IsString() &&
          std::string_view(it->value.GetString(), it->value.GetStringLength()) == id) {
        if (location != nullptr) *location = ChildPath("contained", i);
        return &r;
      }
    }
    return nullptr;
  }
  if (index == nullptr) return nullptr;
  const IndexedResource* r = index->Resolve(*ref);
  if (r == nullptr) return nullptr;
  if (location != nullptr) *location = r->location;
  return r->json;
}

// --- Patient -------------------------------------------------------------------------------

std::optional<Gender> PatientView::gender_enum() const {
  std::optional<std::string_view> g = gender();
  if (!g) return std::nullopt;
  if (*g == "male") return Gender::kMale;
  if (*g == "female") return Gender::kFemale;
  if (*g == "other") return Gender::kOther;
  if (*g == "unknown") return Gender::kUnknown;
  Report(Severity::kError, IssueCode::kValue, ChildPath("gender"),
         "unknown administrative gender '" + std::string(*g) + "'");
  return Gender::kUnknown;
}

std::optional<Deceased> PatientView::deceased() const {
  ChoiceView c = ChoiceView::Find(*this, "deceased");
  switch (c.type()) {
    case ChoiceType::kBoolean:
      if (auto b = c.boolean()) return Deceased{*b, std::nullopt};
      return std::nullopt;
    case ChoiceType::kDateTime:
      if (auto dt = c.date_time()) return Deceased{true, dt};
      return std::nullopt;
    case ChoiceType::kNone:
      return std::nullopt;
    default:
      Report(Severity::kError, IssueCode::kStructure, c.path(),
             "deceased[x] must be Boolean or DateTime");
      return std::nullopt;
  }
}

std::optional<AgeYears> PatientView::AgeAt(Instant at) const {
  std::optional<DateTime> b = birth_date();
  if (!b) return std::nullopt;
  return fhir::AgeAt(*b, at);
}

// --- Condition / AllergyIntolerance status codes ------------------------------------------

std::optional<std::string_view> ConditionView::clinical_status_code() const {
  return StatusCode(clinical_status(), kConditionClinicalSystem);
}
std::optional<std::string_view> ConditionView::verification_status_code() const {
  return StatusCode(verification_status(), kConditionVerificationSystem);
}
std::optional<std::string_view> AllergyIntoleranceView::clinical_status_code() const {
  return StatusCode(clinical_status(), kAllergyClinicalSystem);
}
std::optional<std::string_view> AllergyIntoleranceView::verification_status_code() const {
  return StatusCode(verification_status(), kAllergyVerificationSystem);
}

std::vector<CodeableConceptView> AllergyIntoleranceView::reaction_substances() const {
  std::vector<CodeableConceptView> out;
  for (const ElementView& r : Children<ElementView>("reaction")) {
    const Value* s = r.GetObject("substance");
    if (s != nullptr) out.emplace_back(s, sink_, r.ChildNode("substance"));
  }
  return out;
}

std::vector<CodeableConceptView> AllergyIntoleranceView::reaction_manifestations() const {
  std::vector<CodeableConceptView> out;
  for (const ElementView& r : Children<ElementView>("reaction")) {
    const Value* arr = r.GetArray("manifestation");
    if (arr == nullptr) continue;
    for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
      const Value& m = (*arr)[i];
      if (!m.IsObject()) {
        Report(Severity::kError, IssueCode::kStructure, r.ChildPath("manifestation", i),
               std::string("expected an object, got ") + std::string(JsonTypeName(m)));
        continue;
      }
      out.emplace_back(&m, sink_, r.ChildNode("manifestation", i));
    }
  }
  return out;
}

// --- Medication ----------------------------------------------------------------------------

std::vector<CodeableConceptView> MedicationView::ingredient_codes() const {
  std::vector<CodeableConceptView> out;
  for (const ElementView& ing : Children<ElementView>("ingredient")) {
    const Value* item = ing.GetObject("itemCodeableConcept");
    if (item != nullptr) out.emplace_back(item, sink_, ing.ChildNode("itemCodeableConcept"));
  }
  return out;
}

MedicationChoice MedicationUseView::medication() const {
  MedicationChoice out;
  ChoiceView c = ChoiceView::Find(*this, "medication");
  switch (c.type()) {
    case ChoiceType::kCodeableConcept:
      out.codeable_concept = c.codeable_concept();
      break;
    case ChoiceType::kReference:
      out.reference = c.reference();
      break;
    case ChoiceType::kNone:
      break;
    default:
      Report(Severity::kError, IssueCode::kStructure, c.path(),
             "medication[x] must be CodeableConcept or Reference");
      break;
  }
  return out;
}

std::optional<CodeableConceptView> MedicationUseView::MedicationCode(
    const ResourceIndex* index) const {
  MedicationChoice m = medication();
  if (m.codeable_concept) return m.codeable_concept;
  if (!m.reference) {
    if (ChoiceView::Find(*this, "medication").type() == ChoiceType::kNone) {
      Report(Severity::kError, IssueCode::kRequired, ChildPath("medication[x]"),
             "medication[x] is required");
    }
    return std::nullopt;
  }
  std::string location;
  const Value* med = Resolve(*m.reference, index, &location);
  std::string ref(m.reference->reference().value_or(""));
  if (med == nullptr) {
    Report(Severity::kWarning, IssueCode::kNotFound, m.reference->ChildPath("reference"),
           ref.empty() ? "medicationReference has no reference, the drug cannot be classified"
                       : "medicationReference '" + ref +
                             "' does not resolve to a resource in the request data; the drug "
                             "cannot be classified");
    return std::nullopt;
  }
  MedicationView mv(*med, sink_, location);
  if (mv.resource_type() != std::optional<std::string_view>("Medication")) {
    Report(Severity::kError, IssueCode::kValue, m.reference->ChildPath("reference"),
           "medicationReference '" + ref + "' points to a " +
               std::string(mv.resource_type().value_or("resource without type")) +
               ", not a Medication");
    return std::nullopt;
  }
  std::optional<CodeableConceptView> code = mv.code();
  if (!code) {
    Report(Severity::kWarning, IssueCode::kNotFound, mv.ChildPath("code"),
           "Medication '" + ref + "' has no code; the drug cannot be classified");
  }
  return code;
}

std::vector<CodeableConceptView> MedicationUseView::status_reason_list() const {
  // MedicationRequest.statusReason is 0..1, MedicationStatement.statusReason 0..*.
  if (json_ == nullptr || !json_->IsObject()) return {};
  auto it = json_->FindMember("statusReason");
  if (it == json_->MemberEnd()) return {};
  if (it->value.IsArray()) return Children<CodeableConceptView>("statusReason");
  if (auto one = Child<CodeableConceptView>("statusReason")) return {*one};
  return {};
}

std::optional<PeriodView> MedicationRequestView::dispense_validity_period() const {
  return Grandchild<PeriodView>(*this, "dispenseRequest", "validityPeriod");
}
std::optional<QuantityView> MedicationRequestView::dispense_expected_supply_duration() const {
  return Grandchild<QuantityView>(*this, "dispenseRequest", "expectedSupplyDuration");
}
std::optional<QuantityView> MedicationRequestView::dispense_quantity() const {
  return Grandchild<QuantityView>(*this, "dispenseRequest", "quantity");
}
std::optional<int64_t> MedicationRequestView::dispense_repeats_allowed() const {
  std::optional<ElementView> dr = Child<ElementView>("dispenseRequest");
  if (!dr) return std::nullopt;
  return dr->GetInteger("numberOfRepeatsAllowed");
}

// --- Bundle --------------------------------------------------------------------------------

std::optional<std::string_view> BundleEntryView::search_mode() const {
  return NestedString(*this, "search", "mode");
}
std::optional<std::string_view> BundleEntryView::request_method() const {
  return NestedString(*this, "request", "method");
}
std::optional<std::string_view> BundleEntryView::request_url() const {
  return NestedString(*this, "request", "url");
}
std::optional<std::string_view> BundleEntryView::response_status() const {
  return NestedString(*this, "response", "status");
}

std::optional<std::string_view> BundleView::link(std::string_view relation) const {
  for (const ElementView& l : Children<ElementView>("link")) {
    if (l.GetString("relation") == std::optional<std::string_view>(relation)) {
      return l.GetString("url");
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> BundleView::next_link() const { return link("next"); }

// --- OperationOutcome ----------------------------------------------------------------------

std::string OutcomeIssueView::Describe() const {
  if (auto d = diagnostics()) return std::string(*d);
  if (auto det = details()) {
    if (auto t = det->text()) return std::string(*t);
    if (auto c = det->FirstCode()) return std::string(*c);
  }
  return std::string(code().value_or("unspecified issue"));
}

bool OperationOutcomeView::HasErrors() const {
  for (const OutcomeIssueView& i : issues()) {
    auto s = i.severity();
    if (s && (*s == "fatal" || *s == "error")) return true;
  }
  return false;
}

}  // namespace cephalgia::fhir
