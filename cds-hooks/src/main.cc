// cephalgia: the one executable. `serve` runs the CDS Hooks service; `evaluate` answers one
// request from a file through the same CdsService code path. Exceptions are allowed only here,
// at start-up; request paths return Status values.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/hooks/fhir_fetcher.h"
#include "cephalgia/hooks/http_server.h"
#include "cephalgia/json.h"
#include "cephalgia/plugin/pack_registry.h"
#include "cli_options.h"
#include "log.h"

#ifndef CEPHALGIA_DEFAULT_PACK_DIR
#define CEPHALGIA_DEFAULT_PACK_DIR "packs"
#endif
#ifndef CEPHALGIA_VERSION
#define CEPHALGIA_VERSION "0.0.0"
#endif

namespace cephalgia::cli {
namespace {

namespace fs = std::filesystem;

// The built-in pack directory: next to the build's bin/ (build/packs), else the configured path.
std::string DefaultPackDirectory() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path sibling = exe.parent_path().parent_path() / "packs";
    if (fs::is_directory(sibling, ec)) return sibling.string();
  }
  return CEPHALGIA_DEFAULT_PACK_DIR;
}

Result<plugin::PackRegistry*> LoadPacks(const std::string& requested_dir,
                                        plugin::PackRegistry& registry) {
  std::string dir = requested_dir.empty() ? DefaultPackDirectory() : requested_dir;
  auto report = plugin::LoadPackDirectory(dir, {}, registry);
  if (!report.ok()) return report.status();
  for (const auto& refusal : report->refused) {
    Log(LogLevel::kWarning, "pack_refused", refusal.file + ": " + refusal.reason);
  }
  for (const auto& file : report->loaded) Log(LogLevel::kInfo, "pack_loaded", file);
  if (registry.services().empty()) {
    Log(LogLevel::kWarning, "no_services", "no rule pack loaded from " + dir);
  }
  return &registry;
}

// "2026-03-01" -> "2026-03-01T00:00:00Z"; full date-times pass through unchanged.
std::string NormalizeNow(const std::string& now) {
  if (now.size() == 10 && now[4] == '-' && now[7] == '-') return now + "T00:00:00Z";
  return now;
}

int ExitCodeFor(const Status& status) {
  switch (hooks::HttpStatusFor(status.code())) {
    case 400: case 404: case 405: case 413: return 2;
    case 412: return 3;
    default: return 1;
  }
}

