#include "cephalgia/fhir/resource_index.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>

#include "cephalgia/fhir/resources.h"
#include "cephalgia/json.h"
#include "json_names.h"
#include "short_hash.h"

namespace cephalgia::fhir {

using rapidjson::Value;

namespace {

std::string_view View(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

const Value* Member(const Value& object, std::string_view key) {
  return FindMemberNamed(object, key);
}

// A resource type's list is found by comparing names inline (string_view's == called memcmp
// for each list of the same length).
bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && SameBytes(a.data(), b.data(), a.size());
}

}  // namespace

std::size_t ResourceIndex::RefTable::Hash(std::string_view a, std::string_view b) {
  std::size_t h = ShortHash(a);
  if (!b.empty()) h = ShortHash(b, h);
  return h;
}

bool ResourceIndex::RefTable::Matches(const IndexedResource& r, std::string_view a,
                                      std::string_view b) const {
  if (key_ == Key::kFullUrl) return r.full_url == a && b.empty();
  return r.resource_type == a && r.id == b;
}

void ResourceIndex::RefTable::Reserve(std::size_t n) {
  // 64 slots (1 KiB) from the start: a hook request's Bundles arrive one per prefetch key, and
  // growing 16 -> 32 -> 64 as each was indexed rehashed the table at nearly every Bundle.
  std::size_t want = 64;
  while (want < 2 * n) want *= 2;  // load factor at most 1/2
  if (want <= slots_.size()) return;
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(want, Entry());
  for (const Entry& e : old) {
    if (e.value == nullptr) continue;
    std::size_t i = e.hash & (want - 1);
    while (slots_[i].value != nullptr) i = (i + 1) & (want - 1);
    slots_[i] = e;
  }
}

const IndexedResource** ResourceIndex::RefTable::Slot(std::string_view a, std::string_view b) {
  if (2 * (used_ + 1) > slots_.size()) Reserve(used_ + 1);
  std::size_t h = Hash(a, b);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    Entry& e = slots_[i];
    if (e.value == nullptr) {
      // Claimed now; the caller stores the value (a slot left null is reused by the next call).
      e.hash = h;
      ++used_;
      return &e.value;
    }
    if (e.hash == h && Matches(*e.value, a, b)) return &e.value;
  }
}

const IndexedResource* ResourceIndex::RefTable::Find(std::string_view a, std::string_view b) const {
  if (slots_.empty()) return nullptr;
  std::size_t h = Hash(a, b);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Entry& e = slots_[i];
    if (e.value == nullptr) return nullptr;
    if (e.hash == h && Matches(*e.value, a, b)) return e.value;
  }
}

ResourceIndex::ResourceIndex(IssueSink* sink) : sink_(sink) {}
ResourceIndex::ResourceIndex(ResourceIndex&&) noexcept = default;
ResourceIndex& ResourceIndex::operator=(ResourceIndex&&) noexcept = default;
ResourceIndex::~ResourceIndex() = default;

Status ResourceIndex::AddJson(std::string_view text, std::string_view origin,
                              std::size_t max_bytes) {
  std::string where = origin.empty() ? std::string("$") : std::string(origin);
  if (text.size() > max_bytes) {
    Status s(StatusCode::kPayloadTooLarge,
             "JSON of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                 std::to_string(max_bytes) + " bytes",
             where);
    if (sink_ != nullptr) sink_->Error(IssueCode::kTooCostly, where, s.message());
    return s;
  }
  // The whole text is checked for UTF-8 and NUL bytes up front (several times faster than
  // RapidJSON's per-character check), then parsed in situ (strings stay in `buffer`) by the
  // recursive parser behind a depth limit: deeper than kMaxJsonDepth and trailing content are
  // refused. See json::ParseInsituInto.
  std::vector<char> buffer;
  auto doc = std::make_unique<rapidjson::Document>();
  bool too_deep = false;
  if (Status parsed = json::ParseInsituInto(*doc, text, buffer, kMaxJsonDepth, &too_deep);
      !parsed.ok()) {
    Status s = InvalidArgument(parsed.message(), where);
    if (sink_ != nullptr) {
      sink_->Error(too_deep ? IssueCode::kTooCostly : IssueCode::kStructure, where, s.message());
    }
    return s;
  }
  const Value& root = *doc;
  owned_buffers_.push_back(std::move(buffer));
  owned_docs_.push_back(std::move(doc));
  // The origin is also the root's location.
  std::string_view stored = StoreText({origin});
  Walk(root, stored, stored, {}, 0);
  return Status::Ok();
}

