// Temporary stubs so the `fhir` target links while the implementation lands (first commit only).
#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/datatypes.h"
#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/issues.h"
#include "cephalgia/fhir/resource_index.h"
#include "cephalgia/fhir/resources.h"
#include "cephalgia/fhir/terminology.h"
namespace cephalgia::fhir {
Result<DateTime> DateTime::Parse(std::string_view, DateKind) { return InvalidArgument("not implemented"); }
}  // namespace cephalgia::fhir
