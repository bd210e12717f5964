// Typed views on the official HL7 R4 examples and on hand-written edge cases.
#include <gtest/gtest.h>

#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/resource_index.h"
#include "cephalgia/fhir/resources.h"
#include "cephalgia/fhir/terminology.h"
#include "fhir_test_util.h"
#include "walk_all.h"

namespace cephalgia::fhir {
namespace {

using testing::DumpIssues;
using testing::HasIssueAt;
using testing::Parse;
using testing::ReadHl7Example;

// Indexes the named HL7 examples into one index.
struct Examples {
  IssueSink sink;
  ResourceIndex index{&sink};
  explicit Examples(std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      Status s = index.AddJson(ReadHl7Example(n));
      EXPECT_TRUE(s.ok()) << n << ": " << s.ToString();
    }
  }
  const IndexedResource& Get(std::string_view type, std::string_view id) {
    const IndexedResource* r = index.Find(type, id);
    EXPECT_NE(r, nullptr) << type << "/" << id;
    static IndexedResource empty;
    return r != nullptr ? *r : empty;
  }
};

TEST(ViewsTest, AllHl7ExamplesWalkWithoutIssues) {
  const char* names[] = {"AllergyIntolerance-example.json",
                         "AllergyIntolerance-fishallergy.json",
                         "AllergyIntolerance-medication.json",
                         "AllergyIntolerance-nkda.json",
                         "Condition-example.json",
                         "Condition-example2.json",
                         "Condition-family-history.json",
                         "Condition-stroke.json",
                         "Medication-med0316.json",
                         "MedicationRequest-medrx002.json",
                         "MedicationRequest-medrx0302.json",
                         "MedicationRequest-medrx0308.json",
                         "MedicationRequest-medrx0312.json",
                         "MedicationRequest-medrx0327.json",
                         "MedicationStatement-example001.json",
                         "MedicationStatement-example003.json",
                         "MedicationStatement-example004.json",
                         "MedicationStatement-example005.json",
                         "Observation-blood-pressure-cancel.json",
                         "Observation-blood-pressure.json",
                         "Observation-bmi.json",
                         "Observation-body-height.json",
                         "Observation-body-temperature.json",
                         "Observation-example.json",
                         "Observation-glasgow.json",
                         "Observation-heart-rate.json",
                         "Observation-respiratory-rate.json",
                         "Patient-example.json",
                         "Patient-mom.json",
                         "Patient-pat1.json",
                         "Procedure-example.json",
                         "Procedure-physical-therapy.json",
                         "ServiceRequest-di.json",
                         "ServiceRequest-example.json",
                         "ServiceRequest-physical-therapy.json",
                         "extra/Bundle-bundle-transaction.json"};
  IssueSink sink;
  ResourceIndex index(&sink);
  for (const char* n : names) ASSERT_TRUE(index.AddJson(ReadHl7Example(n), n).ok()) << n;
  int walked = 0;
  for (const IndexedResource* r : index.all()) {
    if (testing::WalkResource(*r, index, &sink, std::nullopt)) ++walked;
  }
  EXPECT_GE(walked, 36);
  EXPECT_TRUE(sink.empty()) << DumpIssues(sink);
}

TEST(ViewsTest, PatientExample) {
  Examples ex({"Patient-example.json"});
  PatientView p(ex.Get("Patient", "example"), &ex.sink);
  EXPECT_EQ(p.id(), "example");
  ASSERT_TRUE(p.birth_date());
  EXPECT_EQ(p.birth_date()->ToString(), "1974-12-25");
  EXPECT_EQ(p.gender(), "male");
  EXPECT_EQ(p.gender_enum(), Gender::kMale);
  ASSERT_TRUE(p.deceased());
  EXPECT_FALSE(p.deceased()->deceased);
  auto age = p.AgeAt(UtcMidnight(2024, 12, 24));
  ASSERT_TRUE(age);
  EXPECT_EQ(age->min_years, 49);
  EXPECT_FALSE(age->uncertain());
  EXPECT_TRUE(ex.sink.empty()) << DumpIssues(ex.sink);
}

TEST(ViewsTest, DeceasedDateTimeMeansDeceased) {
  auto doc = Parse(R"({"resourceType":"Patient","deceasedDateTime":"2020-01-02"})");
  IssueSink sink;
  PatientView p(doc, &sink);
  ASSERT_TRUE(p.deceased());
  EXPECT_TRUE(p.deceased()->deceased);
  EXPECT_EQ(p.deceased()->when->ToString(), "2020-01-02");
  EXPECT_FALSE(p.birth_date());
  EXPECT_FALSE(p.AgeAt(UtcMidnight(2024, 1, 1)));
}

TEST(ViewsTest, MedicationRequestWithContainedMedication) {
  Examples ex({"MedicationRequest-medrx0302.json"});
  MedicationRequestView mr(ex.Get("MedicationRequest", "medrx0302"), &ex.sink);
  EXPECT_EQ(mr.status(), "active");
  MedicationChoice choice = mr.medication();
  EXPECT_FALSE(choice.codeable_concept);
  ASSERT_TRUE(choice.reference);
  EXPECT_TRUE(choice.reference->IsContained());
  auto code = mr.MedicationCode(&ex.index);
  ASSERT_TRUE(code);
  EXPECT_TRUE(code->HasCoding(kSnomedSystem, "324252006"));
  EXPECT_EQ(code->path(), "MedicationRequest.contained[0].code");
  // Contained resolution needs no index.
  EXPECT_TRUE(mr.MedicationCode(nullptr));
  auto dosages = mr.dosage_instruction();
  ASSERT_EQ(dosages.size(), 2u);
  EXPECT_EQ(dosages[1].sequence(), 2);
  EXPECT_EQ(dosages[1].timing()->repeat()->frequency(), 4);
  EXPECT_EQ(dosages[0].dose_and_rate()[0].dose_quantity()->value(), 2.0);
  auto timing = dosages[0].timing();
  ASSERT_TRUE(timing);
  auto repeat = timing->repeat();
  ASSERT_TRUE(repeat);
  EXPECT_EQ(repeat->frequency(), 1);
  EXPECT_EQ(repeat->period(), 1.0);
  EXPECT_EQ(repeat->period_unit(), "d");
  EXPECT_DOUBLE_EQ(*repeat->PerDay(), 1.0);
  EXPECT_EQ(mr.authored_on()->ToString(), "2015-01-15");
  EXPECT_TRUE(ex.sink.empty()) << DumpIssues(ex.sink);
}

TEST(ViewsTest, MedicationRequestWithExternalMedicationReference) {
  Examples ex({"MedicationRequest-medrx002.json", "Medication-med0316.json"});
  MedicationRequestView mr(ex.Get("MedicationRequest", "medrx002"), &ex.sink);
  auto code = mr.MedicationCode(&ex.index);
  ASSERT_TRUE(code);
  EXPECT_TRUE(code->HasCoding(kSnomedSystem, "317935006"));
  EXPECT_TRUE(ex.sink.empty()) << DumpIssues(ex.sink);
}

TEST(ViewsTest, UnresolvedMedicationReferenceIsAWarningNotADrug) {
  Examples ex({"MedicationRequest-medrx002.json"});  // Medication/med0316 not supplied
  MedicationRequestView mr(ex.Get("MedicationRequest", "medrx002"), &ex.sink);
  EXPECT_FALSE(mr.MedicationCode(&ex.index));
  EXPECT_TRUE(
      HasIssueAt(ex.sink, "MedicationRequest.medicationReference.reference", Severity::kWarning))
      << DumpIssues(ex.sink);
  EXPECT_EQ(ex.sink.error_count(), 0u);
}

TEST(ViewsTest, MedicationStatementContainedMedicationWithIngredients) {
  Examples ex({"MedicationStatement-example001.json"});
  MedicationStatementView ms(ex.Get("MedicationStatement", "example001"), &ex.sink);
  auto code = ms.MedicationCode(&ex.index);
  ASSERT_TRUE(code);
  EXPECT_EQ(code->codings()[0].code(), "50580-506-02");
  std::string location;
  auto ref = ms.medication().reference;
  ASSERT_TRUE(ref);
  const rapidjson::Value* med = ms.Resolve(*ref, &ex.index, &location);
  ASSERT_NE(med, nullptr);
  MedicationView mv(*med, &ex.sink, location);
  auto ingredients = mv.ingredient_codes();
  ASSERT_EQ(ingredients.size(), 2u);
  EXPECT_TRUE(ingredients[0].HasCoding(kRxNormSystem, "315266"));
  EXPECT_EQ(ms.effective().type(), ChoiceType::kDateTime);
  EXPECT_EQ(ms.effective().date_time()->ToString(), "2015-01-23");
  EXPECT_TRUE(ex.sink.empty()) << DumpIssues(ex.sink);
}

TEST(ViewsTest, BloodPressureComponents) {
  Examples ex({"Observation-blood-pressure.json"});
  ObservationView o(ex.Get("Observation", "blood-pressure"), &ex.sink);
  EXPECT_EQ(o.status(), "final");
  EXPECT_EQ(o.value().type(), ChoiceType::kNone);
  auto comps = o.components();
  ASSERT_EQ(comps.size(), 2u);
  EXPECT_TRUE(comps[0].code()->HasCoding(kLoincSystem, "8480-6"));
  auto systolic = comps[0].value().quantity();
  ASSERT_TRUE(systolic);
  EXPECT_EQ(systolic->value(), 107.0);
  EXPECT_EQ(systolic->UnitCode(), "mm[Hg]");
  EXPECT_EQ(systolic->path(), "Observation.component[0].valueQuantity");
  EXPECT_TRUE(comps[1].code()->HasCoding(kLoincSystem, "8462-4"));
  EXPECT_EQ(comps[1].value().quantity()->value(), 60.0);
  EXPECT_EQ(o.effective().ToInterval()->start, UtcMidnight(2012, 9, 17));
  EXPECT_EQ(AssessObservation(o).relevance, Relevance::kCurrent);
  EXPECT_TRUE(ex.sink.empty()) << DumpIssues(ex.sink);
}

TEST(ViewsTest, CancelledObservationIsIgnored) {
  Examples ex({"Observation-blood-pressure-cancel.json"});
  ObservationView o(ex.Get("Observation", "blood-pressure-cancel"), &ex.sink);
  EXPECT_EQ(AssessObservation(o).relevance, Relevance::kIgnore);
  auto comps = o.components();
  ASSERT_EQ(comps.size(), 2u);
  EXPECT_TRUE(comps[0].data_absent_reason());
  EXPECT_EQ(ComponentPolarity(comps[0]), Polarity::kUnknown);
}

TEST(ViewsTest, EnteredInErrorMedicationStatementIsIgnored) {
  Examples ex({"MedicationStatement-example005.json", "MedicationStatement-example004.json"});
  MedicationStatementView bad(ex.Get("MedicationStatement", "example005"), &ex.sink);
  EXPECT_EQ(AssessMedicationStatement(bad).relevance, Relevance::kIgnore);
  MedicationStatementView good(ex.Get("MedicationStatement", "example004"), &ex.sink);
  EXPECT_EQ(AssessMedicationStatement(good).relevance, Relevance::kCurrent);
}

TEST(ViewsTest, ConditionOnsetStringHasNoInterval) {
  Examples ex({"Condition-example2.json", "Condition-stroke.json"});
  ConditionView asthma(ex.Get("Condition", "example2"), &ex.sink);
  EXPECT_EQ(asthma.onset().type(), ChoiceType::kString);
  EXPECT_EQ(asthma.onset().string(), "approximately November 2012");
  EXPECT_FALSE(asthma.onset().ToInterval());
  EXPECT_EQ(asthma.code()->text(), "Asthma");
  ConditionView stroke(ex.Get("Condition", "stroke"), &ex.sink);
  EXPECT_TRUE(stroke.onset().ToInterval());
  EXPECT_EQ(stroke.clinical_status_code(), "active");
  EXPECT_EQ(stroke.verification_status_code(), "confirmed");
  EXPECT_TRUE(ex.sink.empty()) << DumpIssues(ex.sink);
}

TEST(ViewsTest, ServiceRequestOccurrenceWithOffset) {
  Examples ex({"ServiceRequest-di.json", "ServiceRequest-example.json"});
  ServiceRequestView di(ex.Get("ServiceRequest", "di"), &ex.sink);
  auto when = di.occurrence().ToInterval();
  ASSERT_TRUE(when);
  EXPECT_EQ(when->start, UtcMidnight(2013, 5, 8) + std::chrono::hours(2) +
                             std::chrono::minutes(33) + std::chrono::seconds(27));
  ServiceRequestView ct(ex.Get("ServiceRequest", "example"), &ex.sink);
  EXPECT_TRUE(ct.code()->HasCoding(kSnomedSystem, "303653007"));
  EXPECT_EQ(AssessServiceRequest(ct).relevance, Relevance::kHistory);
}

TEST(ViewsTest, TransactionBundleEntries) {
  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(index.AddJson(ReadHl7Example("extra/Bundle-bundle-transaction.json")).ok());
  const IndexedResource* b = index.OfType("Bundle").front();
  BundleView bundle(*b, &sink);
  EXPECT_EQ(bundle.type(), "transaction");
  auto entries = bundle.entries();
  ASSERT_EQ(entries.size(), 10u);
  EXPECT_EQ(entries[0].request_method(), "POST");
  EXPECT_EQ(entries[5].request_method(), "DELETE");
  EXPECT_EQ(entries[5].resource(), nullptr);
  EXPECT_EQ(index.OfType("Patient").size(), 5u);
  // urn:uuid and absolute fullUrls both resolve.
  EXPECT_NE(index.Resolve("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"), nullptr);
  EXPECT_NE(index.Resolve("http://example.org/fhir/Patient/123"), nullptr);
  EXPECT_TRUE(sink.empty()) << DumpIssues(sink);
}

TEST(ViewsTest, WrongJsonTypesBecomeIssuesAtTheirPaths) {
  auto doc = Parse(R"({
    "resourceType": "Observation", "status": 7,
    "code": {"coding": [{"system": "http://loinc.org", "code": 8310}, "junk"], "text": ["x"]},
    "valueQuantity": {"value": "38.5", "unit": "Cel"},
    "effectiveDateTime": "2024-13-01",
    "interpretation": {"coding": []},
    "component": [{"code": {"text": "a"}, "valueBoolean": "false"}]
  })");
  IssueSink sink;
  ObservationView o(doc, &sink);
  EXPECT_FALSE(o.status());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.status"));
  auto code = o.code();
  ASSERT_TRUE(code);
  auto codings = code->codings();
  ASSERT_EQ(codings.size(), 1u);  // the string element is skipped
  EXPECT_TRUE(HasIssueAt(sink, "Observation.code.coding[1]"));
  EXPECT_FALSE(codings[0].code());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.code.coding[0].code"));
  EXPECT_FALSE(code->text());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.code.text"));
  auto q = o.value().quantity();
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->value());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.valueQuantity.value"));
  EXPECT_FALSE(o.effective().ToInterval());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.effectiveDateTime"));
  EXPECT_TRUE(o.interpretation().empty());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.interpretation"));
  auto comps = o.components();
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_FALSE(comps[0].value().boolean());
  EXPECT_TRUE(HasIssueAt(sink, "Observation.component[0].valueBoolean"));
  // A malformed value is not evidence of presence.
  EXPECT_EQ(ComponentPolarity(comps[0]), Polarity::kUnknown);
  // Missing required status: assessed at lower certainty, never dropped.
  StatusAssessment a = AssessObservation(o);
  EXPECT_EQ(a.relevance, Relevance::kCurrent);
  EXPECT_EQ(a.certainty, Certainty::kProvisional);
}

