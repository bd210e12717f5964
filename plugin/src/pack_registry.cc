#include "cephalgia/plugin/pack_registry.h"

#include <optional>
#include <utility>
#include <vector>

#include "cephalgia/json.h"

namespace cephalgia::plugin {
namespace {

// Frees a pack-owned buffer when it goes out of scope, whatever path we leave by.
class PackBuffer {
 public:
  explicit PackBuffer(const cephalgia_rule_pack_v1* table) : table_(table) {}
  ~PackBuffer() { table_->free_buffer(&buffer_); }
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;

  cephalgia_buffer* get() { return &buffer_; }
  std::string_view view() const {
    return buffer_.data == nullptr ? std::string_view()
                                   : std::string_view(buffer_.data, buffer_.size);
  }

 private:
  const cephalgia_rule_pack_v1* table_;
  cephalgia_buffer buffer_{nullptr, 0};
};

StatusCode FromPackCode(int code) {
  switch (code) {
    case CEPHALGIA_PACK_INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case CEPHALGIA_PACK_NOT_FOUND:
      return StatusCode::kNotFound;
    case CEPHALGIA_PACK_FAILED_PRECONDITION:
      return StatusCode::kFailedPrecondition;
    default:
      return StatusCode::kInternal;
  }
}

// Turns a failed pack call into a Status, reading the pack's {"message","location"} buffer.
Status PackError(int code, std::string_view error_json, std::string_view what) {
  std::string message(what);
  std::string location;
  auto doc = json::ParseUntrusted(error_json);
  if (doc.ok() && doc->IsObject()) {
    if (auto m = json::GetString(*doc, "message")) {
      message += ": ";
      message += *m;
    }
    if (auto l = json::GetString(*doc, "location")) location = std::string(*l);
  } else if (!error_json.empty()) {
    message += ": ";
    message += error_json;
  }
  return Status(FromPackCode(code), std::move(message), std::move(location));
}

Result<std::string> RequiredString(const rapidjson::Value& obj, std::string_view key,
                                   const std::string& where) {
  auto v = json::GetString(obj, key);
  if (!v || v->empty()) {
    return InvalidArgument("pack descriptor: '" + std::string(key) + "' must be a non-empty string",
                           where + "." + std::string(key));
  }
  return std::string(*v);
}

}  // namespace

bool IsValidServiceId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<PackDescriptor> ParsePackDescriptor(std::string_view text) {
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, json::ParseUntrusted(text));
  if (!doc.IsObject()) return InvalidArgument("pack descriptor is not a JSON object", "$");
  PackDescriptor out;
  CEPHALGIA_ASSIGN_OR_RETURN(out.pack_id, RequiredString(doc, "packId", "$"));
  CEPHALGIA_ASSIGN_OR_RETURN(out.pack_version, RequiredString(doc, "packVersion", "$"));
  if (auto kv = json::GetString(doc, "knowledgeVersion")) out.knowledge_version = std::string(*kv);
  const rapidjson::Value* services = json::GetArray(doc, "services");
  if (services == nullptr)
    return InvalidArgument("pack descriptor: 'services' must be an array", "$.services");
  for (rapidjson::SizeType i = 0; i < services->Size(); ++i) {
    const rapidjson::Value& s = (*services)[i];
    std::string where = "$.services[" + std::to_string(i) + "]";
    if (!s.IsObject()) return InvalidArgument("pack descriptor: service is not an object", where);
    ServiceDescriptor d;
    CEPHALGIA_ASSIGN_OR_RETURN(d.id, RequiredString(s, "id", where));
    CEPHALGIA_ASSIGN_OR_RETURN(d.hook, RequiredString(s, "hook", where));
    CEPHALGIA_ASSIGN_OR_RETURN(d.description, RequiredString(s, "description", where));
    if (auto t = json::GetString(s, "title")) d.title = std::string(*t);
    if (auto u = json::GetString(s, "usageRequirements")) d.usage_requirements = std::string(*u);
    if (const rapidjson::Value* prefetch = json::Find(s, "prefetch")) {
      if (!prefetch->IsObject()) {
        return InvalidArgument("pack descriptor: 'prefetch' must be an object",
                               where + ".prefetch");
      }
      for (auto it = prefetch->MemberBegin(); it != prefetch->MemberEnd(); ++it) {
        if (!it->value.IsString() || it->value.GetStringLength() == 0) {
          return InvalidArgument("pack descriptor: prefetch template must be a non-empty string",
                                 where + ".prefetch." + it->name.GetString());
        }
        d.prefetch.emplace_back(it->name.GetString(), it->value.GetString());
      }
    }
    if (const rapidjson::Value* required = json::GetArray(s, "requiredPrefetch")) {
      for (const auto& key : required->GetArray()) {
        if (!key.IsString()) {
          return InvalidArgument("pack descriptor: requiredPrefetch entries must be strings",
                                 where + ".requiredPrefetch");
        }
        bool declared = false;
        for (const auto& [k, t] : d.prefetch) declared = declared || k == key.GetString();
        if (!declared) {
          return InvalidArgument(std::string("pack descriptor: required prefetch key '") +
                                     key.GetString() + "' has no template",
                                 where + ".requiredPrefetch");
        }
        d.required_prefetch.emplace_back(key.GetString());
      }
    }
    out.services.push_back(std::move(d));
  }
  return out;
}

