// Loading the knowledge files: read, validate against the JSON Schema (RapidJSON
// SchemaValidator, draft-04), then compile with cross-reference checks. Every error names the
// file and the JSON Pointer of the offending value, because a broken file must stop start-up
// with a message a knowledge editor can act on.
#include "knowledge.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "cephalgia/json.h"
#include "render.h"

namespace cephalgia::rules::internal {
namespace {

using rapidjson::Value;

Status FileError(std::string_view file, std::string_view pointer, std::string_view message) {
  std::string loc = std::string(file) + "#" + std::string(pointer);
  return InvalidArgument(loc + ": " + std::string(message), loc);
}

// A phrase of the knowledge (a string the schema has checked) in lower case, as the text
// exclusions and cue exceptions compare it.
std::string LowerPhrase(const Value& phrase) {
  std::string s(phrase.GetString(), phrase.GetStringLength());
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FailedPrecondition("cannot read knowledge file " + path, path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<rapidjson::Document> ParseFile(const std::string& dir, const std::string& file) {
  CEPHALGIA_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/" + file));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return FileError(file, "",
                     std::string("malformed JSON: ") +
                         rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
                         std::to_string(doc.GetErrorOffset()));
  }
  return doc;
}

// Resolves "common.schema.json#/definitions/..." for the other schemas.
class CommonProvider : public rapidjson::IRemoteSchemaDocumentProvider {
 public:
  explicit CommonProvider(const rapidjson::SchemaDocument* common) : common_(common) {}
  const rapidjson::SchemaDocument* GetRemoteDocument(const char* uri,
                                                     rapidjson::SizeType length) override {
    // RapidJSON 1.1 passes the URI without its last character (schema.h calls
    // GetRemoteDocument(s, i - 1) where i is the index of '#'), so accept both lengths.
    std::string_view u(uri, length);
    constexpr std::string_view kName = "common.schema.json";
    for (std::string_view name : {kName, kName.substr(0, kName.size() - 1)}) {
      if (u.size() >= name.size() && u.substr(u.size() - name.size()) == name) return common_;
    }
    return nullptr;
  }

 private:
  const rapidjson::SchemaDocument* common_;
};

std::string PointerText(const rapidjson::Pointer& p) {
  rapidjson::StringBuffer sb;
  p.Stringify(sb);
  return std::string(sb.GetString(), sb.GetSize());
}

Status Validate(const std::string& file, const Value& doc,
                const rapidjson::SchemaDocument& schema) {
  rapidjson::SchemaValidator validator(schema);
  if (doc.Accept(validator)) return Status::Ok();
  std::string doc_ptr = PointerText(validator.GetInvalidDocumentPointer());
  std::string schema_ptr = PointerText(validator.GetInvalidSchemaPointer());
  std::string keyword = validator.GetInvalidSchemaKeyword();
  const Value* bad = validator.GetInvalidDocumentPointer().Get(const_cast<Value&>(doc));
  std::string shown;
  if (bad != nullptr && (bad->IsString() || bad->IsNumber() || bad->IsBool())) {
    shown = " (value " + json::Serialize(*bad) + ")";
  }
  return FileError(file, doc_ptr,
                   "violates schema keyword '" + keyword + "' at " +
                       file.substr(0, file.size() - 5) + ".schema.json#" + schema_ptr + shown);
}

// Shared compile state: name -> index maps and the file being compiled (for messages).
struct Compiler {
  Knowledge* k = nullptr;
  std::string file;
  std::unordered_map<std::string, int> finding_index, criterion_index, diagnosis_index, order_index,
      citation_index, step_index, ladder_index, overuse_class_index;

  Status Err(const std::string& ptr, const std::string& msg) const {
    return FileError(file, ptr, msg);
  }

  static std::string Str(const Value& o, const char* key) {
    auto it = o.FindMember(key);
    return it != o.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
  }

  Result<int> Lookup(const std::unordered_map<std::string, int>& map, const std::string& id,
                     const std::string& ptr, const char* what) const {
    auto it = map.find(id);
    if (it == map.end()) return Err(ptr, std::string("unknown ") + what + " '" + id + "'");
    return it->second;
  }

  Result<int> ValueSet(const std::string& id, const std::string& ptr) const {
    int i = k->ValueSet(id);
    if (i < 0) return Err(ptr, "unknown value set '" + id + "'");
    return i;
  }

  Result<std::vector<int>> Ids(const Value& arr, const std::unordered_map<std::string, int>& map,
                               const std::string& ptr, const char* what) const {
    std::vector<int> out;
    for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          int idx, Lookup(map, arr[i].GetString(), ptr + "/" + std::to_string(i), what));
      out.push_back(idx);
    }
    return out;
  }

  Result<std::vector<int>> Citations(const Value& o, const std::string& ptr) const {
    return Ids(o["citations"], citation_index, ptr + "/citations", "citation");
  }

  Result<Expr> CompileExpr(const Value& v, const std::string& ptr) const {
    Expr e;
    e.label = Str(v, "label");
    auto list = [&](const char* key) -> Status {
      const Value& arr = v[key];
      for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
        CEPHALGIA_ASSIGN_OR_RETURN(Expr c,
                                   CompileExpr(arr[i], ptr + "/" + key + "/" + std::to_string(i)));
        e.children.push_back(std::move(c));
      }
      return Status::Ok();
    };
    if (v.HasMember("finding") || v.HasMember("absent")) {
      bool absent = v.HasMember("absent");
      e.kind = absent ? ExprKind::kAbsent : ExprKind::kFinding;
      const char* key = absent ? "absent" : "finding";
      CEPHALGIA_ASSIGN_OR_RETURN(
          e.index, Lookup(finding_index, v[key].GetString(), ptr + "/" + key, "finding"));
    } else if (v.HasMember("all")) {
      e.kind = ExprKind::kAll;
      CEPHALGIA_RETURN_IF_ERROR(list("all"));
    } else if (v.HasMember("any")) {
      e.kind = ExprKind::kAny;
      CEPHALGIA_RETURN_IF_ERROR(list("any"));
    } else if (v.HasMember("not")) {
      e.kind = ExprKind::kNot;
      CEPHALGIA_ASSIGN_OR_RETURN(Expr c, CompileExpr(v["not"], ptr + "/not"));
      e.children.push_back(std::move(c));
    } else if (v.HasMember("atLeast")) {
      e.kind = ExprKind::kAtLeast;
      e.count = v["atLeast"].GetInt();
      CEPHALGIA_RETURN_IF_ERROR(list("of"));
      if (e.count > static_cast<int>(e.children.size())) {
        return Err(ptr + "/atLeast", "atLeast " + std::to_string(e.count) + " exceeds the " +
                                         std::to_string(e.children.size()) + " items of 'of'");
      }
    } else if (v.HasMember("criterion")) {
      e.kind = ExprKind::kCriterion;
      CEPHALGIA_ASSIGN_OR_RETURN(
          e.index, Lookup(criterion_index, v["criterion"].GetString(), ptr + "/criterion",
                          "criterion (criteria may only use criteria defined before them)"));
    } else if (v.HasMember("diagnosis")) {
      e.kind = ExprKind::kDiagnosis;
      CEPHALGIA_ASSIGN_OR_RETURN(
          e.index, Lookup(diagnosis_index, v["diagnosis"].GetString(), ptr + "/diagnosis",
                          "diagnosis (only earlier diagnoses can be referred to)"));
    } else if (v.HasMember("redFlag")) {
      e.kind = ExprKind::kRedFlag;
      std::string t = v["redFlag"].GetString();
      e.index = t == "EMERGENCY" ? 2 : t == "URGENT" ? 1 : 0;
    } else if (v.HasMember("age")) {
      e.kind = ExprKind::kAge;
      const Value& a = v["age"];
      e.op = *ParseCompareOp(a["op"].GetString());
      e.value = a["value"].GetDouble();
      e.if_unknown = a.HasMember("ifUnknown") && a["ifUnknown"].GetBool();
    } else if (v.HasMember("sex")) {
      e.kind = ExprKind::kSex;
      e.text = v["sex"].GetString();
    } else {
      return Err(ptr, "not an expression");
    }
    return e;
  }

  Status CheckVersion(const Value& doc) const {
    std::string v = Str(doc, "knowledgeVersion");
    if (v != k->knowledge_version) {
      return Err("/knowledgeVersion", "knowledgeVersion '" + v +
                                          "' differs from manifest.json's '" +
                                          k->knowledge_version + "'");
    }
    return Status::Ok();
  }

  template <typename Map>
  Status AddId(Map& map, const std::string& id, int index, const std::string& ptr) const {
    if (!map.emplace(id, index).second) return Err(ptr, "duplicate id '" + id + "'");
    return Status::Ok();
  }
};

