// File: resource_index.h
//
// ResourceIndex: everything the EHR sent (prefetch values, fetched search pages, draft orders)
// gathered by resourceType, whatever key or Bundle it came in, with reference resolution.
//
// Input may be a Bundle of any type (searchset, transaction, collection, batch-response,
// nested Bundles), a single resource, JSON null (a prefetch the EHR could not fill), or an
// OperationOutcome (a failed query). Bundle.entry[].resource is walked recursively (nesting
// depth capped at kMaxBundleDepth); contained resources are not indexed on their own (they
// resolve only from their container, see ResourceView::Resolve). Non-object entries, resources
// without resourceType and other garbage are skipped with a kError issue at their location.
// A repeated Type/id (the same resource under two prefetch keys, or as match and include) is
// indexed once, the first copy winning, so rules never count a resource twice.
// OperationOutcomes are indexed (type "OperationOutcome") and each of their issues is repeated
// into the sink as a kWarning (fatal/error) or kInformation (warning/information), because
// they mean *data may be missing*, not that the data we have is malformed.
//
//   IssueSink sink;
//   ResourceIndex index(&sink);
//   CEPHALGIA_RETURN_IF_ERROR(index.AddJson(prefetch_conditions_text, "prefetch.conditions"));
//   index.Add(request_doc["context"]["draftOrders"], "context.draftOrders");  // borrowed
//   for (const IndexedResource* r : index.OfType("Condition")) { ConditionView c(*r, &sink); }
//   const IndexedResource* med = index.Resolve("Medication/med0316");
//
// Locations: a resource's `location` is its FHIR path from the root it was added with: the
// origin label if one was given ("prefetch.conditions.entry[3].resource"), else the root's
// resourceType ("Bundle.entry[3].resource"). Views built from it extend that path.
//
// Lifetime: documents given by value or parsed by AddJson are owned by the index; values given
// by reference (Add(const Value&)) are borrowed and must outlive the index. Pointers returned
// by OfType/Resolve stay valid until the index is destroyed (adding more does not move them),
// and so do the origin and location texts they view (the index keeps its own copies).
// Not thread-safe for writes; concurrent const use is fine.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/fhir/issues.h"
#include "cephalgia/status.h"

namespace cephalgia::fhir {

struct IndexedResource {
  const rapidjson::Value* json = nullptr;  // the resource object (never null)
  std::string_view resource_type;          // "Condition"
  std::string_view id;                     // "" when absent
  std::string_view full_url;               // Bundle.entry.fullUrl, "" when none
  std::string_view origin;                 // label given to Add/AddJson ("" when none)
  std::string_view location;               // FHIR path, see the file comment (index-owned)
};

class ResourceIndex {
 public:
  static constexpr int kMaxBundleDepth = 8;
  // AddJson refuses JSON nested deeper than this (FHIR resources need a few dozen levels).
  static constexpr int kMaxJsonDepth = 256;
  static constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;  // 64 MiB per text

  // `sink` receives the issues (may be null: issues dropped). It must outlive the index.
  explicit ResourceIndex(IssueSink* sink);
  ResourceIndex(const ResourceIndex&) = delete;
  ResourceIndex& operator=(const ResourceIndex&) = delete;
  ResourceIndex(ResourceIndex&&) noexcept;
  ResourceIndex& operator=(ResourceIndex&&) noexcept;
  ~ResourceIndex();

  // Parses `text` (in situ in an owned copy; the whole text must be valid UTF-8 without NUL
  // bytes; nesting at most kMaxJsonDepth; size-capped) into a document the index owns, then
  // indexes it. Malformed JSON: kInvalidArgument (nothing indexed, also reported to
  // the sink at `origin`); too large: kPayloadTooLarge.
  Status AddJson(std::string_view text, std::string_view origin = {},
                 std::size_t max_bytes = kDefaultMaxBytes);
  // Indexes a document the index takes over.
  void Add(rapidjson::Document&& doc, std::string_view origin = {});
  // Indexes a value owned by the caller (borrowed; must outlive the index).
  void Add(const rapidjson::Value& value, std::string_view origin = {});

  // All resources of one type, in input order (empty span for none). The span (not the
  // resources it lists) is valid until the next Add.
  std::span<const IndexedResource* const> OfType(std::string_view resource_type) const;
  // Every indexed resource, in input order (Bundles included, before their entries).
  std::span<const IndexedResource* const> all() const { return all_; }
  std::size_t size() const { return all_.size(); }
  // The OperationOutcomes found (same as OfType("OperationOutcome")).
  std::span<const IndexedResource* const> operation_outcomes() const {
    return OfType("OperationOutcome");
  }