Status ValidatePackTable(const cephalgia_rule_pack_v1* table) {
  if (table == nullptr) return InvalidArgument("entry point returned no function table");
  if (table->abi_major != CEPHALGIA_RULE_PACK_ABI_MAJOR) {
    return InvalidArgument("ABI major version mismatch: pack was built for ABI " +
                           std::to_string(table->abi_major) + "." +
                           std::to_string(table->abi_minor) + ", this host speaks ABI " +
                           std::to_string(CEPHALGIA_RULE_PACK_ABI_MAJOR) + "." +
                           std::to_string(CEPHALGIA_RULE_PACK_ABI_MINOR));
  }
  // ABI 1.0 ends with `destroy`; a smaller struct cannot be a 1.x table.
  if (!CEPHALGIA_PACK_HAS_FIELD(table, destroy)) {
    return InvalidArgument("function table too small (" + std::to_string(table->struct_size) +
                           " bytes) for ABI 1.0");
  }
  if (table->pack_id == nullptr || table->pack_version == nullptr || table->create == nullptr ||
      table->describe == nullptr || table->evaluate == nullptr || table->free_buffer == nullptr ||
      table->destroy == nullptr) {
    return InvalidArgument("function table has a null id, version or function pointer");
  }
  return Status::Ok();
}

Result<std::unique_ptr<LoadedPack>> LoadedPack::Create(const cephalgia_rule_pack_v1* table,
                                                       std::string source,
                                                       std::string pack_directory,
                                                       std::string_view config_json) {
  CEPHALGIA_RETURN_IF_ERROR(ValidatePackTable(table));
  rapidjson::Document create_args(rapidjson::kObjectType);
  auto& alloc = create_args.GetAllocator();
  create_args.AddMember("packDirectory", json::MakeString(pack_directory, alloc), alloc);
  auto pack_config = json::ParseUntrusted(config_json.empty() ? "{}" : config_json);
  if (!pack_config.ok() || !pack_config->IsObject()) {
    return InvalidArgument("configuration for pack " + std::string(table->pack_id) +
                           " is not a JSON object");
  }
  rapidjson::Value config_copy(*pack_config, alloc);
  create_args.AddMember("config", config_copy, alloc);
  std::string args = json::Serialize(create_args);

  cephalgia_pack_instance* instance = nullptr;
  {
    PackBuffer error(table);
    int code = table->create(args.data(), args.size(), &instance, error.get());
    if (code != CEPHALGIA_PACK_OK || instance == nullptr) {
      return PackError(code == CEPHALGIA_PACK_OK ? CEPHALGIA_PACK_INTERNAL : code, error.view(),
                       "pack " + std::string(table->pack_id) + " failed to start");
    }
  }
  std::unique_ptr<LoadedPack> pack(new LoadedPack(table, instance, std::move(source)));
  PackBuffer described(table);
  int code = table->describe(instance, described.get());
  if (code != CEPHALGIA_PACK_OK) {
    return PackError(code, described.view(), "pack " + std::string(table->pack_id) + " describe");
  }
  auto descriptor = ParsePackDescriptor(described.view());
  if (!descriptor.ok())
    return descriptor.status().WithContext("pack " + std::string(table->pack_id));
  pack->descriptor_ = std::move(*descriptor);
  return pack;
}

LoadedPack::~LoadedPack() {
  if (instance_ != nullptr) table_->destroy(instance_);
}

namespace {

// A pack's buffer and the pack that frees it: one allocation per answer.
struct OwnedPackBuffer {
  OwnedPackBuffer(const cephalgia_rule_pack_v1* t, cephalgia_buffer b) : table(t), buffer(b) {}
  ~OwnedPackBuffer() { table->free_buffer(&buffer); }
  OwnedPackBuffer(const OwnedPackBuffer&) = delete;
  OwnedPackBuffer& operator=(const OwnedPackBuffer&) = delete;
  const cephalgia_rule_pack_v1* table;
  cephalgia_buffer buffer;
};

}  // namespace

