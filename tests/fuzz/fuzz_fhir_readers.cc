// libFuzzer target: the FHIR reading layer over untrusted JSON, as the service gets it in
// prefetch values and fetched search pages. ResourceIndex::AddJson parses and indexes the bytes
// (a resource, a Bundle of any type, nested Bundles, an OperationOutcome, garbage), then every
// indexed resource is walked through its typed view (tests/fhir/walk_all.h: every accessor and
// status assessment), every Bundle through BundleView (entries, next link, total), every
// OperationOutcome through OperationOutcomeView, and every reference is resolved.
// Seeds: ../shared/fhir-samples (HL7 R4 examples, CDS Hooks samples), copied by scripts/fuzz.sh.
#include <cstdint>
#include <string_view>

#include "cephalgia/fhir/resource_index.h"
#include "cephalgia/fhir/resources.h"
#include "fuzz_support.h"
#include "walk_all.h"

using namespace cephalgia::fhir;  // NOLINT: a fuzz target reads like the tests it extends

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IssueSink sink;
  ResourceIndex index(&sink);
  // Twice under two origins: a repeated Type/id must be indexed once, and a second document must
  // not disturb pointers into the first.
  if (!index.AddJson(cephalgia::fuzz::AsText(data, size), "prefetch.fuzz").ok()) return 0;
  (void)index.AddJson(cephalgia::fuzz::AsText(data, size), "prefetch.again");

  std::optional<DateTime> birth;
  if (const IndexedResource* patient = index.patient()) {
    birth = PatientView(*patient, &sink).birth_date();
  }
  for (const IndexedResource* r : index.all()) {
    (void)testing::WalkResource(*r, index, &sink, birth);
    (void)index.Resolve(r->id);
    (void)index.Resolve(r->full_url);
    (void)index.Find(r->resource_type, r->id);
    ResourceView view(*r, &sink);
    if (r->resource_type == "Bundle") {
      BundleView bundle(*r, &sink);
      (void)bundle.type();
      (void)bundle.total();
      (void)bundle.next_link();
      (void)bundle.link("self");
      for (const BundleEntryView& e : bundle.entries()) {
        (void)e.full_url();
        (void)e.resource();
        (void)e.resource_path();
        (void)e.search_mode();
        (void)e.request_method();
        (void)e.request_url();
        (void)e.response_status();
      }
    } else if (r->resource_type == "OperationOutcome") {
      OperationOutcomeView outcome(*r, &sink);
      (void)outcome.HasErrors();
      for (const OutcomeIssueView& issue : outcome.issues()) {
        (void)issue.Describe();
        (void)issue.expression();
        (void)issue.location();
      }
    } else if (r->resource_type == "MedicationRequest" ||
               r->resource_type == "MedicationStatement") {
      MedicationUseView use(*r, &sink);
      if (auto m = use.medication(); m.reference) {
        std::string location;
        (void)view.Resolve(*m.reference, &index, &location);
      }
      (void)use.MedicationCode(&index);
    }
  }
  return 0;
}
