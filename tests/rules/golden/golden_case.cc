#include "golden/golden_case.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cephalgia/json.h"
#include "cephalgia/uuid.h"

namespace cephalgia::testing {
namespace {

using rapidjson::Value;

// Independent of the pack's knowledge files on purpose: these lists come straight from
// knowledge.md, so a knowledge-file mistake cannot hide a forbidden suggestion.
const std::set<std::string>& ForbiddenCodes() {
  static const std::set<std::string> kCodes = {
      // cervical manipulation (§c.9 #1, §d.6)
      "399010004", "119600000",
      // opioids (§d.5 opioid group: ingredients and listed SCDs)
      "7804", "10689", "2670", "5489", "7052", "3423", "4337", "6813", "1819", "1049621", "1049221",
      "835603", "997287", "857005", "892582", "897696"};
  return kCodes;
}

const std::set<std::string>& ImagingCodes() {
  static const std::set<std::string> kCodes = {
      "303653007",       "383371000119108", "711232001",       "702430003", "702726002",
      "702727006",       "816077007",       "571891000119109", "60443006",  "241645008",
      "572061000119104", "762008",          "712970008"};
  return kCodes;
}

const std::set<std::string>& PhysioCodes() {
  static const std::set<std::string> kCodes = {"308447003", "306170007", "444831000124102",
                                               "306358002", "306359005", "416999007",
                                               "91251008"};
  return kCodes;
}

const std::set<std::string>& RedFlagIds() {
  static const std::set<std::string> kIds = {"thunderclap_onset",
                                             "neurological_deficit",
                                             "fever_meningism",
                                             "systemic_symptoms",
                                             "head_neck_trauma",
                                             "new_onset_after_50",
                                             "cancer_history",
                                             "immunosuppression",
                                             "progressive_or_refractory",
                                             "systemic_inflammatory_disease",
                                             "vertebral_body_tenderness",
                                             "pregnancy_postpartum",
                                             "papilledema",
                                             "positional_orthostatic",
                                             "valsalva_precipitated",
                                             "painful_eye_autonomic",
                                             "pattern_change",
                                             "cervical_artery_dissection",
                                             "cervical_instability"};
  return kIds;
}

std::string S(const Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength())
                                       : std::string();
}

// Free text of the request's resources (valueString, note[].text), as written by clinicians: a
// card may quote a short span of it, never more (issue 11).
void CollectNarratives(const Value& v, std::vector<std::string>* out) {
  if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      std::string_view key(m->name.GetString(), m->name.GetStringLength());
      if (key == "valueString" && m->value.IsString() && m->value.GetStringLength() > 60) {
        out->emplace_back(m->value.GetString(), m->value.GetStringLength());
      }
      if (key == "note" && m->value.IsArray()) {  // Annotation[]: note[].text
        for (const Value& n : m->value.GetArray()) {
          const Value* t = json::Find(n, "text");
          if (t != nullptr && t->IsString() && t->GetStringLength() > 60)
            out->emplace_back(t->GetString(), t->GetStringLength());
        }
      }
      CollectNarratives(m->value, out);
    }
  } else if (v.IsArray()) {
    for (const Value& e : v.GetArray()) CollectNarratives(e, out);
  }
}

std::vector<std::string> Narratives(const Value& request) {
  std::vector<std::string> out;
  if (const Value* prefetch = json::GetObject(request, "prefetch"))
    CollectNarratives(*prefetch, &out);
  return out;
}

// Whether `shown` contains more than `limit` consecutive bytes of `narrative`.
bool QuotesMoreThan(const std::string& narrative, const std::string& shown, std::size_t limit) {
  if (narrative.size() <= limit) return false;
  for (std::size_t i = 0; i + limit + 1 <= narrative.size(); i += 1) {
    if (shown.find(std::string_view(narrative).substr(i, limit + 1)) != std::string::npos)
      return true;
  }
  return false;
}

std::string Topic(const Value& card) {
  const Value* src = json::GetObject(card, "source");
  const Value* topic = src ? json::GetObject(*src, "topic") : nullptr;
  return topic ? S(json::Find(*topic, "code")) : std::string();
}

int Rank(std::string_view i) {
  return i == "critical" ? 2 : i == "warning" ? 1 : i == "info" ? 0 : -1;
}

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

void CodesOf(const Value& cc, std::vector<std::string>* out) {
  const Value* coding = json::GetArray(cc, "coding");
  if (coding == nullptr) return;
  for (const Value& c : coding->GetArray()) {
    std::string code = S(json::Find(c, "code"));
    if (!code.empty()) out->push_back(code);
  }
}