void ResourceIndex::Add(rapidjson::Document&& doc, std::string_view origin) {
  auto owned = std::make_unique<rapidjson::Document>(std::move(doc));
  const Value& root = *owned;
  owned_docs_.push_back(std::move(owned));
  std::string_view stored = StoreText({origin});
  Walk(root, stored, stored, {}, 0);
}

void ResourceIndex::Add(const Value& value, std::string_view origin) {
  std::string_view stored = StoreText({origin});
  Walk(value, stored, stored, {}, 0);
}

char* ResourceIndex::TextSpace(std::size_t size) {
  if (size > text_left_) {
    // 2 KiB holds the locations of a hook request's resources; a longer text gets its own block.
    constexpr std::size_t kBlock = 2048;
    std::size_t capacity = std::max(size, kBlock);
    text_blocks_.push_back(std::make_unique_for_overwrite<char[]>(capacity));
    text_next_ = text_blocks_.back().get();
    text_left_ = capacity;
  }
  char* out = text_next_;
  text_next_ += size;
  text_left_ -= size;
  return out;
}

std::string_view ResourceIndex::StoreText(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  if (size == 0) return {};
  char* out = TextSpace(size);
  char* next = out;
  for (std::string_view p : parts) {
    if (!p.empty()) std::memcpy(next, p.data(), p.size());
    next += p.size();
  }
  return {out, size};
}

void ResourceIndex::Walk(const Value& value, std::string_view origin, std::string_view location,
                         std::string_view full_url, int depth) {
  if (value.IsNull()) return;  // a prefetch the EHR could not fill: no data, not an error
  if (!value.IsObject()) {
    if (sink_ != nullptr) {
      sink_->Error(IssueCode::kStructure,
                   location.empty() ? std::string("$") : std::string(location),
                   std::string("expected a FHIR resource (JSON object), got ") +
                       std::string(JsonTypeName(value)));
    }
    return;
  }
  IndexResource(value, origin, location, full_url, depth);
}

void ResourceIndex::IndexResource(const Value& value, std::string_view origin,
                                  std::string_view location, std::string_view full_url, int depth) {
  const Value* type = Member(value, "resourceType");
  if (type == nullptr || !type->IsString() || type->GetStringLength() == 0) {
    if (sink_ != nullptr) {
      std::string where = location.empty() ? std::string("$") : std::string(location);
      sink_->Error(IssueCode::kRequired, where + ".resourceType",
                   type == nullptr ? "resourceType is missing; the object is skipped"
                                   : "resourceType must be a non-empty string; the object is "
                                     "skipped");
    }
    return;
  }
  std::string_view resource_type = View(*type);
  if (location.empty()) location = resource_type;  // a view of the document, which outlives us
  std::string_view id;
  if (const Value* v = Member(value, "id")) {
    if (v->IsString()) {
      id = View(*v);
    } else if (sink_ != nullptr) {
      sink_->Error(IssueCode::kStructure, std::string(location) + ".id",
                   std::string("expected a string, got ") + std::string(JsonTypeName(*v)));
    }
  }

  // The same resource can arrive twice (two prefetch keys, an include and a match); rules must
  // not count it twice, so a repeated Type/id is indexed once (the first copy wins). Bundles
  // are exempt: two searchset pages may well carry the same Bundle id.
  bool is_bundle = resource_type == "Bundle";
  const IndexedResource** type_id_slot = nullptr;
  if (!id.empty()) {
    type_id_slot = by_type_id_.Slot(resource_type, id);
    if (*type_id_slot != nullptr) {
      if (!is_bundle) return;
      type_id_slot = nullptr;  // keep the first Bundle under this id
    }
  }

  IndexedResource& r = NewResource();
  r.json = &value;
  r.resource_type = resource_type;
  r.id = id;
  r.full_url = full_url;
  r.origin = origin;
  r.location = location;
  if (type_id_slot != nullptr) *type_id_slot = &r;
  // A hook request indexes a few dozen resources: one allocation for them, not a doubling per
  // Bundle from one.
  if (all_.capacity() == 0) all_.reserve(32);
  all_.push_back(&r);
  ListOf(resource_type).Add(&r);
  if (!full_url.empty()) {
    const IndexedResource** slot = by_full_url_.Slot(full_url, {});
    if (*slot == nullptr) *slot = &r;
  }

  if (is_bundle) {
    IndexBundle(r, depth);
  } else if (resource_type == "OperationOutcome") {
    ReportOutcome(r);
  }
}

