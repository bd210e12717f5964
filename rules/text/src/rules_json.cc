// Parses and validates the context lexicon (rules/text/context-lexicon.json). Every error is
// kInvalidArgument with the JSON Pointer of the offending value as its location and in its
// message, e.g. "/triggers/3/direction: must be one of forward, backward, both".
#include <algorithm>
#include <map>
#include <set>

#include "cephalgia/json.h"
#include "engine.h"

namespace cephalgia::text::detail {
namespace {

constexpr std::size_t kMaxLexiconBytes = 4u << 20;
constexpr int kMaxScope = 200;

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Status Error(const std::string& pointer, const std::string& message) {
  return InvalidArgument("context lexicon " + pointer + ": " + message, pointer);
}

Status CheckKeys(const rapidjson::Value& object, const std::string& pointer,
                 std::initializer_list<std::string_view> allowed) {
  if (!object.IsObject()) return Error(pointer.empty() ? "/" : pointer, "must be an object");
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Error(pointer + "/" + EscapePointerToken(key), "unknown key (allowed: " + list + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> RequireString(const rapidjson::Value& object, std::string_view key,
                                  const std::string& pointer) {
  const rapidjson::Value* value = json::Find(object, key);
  std::string at = pointer + "/" + std::string(key);
  if (value == nullptr) return Error(at, "is required");
  if (!value->IsString() || value->GetStringLength() == 0) {
    return Error(at, "must be a non-empty string");
  }
  return std::string(value->GetString(), value->GetStringLength());
}

Result<const rapidjson::Value*> RequireArray(const rapidjson::Value& object, std::string_view key,
                                             const std::string& pointer) {
  const rapidjson::Value* value = json::Find(object, key);
  std::string at = pointer + "/" + std::string(key);
  if (value == nullptr) return Error(at, "is required");
  if (!value->IsArray() || value->Empty()) return Error(at, "must be a non-empty array");
  return value;
}

Result<std::uint8_t> ParseCategory(const rapidjson::Value& value, const std::string& at) {
  static const std::map<std::string_view, std::uint8_t> kNames = {{"negated", kNegated},
                                                                  {"historical", kHistorical},
                                                                  {"hypothetical", kHypothetical},
                                                                  {"experiencer_other", kOther},
                                                                  {"uncertain", kUncertain}};
  if (value.IsString()) {
    auto it = kNames.find(std::string_view(value.GetString(), value.GetStringLength()));
    if (it != kNames.end()) return it->second;
  }
  return Error(at,
               "must be one of negated, historical, hypothetical, experiencer_other, uncertain");
}

// A lower-case single word of the spelling/abbreviation tables: letters, digits and ' / + -.
bool IsTableKey(std::string_view s) {
  if (s.empty() || s.size() > kMaxWordBytes) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c == '/' ||
              c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsPlainWord(std::string_view s) {
  if (s.empty() || s.size() > kMaxWordBytes) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Status ParseTerms(const rapidjson::Value& group, const std::string& pointer, std::string_view key,
                  const PatternInfo& info, RulesData* rules) {
  CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* terms, RequireArray(group, key, pointer));
  for (rapidjson::SizeType k = 0; k < terms->Size(); ++k) {
    const rapidjson::Value& term = (*terms)[k];
    std::string at = pointer + "/" + std::string(key) + "/" + std::to_string(k);
    if (!term.IsString() || term.GetStringLength() == 0) {
      return Error(at, "must be a non-empty string");
    }
    std::string text(term.GetString(), term.GetStringLength());
    if (NormalizePhraseWords(text, *rules).empty()) return Error(at, "has no words");
    rules->terms.push_back({std::move(text), info});
  }
  return Status::Ok();
}

// A group {citation, terms} of short lower-case words (sentence_abbreviations,
// negative_answers).
Status ParseWordList(const rapidjson::Value& root, std::string_view key, bool required,
                     bool period_allowed, std::string_view message, std::vector<std::string>* out) {
  const std::string pointer = "/" + std::string(key);
  const rapidjson::Value* group = json::GetObject(root, key);
  if (group == nullptr) {
    if (!required && json::Find(root, key) == nullptr) return Status::Ok();
    return Error(pointer, "must be an object {citation, terms}");
  }
  CEPHALGIA_RETURN_IF_ERROR(CheckKeys(*group, pointer, {"citation", "terms"}));
  CEPHALGIA_RETURN_IF_ERROR(RequireString(*group, "citation", pointer).status());
  CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* terms, RequireArray(*group, "terms", pointer));
  for (rapidjson::SizeType k = 0; k < terms->Size(); ++k) {
    std::string_view term = json::AsStringView((*terms)[k]);
    bool ok = !term.empty() && term.size() < 16;
    for (char c : term) ok = ok && ((c >= 'a' && c <= 'z') || (period_allowed && c == '.'));
    if (!ok) return Error(pointer + "/terms/" + std::to_string(k), std::string(message));
    out->emplace_back(term);
  }
  return Status::Ok();
}

// Terms written as combinations: every `lead`, a blank, every `follow` ("her husband" x
// "noticed", "started" x "two months ago"), for families too long to list one by one.
Status ParseCombinations(const rapidjson::Value& group, const std::string& pointer,
                         const PatternInfo& info, RulesData* rules) {
  const rapidjson::Value* combinations = json::Find(group, "combinations");
  if (combinations == nullptr) return Status::Ok();
  const std::string base = pointer + "/combinations";
  if (!combinations->IsArray() || combinations->Empty()) {
    return Error(base, "must be a non-empty array of {lead, follow}");
  }
  for (rapidjson::SizeType k = 0; k < combinations->Size(); ++k) {
    const std::string at = base + "/" + std::to_string(k);
    const rapidjson::Value& combination = (*combinations)[k];
    if (!combination.IsObject()) return Error(at, "must be an object {lead, follow}");
    CEPHALGIA_RETURN_IF_ERROR(CheckKeys(combination, at, {"lead", "follow"}));
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* leads,
                               RequireArray(combination, "lead", at));
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* follows,
                               RequireArray(combination, "follow", at));
    for (rapidjson::SizeType l = 0; l < leads->Size(); ++l) {
      if (!(*leads)[l].IsString() || (*leads)[l].GetStringLength() == 0) {
        return Error(at + "/lead/" + std::to_string(l), "must be a non-empty string");
      }
    }
    for (rapidjson::SizeType f = 0; f < follows->Size(); ++f) {
      if (!(*follows)[f].IsString() || (*follows)[f].GetStringLength() == 0) {
        return Error(at + "/follow/" + std::to_string(f), "must be a non-empty string");
      }
    }
    for (rapidjson::SizeType l = 0; l < leads->Size(); ++l) {
      for (rapidjson::SizeType f = 0; f < follows->Size(); ++f) {
        std::string text = std::string(json::AsStringView((*leads)[l])) + " " +
                           std::string(json::AsStringView((*follows)[f]));
        if (NormalizePhraseWords(text, *rules).empty()) {
          return Error(at + "/lead/" + std::to_string(l), "has no words");
        }
        rules->terms.push_back({std::move(text), info});
      }
    }
  }
  return Status::Ok();
}

Status ParseRules(const rapidjson::Value& root, RulesData* rules) {
  CEPHALGIA_RETURN_IF_ERROR(
      CheckKeys(root, "",
                {"$comment", "version", "description", "scopes", "triggers", "pseudo_triggers",
                 "terminations", "sections", "spelling", "abbreviations", "sentence_abbreviations",
                 "negative_answers"}));
  CEPHALGIA_ASSIGN_OR_RETURN(rules->version, RequireString(root, "version", ""));

  // Tables first: terms are normalised with them.
  {
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* groups, RequireArray(root, "spelling", ""));
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      std::string at = "/spelling/" + std::to_string(g);
      const rapidjson::Value& group = (*groups)[g];
      CEPHALGIA_RETURN_IF_ERROR(CheckKeys(group, at, {"citation", "variants"}));
      CEPHALGIA_RETURN_IF_ERROR(RequireString(group, "citation", at).status());
      const rapidjson::Value* variants = json::GetObject(group, "variants");
      if (variants == nullptr || variants->ObjectEmpty()) {
        return Error(at + "/variants", "must be a non-empty object {variant: normal form}");
      }
      for (auto it = variants->MemberBegin(); it != variants->MemberEnd(); ++it) {
        std::string variant(it->name.GetString(), it->name.GetStringLength());
        std::string vat = at + "/variants/" + EscapePointerToken(variant);
        if (!IsPlainWord(variant)) return Error(vat, "the variant must be one lower-case word");
        if (!it->value.IsString() || !IsPlainWord(json::AsStringView(it->value))) {
          return Error(vat, "the normal form must be one lower-case word");
        }
        if (!rules->spelling.emplace(variant, std::string(json::AsStringView(it->value))).second) {
          return Error(vat, "is listed twice");
        }
      }
    }
  }
  {
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* groups,
                               RequireArray(root, "abbreviations", ""));
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      std::string at = "/abbreviations/" + std::to_string(g);
      const rapidjson::Value& group = (*groups)[g];
      CEPHALGIA_RETURN_IF_ERROR(CheckKeys(group, at, {"citation", "expansions"}));
      CEPHALGIA_RETURN_IF_ERROR(RequireString(group, "citation", at).status());
      const rapidjson::Value* expansions = json::GetObject(group, "expansions");
      if (expansions == nullptr || expansions->ObjectEmpty()) {
        return Error(at + "/expansions", "must be a non-empty object {abbreviation: words}");
      }
      for (auto it = expansions->MemberBegin(); it != expansions->MemberEnd(); ++it) {
        std::string key(it->name.GetString(), it->name.GetStringLength());
        std::string kat = at + "/expansions/" + EscapePointerToken(key);
        if (!IsTableKey(key)) {
          return Error(kat,
                       "the abbreviation must be one lower-case word (letters, digits, ' / + -)");
        }
        if (rules->spelling.count(key) != 0 || rules->abbreviations.count(key) != 0) {
          return Error(kat, "is listed twice (or also as a spelling variant)");
        }
        if (!it->value.IsString()) return Error(kat, "the expansion must be a string of words");
        rules->abbreviations.emplace(key, std::vector<std::string>{});
      }
    }
    // Expansions are split and spelt with the tables, but not expanded again.
    RulesData plain;
    plain.spelling = rules->spelling;
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      const rapidjson::Value& expansions = (*groups)[g]["expansions"];
      for (auto it = expansions.MemberBegin(); it != expansions.MemberEnd(); ++it) {
        std::string key(it->name.GetString(), it->name.GetStringLength());
        std::string kat =
            "/abbreviations/" + std::to_string(g) + "/expansions/" + EscapePointerToken(key);
        std::vector<std::string> words = NormalizePhraseWords(json::AsStringView(it->value), plain);
        if (words.empty()) return Error(kat, "the expansion has no words");
        for (const std::string& word : words) {
          if (rules->abbreviations.count(word) != 0 && word != key) {
            return Error(kat, "the expansion word \"" + word + "\" is itself an abbreviation");
          }
        }
        rules->abbreviations[key] = std::move(words);
      }
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(ParseWordList(
      root, "sentence_abbreviations", /*required=*/true,
      /*period_allowed=*/true, "must be a lower-case abbreviation without its final period",
      &rules->no_split_abbreviations));
  CEPHALGIA_RETURN_IF_ERROR(ParseWordList(root, "negative_answers", /*required=*/false,
                                          /*period_allowed=*/false, "must be one lower-case word",
                                          &rules->negative_answers));

  // Default scopes per category, in words.
  std::map<std::uint8_t, int> scopes;
  {
    const rapidjson::Value* value = json::GetObject(root, "scopes");
    if (value == nullptr) return Error("/scopes", "must be an object {category: words}");
    for (auto it = value->MemberBegin(); it != value->MemberEnd(); ++it) {
      std::string at = "/scopes/" + EscapePointerToken(json::AsStringView(it->name));
      CEPHALGIA_ASSIGN_OR_RETURN(std::uint8_t category, ParseCategory(it->name, at));
      if (!it->value.IsInt() || it->value.GetInt() < 1 || it->value.GetInt() > kMaxScope) {
        return Error(at, "must be a whole number of words from 1 to " + std::to_string(kMaxScope));
      }
      scopes[category] = it->value.GetInt();
    }
    for (std::uint8_t category : {kNegated, kHistorical, kHypothetical, kOther, kUncertain}) {
      if (scopes.count(category) == 0) {
        return Error("/scopes", "needs a scope for every category");
      }
    }
  }

  {
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* groups, RequireArray(root, "triggers", ""));
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      std::string at = "/triggers/" + std::to_string(g);
      const rapidjson::Value& group = (*groups)[g];
      CEPHALGIA_RETURN_IF_ERROR(
          CheckKeys(group, at,
                    {"category", "direction", "max_scope", "max_scope_backward", "citation", "note",
                     "terms", "forwardBeforeColon"}));
      CEPHALGIA_RETURN_IF_ERROR(RequireString(group, "citation", at).status());
      // One category, or several ("family history": another person's, and in the past).
      const rapidjson::Value* category_value = json::Find(group, "category");
      if (category_value == nullptr) return Error(at + "/category", "is required");
      std::uint8_t category = 0;
      if (category_value->IsArray() && !category_value->Empty()) {
        for (rapidjson::SizeType k = 0; k < category_value->Size(); ++k) {
          CEPHALGIA_ASSIGN_OR_RETURN(
              std::uint8_t one,
              ParseCategory((*category_value)[k], at + "/category/" + std::to_string(k)));
          category |= one;
        }
      } else {
        CEPHALGIA_ASSIGN_OR_RETURN(category, ParseCategory(*category_value, at + "/category"));
      }
      const rapidjson::Value* direction_value = json::Find(group, "direction");
      std::string_view direction =
          direction_value != nullptr ? json::AsStringView(*direction_value) : std::string_view();
      PatternInfo info;
      info.kind = PatternKind::kTrigger;
      info.categories = category;
      if (const rapidjson::Value* colon = json::Find(group, "forwardBeforeColon")) {
        if (!colon->IsInt() || colon->GetInt() < 1 || colon->GetInt() > kMaxScope) {
          return Error(at + "/forwardBeforeColon",
                       "must be a scope in words, 1-" + std::to_string(kMaxScope));
        }
        if (direction != "backward") {
          return Error(at + "/forwardBeforeColon", "only a backward trigger reaches forward too");
        }
        info.colon_forward_scope = static_cast<std::uint16_t>(colon->GetInt());
      }
      if (direction == "forward") {
        info.direction = kForward;
      } else if (direction == "backward") {
        info.direction = kBackward;
      } else if (direction == "both") {
        info.direction = kBothDirections;
      } else {
        return Error(at + "/direction", "must be one of forward, backward, both");
      }
      int scope = 0;  // the widest default of its categories
      for (const auto& [one, words] : scopes) {
        if (category & one) scope = std::max(scope, words);
      }
      if (const rapidjson::Value* max_scope = json::Find(group, "max_scope")) {
        if (!max_scope->IsInt() || max_scope->GetInt() < 1 || max_scope->GetInt() > kMaxScope) {
          return Error(at + "/max_scope",
                       "must be a whole number of words from 1 to " + std::to_string(kMaxScope));
        }
        scope = max_scope->GetInt();
      }
      info.max_scope = static_cast<std::uint16_t>(scope);
      info.max_scope_backward = info.max_scope;
      if (const rapidjson::Value* backward = json::Find(group, "max_scope_backward")) {
        if (!backward->IsInt() || backward->GetInt() < 1 || backward->GetInt() > kMaxScope) {
          return Error(at + "/max_scope_backward",
                       "must be a whole number of words from 1 to " + std::to_string(kMaxScope));
        }
        info.max_scope_backward = static_cast<std::uint16_t>(backward->GetInt());
      }
      CEPHALGIA_RETURN_IF_ERROR(ParseTerms(group, at, "terms", info, rules));
    }
  }
  {
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* groups,
                               RequireArray(root, "pseudo_triggers", ""));
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      std::string at = "/pseudo_triggers/" + std::to_string(g);
      const rapidjson::Value& group = (*groups)[g];
      CEPHALGIA_RETURN_IF_ERROR(
          CheckKeys(group, at, {"citation", "note", "terms", "combinations"}));
      CEPHALGIA_RETURN_IF_ERROR(RequireString(group, "citation", at).status());
      PatternInfo info;
      info.kind = PatternKind::kPseudo;
      if (json::Find(group, "terms") != nullptr || json::Find(group, "combinations") == nullptr) {
        CEPHALGIA_RETURN_IF_ERROR(ParseTerms(group, at, "terms", info, rules));
      }
      CEPHALGIA_RETURN_IF_ERROR(ParseCombinations(group, at, info, rules));
    }
  }
  {
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* groups,
                               RequireArray(root, "terminations", ""));
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      std::string at = "/terminations/" + std::to_string(g);
      const rapidjson::Value& group = (*groups)[g];
      CEPHALGIA_RETURN_IF_ERROR(CheckKeys(group, at,
                                          {"categories", "direction", "citation", "note", "terms",
                                           "endsCarriedSection", "endsCarriedSectionWithinWords"}));
      CEPHALGIA_RETURN_IF_ERROR(RequireString(group, "citation", at).status());
      PatternInfo info;
      info.kind = PatternKind::kTermination;
      info.categories = kAllCategories;
      // Which scopes it ends: those running forward into it, backward into it, or both.
      info.direction = kBothDirections;
      if (const rapidjson::Value* direction = json::Find(group, "direction")) {
        std::string_view d = json::AsStringView(*direction);
        if (d == "forward") {
          info.direction = kForward;
        } else if (d == "backward") {
          info.direction = kBackward;
        } else if (d != "both") {
          return Error(at + "/direction", "must be one of forward, backward, both");
        }
      }
      if (const rapidjson::Value* categories = json::Find(group, "categories")) {
        // An empty list is a term that ends no scope and only ends a carried section (a bare
        // duration opening a line, "Headache 2/52"), which must not end "previous ... ago".
        const bool section_only =
            categories->IsArray() && categories->Empty() && json::Find(group, "endsCarriedSection");
        if (!categories->IsArray() || (categories->Empty() && !section_only)) {
          return Error(at + "/categories", "must be a non-empty array of categories");
        }
        info.categories = 0;
        for (rapidjson::SizeType k = 0; k < categories->Size(); ++k) {
          CEPHALGIA_ASSIGN_OR_RETURN(
              std::uint8_t category,
              ParseCategory((*categories)[k], at + "/categories/" + std::to_string(k)));
          info.categories |= category;
        }
      }
      const std::size_t first_term = rules->terms.size();
      CEPHALGIA_RETURN_IF_ERROR(ParseTerms(group, at, "terms", info, rules));
      // Those of its terms that also end a historical section carried into their sentence.
      if (const rapidjson::Value* ends = json::Find(group, "endsCarriedSection")) {
        const std::string ends_at = at + "/endsCarriedSection";
        if (!ends->IsArray() || ends->Empty()) {
          return Error(ends_at, "must be a non-empty array of the group's terms");
        }
        if (info.categories != 0 && !(info.categories & kHistorical)) {
          return Error(ends_at, "only a termination of historical scopes may end a section");
        }
        for (rapidjson::SizeType k = 0; k < ends->Size(); ++k) {
          std::string_view term = json::AsStringView((*ends)[k]);
          auto it = std::find_if(rules->terms.begin() + static_cast<std::ptrdiff_t>(first_term),
                                 rules->terms.end(),
                                 [&](const TermSpec& spec) { return spec.text == term; });
          if (it == rules->terms.end()) {
            return Error(ends_at + "/" + std::to_string(k), "must be one of the group's terms");
          }
          it->info.ends_carried_section = true;
        }
      }
      if (const rapidjson::Value* within = json::Find(group, "endsCarriedSectionWithinWords")) {
        const std::string within_at = at + "/endsCarriedSectionWithinWords";
        if (json::Find(group, "endsCarriedSection") == nullptr) {
          return Error(within_at, "needs endsCarriedSection");
        }
        if (!within->IsInt() || within->GetInt() < 1 || within->GetInt() > 20) {
          return Error(within_at, "must be an integer from 1 to 20");
        }
        const auto words = static_cast<std::uint8_t>(within->GetInt());
        for (auto it = rules->terms.begin() + static_cast<std::ptrdiff_t>(first_term);
             it != rules->terms.end(); ++it) {
          it->info.ends_carried_section_within = words;
        }
      }
    }
  }
  {
    CEPHALGIA_ASSIGN_OR_RETURN(const rapidjson::Value* groups, RequireArray(root, "sections", ""));
    for (rapidjson::SizeType g = 0; g < groups->Size(); ++g) {
      std::string at = "/sections/" + std::to_string(g);
      const rapidjson::Value& group = (*groups)[g];
      CEPHALGIA_RETURN_IF_ERROR(CheckKeys(group, at, {"context", "citation", "note", "headings"}));
      CEPHALGIA_RETURN_IF_ERROR(RequireString(group, "citation", at).status());
      const rapidjson::Value* context_value = json::Find(group, "context");
      std::string_view context =
          context_value != nullptr ? json::AsStringView(*context_value) : std::string_view();
      PatternInfo info;
      info.kind = PatternKind::kHeading;
      if (context == "historical") {
        info.categories = kHistorical;
      } else if (context == "hypothetical") {
        info.categories = kHypothetical;
      } else if (context == "experiencer_other") {
        info.categories = kOther;
      } else if (context == "neutral") {
        info.categories = 0;
      } else {
        return Error(at + "/context",
                     "must be one of neutral, historical, hypothetical, experiencer_other");
      }
      CEPHALGIA_RETURN_IF_ERROR(ParseTerms(group, at, "headings", info, rules));
    }
  }

  // A phrase means one thing: the same words twice among triggers, pseudo-triggers and
  // terminations (or twice among headings) is an error.
  std::map<std::pair<bool, std::vector<std::string>>, std::string> seen;
  for (const TermSpec& term : rules->terms) {
    bool heading = term.info.kind == PatternKind::kHeading;
    auto [it, inserted] =
        seen.emplace(std::make_pair(heading, NormalizePhraseWords(term.text, *rules)), term.text);
    if (!inserted) {
      return InvalidArgument("context lexicon: \"" + term.text + "\" and \"" + it->second +
                                 "\" are the same phrase listed twice",
                             "/");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const RulesData>> ParseRulesJson(std::string_view text) {
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, json::ParseUntrusted(text, kMaxLexiconBytes));
  auto rules = std::make_shared<RulesData>();
  CEPHALGIA_RETURN_IF_ERROR(ParseRules(doc, rules.get()));
  return std::shared_ptr<const RulesData>(std::move(rules));
}

}  // namespace cephalgia::text::detail
