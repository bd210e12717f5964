// ResourceIndex over every Synthea bundle, over searchset/transaction/nested Bundles, null and
// OperationOutcome inputs, and over deliberately broken copies of real data.
#include "cephalgia/fhir/resource_index.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <random>

#include "cephalgia/fhir/resources.h"
#include "fhir_test_util.h"
#include "walk_all.h"

namespace cephalgia::fhir {
namespace {

using testing::DumpIssues;
using testing::HasIssueAt;
using testing::Parse;
using testing::ReadFile;
using testing::SyntheaBundles;

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

TEST(ResourceIndexTest, AllSyntheaBundlesIndexAndWalkWithNoIssue) {
  std::vector<std::filesystem::path> bundles = SyntheaBundles();
  ASSERT_EQ(bundles.size(), 20u);
  std::map<std::string, std::size_t> walked_types;
  for (const auto& path : bundles) {
    SCOPED_TRACE(path.filename().string());
    IssueSink sink;
    ResourceIndex index(&sink);
    std::string text = ReadFile(path);
    ASSERT_TRUE(index.AddJson(text, "synthea").ok());
    auto raw = Parse(text);
    // Every entry is indexed (plus the Bundle itself), none dropped as a duplicate.
    ASSERT_EQ(index.size(), raw["entry"].Size() + 1);
    ASSERT_NE(index.patient(), nullptr);
    PatientView patient(*index.patient(), &sink);
    std::optional<DateTime> birth = patient.birth_date();
    ASSERT_TRUE(birth);
    for (const IndexedResource* r : index.all()) {
      if (testing::WalkResource(*r, index, &sink, birth))
        ++walked_types[std::string(r->resource_type)];
      // Every resource resolves by its fullUrl (urn:uuid) and by Type/id.
      EXPECT_EQ(index.Resolve(r->full_url.empty() ? "none" : r->full_url),
                r->full_url.empty() ? nullptr : r);
      if (!r->id.empty()) {
        EXPECT_EQ(index.Resolve(std::string(r->resource_type) + "/" + std::string(r->id)), r);
      }
    }
    // Synthea references resolve: each Condition's subject is the Patient.
    for (const IndexedResource* r : index.OfType("Condition")) {
      ConditionView c(*r, &sink);
      auto subject = c.subject();
      ASSERT_TRUE(subject);
      EXPECT_EQ(index.Resolve(*subject->reference()), index.patient());
    }
    EXPECT_EQ(sink.error_count(), 0u) << DumpIssues(sink);
    EXPECT_EQ(sink.warning_count(), 0u) << DumpIssues(sink);
    EXPECT_TRUE(sink.empty()) << DumpIssues(sink);
  }
  // The corpus exercises the views that matter for the rules.
  for (const char* t : {"Patient", "Condition", "Observation", "MedicationRequest", "Procedure",
                        "Encounter", "AllergyIntolerance", "Bundle"}) {
    EXPECT_GT(walked_types[t], 0u) << t;
  }
}

TEST(ResourceIndexTest, GroupsByTypeAcrossInputsAndOrigins) {
  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(
      index
          .AddJson(R"({"resourceType":"Patient","id":"p1","birthDate":"1970"})", "prefetch.patient")
          .ok());
  ASSERT_TRUE(index
                  .AddJson(R"({"resourceType":"Bundle","type":"searchset","entry":[
      {"fullUrl":"http://ehr/fhir/Condition/c1","resource":{"resourceType":"Condition","id":"c1"}},
      {"fullUrl":"http://ehr/fhir/Condition/c2","resource":{"resourceType":"Condition","id":"c2"}},
      {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","diagnostics":"truncated"}]},
       "search":{"mode":"outcome"}}]})",
                           "prefetch.conditions")
                  .ok());
  ASSERT_TRUE(index.AddJson("null", "prefetch.medications").ok());
  EXPECT_EQ(index.OfType("Condition").size(), 2u);
  EXPECT_EQ(index.OfType("Patient").size(), 1u);
  EXPECT_EQ(index.OfType("MedicationRequest").size(), 0u);
  EXPECT_EQ(index.operation_outcomes().size(), 1u);
  const IndexedResource* c2 = index.OfType("Condition")[1];
  EXPECT_EQ(c2->location, "prefetch.conditions.entry[1].resource");
  EXPECT_EQ(c2->origin, "prefetch.conditions");
  EXPECT_EQ(c2->full_url, "http://ehr/fhir/Condition/c2");
  EXPECT_EQ(index.patient()->location, "prefetch.patient");
  // The server's informational outcome is passed on, not counted as bad data.
  EXPECT_EQ(sink.error_count(), 0u);
  EXPECT_EQ(sink.warning_count(), 0u);
  EXPECT_TRUE(
      HasIssueAt(sink, "prefetch.conditions.entry[2].resource.issue[0]", Severity::kInformation))
      << DumpIssues(sink);
  // Views built from an indexed resource extend its location.
  auto bad = Parse(R"({"resourceType":"Condition","code":"x"})");
  index.Add(bad, "context.draft");
  ConditionView cv(*index.OfType("Condition")[2], &sink);
  EXPECT_FALSE(cv.code());
  EXPECT_TRUE(HasIssueAt(sink, "context.draft.code"));
}

