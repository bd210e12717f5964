// A rule pack built against a frozen copy of the ABI 1.0 header (tests/plugin/abi_1_0/), without
// the SDK: the table ends at `destroy` and has no evaluate_parts. The host must still load it and
// call it through `evaluate`, with what it fetched merged into the request and its gaps in the
// options JSON. Its one service echoes both back in a card's detail:
//   "legacy prefetch=<key>(<entries>),... options=<the options JSON as received>".
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "cephalgia/plugin/rule_pack_abi.h"

static_assert(CEPHALGIA_RULE_PACK_ABI_MINOR == 0u, "this pack must be built from the 1.0 header");

namespace {

struct Instance {
  int unused = 0;
};

void Fill(cephalgia_buffer* out, const std::string& text) {
  out->data = static_cast<char*>(std::malloc(text.size() + 1));
  std::memcpy(out->data, text.data(), text.size());
  out->data[text.size()] = '\0';
  out->size = text.size();
}

cephalgia_pack_code Create(const char*, size_t, cephalgia_pack_instance** instance_out,
                           cephalgia_buffer*) {
  *instance_out = reinterpret_cast<cephalgia_pack_instance*>(new Instance);
  return CEPHALGIA_PACK_OK;
}

cephalgia_pack_code Describe(const cephalgia_pack_instance*, cephalgia_buffer* out) {
  Fill(out, R"({"packId":"org.cephalgia.test.legacy","packVersion":"1.0.0",
    "services":[{"id":"legacy-patient-view","hook":"patient-view","title":"Legacy",
      "description":"A pack built for ABI 1.0 (test pack).",
      "prefetch":{"patient":"Patient/{{context.patientId}}",
                  "conditions":"Condition?patient={{context.patientId}}"},
      "requiredPrefetch":["patient"]}]})");
  return CEPHALGIA_PACK_OK;
}

cephalgia_pack_code Evaluate(const cephalgia_pack_instance*, const char* service_id,
                             const char* request_json, size_t request_len, const char* options_json,
                             size_t options_len, cephalgia_buffer* out) {
  // ABI 1.0 passes a NUL-terminated service id.
  if (std::strcmp(service_id, "legacy-patient-view") != 0) {
    Fill(out, R"({"message":"unknown service"})");
    return CEPHALGIA_PACK_NOT_FOUND;
  }
  rapidjson::Document request;
  request.Parse(request_json, request_len);
  if (request.HasParseError() || !request.IsObject()) {
    Fill(out, R"({"message":"request is not a JSON object"})");
    return CEPHALGIA_PACK_INVALID_ARGUMENT;
  }
  std::string prefetch;
  if (request.HasMember("prefetch") && request["prefetch"].IsObject()) {
    for (auto& m : request["prefetch"].GetObject()) {
      if (!prefetch.empty()) prefetch += ",";
      prefetch += m.name.GetString();
      if (m.value.IsObject() && m.value.HasMember("entry") && m.value["entry"].IsArray()) {
        prefetch += "(" + std::to_string(m.value["entry"].Size()) + ")";
      }
      if (m.value.IsObject() && m.value.HasMember("link")) prefetch += "+link";
    }
  }
  std::string detail = "legacy prefetch=" + prefetch + " options=" +
                       std::string(options_json == nullptr ? "" : options_json, options_len);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("cards");
  w.StartArray();
  w.StartObject();
  w.Key("summary");
  w.String("Legacy card");
  w.Key("indicator");
  w.String("info");
  w.Key("detail");
  w.String(detail.c_str(), static_cast<rapidjson::SizeType>(detail.size()));
  w.Key("source");
  w.StartObject();
  w.Key("label");
  w.String("Legacy test pack");
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  Fill(out, std::string(sb.GetString(), sb.GetSize()));
  return CEPHALGIA_PACK_OK;
}

void FreeBuffer(cephalgia_buffer* buffer) {
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->size = 0;
}

void Destroy(cephalgia_pack_instance* instance) { delete reinterpret_cast<Instance*>(instance); }

const cephalgia_rule_pack_v1 kTable = {
    sizeof(cephalgia_rule_pack_v1),
    CEPHALGIA_RULE_PACK_ABI_MAJOR,
    CEPHALGIA_RULE_PACK_ABI_MINOR,
    "org.cephalgia.test.legacy",
    "1.0.0",
    &Create,
    &Describe,
    &Evaluate,
    &FreeBuffer,
    &Destroy,
};

}  // namespace

extern "C" CEPHALGIA_PACK_EXPORT const cephalgia_rule_pack_v1* cephalgia_rule_pack_init(
    const cephalgia_host_api*) {
  return &kTable;
}