  // Resolves a reference string: exact fullUrl (covers "urn:uuid:..." and absolute URLs),
  // then "Type/id" (relative, or the tail of an absolute URL, with any "/_history/v" dropped).
  // "#id" (contained) cannot be resolved here: use ResourceView::Resolve. nullptr if unknown.
  const IndexedResource* Resolve(std::string_view reference) const;
  const IndexedResource* Find(std::string_view resource_type, std::string_view id) const;

  // The first Patient indexed, or nullptr.
  const IndexedResource* patient() const;

 private:
  // Open-addressing hash table from one or two string_views (pointing into the indexed
  // documents) to a resource: no allocation per entry, which matters at hundreds of resources
  // per request. An entry is the hash and the resource; the key is read back from the resource
  // (its fullUrl, or its type and id), so growing the table moves 16 bytes per entry.
  class RefTable {
   public:
    enum class Key { kFullUrl, kTypeId };
    explicit RefTable(Key key) : key_(key) {}
    // The slot for (a, b): found (value set) or empty (value null). The caller must fill an
    // empty slot with a resource whose key is (a, b) before the next call.
    const IndexedResource** Slot(std::string_view a, std::string_view b);
    const IndexedResource* Find(std::string_view a, std::string_view b) const;
    void Reserve(std::size_t n);

   private:
    struct Entry {
      std::size_t hash = 0;
      const IndexedResource* value = nullptr;
    };
    static std::size_t Hash(std::string_view a, std::string_view b);
    bool Matches(const IndexedResource& r, std::string_view a, std::string_view b) const;
    Key key_;
    std::vector<Entry> slots_;  // size is 0 or a power of two
    std::size_t used_ = 0;
  };

  // A resource type's resources in input order: the first few in place, more in `spilled`
  // (a request holds a handful of each type, so most lists never allocate).
  struct TypeList {
    static constexpr std::size_t kInline = 6;
    std::string_view type;
    std::size_t size = 0;
    const IndexedResource* first[kInline] = {};
    std::vector<const IndexedResource*> spilled;  // all of them, once there are more
    void Add(const IndexedResource* r);
    std::span<const IndexedResource* const> view() const {
      if (size <= kInline) return {first, size};
      return spilled;
    }
  };

  void Walk(const rapidjson::Value& value, std::string_view origin, std::string_view location,
            std::string_view full_url, int depth);
  void IndexResource(const rapidjson::Value& value, std::string_view origin,
                     std::string_view location, std::string_view full_url, int depth);
  void IndexBundle(const IndexedResource& bundle, int depth);
  void ReportOutcome(const IndexedResource& outcome);
  // A copy of the concatenation of `parts` that lives as long as the index.
  std::string_view StoreText(std::initializer_list<std::string_view> parts);
  // `size` bytes to write that live as long as the index.
  char* TextSpace(std::size_t size);
  IndexedResource& NewResource();
  TypeList& ListOf(std::string_view resource_type);

  IssueSink* sink_;
  // In-situ parsed texts (AddJson); moving a vector keeps its bytes where they are.
  std::vector<std::vector<char>> owned_buffers_;
  std::vector<std::unique_ptr<rapidjson::Document>> owned_docs_;
  // Origin labels and entry locations, in blocks that never move (one or two per request
  // instead of a string per resource).
  std::vector<std::unique_ptr<char[]>> text_blocks_;
  char* text_next_ = nullptr;
  std::size_t text_left_ = 0;
  // Resources live in chunks so pointers stay valid as more are added. Chunks double from
  // kFirstChunk to kMaxChunk: a hook request indexes a few dozen resources, and constructing
  // (then destroying) hundreds of unused slots per request showed in its profile. A chunk is
  // raw storage: NewResource constructs each slot as it hands it out (IndexedResource is
  // trivially destructible, so freeing the storage ends them).
  static constexpr std::size_t kFirstChunk = 32;
  static constexpr std::size_t kMaxChunk = 256;
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::size_t chunk_capacity_ = 0;
  std::size_t chunk_used_ = 0;
  std::vector<const IndexedResource*> all_;
  // A handful of types per request: a linear scan beats hashing the type name every time.
  std::vector<TypeList> by_type_;
  RefTable by_full_url_{RefTable::Key::kFullUrl};  // (fullUrl, "")
  RefTable by_type_id_{RefTable::Key::kTypeId};    // (resourceType, id)
};

}  // namespace cephalgia::fhir