TEST(ViewsTest, ChoiceTypeProblems) {
  auto doc = Parse(R"({"resourceType":"Condition","onsetDateTime":"2020","onsetString":"x",
                      "abatementQuantity":"7"})");
  IssueSink sink;
  ConditionView c(doc, &sink);
  ChoiceView onset = c.onset();
  EXPECT_EQ(onset.type(), ChoiceType::kDateTime);  // the first one is used
  EXPECT_TRUE(HasIssueAt(sink, "Condition.onset[x]"));
  ChoiceView ab = c.abatement();
  EXPECT_EQ(ab.type(), ChoiceType::kQuantity);
  EXPECT_FALSE(ab.quantity());
  EXPECT_TRUE(HasIssueAt(sink, "Condition.abatementQuantity"));
}

TEST(ViewsTest, DateTimeWithoutOffsetIsAWarning) {
  auto doc = Parse(R"({"resourceType":"Procedure","status":"completed",
                      "performedDateTime":"2024-03-05T10:00:00"})");
  IssueSink sink;
  ProcedureView p(doc, &sink);
  EXPECT_TRUE(p.performed().date_time());
  EXPECT_TRUE(HasIssueAt(sink, "Procedure.performedDateTime", Severity::kWarning));
  EXPECT_EQ(sink.error_count(), 0u);
}

