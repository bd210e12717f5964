// Code systems, ICD-10 normalisation, and ValueSetIndex loading and matching.
#include "cephalgia/fhir/terminology.h"

#include <gtest/gtest.h>

#include "fhir_test_util.h"

namespace cephalgia::fhir {
namespace {

using testing::Parse;

TEST(TerminologyTest, IdentifiesSystemVariants) {
  EXPECT_EQ(IdentifySystem("http://snomed.info/sct"), CodeSystem::kSnomed);
  EXPECT_EQ(IdentifySystem("http://snomed.info/sct/"), CodeSystem::kSnomed);
  EXPECT_EQ(IdentifySystem("HTTP://SNOMED.INFO/SCT"), CodeSystem::kSnomed);
  EXPECT_EQ(IdentifySystem("https://snomed.info/sct"), CodeSystem::kSnomed);
  EXPECT_EQ(IdentifySystem("urn:oid:2.16.840.1.113883.6.96"), CodeSystem::kSnomed);
  for (const char* icd :
       {"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10",
        "urn:oid:2.16.840.1.113883.6.90", "urn:oid:2.16.840.1.113883.6.3",
        "http://www.cms.gov/Medicare/Coding/ICD10", "http://hl7.org/fhir/sid/icd-10-cm/",
        "HTTP://HL7.ORG/FHIR/SID/ICD-10-CM", " http://hl7.org/fhir/sid/icd-10-cm "}) {
    EXPECT_EQ(IdentifySystem(icd), CodeSystem::kIcd10) << icd;
    EXPECT_EQ(CanonicalSystem(icd), kIcd10CmSystem) << icd;
  }
  EXPECT_EQ(IdentifySystem("http://loinc.org"), CodeSystem::kLoinc);
  EXPECT_EQ(IdentifySystem("urn:oid:2.16.840.1.113883.6.1"), CodeSystem::kLoinc);
  EXPECT_EQ(IdentifySystem("http://www.nlm.nih.gov/research/umls/rxnorm"), CodeSystem::kRxNorm);
  EXPECT_EQ(IdentifySystem("urn:oid:2.16.840.1.113883.6.88"), CodeSystem::kRxNorm);
  EXPECT_EQ(CanonicalSystem("urn:oid:2.16.840.1.113883.6.88"), kRxNormSystem);
  // Not to be confused: the OID prefix of LOINC must not match longer OIDs.
  EXPECT_EQ(IdentifySystem("urn:oid:2.16.840.1.113883.6.12"), CodeSystem::kOther);
  EXPECT_EQ(IdentifySystem("http://example.org/codes"), CodeSystem::kOther);
  EXPECT_EQ(CanonicalSystem("http://example.org/codes/"), "http://example.org/codes");
  EXPECT_EQ(IdentifySystem(""), CodeSystem::kOther);
  EXPECT_EQ(IdentifySystem(std::string(500, 'x')), CodeSystem::kOther);
}

TEST(TerminologyTest, Icd10CodesCompareWithoutDotAndCase) {
  EXPECT_EQ(NormalizeCode(CodeSystem::kIcd10, "g44.86"), "G4486");
  EXPECT_EQ(NormalizeCode(CodeSystem::kIcd10, " G44.86 "), "G4486");
  EXPECT_EQ(NormalizeCode(CodeSystem::kSnomed, " 279016001 "), "279016001");
  EXPECT_TRUE(SameCode("http://hl7.org/fhir/sid/icd-10-cm", "G44.86",
                       "urn:oid:2.16.840.1.113883.6.90", "g4486"));
  EXPECT_FALSE(
      SameCode("http://hl7.org/fhir/sid/icd-10-cm", "G44.86", "http://snomed.info/sct", "G44.86"));
  EXPECT_FALSE(
      SameCode("http://snomed.info/sct", "279016001", "http://snomed.info/sct", "27901600"));
  EXPECT_TRUE(SameCode("http://example.org/x/", "A", "http://example.org/x", "A"));
  EXPECT_FALSE(SameCode("http://example.org/x", "a", "http://example.org/x", "A"));
}

constexpr char kValueSets[] = R"({"valueSets":[
  {"id":"cgh","description":"Cervicogenic headache","citation":"knowledge.md d.1",
   "codes":[{"system":"http://snomed.info/sct","code":"279016001","display":"Cervicogenic headache"},
            {"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"G44.86"}],
   "text":["cervicogenic headache","cervicogenic"]},
  {"id":"thunderclap",
   "codes":[{"system":"http://snomed.info/sct","code":"95660002"}],
   "icd10Prefixes":["G44.53"],
   "text":["thunderclap","worst headache of my life"]},
  {"id":"cancer_history","icd10Prefixes":["Z85"],"icd10Ranges":[["C00","C96"]]},
  {"id":"opioids","rxnormIngredients":[{"ingredient":"7804","products":["1049621","1049221"]},
                                       {"ingredient":"10689","name":"tramadol","products":["835603"]}]},
  {"id":"headache_any","codes":[{"system":"http://snomed.info/sct","code":"279016001"},
                                {"system":"http://snomed.info/sct","code":"25064002"}]}
]})";

ValueSetIndex Load() {
  Result<ValueSetIndex> r = ValueSetIndex::FromJsonText(kValueSets);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::vector<std::string> Ids(const std::vector<ValueSetMatch>& matches) {
  std::vector<std::string> out;
  for (const auto& m : matches) out.emplace_back(m.valueset_id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ValueSetMatch> MatchJson(const ValueSetIndex& vs, std::string_view cc_json,
                                     IssueSink* sink = nullptr) {
  // The document must outlive the matches (codings point into it): keep it static per call.
  static std::vector<std::unique_ptr<rapidjson::Document>> docs;
  docs.push_back(std::make_unique<rapidjson::Document>(Parse(cc_json)));
  return vs.Match(CodeableConceptView(docs.back().get(), sink, "Condition.code"));
}

TEST(TerminologyTest, LoadsAndDescribesValueSets) {
  ValueSetIndex vs = Load();
  EXPECT_EQ(vs.size(), 5u);
  EXPECT_TRUE(vs.HasValueSet("cgh"));
  EXPECT_FALSE(vs.HasValueSet("nope"));
  ASSERT_NE(vs.Info("cgh"), nullptr);
  EXPECT_EQ(vs.Info("cgh")->description, "Cervicogenic headache");
  EXPECT_EQ(vs.Info("cgh")->citation, "knowledge.md d.1");
}

TEST(TerminologyTest, EnumeratedCodesMatchInEveryValueSetAtOnce) {
  ValueSetIndex vs = Load();
  auto m = MatchJson(vs, R"({"coding":[{"system":"http://snomed.info/sct","code":"279016001"}]})");
  EXPECT_EQ(Ids(m), (std::vector<std::string>{"cgh", "headache_any"}));
  for (const auto& x : m) {
    EXPECT_EQ(x.certainty, Certainty::kConfirmed);
    ASSERT_TRUE(x.coding);
    EXPECT_EQ(x.coding->code(), "279016001");
  }
  EXPECT_TRUE(
      MatchJson(vs, R"({"coding":[{"system":"http://snomed.info/sct","code":"1"}]})").empty());
  // A code without a system is not interpreted.
  EXPECT_TRUE(MatchJson(vs, R"({"coding":[{"code":"279016001"}]})").empty());
}

TEST(TerminologyTest, Icd10WithAndWithoutDotAndSystemVariants) {
  ValueSetIndex vs = Load();
  for (const char* cc :
       {R"({"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"G44.86"}]})",
        R"({"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"G4486"}]})",
        R"({"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"g44.86"}]})",
        R"({"coding":[{"system":"urn:oid:2.16.840.1.113883.6.90","code":"G44.86"}]})",
        R"({"coding":[{"system":"http://www.cms.gov/Medicare/Coding/ICD10/","code":"G4486"}]})"}) {
    EXPECT_EQ(Ids(MatchJson(vs, cc)), (std::vector<std::string>{"cgh"})) << cc;
  }
  EXPECT_TRUE(vs.ContainsCode("cgh", "urn:oid:2.16.840.1.113883.6.3", "g44.86"));
  EXPECT_FALSE(vs.ContainsCode("cgh", "http://snomed.info/sct", "G44.86"));
}

