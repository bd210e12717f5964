// File: response_rules.h
//
// The CDS Hooks 2.0 response rules of ../shared/cds-hooks/checklist.md (items A2-A8, F54-F77)
// and the prefetch template rules (D32-D40, I89, I90), as plain functions of a parsed JSON
// document. One implementation shared by the conformance test suite
// (tests/cds-hooks/conformance) and `cephalgia check`, the checker for any CDS service.
//
//   RuleViolations v;
//   for (const ResponseRule& rule : ResponseRules()) rule.check(response_doc, v);
//   for (const RuleViolation& e : v) std::cout << e.pointer << ": " << e.message << "\n";
//
// A violation names the offending value by its JSON Pointer (RFC 6901) in the response.
#pragma once

#include <rapidjson/document.h>

#include <functional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cephalgia::hooks::check {

struct RuleViolation {
  std::string pointer;  // JSON Pointer of the offending value ("" = the whole document)
  std::string message;  // what is wrong, in words
  std::string ToString() const {
    return (pointer.empty() ? std::string("/") : pointer) + " " + message;
  }
};
using RuleViolations = std::vector<RuleViolation>;
inline std::ostream& operator<<(std::ostream& os, const RuleViolation& v) {
  return os << v.ToString();
}

// How binding a rule is for a service (checklist wording: MUST/SHALL vs SHOULD).
enum class Force { kMust, kShould };
const char* ForceName(Force force);

using ResponseCheck = void (*)(const rapidjson::Value& response, RuleViolations& out);

struct ResponseRule {
  const char* item;   // checklist item, e.g. "F59" (section letter + item number)
  const char* title;  // what the rule requires, one line
  Force force;
  ResponseCheck check;
};

// Every response rule, in checklist order.
const std::vector<ResponseRule>& ResponseRules();
// The rule for `item` ("F59"), or nullptr.
const ResponseRule* FindResponseRule(std::string_view item);

// The rules one by one (each documented in response_rules.cc with its checklist item).
void CheckNoNull(const rapidjson::Value& response, RuleViolations& out);         // A2
void CheckNoEmptyValues(const rapidjson::Value& response, RuleViolations& out);  // A3
void CheckOptionalAttributesOmittedNotEmpty(const rapidjson::Value& response,
                                            RuleViolations& out);                          // A4
void CheckNoBlankStrings(const rapidjson::Value& response, RuleViolations& out);           // A5
void CheckEmbeddedFhirResources(const rapidjson::Value& response, RuleViolations& out);    // A6
void CheckCdsExtensionsAreObjects(const rapidjson::Value& response, RuleViolations& out);  // A8
void CheckCardsArray(const rapidjson::Value& response, RuleViolations& out);               // F54
void CheckSystemActions(const rapidjson::Value& response, RuleViolations& out);            // F56
void CheckUuids(const rapidjson::Value& response, RuleViolations& out);                    // F58
void CheckSummary(const rapidjson::Value& response, RuleViolations& out);                  // F59
void CheckDetail(const rapidjson::Value& response, RuleViolations& out);                   // F60
void CheckIndicator(const rapidjson::Value& response, RuleViolations& out);                // F61
void CheckSource(const rapidjson::Value& response, RuleViolations& out);                   // F62
void CheckSuggestionsAndSelectionBehavior(const rapidjson::Value& response,
                                          RuleViolations& out);                    // F63/F64
void CheckIsRecommended(const rapidjson::Value& response, RuleViolations& out);    // F65
void CheckOverrideReasons(const rapidjson::Value& response, RuleViolations& out);  // F66
void CheckLinks(const rapidjson::Value& response, RuleViolations& out);            // F67/F70
void CheckSuggestionShape(const rapidjson::Value& response, RuleViolations& out);  // F68
void CheckNoActionSelectionBehavior(const rapidjson::Value& response, RuleViolations& out);  // F69
void CheckSmartLinkUrls(const rapidjson::Value& response, RuleViolations& out);              // F71
void CheckActions(const rapidjson::Value& response, RuleViolations& out);  // F72-F75
void CheckCodings(const rapidjson::Value& response, RuleViolations& out);  // F77

// Prefetch template rules (D32-D40, I89, I90) for a template advertised for `hook`. Each
// violation starts with its item ("D38 chained parameter ...").
std::vector<std::string> CheckPrefetchTemplate(const std::string& hook,
                                               const std::string& query_template);
// The force of a template violation from its item prefix (D38/D39 are SHOULD, the rest MUST).
Force TemplateViolationForce(std::string_view violation);
// Primitive root-level context fields a hook marks "Prefetch token: Yes" (empty if unknown).
const std::set<std::string>& TokenFieldsOf(const std::string& hook);

// ---- Walking a response (JSON Pointers, escaped per RFC 6901) ----
using Visitor = std::function<void(const rapidjson::Value&, const std::string& pointer)>;
// Every value under `v` (itself first) with its pointer, `pointer` being v's own.
void Walk(const rapidjson::Value& v, const std::string& pointer, const Visitor& visit);
std::string PointerToken(std::string_view name);  // "a/b~c" -> "a~1b~0c"
void ForEachCard(const rapidjson::Value& response, const Visitor& fn);
void ForEachSuggestion(const rapidjson::Value& response, const Visitor& fn);
// Suggestion actions (system = false) and systemActions (system = true).
void ForEachAction(
    const rapidjson::Value& response,
    const std::function<void(const rapidjson::Value&, const std::string&, bool system)>& fn);
void ForEachLink(const rapidjson::Value& response, const Visitor& fn);

// ---- Small predicates ----
std::size_t CodePoints(std::string_view utf8);
bool IsBlank(std::string_view s);
bool NonBlankString(const rapidjson::Value& obj, std::string_view key);
bool IsResourceTypeName(std::string_view s);
bool IsFhirId(std::string_view s);         // [A-Za-z0-9\-\.]{1,64}
bool IsCoding(const rapidjson::Value& v);  // system and code non-blank; display, if any, too

}  // namespace cephalgia::hooks::check
