#include "cephalgia/hooks/check/response_rules.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <sstream>

#include "cephalgia/json.h"
#include "cephalgia/url.h"
#include "cephalgia/uuid.h"

namespace cephalgia::hooks::check {

const char* ForceName(Force force) { return force == Force::kMust ? "MUST" : "SHOULD"; }

// ---- Walking ----

std::string PointerToken(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Walk(const rapidjson::Value& v, const std::string& pointer, const Visitor& visit) {
  visit(v, pointer);
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      Walk(m.value, pointer + "/" + PointerToken(json::AsStringView(m.name)), visit);
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      Walk(v[i], pointer + "/" + std::to_string(i), visit);
    }
  }
}

void ForEachCard(const rapidjson::Value& response, const Visitor& fn) {
  const rapidjson::Value* cards = json::GetArray(response, "cards");
  if (cards == nullptr) return;
  for (rapidjson::SizeType i = 0; i < cards->Size(); ++i) {
    fn((*cards)[i], "/cards/" + std::to_string(i));
  }
}

void ForEachSuggestion(const rapidjson::Value& response, const Visitor& fn) {
  ForEachCard(response, [&](const rapidjson::Value& card, const std::string& path) {
    const rapidjson::Value* s = json::GetArray(card, "suggestions");
    if (s == nullptr) return;
    for (rapidjson::SizeType i = 0; i < s->Size(); ++i) {
      fn((*s)[i], path + "/suggestions/" + std::to_string(i));
    }
  });
}

void ForEachAction(
    const rapidjson::Value& response,
    const std::function<void(const rapidjson::Value&, const std::string&, bool)>& fn) {
  ForEachSuggestion(response, [&](const rapidjson::Value& s, const std::string& path) {
    const rapidjson::Value* a = json::GetArray(s, "actions");
    if (a == nullptr) return;
    for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
      fn((*a)[i], path + "/actions/" + std::to_string(i), false);
    }
  });
  if (const rapidjson::Value* a = json::GetArray(response, "systemActions")) {
    for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
      fn((*a)[i], "/systemActions/" + std::to_string(i), true);
    }
  }
}

void ForEachLink(const rapidjson::Value& response, const Visitor& fn) {
  ForEachCard(response, [&](const rapidjson::Value& card, const std::string& path) {
    const rapidjson::Value* l = json::GetArray(card, "links");
    if (l == nullptr) return;
    for (rapidjson::SizeType i = 0; i < l->Size(); ++i) {
      fn((*l)[i], path + "/links/" + std::to_string(i));
    }
  });
}

// ---- Predicates ----