TEST(TerminologyTest, Icd10PrefixesAndRanges) {
  ValueSetIndex vs = Load();
  const char* icd = "http://hl7.org/fhir/sid/icd-10-cm";
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "Z85.3"));
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "Z85"));
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "Z85.038"));
  EXPECT_FALSE(vs.ContainsCode("cancer_history", icd, "Z86.3"));
  EXPECT_FALSE(vs.ContainsCode("cancer_history", icd, "Z8"));
  // C00-C96 expanded to categories: ends inclusive, C7A (alphanumeric category) inside.
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "C00.0"));
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "C50.919"));
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "C96.Z"));
  EXPECT_TRUE(vs.ContainsCode("cancer_history", icd, "C7A.00"));
  EXPECT_FALSE(vs.ContainsCode("cancer_history", icd, "C97"));
  EXPECT_FALSE(vs.ContainsCode("cancer_history", icd, "D00.0"));
  EXPECT_FALSE(vs.ContainsCode("cancer_history", icd, "B99"));
  // G44.53 prefix matches itself and anything below it, not its parent.
  EXPECT_TRUE(vs.ContainsCode("thunderclap", icd, "G44.53"));
  EXPECT_TRUE(vs.ContainsCode("thunderclap", icd, "G4453"));
  EXPECT_FALSE(vs.ContainsCode("thunderclap", icd, "G44.5"));
  auto ids = vs.ValueSetsOf(icd, "C34.90");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], "cancer_history");
}