int RunEvaluate(const std::vector<std::string>& args) {
  bool help = false;
  auto options = ParseEvaluateArgs(args, &help);
  if (help) {
    std::cout << kEvaluateHelp;
    return 0;
  }
  if (!options.ok()) {
    std::cerr << "cephalgia evaluate: " << options.status().message() << "\n\n" << kEvaluateHelp;
    return 2;
  }
  std::string body;
  if (options->input == "-") {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(options->input, std::ios::binary);
    if (!in) {
      std::cerr << "cephalgia evaluate: cannot read " << options->input << "\n";
      return 2;
    }
    body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  plugin::PackRegistry registry;
  if (auto loaded = LoadPacks(options->plugins, registry); !loaded.ok()) {
    Log(LogLevel::kError, "startup_failed", loaded.status().ToString());
    return 1;
  }
  hooks::ServiceOptions service_options;
  service_options.fixed_now = NormalizeNow(options->now);
  service_options.allow_insecure_fhir_server = options->allow_insecure_fhir;
  fhir::FhirClientOptions fhir_options;
  fhir_options.deadline = std::chrono::milliseconds(options->fhir_timeout_ms);
  hooks::CurlFhirFetcher fetcher(fhir_options);
  hooks::CdsService service(registry, service_options, &fetcher);

  std::string service_id = options->service;
  Result<std::string> response = Status(StatusCode::kInternal, "unset");
  if (service_id.empty()) {
    auto chosen = service.ServiceIdForHook(body);
    if (!chosen.ok()) response = chosen.status();
    else service_id = *chosen;
  }
  if (!service_id.empty()) response = service.CallService(service_id, body);
  if (!response.ok()) {
    std::cout << hooks::OperationOutcomeJson(response.status()) << "\n";
    return ExitCodeFor(response.status());
  }
  std::cout << *response << "\n";
  return 0;
}

int RunServe(const std::vector<std::string>& args) {
  bool help = false;
  auto options = ParseServeArgs(args, &help);
  if (help) {
    std::cout << kServeHelp;
    return 0;
  }
  if (!options.ok()) {
    std::cerr << "cephalgia serve: " << options.status().ToString() << "\n";
    return 2;
  }
  int threads = options->threads > 0 ? options->threads
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  plugin::PackRegistry registry;
  if (auto loaded = LoadPacks(options->plugins, registry); !loaded.ok()) {
    Log(LogLevel::kError, "startup_failed", loaded.status().ToString());
    return 1;
  }
  if (options->auth == "off") {
    Log(LogLevel::kWarning, "auth_off",
        "CLIENT AUTHENTICATION IS OFF: any caller can send patient data to this service. "
        "Use --auth required with --jwks/--trusted-issuer outside local testing.");
  }

  hooks::ServiceOptions service_options;
  service_options.max_body_bytes = options->max_body_bytes;
  service_options.fixed_now = NormalizeNow(options->now);
  service_options.cors_allowed_origins = options->cors_origins;
  service_options.allow_insecure_fhir_server = options->allow_insecure_fhir;
  fhir::FhirClientOptions fhir_options;
  fhir_options.deadline = std::chrono::milliseconds(options->fhir_timeout_ms);
  fhir_options.ca_bundle = options->fhir_ca_bundle;
  hooks::CurlFhirFetcher fetcher(fhir_options);
  hooks::CdsService service(registry, service_options, &fetcher);

  hooks::HttpServerOptions server_options;
  server_options.bind_address = options->bind;
  server_options.port = options->port;
  server_options.threads = threads;
  server_options.max_body_bytes = options->max_body_bytes;
  server_options.max_connections = options->max_connections;
  server_options.tls_certificate_file = options->tls_cert;
  server_options.tls_private_key_file = options->tls_key;
  hooks::HttpServer server(
      server_options,
      [&service](const hooks::HttpRequest& request, hooks::CallInfo& info) {
        return service.Handle(request, &info);
      });
  if (Status listening = server.Listen(); !listening.ok()) {
    Log(LogLevel::kError, "startup_failed", listening.ToString());
    return 1;
  }
  std::string scheme = options->tls_cert.empty() ? "http" : "https";
  Log(LogLevel::kInfo, "listening",
      scheme + "://" + options->bind + ":" + std::to_string(server.port()) + " threads=" +
          std::to_string(threads) + " services=" + std::to_string(registry.services().size()));
  server.Run(/*handle_signals=*/true);
  Log(LogLevel::kInfo, "stopped", "drained and stopped");
  return 0;
}

}  // namespace
}  // namespace cephalgia::cli

int main(int argc, char** argv) {
  using namespace cephalgia::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kTopHelp;
    return 2;
  }
  std::string command = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (command == "--version" || command == "version") {
      std::cout << "cephalgia " << CEPHALGIA_VERSION << " (rule-pack ABI "
                << CEPHALGIA_RULE_PACK_ABI_MAJOR << "." << CEPHALGIA_RULE_PACK_ABI_MINOR << ")\n";
      return 0;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kTopHelp;
      return 0;
    }
    if (command == "serve") return RunServe(rest);
    if (command == "evaluate") return RunEvaluate(rest);
  } catch (const std::exception& e) {
    // Start-up code may throw (allocation, filesystem); report it instead of aborting.
    Log(LogLevel::kError, "startup_failed", e.what());
    return 1;
  }
  std::cerr << "cephalgia: unknown command '" << command << "'\n\n" << kTopHelp;
  return 2;
}
