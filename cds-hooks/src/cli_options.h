// Command-line and config-file options of `cephalgia serve` / `cephalgia evaluate`. Every config
// file key has a matching flag (flag `--max-body-bytes` <-> key `maxBodyBytes`); flags given on
// the command line override the file. Parsing problems are start-up errors with a clear message.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::cli {

struct ServeOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 0;           // 0: one per core
  int blocking_threads = 4;  // deferred work: FHIR fetches, durable feedback writes
  std::string plugins;       // empty: the built-in pack directory
  std::string data_dir = "./data";
  std::string store;  // sqlite:PATH | postgresql://...; empty: SQLite in data_dir
  // With a shared (PostgreSQL) jti replay cache that is unreachable: "local" accepts a token on
  // this replica's own check, "refuse" answers 503.
  std::string replay_cache_outage = "local";
  std::string config_file;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_address = 64;  // 0: none; loopback exempt unless the next is set
  bool limit_loopback_connections = false;
  int header_timeout_ms =
      10000;                    // from connect (or a keep-alive request's first byte) to header end
  int idle_timeout_ms = 30000;  // keep-alive wait for the next request
  int linger_timeout_ms = 5000;  // lingering close after a refusal
  int shutdown_delay_ms = 0;     // SIGTERM -> readiness fails -> this long -> drain
  int drain_timeout_ms = 10000;  // in-flight requests get this long to finish
  int fhir_timeout_ms = 2000;
  std::string fhir_ca_bundle;  // PEM CAs for the EHR's FHIR server; empty: system store
  bool allow_insecure_fhir = false;
  std::string auth = "off";  // off | required
  std::string jwks_file;
  std::vector<std::string> trusted_issuers;
  std::vector<std::string> jku_allow;
  // A file holding the bearer token GET /metrics and GET /admin/feedback require. Without it they
  // answer only loopback clients when --auth is required, anyone when it is off.
  std::string admin_token_file;
  std::string external_base_url;  // e.g. https://cds.example.org (JWT aud); default from bind/port
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::string> cors_origins;
  std::string now;  // pin the evaluation time (tests, demos)
  std::string audit_log = "off";  // PATH | stderr | off: one FHIR AuditEvent line per call/feedback
};

struct EvaluateOptions {
  std::string service;
  std::string now;
  std::string plugins;
  std::string input = "-";
  int fhir_timeout_ms = 2000;
  bool allow_insecure_fhir = false;
};

// Parses argv after the subcommand name. `help` is set when --help was given.
// Precedence, lowest first: defaults, the config file (--config, else CEPHALGIA_CONFIG), the
// environment (every config key as CEPHALGIA_<KEY>: maxBodyBytes -> CEPHALGIA_MAX_BODY_BYTES),
// flags. An invalid value is refused naming where it came from.
Result<ServeOptions> ParseServeArgs(const std::vector<std::string>& args, bool* help);
// The same with the environment read through `getenv` (tests pass their own).
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
Result<ServeOptions> ParseServeArgs(const std::vector<std::string>& args,
                                    const EnvironmentLookup& getenv, bool* help);
// "maxBodyBytes" -> "CEPHALGIA_MAX_BODY_BYTES".
std::string EnvironmentVariableFor(std::string_view key);
// Applies the CEPHALGIA_<KEY> variables onto `options`.
Status ApplyEnvironment(const EnvironmentLookup& getenv, ServeOptions& options);
Result<EvaluateOptions> ParseEvaluateArgs(const std::vector<std::string>& args, bool* help);

// Applies a JSON config file onto `options` (before flags are applied again on top).
Status ApplyConfigFile(const std::string& path, ServeOptions& options);

extern const char kServeHelp[];
extern const char kEvaluateHelp[];
extern const char kTopHelp[];
extern const char kHealthcheckHelp[];

}  // namespace cephalgia::cli
