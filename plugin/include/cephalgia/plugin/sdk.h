// File: sdk.h
//
// Header-only C++ SDK for writing a rule pack as a C++ class. The macro at the bottom turns the
// class into the pure C ABI of rule_pack_abi.h, catching every exception at the edge, so nothing
// C++ crosses the boundary. The same source links statically too: the macro always defines
// `cephalgia_static_pack_<name>()`, and defines the exported `cephalgia_rule_pack_init` only
// when CEPHALGIA_PACK_SHARED is defined (the build does this for the .so target).
//
//   class MyPack final : public cephalgia::plugin::RulePack {
//    public:
//     static cephalgia::Result<std::unique_ptr<cephalgia::plugin::RulePack>> Create(
//         const cephalgia::plugin::PackCreateArgs& args);
//     std::string Describe() const override;
//     cephalgia::Result<std::string> Evaluate(
//         const cephalgia::plugin::EvaluateCall& call) const override;
//   };
//   CEPHALGIA_DEFINE_RULE_PACK(MyPack, my_pack, "org.example.my-pack", "1.0.0")
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/plugin/rule_pack_abi.h"
#include "cephalgia/status.h"

namespace cephalgia::plugin {

struct PackCreateArgs {
  std::string pack_directory;  // directory that holds the pack's file (for its data files)
  std::string config_json;     // the pack's own settings as JSON ("{}" when none)
};

// A prefetch key the host could not satisfy, or could satisfy only in part.
struct PrefetchGap {
  std::string key;
  std::string reason;
};

// ABI 1.1: one prefetch value the host fetched, beside the client's request (see
// cephalgia_json_part). `more_pages`: a Bundle whose entries extend the Bundle the client sent
// under `key`; otherwise the key's value, in place of what the client sent.
struct JsonPart {
  std::string_view key;
  std::string_view json;
  bool more_pages = false;
};

struct EvaluateCall {
  std::string_view service_id;
  // The CDS Hooks request. Through ABI 1.1 the client's bytes untouched, with what the host
  // fetched in `parts`; through ABI 1.0 (or an older host) the request as the host completed it.
  std::string_view request_json;
  std::string now;  // RFC 3339 evaluation time chosen by the host
  // The host's account of missing data, the only one: a key it does not list is complete.
  std::vector<PrefetchGap> unavailable_prefetch;
  std::vector<PrefetchGap> partial_prefetch;
  std::vector<JsonPart> parts;  // ABI 1.1; views valid for the call
};

class RulePack {
 public:
  virtual ~RulePack() = default;
  // The descriptor JSON documented on cephalgia_rule_pack_v1::describe.
  virtual std::string Describe() const = 0;
  // The CDS Hooks response JSON, or an error (kInvalidArgument, kNotFound,
  // kFailedPrecondition, kInternal). Must be safe to call concurrently.
  virtual Result<std::string> Evaluate(const EvaluateCall& call) const = 0;
};

namespace sdk_detail {

inline void FillBuffer(cephalgia_buffer* out, std::string_view bytes) {
  if (out == nullptr) return;
  out->data = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (out->data == nullptr) {
    out->size = 0;
    return;
  }
  std::memcpy(out->data, bytes.data(), bytes.size());
  out->data[bytes.size()] = '\0';
  out->size = bytes.size();
}

inline std::string ErrorJson(std::string_view message, std::string_view location) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  if (!location.empty()) {
    w.Key("location");
    w.String(location.data(), static_cast<rapidjson::SizeType>(location.size()));
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

inline cephalgia_pack_code ToPackCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return CEPHALGIA_PACK_OK;
    case StatusCode::kInvalidArgument:
      return CEPHALGIA_PACK_INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return CEPHALGIA_PACK_NOT_FOUND;
    case StatusCode::kFailedPrecondition:
      return CEPHALGIA_PACK_FAILED_PRECONDITION;
    default:
      return CEPHALGIA_PACK_INTERNAL;
  }
}

inline cephalgia_pack_code Fail(const Status& status, cephalgia_buffer* out) {
  FillBuffer(out, ErrorJson(status.message(), status.location()));
  return ToPackCode(status.code());
}

// Called only from a catch block: no exception crosses the C ABI, each becomes an error answer
// naming the entry point.
inline cephalgia_pack_code FailOnException(const char* entry_point, cephalgia_buffer* out) {
  try {
    throw;
  } catch (const std::exception& e) {
    return Fail(Internal(std::string("exception in ") + entry_point + ": " + e.what()), out);
  } catch (...) {
    return Fail(Internal(std::string("unknown exception in ") + entry_point), out);
  }
}

// An evaluation's result as the ABI answers it: the response in `out`, or the error.
inline cephalgia_pack_code Answer(const Result<std::string>& response, cephalgia_buffer* out) {
  if (!response.ok()) return Fail(response.status(), out);
  FillBuffer(out, *response);
  return CEPHALGIA_PACK_OK;
}

inline void ReadGaps(const rapidjson::Value& options, const char* key,
                     std::vector<PrefetchGap>& gaps) {
  if (!options.IsObject()) return;
  auto it = options.FindMember(key);
  if (it == options.MemberEnd() || !it->value.IsArray()) return;
  for (const auto& gap : it->value.GetArray()) {
    if (!gap.IsObject()) continue;
    PrefetchGap g;
    auto k = gap.FindMember("key");
    auto r = gap.FindMember("reason");
    if (k != gap.MemberEnd() && k->value.IsString()) g.key = k->value.GetString();
    if (r != gap.MemberEnd() && r->value.IsString()) g.reason = r->value.GetString();
    gaps.push_back(std::move(g));
  }
}

inline void ParseOptions(std::string_view options_json, EvaluateCall& call) {
  rapidjson::Document options;
  options.Parse(options_json.data(), options_json.size());
  if (options.HasParseError() || !options.IsObject()) return;
  auto now = options.FindMember("now");
  if (now != options.MemberEnd() && now->value.IsString()) call.now = now->value.GetString();
  ReadGaps(options, "unavailablePrefetch", call.unavailable_prefetch);
  ReadGaps(options, "partialPrefetch", call.partial_prefetch);
}

inline void FreeBuffer(cephalgia_buffer* buffer) {
  if (buffer == nullptr) return;
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->size = 0;
}

// Adapts a C++ RulePack class to the C function table. One instantiation per pack class.
template <typename Pack>
struct Adapter {
  static cephalgia_pack_code Create(const char* config_json, size_t config_len,
                                    cephalgia_pack_instance** instance_out,
                                    cephalgia_buffer* error_out) noexcept {
    try {
      if (instance_out == nullptr) {
        return Fail(InvalidArgument("instance_out is null"), error_out);
      }
      PackCreateArgs args;
      args.config_json = "{}";
      rapidjson::Document config;
      config.Parse(config_json == nullptr ? "" : config_json, config_len);
      if (config.HasParseError() || !config.IsObject()) {
        return Fail(InvalidArgument("pack configuration is not a JSON object"), error_out);
      }
      auto dir = config.FindMember("packDirectory");
      if (dir != config.MemberEnd() && dir->value.IsString()) {
        args.pack_directory = dir->value.GetString();
      }
      auto own = config.FindMember("config");
      if (own != config.MemberEnd() && own->value.IsObject()) {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        own->value.Accept(w);
        args.config_json.assign(sb.GetString(), sb.GetSize());
      }
      Result<std::unique_ptr<RulePack>> created = Pack::Create(args);
      if (!created.ok()) return Fail(created.status(), error_out);
      *instance_out = reinterpret_cast<cephalgia_pack_instance*>(created->release());
      return CEPHALGIA_PACK_OK;
    } catch (...) {
      return FailOnException("create", error_out);
    }
  }