TEST(TerminologyTest, RxNormProductsCountAsTheirIngredient) {
  ValueSetIndex vs = Load();
  auto product = MatchJson(
      vs,
      R"({"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1049621","display":"oxycodone hydrochloride 5 MG Oral Tablet"}]})");
  ASSERT_EQ(product.size(), 1u);
  EXPECT_EQ(product[0].valueset_id, "opioids");
  EXPECT_EQ(product[0].ingredient, "7804");
  EXPECT_EQ(product[0].certainty, Certainty::kConfirmed);
  auto ingredient =
      MatchJson(vs, R"({"coding":[{"system":"urn:oid:2.16.840.1.113883.6.88","code":"10689"}]})");
  ASSERT_EQ(ingredient.size(), 1u);
  EXPECT_EQ(ingredient[0].ingredient, "");  // a direct member
  EXPECT_TRUE(vs.ContainsCode("opioids", kRxNormSystem, "835603"));
  EXPECT_FALSE(vs.ContainsCode("opioids", kRxNormSystem, "5640"));
}

TEST(TerminologyTest, TextSynonymsMatchAtLowerCertainty) {
  ValueSetIndex vs = Load();
  auto m = MatchJson(vs, R"({"text":"Worst headache of my life, sudden onset"})");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].valueset_id, "thunderclap");
  EXPECT_EQ(m[0].certainty, Certainty::kText);
  EXPECT_FALSE(m[0].coding);
  EXPECT_EQ(m[0].matched_text, "worst headache of my life");
  // Word boundaries: "thunderclaps" is not "thunderclap"; punctuation separates words.
  EXPECT_TRUE(MatchJson(vs, R"({"text":"thunderclaps"})").empty());
  EXPECT_EQ(Ids(MatchJson(vs, R"j({"text":"(THUNDERCLAP)"})j")),
            (std::vector<std::string>{"thunderclap"}));
  EXPECT_TRUE(MatchJson(vs, R"({"text":"worst headache of my"})").empty());
  // Display text counts too, when no code of that value set matched.
  auto disp = MatchJson(
      vs,
      R"({"coding":[{"system":"http://example.org","code":"x","display":"Cervicogenic headache, right"}]})");
  EXPECT_EQ(Ids(disp), (std::vector<std::string>{"cgh"}));
  EXPECT_EQ(disp[0].certainty, Certainty::kText);
}

TEST(TerminologyTest, CodeMatchWinsOverTextAndTextAddsOtherValueSets) {
  ValueSetIndex vs = Load();
  auto m = MatchJson(
      vs,
      R"({"coding":[{"system":"http://snomed.info/sct","code":"279016001","display":"Cervicogenic headache"}],
                             "text":"cervicogenic headache, thunderclap onset"})");
  ASSERT_EQ(Ids(m), (std::vector<std::string>{"cgh", "headache_any", "thunderclap"}));
  for (const auto& x : m) {
    if (x.valueset_id == "thunderclap") {
      EXPECT_EQ(x.certainty, Certainty::kText);
    } else {
      EXPECT_EQ(x.certainty, Certainty::kConfirmed) << x.valueset_id;
    }
  }
}

TEST(TerminologyTest, MatchInAndContains) {
  ValueSetIndex vs = Load();
  auto doc =
      Parse(R"({"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C50.919"}]})");
  CodeableConceptView cc(&doc, nullptr, "Condition.code");
  EXPECT_TRUE(vs.Contains("cancer_history", cc));
  EXPECT_FALSE(vs.Contains("cgh", cc));
  EXPECT_FALSE(vs.Contains("no_such_set", cc));
  auto m = vs.MatchIn("cancer_history", cc);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->coding->code(), "C50.919");
  auto text = vs.MatchText("patient reports the worst headache of my life");
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].valueset_id, "thunderclap");
}