TEST(ResourceIndexTest, ResolvesEveryReferenceForm) {
  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(index
                  .AddJson(R"({"resourceType":"Bundle","type":"collection","entry":[
      {"fullUrl":"urn:uuid:0d1b1b6e-1111-4444-8888-000000000001","resource":{"resourceType":"Medication","id":"m1"}},
      {"fullUrl":"https://ehr.example/fhir/Medication/med0316","resource":{"resourceType":"Medication","id":"med0316"}},
      {"resource":{"resourceType":"Patient","id":"p1"}}]})")
                  .ok());
  const IndexedResource* m1 = index.Find("Medication", "m1");
  const IndexedResource* med = index.Find("Medication", "med0316");
  ASSERT_NE(m1, nullptr);
  ASSERT_NE(med, nullptr);
  EXPECT_EQ(index.Resolve("urn:uuid:0d1b1b6e-1111-4444-8888-000000000001"), m1);
  EXPECT_EQ(index.Resolve("Medication/m1"), m1);
  EXPECT_EQ(index.Resolve("Medication/med0316"), med);
  EXPECT_EQ(index.Resolve("https://ehr.example/fhir/Medication/med0316"), med);
  EXPECT_EQ(index.Resolve("http://other.example/fhir/Medication/med0316"), med);
  EXPECT_EQ(index.Resolve("Medication/med0316/_history/3"), med);
  EXPECT_EQ(index.Resolve("Patient/p1"), index.patient());
  EXPECT_EQ(index.Resolve("Medication/unknown"), nullptr);
  EXPECT_EQ(index.Resolve("#m1"), nullptr);  // contained: via ResourceView::Resolve
  EXPECT_EQ(index.Resolve("Patient?identifier=x|1"), nullptr);
  EXPECT_EQ(index.Resolve(""), nullptr);
  EXPECT_EQ(index.Resolve("m1"), nullptr);
  EXPECT_TRUE(sink.empty()) << DumpIssues(sink);
}

TEST(ResourceIndexTest, NestedBundlesAndDuplicates) {
  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(index
                  .AddJson(R"({"resourceType":"Bundle","type":"batch-response","entry":[
      {"resource":{"resourceType":"Bundle","type":"searchset","entry":[
          {"resource":{"resourceType":"Condition","id":"c1"}}]}},
      {"resource":{"resourceType":"Bundle","type":"searchset","entry":[
          {"resource":{"resourceType":"Condition","id":"c1"}},
          {"resource":{"resourceType":"Condition","id":"c2"}}]}},
      {"response":{"status":"404"}}]})")
                  .ok());
  EXPECT_EQ(index.OfType("Bundle").size(), 3u);
  ASSERT_EQ(index.OfType("Condition").size(), 2u);  // c1 twice -> once
  EXPECT_EQ(index.OfType("Condition")[0]->location, "Bundle.entry[0].resource.entry[0].resource");
  EXPECT_EQ(index.OfType("Condition")[1]->location, "Bundle.entry[1].resource.entry[1].resource");
  EXPECT_TRUE(sink.empty()) << DumpIssues(sink);
}