std::size_t CodePoints(std::string_view utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool NonBlankString(const rapidjson::Value& obj, std::string_view key) {
  auto s = json::GetString(obj, key);
  return s && !IsBlank(*s);
}

bool IsResourceTypeName(std::string_view s) {
  if (s.empty() || s.front() < 'A' || s.front() > 'Z') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

bool IsFhirId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

bool IsCoding(const rapidjson::Value& v) {
  return v.IsObject() && NonBlankString(v, "system") && NonBlankString(v, "code") &&
         (json::Find(v, "display") == nullptr || NonBlankString(v, "display"));
}

namespace {

std::string Shown(std::string_view s, std::size_t max = 60) {
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  return std::string(s.substr(0, cut)) + "...";
}

}  // namespace

// ---- Response rules ----

// A2: no null anywhere.
void CheckNoNull(const rapidjson::Value& response, RuleViolations& out) {
  Walk(response, "", [&](const rapidjson::Value& v, const std::string& path) {
    if (v.IsNull()) out.push_back({path, "is null"});
  });
}

// A3: no "", [] or {} anywhere, except the top-level `cards: []` and `services: []`.
void CheckNoEmptyValues(const rapidjson::Value& response, RuleViolations& out) {
  Walk(response, "", [&](const rapidjson::Value& v, const std::string& path) {
    if (v.IsString() && v.GetStringLength() == 0) out.push_back({path, "is \"\""});
    if (v.IsArray() && v.Empty() && path != "/cards" && path != "/services") {
      out.push_back({path, "is []"});
    }
    if (v.IsObject() && v.ObjectEmpty()) out.push_back({path, "is {}"});
  });
}

// A4: the OPTIONAL CDS Hooks attributes, when present, carry a value (never null, "", [], {}).
void CheckOptionalAttributesOmittedNotEmpty(const rapidjson::Value& response, RuleViolations& out) {
  auto check = [&](const rapidjson::Value& obj, const std::string& path,
                   std::initializer_list<const char*> keys) {
    for (const char* key : keys) {
      const rapidjson::Value* v = json::Find(obj, key);
      if (v == nullptr) continue;
      bool empty = v->IsNull() || (v->IsString() && v->GetStringLength() == 0) ||
                   (v->IsArray() && v->Empty()) || (v->IsObject() && v->ObjectEmpty());
      if (empty) out.push_back({path + "/" + key, "is present but empty; leave it out"});
    }
  };
  check(response, "", {"systemActions"});
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    check(c, p, {"uuid", "detail", "suggestions", "selectionBehavior", "overrideReasons", "links"});
    if (const rapidjson::Value* s = json::GetObject(c, "source")) {
      check(*s, p + "/source", {"url", "icon", "topic"});
    }
  });
  ForEachSuggestion(response, [&](const rapidjson::Value& s, const std::string& p) {
    check(s, p, {"uuid", "isRecommended", "actions"});
  });
  ForEachAction(response, [&](const rapidjson::Value& a, const std::string& p, bool) {
    check(a, p, {"resource", "resourceId", "description"});
  });
  ForEachLink(response, [&](const rapidjson::Value& l, const std::string& p) {
    check(l, p, {"appContext", "autolaunchable"});
  });
}

// A5: no string, required or not, is whitespace-only (FHIR strings may not be either).
void CheckNoBlankStrings(const rapidjson::Value& response, RuleViolations& out) {
  Walk(response, "", [&](const rapidjson::Value& v, const std::string& path) {
    if (v.IsString() && v.GetStringLength() > 0 && IsBlank(json::AsStringView(v))) {
      out.push_back({path, "is whitespace-only"});
    }
  });
}

// A6/F74/F76: embedded FHIR resources use the FHIR JSON serialisation: an object with a
// resourceType, an id (when present) that is a FHIR id, `extension` (when present) an array,
// no member starting with a character FHIR JSON does not allow.
void CheckEmbeddedFhirResources(const rapidjson::Value& response, RuleViolations& out) {
  ForEachAction(response, [&](const rapidjson::Value& a, const std::string& p, bool) {
    const rapidjson::Value* r = json::Find(a, "resource");
    if (r == nullptr) return;
    if (!r->IsObject()) {
      out.push_back({p + "/resource", "is not a FHIR resource object"});
      return;
    }
    auto type = json::GetString(*r, "resourceType");
    if (!type || !IsResourceTypeName(*type)) {
      out.push_back({p + "/resource", "has no valid resourceType"});
    }
    if (const rapidjson::Value* id = json::Find(*r, "id");
        id && (!id->IsString() || !IsFhirId(json::AsStringView(*id)))) {
      out.push_back({p + "/resource/id", "is not a FHIR id"});
    }
    Walk(*r, p + "/resource", [&](const rapidjson::Value& v, const std::string& path) {
      if (!v.IsObject()) return;
      for (const auto& m : v.GetObject()) {
        std::string_view name = json::AsStringView(m.name);
        if ((name == "extension" || name == "modifierExtension") && !m.value.IsArray()) {
          out.push_back({path + "/" + std::string(name), "must be an array in FHIR JSON"});
        }
        if (name.empty() ||
            !(std::isalpha(static_cast<unsigned char>(name.front())) || name.front() == '_')) {
          out.push_back({path, "has member '" + Shown(name) + "', not a FHIR element name"});
        }
      }
    });
  });
}