TEST(TerminologyTest, MalformedConceptReportsIssues) {
  ValueSetIndex vs = Load();
  IssueSink sink;
  auto m = MatchJson(
      vs, R"({"coding":[{"system":"http://snomed.info/sct","code":279016001},7],"text":5})", &sink);
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(testing::HasIssueAt(sink, "Condition.code.coding[0].code"));
  EXPECT_TRUE(testing::HasIssueAt(sink, "Condition.code.coding[1]"));
  EXPECT_TRUE(testing::HasIssueAt(sink, "Condition.code.text"));
}

TEST(TerminologyTest, MergesFilesAndRejectsDuplicateIds) {
  ValueSetIndex vs = Load();
  auto extra =
      Parse(R"({"valueSets":[{"id":"nsaids","rxnormIngredients":[{"ingredient":"5640"}]}]})");
  ASSERT_TRUE(vs.AddFromJson(extra).ok());
  EXPECT_TRUE(vs.ContainsCode("nsaids", kRxNormSystem, "5640"));
  auto dup = Parse(R"({"valueSets":[{"id":"new_one"},{"id":"cgh"}]})");
  Status s = vs.AddFromJson(dup);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.location(), "/valueSets/1/id");
  EXPECT_FALSE(vs.HasValueSet("new_one"));  // nothing added on error
  auto dup_in_file = Parse(R"({"valueSets":[{"id":"a"},{"id":"a"}]})");
  EXPECT_EQ(ValueSetIndex::FromJson(dup_in_file).status().location(), "/valueSets/1/id");
}

TEST(TerminologyTest, LoadErrorsCarryJsonPointers) {
  struct Case {
    const char* json;
    const char* pointer;
  };
  const Case cases[] = {
      {R"([])", ""},
      {R"({})", "/valueSets"},
      {R"({"valueSets":{}})", "/valueSets"},
      {R"({"valueSets":[{"id":"a"}],"extra":1})", "/extra"},
      {R"({"valueSets":[7]})", "/valueSets/0"},
      {R"({"valueSets":[{}]})", "/valueSets/0/id"},
      {R"({"valueSets":[{"id":""}]})", "/valueSets/0/id"},
      {R"({"valueSets":[{"id":"a","code":[]}]})", "/valueSets/0/code"},
      {R"({"valueSets":[{"id":"a","codes":{}}]})", "/valueSets/0/codes"},
      {R"({"valueSets":[{"id":"a","codes":[{"system":"http://snomed.info/sct"}]}]})",
       "/valueSets/0/codes/0/code"},
      {R"({"valueSets":[{"id":"a","codes":[{"code":"1"},{"system":5,"code":"1"}]}]})",
       "/valueSets/0/codes/0/system"},
      {R"({"valueSets":[{"id":"a","codes":[{"system":"s","code":"1"},{"system":5,"code":"1"}]}]})",
       "/valueSets/0/codes/1/system"},
      {R"({"valueSets":[{"id":"a","codes":[{"system":"s","code":1}]}]})",
       "/valueSets/0/codes/0/code"},
      {R"({"valueSets":[{"id":"a","icd10Prefixes":["Z8"]}]})", "/valueSets/0/icd10Prefixes/0"},
      {R"({"valueSets":[{"id":"a","icd10Prefixes":["285"]}]})", "/valueSets/0/icd10Prefixes/0"},
      {R"({"valueSets":[{"id":"a","icd10Ranges":[["C00"]]}]})", "/valueSets/0/icd10Ranges/0"},
      {R"({"valueSets":[{"id":"a","icd10Ranges":[["C96","C00"]]}]})", "/valueSets/0/icd10Ranges/0"},
      {R"({"valueSets":[{"id":"a","icd10Ranges":[["C00","C96.1"]]}]})",
       "/valueSets/0/icd10Ranges/0"},
      {R"({"valueSets":[{"id":"a","icd10Ranges":[["A00","Z99"]]}]})", "/valueSets/0/icd10Ranges/0"},
      {R"({"valueSets":[{"id":"a","icd10Ranges":[["C00",7]]}]})", "/valueSets/0/icd10Ranges/0/1"},
      {R"({"valueSets":[{"id":"a","rxnormIngredients":[{"products":["1"]}]}]})",
       "/valueSets/0/rxnormIngredients/0/ingredient"},
      {R"({"valueSets":[{"id":"a","rxnormIngredients":[{"ingredient":"1","products":[2]}]}]})",
       "/valueSets/0/rxnormIngredients/0/products/0"},
      {R"({"valueSets":[{"id":"a","text":["ok","--"]}]})", "/valueSets/0/text/1"},
      {R"({"valueSets":[{"id":"a","description":1}]})", "/valueSets/0/description"},
  };
  for (const Case& c : cases) {
    auto doc = Parse(c.json);
    Result<ValueSetIndex> r = ValueSetIndex::FromJson(doc);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(r.status().location(), c.pointer) << c.json << " -> " << r.status().ToString();
  }
  EXPECT_FALSE(ValueSetIndex::FromJsonText("{not json").ok());
}

}  // namespace
}  // namespace cephalgia::fhir