TEST(ResourceIndexTest, ServerOperationOutcomeIsReportedAsWarning) {
  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(index
                  .AddJson(R"({"resourceType":"OperationOutcome","issue":[
      {"severity":"error","code":"forbidden","diagnostics":"access denied"}]})",
                           "prefetch.observations")
                  .ok());
  ASSERT_EQ(index.operation_outcomes().size(), 1u);
  EXPECT_EQ(sink.error_count(), 0u);
  ASSERT_TRUE(HasIssueAt(sink, "prefetch.observations.issue[0]", Severity::kWarning))
      << DumpIssues(sink);
  EXPECT_NE(sink.issues()[0].message.find("access denied"), std::string::npos);
}

TEST(ResourceIndexTest, GarbageIsSkippedWithIssuesAtItsLocation) {
  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(index
                  .AddJson(R"({"resourceType":"Bundle","type":"searchset","entry":[
      7, "x", null, [],
      {"resource":"Condition/1"},
      {"resource":{"id":"no-type"}},
      {"resource":{"resourceType":42}},
      {"fullUrl":5,"resource":{"resourceType":"Condition","id":"ok","code":{"text":"fine"}}},
      {"resource":{"resourceType":"Condition","id":7}},
      {"resource":{"resourceType":"Bundle","entry":{"not":"an array"}}}]})")
                  .ok());
  for (int i : {0, 1, 2, 3}) {
    EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[" + std::to_string(i) + "]")) << i;
  }
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[4].resource"));
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[5].resource.resourceType"));
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[6].resource.resourceType"));
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[7].fullUrl"));
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[8].resource.id"));
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[9].resource.entry"));
  ASSERT_EQ(index.OfType("Condition").size(), 2u);  // "ok" and the one with a bad id
  EXPECT_EQ(index.Find("Condition", "ok")->full_url, "");

  IssueSink sink2;
  ResourceIndex index2(&sink2);
  ASSERT_TRUE(index2.AddJson("[1,2]", "prefetch.x").ok());
  EXPECT_TRUE(HasIssueAt(sink2, "prefetch.x"));
  ASSERT_TRUE(index2.AddJson("\"text\"").ok());
  EXPECT_TRUE(HasIssueAt(sink2, "$"));
  EXPECT_EQ(index2.size(), 0u);
}

TEST(ResourceIndexTest, MalformedOrOversizedTextIsAStatusAndAnIssue) {
  IssueSink sink;
  ResourceIndex index(&sink);
  Status s = index.AddJson(R"({"resourceType":"Patient",)", "prefetch.patient");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(HasIssueAt(sink, "prefetch.patient"));
  EXPECT_EQ(index.AddJson(R"({"resourceType":"Patient"} trailing)").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(index.AddJson(std::string("{\"resourceType\":\"Patient\"}\0{}", 29)).code(),
            StatusCode::kInvalidArgument);
  // UTF-8 is checked over the whole text: invalid bytes, overlong forms, surrogates, code
  // points above U+10FFFF and truncated sequences are refused.
  for (const char* bad : {"\"\xff\xfe\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
                          "\"\xf4\x90\x80\x80\"", "\"abc\xe2\x82\"", "\"\xe2\x82\xac"}) {
    EXPECT_EQ(index.AddJson(bad).code(), StatusCode::kInvalidArgument) << bad;
    // The same after a long ASCII run (the 32-byte fast path must stop at the bad byte).
    std::string padded = std::string("{\"resourceType\":\"Patient\",\"id\":\"") +
                         std::string(100, 'a') + "\",\"x\":" + bad + "}";
    EXPECT_EQ(index.AddJson(padded).code(), StatusCode::kInvalidArgument) << padded;
  }
  std::string late_nul = R"({"resourceType":"Patient","id":")" + std::string(70, 'a') + "\"}";
  late_nul.insert(60, 1, '\0');
  EXPECT_EQ(index.AddJson(late_nul).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.AddJson(R"({"resourceType":"Patient"})", "", 10).code(),
            StatusCode::kPayloadTooLarge);
  EXPECT_EQ(index.size(), 0u);
  // Valid multi-byte UTF-8 (2, 3 and 4 bytes, also straddling the 8-byte fast path) is fine.
  ASSERT_TRUE(index
                  .AddJson("{\"resourceType\":\"Patient\",\"id\":\"p\",\"name\":[{\"text\":"
                           "\"Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 M\xc3\xbcller\"}]}")
                  .ok());
  EXPECT_EQ(index.size(), 1u);
}