Threshold ReadThreshold(const Value& t) {
  Threshold th;
  th.op = *ParseCompareOp(t["op"].GetString());
  th.value = t["value"].GetDouble();
  if (t.HasMember("units")) {
    for (const auto& u : t["units"].GetArray()) th.units.emplace_back(u.GetString());
  }
  return th;
}

Status CompileManifest(Compiler& c, const Value& doc) {
  Knowledge& k = *c.k;
  k.knowledge_version = c.Str(doc, "knowledgeVersion");
  k.pack_id = c.Str(doc, "packId");
  k.pack_version = c.Str(doc, "packVersion");
  k.rule_system = c.Str(doc, "ruleSystem");
  k.extension_key = c.Str(doc, "extensionKey");
  k.source_label = c.Str(doc, "sourceLabel");
  k.source_url = c.Str(doc, "sourceUrl");
  if (doc.HasMember("prefetchGaps")) {
    for (auto m = doc["prefetchGaps"].MemberBegin(); m != doc["prefetchGaps"].MemberEnd(); ++m) {
      k.prefetch_gap_text[m->name.GetString()] = m->value.GetString();
    }
  }
  const Value& services = doc["services"];
  for (rapidjson::SizeType i = 0; i < services.Size(); ++i) {
    const Value& s = services[i];
    Service svc;
    svc.id = c.Str(s, "id");
    svc.hook = c.Str(s, "hook");
    svc.title = c.Str(s, "title");
    svc.description = c.Str(s, "description");
    svc.order_sign = c.Str(s, "mode") == "order-sign";
    for (auto m = s["prefetch"].MemberBegin(); m != s["prefetch"].MemberEnd(); ++m) {
      svc.prefetch.emplace_back(m->name.GetString(), m->value.GetString());
    }
    const Value& req = s["requiredPrefetch"];
    for (rapidjson::SizeType j = 0; j < req.Size(); ++j) {
      std::string key = req[j].GetString();
      if (!s["prefetch"].HasMember(key.c_str())) {
        return c.Err("/services/" + std::to_string(i) + "/requiredPrefetch/" + std::to_string(j),
                     "required prefetch key '" + key + "' is not a prefetch template");
      }
      svc.required_prefetch.push_back(key);
    }
    k.services.push_back(std::move(svc));
  }
  for (const auto& r : doc["overrideReasons"].GetArray()) {
    k.override_reasons.push_back({c.Str(r, "system"), c.Str(r, "code"), c.Str(r, "display")});
  }
  const Value& cits = doc["citations"];
  for (rapidjson::SizeType i = 0; i < cits.Size(); ++i) {
    Citation cit{c.Str(cits[i], "id"), c.Str(cits[i], "text"), c.Str(cits[i], "url"),
                 c.Str(cits[i], "label"), c.Str(cits[i], "grade") == "guideline"};
    CEPHALGIA_RETURN_IF_ERROR(c.AddId(c.citation_index, cit.id, static_cast<int>(i),
                                      "/citations/" + std::to_string(i) + "/id"));
    k.citations.push_back(std::move(cit));
  }
  return Status::Ok();
}

// Every `lead`, a blank, then every `follow` of each {lead, follow} in `combinations`, appended
// to `out`: clinicians put many verbs before the same few precipitants ("worse with" x
// "coughing"), and a list of every pair is unreadable and easy to leave incomplete. The JSON
// Schema has checked the shape at load.
void ExpandCombinations(const rapidjson::Value& combinations, rapidjson::Value& out,
                        rapidjson::Document::AllocatorType& alloc) {
  if (!combinations.IsArray()) return;
  for (const auto& combination : combinations.GetArray()) {
    auto leads = combination.FindMember("lead"), follows = combination.FindMember("follow");
    if (leads == combination.MemberEnd() || follows == combination.MemberEnd() ||
        !leads->value.IsArray() || !follows->value.IsArray())
      continue;
    for (const auto& lead : leads->value.GetArray()) {
      for (const auto& follow : follows->value.GetArray()) {
        if (!lead.IsString() || !follow.IsString()) continue;
        std::string phrase = std::string(lead.GetString(), lead.GetStringLength()) + " " +
                             std::string(follow.GetString(), follow.GetStringLength());
        out.PushBack(rapidjson::Value(phrase.c_str(),
                                      static_cast<rapidjson::SizeType>(phrase.size()), alloc),
                     alloc);
      }
    }
  }
}

// A value set's `textCombinations` expanded into its `text`, before the FHIR layer and the
// lexicon see the value sets.
void ExpandTextCombinations(rapidjson::Value& sets, rapidjson::Document::AllocatorType& alloc) {
  for (auto& vs : sets.GetArray()) {
    auto combinations = vs.FindMember("textCombinations");
    if (combinations == vs.MemberEnd()) continue;
    rapidjson::Value phrases(rapidjson::kArrayType);
    ExpandCombinations(combinations->value, phrases, alloc);
    vs.RemoveMember("textCombinations");
    auto text = vs.FindMember("text");
    if (text == vs.MemberEnd() || !text->value.IsArray()) {
      vs.AddMember("text", phrases, alloc);
    } else {
      for (auto& phrase : phrases.GetArray()) text->value.PushBack(phrase, alloc);
    }
  }
}