// A8: a CDS Hooks-level `extension` (response, card, source, suggestion, action, link) is an
// object.
void CheckCdsExtensionsAreObjects(const rapidjson::Value& response, RuleViolations& out) {
  auto check = [&](const rapidjson::Value& obj, const std::string& path) {
    if (const rapidjson::Value* e = json::Find(obj, "extension"); e && !e->IsObject()) {
      out.push_back({path + "/extension", "is not a JSON object"});
    }
  };
  check(response, "");
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    check(c, p);
    if (const rapidjson::Value* s = json::GetObject(c, "source")) check(*s, p + "/source");
  });
  ForEachSuggestion(response, check);
  ForEachAction(response,
                [&](const rapidjson::Value& a, const std::string& p, bool) { check(a, p); });
  ForEachLink(response, check);
}

// F54: an object with a `cards` array of objects.
void CheckCardsArray(const rapidjson::Value& response, RuleViolations& out) {
  if (!response.IsObject()) {
    out.push_back({"", "the response is not a JSON object"});
    return;
  }
  const rapidjson::Value* cards = json::Find(response, "cards");
  if (cards == nullptr || !cards->IsArray()) {
    out.push_back({"/cards", "no `cards` array"});
    return;
  }
  for (rapidjson::SizeType i = 0; i < cards->Size(); ++i) {
    if (!(*cards)[i].IsObject()) {
      out.push_back({"/cards/" + std::to_string(i), "a card is not an object"});
    }
  }
}

// F56: systemActions, when present, a non-empty array of Action objects.
void CheckSystemActions(const rapidjson::Value& response, RuleViolations& out) {
  const rapidjson::Value* sa = json::Find(response, "systemActions");
  if (sa == nullptr) return;
  if (!sa->IsArray() || sa->Empty()) {
    out.push_back({"/systemActions", "must be a non-empty array when present"});
    return;
  }
  for (rapidjson::SizeType i = 0; i < sa->Size(); ++i) {
    if (!(*sa)[i].IsObject()) {
      out.push_back({"/systemActions/" + std::to_string(i), "is not an object"});
    }
  }
}

// F58/F68: every card and every suggestion has an RFC 4122 uuid, unique within the response.
void CheckUuids(const rapidjson::Value& response, RuleViolations& out) {
  std::set<std::string> seen;
  auto check = [&](const rapidjson::Value& obj, const std::string& p) {
    auto uuid = json::GetString(obj, "uuid");
    if (!uuid) {
      out.push_back({p, "has no uuid (the client then sends no feedback)"});
      return;
    }
    if (!IsRfc4122Uuid(*uuid)) {
      out.push_back({p + "/uuid", "'" + Shown(*uuid) + "' is not an RFC 4122 UUID"});
    }
    if (!seen.insert(std::string(*uuid)).second) {
      out.push_back({p + "/uuid", "is used twice in one response"});
    }
  };
  ForEachCard(response, check);
  ForEachSuggestion(response, check);
}

// F59: summary present, a non-blank string of fewer than 140 Unicode characters.
void CheckSummary(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    auto s = json::GetString(c, "summary");
    if (!s || IsBlank(*s)) {
      out.push_back({p + "/summary", "missing or blank"});
      return;
    }
    if (CodePoints(*s) >= 140) {
      out.push_back({p + "/summary",
                     "has " + std::to_string(CodePoints(*s)) + " characters (must be < 140)"});
    }
  });
}

