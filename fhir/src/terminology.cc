#include "cephalgia/fhir/terminology.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <unordered_set>

#include "cephalgia/json.h"
#include "short_hash.h"

namespace cephalgia::fhir {

using rapidjson::Value;

// --- systems and codes ---------------------------------------------------------------------

namespace {

constexpr std::size_t kMaxSystemLength = 128;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view StripSlash(std::string_view s) {
  s = Trim(s);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

struct KnownSystem {
  std::string_view lower_uri;
  CodeSystem system;
};

constexpr KnownSystem kKnownSystems[] = {
    {"http://snomed.info/sct", CodeSystem::kSnomed},
    {"urn:oid:2.16.840.1.113883.6.96", CodeSystem::kSnomed},
    {"http://hl7.org/fhir/sid/icd-10-cm", CodeSystem::kIcd10},
    {"http://hl7.org/fhir/sid/icd-10", CodeSystem::kIcd10},
    {"urn:oid:2.16.840.1.113883.6.90", CodeSystem::kIcd10},
    {"urn:oid:2.16.840.1.113883.6.3", CodeSystem::kIcd10},
    {"http://www.cms.gov/medicare/coding/icd10", CodeSystem::kIcd10},
    {"http://loinc.org", CodeSystem::kLoinc},
    {"urn:oid:2.16.840.1.113883.6.1", CodeSystem::kLoinc},
    {"http://www.nlm.nih.gov/research/umls/rxnorm", CodeSystem::kRxNorm},
    {"urn:oid:2.16.840.1.113883.6.88", CodeSystem::kRxNorm},
};

}  // namespace

CodeSystem IdentifySystem(std::string_view uri) {
  uri = StripSlash(uri);
  if (uri.size() > kMaxSystemLength || uri.empty()) return CodeSystem::kOther;
  // Most records spell a known system exactly as listed: no folding needed for those. A URI
  // whose length fits none of them (even as https://) is another system, not worth folding.
  bool length_fits = false;
  for (const KnownSystem& k : kKnownSystems) {
    if (k.lower_uri.size() == uri.size() && k.lower_uri == uri) return k.system;
    length_fits =
        length_fits || k.lower_uri.size() == uri.size() || k.lower_uri.size() + 1 == uri.size();
  }
  if (!length_fits) return CodeSystem::kOther;
  char buf[kMaxSystemLength + 1];
  std::size_t n = 0;
  std::size_t i = 0;
  // https:// is a common mistake for the http:// identifiers; both denote the same system.
  if (uri.size() > 8 && Lower(uri[0]) == 'h' && Lower(uri[1]) == 't' && Lower(uri[2]) == 't' &&
      Lower(uri[3]) == 'p' && Lower(uri[4]) == 's' && uri[5] == ':') {
    std::memcpy(buf, "http", 4);
    n = 4;
    i = 5;
  }
  for (; i < uri.size(); ++i) buf[n++] = Lower(uri[i]);
  std::string_view lower(buf, n);
  for (const KnownSystem& k : kKnownSystems) {
    if (k.lower_uri == lower) return k.system;
  }
  return CodeSystem::kOther;
}

std::string_view CanonicalSystem(std::string_view uri) {
  switch (IdentifySystem(uri)) {
    case CodeSystem::kSnomed:
      return kSnomedSystem;
    case CodeSystem::kIcd10:
      return kIcd10CmSystem;
    case CodeSystem::kLoinc:
      return kLoincSystem;
    case CodeSystem::kRxNorm:
      return kRxNormSystem;
    case CodeSystem::kOther:
      break;
  }
  return StripSlash(uri);
}

namespace {

// NormalizeCode, appended to `out` (a std::string, or a lookup's KeyBuffer on the stack).
template <typename Out>
void AppendNormalizedCode(CodeSystem system, std::string_view code, Out* out) {
  code = Trim(code);
  if (system != CodeSystem::kIcd10) {
    out->append(code);
    return;
  }
  for (char c : code) {
    if (c == '.' || IsSpace(c)) continue;
    out->push_back(Upper(c));
  }
}

}  // namespace

std::string NormalizeCode(CodeSystem system, std::string_view code) {
  std::string out;
  out.reserve(code.size());
  AppendNormalizedCode(system, code, &out);
  return out;
}

bool SameCode(std::string_view system_a, std::string_view code_a, std::string_view system_b,
              std::string_view code_b) {
  CodeSystem a = IdentifySystem(system_a);
  CodeSystem b = IdentifySystem(system_b);
  if (a != b) return false;
  if (a == CodeSystem::kOther && StripSlash(system_a) != StripSlash(system_b)) return false;
  return NormalizeCode(a, code_a) == NormalizeCode(b, code_b);
}

// --- ValueSetIndex -------------------------------------------------------------------------

namespace {

// The keys are short (a code key is a system byte, '|' and the code).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return ShortHash(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// A lookup key built on the stack (no allocation per coding); `overflow` when it did not fit,
// and the caller then builds a std::string instead.
struct KeyBuffer {
  char data[256];
  std::size_t size = 0;
  bool overflow = false;
  void clear() {
    size = 0;
    overflow = false;
  }
  void push_back(char c) {
    if (size < sizeof data) {
      data[size++] = c;
    } else {
      overflow = true;
    }
  }
  void append(std::string_view s) {
    if (s.size() > sizeof data - size) {
      overflow = true;
      return;
    }
    std::memcpy(data + size, s.data(), s.size());
    size += s.size();
  }
  std::string_view view() const { return {data, size}; }
};

// Lookup key of a system + code: one letter for the known systems, else the canonical URI;
// written into `key` (cleared first). The normalised code is the part after the first '|'.
template <typename Key>
void CodeKeyInto(CodeSystem cs, std::string_view system, std::string_view code, Key* key) {
  // Known systems are keyed by their enum value (one byte), others by their URI.
  key->clear();
  key->push_back(static_cast<char>('0' + static_cast<int>(cs)));
  if (cs == CodeSystem::kOther) key->append(StripSlash(system));
  key->push_back('|');
  AppendNormalizedCode(cs, code, key);
}

std::string CodeKey(std::string_view system, std::string_view code) {
  std::string key;
  CodeKeyInto(IdentifySystem(system), system, code, &key);
  return key;
}

bool IsWordByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || u >= 0x80;
}

// FNV-1a over the lower-cased bytes of a word: the same value whether computed from a stored
// (lower-case) synonym word or on the fly from text as it appears in a record.
constexpr uint64_t kWordHashSeed = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
uint64_t WordHashStep(uint64_t h, char c) {
  return (h ^ static_cast<unsigned char>(Lower(c))) * 0x100000001b3ULL;  // FNV-1a prime
}

uint64_t WordHash(std::string_view word) {
  uint64_t h = kWordHashSeed;
  for (char c : word) h = WordHashStep(h, c);
  return h;
}

// The words of a text (runs of IsWordByte) as spans of the original text with their WordHash,
// found in one pass without copying: most words of a record's text start no synonym, and are
// rejected by their hash alone.
struct WordSpan {
  std::string_view raw;  // as in the text (any case)
  uint64_t hash;
};

void ScanWords(std::string_view text, std::vector<WordSpan>* out) {
  out->clear();
  const char* p = text.data();
  const char* end = p + text.size();
  while (p != end) {
    while (p != end && !IsWordByte(*p)) ++p;
    if (p == end) break;
    const char* start = p;
    uint64_t h = kWordHashSeed;
    for (; p != end && IsWordByte(*p); ++p) h = WordHashStep(h, *p);
    out->push_back({std::string_view(start, static_cast<std::size_t>(p - start)), h});
  }
}

// `raw` equals the lower-case `word` under ASCII case folding.
bool EqualsFolded(std::string_view raw, std::string_view word) {
  if (raw.size() != word.size()) return false;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (Lower(raw[i]) != word[i]) return false;
  }
  return true;
}

// Lower-cased words of `text` (ASCII case folding; other bytes kept).
std::vector<std::string> Words(std::string_view text) {
  std::vector<WordSpan> spans;
  ScanWords(text, &spans);
  std::vector<std::string> out;
  out.reserve(spans.size());
  for (const WordSpan& w : spans) {
    std::string& word = out.emplace_back(w.raw);
    for (char& c : word) c = Lower(c);
  }
  return out;
}

bool IsAlnumUpper(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

// ICD-10 code or category, normalised: a letter then 2..6 alphanumerics.
bool ValidIcd10(const std::string& code) {
  if (code.size() < 3 || code.size() > 7) return false;
  if (code[0] < 'A' || code[0] > 'Z') return false;
  return std::all_of(code.begin(), code.end(), IsAlnumUpper);
}

// Next string in [0-9A-Z]^n order (ASCII order: digits before letters); false on overflow.
bool Increment(std::string* s) {
  for (std::size_t i = s->size(); i-- > 0;) {
    char& c = (*s)[i];
    if (c == '9') {
      c = 'A';
      return true;
    }
    if (c != 'Z') {
      ++c;
      return true;
    }
    c = '0';
  }
  return false;
}

constexpr std::size_t kMaxRangeExpansion = 20000;

struct Member {
  uint32_t vs;
  int32_t ingredient;  // index into Impl::ingredients, -1 for a direct member
};

struct Synonym {
  std::vector<std::string> words;
  uint32_t vs;
  std::string text;
};

// What a text lookup reads of each synonym before it compares words, kept apart from the
// synonyms' deque (whose indexing costs a division) in a plain vector: the word count, and the
// WordHash of words[1] (0 for a one-word synonym): a text word with another hash cannot be that
// word, so most synonyms under a common first word ("pain", "headache") are passed over without
// comparing their words.
struct SynonymShape {
  uint64_t second_hash;
  std::size_t words;
};

// One value set read from a file, validated, not yet added.
struct StagedSet {
  ValueSetInfo info;
  std::vector<std::pair<std::string, std::string>> codes;  // key, ingredient ("" = direct)
  std::vector<std::string> prefixes;                       // normalised ICD-10 prefixes
  std::vector<std::string> synonyms;
};

}  // namespace

struct ValueSetIndex::Impl {
  std::deque<ValueSetInfo> sets;  // deque: ids are handed out as string_views
  StringMap<uint32_t> ids;
  StringMap<std::vector<Member>> codes;
  StringMap<std::vector<uint32_t>> icd_prefixes;
  uint32_t icd_prefix_lengths = 0;  // bit n: some prefix has n characters
  std::deque<std::string> ingredients;
  StringMap<int32_t> ingredient_ids;
  std::deque<Synonym> synonyms;
  std::vector<SynonymShape> shapes;  // by synonym index
  // First word's WordHash -> indices into synonyms (a hash collision only costs a comparison).
  std::unordered_map<uint64_t, std::vector<uint32_t>> first_word;
  // Per value set, the distinct first-word hashes of its synonyms, sorted: a lookup for one
  // value set rejects most words of a text by a binary search, not a probe of first_word.
  std::vector<std::vector<uint64_t>> first_words_by_vs;
  // Beside each of those hashes, the value set's own synonyms under it (indices into synonyms,
  // in order): a lookup for one value set walks only these, not every set's synonyms under the
  // first word (34 under "pain").
  std::vector<std::vector<std::vector<uint32_t>>> synonyms_by_vs_word;