// A set's `cues` (knowledge.md §e.2): words that say nothing alone ("sudden", "on standing",
// "drowsy") but mention the set in the same statement as a current mention of one of the `with`
// sets (a headache): "Sudden, severe headache", "Headache on standing", "Headache; drowsy".
// Each cue phrase is a lexicon concept of its own, numbered after the value sets.
Status CompileCues(Compiler& c, const Value& sets, const Value& expanded,
                   text::ConceptLexicon::Builder& lexicon) {
  Knowledge& k = *c.k;
  const int set_count = static_cast<int>(sets.Size());
  k.cues.resize(sets.Size());
  // Normalised phrases of every set, to refuse a cue that would hide one of them (at one
  // position the lexicon keeps only the longest phrase).
  // Keyed by the phrase's words, so a cue looks up each of its word prefixes once instead of
  // comparing itself with every phrase (thousands of cues times thousands of phrases).
  std::unordered_map<std::string, std::vector<int>> phrases;
  for (rapidjson::SizeType i = 0; i < expanded.Size(); ++i) {
    if (!expanded[i].HasMember("text") || !expanded[i]["text"].IsArray()) continue;
    for (const auto& p : expanded[i]["text"].GetArray()) {
      if (p.IsString())
        phrases[text::NormalizedPhrase(p.GetString(), *k.context_rules)].push_back(
            static_cast<int>(i));
    }
  }
  for (rapidjson::SizeType i = 0; i < sets.Size(); ++i) {
    auto cues = sets[i].FindMember("cues");
    if (cues == sets[i].MemberEnd()) continue;
    const std::string at = "/valueSets/" + std::to_string(i) + "/cues";
    const Value& def = cues->value;
    Cues& out = k.cues[i];
    for (rapidjson::SizeType j = 0; j < def["with"].Size(); ++j) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          int with, c.ValueSet(def["with"][j].GetString(), at + "/with/" + std::to_string(j)));
      out.with.push_back(with);
    }
    if (auto past = def.FindMember("withMayBePast"); past != def.MemberEnd()) {
      if (!past->value.IsBool()) return c.Err(at + "/withMayBePast", "must be true or false");
      out.with_may_be_past = past->value.GetBool();
    }
    if (auto in_text = def.FindMember("ownPhrasesTakePastWithInText"); in_text != def.MemberEnd()) {
      if (!in_text->value.IsBool())
        return c.Err(at + "/ownPhrasesTakePastWithInText", "must be true or false");
      if (in_text->value.GetBool() && !out.with_may_be_past)
        return c.Err(at + "/ownPhrasesTakePastWithInText", "needs withMayBePast");
      out.own_phrases_take_past_with_in_text = in_text->value.GetBool();
    }
    if (def.HasMember("unless")) {
      for (const auto& p : def["unless"].GetArray()) out.unless.push_back(LowerPhrase(p));
    }
    rapidjson::Document scratch;
    rapidjson::Value list(rapidjson::kArrayType);
    if (def.HasMember("phrases")) list.CopyFrom(def["phrases"], scratch.GetAllocator());
    if (def.HasMember("combinations"))
      ExpandCombinations(def["combinations"], list, scratch.GetAllocator());
    for (const auto& p : list.GetArray()) {
      const std::string words = text::NormalizedPhrase(p.GetString(), *k.context_rules);
      // Every proper word prefix of the cue ("on standing" of "on standing up").
      for (std::size_t space = words.find(' '); space != std::string::npos;
           space = words.find(' ', space + 1)) {
        const std::string prefix = words.substr(0, space);
        auto found = phrases.find(prefix);
        if (found == phrases.end()) continue;
        for (int set : found->second) {
          if (set == static_cast<int>(i)) continue;
          return c.Err(at, "the cue \"" + std::string(p.GetString()) + "\" begins with \"" +
                               prefix + "\" of value set '" + k.value_set_ids[set] +
                               "' and would hide it");
        }
      }
      lexicon.Add(set_count + static_cast<int>(i), p.GetString());
    }
  }
  return Status::Ok();
}

Status CompileValueSets(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  // The FHIR layer's format has no knowledgeVersion member: hand it the value sets only.
  rapidjson::Document only;
  only.SetObject();
  rapidjson::Value sets(doc["valueSets"], only.GetAllocator());
  ExpandTextCombinations(sets, only.GetAllocator());
  // Which sets a longer phrase starting with one of their phrases also mentions; this member
  // and the cues are the pack's, not the FHIR layer's.
  std::vector<bool> within_longer(sets.Size(), false);
  for (rapidjson::SizeType i = 0; i < sets.Size(); ++i) {
    sets[i].RemoveMember("cues");
    auto flag = sets[i].FindMember("mentionedWithinLongerPhrases");
    if (flag == sets[i].MemberEnd()) continue;
    within_longer[i] = flag->value.IsBool() && flag->value.GetBool();
    sets[i].RemoveMember("mentionedWithinLongerPhrases");
  }
  only.AddMember("valueSets", sets, only.GetAllocator());
  Result<fhir::ValueSetIndex> index = fhir::ValueSetIndex::FromJson(only);
  if (!index.ok()) {
    std::string loc = index.status().location();
    if (!loc.empty() && loc[0] == '#') loc = loc.substr(1);
    return c.Err(loc, index.status().message());
  }
  c.k->value_sets = std::move(*index);
  const Value& arr = doc["valueSets"];
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
    std::string id = arr[i]["id"].GetString();
    CEPHALGIA_RETURN_IF_ERROR(c.AddId(c.k->value_set_index, id, static_cast<int>(i),
                                      "/valueSets/" + std::to_string(i) + "/id"));
    c.k->value_set_ids.push_back(id);
    // Findings map ValueSetIndex::MatchCodes positions to value sets without a lookup by id.
    if (c.k->value_sets.IdAt(static_cast<uint32_t>(i)) != id)
      return c.Err("/valueSets/" + std::to_string(i) + "/id", "value set order differs");
  }
  // One lexicon over every value set's synonyms, for reading narrative text (knowledge.md §e).
  // Read from the expanded copy: it holds the synonyms written as combinations too.
  const Value& expanded = only["valueSets"];
  c.k->context_rules = text::ContextRules::Default();
  const text::ContextRules& rules = *c.k->context_rules;
  text::ConceptLexicon::Builder lexicon(c.k->context_rules);
  // At one position the lexicon keeps only the longest phrase, so "headache of sudden onset"
  // (thunderclap) would hide the headache it names, and a chart that says only that would look
  // headache-free to the relevance gate. A set marked mentionedWithinLongerPhrases is also
  // mentioned by every other set's phrase that begins with one of its phrases, word for word
  // (compared as the lexicon reads them).
  std::vector<std::pair<int, std::string>> prefixes;  // (set, its phrase's words)
  for (rapidjson::SizeType i = 0; i < expanded.Size(); ++i) {
    if (!within_longer[i] || !expanded[i].HasMember("text") || !expanded[i]["text"].IsArray())
      continue;
    for (const auto& phrase : expanded[i]["text"].GetArray()) {
      if (phrase.IsString())
        prefixes.emplace_back(static_cast<int>(i),
                              text::NormalizedPhrase(phrase.GetString(), rules));
    }
  }
  for (rapidjson::SizeType i = 0; i < expanded.Size(); ++i) {
    if (!expanded[i].HasMember("text") || !expanded[i]["text"].IsArray()) continue;
    for (const auto& phrase : expanded[i]["text"].GetArray()) {
      if (!phrase.IsString()) continue;
      std::string_view text(phrase.GetString(), phrase.GetStringLength());
      lexicon.Add(static_cast<int>(i), text);
      const std::string words = text::NormalizedPhrase(text, rules);
      std::vector<int> also;
      for (const auto& [set, prefix] : prefixes) {
        if (set != static_cast<int>(i) && words.size() > prefix.size() &&
            words.compare(0, prefix.size(), prefix) == 0 && words[prefix.size()] == ' ' &&
            std::find(also.begin(), also.end(), set) == also.end()) {
          also.push_back(set);
          lexicon.Add(set, text);
        }
      }
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(CompileCues(c, arr, expanded, lexicon));
  Result<text::ConceptLexicon> built = std::move(lexicon).Build();
  if (!built.ok()) return c.Err("/valueSets", "text synonyms: " + built.status().message());
  c.k->lexicon = std::make_unique<text::ConceptLexicon>(std::move(*built));
  c.k->text_exclusions.resize(arr.Size());
  c.k->text_exclusions_before.resize(arr.Size());
  c.k->sources_by_value_set.resize(arr.Size());
  return Status::Ok();
}

// findings.json's complaintProperties: which sets tell a property of the complaint they follow
// ("worse on standing", "came on suddenly"), and the sets that name another complaint or a
// headache, by value set index.
Status CompileComplaintProperties(Compiler& c, const Value& doc) {
  Knowledge& k = *c.k;
  const std::size_t sets = k.value_set_ids.size();
  k.tells_complaint_property.assign(sets, false);
  k.other_complaint.assign(sets, false);
  k.names_headache.assign(sets, false);
  auto def = doc.FindMember("complaintProperties");
  if (def == doc.MemberEnd()) return Status::Ok();
  const std::pair<const char*, std::vector<bool>*> lists[] = {
      {"valueSets", &k.tells_complaint_property},
      {"otherComplaints", &k.other_complaint},
      {"headaches", &k.names_headache}};
  for (const auto& [member, flags] : lists) {
    const Value& ids = def->value[member];
    for (rapidjson::SizeType i = 0; i < ids.Size(); ++i) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          int vs, c.ValueSet(ids[i].GetString(), std::string("/complaintProperties/") + member +
                                                     "/" + std::to_string(i)));
      (*flags)[static_cast<std::size_t>(vs)] = true;
    }
  }
  for (std::size_t i = 0; i < sets; ++i) {
    if (k.other_complaint[i] && (k.names_headache[i] || k.tells_complaint_property[i]))
      return c.Err("/complaintProperties/otherComplaints",
                   "value set '" + k.value_set_ids[i] +
                       "' cannot name another complaint and a headache or a property");
  }
  return Status::Ok();
}