std::vector<std::string> ResourceCodes(const Value& r) {
  std::vector<std::string> out;
  for (const char* key : {"code", "medicationCodeableConcept"}) {
    if (const Value* cc = json::GetObject(r, key)) CodesOf(*cc, &out);
  }
  return out;
}

void WalkForEmpty(const Value& v, const std::string& path, std::vector<std::string>* failures) {
  if (v.IsNull())
    failures->push_back("null value at " + path);
  else if (v.IsString() && v.GetStringLength() == 0)
    failures->push_back("empty string at " + path);
  else if (v.IsArray()) {
    if (v.Empty()) failures->push_back("empty array at " + path);
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      WalkForEmpty(v[i], path + "/" + std::to_string(i), failures);
  } else if (v.IsObject()) {
    if (v.MemberCount() == 0) failures->push_back("empty object at " + path);
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m)
      WalkForEmpty(m->value, path + "/" + m->name.GetString(), failures);
  }
}

// Codes the request shows active, by resource type semantics.
std::set<std::string> ActiveCodes(const Value& request) {
  std::set<std::string> out;
  std::vector<const Value*> stack;
  if (const Value* prefetch = json::GetObject(request, "prefetch")) {
    for (auto m = prefetch->MemberBegin(); m != prefetch->MemberEnd(); ++m)
      stack.push_back(&m->value);
  }
  while (!stack.empty()) {
    const Value* v = stack.back();
    stack.pop_back();
    if (!v->IsObject()) continue;
    std::string type = S(json::Find(*v, "resourceType"));
    if (type == "Bundle") {
      if (const Value* entries = json::GetArray(*v, "entry")) {
        for (const Value& e : entries->GetArray()) {
          if (const Value* r = json::GetObject(e, "resource")) stack.push_back(r);
        }
      }
      continue;
    }
    std::string status = S(json::Find(*v, "status"));
    bool active = false;
    if (type == "MedicationRequest" || type == "MedicationStatement") active = status == "active";
    if (type == "ServiceRequest") active = status == "active" || status == "on-hold";
    if (type == "Procedure") active = status == "in-progress";
    if (!active) continue;
    for (const std::string& c : ResourceCodes(*v)) out.insert(c);
  }
  return out;
}

}  // namespace

std::vector<std::string> SuggestedCodes(const Value& card) {
  std::vector<std::string> out;
  const Value* sugg = json::GetArray(card, "suggestions");
  if (sugg == nullptr) return out;
  for (const Value& s : sugg->GetArray()) {
    const Value* actions = json::GetArray(s, "actions");
    if (actions == nullptr) continue;
    for (const Value& a : actions->GetArray()) {
      if (S(json::Find(a, "type")) != "create") continue;
      if (const Value* r = json::GetObject(a, "resource")) {
        for (std::string& c : ResourceCodes(*r)) out.push_back(std::move(c));
      }
    }
  }
  return out;
}

std::vector<const Value*> CreatedResources(const Value& response) {
  std::vector<const Value*> out;
  const Value* cards = json::GetArray(response, "cards");
  if (cards == nullptr) return out;
  for (const Value& card : cards->GetArray()) {
    const Value* sugg = json::GetArray(card, "suggestions");
    if (sugg == nullptr) continue;
    for (const Value& s : sugg->GetArray()) {
      const Value* actions = json::GetArray(s, "actions");
      if (actions == nullptr) continue;
      for (const Value& a : actions->GetArray()) {
        if (const Value* r = json::GetObject(a, "resource")) out.push_back(r);
      }
    }
  }
  return out;
}