TEST(ViewsTest, OnsetAgeAndRangeUseTheBirthDate) {
  auto doc = Parse(R"({"resourceType":"Condition",
                      "onsetAge":{"value":45,"unit":"years","system":"http://unitsofmeasure.org","code":"a"},
                      "abatementRange":{"low":{"value":50,"code":"a"},"high":{"value":52,"code":"a"}}})");
  IssueSink sink;
  ConditionView c(doc, &sink);
  auto birth = DateTime::Parse("1970-06-15", DateKind::kDate);
  ASSERT_TRUE(birth.ok());
  EXPECT_FALSE(c.onset().ToInterval());  // no birth date: unknown
  auto onset = c.onset().ToInterval(*birth);
  ASSERT_TRUE(onset);
  EXPECT_EQ(onset->start, UtcMidnight(2015, 6, 15));
  EXPECT_EQ(onset->end, UtcMidnight(2016, 6, 16));
  auto ab = c.abatement().ToInterval(*birth);
  ASSERT_TRUE(ab);
  EXPECT_EQ(ab->start, UtcMidnight(2020, 6, 15));
  EXPECT_EQ(ab->end, UtcMidnight(2023, 6, 16));
  EXPECT_TRUE(sink.empty()) << DumpIssues(sink);
}

TEST(ViewsTest, AbsurdAgesAndFrequenciesAreRefused) {
  auto doc = Parse(R"({"resourceType":"Condition","onsetAge":{"value":1e300,"code":"a"},
                      "abatementAge":{"value":-3,"code":"a"}})");
  IssueSink sink;
  ConditionView c(doc, &sink);
  auto birth = DateTime::Parse("1970", DateKind::kDate);
  EXPECT_FALSE(c.onset().ToInterval(*birth));
  EXPECT_FALSE(c.abatement().ToInterval(*birth));
  auto dosage = Parse(R"({"repeat":{"frequency":5,"period":1e-300,"periodUnit":"d"}})");
  TimingView t(&dosage, &sink, "Dosage.timing");
  EXPECT_FALSE(t.repeat()->PerDay());
  EXPECT_TRUE(HasIssueAt(sink, "Dosage.timing.repeat"));
}