  void AddMember(const std::string& key, uint32_t vs, int32_t ingredient) {
    std::vector<Member>& list = codes[key];
    for (Member& m : list) {
      if (m.vs == vs) {
        if (ingredient < 0) m.ingredient = -1;  // a direct membership wins
        return;
      }
    }
    list.push_back({vs, ingredient});
  }
  int32_t Ingredient(const std::string& code) {
    auto it = ingredient_ids.find(code);
    if (it != ingredient_ids.end()) return it->second;
    ingredients.push_back(code);
    int32_t id = static_cast<int32_t>(ingredients.size() - 1);
    ingredient_ids.emplace(code, id);
    return id;
  }
  void Commit(StagedSet&& s) {
    uint32_t vs = static_cast<uint32_t>(sets.size());
    ids.emplace(s.info.id, vs);
    sets.push_back(std::move(s.info));
    for (auto& [key, ingredient] : s.codes) {
      AddMember(key, vs, ingredient.empty() ? -1 : Ingredient(ingredient));
    }
    for (const std::string& p : s.prefixes) {
      if (p.size() < 32) icd_prefix_lengths |= 1u << p.size();
      std::vector<uint32_t>& list = icd_prefixes[p];
      if (std::find(list.begin(), list.end(), vs) == list.end()) list.push_back(vs);
    }
    for (const std::string& text : s.synonyms) {
      Synonym syn{Words(text), vs, text};
      shapes.push_back({syn.words.size() > 1 ? WordHash(syn.words[1]) : 0, syn.words.size()});
      uint32_t idx = static_cast<uint32_t>(synonyms.size());
      uint64_t first = WordHash(syn.words.front());
      first_word[first].push_back(idx);
      synonyms.push_back(std::move(syn));
      first_words_by_vs.resize(sets.size());
      synonyms_by_vs_word.resize(sets.size());
      std::vector<uint64_t>& mine = first_words_by_vs[vs];
      std::vector<std::vector<uint32_t>>& lists = synonyms_by_vs_word[vs];
      auto at = std::lower_bound(mine.begin(), mine.end(), first);
      const auto pos = at - mine.begin();
      if (at == mine.end() || *at != first) {
        mine.insert(at, first);
        lists.insert(lists.begin() + pos, std::vector<uint32_t>{});
      }
      lists[static_cast<std::size_t>(pos)].push_back(idx);
    }
  }