// F60: detail, when present, is a non-blank markdown string without raw HTML tags.
void CheckDetail(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    const rapidjson::Value* d = json::Find(c, "detail");
    if (d == nullptr) return;
    if (!d->IsString() || IsBlank(json::AsStringView(*d))) {
      out.push_back({p + "/detail", "is not a non-blank string"});
      return;
    }
    std::string_view text = json::AsStringView(*d);
    // A tag is `<name` followed by whitespace, `>` or `/>`, or `</`, `<!`. GFM autolinks such as
    // `<https://example.org>` are markdown, not HTML (the scheme is followed by ':').
    for (std::size_t i = text.find('<'); i != std::string_view::npos; i = text.find('<', i + 1)) {
      std::size_t j = i + 1;
      bool tag = j < text.size() && (text[j] == '/' || text[j] == '!');
      if (!tag && j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) {
        while (j < text.size() &&
               (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '-')) {
          ++j;
        }
        tag = j < text.size() && (text[j] == '>' || text[j] == '/' ||
                                  std::isspace(static_cast<unsigned char>(text[j])));
      }
      if (tag) {
        out.push_back({p + "/detail", "holds raw HTML near '" + Shown(text.substr(i), 20) + "'"});
        break;
      }
    }
  });
}

// F61: indicator is exactly info, warning or critical.
void CheckIndicator(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    auto i = json::GetString(c, "indicator");
    if (!i || (*i != "info" && *i != "warning" && *i != "critical")) {
      out.push_back({p + "/indicator",
                     "is '" + Shown(i.value_or("<missing>")) + "', not info|warning|critical"});
    }
  });
}

// F62: source with a label; url and icon absolute; topic a Coding.
void CheckSource(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    const rapidjson::Value* s = json::GetObject(c, "source");
    if (s == nullptr) {
      out.push_back({p + "/source", "missing"});
      return;
    }
    if (!NonBlankString(*s, "label")) out.push_back({p + "/source/label", "missing or blank"});
    for (const char* key : {"url", "icon"}) {
      if (const rapidjson::Value* u = json::Find(*s, key);
          u && (!u->IsString() || !IsAbsoluteHttpUrl(json::AsStringView(*u)))) {
        out.push_back({p + "/source/" + key, "is not an absolute URL"});
      }
    }
    if (const rapidjson::Value* t = json::Find(*s, "topic"); t && !IsCoding(*t)) {
      out.push_back({p + "/source/topic", "is not a Coding with system and code"});
    }
  });
}

// F63/F64: suggestions, when present, non-empty and with selectionBehavior in {at-most-one, any}.
void CheckSuggestionsAndSelectionBehavior(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    const rapidjson::Value* s = json::Find(c, "suggestions");
    const rapidjson::Value* sb = json::Find(c, "selectionBehavior");
    if (s != nullptr) {
      if (!s->IsArray() || s->Empty()) {
        out.push_back({p + "/suggestions", "must be a non-empty array when present"});
      }
      if (sb == nullptr) {
        out.push_back({p, "has suggestions but no selectionBehavior (cds-resp-6)"});
      }
    }
    if (sb != nullptr) {
      auto v =
          sb->IsString() ? std::optional<std::string_view>(json::AsStringView(*sb)) : std::nullopt;
      if (!v || (*v != "at-most-one" && *v != "any")) {
        out.push_back({p + "/selectionBehavior", "is not at-most-one|any"});
      }
    }
  });
}

// F65: at-most-one implies at most one isRecommended (cds-resp-1); isRecommended is a boolean.
void CheckIsRecommended(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    const rapidjson::Value* s = json::GetArray(c, "suggestions");
    if (s == nullptr) return;
    int recommended = 0;
    for (rapidjson::SizeType i = 0; i < s->Size(); ++i) {
      const rapidjson::Value* r = json::Find((*s)[i], "isRecommended");
      if (r == nullptr) continue;
      if (!r->IsBool()) {
        out.push_back(
            {p + "/suggestions/" + std::to_string(i) + "/isRecommended", "is not a boolean"});
      } else {
        recommended += r->GetBool();
      }
    }
    if (json::GetString(c, "selectionBehavior") == "at-most-one" && recommended > 1) {
      out.push_back({p, "is at-most-one with " + std::to_string(recommended) +
                            " recommended suggestions (cds-resp-1)"});
    }
  });
}