PackAnswer::PackAnswer(const cephalgia_rule_pack_v1* table, cephalgia_buffer buffer)
    : owner_(std::make_shared<OwnedPackBuffer>(table, buffer)),
      json_(buffer.data == nullptr ? std::string_view()
                                   : std::string_view(buffer.data, buffer.size)) {}

bool LoadedPack::takes_parts() const {
  return CEPHALGIA_PACK_HAS_FIELD(table_, evaluate_parts) && table_->evaluate_parts != nullptr;
}

namespace {

// The ABI 1.0 path: the fetched parts merged into the request's prefetch, as the host did before
// parts existed (a value replaces the key's first member or is appended; more pages extend the
// key's Bundle and drop its `next` link).
void AppendEntries(rapidjson::Value& bundle, rapidjson::Value& more,
                   rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value* entries = const_cast<rapidjson::Value*>(json::GetArray(bundle, "entry"));
  if (entries == nullptr) {
    bundle.RemoveMember("entry");
    bundle.AddMember("entry", rapidjson::Value(rapidjson::kArrayType), alloc);
    entries = &bundle["entry"];
  }
  if (rapidjson::Value* add = const_cast<rapidjson::Value*>(json::GetArray(more, "entry"))) {
    for (auto& e : add->GetArray()) entries->PushBack(rapidjson::Value(e, alloc), alloc);
  }
}

void RemoveNextLink(rapidjson::Value& bundle) {
  rapidjson::Value* links = const_cast<rapidjson::Value*>(json::GetArray(bundle, "link"));
  if (links == nullptr) return;
  for (auto it = links->Begin(); it != links->End();) {
    if (json::GetString(*it, "relation") == std::optional<std::string_view>("next")) {
      it = links->Erase(it);
    } else {
      ++it;
    }
  }
  if (links->Empty()) bundle.RemoveMember("link");
}

Result<std::string> MergeParts(std::string_view request_json, std::span<const PackPart> parts) {
  constexpr std::size_t kNoLimit = static_cast<std::size_t>(-1);  // the host limited the body
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document request,
                             json::ParseUntrusted(request_json, kNoLimit));
  if (!request.IsObject()) return InvalidArgument("the request body must be a JSON object", "$");
  auto& alloc = request.GetAllocator();
  if (json::Find(request, "prefetch") == nullptr) {
    request.AddMember("prefetch", rapidjson::Value(rapidjson::kObjectType), alloc);
  }
  rapidjson::Value& prefetch = request["prefetch"];
  if (!prefetch.IsObject()) return InvalidArgument("prefetch must be an object", "prefetch");
  for (const PackPart& part : parts) {
    CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document fetched,
                               json::ParseUntrusted(part.json, kNoLimit));
    rapidjson::Value key_name(part.key.data(), static_cast<rapidjson::SizeType>(part.key.size()),
                              alloc);
    if (part.more_pages) {
      auto it = prefetch.FindMember(key_name);
      if (it == prefetch.MemberEnd()) continue;
      AppendEntries(it->value, fetched, alloc);
      RemoveNextLink(it->value);
      continue;
    }
    rapidjson::Value copy(fetched, alloc);
    auto it = prefetch.FindMember(key_name);
    if (it != prefetch.MemberEnd()) {
      it->value = copy;
    } else {
      prefetch.AddMember(key_name, copy, alloc);
    }
  }
  return json::Serialize(request);
}