TEST(ViewsTest, PeriodsOpenEndedAndInverted) {
  auto doc = Parse(R"({"resourceType":"Encounter","status":"in-progress",
                      "period":{"start":"2024-03-05T10:00:00Z"}})");
  IssueSink sink;
  EncounterView e(doc, &sink);
  auto iv = e.period()->ToInterval();
  ASSERT_TRUE(iv);
  EXPECT_EQ(iv->end, DistantFuture());
  auto bad = Parse(R"({"start":"2024-03-05","end":"2024-03-01"})");
  PeriodView p(&bad, &sink, "Encounter.period");
  EXPECT_FALSE(p.ToInterval());
  EXPECT_TRUE(HasIssueAt(sink, "Encounter.period.end"));
}

TEST(ViewsTest, DosageAsNeededAndTiming) {
  auto doc = Parse(R"({"resourceType":"MedicationStatement","status":"active",
    "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"5640"}]},
    "dosage":[
      {"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"wk"}},"asNeededBoolean":true,
       "doseAndRate":[{"doseQuantity":{"value":400,"unit":"mg"}}]},
      {"asNeededCodeableConcept":{"text":"headache"},
       "timing":{"repeat":{"frequency":1,"period":4,"periodUnit":"fortnight"}}},
      {"timing":{"event":["2024-01-01","2024-01-05T08:00:00Z","bad"]}}]})");
  IssueSink sink;
  MedicationStatementView ms(doc, &sink);
  auto d = ms.dosage();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_TRUE(d[0].as_needed()->as_needed);
  EXPECT_NEAR(*d[0].timing()->repeat()->PerDay(), 2.0 / 7.0, 1e-12);
  EXPECT_EQ(d[0].dose_and_rate()[0].dose_quantity()->value(), 400.0);
  auto prn = d[1].as_needed();
  ASSERT_TRUE(prn);
  EXPECT_TRUE(prn->as_needed);
  EXPECT_EQ(prn->reason->text(), "headache");
  EXPECT_FALSE(d[1].timing()->repeat()->PerDay());
  EXPECT_TRUE(HasIssueAt(sink, "MedicationStatement.dosage[1].timing.repeat.periodUnit"));
  auto events = d[2].timing()->events();
  EXPECT_EQ(events.size(), 2u);
  EXPECT_TRUE(HasIssueAt(sink, "MedicationStatement.dosage[2].timing.event[2]"));
  EXPECT_FALSE(d[2].as_needed());
}

