// File: headache_engine.h
//
// The headache rule engine (issue 4) as an in-process library: knowledge files are loaded,
// schema-validated and compiled once by Load(); Evaluate() turns one CDS Hooks request into a
// CDS Hooks response (FHIR -> findings -> criteria -> decisions -> cards). The plugin .so
// (cephalgia_headache) is a thin SDK wrapper over this class; tests and benchmarks link it
// directly as cephalgia::rules_headache.
//
//   CEPHALGIA_ASSIGN_OR_RETURN(auto engine, HeadacheEngine::Load(data_dir));
//   plugin::EvaluateCall call;  // service_id, request_json, now, prefetch gaps
//   Result<std::string> response = engine->Evaluate(call);
//
// Thread safety: the engine is immutable after Load(); Evaluate() may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cephalgia/plugin/sdk.h"
#include "cephalgia/status.h"

namespace cephalgia::rules {

inline constexpr std::string_view kHeadachePackId = "org.cephalgia.headache";
inline constexpr std::string_view kHeadachePackVersion = "1.0.0";

class HeadacheEngine {
 public:
  // `data_dir` holds `knowledge/*.json` and `schema/*.schema.json`. Every knowledge file is
  // validated against its schema and cross-checked (ids it refers to must exist); the first
  // problem fails with a message naming the file and the JSON Pointer, e.g.
  // "red-flags.json#/flags/3/tier: ...".
  static Result<std::unique_ptr<HeadacheEngine>> Load(const std::string& data_dir);
  ~HeadacheEngine();
  HeadacheEngine(const HeadacheEngine&) = delete;
  HeadacheEngine& operator=(const HeadacheEngine&) = delete;

  // The descriptor JSON of rule_pack_abi.h (packId, packVersion, knowledgeVersion, services).
  std::string Describe() const;
  // One CDS Hooks call. kNotFound for an unknown service id; kInvalidArgument for a request
  // that is not a JSON object or lacks context.patientId.
  Result<std::string> Evaluate(const plugin::EvaluateCall& call) const;
  const std::string& knowledge_version() const;

 private:
  struct Impl;
  explicit HeadacheEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where the pack's data lives, given the directory of the .so: `<pack_dir>/headache`.
std::string HeadacheDataDir(std::string_view pack_directory);

}  // namespace cephalgia::rules