Status CompileFindings(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  Knowledge& k = *c.k;
  const Value& mo = doc["medicationOveruse"];
  k.overuse_min_duration_days = mo["minDurationDays"].GetInt();
  k.overuse_combined_days = mo["combinedMinDaysPerMonth"].GetDouble();
  if (mo.HasMember("excludeValueSet")) {
    CEPHALGIA_ASSIGN_OR_RETURN(
        k.overuse_exclude_value_set,
        c.ValueSet(c.Str(mo, "excludeValueSet"), "/medicationOveruse/excludeValueSet"));
  }
  const Value& classes = mo["classes"];
  for (rapidjson::SizeType i = 0; i < classes.Size(); ++i) {
    std::string p = "/medicationOveruse/classes/" + std::to_string(i);
    OveruseClass oc{c.Str(classes[i], "id"), c.Str(classes[i], "display"), -1,
                    classes[i]["minDaysPerMonth"].GetDouble()};
    CEPHALGIA_ASSIGN_OR_RETURN(oc.value_set,
                               c.ValueSet(c.Str(classes[i], "valueSet"), p + "/valueSet"));
    CEPHALGIA_RETURN_IF_ERROR(
        c.AddId(c.overuse_class_index, oc.id, static_cast<int>(i), p + "/id"));
    k.overuse_classes.push_back(std::move(oc));
  }
  // Phrases that make any text match meaningless for the patient ("family history of ...",
  // "screening for ..."): applied to every value set.
  for (const auto& p : doc["globalTextExclusions"].GetArray())
    k.global_text_exclusions.push_back(LowerPhrase(p));
  if (auto denied = doc.FindMember("textExclusionsDeniedBy"); denied != doc.MemberEnd()) {
    for (const auto& w : denied->value["words"].GetArray())
      k.text_exclusions_denied_by.push_back(LowerPhrase(w));
  }
  if (auto kept = doc.FindMember("globalTextExclusionsKeptBy"); kept != doc.MemberEnd()) {
    for (const auto& w : kept->value["wordsBefore"].GetArray())
      k.global_exclusion_kept.words_before.push_back(LowerPhrase(w));
    for (const auto& phrase : kept->value["phrasesAfter"].GetArray())
      k.global_exclusion_kept.phrases_after.push_back(LowerPhrase(phrase));
  }
  const Value& excl = doc["textExclusions"];
  for (rapidjson::SizeType i = 0; i < excl.Size(); ++i) {
    CEPHALGIA_ASSIGN_OR_RETURN(int vs,
                               c.ValueSet(c.Str(excl[i], "valueSet"),
                                          "/textExclusions/" + std::to_string(i) + "/valueSet"));
    for (const auto& p : excl[i]["phrases"].GetArray())
      k.text_exclusions[vs].push_back(LowerPhrase(p));
  }
  if (auto before = doc.FindMember("textExclusionsBefore"); before != doc.MemberEnd()) {
    const Value& list = before->value;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const std::string p = "/textExclusionsBefore/" + std::to_string(i);
      CEPHALGIA_ASSIGN_OR_RETURN(int vs, c.ValueSet(c.Str(list[i], "valueSet"), p + "/valueSet"));
      Knowledge::ExclusionBefore& e = k.text_exclusions_before[static_cast<std::size_t>(vs)];
      for (const auto& phrase : list[i]["phrases"].GetArray())
        e.phrases.push_back(LowerPhrase(phrase));
      if (auto u = list[i].FindMember("unlessBetween"); u != list[i].MemberEnd()) {
        for (const auto& phrase : u->value.GetArray())
          e.unless_between.push_back(LowerPhrase(phrase));
      }
    }
  }
  if (auto r = doc.FindMember("resolvedAfter"); r != doc.MemberEnd()) {
    Knowledge::ResolvedAfter& out = k.resolved_after;
    out.applies.assign(k.value_set_ids.size(), false);
    const Value& sets = r->value["valueSets"];
    for (rapidjson::SizeType i = 0; i < sets.Size(); ++i) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          int vs, c.ValueSet(sets[i].GetString(), "/resolvedAfter/valueSets/" + std::to_string(i)));
      out.applies[static_cast<std::size_t>(vs)] = true;
    }
    for (const auto& phrase : r->value["ownPhrases"].GetArray())
      out.own.push_back(LowerPhrase(phrase));
    for (const auto& phrase : r->value["episodePhrases"].GetArray())
      out.episode.push_back(LowerPhrase(phrase));
    out.max_words = r->value["maxWordsAfter"].GetInt();
  }
  if (auto r = doc.FindMember("recentByWrittenAgo"); r != doc.MemberEnd()) {
    Knowledge::RecentByWrittenAgo& out = k.recent_by_written_ago;
    out.applies.assign(k.value_set_ids.size(), false);
    const Value& sets = r->value["valueSets"];
    for (rapidjson::SizeType i = 0; i < sets.Size(); ++i) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          int vs,
          c.ValueSet(sets[i].GetString(), "/recentByWrittenAgo/valueSets/" + std::to_string(i)));
      out.applies[static_cast<std::size_t>(vs)] = true;
    }
    for (const auto& w : r->value["agoWords"].GetArray()) out.ago_words.push_back(LowerPhrase(w));
    out.max_days = r->value["maxDays"].GetInt();
  }
  if (auto r = doc.FindMember("headacheFreeSpan"); r != doc.MemberEnd()) {
    Knowledge::HeadacheFreeSpan& out = k.headache_free_span;
    out.applies.assign(k.value_set_ids.size(), false);
    out.diagnosis.assign(k.value_set_ids.size(), false);
    for (const auto& [key, flags] :
         {std::pair<const char*, std::vector<bool>*>{"valueSets", &out.applies},
          {"diagnosisValueSets", &out.diagnosis}}) {
      const Value& sets = r->value[key];
      for (rapidjson::SizeType i = 0; i < sets.Size(); ++i) {
        CEPHALGIA_ASSIGN_OR_RETURN(
            int vs, c.ValueSet(sets[i].GetString(),
                               std::string("/headacheFreeSpan/") + key + "/" + std::to_string(i)));
        (*flags)[static_cast<std::size_t>(vs)] = true;
      }
    }
    for (const auto& [key, list] :
         {std::pair<const char*, std::vector<std::string>*>{"sinceWords", &out.openers_since},
          {"forWords", &out.openers_for},
          {"fillerWords", &out.fillers},
          {"endedBy", &out.ended_by},
          {"pastBefore", &out.past_before},
          {"noneWords", &out.none_words}}) {
      for (const auto& w : r->value[key].GetArray()) list->push_back(LowerPhrase(w));
    }
    out.min_days = r->value["minDays"].GetInt();
    out.max_words = r->value["maxWordsToSpan"].GetInt();
  }
  if (auto r = doc.FindMember("risingScoresInText"); r != doc.MemberEnd()) {
    CEPHALGIA_ASSIGN_OR_RETURN(
        k.rising_scores.value_set,
        c.ValueSet(c.Str(r->value, "valueSet"), "/risingScoresInText/valueSet"));
    k.rising_scores.min_readings = r->value["minReadings"].GetInt();
    k.rising_scores.min_rise = r->value["minRise"].GetDouble();
    for (const auto& w : r->value["timeWords"].GetArray())
      k.rising_scores.time_words.push_back(LowerPhrase(w));
  }
  if (auto form = doc.FindMember("painHistoryForm"); form != doc.MemberEnd()) {
    for (const auto& label : form->value["labels"].GetArray())
      k.pain_history_form.labels.push_back(LowerPhrase(label));
    k.pain_history_form.max_lines = form->value["maxLines"].GetInt();
  }
  k.written_year.value_sets.assign(k.value_set_ids.size(), false);
  if (auto dated = doc.FindMember("datedByWrittenYear"); dated != doc.MemberEnd()) {
    const Value& d = dated->value;
    const auto& sets = d["valueSets"].GetArray();
    for (rapidjson::SizeType i = 0; i < sets.Size(); ++i) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          int vs,
          c.ValueSet(sets[i].GetString(), "/datedByWrittenYear/valueSets/" + std::to_string(i)));
      k.written_year.value_sets[static_cast<std::size_t>(vs)] = true;
    }
    k.written_year.max_words_between = d["maxWordsBetween"].GetInt();
    for (const auto& w : d["notAfter"].GetArray())
      k.written_year.not_after.push_back(LowerPhrase(w));
    for (const auto& w : d["notBefore"].GetArray())
      k.written_year.not_before.push_back(LowerPhrase(w));
  }
  CEPHALGIA_RETURN_IF_ERROR(CompileComplaintProperties(c, doc));
  const Value& fs = doc["findings"];
  for (rapidjson::SizeType i = 0; i < fs.Size(); ++i) {
    std::string p = "/findings/" + std::to_string(i);
    CEPHALGIA_RETURN_IF_ERROR(
        c.AddId(c.finding_index, c.Str(fs[i], "id"), static_cast<int>(i), p + "/id"));
    k.findings.push_back({c.Str(fs[i], "id"), c.Str(fs[i], "display")});
    const Value& srcs = fs[i]["sources"];
    for (rapidjson::SizeType j = 0; j < srcs.Size(); ++j) {
      const Value& s = srcs[j];
      std::string sp = p + "/sources/" + std::to_string(j);
      FindingSource src;
      src.finding = static_cast<int>(i);
      std::string kind = c.Str(s, "kind");
      if (kind == "overuse") {
        src.kind = SourceKind::kOveruse;
        if (s.HasMember("classes")) {
          CEPHALGIA_ASSIGN_OR_RETURN(src.overuse_classes, c.Ids(s["classes"], c.overuse_class_index,
                                                                sp + "/classes", "overuse class"));
        }
        src.require_duration = !s.HasMember("requireDuration") || s["requireDuration"].GetBool();
        k.overuse_sources.push_back(static_cast<int>(k.sources.size()));
        k.sources.push_back(std::move(src));
        continue;
      }
      if (kind == "deceased") {
        src.kind = SourceKind::kDeceased;
        k.deceased_sources.push_back(static_cast<int>(k.sources.size()));
        k.sources.push_back(std::move(src));
        continue;
      }
      CEPHALGIA_ASSIGN_OR_RETURN(src.value_set, c.ValueSet(c.Str(s, "valueSet"), sp + "/valueSet"));
      src.coded_only = s.HasMember("codedOnly") && s["codedOnly"].GetBool();
      if (kind == "condition") {
        src.kind = SourceKind::kCondition;
        std::string scope = c.Str(s, "scope");
        src.scope = scope == "any"       ? Scope::kAny
                    : scope == "history" ? Scope::kHistory
                                         : Scope::kCurrent;
        if (s.HasMember("onsetWithinDays")) src.onset_within_days = s["onsetWithinDays"].GetInt();
        if (s.HasMember("recordedWithinDays"))
          src.recorded_within_days = s["recordedWithinDays"].GetInt();
        src.earliest_onset = s.HasMember("earliestOnset") && s["earliestOnset"].GetBool();
        src.onset_known = s.HasMember("onsetKnown") && s["onsetKnown"].GetBool();
        if (s.HasMember("onsetAgeAbove")) src.onset_age_above = s["onsetAgeAbove"].GetDouble();
        if (s.HasMember("onsetAfter")) {
          CEPHALGIA_ASSIGN_OR_RETURN(
              src.onset_after_value_set,
              c.ValueSet(c.Str(s["onsetAfter"], "valueSet"), sp + "/onsetAfter/valueSet"));
          src.onset_after_days = s["onsetAfter"]["withinDays"].GetInt();
        }
      } else if (kind == "observation") {
        src.kind = SourceKind::kObservation;
        if (s.HasMember("quantity")) src.quantity = ReadThreshold(s["quantity"]);
        if (s.HasMember("component")) {
          CEPHALGIA_ASSIGN_OR_RETURN(
              src.component_value_set,
              c.ValueSet(c.Str(s["component"], "valueSet"), sp + "/component/valueSet"));
          src.component = ReadThreshold(s["component"]);
        }
        if (s.HasMember("answer")) {
          CEPHALGIA_ASSIGN_OR_RETURN(src.answer_value_set,
                                     c.ValueSet(c.Str(s, "answer"), sp + "/answer"));
        }
        if (s.HasMember("trend")) {
          const Value& t = s["trend"];
          if (t.HasMember("rise")) src.trend_rise = t["rise"].GetDouble();
          if (t.HasMember("improvementBelow"))
            src.trend_improvement_below = t["improvementBelow"].GetDouble();
          if (!src.trend_rise == !src.trend_improvement_below) {
            return c.Err(sp + "/trend",
                         "a trend needs exactly one of 'rise' and 'improvementBelow'");
          }
          src.trend_days = t["withinDays"].GetInt();
        }
        if (s.HasMember("effectiveWithinDays"))
          src.effective_within_days = s["effectiveWithinDays"].GetInt();
        if (s.HasMember("tiedTo")) {
          CEPHALGIA_ASSIGN_OR_RETURN(src.tied_to_value_set,
                                     c.ValueSet(c.Str(s, "tiedTo"), sp + "/tiedTo"));
        }
        if (s.HasMember("highestWithinHours")) {
          if (!src.quantity && src.component_value_set < 0) {
            return c.Err(sp + "/highestWithinHours",
                         "'highestWithinHours' needs a 'quantity' or 'component' threshold");
          }
          src.highest_within_hours = s["highestWithinHours"].GetInt();
        }
        src.history_mentions = s.HasMember("historyMentions") && s["historyMentions"].GetBool();
      } else if (kind == "encounter") {
        src.kind = SourceKind::kEncounter;
        if (s.HasMember("recordedWithinDays"))
          src.recorded_within_days = s["recordedWithinDays"].GetInt();
      } else if (kind == "draftReason") {
        src.kind = SourceKind::kDraftReason;
      } else if (kind == "medication" || kind == "order") {
        src.kind = kind == "order" ? SourceKind::kOrder : SourceKind::kMedication;
        if (s.HasMember("relevance")) {
          src.allow_current = src.allow_history = false;
          for (const auto& r : s["relevance"].GetArray()) {
            if (std::string_view(r.GetString()) == "current")
              src.allow_current = true;
            else
              src.allow_history = true;
          }
        }
        if (s.HasMember("minDurationDays")) src.min_duration_days = s["minDurationDays"].GetInt();
        if (s.HasMember("startedAtLeastDaysAgo"))
          src.started_at_least_days_ago = s["startedAtLeastDaysAgo"].GetInt();
        if (s.HasMember("resourceType")) src.resource_type = c.Str(s, "resourceType");
        if (s.HasMember("startedWithinDays"))
          src.started_within_days = s["startedWithinDays"].GetInt();
      } else {
        src.kind = SourceKind::kAllergy;
      }
      k.sources_by_value_set[src.value_set].push_back(static_cast<int>(k.sources.size()));
      k.sources.push_back(std::move(src));
    }
  }
  return Status::Ok();
}