  static cephalgia_pack_code Describe(const cephalgia_pack_instance* instance,
                                      cephalgia_buffer* out) noexcept {
    try {
      if (instance == nullptr) return Fail(InvalidArgument("instance is null"), out);
      FillBuffer(out, reinterpret_cast<const RulePack*>(instance)->Describe());
      return CEPHALGIA_PACK_OK;
    } catch (...) {
      return FailOnException("describe", out);
    }
  }

  static cephalgia_pack_code Evaluate(const cephalgia_pack_instance* instance,
                                      const char* service_id, const char* request_json,
                                      size_t request_len, const char* options_json,
                                      size_t options_len, cephalgia_buffer* out) noexcept {
    try {
      if (instance == nullptr || service_id == nullptr || request_json == nullptr) {
        return Fail(InvalidArgument("null argument to evaluate"), out);
      }
      EvaluateCall call;
      call.service_id = service_id;
      call.request_json = std::string_view(request_json, request_len);
      if (options_json != nullptr) ParseOptions(std::string_view(options_json, options_len), call);
      return Answer(reinterpret_cast<const RulePack*>(instance)->Evaluate(call), out);
    } catch (...) {
      return FailOnException("evaluate", out);
    }
  }

  // ABI 1.1: the request untouched, the fetched parts beside it, the host's gaps.
  static cephalgia_pack_code EvaluateParts(const cephalgia_pack_instance* instance,
                                           const cephalgia_evaluate_args* args,
                                           cephalgia_buffer* out) noexcept {
    try {
      // The 1.1 arguments end with gap_count; a smaller struct cannot carry them.
      if (instance == nullptr || args == nullptr ||
          args->struct_size < offsetof(cephalgia_evaluate_args, gap_count) + sizeof(size_t) ||
          args->service_id == nullptr || args->request_json == nullptr) {
        return Fail(InvalidArgument("null or short argument to evaluate_parts"), out);
      }
      EvaluateCall call;
      call.service_id = std::string_view(args->service_id, args->service_id_len);
      call.request_json = std::string_view(args->request_json, args->request_len);
      if (args->now != nullptr) call.now.assign(args->now, args->now_len);
      for (size_t i = 0; args->gaps != nullptr && i < args->gap_count; ++i) {
        const cephalgia_prefetch_gap& g = args->gaps[i];
        PrefetchGap gap{
            std::string(g.key == nullptr ? "" : g.key, g.key == nullptr ? 0 : g.key_len),
            std::string(g.reason == nullptr ? "" : g.reason,
                        g.reason == nullptr ? 0 : g.reason_len)};
        (g.kind == CEPHALGIA_GAP_PARTIAL ? call.partial_prefetch : call.unavailable_prefetch)
            .push_back(std::move(gap));
      }
      if (args->parts != nullptr && args->part_count > 0) {
        call.parts.reserve(args->part_count);
        for (size_t i = 0; i < args->part_count; ++i) {
          const cephalgia_json_part& p = args->parts[i];
          if (p.key == nullptr || p.json == nullptr) {
            return Fail(InvalidArgument("null prefetch part"), out);
          }
          call.parts.push_back({std::string_view(p.key, p.key_len),
                                std::string_view(p.json, p.json_len),
                                p.kind == CEPHALGIA_PART_MORE_PAGES});
        }
      }
      return Answer(reinterpret_cast<const RulePack*>(instance)->Evaluate(call), out);
    } catch (...) {
      return FailOnException("evaluate", out);
    }
  }