std::vector<std::string> CheckResponseInvariants(const Value& request, const Value& response) {
  std::vector<std::string> f;
  const Value* cards = json::GetArray(response, "cards");
  if (cards == nullptr) {
    f.push_back("response has no cards array");
    return f;
  }
  if (cards->Empty()) return f;  // {"cards": []} is the one allowed empty array
  WalkForEmpty(*cards, "/cards", &f);
  const Value* context = json::GetObject(request, "context");
  std::string patient = context ? S(json::Find(*context, "patientId")) : std::string();
  std::set<std::string> active = ActiveCodes(request);
  bool active_physio = std::any_of(active.begin(), active.end(),
                                   [](const std::string& c) { return PhysioCodes().count(c) > 0; });
  bool red_flag = false;
  for (const Value& card : cards->GetArray())
    red_flag = red_flag || RedFlagIds().count(Topic(card)) > 0;
  std::set<std::string> uuids;
  for (rapidjson::SizeType i = 0; i < cards->Size(); ++i) {
    const Value& card = (*cards)[i];
    std::string where = "card " + std::to_string(i) + " (" + Topic(card) + ")";
    std::string uuid = S(json::Find(card, "uuid"));
    if (!IsRfc4122Uuid(uuid)) f.push_back(where + ": uuid '" + uuid + "' is not RFC 4122");
    if (!uuids.insert(uuid).second) f.push_back(where + ": duplicate uuid " + uuid);
    std::string summary = S(json::Find(card, "summary"));
    if (summary.empty() || CodePoints(summary) > 100)
      f.push_back(where +
                  ": summary empty or over 100 characters (rules/packs/headache/CARD-STYLE.md)");
    std::string indicator = S(json::Find(card, "indicator"));
    if (Rank(indicator) < 0) f.push_back(where + ": bad indicator");
    std::string detail = S(json::Find(card, "detail"));
    if (detail.empty()) f.push_back(where + ": no detail");
    if (CodePoints(detail) > 600)
      f.push_back(where + ": detail over 600 characters (rules/packs/headache/CARD-STYLE.md)");
    // What a clinician reads: no raw resource ids, internal file names, seed citations or lists
    // of what was not found (issue 12; rules/packs/headache/CARD-STYLE.md).
    std::string shown = summary + "\n" + detail;
    if (const Value* sg = json::GetArray(card, "suggestions")) {
      for (const Value& s : sg->GetArray()) shown += "\n" + S(json::Find(s, "label"));
    }
    for (const char* banned :
         {"knowledge.md", "seeds/", "Condition/", "Observation/", "MedicationRequest/",
          "not documented", "[S00", "(met)", "- [ ]", "- [x]"}) {
      if (shown.find(banned) != std::string::npos)
        f.push_back(where + ": card text contains '" + banned + "'");
    }
    for (const std::string& narrative : Narratives(request)) {
      if (QuotesMoreThan(narrative, shown, 60))
        f.push_back(where + ": card text quotes more than 60 bytes of a note");
    }
    if ((indicator == "warning" || indicator == "critical") &&
        json::GetArray(card, "overrideReasons") == nullptr) {
      f.push_back(where + ": a " + indicator + " card without overrideReasons");
    }
    const Value* src = json::GetObject(card, "source");
    if (src == nullptr || S(json::Find(*src, "label")).empty())
      f.push_back(where + ": source.label missing");
    if (Topic(card).empty()) f.push_back(where + ": source.topic.code missing");
    const Value* sugg = json::GetArray(card, "suggestions");
    bool has_sugg = sugg != nullptr && !sugg->Empty();
    if (has_sugg != (json::Find(card, "selectionBehavior") != nullptr)) {
      f.push_back(where + ": selectionBehavior must be present exactly when there are suggestions");
    }
    if (has_sugg) {
      const Value* reasons = json::GetArray(card, "overrideReasons");
      if (reasons == nullptr || reasons->Empty())
        f.push_back(where + ": overrideReasons missing");
      else {
        for (const Value& r : reasons->GetArray()) {
          if (S(json::Find(r, "display")).empty() || S(json::Find(r, "code")).empty() ||
              S(json::Find(r, "system")).empty()) {
            f.push_back(where + ": an overrideReason lacks system/code/display");
          }
        }
      }
      for (const Value& s : sugg->GetArray()) {
        std::string su = S(json::Find(s, "uuid"));
        if (!IsRfc4122Uuid(su))
          f.push_back(where + ": suggestion uuid '" + su + "' is not RFC 4122");
        if (!uuids.insert(su).second) f.push_back(where + ": duplicate suggestion uuid " + su);
        if (S(json::Find(s, "label")).empty()) f.push_back(where + ": suggestion without label");
        const Value* actions = json::GetArray(s, "actions");
        if (actions == nullptr) continue;
        for (const Value& a : actions->GetArray()) {
          std::string type = S(json::Find(a, "type"));
          if (type == "delete") {
            if (S(json::Find(a, "resourceId")).empty())
              f.push_back(where + ": delete action without resourceId");
            continue;
          }
          const Value* r = json::GetObject(a, "resource");
          if (type != "create" || r == nullptr) {
            f.push_back(where + ": action is neither a create with a resource nor a delete");
            continue;
          }
          if (S(json::Find(*r, "status")) != "draft")
            f.push_back(where + ": created resource not status draft");
          if (S(json::Find(*r, "intent")) != "proposal")
            f.push_back(where + ": created resource not intent proposal");
          const Value* subject = json::GetObject(*r, "subject");
          if (subject == nullptr || S(json::Find(*subject, "reference")) != "Patient/" + patient) {
            f.push_back(where + ": created resource subject is not Patient/" + patient);
          }
          for (const std::string& code : ResourceCodes(*r)) {
            if (ForbiddenCodes().count(code))
              f.push_back(where + ": FORBIDDEN suggestion " + code + " (manipulation/opioid)");
            if (ImagingCodes().count(code) && !red_flag)
              f.push_back(where + ": imaging " + code + " suggested without a red flag");
            if (active.count(code))
              f.push_back(where + ": suggests " + code + " which is already active");
            if (PhysioCodes().count(code) && active_physio)
              f.push_back(where + ": suggests physiotherapy already active");
          }
        }
      }
    }
  }
  return f;
}

