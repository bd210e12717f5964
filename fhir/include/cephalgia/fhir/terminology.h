// File: terminology.h
//
// Code systems and value sets as data.
//
// Real EHRs spell code systems many ways (an OID, a CMS URL, a trailing slash, upper case) and
// write ICD-10 codes with or without the dot. Everything is normalised once, here, so that a
// rule asks "is this concept in value set `thunderclap`?" and never compares strings itself.
//
//   CEPHALGIA_ASSIGN_OR_RETURN(ValueSetIndex vs, ValueSetIndex::FromJsonText(file_text));
//   for (const ValueSetMatch& m : vs.Match(*condition.code())) {
//     // m.valueset_id == "thunderclap", m.certainty == kConfirmed (code) or kText (synonym)
//   }
//   std::optional<ValueSetMatch> m = vs.MatchIn("opioids", *drug);   // one value set
//
// Value set file format (JSON; one file may hold many value sets; several files can be merged
// with AddFromJson, a repeated id is an error):
//
//   {"valueSets": [{
//      "id": "thunderclap",                      // required, unique, non-empty
//      "description": "...",                     // optional
//      "citation": "...",                        // optional (knowledge.md source)
//      "codes": [{"system": "http://snomed.info/sct", "code": "95660002", "display": "..."}],
//      "icd10Prefixes": ["G44.53"],              // ICD-10 code or category: matches it and
//                                                //   every code below it (Z85 matches Z85.3)
//      "icd10Ranges": [["C00", "C96"]],          // inclusive; endpoints of equal length; expanded
//                                                //   to prefixes at load (C00, C01, ... C7A ...)
//      "rxnormIngredients": [{"ingredient": "7804", "products": ["1049621"]}],
//                                                // the ingredient and each product (SCD/SBD)
//                                                //   are members; a product match reports the
//                                                //   ingredient in ValueSetMatch::ingredient
//      "text": ["thunderclap", "worst headache of my life"]
//                                                // synonyms, see "Text matching" below
//   }]}
//
// All members except "id" are optional; unknown members are an error (typos must not silently
// empty a value set). Two optional extras for human readers are accepted and ignored:
// "rxnormIngredients[].name" and, at the top level, "description" / "$schema". Each code must
// be a non-empty string; "codes[].system" must be a string (any system is allowed: unknown
// systems are compared as written, minus a trailing slash).
// Load errors are kInvalidArgument with location = JSON Pointer, e.g.
// "/valueSets/3/codes/1/system".
//
// Matching. Per coding, one hash lookup on (canonical system, normalised code); for ICD-10 also
// one lookup per prefix length 3..7 of the dot-less code. No scan over value sets. A coding
// matches at kConfirmed. A value set that no coding of the concept matched is then tried on the
// concept's text and every coding's display: a synonym matches when its words appear
// consecutively, case-insensitively (ASCII), on word boundaries ("thunderclap" matches
// "Thunderclap headache" but not "thunderclaps"), giving kText. Text matching does not
// understand negation ("no thunderclap" matches): it only ever lowers certainty, and a red
// flag raised from text says so.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cephalgia/fhir/clinical_status.h"
#include "cephalgia/fhir/datatypes.h"
#include "cephalgia/status.h"

