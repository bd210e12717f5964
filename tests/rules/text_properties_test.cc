// Properties of reading clinical text (issue 11, knowledge.md §e.2), over every golden case:
// - no card quotes more than a short span (12 words) of a note;
// - patient-view: a history-of-present-illness narrative (LOINC 10164-2) that NEGATES a red-flag
//   concept ("Denies X.", "No X.") never raises the highest indicator, and one that AFFIRMS it
//   today ("Reports X today.") never lowers it. "A negated one must never fire"; "safety is
//   asymmetric" (§e.2). The concept phrases are written from knowledge.md §b.2 and §b.3, in the
//   words clinicians use in notes, not taken from the pack's lexicon.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/json.h"
#include "golden/golden_case.h"
#include "test_support.h"

namespace cephalgia::rules {
namespace {

// One phrase per red-flag concept of knowledge.md §b.2 (and the [S002] wording of §b.3).
const std::vector<std::string>& RedFlagPhrases() {
  static const std::vector<std::string> phrases = {
      "sudden severe headache, worst of her life, maximal within a minute",  // thunderclap_onset
      "thunderclap headache",
      "weakness of the left arm",  // neurological_deficit
      "facial droop",
      "slurred speech",
      "double vision",
      "confusion",
      "a seizure",
      "loss of consciousness",
      "ptosis and miosis (Horner syndrome)",
      "fever and neck stiffness",  // fever_meningism
      "neck stiffness",
      "fever",  // systemic_symptoms
      "unintentional weight loss",
      "head injury",  // head_neck_trauma
      "whiplash injury",
      "jaw claudication",  // new_onset_after_50 (GCA features)
      "visual loss",
      "papilledema",                                            // papilledema
      "headache worse on standing and relieved by lying flat",  // positional_orthostatic
      "headache brought on by coughing",                        // valsalva_precipitated
      "painful red eye with halos",                             // painful_eye_autonomic
      "a change in her usual headache pattern",                 // pattern_change
      "headache getting progressively worse over weeks",        // progressive_or_refractory
      "headache no longer responding to analgesics",
      "neck pain after chiropractic neck manipulation",  // cervical_artery_dissection
      "point tenderness over the C2 spinous process",    // vertebral_body_tenderness
  };
  return phrases;
}

int Rank(const rapidjson::Value& response) {
  int best = -1;  // no card at all
  const rapidjson::Value* cards = json::GetArray(response, "cards");
  if (cards == nullptr) return best;
  for (const auto& c : cards->GetArray()) {
    const rapidjson::Value* i = json::Find(c, "indicator");
    std::string_view v = i != nullptr && i->IsString() ? i->GetString() : "";
    best = std::max(best, v == "critical" ? 2 : v == "warning" ? 1 : 0);
  }
  return best;
}

std::string Topics(const rapidjson::Value& response) {
  std::string out;
  const rapidjson::Value* cards = json::GetArray(response, "cards");
  if (cards == nullptr) return " (no cards array)";
  for (const auto& c : cards->GetArray()) {
    const rapidjson::Value* source = json::GetObject(c, "source");
    const rapidjson::Value* topic = source != nullptr ? json::GetObject(*source, "topic") : nullptr;
    const rapidjson::Value* code = topic != nullptr ? json::Find(*topic, "code") : nullptr;
    const rapidjson::Value* indicator = json::Find(c, "indicator");
    out += " ";
    out += code != nullptr && code->IsString() ? code->GetString() : "?";
    out += "/";
    out += indicator != nullptr && indicator->IsString() ? indicator->GetString() : "?";
  }
  return out.empty() ? " (no cards)" : out;
}

// The case's request with one more prefetch Bundle holding an HPI narrative recorded at `now`.
std::string WithNarrative(const cephalgia::testing::GoldenCase& c, const std::string& text) {
  rapidjson::Document d;
  d.Parse(c.request_json.data(), c.request_json.size());
  auto& a = d.GetAllocator();
  const rapidjson::Value* context = d.IsObject() ? json::GetObject(d, "context") : nullptr;
  const rapidjson::Value* id = context != nullptr ? json::Find(*context, "patientId") : nullptr;
  std::string patient = id != nullptr && id->IsString() ? id->GetString() : std::string();
  rapidjson::Value obs(rapidjson::kObjectType);
  obs.AddMember("resourceType", "Observation", a);
  obs.AddMember("id", "prop-hpi", a);
  obs.AddMember("status", "final", a);
  rapidjson::Value coding(rapidjson::kObjectType);
  coding.AddMember("system", "http://loinc.org", a);
  coding.AddMember("code", "10164-2", a);
  coding.AddMember("display", "History of Present illness Narrative", a);
  rapidjson::Value codings(rapidjson::kArrayType);
  codings.PushBack(coding, a);
  rapidjson::Value code(rapidjson::kObjectType);
  code.AddMember("coding", codings, a);
  obs.AddMember("code", code, a);
  rapidjson::Value subject(rapidjson::kObjectType);
  subject.AddMember("reference", rapidjson::Value(("Patient/" + patient).c_str(), a), a);
  obs.AddMember("subject", subject, a);
  obs.AddMember("effectiveDateTime", rapidjson::Value(c.now.c_str(), a), a);
  obs.AddMember("valueString", rapidjson::Value(text.c_str(), a), a);
  rapidjson::Value entry(rapidjson::kObjectType);
  entry.AddMember("resource", obs, a);
  rapidjson::Value entries(rapidjson::kArrayType);
  entries.PushBack(entry, a);
  rapidjson::Value bundle(rapidjson::kObjectType);
  bundle.AddMember("resourceType", "Bundle", a);
  bundle.AddMember("type", "searchset", a);
  bundle.AddMember("entry", entries, a);
  if (!d.HasMember("prefetch") || !d["prefetch"].IsObject()) {
    d.RemoveMember("prefetch");
    d.AddMember("prefetch", rapidjson::Value(rapidjson::kObjectType), a);
  }
  d["prefetch"].AddMember("zzNarrative", bundle, a);
  return json::Serialize(d);
}

struct Outcome {
  int before = -1;
  int after = -1;
  std::string before_topics, after_topics;
};

Outcome Compare(const cephalgia::testing::GoldenCase& c, const std::string& narrative) {
  Outcome o;
  auto before = EvaluateCase(c);
  cephalgia::testing::GoldenCase changed;
  changed.service = c.service;
  changed.now = c.now;
  changed.request_json = WithNarrative(c, narrative);
  changed.unavailable_prefetch = c.unavailable_prefetch;
  changed.partial_prefetch = c.partial_prefetch;
  auto after = EvaluateCase(changed);
  EXPECT_TRUE(before.ok() && after.ok()) << c.name << ": " << narrative;
  if (!before.ok() || !after.ok()) return o;
  rapidjson::Document b, a;
  b.Parse(before->data(), before->size());
  a.Parse(after->data(), after->size());
  o.before = Rank(b);
  o.after = Rank(a);
  o.before_topics = Topics(b);
  o.after_topics = Topics(a);
  return o;
}

class TextPropertyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TextPropertyTest, NegatedRedFlagNeverRaisesAndAffirmedNeverLowersTheIndicator) {
  auto loaded = cephalgia::testing::LoadGoldenCase(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto& c = *loaded;
  if (c.service != "headache-patient-view") GTEST_SKIP() << "order-sign case";
  for (const std::string& phrase : RedFlagPhrases()) {
    std::string negated = "Denies " + phrase + ".";
    Outcome n = Compare(c, negated);
    EXPECT_LE(n.after, n.before) << c.name << " + \"" << negated << "\": before" << n.before_topics
                                 << " after" << n.after_topics;
    std::string affirmed = "Reports " + phrase + " today.";
    Outcome f = Compare(c, affirmed);
    EXPECT_GE(f.after, f.before) << c.name << " + \"" << affirmed << "\": before" << f.before_topics
                                 << " after" << f.after_topics;
  }
  // The same, as a negated sentence that opens with the concept ("No X.").
  for (const std::string& phrase : RedFlagPhrases()) {
    std::string negated = "No " + phrase + ".";
    Outcome n = Compare(c, negated);
    EXPECT_LE(n.after, n.before) << c.name << " + \"" << negated << "\": before" << n.before_topics
                                 << " after" << n.after_topics;
  }
}

// Words of `text`, lower-cased, split on anything that is not a letter or digit.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char ch : text) {
    if (std::isalnum(static_cast<unsigned char>(ch)) ||
        (static_cast<unsigned char>(ch) & 0x80) != 0) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

// Patient narrative in the request: Observation.valueString and every note[].text.
void CollectNarratives(const rapidjson::Value& v, std::vector<std::string>* out) {
  if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      std::string_view name(m->name.GetString(), m->name.GetStringLength());
      if (name == "valueString" && m->value.IsString()) out->push_back(m->value.GetString());
      if (name == "note" && m->value.IsArray()) {
        for (const auto& n : m->value.GetArray()) {
          const rapidjson::Value* t = json::Find(n, "text");
          if (t != nullptr && t->IsString()) out->push_back(t->GetString());
        }
      }
      CollectNarratives(m->value, out);
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) CollectNarratives(e, out);
  }
}