  // Code-level members of one coding, in order: fn(const Member&) for each (vs, ingredient).
  template <typename Fn>
  void ForEachCodeMember(std::string_view system, std::string_view code, Fn&& fn) const {
    CodeSystem cs = IdentifySystem(system);
    KeyBuffer buffer;
    std::string long_key;  // only when the key does not fit the buffer
    CodeKeyInto(cs, system, code, &buffer);
    std::string_view key = buffer.view();
    if (buffer.overflow) {
      CodeKeyInto(cs, system, code, &long_key);
      key = long_key;
    }
    if (auto it = codes.find(key); it != codes.end()) {
      for (const Member& m : it->second) fn(m);
    }
    if (cs == CodeSystem::kIcd10 && !icd_prefixes.empty()) {
      std::string_view n = key.substr(key.find('|') + 1);
      for (std::size_t len = 3; len <= std::min<std::size_t>(n.size(), 7); ++len) {
        if ((icd_prefix_lengths & (1u << len)) == 0) continue;  // no prefix that long
        auto it = icd_prefixes.find(n.substr(0, len));
        if (it == icd_prefixes.end()) continue;
        for (uint32_t vs : it->second) fn(Member{vs, -1});
      }
    }
  }

  // The same, appended to `out`.
  void LookupCode(std::string_view system, std::string_view code, std::vector<Member>* out) const {
    ForEachCodeMember(system, code, [out](const Member& m) { out->push_back(m); });
  }