Status CompileCriteria(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  const Value& arr = doc["criteria"];
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
    std::string p = "/criteria/" + std::to_string(i);
    CEPHALGIA_ASSIGN_OR_RETURN(Expr e, c.CompileExpr(arr[i]["expr"], p + "/expr"));
    CEPHALGIA_RETURN_IF_ERROR(c.Citations(arr[i], p).status());
    CEPHALGIA_RETURN_IF_ERROR(
        c.AddId(c.criterion_index, c.Str(arr[i], "id"), static_cast<int>(i), p + "/id"));
    c.k->criterion_ids.push_back(c.Str(arr[i], "id"));
    c.k->criteria.push_back(std::move(e));
  }
  return Status::Ok();
}

Status CompileOrders(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  const Value& arr = doc["orders"];
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
    const Value& o = arr[i];
    std::string p = "/orders/" + std::to_string(i);
    OrderDef d;
    d.id = c.Str(o, "id");
    d.medication = c.Str(o, "resourceType") == "MedicationRequest";
    d.code = {c.Str(o["code"], "system"), c.Str(o["code"], "code"), c.Str(o["code"], "display")};
    d.label = c.Str(o, "label");
    d.note = c.Str(o, "note");
    d.dosage = c.Str(o, "dosage");
    if (d.medication && d.dosage.empty())
      return c.Err(p, "a MedicationRequest order needs 'dosage'");
    if (o.HasMember("classes")) {
      for (const auto& cl : o["classes"].GetArray()) d.classes.emplace_back(cl.GetString());
    }
    if (o.HasMember("activeValueSet")) {
      CEPHALGIA_ASSIGN_OR_RETURN(d.active_value_set,
                                 c.ValueSet(c.Str(o, "activeValueSet"), p + "/activeValueSet"));
    }
    CEPHALGIA_RETURN_IF_ERROR(c.AddId(c.order_index, d.id, static_cast<int>(i), p + "/id"));
    c.k->orders.push_back(std::move(d));
  }
  return Status::Ok();
}

