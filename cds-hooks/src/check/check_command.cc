#include "check_command.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "checker.h"
#include "jwt_signer.h"

#ifndef CEPHALGIA_CHECK_SHARED_DIR
#define CEPHALGIA_CHECK_SHARED_DIR "../shared"
#endif

namespace cephalgia::check {

const char kCheckHelp[] =
    R"(Usage: cephalgia check BASE_URL [options]

Holds a CDS Hooks 2.0 service (ours or anyone's) to ../shared/cds-hooks/checklist.md: discovery
and its prefetch templates; for every advertised service of a known hook (patient-view,
order-select, order-sign, encounter-start, encounter-discharge, appointment-book) calls with the
full prefetch built from FHIR data, with no prefetch and an unreachable fhirServer, with null
prefetch values, malformed calls and an unknown service; every answer against the card rules
(summary, indicator, source, uuids, suggestions, actions, links, overrideReasons, systemActions,
FHIR resources against the R4 JSON Schema); CORS preflight; feedback; client JWTs (with
--jwks-key); latency. BASE_URL is the part before /cds-services, e.g. http://127.0.0.1:8080.

  --hook H              check only services of hook H (repeatable)
  --service ID          check only service ID
  --fhir-data DIR       FHIR R4 JSON files (Bundles or resources) to build prefetch from
                        (default: ../shared/fhir-samples/synthea)
  --patient ID          use this Patient of the data (default: the first --max-patients)
  --max-patients N      patients to call each service with (default 3)
  --fhir-schema FILE    the FHIR R4 JSON Schema (default: ../shared/fhir-r4-json-schema/
                        fhir.schema.json when it exists; without it resources are not
                        schema-checked)
  --jwks-key FILE       PEM EC P-384 private key: sign ES384 client JWTs with it and check that
                        the service accepts a good token and refuses expired, wrong-audience,
                        replayed, alg none and unknown-key tokens. The service must trust the
                        key: --print-jwks prints its public JWK Set
  --kid KID             the key id (default: the key's RFC 7638 thumbprint)
  --issuer ISS          the JWT iss (default cephalgia-check)
  --print-jwks          print the public JWK Set of --jwks-key and exit
  --report FORMAT       text (default), json or junit
  --output FILE         write the report to FILE instead of stdout
  --timeout S           seconds allowed for each HTTP exchange (default 10)
  --latency-budget MS   the latency each hook call is held to (default 500, checklist E52)

Exit status: 0 every MUST is met (SHOULD failures are reported but do not fail the run);
1 a MUST failed; 2 bad arguments, or the data, key or schema could not be read.
)";

namespace {

namespace fs = std::filesystem;

int Usage(const std::string& message) {
  std::cerr << "cephalgia check: " << message << "\n\n" << kCheckHelp;
  return 2;
}

// ../shared/<relative> next to the working directory, next to the checkout the binary was built
// from (build*/bin/cephalgia), or where the build said; "" when none exists.
std::string SharedDefault(const std::string& relative) {
  std::vector<fs::path> roots = {fs::path("../shared")};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path().parent_path().parent_path() / "shared");
  roots.push_back(fs::path(CEPHALGIA_CHECK_SHARED_DIR));
  for (const fs::path& root : roots) {
    if (fs::exists(root / relative, ec)) return (root / relative).lexically_normal().string();
  }
  return "";
}

}  // namespace

int RunCheckCommand(const std::vector<std::string>& args) {
  CheckOptions options;
  std::string report = "text", output;
  bool print_jwks = false, schema_given = false, data_given = false;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    auto value = [&](std::string* out) {
      if (k + 1 >= args.size()) return false;
      *out = args[++k];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::cout << kCheckHelp;
      return 0;
    } else if (arg == "--print-jwks") {
      print_jwks = true;
    } else if (arg == "--hook") {
      if (!value(&v)) return Usage("--hook needs a value");
      options.hooks.push_back(v);
    } else if (arg == "--service") {
      if (!value(&options.service)) return Usage("--service needs a value");
    } else if (arg == "--fhir-data") {
      if (!value(&options.fhir_data)) return Usage("--fhir-data needs a value");
      data_given = true;
    } else if (arg == "--patient") {
      if (!value(&options.patient)) return Usage("--patient needs a value");
    } else if (arg == "--max-patients") {
      if (!value(&v)) return Usage("--max-patients needs a value");
      try {
        options.max_patients = std::stoi(v);
      } catch (...) {
        options.max_patients = 0;
      }
      if (options.max_patients < 1) return Usage("--max-patients must be a positive number");
    } else if (arg == "--fhir-schema") {
      if (!value(&options.fhir_schema)) return Usage("--fhir-schema needs a value");
      schema_given = true;
    } else if (arg == "--jwks-key") {
      if (!value(&options.jwks_key)) return Usage("--jwks-key needs a value");
    } else if (arg == "--kid") {
      if (!value(&options.kid)) return Usage("--kid needs a value");
    } else if (arg == "--issuer") {
      if (!value(&options.issuer)) return Usage("--issuer needs a value");
    } else if (arg == "--report") {
      if (!value(&report)) return Usage("--report needs a value");
      if (report != "text" && report != "json" && report != "junit") {
        return Usage("--report must be text, json or junit");
      }
    } else if (arg == "--output") {
      if (!value(&output)) return Usage("--output needs a value");
    } else if (arg == "--timeout" || arg == "--latency-budget") {
      if (!value(&v)) return Usage(arg + " needs a value");
      double d = 0;
      try {
        d = std::stod(v);
      } catch (...) {
      }
      if (!(d > 0) || d > 86400) return Usage(arg + " must be a positive number up to 86400");
      (arg == "--timeout" ? options.timeout_s : options.latency_budget_ms) = d;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage("unknown option " + arg);
    } else if (options.base_url.empty()) {
      options.base_url = arg;
    } else {
      return Usage("one BASE_URL only");
    }
  }
  if (print_jwks) {
    if (options.jwks_key.empty()) return Usage("--print-jwks needs --jwks-key");
    auto signer = Es384Signer::FromPemFile(options.jwks_key, options.kid);
    if (!signer.ok()) {
      std::cerr << "cephalgia check: " << signer.status().message() << "\n";
      return 2;
    }
    std::cout << (*signer)->PublicJwkSet() << "\n";
    return 0;
  }
  if (options.base_url.empty()) return Usage("BASE_URL is required");
  if (options.base_url.rfind("http://", 0) != 0 && options.base_url.rfind("https://", 0) != 0) {
    return Usage("BASE_URL must start with http:// or https://");
  }
  const std::string suffix = "/cds-services";
  while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
  if (options.base_url.size() >= suffix.size() &&
      options.base_url.compare(options.base_url.size() - suffix.size(), suffix.size(), suffix) ==
          0) {
    options.base_url.resize(options.base_url.size() - suffix.size());  // a pasted discovery URL
  }
  if (!data_given) {
    options.fhir_data = SharedDefault("fhir-samples/synthea");
    if (options.fhir_data.empty()) {
      return Usage("no --fhir-data given and ../shared/fhir-samples/synthea not found");
    }
  }
  if (!schema_given) options.fhir_schema = SharedDefault("fhir-r4-json-schema/fhir.schema.json");

  auto run = RunChecks(options);
  if (!run.ok()) {
    std::cerr << "cephalgia check: " << run.status().message() << "\n";
    return 2;
  }
  const std::string text = report == "json"    ? JsonReport(*run)
                           : report == "junit" ? JunitReport(*run)
                                               : TextReport(*run);
  if (output.empty()) {
    std::cout << text;
  } else {
    std::ofstream out(output, std::ios::binary);
    out << text;
    if (!out) {
      std::cerr << "cephalgia check: cannot write " << output << "\n";
      return 2;
    }
    if (report != "text") std::cerr << TextReport(*run).substr(TextReport(*run).rfind("\n\n") + 2);
  }
  return run->MustFailed() ? 1 : 0;
}

}  // namespace cephalgia::check