  static void Destroy(cephalgia_pack_instance* instance) noexcept {
    delete reinterpret_cast<RulePack*>(instance);
  }
};

template <typename Pack>
const cephalgia_rule_pack_v1* PackTable(const char* id, const char* version) {
  static const cephalgia_rule_pack_v1 table = {
      sizeof(cephalgia_rule_pack_v1),
      CEPHALGIA_RULE_PACK_ABI_MAJOR,
      CEPHALGIA_RULE_PACK_ABI_MINOR,
      id,
      version,
      &Adapter<Pack>::Create,
      &Adapter<Pack>::Describe,
      &Adapter<Pack>::Evaluate,
      &FreeBuffer,
      &Adapter<Pack>::Destroy,
      &Adapter<Pack>::EvaluateParts,
  };
  return &table;
}

}  // namespace sdk_detail
}  // namespace cephalgia::plugin

#if defined(CEPHALGIA_PACK_SHARED)
#define CEPHALGIA_DEFINE_RULE_PACK_SHARED_ENTRY_(name)                                     \
  extern "C" CEPHALGIA_PACK_EXPORT const cephalgia_rule_pack_v1* cephalgia_rule_pack_init( \
      const cephalgia_host_api* host) {                                                    \
    return cephalgia_static_pack_##name(host);                                             \
  }
#else
#define CEPHALGIA_DEFINE_RULE_PACK_SHARED_ENTRY_(name)
#endif

// Defines the C entry points of pack class `cls`. `name` is a C identifier used for the
// static-link function `cephalgia_static_pack_<name>`; it may itself be a macro (the extra
// level of expansion makes it expand before it is pasted).
#define CEPHALGIA_DEFINE_RULE_PACK(cls, name, id, version) \
  CEPHALGIA_DEFINE_RULE_PACK_IMPL_(cls, name, id, version)
#define CEPHALGIA_DEFINE_RULE_PACK_IMPL_(cls, name, id, version)                      \
  extern "C" const cephalgia_rule_pack_v1* cephalgia_static_pack_##name(              \
      const cephalgia_host_api* /*host*/) {                                           \
    /* The host checks abi_major itself, so that it can say why it refuses a pack. */ \
    return ::cephalgia::plugin::sdk_detail::PackTable<cls>(id, version);              \
  }                                                                                   \
  CEPHALGIA_DEFINE_RULE_PACK_SHARED_ENTRY_(name)
