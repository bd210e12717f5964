// A tiny rule pack that knows nothing about headache: it proves the host is generic. Its one
// service answers patient-view with a single info card that echoes what the host handed it
// (the prefetch keys it received and the gaps the host reported), so host tests can observe
// prefetch completion through the plugin boundary.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "cephalgia/plugin/sdk.h"
#include "cephalgia/uuid.h"

#ifndef ECHO_PACK_ID
#define ECHO_PACK_ID "org.cephalgia.test.echo"
#endif
#ifndef ECHO_PACK_NAME
#define ECHO_PACK_NAME echo
#endif

namespace {

using cephalgia::Result;
using cephalgia::Status;
using cephalgia::plugin::EvaluateCall;
using cephalgia::plugin::PackCreateArgs;
using cephalgia::plugin::RulePack;

class EchoPack final : public RulePack {
 public:
  static Result<std::unique_ptr<RulePack>> Create(const PackCreateArgs& args) {
    rapidjson::Document config;
    config.Parse(args.config_json.c_str());
    if (config.IsObject() && config.HasMember("fail") && config["fail"].IsString()) {
      return cephalgia::InvalidArgument(config["fail"].GetString(), "echo.json#/fail");
    }
    return std::unique_ptr<RulePack>(new EchoPack());
  }

  std::string Describe() const override {
    return R"({"packId":")" ECHO_PACK_ID R"(","packVersion":"0.1.0","knowledgeVersion":"echo-1",
      "services":[{"id":"echo-patient-view","hook":"patient-view","title":"Echo",
        "description":"Echoes what the host passed (test pack).",
        "prefetch":{"patient":"Patient/{{context.patientId}}",
                    "conditions":"Condition?patient={{context.patientId}}"},
        "requiredPrefetch":["patient"]}]})";
  }

  Result<std::string> Evaluate(const EvaluateCall& call) const override {
    rapidjson::Document request;
    request.Parse(call.request_json.data(), call.request_json.size());
    if (request.HasParseError() || !request.IsObject()) {
      return cephalgia::InvalidArgument("request is not a JSON object");
    }
    // Test hook for the host's output guard: a request for patient "emit-invalid-json" gets a
    // broken answer back.
    if (request.HasMember("context") && request["context"].IsObject() &&
        request["context"].HasMember("patientId") && request["context"]["patientId"].IsString() &&
        std::string(request["context"]["patientId"].GetString()) == "emit-invalid-json") {
      return std::string("{\"cards\": [ {\"summary\": \"\xff\"");
    }
    std::string keys;
    if (request.HasMember("prefetch") && request["prefetch"].IsObject()) {
      for (auto& m : request["prefetch"].GetObject()) {
        if (!keys.empty()) keys += ",";
        keys += m.name.GetString();
        if (m.value.IsObject() && m.value.HasMember("entry") && m.value["entry"].IsArray()) {
          keys += "(" + std::to_string(m.value["entry"].Size()) + ")";
        }
      }
    }
    std::string gaps;
    for (const auto& g : call.unavailable_prefetch) gaps += "unavailable:" + g.key + ";";
    for (const auto& g : call.partial_prefetch) gaps += "partial:" + g.key + ";";
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("cards");
    w.StartArray();
    w.StartObject();
    w.Key("uuid");
    w.String(cephalgia::NewUuidV4().c_str());
    w.Key("summary");
    w.String("Echo card");
    w.Key("indicator");
    w.String("info");
    w.Key("detail");
    std::string detail = "keys=" + keys + " gaps=" + (gaps.empty() ? "none" : gaps) + " now=" + call.now;
    w.String(detail.c_str());
    w.Key("source");
    w.StartObject();
    w.Key("label");
    w.String("Echo test pack");
    w.Key("topic");
    w.StartObject();
    w.Key("system");
    w.String("urn:cephalgia:rule");
    w.Key("code");
    w.String("echo");
    w.EndObject();
    w.EndObject();
    w.EndObject();
    w.EndArray();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }
};

}  // namespace

CEPHALGIA_DEFINE_RULE_PACK(EchoPack, ECHO_PACK_NAME, ECHO_PACK_ID, "0.1.0")