  // Whether value set `vs` has a text synonym (MatchIn skips reading text for those without).
  bool HasSynonyms(uint32_t vs) const {
    return vs < first_words_by_vs.size() && !first_words_by_vs[vs].empty();
  }

  // Synonyms found in `text`, as (synonym index); with `only_vs`, those of that value set only.
  void LookupText(std::string_view text, std::vector<uint32_t>* out,
                  std::optional<uint32_t> only_vs = std::nullopt) const {
    if (synonyms.empty()) return;
    thread_local std::vector<WordSpan> words;
    ScanWords(text, &words);
    // The synonyms (indices, in order) that start at word i: compared word by word, after the
    // second word's hash (equal words have equal hashes).
    auto match_at = [&](std::size_t i, const std::vector<uint32_t>& candidates) {
      for (uint32_t idx : candidates) {
        const SynonymShape& shape = shapes[idx];
        if (i + shape.words > words.size()) continue;
        if (shape.words > 1 && words[i + 1].hash != shape.second_hash) continue;
        const Synonym& s = synonyms[idx];
        bool all = true;
        for (std::size_t k = 0; k < s.words.size() && all; ++k)
          all = EqualsFolded(words[i + k].raw, s.words[k]);
        if (all) out->push_back(idx);
      }
    };
    if (only_vs) {
      if (!HasSynonyms(*only_vs)) return;
      const std::vector<uint64_t>& mine = first_words_by_vs[*only_vs];
      const std::vector<std::vector<uint32_t>>& lists = synonyms_by_vs_word[*only_vs];
      for (std::size_t i = 0; i < words.size(); ++i) {
        auto at = std::lower_bound(mine.begin(), mine.end(), words[i].hash);
        if (at == mine.end() || *at != words[i].hash) continue;
        match_at(i, lists[static_cast<std::size_t>(at - mine.begin())]);
      }
      return;
    }
    for (std::size_t i = 0; i < words.size(); ++i) {
      auto it = first_word.find(words[i].hash);
      if (it == first_word.end()) continue;
      match_at(i, it->second);
    }
  }
};

ValueSetIndex::ValueSetIndex() : impl_(std::make_unique<Impl>()) {}
ValueSetIndex::ValueSetIndex(ValueSetIndex&&) noexcept = default;
ValueSetIndex& ValueSetIndex::operator=(ValueSetIndex&&) noexcept = default;
ValueSetIndex::~ValueSetIndex() = default;

// --- loading -------------------------------------------------------------------------------

namespace {

std::string_view StrOf(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

Status LoadError(const std::string& pointer, const std::string& message) {
  return InvalidArgument("value set file: " + message, pointer);
}

Status CheckKeys(const Value& obj, const std::string& pointer,
                 std::initializer_list<std::string_view> allowed) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    std::string_view name = StrOf(it->name);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return LoadError(pointer + "/" + std::string(name),
                       "unknown member '" + std::string(name) + "'");
    }
  }
  return Status::Ok();
}