void ResourceIndex::IndexBundle(const IndexedResource& bundle, int depth) {
  const Value* entries = Member(*bundle.json, "entry");
  if (entries == nullptr) return;
  if (!entries->IsArray()) {
    if (sink_ != nullptr) {
      sink_->Error(IssueCode::kStructure, std::string(bundle.location) + ".entry",
                   std::string("expected an array, got ") + std::string(JsonTypeName(*entries)));
    }
    return;
  }
  if (depth + 1 > kMaxBundleDepth) {
    if (sink_ != nullptr) {
      sink_->Error(IssueCode::kTooCostly, std::string(bundle.location),
                   "Bundles nested more than " + std::to_string(kMaxBundleDepth) +
                       " deep; the inner entries are skipped");
    }
    return;
  }
  const std::string_view base = bundle.location;
  std::size_t expected = all_.size() + entries->Size();
  // Geometric: a request indexes one Bundle per prefetch key, each reserving for its entries.
  if (expected > all_.capacity()) all_.reserve(std::max(expected, 2 * all_.capacity()));
  by_type_id_.Reserve(expected);
  by_full_url_.Reserve(expected);
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const Value& entry = (*entries)[i];
    char digits[16];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, i);
    (void)ec;
    const std::string_view index(digits, static_cast<std::size_t>(end - digits));
    // "<bundle>.entry[i]" for the issues below, made only when there is one.
    auto entry_path = [&] { return std::string(base) + ".entry[" + std::string(index) + "]"; };
    if (!entry.IsObject()) {
      if (sink_ != nullptr) {
        sink_->Error(IssueCode::kStructure, entry_path(),
                     std::string("expected a Bundle entry (JSON object), got ") +
                         std::string(JsonTypeName(entry)) + "; skipped");
      }
      continue;
    }
    std::string_view full_url;
    if (const Value* fu = Member(entry, "fullUrl")) {
      if (fu->IsString()) {
        full_url = View(*fu);
      } else if (sink_ != nullptr) {
        sink_->Error(IssueCode::kStructure, entry_path() + ".fullUrl",
                     std::string("expected a string, got ") + std::string(JsonTypeName(*fu)));
      }
    }
    const Value* resource = Member(entry, "resource");
    if (resource == nullptr) continue;  // e.g. a DELETE in a transaction, a response entry
    // Written once, where it stays: the resource (and a nested Bundle's entries) view it.
    // The fixed pieces are copied inline: one call to memcpy per entry, for the Bundle's path.
    constexpr std::string_view kEntry = ".entry[";
    constexpr std::string_view kResource = "].resource";
    const std::size_t size = base.size() + kEntry.size() + index.size() + kResource.size();
    char* out = TextSpace(size);
    char* next = out;
    if (!base.empty()) std::memcpy(next, base.data(), base.size());
    next += base.size();
    std::memcpy(next, kEntry.data(), kEntry.size());
    next += kEntry.size();
    for (char digit : index) *next++ = digit;
    std::memcpy(next, kResource.data(), kResource.size());
    std::string_view location(out, size);
    Walk(*resource, bundle.origin, location, full_url, depth + 1);
  }
}