TEST(ViewsTest, BundleLinksAndTotal) {
  auto doc = Parse(R"({"resourceType":"Bundle","type":"searchset","total":42,
    "link":[{"relation":"self","url":"http://x/Condition?patient=1"},
            {"relation":"next","url":"http://x/Condition?patient=1&page=2"}],
    "entry":[{"fullUrl":"http://x/Condition/1","resource":{"resourceType":"Condition","id":"1"},
              "search":{"mode":"match"}}]})");
  IssueSink sink;
  BundleView b(doc, &sink);
  EXPECT_EQ(b.type(), "searchset");
  EXPECT_EQ(b.total(), 42);
  EXPECT_EQ(b.next_link(), "http://x/Condition?patient=1&page=2");
  EXPECT_EQ(b.link("self"), "http://x/Condition?patient=1");
  EXPECT_FALSE(b.link("previous"));
  ASSERT_EQ(b.entries().size(), 1u);
  EXPECT_EQ(b.entries()[0].search_mode(), "match");
  EXPECT_EQ(b.entries()[0].resource_path(), "Bundle.entry[0].resource");
  EXPECT_TRUE(sink.empty());
}

TEST(ViewsTest, OperationOutcomeView) {
  auto doc = Parse(R"({"resourceType":"OperationOutcome","issue":[
    {"severity":"error","code":"not-found","diagnostics":"Patient/x not found"},
    {"severity":"warning","code":"processing","details":{"text":"partial"}}]})");
  IssueSink sink;
  OperationOutcomeView oo(doc, &sink);
  auto issues = oo.issues();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].Describe(), "Patient/x not found");
  EXPECT_EQ(issues[1].Describe(), "partial");
  EXPECT_TRUE(oo.HasErrors());
}

