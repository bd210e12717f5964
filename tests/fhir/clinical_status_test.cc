// Every status value of every resource the rules read, mapped by clinical_status.h.
#include "cephalgia/fhir/clinical_status.h"

#include <gtest/gtest.h>

#include <string>

#include "fhir_test_util.h"

namespace cephalgia::fhir {
namespace {

using testing::DumpIssues;
using testing::HasIssueAt;
using testing::Parse;

struct Expect {
  std::string status;
  Relevance relevance;
  Certainty certainty;
  bool draft = false;
};

template <typename View>
void CheckStatuses(std::string_view type, const std::vector<Expect>& cases,
                   StatusAssessment (*assess)(const View&), bool expect_issue = false) {
  for (const Expect& c : cases) {
    std::string json =
        R"({"resourceType":")" + std::string(type) + R"(","status":")" + c.status + R"("})";
    auto doc = Parse(json);
    IssueSink sink;
    View v(doc, &sink);
    StatusAssessment a = assess(v);
    EXPECT_EQ(a.relevance, c.relevance) << type << " " << c.status << ": " << a.reason;
    EXPECT_EQ(a.certainty, c.certainty) << type << " " << c.status;
    EXPECT_EQ(a.draft, c.draft) << type << " " << c.status;
    EXPECT_FALSE(a.reason.empty());
    EXPECT_EQ(sink.has_errors(), expect_issue) << type << " " << c.status << DumpIssues(sink);
  }
}

constexpr auto kC = Certainty::kConfirmed;
constexpr auto kP = Certainty::kProvisional;

TEST(ClinicalStatusTest, ObservationEveryStatus) {
  CheckStatuses<ObservationView>("Observation",
                                 {{"registered", Relevance::kCurrent, kP},
                                  {"preliminary", Relevance::kCurrent, kP},
                                  {"final", Relevance::kCurrent, kC},
                                  {"amended", Relevance::kCurrent, kC},
                                  {"corrected", Relevance::kCurrent, kC},
                                  {"cancelled", Relevance::kIgnore, kC},
                                  {"entered-in-error", Relevance::kIgnore, kC},
                                  {"unknown", Relevance::kCurrent, kP}},
                                 &AssessObservation);
}

TEST(ClinicalStatusTest, MedicationRequestEveryStatus) {
  CheckStatuses<MedicationRequestView>("MedicationRequest",
                                       {{"active", Relevance::kCurrent, kC},
                                        {"on-hold", Relevance::kCurrent, kC},
                                        {"cancelled", Relevance::kIgnore, kC},
                                        {"completed", Relevance::kHistory, kC},
                                        {"entered-in-error", Relevance::kIgnore, kC},
                                        {"stopped", Relevance::kHistory, kC},
                                        {"draft", Relevance::kIgnore, kC, true},
                                        {"unknown", Relevance::kCurrent, kP}},
                                       &AssessMedicationRequest);
}

TEST(ClinicalStatusTest, MedicationStatementEveryStatus) {
  CheckStatuses<MedicationStatementView>("MedicationStatement",
                                         {{"active", Relevance::kCurrent, kC},
                                          {"completed", Relevance::kHistory, kC},
                                          {"entered-in-error", Relevance::kIgnore, kC},
                                          {"intended", Relevance::kCurrent, kC},
                                          {"stopped", Relevance::kHistory, kC},
                                          {"on-hold", Relevance::kCurrent, kC},
                                          {"unknown", Relevance::kCurrent, kP},
                                          {"not-taken", Relevance::kIgnore, kC}},
                                         &AssessMedicationStatement);
}

TEST(ClinicalStatusTest, ProcedureEveryStatus) {
  CheckStatuses<ProcedureView>("Procedure",
                               {{"preparation", Relevance::kCurrent, kC},
                                {"in-progress", Relevance::kCurrent, kC},
                                {"not-done", Relevance::kIgnore, kC},
                                {"on-hold", Relevance::kCurrent, kC},
                                {"stopped", Relevance::kHistory, kP},
                                {"completed", Relevance::kHistory, kC},
                                {"entered-in-error", Relevance::kIgnore, kC},
                                {"unknown", Relevance::kHistory, kP}},
                               &AssessProcedure);
}

TEST(ClinicalStatusTest, ServiceRequestEveryStatus) {
  CheckStatuses<ServiceRequestView>("ServiceRequest",
                                    {{"draft", Relevance::kIgnore, kC, true},
                                     {"active", Relevance::kCurrent, kC},
                                     {"on-hold", Relevance::kCurrent, kC},
                                     {"revoked", Relevance::kIgnore, kC},
                                     {"completed", Relevance::kHistory, kC},
                                     {"entered-in-error", Relevance::kIgnore, kC},
                                     {"unknown", Relevance::kCurrent, kP}},
                                    &AssessServiceRequest);
}

TEST(ClinicalStatusTest, EncounterEveryStatus) {
  CheckStatuses<EncounterView>("Encounter",
                               {{"planned", Relevance::kCurrent, kC},
                                {"arrived", Relevance::kCurrent, kC},
                                {"triaged", Relevance::kCurrent, kC},
                                {"in-progress", Relevance::kCurrent, kC},
                                {"onleave", Relevance::kCurrent, kC},
                                {"finished", Relevance::kHistory, kC},
                                {"cancelled", Relevance::kIgnore, kC},
                                {"entered-in-error", Relevance::kIgnore, kC},
                                {"unknown", Relevance::kHistory, kP}},
                               &AssessEncounter);
}

TEST(ClinicalStatusTest, UnknownOrMissingStatusIsAnErrorButNotDropped) {
  CheckStatuses<ObservationView>("Observation", {{"bogus", Relevance::kCurrent, kP}},
                                 &AssessObservation, /*expect_issue=*/true);
  CheckStatuses<MedicationRequestView>("MedicationRequest", {{"Active", Relevance::kCurrent, kP}},
                                       &AssessMedicationRequest, true);
  CheckStatuses<MedicationStatementView>("MedicationStatement", {{"x", Relevance::kCurrent, kP}},
                                         &AssessMedicationStatement, true);
  CheckStatuses<ProcedureView>("Procedure", {{"done", Relevance::kCurrent, kP}}, &AssessProcedure,
                               true);
  CheckStatuses<ServiceRequestView>("ServiceRequest", {{"x", Relevance::kCurrent, kP}},
                                    &AssessServiceRequest, true);
  CheckStatuses<EncounterView>("Encounter", {{"x", Relevance::kCurrent, kP}}, &AssessEncounter,
                               true);
  auto doc = Parse(R"({"resourceType":"MedicationRequest"})");
  IssueSink sink;
  StatusAssessment a = AssessMedicationRequest(MedicationRequestView(doc, &sink));
  EXPECT_EQ(a.relevance, Relevance::kCurrent);
  EXPECT_EQ(a.certainty, kP);
  EXPECT_TRUE(HasIssueAt(sink, "MedicationRequest.status"));
}

TEST(ClinicalStatusTest, DoNotPerformOrdersAreIgnored) {
  auto mr = Parse(R"({"resourceType":"MedicationRequest","status":"active","doNotPerform":true})");
  EXPECT_EQ(AssessMedicationRequest(MedicationRequestView(mr, nullptr)).relevance,
            Relevance::kIgnore);
  auto sr = Parse(R"({"resourceType":"ServiceRequest","status":"active","doNotPerform":true})");
  EXPECT_EQ(AssessServiceRequest(ServiceRequestView(sr, nullptr)).relevance, Relevance::kIgnore);
}

// --- Condition ---------------------------------------------------------------------------

std::string ConditionJson(std::string_view clinical, std::string_view verification,
                          std::string_view extra = "") {
  std::string j = R"({"resourceType":"Condition")";
  if (!clinical.empty()) {
    j +=
        R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
        std::string(clinical) + R"("}]})";
  }
  if (!verification.empty()) {
    j +=
        R"(,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":")" +
        std::string(verification) + R"("}]})";
  }
  j += std::string(extra) + "}";
  return j;
}