void ResourceIndex::ReportOutcome(const IndexedResource& outcome) {
  if (sink_ == nullptr) return;
  // Silent view: structural problems inside a server's OperationOutcome are not worth issues
  // of their own; what matters is that the server reported something.
  OperationOutcomeView oo(*outcome.json, nullptr, std::string(outcome.location));
  std::vector<OutcomeIssueView> issues = oo.issues();
  for (std::size_t i = 0; i < issues.size(); ++i) {
    std::string_view sev = issues[i].severity().value_or("error");
    bool serious = sev == "fatal" || sev == "error";
    std::string message = "the server returned an OperationOutcome (" + std::string(sev) +
                          "): " + issues[i].Describe();
    if (!outcome.origin.empty()) message += " [" + std::string(outcome.origin) + "]";
    if (serious) {
      sink_->Warning(IssueCode::kProcessing,
                     std::string(outcome.location) + ".issue[" + std::to_string(i) + "]",
                     std::move(message));
    } else {
      sink_->Info(std::string(outcome.location) + ".issue[" + std::to_string(i) + "]",
                  std::move(message));
    }
  }
}

IndexedResource& ResourceIndex::NewResource() {
  if (chunk_used_ == chunk_capacity_) {
    chunk_capacity_ = chunk_capacity_ == 0 ? kFirstChunk : std::min(2 * chunk_capacity_, kMaxChunk);
    chunks_.push_back(
        std::make_unique_for_overwrite<std::byte[]>(chunk_capacity_ * sizeof(IndexedResource)));
    chunk_used_ = 0;
  }
  static_assert(std::is_trivially_destructible_v<IndexedResource>);
  static_assert(alignof(IndexedResource) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  std::byte* slot = chunks_.back().get() + chunk_used_++ * sizeof(IndexedResource);
  return *new (slot) IndexedResource();
}

void ResourceIndex::TypeList::Add(const IndexedResource* r) {
  if (size < kInline) {
    first[size++] = r;
    return;
  }
  if (size == kInline) {
    spilled.reserve(2 * kInline);
    spilled.assign(first, first + kInline);
  }
  spilled.push_back(r);
  ++size;
}

ResourceIndex::TypeList& ResourceIndex::ListOf(std::string_view resource_type) {
  for (TypeList& list : by_type_) {
    if (SameName(list.type, resource_type)) return list;
  }
  if (by_type_.empty()) by_type_.reserve(16);  // moving the lists as it grows showed in profiles
  TypeList& list = by_type_.emplace_back();
  list.type = resource_type;
  return list;
}

std::span<const IndexedResource* const> ResourceIndex::OfType(
    std::string_view resource_type) const {
  for (const TypeList& list : by_type_) {
    if (SameName(list.type, resource_type)) return list.view();
  }
  return {};
}

const IndexedResource* ResourceIndex::Find(std::string_view resource_type,
                                           std::string_view id) const {
  if (resource_type.empty() || id.empty()) return nullptr;
  return by_type_id_.Find(resource_type, id);
}

const IndexedResource* ResourceIndex::Resolve(std::string_view reference) const {
  if (reference.empty() || reference.front() == '#') return nullptr;
  if (const IndexedResource* r = by_full_url_.Find(reference, {})) return r;
  if (reference.find('?') != std::string_view::npos) return nullptr;  // conditional reference
  std::string_view ref = reference;
  if (std::size_t h = ref.find("/_history/"); h != std::string_view::npos) {
    ref = ref.substr(0, h);
    if (const IndexedResource* r = by_full_url_.Find(ref, {})) return r;
  }
  while (!ref.empty() && ref.back() == '/') ref.remove_suffix(1);
  std::size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return nullptr;
  std::string_view id = ref.substr(slash + 1);
  std::string_view rest = ref.substr(0, slash);
  std::size_t prev = rest.rfind('/');
  std::string_view type = prev == std::string_view::npos ? rest : rest.substr(prev + 1);
  if (type.empty() || id.empty()) return nullptr;
  return Find(type, id);
}

const IndexedResource* ResourceIndex::patient() const {
  auto p = OfType("Patient");
  return p.empty() ? nullptr : p.front();
}

}  // namespace cephalgia::fhir