TEST(IssueSinkTest, RendersOperationOutcome) {
  IssueSink sink;
  sink.Error(IssueCode::kStructure, "Observation.valueQuantity.value", "expected a number");
  sink.Warning(IssueCode::kValue, "Procedure.performedDateTime", "no offset");
  sink.Info("Bundle", "note");
  EXPECT_EQ(sink.error_count(), 1u);
  EXPECT_EQ(sink.warning_count(), 1u);
  auto doc = Parse(sink.ToOperationOutcomeJson());
  EXPECT_STREQ(doc["resourceType"].GetString(), "OperationOutcome");
  ASSERT_EQ(doc["issue"].Size(), 3u);
  EXPECT_STREQ(doc["issue"][0]["severity"].GetString(), "error");
  EXPECT_STREQ(doc["issue"][0]["code"].GetString(), "structure");
  EXPECT_STREQ(doc["issue"][0]["diagnostics"].GetString(), "expected a number");
  EXPECT_STREQ(doc["issue"][0]["expression"][0].GetString(), "Observation.valueQuantity.value");
  EXPECT_STREQ(doc["issue"][1]["severity"].GetString(), "warning");
  EXPECT_STREQ(doc["issue"][2]["severity"].GetString(), "information");
}

TEST(IssueSinkTest, EmptyOutcomeSaysAllOkAndCapIsCounted) {
  IssueSink empty;
  auto doc = Parse(empty.ToOperationOutcomeJson());
  ASSERT_EQ(doc["issue"].Size(), 1u);
  EXPECT_STREQ(doc["issue"][0]["severity"].GetString(), "information");
  IssueSink capped(2);
  for (int i = 0; i < 5; ++i) capped.Error(IssueCode::kValue, "X", "bad");
  EXPECT_EQ(capped.issues().size(), 2u);
  EXPECT_EQ(capped.dropped(), 3u);
  EXPECT_EQ(capped.error_count(), 5u);
  auto capped_doc = Parse(capped.ToOperationOutcomeJson());
  EXPECT_EQ(capped_doc["issue"].Size(), 3u);
  capped.Clear();
  EXPECT_TRUE(capped.empty());
}

TEST(IssueSinkTest, NullSinkDropsIssues) {
  auto doc = Parse(R"({"resourceType":"Observation","status":1})");
  ObservationView o(doc, nullptr);
  EXPECT_FALSE(o.status());  // no crash without a sink
}