TEST(ResourceIndexTest, DeepNestingNeitherCrashesNorRecursesForever) {
  IssueSink sink;
  ResourceIndex index(&sink);
  // 100,000 nested arrays inside a resource: refused at the depth limit, stack intact.
  std::string deep = R"({"resourceType":"Observation","status":"final","extension":)" +
                     std::string(100000, '[') + std::string(100000, ']') + "}";
  Status s = index.AddJson(deep, "prefetch.x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("deeper than"), std::string::npos) << s.ToString();
  EXPECT_TRUE(HasIssueAt(sink, "prefetch.x"));
  EXPECT_EQ(index.size(), 0u);
  // Just inside the limit is fine (the root object is level 1).
  const int kArrays = ResourceIndex::kMaxJsonDepth - 1;
  std::string ok = R"({"resourceType":"Observation","status":"final","extension":)" +
                   std::string(kArrays, '[') + std::string(kArrays, ']') + "}";
  ASSERT_TRUE(index.AddJson(ok).ok());
  EXPECT_EQ(index.OfType("Observation").size(), 1u);
  std::string over = R"({"resourceType":"Observation","status":"final","extension":)" +
                     std::string(kArrays + 1, '[') + std::string(kArrays + 1, ']') + "}";
  EXPECT_FALSE(index.AddJson(over).ok());
  // Bundles nested deeper than kMaxBundleDepth: the inner ones are cut off with an issue.
  std::string nested;
  const int kLevels = ResourceIndex::kMaxBundleDepth + 5;
  for (int i = 0; i < kLevels; ++i) nested += R"({"resourceType":"Bundle","entry":[{"resource":)";
  nested += R"({"resourceType":"Condition","id":"deep"})";
  for (int i = 0; i < kLevels; ++i) nested += "}]}";
  ASSERT_TRUE(index.AddJson(nested).ok());
  EXPECT_EQ(index.Find("Condition", "deep"), nullptr);
  EXPECT_EQ(index.OfType("Bundle").size(),
            static_cast<std::size_t>(ResourceIndex::kMaxBundleDepth + 1));
  bool too_deep = false;
  for (const Issue& i : sink.issues()) {
    too_deep = too_deep || (i.code == IssueCode::kTooCostly &&
                            i.message.find("Bundles nested") != std::string::npos);
  }
  EXPECT_TRUE(too_deep) << DumpIssues(sink);
}

// Breaks a copy of a real Synthea bundle in several ways and checks each problem is reported
// where it is, while the rest of the record still indexes and reads.
TEST(ResourceIndexTest, BrokenSyntheaCopyReportsIssuesWithLocations) {
  std::string text = ReadFile(SyntheaBundles().front());
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError());
  auto& alloc = doc.GetAllocator();
  rapidjson::Value& entries = doc["entry"];
  // Find the first Observation with valueQuantity, the first Condition, the first Encounter.
  int obs = -1, cond = -1, enc = -1, mr = -1;
  for (rapidjson::SizeType i = 0; i < entries.Size(); ++i) {
    const rapidjson::Value& r = entries[i]["resource"];
    std::string_view t = r["resourceType"].GetString();
    if (obs < 0 && t == "Observation" && r.HasMember("valueQuantity")) obs = static_cast<int>(i);
    if (cond < 0 && t == "Condition") cond = static_cast<int>(i);
    if (enc < 0 && t == "Encounter") enc = static_cast<int>(i);
    if (mr < 0 && t == "MedicationRequest") mr = static_cast<int>(i);
  }
  ASSERT_GE(obs, 0);
  ASSERT_GE(cond, 0);
  ASSERT_GE(enc, 0);
  std::string obs_path = "Bundle.entry[" + std::to_string(obs) + "].resource";
  std::string cond_path = "Bundle.entry[" + std::to_string(cond) + "].resource";
  std::string enc_path = "Bundle.entry[" + std::to_string(enc) + "].resource";
  // Wrong JSON type for a number, a bad date, a wrong type for an array, a bad status code.
  entries[obs]["resource"]["valueQuantity"]["value"].SetString("high", alloc);
  entries[cond]["resource"]["onsetDateTime"].SetString("2019-02-30T10:00:00Z", alloc);
  entries[cond]["resource"]["code"]["coding"].SetObject();
  entries[enc]["resource"]["period"]["start"].SetInt(20190101);
  entries[enc]["resource"]["status"].SetString("finishedd", alloc);
  // A non-object entry, and an entry whose resource is an array.
  entries.PushBack(rapidjson::Value(12345), alloc);
  rapidjson::Value arr(rapidjson::kArrayType);
  rapidjson::Value wrapper(rapidjson::kObjectType);
  wrapper.AddMember("resource", arr, alloc);
  entries.PushBack(wrapper, alloc);
  std::size_t n = entries.Size();

  IssueSink sink;
  ResourceIndex index(&sink);
  ASSERT_TRUE(index.AddJson(ToJson(doc)).ok());
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[" + std::to_string(n - 2) + "]"));
  EXPECT_TRUE(HasIssueAt(sink, "Bundle.entry[" + std::to_string(n - 1) + "].resource"));
  auto patient = PatientView(*index.patient(), &sink);
  for (const IndexedResource* r : index.all()) {
    testing::WalkResource(*r, index, &sink, patient.birth_date());
  }
  EXPECT_TRUE(HasIssueAt(sink, obs_path + ".valueQuantity.value")) << DumpIssues(sink);
  EXPECT_TRUE(HasIssueAt(sink, cond_path + ".onsetDateTime")) << DumpIssues(sink);
  EXPECT_TRUE(HasIssueAt(sink, cond_path + ".code.coding")) << DumpIssues(sink);
  EXPECT_TRUE(HasIssueAt(sink, enc_path + ".period.start")) << DumpIssues(sink);
  EXPECT_TRUE(HasIssueAt(sink, enc_path + ".status")) << DumpIssues(sink);
  // Nothing else is flagged: every issue is one of the breakages above.
  for (const Issue& i : sink.issues()) {
    bool expected = i.location.rfind(obs_path, 0) == 0 || i.location.rfind(cond_path, 0) == 0 ||
                    i.location.rfind(enc_path, 0) == 0 ||
                    i.location.rfind("Bundle.entry[" + std::to_string(n - 2) + "]", 0) == 0 ||
                    i.location.rfind("Bundle.entry[" + std::to_string(n - 1) + "]", 0) == 0;
    EXPECT_TRUE(expected) << i.location << ": " << i.message;
  }
  // The rest of the record still reads.
  EXPECT_EQ(index.size(), n - 2 + 1);
  EXPECT_GT(index.OfType("Observation").size(), 1u);
  // And the OperationOutcome rendering of all this is valid JSON.
  auto oo = Parse(sink.ToOperationOutcomeJson());
  EXPECT_EQ(oo["issue"].Size(), sink.issues().size());
}