std::string LegacyOptions(const PackCall& call) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("now");
  w.String(call.now.data(), static_cast<rapidjson::SizeType>(call.now.size()));
  for (bool partial : {false, true}) {
    bool any = false;
    for (const PackGap& g : call.gaps) any = any || g.partial == partial;
    if (!any) continue;
    w.Key(partial ? "partialPrefetch" : "unavailablePrefetch");
    w.StartArray();
    for (const PackGap& g : call.gaps) {
      if (g.partial != partial) continue;
      w.StartObject();
      w.Key("key");
      w.String(g.key.data(), static_cast<rapidjson::SizeType>(g.key.size()));
      w.Key("reason");
      w.String(g.reason.data(), static_cast<rapidjson::SizeType>(g.reason.size()));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

Result<PackAnswer> LoadedPack::Evaluate(const PackCall& call) const {
  cephalgia_buffer out{nullptr, 0};
  int code;
  if (takes_parts()) {
    // Small fixed arrays cover every call of the packs we know (a handful of prefetch keys);
    // more than that goes to the heap.
    constexpr std::size_t kInline = 16;
    cephalgia_json_part inline_parts[kInline];
    cephalgia_prefetch_gap inline_gaps[kInline];
    std::vector<cephalgia_json_part> heap_parts;
    std::vector<cephalgia_prefetch_gap> heap_gaps;
    cephalgia_json_part* parts = inline_parts;
    cephalgia_prefetch_gap* gaps = inline_gaps;
    if (call.parts.size() > kInline) {
      heap_parts.resize(call.parts.size());
      parts = heap_parts.data();
    }
    if (call.gaps.size() > kInline) {
      heap_gaps.resize(call.gaps.size());
      gaps = heap_gaps.data();
    }
    for (std::size_t i = 0; i < call.parts.size(); ++i) {
      const PackPart& p = call.parts[i];
      parts[i] = {p.key.data(), p.key.size(), p.json.data(), p.json.size(),
                  p.more_pages ? static_cast<uint32_t>(CEPHALGIA_PART_MORE_PAGES)
                               : static_cast<uint32_t>(CEPHALGIA_PART_VALUE)};
    }
    for (std::size_t i = 0; i < call.gaps.size(); ++i) {
      const PackGap& g = call.gaps[i];
      gaps[i] = {g.key.data(), g.key.size(), g.reason.data(), g.reason.size(),
                 g.partial ? static_cast<uint32_t>(CEPHALGIA_GAP_PARTIAL)
                           : static_cast<uint32_t>(CEPHALGIA_GAP_UNAVAILABLE)};
    }
    cephalgia_evaluate_args args{sizeof(cephalgia_evaluate_args),
                                 call.service_id.data(),
                                 call.service_id.size(),
                                 call.request_json.data(),
                                 call.request_json.size(),
                                 call.now.data(),
                                 call.now.size(),
                                 call.parts.empty() ? nullptr : parts,
                                 call.parts.size(),
                                 call.gaps.empty() ? nullptr : gaps,
                                 call.gaps.size()};
    code = table_->evaluate_parts(instance_, &args, &out);
  } else {
    std::string merged;
    std::string_view request = call.request_json;
    if (!call.parts.empty()) {
      CEPHALGIA_ASSIGN_OR_RETURN(merged, MergeParts(call.request_json, call.parts));
      request = merged;
    }
    std::string id(call.service_id);  // ABI 1.0 wants a NUL-terminated id
    std::string options = LegacyOptions(call);
    code = table_->evaluate(instance_, id.c_str(), request.data(), request.size(), options.data(),
                            options.size(), &out);
  }
  PackAnswer answer(table_, out);
  if (code != CEPHALGIA_PACK_OK) return PackError(code, answer.json(), "evaluation failed");
  return answer;
}

Result<std::string> LoadedPack::Evaluate(std::string_view service_id, std::string_view request_json,
                                         std::string_view options_json) const {
  std::string id(service_id);  // the ABI wants a NUL-terminated id
  PackBuffer out(table_);
  int code = table_->evaluate(instance_, id.c_str(), request_json.data(), request_json.size(),
                              options_json.data(), options_json.size(), out.get());
  if (code != CEPHALGIA_PACK_OK) return PackError(code, out.view(), "evaluation failed");
  return std::string(out.view());
}

Status PackRegistry::Add(std::unique_ptr<LoadedPack> pack) {
  if (pack == nullptr) return InvalidArgument("null pack");
  const PackDescriptor& d = pack->descriptor();
  if (d.services.empty()) return InvalidArgument("pack " + d.pack_id + " offers no services");
  for (std::size_t i = 0; i < d.services.size(); ++i) {
    const std::string& id = d.services[i].id;
    if (!IsValidServiceId(id)) {
      return InvalidArgument("service id '" + id + "' is not URL-path-safe ([A-Za-z0-9._~-])");
    }
    if (by_id_.count(id) != 0) {
      const LoadedPack* owner = services_[by_id_.find(id)->second].pack;
      return InvalidArgument("duplicate service id '" + id + "' (already provided by pack " +
                             owner->descriptor().pack_id + " from " + owner->source() + ")");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (d.services[j].id == id) {
        return InvalidArgument("duplicate service id '" + id + "' within pack " + d.pack_id);
      }
    }
  }
  packs_.push_back(std::move(pack));
  const LoadedPack* owner = packs_.back().get();
  for (const ServiceDescriptor& s : owner->descriptor().services) {
    by_id_.emplace(s.id, services_.size());
    services_.push_back(ServiceEntry{&s, owner});
  }
  return Status::Ok();
}

const ServiceEntry* PackRegistry::FindService(std::string_view service_id) const {
  auto it = by_id_.find(service_id);
  return it == by_id_.end() ? nullptr : &services_[it->second];
}

}  // namespace cephalgia::plugin