// The evaluation reads views without a sink, built without paths (Child, ForEachChild and
// ResourceView skip them): they must read what the same views with a sink read, and only the
// paths differ (empty without a sink).
TEST(ViewsTest, ViewsWithoutASinkReadTheSameWithoutPaths) {
  ResourceIndex index(nullptr);
  index.Add(Parse(R"({"resourceType":"Condition","id":"c1",
      "code":{"coding":[{"system":"http://snomed.info/sct","code":"25064002","display":"Headache"},
                        {"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"R51.9"}],
              "text":"Headache"},
      "category":[{"coding":[{"code":"problem-list-item"}]}],
      "clinicalStatus":{"coding":[{"code":"active"}]}})"),
            "conditions");
  const IndexedResource* r = index.Find("Condition", "c1");
  ASSERT_NE(r, nullptr);
  IssueSink sink;
  ConditionView heard(*r, &sink);
  ConditionView silent(*r, nullptr);
  EXPECT_EQ(heard.path(), "conditions");
  EXPECT_EQ(silent.path(), "");
  EXPECT_EQ(silent.json(), r->json);
  auto heard_code = heard.code();
  auto silent_code = silent.code();
  ASSERT_TRUE(heard_code && silent_code);
  EXPECT_EQ(heard_code->path(), "conditions.code");
  EXPECT_EQ(silent_code->path(), "");
  EXPECT_EQ(silent_code->json(), heard_code->json());
  EXPECT_EQ(silent_code->text(), heard_code->text());
  std::vector<std::string> heard_codes, silent_codes, heard_paths, silent_paths;
  heard_code->ForEachCoding([&](const CodingView& c) {
    heard_codes.emplace_back(c.code().value_or("?"));
    heard_paths.push_back(c.path());
  });
  silent_code->ForEachCoding([&](const CodingView& c) {
    silent_codes.emplace_back(c.code().value_or("?"));
    silent_paths.push_back(c.path());
    EXPECT_EQ(c.sink(), nullptr);
  });
  EXPECT_EQ(silent_codes, heard_codes);
  EXPECT_EQ(silent_codes, (std::vector<std::string>{"25064002", "R51.9"}));
  EXPECT_EQ(heard_paths,
            (std::vector<std::string>{"conditions.code.coding[0]", "conditions.code.coding[1]"}));
  EXPECT_EQ(silent_paths, (std::vector<std::string>{"", ""}));
  auto status = silent.clinical_status();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->FirstCode(), "active");
  EXPECT_TRUE(sink.issues().empty()) << DumpIssues(sink);
}

// Dates, choice elements and nested members read through views without a sink (no location
// is built for them) give what the same views with a sink give; a bad date is absent in both
// and an issue only where a sink hears it.
TEST(ViewsTest, DatesChoicesAndNestedMembersWithoutASinkReadTheSame) {
  ResourceIndex index(nullptr);
  index.Add(Parse(R"({"resourceType":"Condition","id":"c2",
      "onsetPeriod":{"start":"2024-03-05","end":"2024-03-07T10:00:00+02:00"},
      "abatementDateTime":"2024-13-01",
      "recordedDate":"2024-03-08T09:30:00Z"})"),
            "conditions");
  index.Add(Parse(R"({"resourceType":"MedicationRequest","id":"m1","status":"active",
      "intent":"order","medicationCodeableConcept":{"text":"x"},
      "authoredOn":"2024-03-09",
      "dispenseRequest":{"validityPeriod":{"start":"2024-03-09","end":"2024-04-09"},
                         "quantity":{"value":30,"unit":"tablet"}}})"),
            "requests");
  IssueSink sink;
  const IndexedResource* c = index.Find("Condition", "c2");
  const IndexedResource* m = index.Find("MedicationRequest", "m1");
  ASSERT_TRUE(c != nullptr && m != nullptr);
  ConditionView heard(*c, &sink), silent(*c, nullptr);
  ASSERT_EQ(silent.onset().type(), ChoiceType::kPeriod);
  EXPECT_EQ(silent.onset().path(), "");
  EXPECT_EQ(heard.onset().path(), "conditions.onsetPeriod");
  auto heard_onset = heard.onset().ToInterval(std::nullopt);
  auto silent_onset = silent.onset().ToInterval(std::nullopt);
  ASSERT_TRUE(heard_onset && silent_onset);
  EXPECT_EQ(*silent_onset, *heard_onset);
  EXPECT_EQ(silent_onset->start, UtcMidnight(2024, 3, 5));
  EXPECT_EQ(silent_onset->end,
            UtcMidnight(2024, 3, 7) + std::chrono::hours(8) + std::chrono::seconds(1));
  ASSERT_TRUE(silent.recorded_date() && heard.recorded_date());
  EXPECT_EQ(silent.recorded_date()->start(), heard.recorded_date()->start());
  EXPECT_EQ(silent.recorded_date()->start(), UtcMidnight(2024, 3, 8) + std::chrono::minutes(570));
  EXPECT_FALSE(silent.abatement().date_time());
  EXPECT_TRUE(sink.issues().empty());
  EXPECT_FALSE(heard.abatement().date_time());
  EXPECT_TRUE(HasIssueAt(sink, "conditions.abatementDateTime")) << DumpIssues(sink);

  MedicationRequestView heard_mr(*m, &sink), silent_mr(*m, nullptr);
  ASSERT_TRUE(silent_mr.authored_on() && heard_mr.authored_on());
  EXPECT_EQ(silent_mr.authored_on()->start(), UtcMidnight(2024, 3, 9));
  auto heard_validity = heard_mr.dispense_validity_period();
  auto silent_validity = silent_mr.dispense_validity_period();
  ASSERT_TRUE(heard_validity && silent_validity);
  EXPECT_EQ(heard_validity->path(), "requests.dispenseRequest.validityPeriod");
  EXPECT_EQ(silent_validity->path(), "");
  EXPECT_EQ(silent_validity->ToInterval(), heard_validity->ToInterval());
  ASSERT_TRUE(silent_mr.dispense_quantity());
  EXPECT_EQ(silent_mr.dispense_quantity()->value(), 30.0);
  EXPECT_FALSE(silent_mr.dispense_expected_supply_duration());
}

