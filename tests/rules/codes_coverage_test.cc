// Every coding that real-looking charts send is accounted for (issue 11 item 5, knowledge.md
// §e.3): each coding in ../shared/fhir-samples (the Synthea sample, the FHIR R4 examples and the
// CDS Hooks examples) is either a member of a value set in the headache pack's valuesets.json,
// or reviewed as irrelevant in tests/rules/irrelevant-codes.json (with its display and a
// reason), never both. A new sample code, or a code removed from a value set, fails here until
// someone decides by clinical meaning where it belongs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cephalgia/fhir/terminology.h"
#include "cephalgia/json.h"

namespace cephalgia::rules {
namespace {

namespace fs = std::filesystem;
using fhir::ValueSetIndex;

// The largest sample bundle is about 2 MB; anything far beyond that is not a sample.
constexpr std::size_t kMaxFileBytes = 64u << 20;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << p;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rapidjson::Document ParseFile(const fs::path& p) {
  Result<rapidjson::Document> doc = json::ParseUntrusted(ReadText(p), kMaxFileBytes);
  EXPECT_TRUE(doc.ok()) << p << ": " << doc.status().ToString();
  if (!doc.ok()) return rapidjson::Document();
  return std::move(doc).value();
}

using CodeKey = std::pair<std::string, std::string>;  // system as written, code

struct SampleCoding {
  std::string display;
  std::string first_file;
  int occurrences = 0;
};

// Every object with a string `system` and a string `code` is a Coding (or a Quantity's unit,
// whose system the irrelevant file ignores whole).
void CollectCodings(const rapidjson::Value& v, const std::string& file,
                    std::map<CodeKey, SampleCoding>* out) {
  if (v.IsArray()) {
    for (const rapidjson::Value& e : v.GetArray()) CollectCodings(e, file, out);
    return;
  }
  if (!v.IsObject()) return;
  std::optional<std::string_view> system = json::GetString(v, "system");
  std::optional<std::string_view> code = json::GetString(v, "code");
  if (system && code) {
    SampleCoding& c = (*out)[{std::string(*system), std::string(*code)}];
    if (c.occurrences++ == 0) c.first_file = file;
    if (std::optional<std::string_view> d = json::GetString(v, "display"); d && c.display.empty()) {
      c.display = std::string(*d);
    }
  }
  for (const auto& m : v.GetObject()) CollectCodings(m.value, file, out);
}

std::vector<fs::path> SampleFiles() {
  const fs::path root = fs::path(CEPHALGIA_SHARED_DIR) / "fhir-samples";
  std::vector<fs::path> files;
  for (const char* dir : {"synthea", "hl7-r4-examples", "cds-hooks"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The pack's value sets, loaded the way the pack loads them (the FHIR layer's format has no
// knowledgeVersion member, nor the pack's narrative-only members; codes are what counts here).
ValueSetIndex LoadPackValueSets() {
  rapidjson::Document doc =
      ParseFile(fs::path(CEPHALGIA_SOURCE_DIR) / "rules/packs/headache/knowledge/valuesets.json");
  if (doc.IsObject()) doc.RemoveMember("knowledgeVersion");
  if (doc.IsObject() && doc.HasMember("valueSets") && doc["valueSets"].IsArray()) {
    for (auto& set : doc["valueSets"].GetArray()) {
      if (!set.IsObject()) continue;
      set.RemoveMember("textCombinations");
      set.RemoveMember("mentionedWithinLongerPhrases");
      set.RemoveMember("cues");
    }
  }
  Result<ValueSetIndex> index = ValueSetIndex::FromJson(doc);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? std::move(index).value() : ValueSetIndex();
}

struct Reviewed {
  std::map<std::string, std::string> systems;  // ignored whole: system -> reason
  std::map<CodeKey, std::string> codes;        // (system, code) -> reason
};

Reviewed LoadReviewed() {
  Reviewed r;
  rapidjson::Document doc =
      ParseFile(fs::path(CEPHALGIA_SOURCE_DIR) / "tests/rules/irrelevant-codes.json");
  const rapidjson::Value* systems = json::GetArray(doc, "systems");
  const rapidjson::Value* codes = json::GetArray(doc, "codes");
  EXPECT_TRUE(systems != nullptr && codes != nullptr)
      << "irrelevant-codes.json needs systems[] and codes[]";
  if (systems == nullptr || codes == nullptr) return r;
  for (const rapidjson::Value& s : systems->GetArray()) {
    std::string system(json::GetString(s, "system").value_or(""));
    std::string reason(json::GetString(s, "reason").value_or(""));
    EXPECT_FALSE(system.empty() || reason.empty()) << "a systems[] entry needs system and reason";
    // A clinical terminology is never ignored whole: its codes are reviewed one by one.
    EXPECT_EQ(fhir::IdentifySystem(system), fhir::CodeSystem::kOther)
        << system << " is a clinical terminology and cannot be ignored whole";
    EXPECT_TRUE(r.systems.emplace(system, reason).second) << "duplicate system " << system;
  }
  for (const rapidjson::Value& c : codes->GetArray()) {
    std::string system(json::GetString(c, "system").value_or(""));
    std::string code(json::GetString(c, "code").value_or(""));
    std::string display(json::GetString(c, "display").value_or(""));
    std::string reason(json::GetString(c, "reason").value_or(""));
    EXPECT_FALSE(system.empty() || code.empty() || display.empty() || reason.empty())
        << "codes[] entry " << system << "|" << code << " needs system, code, display and reason";
    EXPECT_TRUE(r.codes.emplace(CodeKey{system, code}, reason).second)
        << "duplicate entry " << system << "|" << code;
  }
  return r;
}

enum class Verdict { kInValueSet, kIgnoredSystem, kReviewedIrrelevant, kUnreviewed };

Verdict Classify(const ValueSetIndex& vs, const Reviewed& reviewed, const CodeKey& coding) {
  if (!vs.ValueSetsOf(coding.first, coding.second).empty()) return Verdict::kInValueSet;
  if (reviewed.systems.count(coding.first) != 0) return Verdict::kIgnoredSystem;
  if (reviewed.codes.count(coding) != 0) return Verdict::kReviewedIrrelevant;
  return Verdict::kUnreviewed;
}

std::string Join(const std::vector<std::string_view>& ids) {
  std::string out;
  for (std::string_view id : ids) out += (out.empty() ? "" : ", ") + std::string(id);
  return out;
}

class CodesCoverageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    value_sets_ = new ValueSetIndex(LoadPackValueSets());
    reviewed_ = new Reviewed(LoadReviewed());
    codings_ = new std::map<CodeKey, SampleCoding>();
    for (const fs::path& file : SampleFiles()) {
      rapidjson::Document doc = ParseFile(file);
      CollectCodings(doc, file.filename().string(), codings_);
    }
  }
  static void TearDownTestSuite() {
    delete value_sets_;
    delete reviewed_;
    delete codings_;
  }
  static ValueSetIndex* value_sets_;
  static Reviewed* reviewed_;
  static std::map<CodeKey, SampleCoding>* codings_;
};
ValueSetIndex* CodesCoverageTest::value_sets_ = nullptr;
Reviewed* CodesCoverageTest::reviewed_ = nullptr;
std::map<CodeKey, SampleCoding>* CodesCoverageTest::codings_ = nullptr;

TEST_F(CodesCoverageTest, EverySampleCodingIsInAValueSetOrReviewedIrrelevant) {
  ASSERT_GT(value_sets_->size(), 50u);
  ASSERT_GT(codings_->size(), 300u) << "the samples were not found under " << CEPHALGIA_SHARED_DIR;
  std::map<Verdict, int> distinct;
  int occurrences = 0;
  for (const auto& [key, sample] : *codings_) {
    Verdict v = Classify(*value_sets_, *reviewed_, key);
    ++distinct[v];
    occurrences += sample.occurrences;
    EXPECT_NE(v, Verdict::kUnreviewed)
        << "unreviewed coding " << key.first << "|" << key.second << " \"" << sample.display
        << "\" (first in " << sample.first_file
        << "): add it to its value set in valuesets.json, or, if it denotes no headache, red "
           "flag, contraindication or headache treatment, to tests/rules/irrelevant-codes.json "
           "with a reason";
  }
  std::printf(
      "sample codings: %d occurrences, %zu distinct: %d in value sets, %d reviewed irrelevant, "
      "%d in ignored non-clinical systems, %d unreviewed\n",
      occurrences, codings_->size(), distinct[Verdict::kInValueSet],
      distinct[Verdict::kReviewedIrrelevant], distinct[Verdict::kIgnoredSystem],
      distinct[Verdict::kUnreviewed]);
}

TEST_F(CodesCoverageTest, NoReviewedIrrelevantCodeIsInAValueSet) {
  for (const auto& [key, reason] : reviewed_->codes) {
    std::vector<std::string_view> sets = value_sets_->ValueSetsOf(key.first, key.second);
    EXPECT_TRUE(sets.empty()) << key.first << "|" << key.second << " is listed as irrelevant ("
                              << reason << ") but is in value set(s) " << Join(sets);
  }
}

TEST_F(CodesCoverageTest, EveryReviewedEntryOccursInTheSamples) {
  std::set<std::string> sample_systems;
  for (const auto& [key, sample] : *codings_) sample_systems.insert(key.first);
  for (const auto& [key, reason] : reviewed_->codes) {
    EXPECT_EQ(codings_->count(key), 1u)
        << key.first << "|" << key.second << " is listed but occurs in no sample: remove it";
  }
  for (const auto& [system, reason] : reviewed_->systems) {
    EXPECT_EQ(sample_systems.count(system), 1u)
        << "ignored system " << system << " occurs in no sample: remove it";
  }
}

// The check itself can fail: an unknown clinical code is unreviewed, a listed one is not, and a
// value-set member wins over nothing else.
TEST_F(CodesCoverageTest, ClassifierTellsTheCasesApart) {
  EXPECT_EQ(Classify(*value_sets_, *reviewed_, {"http://snomed.info/sct", "999999999999"}),
            Verdict::kUnreviewed);
  EXPECT_EQ(Classify(*value_sets_, *reviewed_, {"http://snomed.info/sct", "25064002"}),
            Verdict::kInValueSet);
  EXPECT_EQ(Classify(*value_sets_, *reviewed_, {"http://hl7.org/fhir/sid/icd-10-cm", "S02.0XXA"}),
            Verdict::kInValueSet);  // a head injury by block, not by example
  EXPECT_EQ(Classify(*value_sets_, *reviewed_, {"http://snomed.info/sct", "68496003"}),
            Verdict::kReviewedIrrelevant);  // polyp of colon is not cancer
  EXPECT_EQ(Classify(*value_sets_, *reviewed_, {"http://unitsofmeasure.org", "mm[Hg]"}),
            Verdict::kIgnoredSystem);
}

}  // namespace
}  // namespace cephalgia::rules
