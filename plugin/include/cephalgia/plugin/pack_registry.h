// File: pack_registry.h
//
// The host's view of rule packs: a LoadedPack wraps one pack's C function table and instance
// behind a C++ interface; the PackRegistry maps CDS service ids to packs. The host never knows
// what a pack does clinically: it sees only the descriptor (services, prefetch templates) and
// JSON in, JSON out.
//
//   PackRegistry registry;
//   CEPHALGIA_ASSIGN_OR_RETURN(auto pack, LoadedPack::Create(table, "static", dir, "{}"));
//   CEPHALGIA_RETURN_IF_ERROR(registry.Add(std::move(pack)));
//   const ServiceEntry* entry = registry.FindService("headache-patient-view");
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cephalgia/plugin/rule_pack_abi.h"
#include "cephalgia/status.h"

namespace cephalgia::plugin {

// One CDS service as a pack describes it. `prefetch` keeps the pack's key order (CDS Hooks 3.0
// lets later templates depend on earlier keys, so order is preserved end to end).
struct ServiceDescriptor {
  std::string id;
  std::string hook;
  std::string title;
  std::string description;
  std::string usage_requirements;                             // empty when the pack gives none
  std::vector<std::pair<std::string, std::string>> prefetch;  // key -> query template
  std::vector<std::string> required_prefetch;                 // keys without which: 412
};

// Parses the descriptor JSON a pack returns from describe() (format in rule_pack_abi.h).
struct PackDescriptor {
  std::string pack_id;
  std::string pack_version;
  std::string knowledge_version;
  std::vector<ServiceDescriptor> services;
};
Result<PackDescriptor> ParsePackDescriptor(std::string_view json);

// One evaluation as the host hands it to a pack (ABI 1.1): the client's request bytes untouched,
// what the host fetched beside them, and the host's gaps, the only account of missing data.
struct PackPart {
  std::string_view key;
  std::string_view json;    // a FHIR resource or Bundle
  bool more_pages = false;  // see cephalgia_part_kind
};
struct PackGap {
  std::string_view key;
  std::string_view reason;
  bool partial = false;  // partial, else unavailable
};
struct PackCall {
  std::string_view service_id;
  std::string_view request_json;
  std::string_view now;
  std::span<const PackPart> parts;
  std::span<const PackGap> gaps;
};

// A pack's answer in the pack's own buffer, released through the pack when the last owner goes.
// Read in place: nothing copies it on its way to the socket.
class PackAnswer {
 public:
  PackAnswer() = default;
  PackAnswer(const cephalgia_rule_pack_v1* table, cephalgia_buffer buffer);
  std::string_view json() const { return json_; }
  // Shares ownership of the pack's buffer (for a response body that outlives this object).
  std::shared_ptr<const void> owner() const { return owner_; }

 private:
  std::shared_ptr<const void> owner_;
  std::string_view json_;
};

// A created pack instance. Destroys the instance on destruction; never unloads the library
// (packs are loaded with RTLD_NODELETE semantics: code must outlive any stray pointer into it).
class LoadedPack {
 public:
  // Validates the table (struct size, ABI major), creates an instance with `config_json` (the
  // pack's own settings) and reads its descriptor. `source` names where it came from (a file
  // path, or "static:<name>") for messages.
  static Result<std::unique_ptr<LoadedPack>> Create(const cephalgia_rule_pack_v1* table,
                                                    std::string source, std::string pack_directory,
                                                    std::string_view config_json);
  ~LoadedPack();
  LoadedPack(const LoadedPack&) = delete;
  LoadedPack& operator=(const LoadedPack&) = delete;

  const PackDescriptor& descriptor() const { return descriptor_; }
  const std::string& source() const { return source_; }

  // Evaluates one call; the pack's error code and message come back as a Status.
  // Thread-safe (packs guarantee concurrent evaluate on one instance).
  Result<std::string> Evaluate(std::string_view service_id, std::string_view request_json,
                               std::string_view options_json) const;

  // Evaluates one call as ABI 1.1 gives it. A 1.1 pack receives the request untouched and the
  // parts beside it; a 1.0 pack receives, through `evaluate`, the request with the parts merged
  // into its prefetch (re-serialised only when there are parts) and the gaps as options JSON.
  Result<PackAnswer> Evaluate(const PackCall& call) const;
  // Whether this pack takes evaluate_parts (ABI 1.1).
  bool takes_parts() const;

 private:
  LoadedPack(const cephalgia_rule_pack_v1* table, cephalgia_pack_instance* instance,
             std::string source)
      : table_(table), instance_(instance), source_(std::move(source)) {}

  const cephalgia_rule_pack_v1* table_;
  cephalgia_pack_instance* instance_;
  std::string source_;
  PackDescriptor descriptor_;
};

// Checks a pack's function table before anything in it is called: non-null, struct_size large
// enough for ABI 1.0, same ABI major, every function pointer set.
Status ValidatePackTable(const cephalgia_rule_pack_v1* table);

struct ServiceEntry {
  const ServiceDescriptor* descriptor;
  const LoadedPack* pack;
};

class PackRegistry {
 public:
  // Takes ownership. Refuses (kInvalidArgument) a pack with no services, an invalid or duplicate
  // service id (across all packs already added), leaving the registry unchanged.
  Status Add(std::unique_ptr<LoadedPack> pack);

  const ServiceEntry* FindService(std::string_view service_id) const;
  // All services in registration order (packs in load order, services in descriptor order).
  const std::vector<ServiceEntry>& services() const { return services_; }
  const std::vector<std::unique_ptr<LoadedPack>>& packs() const { return packs_; }

 private:
  std::vector<std::unique_ptr<LoadedPack>> packs_;
  std::vector<ServiceEntry> services_;
  std::map<std::string, std::size_t, std::less<>> by_id_;  // index into services_
};

// A pack file the loader refused, and why. The service starts without it.
struct PackRefusal {
  std::string file;
  std::string reason;
};

struct PackLoadReport {
  std::vector<std::string> loaded;  // files loaded, in order
  std::vector<PackRefusal> refused;
};

// Loads every `*.so` in `directory` (sorted by name) into `registry`:
// dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE), look up CEPHALGIA_RULE_PACK_ENTRY, validate the
// table, create. Refused, with a reason naming the file: a file writable by group or others or
// owned by another non-root user, a dlopen failure, a missing entry point, a NULL table, an ABI
// major mismatch, a duplicate service id. A pack whose create() fails (e.g. its knowledge files
// do not validate) is a configuration error: the whole load fails with that message, because a
// clinical pack silently missing its knowledge must stop start-up.
// `pack_configs` maps pack id -> that pack's settings JSON ("{}" when absent).
Result<PackLoadReport> LoadPackDirectory(const std::string& directory,
                                         const std::map<std::string, std::string>& pack_configs,
                                         PackRegistry& registry);

// True for ids usable as a URL path segment: [A-Za-z0-9._~-]+ (checklist item 16).
bool IsValidServiceId(std::string_view id);

}  // namespace cephalgia::plugin