StatusAssessment Condition(std::string_view clinical, std::string_view verification,
                           std::string_view extra = "", IssueSink* sink = nullptr) {
  auto doc = Parse(ConditionJson(clinical, verification, extra));
  return AssessCondition(ConditionView(doc, sink));
}

TEST(ClinicalStatusTest, ConditionEveryClinicalStatus) {
  struct C {
    const char* code;
    Relevance r;
  };
  for (C c : {C{"active", Relevance::kCurrent}, C{"recurrence", Relevance::kCurrent},
              C{"relapse", Relevance::kCurrent}, C{"inactive", Relevance::kHistory},
              C{"remission", Relevance::kHistory}, C{"resolved", Relevance::kHistory}}) {
    IssueSink sink;
    StatusAssessment a = Condition(c.code, "confirmed", "", &sink);
    EXPECT_EQ(a.relevance, c.r) << c.code;
    EXPECT_EQ(a.certainty, kC) << c.code;
    EXPECT_TRUE(sink.empty()) << c.code;
  }
}

TEST(ClinicalStatusTest, ConditionEveryVerificationStatus) {
  struct V {
    const char* code;
    Relevance r;
    Certainty c;
  };
  for (V v :
       {V{"confirmed", Relevance::kCurrent, kC}, V{"unconfirmed", Relevance::kCurrent, kP},
        V{"provisional", Relevance::kCurrent, kP}, V{"differential", Relevance::kCurrent, kP},
        V{"refuted", Relevance::kIgnore, kC}, V{"entered-in-error", Relevance::kIgnore, kC}}) {
    StatusAssessment a = Condition("active", v.code);
    EXPECT_EQ(a.relevance, v.r) << v.code;
    EXPECT_EQ(a.certainty, v.c) << v.code;
  }
  // Refuted wins over everything, even an active clinical status.
  EXPECT_EQ(Condition("", "refuted").relevance, Relevance::kIgnore);
  EXPECT_EQ(Condition("resolved", "entered-in-error").relevance, Relevance::kIgnore);
}

