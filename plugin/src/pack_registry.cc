#include "cephalgia/plugin/pack_registry.h"

#include <utility>

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
    return buffer_.data == nullptr ? std::string_view() : std::string_view(buffer_.data, buffer_.size);
  }

 private:
  const cephalgia_rule_pack_v1* table_;
  cephalgia_buffer buffer_{nullptr, 0};
};

StatusCode FromPackCode(int code) {
  switch (code) {
    case CEPHALGIA_PACK_INVALID_ARGUMENT: return StatusCode::kInvalidArgument;
    case CEPHALGIA_PACK_NOT_FOUND: return StatusCode::kNotFound;
    case CEPHALGIA_PACK_FAILED_PRECONDITION: return StatusCode::kFailedPrecondition;
    default: return StatusCode::kInternal;
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
  if (services == nullptr) return InvalidArgument("pack descriptor: 'services' must be an array", "$.services");
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
        return InvalidArgument("pack descriptor: 'prefetch' must be an object", where + ".prefetch");
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
  if (!descriptor.ok()) return descriptor.status().WithContext("pack " + std::string(table->pack_id));
  pack->descriptor_ = std::move(*descriptor);
  return pack;
}

LoadedPack::~LoadedPack() {
  if (instance_ != nullptr) table_->destroy(instance_);
}

Result<std::string> LoadedPack::Evaluate(std::string_view service_id,
                                         std::string_view request_json,
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