Status CompileRedFlags(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  Knowledge& k = *c.k;
  for (const char* t : {"URGENT", "EMERGENCY"}) {
    const Value& td = doc["tiers"][t];
    TierDef def{c.Str(td, "indicator"), c.Str(td, "priority"), c.Str(td, "label"), {}};
    CEPHALGIA_ASSIGN_OR_RETURN(def.always_orders,
                               c.Ids(td["alwaysOrders"], c.order_index,
                                     std::string("/tiers/") + t + "/alwaysOrders", "order"));
    bool emergency = std::string_view(t) == "EMERGENCY";
    if (emergency && def.indicator != "critical")
      return c.Err("/tiers/EMERGENCY/indicator", "EMERGENCY must map to 'critical'");
    if (!emergency && def.indicator == "info")
      return c.Err("/tiers/URGENT/indicator", "URGENT must never be 'info'");
    k.tiers[emergency ? 2 : 1] = std::move(def);
  }
  const Value& flags = doc["flags"];
  std::unordered_set<std::string> ids;
  for (rapidjson::SizeType i = 0; i < flags.Size(); ++i) {
    const Value& f = flags[i];
    std::string p = "/flags/" + std::to_string(i);
    RedFlag rf;
    rf.id = c.Str(f, "id");
    if (!ids.insert(rf.id).second) return c.Err(p + "/id", "duplicate red flag '" + rf.id + "'");
    rf.title = c.Str(f, "title");
    rf.summary = c.Str(f, "summary");
    rf.detail = c.Str(f, "detail");
    rf.tier = c.Str(f, "tier") == "EMERGENCY" ? Tier::kEmergency : Tier::kUrgent;
    CEPHALGIA_ASSIGN_OR_RETURN(rf.when, c.CompileExpr(f["when"], p + "/when"));
    CEPHALGIA_ASSIGN_OR_RETURN(rf.orders,
                               c.Ids(f["orders"], c.order_index, p + "/orders", "order"));
    CEPHALGIA_ASSIGN_OR_RETURN(rf.citations, c.Citations(f, p));
    auto variant = [&](const Value& e, const std::string& ep) -> Status {
      RedFlagVariant v;
      v.tier = c.Str(e, "tier") == "EMERGENCY" ? Tier::kEmergency : Tier::kUrgent;
      CEPHALGIA_ASSIGN_OR_RETURN(v.when, c.CompileExpr(e["when"], ep + "/when"));
      CEPHALGIA_ASSIGN_OR_RETURN(v.orders,
                                 c.Ids(e["orders"], c.order_index, ep + "/orders", "order"));
      v.summary = c.Str(e, "summary");
      if (e.HasMember("detail")) v.detail = c.Str(e, "detail");
      rf.variants.push_back(std::move(v));
      return Status::Ok();
    };
    if (f.HasMember("variants")) {
      for (rapidjson::SizeType j = 0; j < f["variants"].Size(); ++j) {
        CEPHALGIA_RETURN_IF_ERROR(variant(f["variants"][j], p + "/variants/" + std::to_string(j)));
      }
    }
    if (f.HasMember("escalation"))
      CEPHALGIA_RETURN_IF_ERROR(variant(f["escalation"], p + "/escalation"));
    k.red_flags.push_back(std::move(rf));
  }
  return Status::Ok();
}