TEST(ClinicalStatusTest, ConditionAbatementMeansHistory) {
  EXPECT_EQ(Condition("active", "confirmed", R"(,"abatementDateTime":"2020-01-01")").relevance,
            Relevance::kHistory);
  EXPECT_EQ(Condition("", "", R"(,"abatementString":"in childhood")").relevance,
            Relevance::kHistory);
  EXPECT_EQ(Condition("", "provisional", R"(,"abatementAge":{"value":12,"code":"a"})").certainty,
            kP);
  // STU3-style abatementBoolean false is not an abatement.
  EXPECT_EQ(Condition("active", "", R"(,"abatementBoolean":false)").relevance, Relevance::kCurrent);
}

TEST(ClinicalStatusTest, ConditionMissingClinicalStatusCountsAsActive) {
  IssueSink sink;
  StatusAssessment a = Condition("", "", "", &sink);
  EXPECT_EQ(a.relevance, Relevance::kCurrent);
  EXPECT_EQ(a.certainty, kC);
  EXPECT_TRUE(sink.empty());
  // Status concepts without a system are read from their first coding.
  auto doc =
      Parse(R"({"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"resolved"}]}})");
  EXPECT_EQ(AssessCondition(ConditionView(doc, nullptr)).relevance, Relevance::kHistory);
}

TEST(ClinicalStatusTest, ConditionUnknownCodesAreErrors) {
  IssueSink sink;
  StatusAssessment a = Condition("cured", "maybe", "", &sink);
  EXPECT_EQ(a.relevance, Relevance::kCurrent);
  EXPECT_EQ(a.certainty, kP);
  EXPECT_TRUE(HasIssueAt(sink, "Condition.clinicalStatus"));
  EXPECT_TRUE(HasIssueAt(sink, "Condition.verificationStatus"));
}

// --- AllergyIntolerance --------------------------------------------------------------------

StatusAssessment Allergy(std::string_view clinical, std::string_view verification,
                         IssueSink* sink = nullptr) {
  std::string j = R"({"resourceType":"AllergyIntolerance")";
  if (!clinical.empty()) {
    j +=
        R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":")" +
        std::string(clinical) + R"("}]})";
  }
  if (!verification.empty()) {
    j +=
        R"(,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification","code":")" +
        std::string(verification) + R"("}]})";
  }
  auto doc = Parse(j + "}");
  return AssessAllergyIntolerance(AllergyIntoleranceView(doc, sink));
}

TEST(ClinicalStatusTest, AllergyEveryStatus) {
  EXPECT_EQ(Allergy("active", "confirmed").relevance, Relevance::kCurrent);
  EXPECT_EQ(Allergy("inactive", "confirmed").relevance, Relevance::kHistory);
  EXPECT_EQ(Allergy("resolved", "confirmed").relevance, Relevance::kHistory);
  EXPECT_EQ(Allergy("", "").relevance, Relevance::kCurrent);
  EXPECT_EQ(Allergy("active", "unconfirmed").certainty, kP);
  EXPECT_EQ(Allergy("active", "presumed").certainty, kP);
  EXPECT_EQ(Allergy("active", "refuted").relevance, Relevance::kIgnore);
  EXPECT_EQ(Allergy("", "entered-in-error").relevance, Relevance::kIgnore);
  IssueSink sink;
  EXPECT_EQ(Allergy("gone", "", &sink).certainty, kP);
  EXPECT_TRUE(HasIssueAt(sink, "AllergyIntolerance.clinicalStatus"));
}