// F66: overrideReasons, when present, a non-empty array of Codings with display (cds-resp-4).
void CheckOverrideReasons(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    const rapidjson::Value* o = json::Find(c, "overrideReasons");
    if (o == nullptr) return;
    if (!o->IsArray() || o->Empty()) {
      out.push_back({p + "/overrideReasons", "must be a non-empty array when present"});
      return;
    }
    for (rapidjson::SizeType i = 0; i < o->Size(); ++i) {
      const rapidjson::Value& r = (*o)[i];
      if (!IsCoding(r) || !NonBlankString(r, "display")) {
        out.push_back({p + "/overrideReasons/" + std::to_string(i),
                       "lacks system, code or display (cds-resp-4)"});
      }
    }
  });
}

// F67/F70: links, when present, a non-empty array of {label, url, type absolute|smart};
// appContext only with smart (cds-resp-3); autolaunchable boolean; absolute links are absolute.
void CheckLinks(const rapidjson::Value& response, RuleViolations& out) {
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    if (const rapidjson::Value* l = json::Find(c, "links"); l && (!l->IsArray() || l->Empty())) {
      out.push_back({p + "/links", "must be a non-empty array when present"});
    }
  });
  ForEachLink(response, [&](const rapidjson::Value& l, const std::string& p) {
    if (!NonBlankString(l, "label")) out.push_back({p + "/label", "missing"});
    if (!NonBlankString(l, "url")) out.push_back({p + "/url", "missing"});
    auto type = json::GetString(l, "type");
    if (!type || (*type != "absolute" && *type != "smart")) {
      out.push_back({p + "/type", "is not absolute|smart"});
    }
    if (type == "absolute" && !IsAbsoluteHttpUrl(json::GetString(l, "url").value_or(""))) {
      out.push_back({p + "/url", "of an absolute link is not an absolute URL"});
    }
    if (json::Find(l, "appContext") != nullptr && type != "smart") {
      out.push_back({p + "/appContext", "on a non-smart link (cds-resp-3)"});
    }
    if (const rapidjson::Value* a = json::Find(l, "appContext"); a && !a->IsString()) {
      out.push_back({p + "/appContext", "is not a string"});
    }
    if (const rapidjson::Value* a = json::Find(l, "autolaunchable"); a && !a->IsBool()) {
      out.push_back({p + "/autolaunchable", "is not a boolean"});
    }
  });
}

// F68: each suggestion has a label; actions, when present, a non-empty array.
void CheckSuggestionShape(const rapidjson::Value& response, RuleViolations& out) {
  ForEachSuggestion(response, [&](const rapidjson::Value& s, const std::string& p) {
    if (!s.IsObject()) {
      out.push_back({p, "is not an object"});
      return;
    }
    if (!NonBlankString(s, "label")) out.push_back({p + "/label", "missing or blank"});
    if (const rapidjson::Value* a = json::Find(s, "actions"); a && (!a->IsArray() || a->Empty())) {
      out.push_back({p + "/actions", "must be a non-empty array when present"});
    }
  });
}

// F69: actionSelectionBehavior (3.0 STU) is not used: a service cannot know the client supports it.
void CheckNoActionSelectionBehavior(const rapidjson::Value& response, RuleViolations& out) {
  ForEachSuggestion(response, [&](const rapidjson::Value& s, const std::string& p) {
    if (json::Find(s, "actionSelectionBehavior") != nullptr) {
      out.push_back(
          {p + "/actionSelectionBehavior", "is used (3.0 STU; the client may not support it)"});
    }
  });
}