namespace cephalgia::fhir {

// Canonical system URIs.
inline constexpr std::string_view kSnomedSystem = "http://snomed.info/sct";
inline constexpr std::string_view kIcd10CmSystem = "http://hl7.org/fhir/sid/icd-10-cm";
inline constexpr std::string_view kLoincSystem = "http://loinc.org";
inline constexpr std::string_view kRxNormSystem = "http://www.nlm.nih.gov/research/umls/rxnorm";

enum class CodeSystem { kOther, kSnomed, kIcd10, kLoinc, kRxNorm };

// Recognises a system URI, tolerating case and a trailing slash:
//   SNOMED  http://snomed.info/sct, urn:oid:2.16.840.1.113883.6.96
//   ICD-10  http://hl7.org/fhir/sid/icd-10-cm, http://hl7.org/fhir/sid/icd-10,
//           urn:oid:2.16.840.1.113883.6.90, urn:oid:2.16.840.1.113883.6.3,
//           http://www.cms.gov/Medicare/Coding/ICD10
//   LOINC   http://loinc.org, urn:oid:2.16.840.1.113883.6.1
//   RxNorm  http://www.nlm.nih.gov/research/umls/rxnorm, urn:oid:2.16.840.1.113883.6.88
// (ICD-10 WHO and ICD-10-CM share codes for the categories we use, so they are one system here.)
CodeSystem IdentifySystem(std::string_view uri);
// The canonical URI for a known system; otherwise `uri` without a trailing slash.
std::string_view CanonicalSystem(std::string_view uri);
// Code normalisation per system: ICD-10 -> upper case, dot and spaces removed ("g44.86" ->
// "G4486"); others -> surrounding whitespace trimmed.
std::string NormalizeCode(CodeSystem system, std::string_view code);
// Whether two system/code pairs denote the same code.
bool SameCode(std::string_view system_a, std::string_view code_a, std::string_view system_b,
              std::string_view code_b);

struct ValueSetMatch {
  std::string_view valueset_id;                 // points into the ValueSetIndex
  Certainty certainty = Certainty::kConfirmed;  // kConfirmed (a code) or kText (a synonym)
  std::optional<CodingView> coding;  // the coding that matched (nullopt for a text match)
  std::string_view ingredient;       // RxNorm ingredient when matched through a product code
  std::string_view matched_text;     // the synonym that matched (text matches only)
};

// Metadata of one loaded value set.
struct ValueSetInfo {
  std::string id;
  std::string description;
  std::string citation;
};

// Built once at start-up; afterwards every const method is safe to call concurrently.
// ValueSetMatch string_views stay valid until the index is modified or destroyed.
class ValueSetIndex {
 public:
  ValueSetIndex();
  ValueSetIndex(ValueSetIndex&&) noexcept;
  ValueSetIndex& operator=(ValueSetIndex&&) noexcept;
  ~ValueSetIndex();

  // Loads the file format above (start-up/config time).
  static Result<ValueSetIndex> FromJson(const rapidjson::Value& root);
  static Result<ValueSetIndex> FromJsonText(std::string_view text);
  // Merges another file's value sets. On error nothing is added.
  Status AddFromJson(const rapidjson::Value& root);
  Status AddFromJsonText(std::string_view text);

  // Every value set the concept belongs to, at most one match per value set (a code match wins
  // over a text match). Issues (e.g. a non-string code) go to the concept's sink.
  std::vector<ValueSetMatch> Match(const CodeableConceptView& cc) const;
  // The code-level part of Match(cc): the value sets some coding of `cc` belongs to, each once,
  // in the order Match reports them, appended to `value_sets` as positions (see IdAt). No text
  // is read, nothing is allocated per call once `value_sets` has grown. Issues (a non-string
  // system or code) go to the concept's sink.
  void MatchCodes(const CodeableConceptView& cc, std::vector<uint32_t>* value_sets) const;
  // Value sets are numbered in the order they were added (the n-th value set of the first file
  // is n, the next file's continue the count): the id at `position` (position < size()).
  std::string_view IdAt(uint32_t position) const;

  // The match in one value set, or nullopt. Unknown id: nullopt.
  std::optional<ValueSetMatch> MatchIn(std::string_view valueset_id,
                                       const CodeableConceptView& cc) const;
  bool Contains(std::string_view valueset_id, const CodeableConceptView& cc) const {
    return MatchIn(valueset_id, cc).has_value();
  }
  // One coding (code-level only, no text).
  bool ContainsCode(std::string_view valueset_id, std::string_view system,
                    std::string_view code) const;
  // Ids of the value sets `system|code` belongs to (code-level only).
  std::vector<std::string_view> ValueSetsOf(std::string_view system, std::string_view code) const;
  // Matches free text alone (e.g. a note) against the synonyms: value set ids at kText.
  std::vector<ValueSetMatch> MatchText(std::string_view text) const;

  bool HasValueSet(std::string_view valueset_id) const;
  const ValueSetInfo* Info(std::string_view valueset_id) const;
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cephalgia::fhir