// --- Observation polarity -----------------------------------------------------------------

Polarity Pol(std::string_view members) {
  auto doc =
      Parse(R"({"resourceType":"Observation","status":"final")" + std::string(members) + "}");
  return ObservationPolarity(ObservationView(doc, nullptr));
}

std::string Coded(std::string_view element, std::string_view system, std::string_view code) {
  return R"(,")" + std::string(element) + R"(":{"coding":[{"system":")" + std::string(system) +
         R"(","code":")" + std::string(code) + R"("}]})";
}

TEST(ClinicalStatusTest, ObservationPolarity) {
  EXPECT_EQ(Pol(R"(,"valueBoolean":false)"), Polarity::kAbsent);
  EXPECT_EQ(Pol(R"(,"valueBoolean":true)"), Polarity::kPresent);
  for (const char* code : {"260385009", "272519000", "2667000", "260415000", "373067005"}) {
    EXPECT_EQ(Pol(Coded("valueCodeableConcept", "http://snomed.info/sct", code)), Polarity::kAbsent)
        << code;
  }
  for (const char* code : {"10828004", "52101004", "260373001", "373066001"}) {
    EXPECT_EQ(Pol(Coded("valueCodeableConcept", "http://snomed.info/sct", code)),
              Polarity::kPresent)
        << code;
  }
  // A SNOMED OID system spelling is the same system.
  EXPECT_EQ(Pol(Coded("valueCodeableConcept", "urn:oid:2.16.840.1.113883.6.96", "2667000")),
            Polarity::kAbsent);
  EXPECT_EQ(
      Pol(Coded("valueCodeableConcept", "http://terminology.hl7.org/CodeSystem/v2-0136", "N")),
      Polarity::kAbsent);
  EXPECT_EQ(
      Pol(Coded("valueCodeableConcept", "http://terminology.hl7.org/CodeSystem/v2-0136", "Y")),
      Polarity::kPresent);
  const char* interp = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
  auto interpretation = [&](const char* code) {
    return R"(,"interpretation":[{"coding":[{"system":")" + std::string(interp) + R"(","code":")" +
           code + R"("}]}])";
  };
  EXPECT_EQ(Pol(R"(,"valueString":"x")" + interpretation("NEG")), Polarity::kAbsent);
  EXPECT_EQ(Pol(interpretation("ND")), Polarity::kAbsent);
  EXPECT_EQ(Pol(interpretation("POS")), Polarity::kPresent);
  // Normal is about a value's range, not the absence of a finding.
  EXPECT_EQ(Pol(R"(,"valueQuantity":{"value":5})" + interpretation("N")), Polarity::kPresent);
  // A finding-coded Observation with no value asserts the finding.
  EXPECT_EQ(Pol(Coded("code", "http://snomed.info/sct", "386661006")), Polarity::kPresent);
  EXPECT_EQ(Pol(Coded("dataAbsentReason",
                      "http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown")),
            Polarity::kUnknown);
  // An unrelated coded value is present (e.g. a severity).
  EXPECT_EQ(Pol(Coded("valueCodeableConcept", "http://snomed.info/sct", "24484000")),
            Polarity::kPresent);
}

TEST(ClinicalStatusTest, NamesAndWeakest) {
  EXPECT_EQ(RelevanceName(Relevance::kIgnore), "ignore");
  EXPECT_EQ(RelevanceName(Relevance::kHistory), "history");
  EXPECT_EQ(RelevanceName(Relevance::kCurrent), "current");
  EXPECT_EQ(CertaintyName(Certainty::kText), "text");
  EXPECT_EQ(Weakest(Certainty::kConfirmed, Certainty::kText), Certainty::kText);
  EXPECT_EQ(Weakest(Certainty::kProvisional, Certainty::kConfirmed), Certainty::kProvisional);
}

}  // namespace
}  // namespace cephalgia::fhir
