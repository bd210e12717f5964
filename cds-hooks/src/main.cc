// cephalgia: the one executable. `serve` runs the CDS Hooks service; `evaluate` answers one
// request from a file through the same CdsService code path. Exceptions are allowed only here,
// at start-up; request paths return Status values.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "allocator.h"
#include "cephalgia/hooks/audit/audit_event.h"
#include "cephalgia/hooks/auth/client_authenticator.h"
#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/hooks/feedback/feedback.h"
#include "cephalgia/hooks/feedback/feedback_store.h"
#include "cephalgia/hooks/feedback/postgres_replay_cache.h"
#include "cephalgia/hooks/fhir_fetcher.h"
#include "cephalgia/hooks/http_limits.h"
#include "cephalgia/hooks/http_server.h"
#include "cephalgia/hooks/metrics/access_log.h"
#include "cephalgia/hooks/metrics/registry.h"
#include "cephalgia/json.h"
#include "cephalgia/plugin/pack_registry.h"
#include "check/check_command.h"
#include "cli_options.h"
#include "context_command.h"
#include "healthcheck_command.h"
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
    // Installed (Debian package, container image): <prefix>/bin/cephalgia,
    // <prefix>/lib/cephalgia/packs.
    fs::path installed = exe.parent_path().parent_path() / "lib" / "cephalgia" / "packs";
    if (fs::is_directory(installed, ec)) return installed.string();
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

// The admin bearer token from its file: surrounding whitespace trimmed, at least 16 characters of
// the token alphabet (RFC 6750 b64token), so it can be sent in a header as it is.
Result<std::string> ReadAdminToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot read --admin-token-file " + path, "adminTokenFile");
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t first = token.find_first_not_of(" \t\r\n");
  const std::size_t last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? std::string() : token.substr(first, last - first + 1);
  bool alphabet = token.size() <= 4096;
  for (char c : token) {
    alphabet = alphabet && (std::isalnum(static_cast<unsigned char>(c)) ||
                            std::string_view("-._~+/=").find(c) != std::string_view::npos);
  }
  if (token.size() < 16 || !alphabet) {
    return InvalidArgument("--admin-token-file " + path +
                               " must hold one token of at least 16 characters (A-Z a-z 0-9 "
                               "-._~+/=)",
                           "adminTokenFile");
  }
  std::error_code ec;
  const fs::perms perms = fs::status(path, ec).permissions();
  if (!ec && (perms & (fs::perms::group_read | fs::perms::others_read)) != fs::perms::none) {
    Log(LogLevel::kWarning, "admin_token_file_readable",
        path + " is readable by group or others; chmod 600 it");
  }
  return token;
}

// "2026-03-01" -> "2026-03-01T00:00:00Z"; full date-times pass through unchanged.
std::string NormalizeNow(const std::string& now) {
  if (now.size() == 10 && now[4] == '-' && now[7] == '-') return now + "T00:00:00Z";
  return now;
}