// Replaces values at random places of a real bundle with values of other JSON types (fixed
// seed, so failures reproduce), then walks every view: no crash, and every issue says where.
TEST(ResourceIndexTest, RandomTypeMutationsNeverCrash) {
  std::string text = ReadFile(SyntheaBundles()[1]);
  std::mt19937 rng(20261121);
  std::size_t total_issues = 0;
  for (int round = 0; round < 12; ++round) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    ASSERT_FALSE(doc.HasParseError());
    auto& alloc = doc.GetAllocator();
    // Collect every value, then mutate a random sample of them.
    std::vector<rapidjson::Value*> values;
    std::vector<rapidjson::Value*> stack{&doc};
    while (!stack.empty()) {
      rapidjson::Value* v = stack.back();
      stack.pop_back();
      values.push_back(v);
      if (v->IsObject()) {
        for (auto& m : v->GetObject()) stack.push_back(&m.value);
      } else if (v->IsArray()) {
        for (auto& e : v->GetArray()) stack.push_back(&e);
      }
    }
    std::vector<rapidjson::Value*> picked;
    for (int i = 0; i < 150; ++i) picked.push_back(values[1 + rng() % (values.size() - 1)]);
    for (rapidjson::Value* v : picked) {
      switch (rng() % 6) {
        case 0:
          v->SetNull();
          break;
        case 1:
          v->SetInt(static_cast<int>(rng() % 1000) - 500);
          break;
        case 2:
          v->SetString("2024-99-99T", alloc);
          break;
        case 3:
          v->SetArray();
          v->PushBack(rapidjson::Value(1.5), alloc);
          break;
        case 4:
          v->SetObject();
          v->AddMember("x", rapidjson::Value(true), alloc);
          break;
        default:
          v->SetBool(rng() % 2 == 0);
          break;
      }
    }
    IssueSink sink(100000);
    ResourceIndex index(&sink);
    ASSERT_TRUE(index.AddJson(ToJson(doc), "mutated").ok());
    std::optional<DateTime> birth;
    if (index.patient() != nullptr) birth = PatientView(*index.patient(), &sink).birth_date();
    for (const IndexedResource* r : index.all()) testing::WalkResource(*r, index, &sink, birth);
    total_issues += sink.issues().size();  // a round may hit only fields nobody reads
    for (const Issue& i : sink.issues()) {
      EXPECT_FALSE(i.location.empty()) << i.message;
      EXPECT_FALSE(i.message.empty()) << i.location;
    }
  }
  EXPECT_GT(total_issues, 12u);
}