std::vector<std::string> CheckGoldenCase(const Value& case_json, const Value& response) {
  std::vector<std::string> f;
  const Value* request = json::GetObject(case_json, "request");
  const Value* expect = json::GetObject(case_json, "expect");
  const Value* cards = json::GetArray(response, "cards");
  if (request == nullptr || expect == nullptr || cards == nullptr) {
    f.push_back("case without request/expect, or response without cards");
    return f;
  }
  f = CheckResponseInvariants(*request, response);
  auto describe = [&]() {
    std::string s;
    for (const Value& c : cards->GetArray()) {
      // Appended piecewise: GCC 12 -O3 reports a false -Wrestrict on `" " + a + "/" + b`.
      s.push_back(' ');
      s.append(Topic(c));
      s.push_back('/');
      s.append(S(json::Find(c, "indicator")));
    }
    return s.empty() ? std::string(" (no cards)") : s;
  };
  if (const Value* want = json::GetArray(*expect, "cards")) {
    for (const Value& w : want->GetArray()) {
      std::string topic = S(json::Find(w, "topic"));
      std::string indicator = S(json::Find(w, "indicator"));
      std::string best_problem = "no card with topic " + topic;
      bool matched = false;
      for (const Value& c : cards->GetArray()) {
        if (Topic(c) != topic) continue;
        std::string problem;
        std::string got = S(json::Find(c, "indicator"));
        if (!indicator.empty()) {
          bool ok = indicator == "warning+" ? Rank(got) >= 1 : got == indicator;
          if (!ok) problem += " indicator " + got + " != " + indicator + ";";
        }
        std::vector<std::string> codes = SuggestedCodes(c);
        if (const Value* sc = json::GetArray(w, "suggestionCodes")) {
          for (const Value& code : sc->GetArray()) {
            if (std::find(codes.begin(), codes.end(), S(&code)) == codes.end())
              problem += " no suggestion " + S(&code) + ";";
          }
        }
        if (const Value* any = json::GetArray(w, "suggestionCodesAnyOf");
            any != nullptr && !any->Empty()) {
          bool found = false;
          for (const Value& code : any->GetArray()) {
            found = found || std::find(codes.begin(), codes.end(), S(&code)) != codes.end();
          }
          if (!found) problem += " none of suggestionCodesAnyOf suggested;";
        }
        if (const Value* not_here = json::GetArray(w, "noSuggestionCodes")) {
          for (const Value& code : not_here->GetArray()) {
            if (std::find(codes.begin(), codes.end(), S(&code)) != codes.end()) {
              problem += " suggests " + S(&code) + ";";
            }
          }
        }
        std::string detail = S(json::Find(c, "detail"));
        if (const Value* dc = json::GetArray(w, "detailContains")) {
          for (const Value& sub : dc->GetArray()) {
            if (detail.find(S(&sub)) == std::string::npos)
              problem += " detail lacks '" + S(&sub) + "';";
          }
        }
        // The evidence trail (resource references and all) lives in the card's extension.
        if (const Value* ec = json::GetArray(w, "evidenceContains")) {
          const Value* ext = json::GetObject(c, "extension");
          std::string evidence = ext != nullptr ? json::Serialize(*ext) : std::string();
          for (const Value& sub : ec->GetArray()) {
            if (evidence.find(S(&sub)) == std::string::npos)
              problem += " evidence lacks '" + S(&sub) + "';";
          }
        }
        // Cautions folded into a suggestion (no manipulation -> the physiotherapy referral's note).
        if (const Value* nc = json::GetArray(w, "noteContains")) {
          std::string notes;
          if (const Value* sugg = json::GetArray(c, "suggestions")) {
            for (const Value& s : sugg->GetArray()) {
              const Value* actions = json::GetArray(s, "actions");
              if (actions == nullptr) continue;
              for (const Value& a : actions->GetArray()) {
                const Value* r = json::GetObject(a, "resource");
                const Value* note = r != nullptr ? json::GetArray(*r, "note") : nullptr;
                if (note == nullptr) continue;
                for (const Value& n : note->GetArray()) notes += S(json::Find(n, "text")) + "\n";
              }
            }
          }
          for (const Value& sub : nc->GetArray()) {
            if (notes.find(S(&sub)) == std::string::npos)
              problem += " no suggestion note with '" + S(&sub) + "';";
          }
        }
        if (const Value* del = json::GetArray(w, "deleteResourceIds")) {
          std::vector<std::string> ids;
          if (const Value* sugg = json::GetArray(c, "suggestions")) {
            for (const Value& s : sugg->GetArray()) {
              if (const Value* actions = json::GetArray(s, "actions")) {
                for (const Value& a : actions->GetArray()) {
                  if (S(json::Find(a, "type")) == "delete")
                    ids.push_back(S(json::Find(a, "resourceId")));
                }
              }
            }
          }
          for (const Value& id : del->GetArray()) {
            if (std::find(ids.begin(), ids.end(), S(&id)) == ids.end())
              problem += " no delete of " + S(&id) + ";";
          }
        }
        if (problem.empty()) {
          matched = true;
          break;
        }
        best_problem = "card " + topic + ":" + problem;
      }
      if (!matched)
        f.push_back("expected card not matched: " + best_problem + " [got" + describe() + "]");
    }
  }
  if (const Value* absent = json::GetArray(*expect, "absentTopics")) {
    for (const Value& t : absent->GetArray()) {
      for (const Value& c : cards->GetArray()) {
        if (Topic(c) == S(&t))
          f.push_back("topic " + S(&t) + " must not fire [got" + describe() + "]");
      }
    }
  }
  if (const Value* no = json::GetArray(*expect, "noSuggestionCodes")) {
    for (const Value& code : no->GetArray()) {
      for (const Value& c : cards->GetArray()) {
        std::vector<std::string> codes = SuggestedCodes(c);
        if (std::find(codes.begin(), codes.end(), S(&code)) != codes.end()) {
          f.push_back("code " + S(&code) + " suggested on card " + Topic(c) + " but must not be");
        }
      }
    }
  }
  if (std::string max = S(json::Find(*expect, "maxIndicator")); !max.empty()) {
    for (const Value& c : cards->GetArray()) {
      if (Rank(S(json::Find(c, "indicator"))) > Rank(max)) {
        f.push_back("card " + Topic(c) + " is " + S(json::Find(c, "indicator")) +
                    ", above maxIndicator " + max);
      }
    }
  }
  if (const Value* n = json::Find(*expect, "cardCount"); n != nullptr && n->IsInt()) {
    if (static_cast<int>(cards->Size()) != n->GetInt())
      f.push_back("card count " + std::to_string(cards->Size()) +
                  " != " + std::to_string(n->GetInt()));
  }
  return f;
}

Result<GoldenCase> LoadGoldenCase(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  GoldenCase c;
  c.path = path;
  c.name = std::filesystem::path(path).stem().string();
  std::string text = ss.str();
  c.json.Parse(text.data(), text.size());
  if (c.json.HasParseError() || !c.json.IsObject())
    return InvalidArgument(path + ": not a JSON object");
  c.service = S(json::Find(c.json, "service"));
  c.now = S(json::Find(c.json, "now"));
  const Value* request = json::GetObject(c.json, "request");
  if (request == nullptr) return InvalidArgument(path + ": no request object");
  c.request_json = json::Serialize(*request);
  auto gaps = [&](const char* key, std::vector<plugin::PrefetchGap>* out) {
    const Value* arr = json::GetArray(c.json, key);
    if (arr == nullptr) return;
    for (const Value& g : arr->GetArray())
      out->push_back({S(json::Find(g, "key")), S(json::Find(g, "reason"))});
  };
  gaps("unavailablePrefetch", &c.unavailable_prefetch);
  gaps("partialPrefetch", &c.partial_prefetch);
  return c;
}

std::vector<std::string> ListGoldenCaseFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cephalgia::testing