// A card may quote the matched words of a note (a short span), never a long run of it (§e.2,
// issue 11 "no card quotes more than a short span of patient text").
constexpr std::size_t kLongestQuote = 12;

class NarrativeQuoteTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NarrativeQuoteTest, NoCardQuotesMoreThanAShortSpanOfANote) {
  auto loaded = cephalgia::testing::LoadGoldenCase(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto& c = *loaded;
  std::vector<std::string> narratives;
  if (const rapidjson::Value* request = json::GetObject(c.json, "request")) {
    CollectNarratives(*request, &narratives);
  }
  if (narratives.empty()) GTEST_SKIP() << "no narrative in this case";
  auto response = EvaluateCase(c);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  rapidjson::Document doc;
  doc.Parse(response->data(), response->size());
  const rapidjson::Value* cards = doc.IsObject() ? json::GetArray(doc, "cards") : nullptr;
  ASSERT_NE(cards, nullptr) << *response;
  std::set<std::vector<std::string>> card_runs;
  for (const auto& card : cards->GetArray()) {
    std::string text;
    for (const char* key : {"summary", "detail"}) {
      const rapidjson::Value* v = json::Find(card, key);
      if (v != nullptr && v->IsString()) text += std::string(v->GetString()) + " ";
    }
    std::vector<std::string> w = Words(text);
    for (std::size_t i = 0; i + kLongestQuote < w.size() + 1; ++i) {
      card_runs.emplace(w.begin() + static_cast<std::ptrdiff_t>(i),
                        w.begin() + static_cast<std::ptrdiff_t>(i + kLongestQuote));
    }
  }
  for (const std::string& narrative : narratives) {
    std::vector<std::string> w = Words(narrative);
    for (std::size_t i = 0; i + kLongestQuote < w.size() + 1; ++i) {
      std::vector<std::string> run(w.begin() + static_cast<std::ptrdiff_t>(i),
                                   w.begin() + static_cast<std::ptrdiff_t>(i + kLongestQuote));
      EXPECT_EQ(card_runs.count(run), 0u) << c.name << ": a card quotes " << kLongestQuote
                                          << "+ consecutive words of \"" << narrative << "\"";
      if (card_runs.count(run) != 0) break;
    }
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return "c" + name;
}

INSTANTIATE_TEST_SUITE_P(Cases, TextPropertyTest, ::testing::ValuesIn(CaseFiles()), CaseName);
INSTANTIATE_TEST_SUITE_P(Cases, NarrativeQuoteTest, ::testing::ValuesIn(CaseFiles()), CaseName);

}  // namespace
}  // namespace cephalgia::rules