// A view's path is a chain of nodes owned by its sink, not by the view that made it: children
// and grandchildren outlive the temporary views they came from (and copies outlive the
// original) and still report at their full paths. Run under ASan, a node that died with its
// view would be a use after free here.
TEST(ViewsTest, ChildViewsOutliveTheirParentViewsAndKeepTheirPaths) {
  auto doc = Parse(R"({"resourceType":"MedicationRequest","status":"active","intent":"order",
      "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm",
                                              "code":1049221}],"text":7},
      "dosageInstruction":[{"timing":{"repeat":{"boundsPeriod":{"start":"2024-02-30"},
                                                 "period":"1"}}}],
      "dispenseRequest":{"validityPeriod":{"start":"2024-03-09","end":3}}})");
  IssueSink sink;
  std::optional<CodeableConceptView> drug =
      MedicationRequestView(doc, &sink).MedicationCode(nullptr);
  std::vector<DosageView> dosages = MedicationRequestView(doc, &sink).dosage_instruction();
  std::optional<PeriodView> validity =
      MedicationRequestView(doc, &sink, "requests").dispense_validity_period();
  ChoiceView medication = ChoiceView::Find(MedicationRequestView(doc, &sink), "medication");
  ASSERT_TRUE(drug && validity);
  ASSERT_EQ(dosages.size(), 1u);
  std::vector<CodingView> codings = drug->codings();
  drug.reset();  // the codings' paths do not depend on the view they came from
  ASSERT_EQ(codings.size(), 1u);
  EXPECT_FALSE(codings[0].code());
  EXPECT_TRUE(HasIssueAt(sink, "MedicationRequest.medicationCodeableConcept.coding[0].code"))
      << DumpIssues(sink);
  std::optional<TimingRepeatView> repeat;
  {
    std::optional<TimingView> timing = DosageView(dosages[0]).timing();
    ASSERT_TRUE(timing);
    repeat = timing->repeat();
  }
  dosages.clear();
  ASSERT_TRUE(repeat);
  EXPECT_FALSE(repeat->period());
  EXPECT_TRUE(HasIssueAt(sink, "MedicationRequest.dosageInstruction[0].timing.repeat.period"))
      << DumpIssues(sink);
  std::optional<PeriodView> bounds = repeat->bounds_period();
  repeat.reset();
  ASSERT_TRUE(bounds);
  EXPECT_FALSE(bounds->start());
  EXPECT_TRUE(
      HasIssueAt(sink, "MedicationRequest.dosageInstruction[0].timing.repeat.boundsPeriod.start"))
      << DumpIssues(sink);
  EXPECT_EQ(bounds->path(), "MedicationRequest.dosageInstruction[0].timing.repeat.boundsPeriod");
  EXPECT_FALSE(validity->end());
  EXPECT_TRUE(HasIssueAt(sink, "requests.dispenseRequest.validityPeriod.end")) << DumpIssues(sink);
  EXPECT_EQ(medication.path(), "MedicationRequest.medicationCodeableConcept");
  std::optional<CodeableConceptView> drug_choice = medication.codeable_concept();
  ASSERT_TRUE(drug_choice);
  EXPECT_FALSE(drug_choice->text());
  EXPECT_TRUE(HasIssueAt(sink, "MedicationRequest.medicationCodeableConcept.text"))
      << DumpIssues(sink);
  // A view with a sink and no path: its children's paths start at their own key.
  auto concept_doc = Parse(R"({"coding":[{"code":7}],"text":"x"})");
  IssueSink unlabelled;
  std::vector<CodingView> codings_of_unlabelled =
      CodeableConceptView(&concept_doc, &unlabelled).codings();
  ASSERT_EQ(codings_of_unlabelled.size(), 1u);
  EXPECT_FALSE(codings_of_unlabelled[0].code());
  EXPECT_TRUE(HasIssueAt(unlabelled, "coding[0].code")) << DumpIssues(unlabelled);
  EXPECT_EQ(codings_of_unlabelled[0].path(), "coding[0]");
}

}  // namespace
}  // namespace cephalgia::fhir