Status CompileLadder(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  Knowledge& k = *c.k;
  CEPHALGIA_ASSIGN_OR_RETURN(k.ladder_suppress,
                             c.CompileExpr(doc["suppressWhen"], "/suppressWhen"));
  const Value& steps = doc["steps"];
  for (rapidjson::SizeType i = 0; i < steps.Size(); ++i) {
    const Value& s = steps[i];
    std::string p = "/steps/" + std::to_string(i);
    LadderStep st;
    st.id = c.Str(s, "id");
    st.title = c.Str(s, "title");
    st.summary = c.Str(s, "summary");
    st.step = s["step"].GetInt();
    st.alternatives = s["alternatives"].GetBool();
    CEPHALGIA_ASSIGN_OR_RETURN(st.when, c.CompileExpr(s["when"], p + "/when"));
    CEPHALGIA_ASSIGN_OR_RETURN(st.orders,
                               c.Ids(s["orders"], c.order_index, p + "/orders", "order"));
    CEPHALGIA_ASSIGN_OR_RETURN(st.citations, c.Citations(s, p));
    CEPHALGIA_RETURN_IF_ERROR(c.AddId(c.step_index, st.id, static_cast<int>(i), p + "/id"));
    k.steps.push_back(std::move(st));
  }
  const Value& ladders = doc["ladders"];
  for (rapidjson::SizeType i = 0; i < ladders.Size(); ++i) {
    std::string p = "/ladders/" + std::to_string(i);
    Ladder l;
    l.id = c.Str(ladders[i], "id");
    CEPHALGIA_ASSIGN_OR_RETURN(
        l.steps, c.Ids(ladders[i]["steps"], c.step_index, p + "/steps", "ladder step"));
    CEPHALGIA_RETURN_IF_ERROR(c.AddId(c.ladder_index, l.id, static_cast<int>(i), p + "/id"));
    k.ladders.push_back(std::move(l));
  }
  return Status::Ok();
}

Status CompileClassification(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  Knowledge& k = *c.k;
  k.classification_indicator = c.Str(doc, "indicator");
  if (doc.HasMember("suppressWhen")) {
    k.has_classification_suppress = true;
    CEPHALGIA_ASSIGN_OR_RETURN(k.classification_suppress,
                               c.CompileExpr(doc["suppressWhen"], "/suppressWhen"));
  }
  const Value& dx = doc["diagnoses"];
  for (rapidjson::SizeType i = 0; i < dx.Size(); ++i) {
    const Value& d = dx[i];
    std::string p = "/diagnoses/" + std::to_string(i);
    Diagnosis g;
    g.id = c.Str(d, "id");
    g.title = c.Str(d, "title");
    g.summary = c.Str(d, "summary");
    g.detail = c.Str(d, "detail");
    g.short_name = c.Str(d, "shortName");
    CEPHALGIA_ASSIGN_OR_RETURN(g.explicit_dx, c.CompileExpr(d["explicit"], p + "/explicit"));
    CEPHALGIA_ASSIGN_OR_RETURN(g.criteria, c.CompileExpr(d["criteria"], p + "/criteria"));
    CEPHALGIA_ASSIGN_OR_RETURN(
        g.ladder, c.Lookup(c.ladder_index, c.Str(d, "ladder"), p + "/ladder", "ladder"));
    CEPHALGIA_ASSIGN_OR_RETURN(g.citations, c.Citations(d, p));
    // Registered after compiling: a diagnosis may only refer to earlier ones.
    CEPHALGIA_RETURN_IF_ERROR(c.AddId(c.diagnosis_index, g.id, static_cast<int>(i), p + "/id"));
    k.diagnoses.push_back(std::move(g));
  }
  const Value& u = doc["undetermined"];
  k.undetermined.id = c.Str(u, "id");
  k.undetermined.title = c.Str(u, "title");
  k.undetermined.summary = c.Str(u, "summary");
  k.undetermined.detail = c.Str(u, "detail");
  CEPHALGIA_ASSIGN_OR_RETURN(k.undetermined.when, c.CompileExpr(u["when"], "/undetermined/when"));
  CEPHALGIA_ASSIGN_OR_RETURN(
      k.undetermined.deciding_findings,
      c.Ids(u["decidingFindings"], c.finding_index, "/undetermined/decidingFindings", "finding"));
  CEPHALGIA_ASSIGN_OR_RETURN(k.undetermined.citations, c.Citations(u, "/undetermined"));
  return Status::Ok();
}

