#include "test_support.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cephalgia::rules {

const HeadacheEngine& Engine() {
  static const HeadacheEngine* engine = [] {
    auto loaded = HeadacheEngine::Load(SourceDataDir());
    if (!loaded.ok()) {
      std::fprintf(stderr, "cannot load the headache knowledge: %s\n",
                   loaded.status().ToString().c_str());
      std::abort();
    }
    return loaded->release();
  }();
  return *engine;
}

std::vector<std::string> CaseFiles() {
  return cephalgia::testing::ListGoldenCaseFiles(std::string(CEPHALGIA_SOURCE_DIR) +
                                                 "/tests/rules/cases");
}

Result<std::string> EvaluateCase(const cephalgia::testing::GoldenCase& c) {
  return EvaluateCaseWith(Engine(), c);
}

Result<std::string> EvaluateCaseWith(const HeadacheEngine& engine,
                                     const cephalgia::testing::GoldenCase& c) {
  plugin::EvaluateCall call;
  call.service_id = c.service;
  call.request_json = c.request_json;
  call.now = c.now;
  call.unavailable_prefetch = c.unavailable_prefetch;
  call.partial_prefetch = c.partial_prefetch;
  return engine.Evaluate(call);
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<std::string> EvaluateRequest(std::string_view service, const std::string& request_json,
                                    const std::string& now) {
  plugin::EvaluateCall call;
  call.service_id = service;
  call.request_json = request_json;
  call.now = now;
  return Engine().Evaluate(call);
}

}  // namespace cephalgia::rules