int ExitCodeFor(const Status& status) {
  switch (hooks::HttpStatusFor(status.code())) {
    case 400:
    case 404:
    case 405:
    case 413:
      return 2;
    case 412:
      return 3;
    default:
      return 1;
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

  Result<std::string> service_id = options->service.empty() ? service.ServiceIdForHook(body)
                                                            : Result<std::string>(options->service);
  Result<std::string> response =
      service_id.ok() ? service.CallService(*service_id, body) : service_id.status();
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
  int threads = options->threads > 0
                    ? options->threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  plugin::PackRegistry registry;
  if (auto loaded = LoadPacks(options->plugins, registry); !loaded.ok()) {
    Log(LogLevel::kError, "startup_failed", loaded.status().ToString());
    return 1;
  }
  // The feedback store (issue 15): --store sqlite:PATH | postgresql://..., by default SQLite in
  // the data directory. Opened first: with PostgreSQL the jti replay cache lives there too.
  auto store_spec = hooks::feedback::ParseStoreSpec(
      options->store, (fs::path(options->data_dir) / "feedback.sqlite").string());
  if (!store_spec.ok()) {
    Log(LogLevel::kError, "startup_failed", store_spec.status().ToString());
    return 1;
  }
  const bool shared_store = store_spec->kind == hooks::feedback::StoreSpec::kPostgres;
  if (!shared_store) {
    std::error_code dir_error;
    const fs::path parent = fs::path(store_spec->target).parent_path();
    if (!parent.empty()) fs::create_directories(parent, dir_error);
    if (dir_error) {
      Log(LogLevel::kError, "startup_failed",
          "cannot create data directory " + parent.string() + ": " + dir_error.message());
      return 1;
    }
  }
  auto feedback_store = hooks::feedback::OpenFeedbackStore(*store_spec);
  if (!feedback_store.ok()) {
    Log(LogLevel::kError, "startup_failed", feedback_store.status().ToString());
    return 1;
  }
  hooks::feedback::FeedbackStore& store = **feedback_store;
  Log(LogLevel::kInfo, "store",
      shared_store ? "postgresql " + hooks::feedback::RedactConninfo(store_spec->target) +
                         " (feedback, issued cards and the jti replay cache shared by replicas)"
                   : "sqlite " + store_spec->target);

  // Client authentication (checklist §J).
  hooks::auth::AuthConfig auth_config;
  auth_config.mode =
      options->auth == "required" ? hooks::auth::AuthMode::kRequired : hooks::auth::AuthMode::kOff;
  auth_config.jwks_file = options->jwks_file;
  auth_config.trusted_issuers = options->trusted_issuers;
  auth_config.jku_allow_prefixes = options->jku_allow;
  std::shared_ptr<hooks::auth::SharedReplayCacheWithLocalFallback> replay_fallback;
  if (shared_store && auth_config.mode == hooks::auth::AuthMode::kRequired) {
    // Replicas share the jti replay cache, or a token accepted by one could be replayed at another.
    auto replay_cache = hooks::feedback::OpenPostgresReplayCache(store_spec->target);
    if (!replay_cache.ok()) {
      Log(LogLevel::kError, "startup_failed", replay_cache.status().ToString());
      return 1;
    }
    if (options->replay_cache_outage == "local") {
      replay_fallback = std::make_shared<hooks::auth::SharedReplayCacheWithLocalFallback>(
          *replay_cache, auth_config.max_replay_entries);
      auth_config.replay_cache = replay_fallback;
    } else {
      auth_config.replay_cache = *replay_cache;
    }
  }
  auto authenticator = hooks::auth::ClientAuthenticator::Create(auth_config);
  if (!authenticator.ok()) {
    Log(LogLevel::kError, "startup_failed", authenticator.status().ToString());
    return 1;
  }
  if (!(*authenticator)->required()) {
    Log(LogLevel::kWarning, "auth_off",
        "CLIENT AUTHENTICATION IS OFF: any caller can send patient data to this service. "
        "Use --auth required with --jwks/--trusted-issuer outside local testing.");
  }

  hooks::metrics::Registry metrics;

  std::string external_base = options->external_base_url;  // set once the port is known
  hooks::ServiceHooks service_hooks;
  service_hooks.authenticate = [&](std::string_view authorization, std::string_view path,
                                   hooks::AuthAttempt& attempt) -> Result<std::string> {
    hooks::auth::ClaimedClient claimed;
    Result<hooks::auth::VerifiedClient> client =
        (*authenticator)
            ->Verify(authorization, external_base + std::string(path),
                     std::chrono::system_clock::now(), &claimed, attempt.may_block);
    if (!client.ok()) {
      attempt.claimed_iss = std::move(claimed.iss);
      attempt.claimed_kid = std::move(claimed.kid);
      return client.status();
    }
    attempt.verified_sub = client->sub;
    return client->iss;
  };
  service_hooks.authenticate_may_block = [&](std::string_view authorization) {
    return (*authenticator)->MayFetchKeys(authorization, std::chrono::system_clock::now());
  };
  service_hooks.store_feedback = [&store](std::string_view service_id, std::string_view body) {
    auto items = hooks::feedback::ValidateFeedback(body);
    if (!items.ok()) return items.status();
    return store.Store(service_id, *items, std::chrono::system_clock::now());
  };
  service_hooks.record_cards = [&store](std::string_view service_id, std::string_view hook_instance,
                                        std::vector<std::pair<std::string, std::string>>&& cards) {
    std::vector<hooks::feedback::IssuedCard> issued;
    issued.reserve(cards.size());
    for (auto& [uuid, rule] : cards) issued.push_back({std::move(uuid), std::move(rule)});
    store.RecordIssuedCards(service_id, hook_instance, std::move(issued));
  };
  service_hooks.feedback_summary_json = [&store]() { return store.Summary(); };
  // The audit trail (issue 16): what a stored feedback was about, for its AuditEvent.
  service_hooks.describe_feedback = [](std::string_view body, hooks::CallInfo& info) {
    auto items = hooks::feedback::ValidateFeedback(body);
    if (!items.ok()) return;
    for (const auto& item : *items) {
      info.feedback.emplace_back(item.card,
                                 std::string(hooks::feedback::OutcomeName(item.outcome)));
    }
  };

  hooks::ServiceOptions service_options;
  // Admin endpoints (/metrics, /admin/feedback): behind their own bearer token when one is
  // configured; otherwise, once client authentication is required, loopback clients only.
  if (!options->admin_token_file.empty()) {
    auto admin_token = ReadAdminToken(options->admin_token_file);
    if (!admin_token.ok()) {
      Log(LogLevel::kError, "startup_failed", admin_token.status().ToString());
      return 1;
    }
    service_options.admin_token = *std::move(admin_token);
  } else if ((*authenticator)->required()) {
    service_options.admin_loopback_only = true;
    Log(LogLevel::kInfo, "admin_loopback_only",
        "/metrics and /admin/feedback answer loopback clients only; set --admin-token-file to "
        "read them from elsewhere");
  }
  service_options.max_body_bytes = options->max_body_bytes;
  service_options.fixed_now = NormalizeNow(options->now);
  service_options.cors_allowed_origins = options->cors_origins;
  service_options.allow_insecure_fhir_server = options->allow_insecure_fhir;
  fhir::FhirClientOptions fhir_options;
  fhir_options.deadline = std::chrono::milliseconds(options->fhir_timeout_ms);
  fhir_options.ca_bundle = options->fhir_ca_bundle;
  hooks::CurlFhirFetcher fetcher(fhir_options);

  hooks::HttpServerOptions server_options;
  server_options.bind_address = options->bind;
  server_options.port = options->port;
  server_options.threads = threads;
  server_options.blocking_threads = options->blocking_threads;
  server_options.max_body_bytes = options->max_body_bytes;
  server_options.max_connections = options->max_connections;
  server_options.max_connections_per_address = options->max_connections_per_address;
  server_options.limit_loopback_connections = options->limit_loopback_connections;
  server_options.header_timeout = std::chrono::milliseconds(options->header_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(options->idle_timeout_ms);
  server_options.linger_timeout = std::chrono::milliseconds(options->linger_timeout_ms);
  server_options.drain_timeout = std::chrono::milliseconds(options->drain_timeout_ms);
  server_options.shutdown_delay = std::chrono::milliseconds(options->shutdown_delay_ms);
  // Every connection holds a descriptor: raise the soft limit for the cap, or lower the cap to
  // what the limit can hold, so the cap acts before accept() fails with EMFILE (issue 13).
  auto descriptors = hooks::PlanDescriptors(options->max_connections,
                                            hooks::DescriptorReserve(options->blocking_threads));
  if (!descriptors.ok()) {
    Log(LogLevel::kError, "startup_failed", descriptors.status().ToString());
    return 1;
  }
  if (!descriptors->note.empty()) {
    Log(descriptors->max_connections < options->max_connections ? LogLevel::kWarning
                                                                : LogLevel::kInfo,
        "descriptor_limit", descriptors->note);
  }
  server_options.max_connections = descriptors->max_connections;
  server_options.on_refused = [&metrics](std::string_view reason) {
    metrics.ConnectionsRefused(reason).Inc();
  };
  server_options.on_evicted = [&metrics] { metrics.IdleConnectionsEvicted().Inc(); };
  server_options.log = [](std::string_view event, std::string_view message) {
    Log(LogLevel::kWarning, event, message);
  };
  server_options.tls_certificate_file = options->tls_cert;
  server_options.tls_private_key_file = options->tls_key;
  hooks::HttpServer* server_ptr = nullptr;
  service_hooks.metrics_text = [&metrics, &server_ptr, &store, &replay_fallback]() {
    if (server_ptr != nullptr) {
      metrics.OpenConnections().Set(static_cast<std::int64_t>(server_ptr->open_connections()));
      metrics.DeferredInProgress().Set(
          static_cast<std::int64_t>(server_ptr->deferred_in_progress()));
    }
    // The store's counts (issue 15).
    metrics.IssuedCardsDropped().AdvanceTo(store.dropped_issued_cards());
    metrics.IssuedCardsQueued().Set(static_cast<std::int64_t>(store.queued_issued_cards()));
    metrics.StoreUp().Set(store.Health().ok() ? 1 : 0);
    if (replay_fallback != nullptr) {
      metrics.TokensAcceptedWhileReplayCacheAway().AdvanceTo(
          static_cast<std::uint64_t>(std::max(0LL, replay_fallback->accepted_during_outage())));
    }
    return metrics.RenderPrometheusText();
  };
  // Readiness (GET /readyz): false from the stop signal on, so a load balancer drains this
  // replica during --shutdown-delay-ms before its port closes.
  std::atomic<bool> draining{false};
  server_options.on_stop_signal = [&draining] {
    draining.store(true);
    Log(LogLevel::kInfo, "stopping", "stop signal received: /readyz now answers 503, draining");
  };
  service_hooks.readiness = [&draining, &store]() -> Status {
    if (draining.load())
      return Status(StatusCode::kUnavailable, "draining: this replica is shutting down");
    // The store's last known state (never blocks): no traffic while feedback cannot be stored.
    return store.Health();
  };
  hooks::CdsService service(registry, service_options, &fetcher, std::move(service_hooks));

  // The audit trail (issue 16): its own sink, one AuditEvent per hook call and per feedback.
  auto audit_sink = hooks::audit::AuditSink::Open(options->audit_log);
  if (!audit_sink.ok()) {
    Log(LogLevel::kError, "startup_failed", audit_sink.status().ToString());
    return 1;
  }
  hooks::audit::AuditSink& audit = **audit_sink;
  auto write_audit = [&audit, &registry, &external_base](
                         const hooks::ExchangeRecord& record,
                         std::chrono::system_clock::time_point start) {
    const hooks::CallInfo& info = hooks::CallInfoOf(record.tag.get());
    const bool call = info.route == "/cds-services/{id}";
    if (!audit.enabled() || info.service_id.empty() ||
        (!call && info.route != "/cds-services/{id}/feedback")) {
      return;
    }
    hooks::audit::AuditRecord a;
    a.kind = call ? hooks::audit::AuditKind::kHookCall : hooks::audit::AuditKind::kFeedback;
    a.duration = record.duration;
    a.start = start;
    a.http_status = record.status;
    a.client_iss = info.client_iss;
    a.client_sub = info.client_sub;
    a.remote_address = record.remote_address;
    a.server_base = external_base;
    a.service_id = info.service_id;
    if (const plugin::ServiceEntry* entry = registry.FindService(info.service_id)) {
      a.hook = entry->descriptor->hook;
    }
    a.patient = info.patient;
    a.hook_instance = info.hook_instance;
    a.traceparent = info.traceparent;
    for (std::size_t i = 0; i < info.card_uuids.size() && i < info.cards.size(); ++i) {
      a.cards.emplace_back(info.card_uuids[i], info.cards[i].first);
    }
    a.feedback = info.feedback;
    audit.Write(a);
  };

  // One access-log line and the metrics of every exchange; no patient data, no tokens.
  auto observe = [&metrics, &write_audit](const hooks::ExchangeRecord& record) {
    // When the exchange began, on the wall clock: the same instant in the audit event and the
    // access line.
    const auto start =
        std::chrono::system_clock::now() -
        std::chrono::duration_cast<std::chrono::system_clock::duration>(record.duration);
    write_audit(record, start);
    const hooks::CallInfo& info = hooks::CallInfoOf(record.tag.get());
    metrics.RecordRequest(info.route, info.service_id, record.status, record.duration);
    for (const auto& [rule, indicator] : info.cards)
      metrics.RecordCard(info.service_id, rule, indicator);
    for (const auto& kind : info.fetch_error_kinds) metrics.RecordFhirFetchError(kind);
    hooks::metrics::AccessLogEntry entry;
    entry.time = start;
    entry.method = record.method;
    entry.route = info.route;
    entry.service_id = info.service_id;
    entry.status = record.status;
    entry.duration_ms = static_cast<double>(record.duration.count()) / 1000.0;
    entry.bytes_in = record.bytes_in;
    entry.bytes_out = record.bytes_out;
    entry.hook_instance = info.hook_instance;
    entry.client_iss = info.client_iss;
    entry.traceparent = info.traceparent;
    std::string line = hooks::metrics::FormatAccessLogLine(entry);
    line.push_back('\n');
    // A refused authentication also gets a line of its own saying why (never the token).
    if (!info.auth_refusal.empty()) {
      const std::string_view label = hooks::auth::RefusalReasonLabel(info.auth_refusal);
      const std::string_view admin_label = "admin_token";
      hooks::metrics::AuthRefusalEntry refusal;
      refusal.time = entry.time;
      refusal.route = info.route;
      refusal.reason = info.auth_refusal;
      refusal.label = label != "other" ? label : admin_label;
      refusal.iss = info.refused_iss;
      refusal.kid = info.refused_kid;
      refusal.remote = record.remote_address;
      metrics.RecordAuthRefusal(refusal.label);
      line += hooks::metrics::FormatAuthRefusalLine(refusal);
      line.push_back('\n');
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
    // A request the transport refused (broken HTTP, header or body over its limit): why, once.
    if (!record.refusal.empty()) {
      Log(LogLevel::kWarning, "request_refused",
          "status " + std::to_string(record.status) + " to " + record.remote_address + ": " +
              record.refusal);
    }
  };
  hooks::HttpServer server(server_options, hooks::ServiceHandler(service), observe);
  server_ptr = &server;
  if (Status listening = server.Listen(); !listening.ok()) {
    Log(LogLevel::kError, "startup_failed", listening.ToString());
    return 1;
  }
  std::string scheme = options->tls_cert.empty() ? "http" : "https";
  std::string local = scheme + "://" + options->bind + ":" + std::to_string(server.port());
  if (external_base.empty()) external_base = local;
  while (!external_base.empty() && external_base.back() == '/') external_base.pop_back();
  Log(LogLevel::kInfo, "listening",
      local + " threads=" + std::to_string(threads) +
          " blocking_threads=" + std::to_string(options->blocking_threads) +
          " services=" + std::to_string(registry.services().size()) +
          " audience-base=" + external_base + " allocator=" + AllocatorName());
  server.Run(/*handle_signals=*/true);
  if (Status flushed = store.Flush(); !flushed.ok()) {
    Log(LogLevel::kWarning, "feedback_flush", flushed.ToString());
  }
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
    if (command == "context") return RunContext(rest);
    if (command == "check") return cephalgia::check::RunCheckCommand(rest);
    if (command == "healthcheck") return RunHealthcheck(rest);
  } catch (const std::exception& e) {
    // Start-up code may throw (allocation, filesystem); report it instead of aborting.
    Log(LogLevel::kError, "startup_failed", e.what());
    return 1;
  }
  std::cerr << "cephalgia: unknown command '" << command << "'\n\n" << kTopHelp;
  return 2;
}
