#include "cephalgia/hooks/hook_request.h"

#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>

#include "cephalgia/json.h"
#include "cephalgia/json_scan.h"
#include "cephalgia/url.h"

namespace cephalgia::hooks {
namespace {

enum class FieldType { kString, kArrayOfStrings, kObject };

struct ContextField {
  std::string_view name;
  FieldType type;
};

struct HookContext {
  std::string_view hook;
  std::array<ContextField, 5> required;  // unused slots have an empty name
};

// Required context fields per hook, from the CDS Hooks Library (checklist §I).
constexpr std::array<HookContext, 8> kHookContexts{{
    {"patient-view", {{{"userId", FieldType::kString}, {"patientId", FieldType::kString}}}},
    {"order-select",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"selections", FieldType::kArrayOfStrings},
       {"draftOrders", FieldType::kObject}}}},
    {"order-sign",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"draftOrders", FieldType::kObject}}}},
    {"encounter-start",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"encounterId", FieldType::kString}}}},
    {"encounter-discharge",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"encounterId", FieldType::kString}}}},
    {"appointment-book",
     {{{"userId", FieldType::kString},
       {"patientId", FieldType::kString},
       {"appointments", FieldType::kObject}}}},
    // Deprecated 1.0-era hooks some clients still send (checklist item 92): same core fields.
    {"medication-prescribe",
     {{{"patientId", FieldType::kString}, {"medications", FieldType::kObject}}}},
    {"order-review", {{{"patientId", FieldType::kString}, {"orders", FieldType::kObject}}}},
}};

const HookContext* FindHook(std::string_view hook) {
  for (const HookContext& h : kHookContexts) {
    if (h.hook == hook) return &h;
  }
  return nullptr;
}