// F71: a smart link's url is the bare launch URL: the client adds iss and launch.
void CheckSmartLinkUrls(const rapidjson::Value& response, RuleViolations& out) {
  ForEachLink(response, [&](const rapidjson::Value& l, const std::string& p) {
    if (json::GetString(l, "type") != "smart") return;
    std::string url(json::GetString(l, "url").value_or(""));
    std::size_t q = url.find('?');
    if (q == std::string::npos) return;
    std::string query = "&" + url.substr(q + 1);
    if (query.find("&iss=") != std::string::npos || query.find("&launch=") != std::string::npos) {
      out.push_back({p + "/url", "carries iss/launch, which the client adds"});
    }
  });
}

// F72/F73/F74/F75: action type enum; description on suggestion actions (cds-resp-5); create and
// update carry the whole resource; delete a relative resourceId and no resource (cds-resp-2).
void CheckActions(const rapidjson::Value& response, RuleViolations& out) {
  ForEachAction(response, [&](const rapidjson::Value& a, const std::string& p, bool system_action) {
    auto type = json::GetString(a, "type");
    if (!type || (*type != "create" && *type != "update" && *type != "delete")) {
      out.push_back({p + "/type", "is not create|update|delete"});
      return;
    }
    if (!system_action && !NonBlankString(a, "description")) {
      out.push_back({p + "/description", "missing (cds-resp-5)"});
    }
    if (system_action && json::Find(a, "description") != nullptr &&
        !NonBlankString(a, "description")) {
      out.push_back({p + "/description", "is not a non-blank string"});
    }
    const rapidjson::Value* resource = json::Find(a, "resource");
    if (*type == "create" || *type == "update") {
      if (resource == nullptr || !resource->IsObject() ||
          !json::GetString(*resource, "resourceType")) {
        out.push_back(
            {p + "/resource", "(" + std::string(*type) + ") is not a FHIR resource object"});
      } else if (*type == "update" && !json::GetString(*resource, "id")) {
        out.push_back({p + "/resource", "(update) has no id: updates carry the whole resource"});
      }
    } else {
      if (resource != nullptr) out.push_back({p + "/resource", "(delete) is present (cds-resp-2)"});
      std::string id(json::GetString(a, "resourceId").value_or(""));
      std::size_t slash = id.find('/');
      if (slash == std::string::npos ||
          !IsResourceTypeName(std::string_view(id).substr(0, slash)) ||
          !IsFhirId(std::string_view(id).substr(slash + 1))) {
        out.push_back({p + "/resourceId",
                       "(delete) '" + Shown(id) + "' is not a relative reference Type/id"});
      }
    }
  });
}

// F77: every Coding, in the card (topic, overrideReasons) and inside suggested resources
// (any `coding` array), has system and code.
void CheckCodings(const rapidjson::Value& response, RuleViolations& out) {
  Walk(response, "", [&](const rapidjson::Value& v, const std::string& path) {
    if (!v.IsObject()) return;
    if (const rapidjson::Value* codings = json::Find(v, "coding"); codings && codings->IsArray()) {
      for (rapidjson::SizeType i = 0; i < codings->Size(); ++i) {
        if (!IsCoding((*codings)[i])) {
          out.push_back(
              {path + "/coding/" + std::to_string(i), "is a Coding without system and code"});
        }
      }
    }
  });
  ForEachCard(response, [&](const rapidjson::Value& c, const std::string& p) {
    if (const rapidjson::Value* s = json::GetObject(c, "source")) {
      if (const rapidjson::Value* t = json::Find(*s, "topic"); t && !IsCoding(*t)) {
        out.push_back({p + "/source/topic", "is a Coding without system and code"});
      }
    }
  });
}

