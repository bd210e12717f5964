// Helpers shared by the cephalgia::fhir tests: locating and reading the shared FHIR samples,
// parsing JSON for a test, and matching issues.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/fhir/issues.h"

namespace cephalgia::fhir::testing {

inline std::filesystem::path SamplesDir() {
  return std::filesystem::path(CEPHALGIA_SHARED_DIR) / "fhir-samples";
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string ReadHl7Example(std::string_view name) {
  return ReadFile(SamplesDir() / "hl7-r4-examples" / name);
}

inline std::vector<std::filesystem::path> SyntheaBundles() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(SamplesDir() / "synthea")) {
    if (e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Parses JSON written in a test (fails the test on a syntax error).
inline rapidjson::Document Parse(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << "test JSON does not parse: " << text;
  return doc;
}

// True when the sink holds an issue of `severity` at exactly `location`.
inline bool HasIssueAt(const IssueSink& sink, std::string_view location,
                       Severity severity = Severity::kError) {
  for (const Issue& i : sink.issues()) {
    if (i.location == location && i.severity == severity) return true;
  }
  return false;
}

inline std::string DumpIssues(const IssueSink& sink) {
  std::string out;
  for (const Issue& i : sink.issues()) {
    out += std::string(SeverityName(i.severity)) + " " + i.location + ": " + i.message + "\n";
  }
  return out;
}

}  // namespace cephalgia::fhir::testing
