// File: test_support.h
//
// Helpers shared by the headache pack's tests: the engine loaded once from the source tree,
// running a golden case, and small request builders.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cephalgia/rules/headache_engine.h"
#include "golden/golden_case.h"

namespace cephalgia::rules {

inline std::string SourceDataDir() {
  return std::string(CEPHALGIA_SOURCE_DIR) + "/rules/packs/headache";
}

// The engine over the source tree's knowledge (loaded once; aborts the test binary if broken).
const HeadacheEngine& Engine();

std::vector<std::string> CaseFiles();

Result<std::string> EvaluateCase(const cephalgia::testing::GoldenCase& c);
Result<std::string> EvaluateCaseWith(const HeadacheEngine& engine,
                                     const cephalgia::testing::GoldenCase& c);
// A file's bytes ("" when it cannot be read; the caller's parse then fails with its path).
std::string ReadTextFile(const std::string& path);

Result<std::string> EvaluateRequest(std::string_view service, const std::string& request_json,
                                    const std::string& now = "2026-03-01T10:00:00Z");

}  // namespace cephalgia::rules