TEST(ResourceIndexTest, ManySingleResourcesStayResolvable) {
  IssueSink sink;
  ResourceIndex index(&sink);
  EXPECT_EQ(index.Resolve("Patient/0"), nullptr);  // empty index
  std::vector<rapidjson::Document> docs(1500);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    std::string json = R"({"resourceType":")" + std::string(i % 2 ? "Condition" : "Observation") +
                       R"(","id":"r)" + std::to_string(i) + R"("})";
    docs[i].Parse(json.c_str());
    index.Add(docs[i]);  // one at a time: the lookup tables grow as they go
  }
  EXPECT_EQ(index.size(), 1500u);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    std::string ref = std::string(i % 2 ? "Condition" : "Observation") + "/r" + std::to_string(i);
    ASSERT_EQ(index.Resolve(ref), index.all()[i]) << ref;
  }
  EXPECT_EQ(index.Resolve("Condition/r0"), nullptr);  // r0 is an Observation
  EXPECT_EQ(index.Find("Observation", ""), nullptr);
  EXPECT_TRUE(sink.empty());
}

TEST(ResourceIndexTest, BorrowedAndOwnedDocumentsAndMove) {
  auto borrowed = Parse(R"({"resourceType":"Patient","id":"b"})");
  IssueSink sink;
  ResourceIndex index(&sink);
  index.Add(borrowed);
  index.Add(Parse(R"({"resourceType":"Patient","id":"o"})"));
  ResourceIndex moved = std::move(index);
  ASSERT_EQ(moved.OfType("Patient").size(), 2u);
  EXPECT_EQ(moved.Resolve("Patient/o")->json->operator[]("id").GetString(), std::string("o"));
  EXPECT_EQ(moved.Resolve("Patient/b")->json, &borrowed);
}

}  // namespace
}  // namespace cephalgia::fhir