Result<std::string> NonEmptyString(const Value& v, const std::string& pointer) {
  if (!v.IsString()) return LoadError(pointer, "expected a string");
  std::string_view s = Trim(StrOf(v));
  if (s.empty()) return LoadError(pointer, "must not be empty");
  return std::string(s);
}

const Value* ArrayMember(const Value& obj, std::string_view key, const std::string& pointer,
                         Status* error) {
  const Value* v = json::Find(obj, key);
  if (v == nullptr) return nullptr;
  if (!v->IsArray()) {
    *error = LoadError(pointer + "/" + std::string(key), "expected an array");
    return nullptr;
  }
  return v;
}

Result<StagedSet> StageSet(const Value& vs, const std::string& p) {
  if (!vs.IsObject()) return LoadError(p, "expected an object");
  CEPHALGIA_RETURN_IF_ERROR(CheckKeys(vs, p,
                                      {"id", "description", "citation", "codes", "icd10Prefixes",
                                       "icd10Ranges", "rxnormIngredients", "text"}));
  StagedSet s;
  const Value* id = json::Find(vs, "id");
  if (id == nullptr) return LoadError(p + "/id", "id is required");
  CEPHALGIA_ASSIGN_OR_RETURN(s.info.id, NonEmptyString(*id, p + "/id"));
  for (auto [key, field] :
       {std::pair{"description", &s.info.description}, std::pair{"citation", &s.info.citation}}) {
    if (const Value* v = json::Find(vs, key)) {
      if (!v->IsString()) return LoadError(p + "/" + key, "expected a string");
      *field = std::string(StrOf(*v));
    }
  }
  Status error;
  if (const Value* codes = ArrayMember(vs, "codes", p, &error)) {
    for (rapidjson::SizeType i = 0; i < codes->Size(); ++i) {
      std::string cp = p + "/codes/" + std::to_string(i);
      const Value& c = (*codes)[i];
      if (!c.IsObject()) return LoadError(cp, "expected an object");
      CEPHALGIA_RETURN_IF_ERROR(CheckKeys(c, cp, {"system", "code", "display"}));
      const Value* sys = json::Find(c, "system");
      const Value* code = json::Find(c, "code");
      if (sys == nullptr) return LoadError(cp + "/system", "system is required");
      if (code == nullptr) return LoadError(cp + "/code", "code is required");
      CEPHALGIA_ASSIGN_OR_RETURN(std::string system, NonEmptyString(*sys, cp + "/system"));
      CEPHALGIA_ASSIGN_OR_RETURN(std::string code_str, NonEmptyString(*code, cp + "/code"));
      if (const Value* d = json::Find(c, "display"); d != nullptr && !d->IsString()) {
        return LoadError(cp + "/display", "expected a string");
      }
      s.codes.emplace_back(CodeKey(system, code_str), "");
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(error);
  if (const Value* prefixes = ArrayMember(vs, "icd10Prefixes", p, &error)) {
    for (rapidjson::SizeType i = 0; i < prefixes->Size(); ++i) {
      std::string pp = p + "/icd10Prefixes/" + std::to_string(i);
      CEPHALGIA_ASSIGN_OR_RETURN(std::string raw, NonEmptyString((*prefixes)[i], pp));
      std::string n = NormalizeCode(CodeSystem::kIcd10, raw);
      if (!ValidIcd10(n)) {
        return LoadError(pp, "'" + raw +
                                 "' is not an ICD-10 code or category (letter + 2..6 "
                                 "alphanumerics)");
      }
      s.prefixes.push_back(std::move(n));
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(error);
  if (const Value* ranges = ArrayMember(vs, "icd10Ranges", p, &error)) {
    for (rapidjson::SizeType i = 0; i < ranges->Size(); ++i) {
      std::string rp = p + "/icd10Ranges/" + std::to_string(i);
      const Value& r = (*ranges)[i];
      if (!r.IsArray() || r.Size() != 2) return LoadError(rp, "expected [first, last]");
      CEPHALGIA_ASSIGN_OR_RETURN(std::string a_raw, NonEmptyString(r[0], rp + "/0"));
      CEPHALGIA_ASSIGN_OR_RETURN(std::string b_raw, NonEmptyString(r[1], rp + "/1"));
      std::string a = NormalizeCode(CodeSystem::kIcd10, a_raw);
      std::string b = NormalizeCode(CodeSystem::kIcd10, b_raw);
      if (!ValidIcd10(a)) return LoadError(rp + "/0", "'" + a_raw + "' is not an ICD-10 code");
      if (!ValidIcd10(b)) return LoadError(rp + "/1", "'" + b_raw + "' is not an ICD-10 code");
      if (a.size() != b.size()) {
        return LoadError(
            rp, "range endpoints must have the same length ('" + a_raw + "', '" + b_raw + "')");
      }
      if (b < a) return LoadError(rp, "range end '" + b_raw + "' is before its start");
      std::string cur = a;
      std::size_t count = 0;
      while (true) {
        if (++count > kMaxRangeExpansion) {
          return LoadError(
              rp, "range expands to more than " + std::to_string(kMaxRangeExpansion) + " prefixes");
        }
        s.prefixes.push_back(cur);
        if (cur == b || !Increment(&cur)) break;
      }
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(error);
  if (const Value* rx = ArrayMember(vs, "rxnormIngredients", p, &error)) {
    for (rapidjson::SizeType i = 0; i < rx->Size(); ++i) {
      std::string ip = p + "/rxnormIngredients/" + std::to_string(i);
      const Value& ing = (*rx)[i];
      if (!ing.IsObject()) return LoadError(ip, "expected an object");
      CEPHALGIA_RETURN_IF_ERROR(CheckKeys(ing, ip, {"ingredient", "name", "products"}));
      const Value* code = json::Find(ing, "ingredient");
      if (code == nullptr) return LoadError(ip + "/ingredient", "ingredient is required");
      CEPHALGIA_ASSIGN_OR_RETURN(std::string ingredient, NonEmptyString(*code, ip + "/ingredient"));
      if (const Value* n = json::Find(ing, "name"); n != nullptr && !n->IsString()) {
        return LoadError(ip + "/name", "expected a string");
      }
      s.codes.emplace_back(CodeKey(kRxNormSystem, ingredient), "");
      if (const Value* products = ArrayMember(ing, "products", ip, &error)) {
        for (rapidjson::SizeType k = 0; k < products->Size(); ++k) {
          CEPHALGIA_ASSIGN_OR_RETURN(
              std::string product,
              NonEmptyString((*products)[k], ip + "/products/" + std::to_string(k)));
          s.codes.emplace_back(CodeKey(kRxNormSystem, product), ingredient);
        }
      }
      CEPHALGIA_RETURN_IF_ERROR(error);
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(error);
  if (const Value* text = ArrayMember(vs, "text", p, &error)) {
    for (rapidjson::SizeType i = 0; i < text->Size(); ++i) {
      std::string tp = p + "/text/" + std::to_string(i);
      CEPHALGIA_ASSIGN_OR_RETURN(std::string t, NonEmptyString((*text)[i], tp));
      if (Words(t).empty()) return LoadError(tp, "synonym '" + t + "' has no words");
      s.synonyms.push_back(std::move(t));
    }
  }
  CEPHALGIA_RETURN_IF_ERROR(error);
  return s;
}

}  // namespace

Status ValueSetIndex::AddFromJson(const Value& root) {
  if (!root.IsObject()) return LoadError("", "the root must be an object");
  CEPHALGIA_RETURN_IF_ERROR(CheckKeys(root, "", {"valueSets", "description", "$schema"}));
  const Value* sets = json::Find(root, "valueSets");
  if (sets == nullptr) return LoadError("/valueSets", "valueSets is required");
  if (!sets->IsArray()) return LoadError("/valueSets", "expected an array");
  std::vector<StagedSet> staged;
  std::unordered_set<std::string> new_ids;
  for (rapidjson::SizeType i = 0; i < sets->Size(); ++i) {
    std::string p = "/valueSets/" + std::to_string(i);
    CEPHALGIA_ASSIGN_OR_RETURN(StagedSet s, StageSet((*sets)[i], p));
    if (impl_->ids.count(s.info.id) != 0 || !new_ids.insert(s.info.id).second) {
      return LoadError(p + "/id", "duplicate value set id '" + s.info.id + "'");
    }
    staged.push_back(std::move(s));
  }
  for (StagedSet& s : staged) impl_->Commit(std::move(s));
  return Status::Ok();
}

Status ValueSetIndex::AddFromJsonText(std::string_view text) {
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, json::ParseUntrusted(text, 64u << 20));
  return AddFromJson(doc);
}

Result<ValueSetIndex> ValueSetIndex::FromJson(const Value& root) {
  ValueSetIndex index;
  CEPHALGIA_RETURN_IF_ERROR(index.AddFromJson(root));
  return index;
}

Result<ValueSetIndex> ValueSetIndex::FromJsonText(std::string_view text) {
  ValueSetIndex index;
  CEPHALGIA_RETURN_IF_ERROR(index.AddFromJsonText(text));
  return index;
}

// --- matching ------------------------------------------------------------------------------

std::vector<ValueSetMatch> ValueSetIndex::Match(const CodeableConceptView& cc) const {
  std::vector<ValueSetMatch> out;
  auto already = [&out](std::string_view id) {
    for (const ValueSetMatch& m : out) {
      if (m.valueset_id == id) return true;
    }
    return false;
  };
  std::vector<CodingView> codings = cc.codings();
  std::vector<Member> members;
  for (const CodingView& coding : codings) {
    auto [system, code] = coding.system_and_code();
    if (!system || !code) continue;  // a code without its system cannot be interpreted
    members.clear();
    impl_->LookupCode(*system, *code, &members);
    for (const Member& m : members) {
      std::string_view id = impl_->sets[m.vs].id;
      if (already(id)) continue;
      ValueSetMatch match;
      match.valueset_id = id;
      match.certainty = Certainty::kConfirmed;
      match.coding = coding;
      if (m.ingredient >= 0) match.ingredient = impl_->ingredients[m.ingredient];
      out.push_back(std::move(match));
    }
  }
  if (!impl_->synonyms.empty()) {
    std::vector<uint32_t> found;
    if (auto text = cc.text()) impl_->LookupText(*text, &found);
    for (const CodingView& coding : codings) {
      if (auto display = coding.display()) impl_->LookupText(*display, &found);
    }
    for (uint32_t idx : found) {
      const Synonym& s = impl_->synonyms[idx];
      std::string_view id = impl_->sets[s.vs].id;
      if (already(id)) continue;
      ValueSetMatch match;
      match.valueset_id = id;
      match.certainty = Certainty::kText;
      match.matched_text = s.text;
      out.push_back(std::move(match));
    }
  }
  return out;
}

void ValueSetIndex::MatchCodes(const CodeableConceptView& cc,
                               std::vector<uint32_t>* value_sets) const {
  const std::size_t first = value_sets->size();
  cc.ForEachCoding([&](const CodingView& coding) {
    auto [system, code] = coding.system_and_code();
    if (!system || !code) return;  // a code without its system cannot be interpreted
    impl_->ForEachCodeMember(*system, *code, [&](const Member& m) {
      if (std::find(value_sets->begin() + static_cast<std::ptrdiff_t>(first), value_sets->end(),
                    m.vs) == value_sets->end()) {
        value_sets->push_back(m.vs);
      }
    });
  });
}

std::string_view ValueSetIndex::IdAt(uint32_t position) const { return impl_->sets[position].id; }

std::optional<ValueSetMatch> ValueSetIndex::MatchIn(std::string_view valueset_id,
                                                    const CodeableConceptView& cc) const {
  auto id = impl_->ids.find(valueset_id);
  if (id == impl_->ids.end()) return std::nullopt;
  if (cc.sink() != nullptr) {
    // Match reads every coding, text and display, and reports what is malformed in them.
    for (ValueSetMatch& m : Match(cc)) {
      if (m.valueset_id == valueset_id) return std::move(m);
    }
    return std::nullopt;
  }
  // Nobody hears issues: the same answer as Match's, stopping at it, and reading text only for
  // a value set that has synonyms.
  const uint32_t vs = id->second;
  std::optional<ValueSetMatch> found;
  cc.ForEachCoding([&](const CodingView& coding) {
    if (found) return;
    auto [system, code] = coding.system_and_code();
    if (!system || !code) return;
    impl_->ForEachCodeMember(*system, *code, [&](const Member& m) {
      if (found || m.vs != vs) return;  // the first member of `vs` is Match's
      ValueSetMatch match;
      match.valueset_id = impl_->sets[vs].id;
      match.certainty = Certainty::kConfirmed;
      match.coding = coding;
      if (m.ingredient >= 0) match.ingredient = impl_->ingredients[m.ingredient];
      found = std::move(match);
    });
  });
  if (found || !impl_->HasSynonyms(vs)) return found;
  std::vector<uint32_t> texts;
  // A display that repeats the text (common) can only find again what the text found, after
  // it: the first synonym found stays the same without reading it twice.
  std::optional<std::string_view> text = cc.text();
  if (text) impl_->LookupText(*text, &texts, vs);
  cc.ForEachCoding([&](const CodingView& coding) {
    std::optional<std::string_view> display = coding.display();
    if (display && !(text && *display == *text)) impl_->LookupText(*display, &texts, vs);
  });
  for (uint32_t idx : texts) {
    const Synonym& s = impl_->synonyms[idx];
    if (s.vs != vs) continue;
    ValueSetMatch match;
    match.valueset_id = impl_->sets[vs].id;
    match.certainty = Certainty::kText;
    match.matched_text = s.text;
    return match;
  }
  return std::nullopt;
}

std::vector<std::string_view> ValueSetIndex::ValueSetsOf(std::string_view system,
                                                         std::string_view code) const {
  std::vector<Member> members;
  impl_->LookupCode(system, code, &members);
  std::vector<std::string_view> out;
  for (const Member& m : members) {
    std::string_view id = impl_->sets[m.vs].id;
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

bool ValueSetIndex::ContainsCode(std::string_view valueset_id, std::string_view system,
                                 std::string_view code) const {
  auto id = impl_->ids.find(valueset_id);
  if (id == impl_->ids.end()) return false;
  bool found = false;
  impl_->ForEachCodeMember(system, code,
                           [&](const Member& m) { found = found || m.vs == id->second; });
  return found;
}

std::vector<ValueSetMatch> ValueSetIndex::MatchText(std::string_view text) const {
  std::vector<ValueSetMatch> out;
  std::vector<uint32_t> found;
  impl_->LookupText(text, &found);
  for (uint32_t idx : found) {
    const Synonym& s = impl_->synonyms[idx];
    std::string_view id = impl_->sets[s.vs].id;
    bool seen = false;
    for (const ValueSetMatch& m : out) seen = seen || m.valueset_id == id;
    if (seen) continue;
    ValueSetMatch match;
    match.valueset_id = id;
    match.certainty = Certainty::kText;
    match.matched_text = s.text;
    out.push_back(std::move(match));
  }
  return out;
}

bool ValueSetIndex::HasValueSet(std::string_view valueset_id) const {
  return impl_->ids.find(valueset_id) != impl_->ids.end();
}

const ValueSetInfo* ValueSetIndex::Info(std::string_view valueset_id) const {
  auto it = impl_->ids.find(valueset_id);
  return it == impl_->ids.end() ? nullptr : &impl_->sets[it->second];
}

std::size_t ValueSetIndex::size() const { return impl_->sets.size(); }

}  // namespace cephalgia::fhir
