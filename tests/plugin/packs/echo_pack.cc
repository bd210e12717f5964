// A tiny rule pack that knows nothing about headache: it proves the host is generic. Its one
// service answers patient-view with a single info card that echoes what the host handed it
// (the prefetch keys it received and the gaps the host reported), so host tests can observe
// prefetch completion through the plugin boundary.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string>
#include <vector>

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
    // Test hook for the host's reading of the cards: two cards whose uuid, indicator and rule
    // have escapes (decoded by the host's reader, not where they lie) and one not; with
    // "-fallback", a number the fast tokenizer leaves to RapidJSON's reader as well.
    if (request.HasMember("context") && request["context"].IsObject() &&
        request["context"].HasMember("patientId") && request["context"]["patientId"].IsString()) {
      const std::string patient = request["context"]["patientId"].GetString();
      if (patient == "emit-escaped-cards" || patient == "emit-escaped-cards-fallback") {
        return std::string(R"({"cards":[{"uuid":"a\u0062c","indicator":"in\u0066o",)"
                           R"("source":{"topic":{"code":"r\"1"}}},)"
                           R"({"uuid":"d\\e","indicator":"warning","summary":"x\ny",)"
                           R"("source":{"topic":{"code":"r\u00e92"}}}])") +
               (patient == "emit-escaped-cards-fallback" ? R"(,"n":123e299})" : "}");
      }
    }
    // The prefetch as the host completed it: through ABI 1.1 what was fetched comes as parts
    // beside the request (a value in place of the key's first member, more pages extending it,
    // keys the client did not send after its own).
    std::vector<rapidjson::Document> parts(call.parts.size());
    std::vector<bool> used(call.parts.size(), false);
    for (std::size_t i = 0; i < call.parts.size(); ++i) {
      parts[i].Parse(call.parts[i].json.data(), call.parts[i].json.size());
    }
    auto entries = [](const rapidjson::Value& v) -> int {
      if (v.IsObject() && v.HasMember("entry") && v["entry"].IsArray()) {
        return static_cast<int>(v["entry"].Size());
      }
      return -1;
    };
    std::string keys;
    auto add_key = [&keys](std::string_view key, int count) {
      if (!keys.empty()) keys += ",";
      keys += key;
      if (count >= 0) keys += "(" + std::to_string(count) + ")";
    };
    if (request.HasMember("prefetch") && request["prefetch"].IsObject()) {
      for (auto& m : request["prefetch"].GetObject()) {
        std::string_view key(m.name.GetString(), m.name.GetStringLength());
        const rapidjson::Value* value = &m.value;
        for (std::size_t i = 0; i < parts.size(); ++i) {
          if (!used[i] && !call.parts[i].more_pages && call.parts[i].key == key) {
            used[i] = true;
            value = &parts[i];
            break;
          }
        }
        int count = entries(*value);
        for (std::size_t i = 0; i < parts.size(); ++i) {
          if (!used[i] && call.parts[i].more_pages && call.parts[i].key == key) {
            used[i] = true;
            count = std::max(count, 0) + std::max(entries(parts[i]), 0);
          }
        }
        add_key(key, count);
      }
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!used[i] && !call.parts[i].more_pages) add_key(call.parts[i].key, entries(parts[i]));
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
    std::string detail =
        "keys=" + keys + " gaps=" + (gaps.empty() ? "none" : gaps) + " now=" + call.now;
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