Status CompileSafety(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  Knowledge& k = *c.k;
  k.safety_indicator = c.Str(doc, "indicator");
  if (doc.HasMember("suppressWhen")) {
    k.has_safety_suppress = true;
    CEPHALGIA_ASSIGN_OR_RETURN(k.safety_suppress,
                               c.CompileExpr(doc["suppressWhen"], "/suppressWhen"));
  }
  const Value& cards = doc["cards"];
  for (rapidjson::SizeType i = 0; i < cards.Size(); ++i) {
    const Value& s = cards[i];
    std::string p = "/cards/" + std::to_string(i);
    SafetyCard sc{
        c.Str(s, "id"), c.Str(s, "title"), c.Str(s, "summary"), c.Str(s, "detail"), {}, {}};
    CEPHALGIA_ASSIGN_OR_RETURN(sc.when, c.CompileExpr(s["when"], p + "/when"));
    CEPHALGIA_ASSIGN_OR_RETURN(sc.citations, c.Citations(s, p));
    if (s.HasMember("foldIntoOrder")) {
      CEPHALGIA_ASSIGN_OR_RETURN(
          sc.fold_into_order,
          c.Lookup(c.order_index, c.Str(s, "foldIntoOrder"), p + "/foldIntoOrder", "order"));
    }
    k.safety_cards.push_back(std::move(sc));
  }
  const Value& rs = doc["suggestionRestrictions"];
  for (rapidjson::SizeType i = 0; i < rs.Size(); ++i) {
    const Value& r = rs[i];
    std::string p = "/suggestionRestrictions/" + std::to_string(i);
    Restriction res;
    res.id = c.Str(r, "id");
    res.reason = c.Str(r, "reason");
    CEPHALGIA_ASSIGN_OR_RETURN(res.value_set, c.ValueSet(c.Str(r, "valueSet"), p + "/valueSet"));
    if (r.HasMember("when")) {
      res.has_when = true;
      CEPHALGIA_ASSIGN_OR_RETURN(res.when, c.CompileExpr(r["when"], p + "/when"));
    }
    if (r.HasMember("unless")) {
      res.has_unless = true;
      CEPHALGIA_ASSIGN_OR_RETURN(res.unless, c.CompileExpr(r["unless"], p + "/unless"));
    }
    k.restrictions.push_back(std::move(res));
  }
  return Status::Ok();
}

Status CompileOrderSign(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  const Value& rules = doc["rules"];
  for (rapidjson::SizeType i = 0; i < rules.Size(); ++i) {
    const Value& r = rules[i];
    std::string p = "/rules/" + std::to_string(i);
    OrderSignRule o;
    o.id = c.Str(r, "id");
    o.title = c.Str(r, "title");
    o.indicator = c.Str(r, "indicator");
    o.summary = c.Str(r, "summary");
    o.detail = c.Str(r, "detail");
    o.delete_draft = r["deleteDraft"].GetBool();
    o.propose_ladder = r["proposeLadder"].GetBool();
    o.draft_overuse = r.HasMember("draftOveruse");
    if (r.HasMember("sustainedDays")) o.sustained_days = r["sustainedDays"].GetInt();
    if (r.HasMember("assumedSupplyDays")) o.assumed_supply_days = r["assumedSupplyDays"].GetInt();
    if (r.HasMember("draftValueSet")) {
      CEPHALGIA_ASSIGN_OR_RETURN(o.draft_value_set,
                                 c.ValueSet(c.Str(r, "draftValueSet"), p + "/draftValueSet"));
    }
    if (o.draft_value_set < 0 && !o.draft_overuse)
      return c.Err(p, "a rule needs 'draftValueSet' or 'draftOveruse'");
    if (r.HasMember("when")) {
      o.has_when = true;
      CEPHALGIA_ASSIGN_OR_RETURN(o.when, c.CompileExpr(r["when"], p + "/when"));
    }
    CEPHALGIA_ASSIGN_OR_RETURN(o.citations, c.Citations(r, p));
    c.k->order_sign_rules.push_back(std::move(o));
  }
  return Status::Ok();
}

// relevance.json: the gate of knowledge.md §0 and the staleness limits of §0.2.
Status CompileRelevance(Compiler& c, const Value& doc) {
  CEPHALGIA_RETURN_IF_ERROR(c.CheckVersion(doc));
  Relevance& r = c.k->relevance;
  CEPHALGIA_ASSIGN_OR_RETURN(r.gate, c.CompileExpr(doc["gate"]["when"], "/gate/when"));
  CEPHALGIA_ASSIGN_OR_RETURN(r.citations, c.Citations(doc["gate"], "/gate"));
  const Value& st = doc["staleness"];
  r.stale_medication_request_days = st["medicationRequestAuthoredDays"].GetInt();
  r.statement_ended_within_days = st["medicationStatementEndedDays"].GetInt();
  return Status::Ok();
}

using CompileFn = Status (*)(Compiler&, const Value&);
struct FileSpec {
  const char* name;  // without .json
  CompileFn compile;
};

// What the decisions would otherwise work out on every call from constant knowledge.
void PrepareDecisions(Knowledge& k) {
  for (OrderDef& o : k.orders) {
    for (std::size_t i = 0; i < k.restrictions.size(); ++i) {
      const Restriction& r = k.restrictions[i];
      if (k.value_sets.ContainsCode(k.value_set_ids[r.value_set], o.code.system, o.code.code)) {
        o.restricted_by.push_back(static_cast<int>(i));
      }
    }
    o.active_code_key = std::string(fhir::CanonicalSystem(o.code.system)) + "|" +
                        fhir::NormalizeCode(fhir::IdentifySystem(o.code.system), o.code.code);
    o.create_description = (o.medication ? "Propose " : "Order ") + o.label;
  }
}

}  // namespace

Result<std::unique_ptr<Knowledge>> LoadKnowledge(const std::string& data_dir) {
  const std::string schema_dir = data_dir + "/schema";
  const std::string knowledge_dir = data_dir + "/knowledge";
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document common_doc,
                             ParseFile(schema_dir, "common.schema.json"));
  rapidjson::SchemaDocument common(common_doc);
  CommonProvider provider(&common);

  auto k = std::make_unique<Knowledge>();
  Compiler c;
  c.k = k.get();
  // Order matters: later files refer to ids defined by earlier ones.
  static constexpr FileSpec kFiles[] = {
      {"manifest", &CompileManifest},   {"valuesets", &CompileValueSets},
      {"findings", &CompileFindings},   {"criteria", &CompileCriteria},
      {"orders", &CompileOrders},       {"red-flags", &CompileRedFlags},
      {"ladder", &CompileLadder},       {"classification", &CompileClassification},
      {"safety", &CompileSafety},       {"order-sign", &CompileOrderSign},
      {"relevance", &CompileRelevance},
  };
  for (const FileSpec& spec : kFiles) {
    std::string file = std::string(spec.name) + ".json";
    CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document schema_json,
                               ParseFile(schema_dir, std::string(spec.name) + ".schema.json"));
    rapidjson::SchemaDocument schema(schema_json, &provider);
    CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseFile(knowledge_dir, file));
    CEPHALGIA_RETURN_IF_ERROR(Validate(file, doc, schema));
    c.file = file;
    CEPHALGIA_RETURN_IF_ERROR(spec.compile(c, doc));
  }
  PrepareDecisions(*k);
  PrepareRendering(*k);
  return k;
}

}  // namespace cephalgia::rules::internal