const std::vector<ResponseRule>& ResponseRules() {
  static const std::vector<ResponseRule> rules = {
      {"A2", "no null values anywhere", Force::kMust, CheckNoNull},
      {"A3", "no empty string, array or object (except an empty cards list)", Force::kMust,
       CheckNoEmptyValues},
      {"A4", "optional attributes without a value are left out", Force::kMust,
       CheckOptionalAttributesOmittedNotEmpty},
      {"A5", "no whitespace-only strings", Force::kMust, CheckNoBlankStrings},
      {"A6", "suggested FHIR resources use the FHIR JSON serialization", Force::kMust,
       CheckEmbeddedFhirResources},
      {"A8", "every CDS Hooks extension is a JSON object", Force::kMust,
       CheckCdsExtensionsAreObjects},
      {"F54", "the answer is an object with a cards array", Force::kMust, CheckCardsArray},
      {"F56", "systemActions omitted or a non-empty array of actions", Force::kMust,
       CheckSystemActions},
      {"F58", "every card and suggestion has a unique RFC 4122 uuid", Force::kShould, CheckUuids},
      {"F59", "summary is under 140 characters", Force::kMust, CheckSummary},
      {"F60", "detail is markdown without raw HTML", Force::kShould, CheckDetail},
      {"F61", "indicator is info, warning or critical", Force::kMust, CheckIndicator},
      {"F62", "source has a label, absolute url/icon, a Coding topic", Force::kMust, CheckSource},
      {"F63", "suggestions non-empty with selectionBehavior at-most-one|any (cds-resp-6)",
       Force::kMust, CheckSuggestionsAndSelectionBehavior},
      {"F65", "at-most-one cards recommend at most one suggestion (cds-resp-1)", Force::kMust,
       CheckIsRecommended},
      {"F66", "overrideReasons are Codings with display (cds-resp-4)", Force::kMust,
       CheckOverrideReasons},
      {"F67",
       "links have label, url, type absolute|smart; appContext only on smart links (cds-resp-3)",
       Force::kMust, CheckLinks},
      {"F68", "suggestions have a label and non-empty actions", Force::kMust, CheckSuggestionShape},
      {"F69", "no actionSelectionBehavior (3.0 STU)", Force::kMust, CheckNoActionSelectionBehavior},
      {"F71", "smart link urls carry no iss/launch", Force::kMust, CheckSmartLinkUrls},
      {"F72", "actions: type, description, resource or resourceId (cds-resp-2, cds-resp-5)",
       Force::kMust, CheckActions},
      {"F77", "every Coding has system and code", Force::kMust, CheckCodings},
  };
  return rules;
}

const ResponseRule* FindResponseRule(std::string_view item) {
  for (const ResponseRule& rule : ResponseRules()) {
    if (item == rule.item) return &rule;
  }
  return nullptr;
}

// ---- Prefetch template rules ----

const std::set<std::string>& TokenFieldsOf(const std::string& hook) {
  static const std::map<std::string, std::set<std::string>> fields = {
      {"patient-view", {"userId", "patientId", "encounterId"}},
      {"order-select", {"userId", "patientId", "encounterId"}},
      {"order-sign", {"userId", "patientId", "encounterId"}},
      {"encounter-start", {"userId", "patientId", "encounterId"}},
      {"encounter-discharge", {"userId", "patientId", "encounterId"}},
      {"appointment-book", {"userId", "patientId", "encounterId"}},
  };
  static const std::set<std::string> none;
  auto it = fields.find(hook);
  return it == fields.end() ? none : it->second;
}

Force TemplateViolationForce(std::string_view violation) {
  return violation.rfind("D38", 0) == 0 || violation.rfind("D39", 0) == 0 ? Force::kShould
                                                                          : Force::kMust;
}