// FHIR `id`: [A-Za-z0-9\-\.]{1,64}. patientId and encounterId are substituted into FHIR URLs
// (`Patient/{{context.patientId}}`), so anything else could change which resource is read.
// An id of dots only (`.`, `..`) matches the pattern but is a path segment of its own:
// `Patient/..` is a request to the FHIR base, with the token. Refused.
bool IsFhirId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (s.find_first_not_of('.') == std::string_view::npos) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// `Type/id` as the CDS Hooks library's invariant ord-1 requires of userId and selections.
bool IsTypeSlashId(std::string_view s) {
  std::size_t slash = s.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  for (char c : s.substr(0, slash)) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return IsFhirId(s.substr(slash + 1));
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

const char* TypeName(FieldType t) {
  switch (t) {
    case FieldType::kString:
      return "a non-empty string";
    case FieldType::kArrayOfStrings:
      return "a non-empty array of strings";
    case FieldType::kObject:
      return "an object";
  }
  return "";
}

bool HasType(const rapidjson::Value& v, FieldType t) {
  switch (t) {
    case FieldType::kString:
      return v.IsString() && !IsBlank(json::AsStringView(v));
    case FieldType::kObject:
      return v.IsObject();
    case FieldType::kArrayOfStrings:
      if (!v.IsArray() || v.Empty()) return false;
      for (const auto& e : v.GetArray()) {
        if (!e.IsString()) return false;
      }
      return true;
  }
  return false;
}

Status ValidateFhirAuthorization(const rapidjson::Value& auth) {
  if (!auth.IsObject())
    return InvalidArgument("fhirAuthorization must be an object", "fhirAuthorization");
  auto token = json::GetString(auth, "access_token");
  if (!token || IsBlank(*token)) {
    return InvalidArgument("fhirAuthorization.access_token must be a non-empty string",
                           "fhirAuthorization.access_token");
  }
  auto type = json::GetString(auth, "token_type");
  if (!type || (*type != "Bearer" && *type != "bearer")) {
    return InvalidArgument("fhirAuthorization.token_type must be \"Bearer\"",
                           "fhirAuthorization.token_type");
  }
  // The remaining members are REQUIRED by the spec but not needed to call the FHIR server; real
  // clients omit some of them, so only their types are checked when present.
  if (const auto* v = json::Find(auth, "expires_in"); v != nullptr && !v->IsNumber()) {
    return InvalidArgument("fhirAuthorization.expires_in must be a number of seconds",
                           "fhirAuthorization.expires_in");
  }
  for (std::string_view key : {"scope", "subject", "patient"}) {
    if (const auto* v = json::Find(auth, key); v != nullptr && !v->IsString()) {
      return InvalidArgument("fhirAuthorization." + std::string(key) + " must be a string",
                             "fhirAuthorization." + std::string(key));
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsKnownHook(std::string_view hook) { return FindHook(hook) != nullptr; }

Status ValidateHookRequest(const rapidjson::Value& request, std::string_view expected_hook) {
  if (!request.IsObject()) return InvalidArgument("the request body must be a JSON object", "$");

  const rapidjson::Value* hook = json::Find(request, "hook");
  if (hook == nullptr) return InvalidArgument("hook is required", "hook");
  if (!hook->IsString()) return InvalidArgument("hook must be a string", "hook");
  if (json::AsStringView(*hook) != expected_hook) {
    return InvalidArgument("hook '" + std::string(json::AsStringView(*hook)) +
                               "' does not match this service, which answers '" +
                               std::string(expected_hook) + "'",
                           "hook");
  }

  const rapidjson::Value* instance = json::Find(request, "hookInstance");
  if (instance == nullptr) return InvalidArgument("hookInstance is required", "hookInstance");
  if (!instance->IsString() || IsBlank(json::AsStringView(*instance))) {
    return InvalidArgument("hookInstance must be a non-empty string", "hookInstance");
  }

  const rapidjson::Value* server = json::Find(request, "fhirServer");
  if (server != nullptr &&
      (!server->IsString() || !IsAbsoluteHttpUrl(json::AsStringView(*server)))) {
    return InvalidArgument("fhirServer must be an absolute http(s) URL", "fhirServer");
  }
  if (const rapidjson::Value* auth = json::Find(request, "fhirAuthorization")) {
    if (server == nullptr) {
      return InvalidArgument("fhirServer is required when fhirAuthorization is present (cds-r-1)",
                             "fhirServer");
    }
    CEPHALGIA_RETURN_IF_ERROR(ValidateFhirAuthorization(*auth));
  }

  const rapidjson::Value* context = json::Find(request, "context");
  if (context == nullptr) return InvalidArgument("context is required", "context");
  if (!context->IsObject()) return InvalidArgument("context must be an object", "context");
  if (const HookContext* known = FindHook(expected_hook)) {
    for (const ContextField& field : known->required) {
      if (field.name.empty()) break;
      std::string where = "context." + std::string(field.name);
      const rapidjson::Value* v = json::Find(*context, field.name);
      if (v == nullptr) {
        return InvalidArgument(where + " is required for hook " + std::string(expected_hook),
                               where);
      }
      if (!HasType(*v, field.type)) {
        return InvalidArgument(where + " must be " + TypeName(field.type), where);
      }
    }
    // Ids go into FHIR URLs: they must be FHIR ids (and userId a `Type/id` reference).
    for (std::string_view field : {"patientId", "encounterId"}) {
      const rapidjson::Value* v = json::Find(*context, field);
      if (v != nullptr && (!v->IsString() || !IsFhirId(json::AsStringView(*v)))) {
        return InvalidArgument("context." + std::string(field) +
                                   " must be a FHIR id ([A-Za-z0-9-.], at most 64 characters, "
                                   "not only dots)",
                               "context." + std::string(field));
      }
    }
    if (const rapidjson::Value* user = json::Find(*context, "userId")) {
      if (!user->IsString() || !IsTypeSlashId(json::AsStringView(*user))) {
        return InvalidArgument(
            "context.userId must be a reference such as Practitioner/123 "
            "(its id a FHIR id, not only dots)",
            "context.userId");
      }
    }
  }

  if (const rapidjson::Value* prefetch = json::Find(request, "prefetch")) {
    if (!prefetch->IsObject()) return InvalidArgument("prefetch must be an object", "prefetch");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The envelope scan: one SAX pass, the same technique as the service's card scanner.

const ScannedValue& HookEnvelope::ContextField(std::string_view name) const {
  static const ScannedValue kAbsent;
  for (const auto& [key, value] : context_fields) {
    if (key == name) return value;
  }
  return kAbsent;
}

const ScannedPrefetch* HookEnvelope::FindPrefetch(std::string_view key) const {
  for (const ScannedPrefetch& p : prefetch_values) {
    if (p.first && p.key == key) return &p;
  }
  return nullptr;
}

namespace {

using Kind = ScannedValue::Kind;

// Collects a HookEnvelope. Each open object or array is a frame with a role; only the frames the
// host reads are followed (the root, context, fhirAuthorization, prefetch, and inside each
// prefetch value the resource, its `entry` and `link` arrays and their elements), everything
// else is skipped by depth. A lookup by name finds the first member with that name (as
// rapidjson's FindMember does), so each role remembers which names it has seen.
class EnvelopeScanner : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, EnvelopeScanner> {
 public:
  // `text` is what is scanned: the body as the client sent it (not in situ), or the envelope's
  // own in-situ copy of it (RapidJSON's reader).
  EnvelopeScanner(HookEnvelope& out, const std::vector<std::string_view>& read_types,
                  std::string_view text)
      : out_(out), read_types_(read_types), text_(text) {
    // Reserved once: a hook request nests up to 8 frames (the root, prefetch, a Bundle, its
    // `entry` array, an entry, its resource, that resource's `link` array and a link), and growing
    // 1 -> 2 -> 4 -> 8 allocated four times per request. Deeper nesting still grows it.
    frames_.reserve(8);
  }

  // A string the envelope keeps did not fit in its buffer (never, as the buffer is reserved to
  // the body's size and each string of the body is kept at most once; if it ever did, the scan is
  // left to RapidJSON's in-situ pass, whose strings all lie in the buffer already).
  bool overflowed() const { return overflowed_; }

  bool Null() { return Scalar(Kind::kNull); }
  bool Bool(bool) { return Scalar(Kind::kBool); }
  bool Int(int i) { return Number(true, i); }
  bool Uint(unsigned u) { return Number(true, u); }
  bool Int64(int64_t i) { return Number(true, i); }
  bool Uint64(uint64_t u) {
    bool fits = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    return Number(fits, fits ? static_cast<int64_t>(u) : 0);
  }
  bool Double(double) { return Number(false, 0); }
  [[gnu::always_inline]] bool String(const char* s, rapidjson::SizeType n, bool) {
    if (skip_depth_ > 0 || !KeyRead()) return true;
    std::string_view text(s, n);
    if (ScannedValue* v = Slot()) {
      v->kind = Kind::kString;
      v->text = Keep(text);
    }
    if (frames_.empty()) return true;
    Frame& f = frames_.back();
    switch (f.role) {
      case Role::kContextArray:
        break;  // counted in Element()
      case Role::kResource:
        if (Is(f.key, "resourceType") && !f.seen_type) {
          f.seen_type = true;
          f.type = Stable(text);
          f.type_is_string = true;
        } else if (Is(f.key, "id") && !f.seen_id) {
          f.seen_id = true;
          f.id = Stable(text);
          f.id_is_string = true;
        }
        break;
      case Role::kLink:
        if (Is(f.key, "relation") && !f.seen_relation) {
          f.seen_relation = true;
          f.relation_next = Is(text, "next");
        } else if (Is(f.key, "url") && !f.seen_url) {
          f.seen_url = true;
          f.url = Stable(text);
        }
        break;
      default:
        break;
    }
    return AfterValue();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (skip_depth_ == 0) {
      Frame& f = frames_.back();
      f.key = Stable(std::string_view(s, n));
      f.key_read = IsReadKey(f.role, f.key);
    }
    return true;
  }
  bool StartObject() { return Open(true); }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  // For json_scan: the contents of a container no role reads are checked without events.
  bool WantsContents() const { return skip_depth_ == 0; }
  // For json_scan, right after a key: the value of a member its frame does not read (KeyRead) is
  // checked without events; its events would change nothing (each returns at once for it).
  bool WantsValue() const { return KeyRead(); }
  // For json_scan, right after a member's value: the rest of a resource, entry or link is checked
  // without events once every member it reads (the first of each name) has been seen; a
  // resource's `entry` and `link` matter only in a Bundle. Their events would change nothing.
  bool WantsRest() const {
    if (skip_depth_ > 0) return false;
    const Frame& f = frames_.back();
    switch (f.role) {
      case Role::kResource:
        return !(f.seen_type && f.seen_id &&
                 (!(f.type_is_string && Is(f.type, "Bundle")) || (f.seen_entry && f.seen_link)));
      case Role::kEntry:
        return !f.seen_resource;
      case Role::kLink:
        return !(f.seen_relation && f.seen_url);
      default:
        return true;
    }
  }
  bool StartArray() { return Open(false); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

 private:
  enum class Role : std::uint8_t {
    kSkip,  // not read
    kRoot,
    kContext,
    kContextArray,  // a top-level context member that is an array
    kAuth,
    kPrefetch,
    kResource,  // a prefetch value, or the first `resource` of an entry of a Bundle
    kEntries,   // a resource's first `entry` member, an array
    kEntry,     // an element of kEntries
    kLinks,     // a resource's first `link` member, an array
    kLink,      // an element of kLinks
  };
  // Members laid out flags first, then pointers and counts, then strings, and set by a
  // constructor: their initializers take a few wide stores. Value-initialised (emplace_back()),
  // its 160 bytes were zeroed by a 20-step `rep stos` at every frame, then its `true` flags set.
  struct Frame {
    Frame(Role r, bool object) : role(r), is_object(object) {}
    Role role;
    bool is_object;
    // Whether the role reads the value of the member `key` names (always, in an array).
    bool key_read = true;
    // kResource
    bool seen_type = false, type_is_string = false, seen_id = false, id_is_string = false;
    bool seen_entry = false, seen_link = false;
    bool all_outcomes = true;  // every entry's first `resource` is an OperationOutcome
    bool paged = false;
    bool is_prefetch_value = false;
    // kEntry
    bool seen_resource = false, resource_is_outcome = false;
    // kLink
    bool seen_relation = false, relation_next = false, seen_url = false;
    // kRoot / kContext / kAuth: which first-occurrence slots have been taken
    std::uint32_t seen_mask = 0;
    ScannedValue* array_slot = nullptr;  // kContextArray: the value being counted
    // kResource
    std::size_t entries = 0;
    std::size_t held_begin = 0;
    std::size_t prefetch_index = 0;  // a prefetch value: its ScannedPrefetch
    std::string_view key;
    // kResource
    std::string_view type, id;
    std::string_view next_url;
    // kLink
    std::string_view url;
  };

  // The members a resource, an entry or a link reads; the value of any other member means
  // nothing to them (no slot, no mark), so its events return at once.
  // Whether `key`, whose length the caller has checked is the literal's, spells `name`: two
  // overlapping loads of up to 8 bytes each, compared inline (std::memcmp here was a call for
  // every key of a resource with the length of a name it reads, recordedDate for resourceType).
  template <std::size_t N>
  [[gnu::always_inline]] static bool Spells(std::string_view key, const char (&name)[N]) {
    constexpr std::size_t n = N - 1;
    static_assert(n >= 2 && n <= 16);
    auto load = [](const char* p, auto word) {
      std::memcpy(&word, p, sizeof word);
      return word;
    };
    if constexpr (n >= 8) {
      return load(key.data(), std::uint64_t{}) == load(name, std::uint64_t{}) &&
             load(key.data() + n - 8, std::uint64_t{}) == load(name + n - 8, std::uint64_t{});
    } else if constexpr (n >= 4) {
      return load(key.data(), std::uint32_t{}) == load(name, std::uint32_t{}) &&
             load(key.data() + n - 4, std::uint32_t{}) == load(name + n - 4, std::uint32_t{});
    } else {
      return load(key.data(), std::uint16_t{}) == load(name, std::uint16_t{}) &&
             key[n - 1] == name[n - 1];
    }
  }
  // Whether `s` is `name`: its length, then Spells (string_view's == called out to compare).
  template <std::size_t N>
  [[gnu::always_inline]] static bool Is(std::string_view s, const char (&name)[N]) {
    return s.size() == N - 1 && Spells(s, name);
  }
  static bool IsReadKey(Role role, std::string_view key) {
    // By length first: most keys are told apart without looking at their bytes.
    auto is = [key](const auto& name) { return Spells(key, name); };
    switch (role) {
      case Role::kResource:
        switch (key.size()) {
          case 2:
            return is("id");
          case 4:
            return is("link");
          case 5:
            return is("entry");
          case 12:
            return is("resourceType");
          default:
            return false;
        }
      case Role::kEntry:
        return key.size() == 8 && is("resource");
      case Role::kLink:
        return (key.size() == 8 && is("relation")) || (key.size() == 3 && is("url"));
      default:
        return true;
    }
  }
  bool KeyRead() const { return frames_.empty() || frames_.back().key_read; }

  // The value slot the next value fills, when it is one the host reads (first occurrence only).
  // Only the root, the context and fhirAuthorization have slots: the frames of resources,
  // entries and links (most of the events) are told inline, without the call, whose saving and
  // restoring of registers cost more than its answer.
  [[gnu::always_inline]] ScannedValue* Slot() {
    if (frames_.empty()) return nullptr;
    const Role role = frames_.back().role;
    if (role != Role::kRoot && role != Role::kAuth && role != Role::kContext) return nullptr;
    return SlotOf(frames_.back());
  }
  [[gnu::noinline]] ScannedValue* SlotOf(Frame& f) {
    auto claim = [&f](int bit, ScannedValue& v) -> ScannedValue* {
      if (f.seen_mask & (1u << bit)) return nullptr;
      f.seen_mask |= 1u << bit;
      return &v;
    };
    if (f.role == Role::kRoot) {
      if (f.key == "hook") return claim(0, out_.hook);
      if (f.key == "hookInstance") return claim(1, out_.hook_instance);
      if (f.key == "fhirServer") return claim(2, out_.fhir_server);
      if (f.key == "fhirAuthorization") return claim(3, out_.fhir_authorization);
      if (f.key == "context") return claim(4, out_.context);
      if (f.key == "prefetch") return claim(5, out_.prefetch);
      return nullptr;
    }
    if (f.role == Role::kAuth) {
      if (f.key == "access_token") return claim(0, out_.access_token);
      if (f.key == "token_type") return claim(1, out_.token_type);
      if (f.key == "expires_in") return claim(2, out_.expires_in);
      if (f.key == "scope") return claim(3, out_.scope);
      if (f.key == "subject") return claim(4, out_.subject);
      if (f.key == "patient") return claim(5, out_.patient);
      return nullptr;
    }
    if (f.role == Role::kContext) {
      out_.context_fields.emplace_back(Keep(f.key), ScannedValue{});
      return &out_.context_fields.back().second;
    }
    return nullptr;
  }

  // An element of a context array: counted, and whether all are strings.
  void Element(Kind kind) {
    Frame& f = frames_.back();
    if (f.role != Role::kContextArray) return;
    ++f.array_slot->array_size;
    if (kind != Kind::kString) f.array_slot->array_all_strings = false;
  }

  bool Scalar(Kind kind) {
    if (skip_depth_ > 0 || !KeyRead()) return true;
    if (ScannedValue* v = Slot()) v->kind = kind;
    return AfterValue(kind);
  }
  bool Number(bool is_int64, int64_t value) {
    if (skip_depth_ > 0 || !KeyRead()) return true;
    if (ScannedValue* v = Slot()) {
      v->kind = Kind::kNumber;
      v->is_int64 = is_int64;
      v->int64 = value;
    }
    return AfterValue(Kind::kNumber);
  }

  // A scalar (or a string) ended: what it means to the frame that holds it.
  bool AfterValue(Kind kind = Kind::kString) {
    if (frames_.empty()) return true;
    Frame& f = frames_.back();
    switch (f.role) {
      case Role::kContextArray:
        Element(kind);
        break;
      case Role::kPrefetch:
        AddPrefetch(kind == Kind::kNull ? PrefetchState::kNoData : PrefetchState::kError);
        break;
      case Role::kResource:
        if (Is(f.key, "resourceType")) f.seen_type = true;
        if (Is(f.key, "id")) f.seen_id = true;
        if (Is(f.key, "entry")) f.seen_entry = true;
        if (Is(f.key, "link")) f.seen_link = true;
        break;
      case Role::kEntries:
        f.all_outcomes = false, ++f.entries;
        break;
      case Role::kEntry:
        if (Is(f.key, "resource")) f.seen_resource = true;
        break;
      case Role::kLink:
        if (Is(f.key, "relation")) f.seen_relation = true;
        if (Is(f.key, "url")) f.seen_url = true;
        break;
      default:
        break;
    }
    return true;
  }

  void AddPrefetch(PrefetchState state) {
    ScannedPrefetch p;
    p.key = Keep(frames_.back().key);
    p.state = state;  // `first` is settled once the scan is done (MarkFirstOccurrences)
    p.held_begin = p.held_end = out_.held.size();
    out_.prefetch_values.push_back(p);
  }

  bool Open(bool is_object) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    if (frames_.empty()) {
      out_.root_is_object = is_object;
      if (!is_object) {
        ++skip_depth_;
        return true;
      }
      frames_.emplace_back(Role::kRoot, /*object=*/true);
      return true;
    }
    if (!frames_.back().key_read) {
      ++skip_depth_;
      return true;
    }
    // What the new container's frame starts with; most containers get none (kSkip), so a whole
    // Frame is built only for those a role reads.
    struct {
      Role role = Role::kSkip;
      ScannedValue* array_slot = nullptr;
      bool is_prefetch_value = false;
      std::size_t prefetch_index = 0, held_begin = 0;
    } next;
    Kind kind = is_object ? Kind::kObject : Kind::kArray;
    ScannedValue* slot = Slot();
    if (slot != nullptr) slot->kind = kind;
    Frame& f = frames_.back();
    switch (f.role) {
      case Role::kRoot:
        if (slot == &out_.context && is_object) next.role = Role::kContext;
        if (slot == &out_.fhir_authorization && is_object) next.role = Role::kAuth;
        if (slot == &out_.prefetch && is_object) next.role = Role::kPrefetch;
        break;
      case Role::kContext:
        if (!is_object) {
          next.role = Role::kContextArray;
          next.array_slot = slot;
        }
        break;
      case Role::kContextArray:
        Element(kind);
        break;
      case Role::kPrefetch:
        if (is_object) {
          AddPrefetch(PrefetchState::kSatisfied);
          next.role = Role::kResource;
          next.is_prefetch_value = true;
          next.prefetch_index = out_.prefetch_values.size() - 1;
          next.held_begin = out_.held.size();
        } else {
          AddPrefetch(PrefetchState::kError);
        }
        break;
      case Role::kResource:
        if (Is(f.key, "entry") && !f.seen_entry) {
          f.seen_entry = true;
          if (!is_object) next.role = Role::kEntries;
        } else if (Is(f.key, "link") && !f.seen_link) {
          f.seen_link = true;
          if (!is_object) next.role = Role::kLinks;
        } else if (Is(f.key, "resourceType")) {
          f.seen_type = true;
        } else if (Is(f.key, "id")) {
          f.seen_id = true;
        }
        break;
      case Role::kEntries:
        ++f.entries;
        if (is_object) {
          next.role = Role::kEntry;
        } else {
          f.all_outcomes = false;
        }
        break;
      case Role::kEntry:
        if (Is(f.key, "resource") && !f.seen_resource) {
          f.seen_resource = true;
          if (is_object) {
            next.role = Role::kResource;
            next.held_begin = out_.held.size();
          }
        }
        break;
      case Role::kLinks:
        if (is_object) next.role = Role::kLink;
        break;
      case Role::kLink:
        if (Is(f.key, "relation")) f.seen_relation = true;
        if (Is(f.key, "url")) f.seen_url = true;
        break;
      default:
        break;
    }
    if (next.role == Role::kSkip) {
      ++skip_depth_;
      return true;
    }
    Frame& frame = frames_.emplace_back(next.role, is_object);  // `f` is not used past here
    frame.array_slot = next.array_slot;
    frame.is_prefetch_value = next.is_prefetch_value;
    frame.prefetch_index = next.prefetch_index;
    frame.held_begin = next.held_begin;
    return true;
  }

  bool Close() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    if (frames_.size() == 1) {
      frames_.pop_back();
      return true;
    }
    const Frame& done = frames_.back();
    Frame& parent = frames_[frames_.size() - 2];
    switch (done.role) {
      case Role::kResource: {
        bool outcome = done.type_is_string && Is(done.type, "OperationOutcome");
        bool bundle = done.type_is_string && Is(done.type, "Bundle");
        // Only a Bundle holds what its entries are; then the resource itself.
        if (!bundle) out_.held.resize(done.held_begin);
        if (done.type_is_string && done.id_is_string && IsReadType(done.type)) {
          out_.held.emplace_back(Keep(done.type), Keep(done.id));
        }
        if (parent.role == Role::kEntry) {
          parent.resource_is_outcome = outcome;
        } else if (done.is_prefetch_value) {
          ScannedPrefetch& p = out_.prefetch_values[done.prefetch_index];
          p.held_end = out_.held.size();
          if (outcome) {
            p.state = PrefetchState::kError;
          } else if (!bundle) {
            p.state = PrefetchState::kSatisfied;
          } else if (done.entries > 0 && done.all_outcomes) {
            p.state = PrefetchState::kError;
          } else if (done.paged) {
            p.state = PrefetchState::kPaged;
            p.next_url = done.next_url;
          }
        }
        break;
      }
      case Role::kEntries:
        parent.entries = done.entries;
        parent.all_outcomes = done.all_outcomes;
        break;
      case Role::kEntry:
        if (!done.resource_is_outcome) parent.all_outcomes = false;
        break;
      case Role::kLinks:
        parent.paged = done.paged;
        parent.next_url = done.next_url;
        break;
      case Role::kLink:
        // The first `next` link with a non-empty url.
        if (!parent.paged && done.relation_next && done.seen_url && !done.url.empty() &&
            done.url.data() != nullptr) {
          parent.paged = true;
          parent.next_url = Keep(done.url);
        }
        break;
      default:
        break;
    }
    frames_.pop_back();
    return true;
  }

  bool IsReadType(std::string_view type) const {
    for (std::string_view t : read_types_) {
      if (t == type) return true;
    }
    return false;
  }

  // The strings the envelope keeps are copied into its buffer (unless they lie there already, as
  // in RapidJSON's in-situ pass): the body it was scanned from need not outlive it.
  [[gnu::noinline]] std::string_view Keep(std::string_view s) {
    std::string& buffer = out_.buffer;
    if (StartsIn(s, buffer.data(), buffer.size())) return s;
    if (buffer.capacity() - buffer.size() < s.size()) {
      overflowed_ = true;
      return s;
    }
    const std::size_t at = buffer.size();
    buffer.append(s.data(), s.size());  // within the capacity: earlier views stay valid
    return std::string_view(buffer.data() + at, s.size());
  }
  // A string read later in the scan (a key, a resource's type and id, a link's url): one the
  // tokenizer decoded (it had escapes) lies in its scratch buffer only during its event, so it is
  // kept; one in the scanned text stays where it lies.
  [[gnu::always_inline]] std::string_view Stable(std::string_view s) {
    return StartsIn(s, text_.data(), text_.size()) ? s : Keep(s);
  }
  // Every string an event gives lies wholly in the scanned text, the tokenizer's scratch buffer
  // or the envelope's buffer, which do not overlap: where it starts says which (one compare).
  static bool StartsIn(std::string_view s, const char* begin, std::size_t size) {
    return reinterpret_cast<std::uintptr_t>(s.data()) - reinterpret_cast<std::uintptr_t>(begin) <=
           size;
  }

  HookEnvelope& out_;
  const std::vector<std::string_view>& read_types_;
  const std::string_view text_;
  bool overflowed_ = false;
  std::vector<Frame> frames_;
  // Containers no role reads get no frame: how deep the scan is inside one (0: not inside). The
  // fast tokenizer sends no events from inside them (WantsContents); RapidJSON's reader does.
  int skip_depth_ = 0;
};

// Which prefetch members are the first of their name: linear in the number of members (a
// hostile request may send 100,000 keys), pairwise only for the handful a real one has.
void MarkFirstOccurrences(std::vector<ScannedPrefetch>& values) {
  constexpr std::size_t kPairwise = 32;
  if (values.size() <= kPairwise) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      for (std::size_t j = 0; j < i && values[i].first; ++j) {
        if (values[j].key == values[i].key) values[i].first = false;
      }
    }
    return;
  }
  std::unordered_set<std::string_view> seen;
  seen.reserve(values.size());
  for (ScannedPrefetch& p : values) p.first = seen.insert(p.key).second;
}

const char* KindTypeName(FieldType t) { return TypeName(t); }

bool HasType(const ScannedValue& v, FieldType t) {
  switch (t) {
    case FieldType::kString:
      return v.is_string() && !IsBlank(v.text);
    case FieldType::kObject:
      return v.kind == Kind::kObject;
    case FieldType::kArrayOfStrings:
      return v.kind == Kind::kArray && v.array_size > 0 && v.array_all_strings;
  }
  return false;
}

Status ValidateFhirAuthorization(const HookEnvelope& r) {
  if (r.fhir_authorization.kind != Kind::kObject) {
    return InvalidArgument("fhirAuthorization must be an object", "fhirAuthorization");
  }
  if (!r.access_token.is_string() || IsBlank(r.access_token.text)) {
    return InvalidArgument("fhirAuthorization.access_token must be a non-empty string",
                           "fhirAuthorization.access_token");
  }
  if (!r.token_type.is_string() ||
      (r.token_type.text != "Bearer" && r.token_type.text != "bearer")) {
    return InvalidArgument("fhirAuthorization.token_type must be \"Bearer\"",
                           "fhirAuthorization.token_type");
  }
  if (r.expires_in.present() && r.expires_in.kind != Kind::kNumber) {
    return InvalidArgument("fhirAuthorization.expires_in must be a number of seconds",
                           "fhirAuthorization.expires_in");
  }
  const std::pair<std::string_view, const ScannedValue*> optional[] = {
      {"scope", &r.scope}, {"subject", &r.subject}, {"patient", &r.patient}};
  for (const auto& [key, v] : optional) {
    if (v->present() && !v->is_string()) {
      return InvalidArgument("fhirAuthorization." + std::string(key) + " must be a string",
                             "fhirAuthorization." + std::string(key));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<HookEnvelope> ScanHookRequest(std::string_view body, std::size_t max_bytes,
                                     const std::vector<std::string_view>& read_types) {
  if (body.size() > max_bytes) {
    return Status(StatusCode::kPayloadTooLarge, "JSON body of " + std::to_string(body.size()) +
                                                    " bytes exceeds the limit of " +
                                                    std::to_string(max_bytes) + " bytes");
  }
  HookEnvelope envelope;
  // The fast tokenizer first, over the body where it lies (read only); the strings the envelope
  // keeps are copied into its buffer. Anything the tokenizer leaves (it accepts only what
  // RapidJSON accepts, and only UTF-8 without NUL) goes through the UTF-8 check and RapidJSON's
  // reader in situ over the buffer (ParseInsituWith), whose verdict and message are the ones the
  // client gets.
  // Never in the string's small-buffer storage: the views into it must survive the moves of
  // the envelope (a heap buffer moves with it; an inline one would not). Reserved once: the kept
  // strings never make it grow, so no view into it is ever left dangling.
  constexpr std::size_t kMinBuffer = 64;
  envelope.buffer.reserve(std::max(body.size() + 1, kMinBuffer));
  {
    EnvelopeScanner fast(envelope, read_types, body);
    // const_cast: not in situ, the tokenizer only reads the text.
    if (json_scan::Scan(const_cast<char*>(body.data()), body.size(), fast, /*in_situ=*/false,
                        json::kMaxNestingDepth) &&
        !fast.overflowed()) {
      MarkFirstOccurrences(envelope.prefetch_values);
      return envelope;
    }
  }
  envelope = HookEnvelope{};
  envelope.buffer.reserve(std::max(body.size() + 1, kMinBuffer));
  EnvelopeScanner scanner(envelope, read_types, body);
  CEPHALGIA_RETURN_IF_ERROR(json::ParseInsituWith(scanner, body, envelope.buffer));
  MarkFirstOccurrences(envelope.prefetch_values);
  return envelope;
}

Status ValidateHookEnvelope(const HookEnvelope& request, std::string_view expected_hook) {
  if (!request.root_is_object)
    return InvalidArgument("the request body must be a JSON object", "$");

  const ScannedValue& hook = request.hook;
  if (!hook.present()) return InvalidArgument("hook is required", "hook");
  if (!hook.is_string()) return InvalidArgument("hook must be a string", "hook");
  if (hook.text != expected_hook) {
    return InvalidArgument("hook '" + std::string(hook.text) +
                               "' does not match this service, which answers '" +
                               std::string(expected_hook) + "'",
                           "hook");
  }

  const ScannedValue& instance = request.hook_instance;
  if (!instance.present()) return InvalidArgument("hookInstance is required", "hookInstance");
  if (!instance.is_string() || IsBlank(instance.text)) {
    return InvalidArgument("hookInstance must be a non-empty string", "hookInstance");
  }

  const ScannedValue& server = request.fhir_server;
  if (server.present() && (!server.is_string() || !IsAbsoluteHttpUrl(server.text))) {
    return InvalidArgument("fhirServer must be an absolute http(s) URL", "fhirServer");
  }
  if (request.fhir_authorization.present()) {
    if (!server.present()) {
      return InvalidArgument("fhirServer is required when fhirAuthorization is present (cds-r-1)",
                             "fhirServer");
    }
    CEPHALGIA_RETURN_IF_ERROR(ValidateFhirAuthorization(request));
  }

  if (!request.context.present()) return InvalidArgument("context is required", "context");
  if (request.context.kind != Kind::kObject) {
    return InvalidArgument("context must be an object", "context");
  }
  if (const HookContext* known = FindHook(expected_hook)) {
    for (const ContextField& field : known->required) {
      if (field.name.empty()) break;
      std::string where = "context." + std::string(field.name);
      const ScannedValue& v = request.ContextField(field.name);
      if (!v.present()) {
        return InvalidArgument(where + " is required for hook " + std::string(expected_hook),
                               where);
      }
      if (!HasType(v, field.type)) {
        return InvalidArgument(where + " must be " + KindTypeName(field.type), where);
      }
    }
    for (std::string_view field : {"patientId", "encounterId"}) {
      const ScannedValue& v = request.ContextField(field);
      if (v.present() && (!v.is_string() || !IsFhirId(v.text))) {
        return InvalidArgument("context." + std::string(field) +
                                   " must be a FHIR id ([A-Za-z0-9-.], at most 64 characters, "
                                   "not only dots)",
                               "context." + std::string(field));
      }
    }
    if (const ScannedValue& user = request.ContextField("userId"); user.present()) {
      if (!user.is_string() || !IsTypeSlashId(user.text)) {
        return InvalidArgument(
            "context.userId must be a reference such as Practitioner/123 "
            "(its id a FHIR id, not only dots)",
            "context.userId");
      }
    }
  }

  if (request.prefetch.present() && request.prefetch.kind != Kind::kObject) {
    return InvalidArgument("prefetch must be an object", "prefetch");
  }
  return Status::Ok();
}

}  // namespace cephalgia::hooks
