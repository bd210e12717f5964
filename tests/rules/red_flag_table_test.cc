// Every red flag of knowledge.md §b.2 fires on its own minimal record at its tier (EMERGENCY ->
// critical with an ED referral 306254002; URGENT -> warning or critical, never info), and an
// EMERGENCY flag leaves no treatment suggestion on any classification card.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>
#include <vector>

#include "cephalgia/json.h"
#include "golden/golden_case.h"
#include "test_support.h"

namespace cephalgia::rules {
namespace {

std::string Cond(const std::string& system, const std::string& code, const std::string& extra = "") {
  return R"({"resourceType":"Condition","id":"c-)" + code + R"(","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[{"system":")" +
         system + R"(","code":")" + code + R"("}]},"subject":{"reference":"Patient/p1"})" + extra + "}";
}

const std::string kSct = "http://snomed.info/sct";
const std::string kIcd = "http://hl7.org/fhir/sid/icd-10-cm";

std::string Finding(const std::string& id) {
  return R"({"resourceType":"Observation","id":"x1","status":"final","code":{"coding":[{"system":"urn:cephalgia:finding","code":")" +
         id + R"("}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-02-27T10:00:00Z","valueBoolean":true})";
}

std::string Request(const std::string& birth, const std::string& resource) {
  return R"({"hook":"patient-view","hookInstance":"0b6a3d4e-8f7c-4e2a-9d1b-2c3e4f5a6b7c","context":{"userId":"Practitioner/1","patientId":"p1"},"prefetch":{
    "patient":{"resourceType":"Patient","id":"p1","gender":"female","birthDate":")" + birth + R"("},
    "conditions":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":)" +
         Cond(kSct, "279016001", R"(,"onsetDateTime":"2024-01-10")") + R"(},{"resource":)" + resource + R"(}]}}})";
}

TEST(RedFlagTable, EveryFlagFiresAtItsTier) {
  const std::string fever_obs = R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":)" + Cond(kSct, "386661006") +
                                R"(},{"resource":)" + Cond(kSct, "161882006") + "}]}";
  struct Row {
    std::string flag, tier, birth, resource;
  };
  const std::vector<Row> rows = {
      {"thunderclap_onset", "EMERGENCY", "1990-05-01", Cond(kSct, "95660002")},
      {"neurological_deficit", "EMERGENCY", "1990-05-01", Cond(kSct, "50582007")},
      {"neurological_deficit", "EMERGENCY", "1990-05-01", Finding("aura_motor")},  // §a.5 policy
      {"fever_meningism", "EMERGENCY", "1990-05-01", fever_obs},
      {"systemic_symptoms", "URGENT", "1990-05-01", Cond(kSct, "89362005")},
      {"head_neck_trauma", "EMERGENCY", "1990-05-01", Cond(kSct, "110030002", R"(,"onsetDateTime":"2026-02-27")")},
      // §0.1 (b): the headache (CGH since 2024-01-10) began within 3 months after the whiplash.
      {"head_neck_trauma", "URGENT", "1990-05-01", Cond(kSct, "39848009", R"(,"onsetDateTime":"2023-11-01")")},
      // §0.1: a new headache at 50 or later; the CGH since 2024 makes a plain headache code not new,
      // so the row records the new headache as such.
      {"new_onset_after_50", "URGENT", "1960-05-01", Cond("urn:cephalgia:finding", "new_headache", R"(,"onsetDateTime":"2026-02-01")")},
      {"cancer_history", "URGENT", "1990-05-01", Cond(kIcd, "Z85.3")},
      {"immunosuppression", "URGENT", "1990-05-01", Cond(kSct, "86406008")},
      {"progressive_or_refractory", "URGENT", "1990-05-01", Finding("headache_progressive")},
      {"systemic_inflammatory_disease", "URGENT", "1990-05-01", Cond(kSct, "69896004")},
      {"vertebral_body_tenderness", "URGENT", "1990-05-01", Finding("vertebral_body_tenderness")},
      {"pregnancy_postpartum", "URGENT", "1990-05-01", Cond(kSct, "77386006")},
      {"pregnancy_postpartum", "EMERGENCY", "1990-05-01", Cond(kSct, "398254007")},
      {"papilledema", "EMERGENCY", "1990-05-01", Cond(kIcd, "H47.11")},
      {"positional_orthostatic", "URGENT", "1990-05-01", Cond(kSct, "445511002")},
      {"valsalva_precipitated", "URGENT", "1990-05-01", Cond(kSct, "95658004")},
      {"painful_eye_autonomic", "EMERGENCY", "1990-05-01", Cond(kIcd, "H40.211")},
      {"pattern_change", "URGENT", "1990-05-01", Finding("headache_pattern_change")},
      {"cervical_artery_dissection", "EMERGENCY", "1990-05-01", Cond(kIcd, "I77.74")},
      {"cervical_instability", "URGENT", "1990-05-01", Cond(kSct, "240220009")},
  };
  std::set<std::string> covered;
  for (const Row& row : rows) {
    std::string request = Request(row.birth, row.resource);
    auto response = EvaluateRequest("headache-patient-view", request);
    ASSERT_TRUE(response.ok()) << row.flag << ": " << response.status().ToString();
    rapidjson::Document doc;
    doc.Parse(response->c_str());
    rapidjson::Document req;
    req.Parse(request.c_str());
    ASSERT_TRUE(doc.IsObject() && req.IsObject()) << row.flag;
    EXPECT_THAT(cephalgia::testing::CheckResponseInvariants(req, doc), ::testing::IsEmpty()) << row.flag;
    bool found = false;
    bool emergency = row.tier == "EMERGENCY";
    for (const auto& card : doc["cards"].GetArray()) {
      std::string topic = card["source"]["topic"]["code"].GetString();
      std::string indicator = card["indicator"].GetString();
      if (topic == row.flag) {
        found = true;
        if (emergency) {
          EXPECT_EQ(indicator, "critical") << row.flag;
          std::vector<std::string> codes = cephalgia::testing::SuggestedCodes(card);
          EXPECT_THAT(codes, ::testing::Contains("306254002")) << row.flag;
        } else {
          EXPECT_NE(indicator, "info") << row.flag;
        }
      }
      if (emergency && topic == "cervicogenic_headache") {
        EXPECT_FALSE(card.HasMember("suggestions")) << row.flag << ": an EMERGENCY flag must suppress the ladder";
      }
    }
    EXPECT_TRUE(found) << row.flag << " did not fire";
    covered.insert(row.flag);
  }
  EXPECT_EQ(covered.size(), 19u);
}

}  // namespace
}  // namespace cephalgia::rules