std::vector<std::string> CheckPrefetchTemplate(const std::string& hook, const std::string& t) {
  std::vector<std::string> out;
  // D32: relative, no base URL.
  if (t.substr(0, t.find('?')).find(':') != std::string::npos || t.empty() || t.front() == '/') {
    out.push_back("D32 not a relative query");
  }
  // D33-D37, D39, I89: tokens delimited by {{ }}, only context.<token field> or user tokens.
  static const std::set<std::string> kUserTokens = {"userPractitionerId", "userPractitionerRoleId",
                                                    "userPatientId", "userRelatedPersonId"};
  std::string without_tokens;
  std::size_t pos = 0;
  while (true) {
    std::size_t open = t.find("{{", pos);
    std::size_t close_only = t.find("}}", pos);
    if (open == std::string::npos) {
      if (close_only != std::string::npos) out.push_back("D33 '}}' without '{{'");
      without_tokens += t.substr(pos);
      break;
    }
    without_tokens += t.substr(pos, open - pos) + "TOKEN";
    std::size_t close = t.find("}}", open + 2);
    if (close == std::string::npos) {
      out.push_back("D33 '{{' without '}}'");
      break;
    }
    std::string token = t.substr(open + 2, close - open - 2);
    if (token.find_first_of("()%|+ ") != std::string::npos) {
      out.push_back("D39 FHIRPath in token {{" + token + "}}");
    }
    if (token.rfind("context.", 0) == 0) {
      std::string field = token.substr(8);
      if (field == "draftOrders" || field == "selections" || field == "appointments") {
        out.push_back("I89 non-token field {{" + token + "}}");
      } else if (TokenFieldsOf(hook).count(field) == 0) {
        out.push_back("D35 {{" + token + "}} is not a primitive root-level token field of " + hook);
      }
      // I90: userId is Type/id and is only usable as a whole read path; patientId is a bare id.
      if (field == "userId" && open != 0) {
        out.push_back("I90 {{context.userId}} is a whole Type/id, not an id");
      }
      if (field == "patientId" && t.compare(0, 8, "Patient/") != 0 && t.find('?') > open) {
        out.push_back("I90 {{context.patientId}} read outside Patient/");
      }
    } else if (kUserTokens.count(token) == 0) {
      out.push_back("D34/D36/D37 unknown token {{" + token + "}}");
    }
    pos = close + 2;
  }
  if (without_tokens.find_first_of("{}") != std::string::npos) out.push_back("D33 stray brace");
  // D38: the restricted query subset.
  std::size_t q = without_tokens.find('?');
  std::string path = without_tokens.substr(0, q);
  std::size_t slash = path.find('/');
  std::string type = path.substr(0, slash);
  if (!IsResourceTypeName(type)) out.push_back("D38 '" + type + "' is not a resource type");
  if (slash != std::string::npos) {
    std::string id = path.substr(slash + 1);
    if (q != std::string::npos) out.push_back("D38 a read with a query string");
    if (id != "TOKEN" && !IsFhirId(id)) out.push_back("D38 '" + path + "' is not an instance read");
  }
  if (q != std::string::npos) {
    std::stringstream params(without_tokens.substr(q + 1));
    std::string param;
    while (std::getline(params, param, '&')) {
      std::size_t eq = param.find('=');
      std::string name = param.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : param.substr(eq + 1);
      if (eq == std::string::npos || value.empty()) {
        out.push_back("D38 parameter '" + param + "' has no value");
      }
      if (name.find('.') != std::string::npos) out.push_back("D38 chained parameter " + name);
      std::size_t colon = name.find(':');
      if (colon != std::string::npos && name.substr(colon + 1) != "in") {
        out.push_back("D38 modifier " + name);
      }
      std::string base = name.substr(0, colon);
      if (!base.empty() && base.front() == '_' && base != "_count" && base != "_maxresults" &&
          base != "_sort") {
        out.push_back("D38 parameter " + base + " is outside the subset");
      }
      if (base == "_sort" && value != "-date" && value != "date") {
        out.push_back("D38 _sort=" + value);
      }
      if (value.size() > 2 &&
          (value.rfind("ne", 0) == 0 || value.rfind("sa", 0) == 0 || value.rfind("eb", 0) == 0 ||
           value.rfind("ap", 0) == 0) &&
          std::isdigit(static_cast<unsigned char>(value[2]))) {
        out.push_back("D38 date prefix outside eq lt gt ge le: " + param);
      }
    }
  }
  return out;
}

}  // namespace cephalgia::hooks::check
