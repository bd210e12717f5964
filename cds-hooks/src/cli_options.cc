#include "cli_options.h"

#include <rapidjson/schema.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "cephalgia/json.h"

namespace cephalgia::cli {
namespace {

enum class Kind { kString, kInt, kBool, kStringList };

// One row per option: the flag, its config-file key, and how to store it. This single table
// drives flag parsing, config parsing and the config JSON Schema, so they cannot drift apart.
struct OptionSpec {
  const char* flag;
  const char* key;  // nullptr: flag only (e.g. --config itself)
  Kind kind;
  const char* description;
  std::function<Status(ServeOptions&, const std::string&)> set;
  // Repeatable options: the list they fill (flags replace the config file's list, not extend it).
  std::vector<std::string> ServeOptions::*list = nullptr;
};

Result<long long> ParseInt(const std::string& text, const std::string& what, long long lo,
                           long long hi) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return InvalidArgument(what + " must be an integer from " + std::to_string(lo) + " to " +
                           std::to_string(hi) + ", got '" + text + "'");
  }
  return v;
}

template <typename T>
std::function<Status(ServeOptions&, const std::string&)> IntSetter(T ServeOptions::*field,
                                                                   const char* flag, long long lo,
                                                                   long long hi) {
  return [=](ServeOptions& o, const std::string& v) -> Status {
    auto n = ParseInt(v, flag, lo, hi);
    if (!n.ok()) return n.status();
    o.*field = static_cast<T>(*n);
    return Status::Ok();
  };
}

std::function<Status(ServeOptions&, const std::string&)> StringSetter(
    std::string ServeOptions::*field) {
  return [=](ServeOptions& o, const std::string& v) {
    o.*field = v;
    return Status::Ok();
  };
}

OptionSpec ListOption(const char* flag, const char* key, const char* description,
                      std::vector<std::string> ServeOptions::*list) {
  return {flag,
          key,
          Kind::kStringList,
          description,
          [=](ServeOptions& o, const std::string& v) {
            (o.*list).push_back(v);
            return Status::Ok();
          },
          list};
}

const std::vector<OptionSpec>& ServeSpecs() {
  static const std::vector<OptionSpec> specs = {
      {"--bind", "bind", Kind::kString, "address to listen on", StringSetter(&ServeOptions::bind)},
      {"--port", "port", Kind::kInt, "TCP port (0 picks a free one)",
       IntSetter(&ServeOptions::port, "--port", 0, 65535)},
      {"--threads", "threads", Kind::kInt, "I/O threads (0: one per core)",
       IntSetter(&ServeOptions::threads, "--threads", 0, 256)},
      {"--blocking-threads", "blockingThreads", Kind::kInt,
       "threads for calls that fetch from the FHIR server and for feedback writes",
       IntSetter(&ServeOptions::blocking_threads, "--blocking-threads", 1, 256)},
      {"--plugins", "plugins", Kind::kString, "directory of rule packs (*.so)",
       StringSetter(&ServeOptions::plugins)},
      {"--data-dir", "dataDir", Kind::kString, "directory for the feedback database",
       StringSetter(&ServeOptions::data_dir)},
      {"--store", "store", Kind::kString,
       "feedback store: sqlite:PATH or postgresql://USER@HOST:PORT/DB (default: SQLite in the "
       "data directory)",
       StringSetter(&ServeOptions::store)},
      {"--replay-cache-outage", "replayCacheOutage", Kind::kString,
       "when the shared jti replay cache is unreachable: local (check on this replica) | refuse "
       "(503)",
       [](ServeOptions& o, const std::string& v) -> Status {
         if (v != "local" && v != "refuse") {
           return InvalidArgument("--replay-cache-outage must be 'local' or 'refuse'");
         }
         o.replay_cache_outage = v;
         return Status::Ok();
       }},
      {"--config", nullptr, Kind::kString, "JSON config file (keys as in this table)",
       StringSetter(&ServeOptions::config_file)},
      {"--max-body-bytes", "maxBodyBytes", Kind::kInt, "largest request body accepted (413 above)",
       IntSetter(&ServeOptions::max_body_bytes, "--max-body-bytes", 1024, 64LL << 20)},
      {"--max-connections", "maxConnections", Kind::kInt, "open connections at most",
       IntSetter(&ServeOptions::max_connections, "--max-connections", 1, 100000)},
      {"--max-connections-per-address", "maxConnectionsPerAddress", Kind::kInt,
       "open connections from one peer address at most (0: no limit; loopback exempt)",
       IntSetter(&ServeOptions::max_connections_per_address, "--max-connections-per-address", 0,
                 100000)},
      {"--limit-loopback-connections", "limitLoopbackConnections", Kind::kBool,
       "apply --max-connections-per-address to loopback peers too",
       [](ServeOptions& o, const std::string& v) {
         o.limit_loopback_connections = v == "true";
         return Status::Ok();
       }},
      {"--header-timeout-ms", "headerTimeoutMs", Kind::kInt,
       "time to receive a request's whole header",
       IntSetter(&ServeOptions::header_timeout_ms, "--header-timeout-ms", 100, 600000)},
      {"--idle-timeout-ms", "idleTimeoutMs", Kind::kInt,
       "how long a keep-alive connection may wait for its next request",
       IntSetter(&ServeOptions::idle_timeout_ms, "--idle-timeout-ms", 100, 3600000)},
      {"--linger-timeout-ms", "lingerTimeoutMs", Kind::kInt,
       "lingering close: how long to read and discard after a refusal",
       IntSetter(&ServeOptions::linger_timeout_ms, "--linger-timeout-ms", 0, 60000)},
      {"--shutdown-delay-ms", "shutdownDelayMs", Kind::kInt,
       "after SIGTERM, keep serving this long with /readyz failing before draining",
       IntSetter(&ServeOptions::shutdown_delay_ms, "--shutdown-delay-ms", 0, 300000)},
      {"--drain-timeout-ms", "drainTimeoutMs", Kind::kInt,
       "how long in-flight requests may take to finish once draining starts",
       IntSetter(&ServeOptions::drain_timeout_ms, "--drain-timeout-ms", 0, 300000)},
      {"--fhir-timeout-ms", "fhirTimeoutMs", Kind::kInt,
       "deadline for all FHIR fetches of one hook call",
       IntSetter(&ServeOptions::fhir_timeout_ms, "--fhir-timeout-ms", 50, 60000)},
      {"--fhir-ca-bundle", "fhirCaBundle", Kind::kString,
       "PEM file of CAs trusted for the EHR's FHIR server (default: system store)",
       StringSetter(&ServeOptions::fhir_ca_bundle)},
      {"--allow-insecure-fhir", "allowInsecureFhir", Kind::kBool,
       "accept a plain-http fhirServer that is not on loopback",
       [](ServeOptions& o, const std::string& v) {
         o.allow_insecure_fhir = v == "true";
         return Status::Ok();
       }},
      {"--auth", "auth", Kind::kString, "client JWT authentication: off | required",
       [](ServeOptions& o, const std::string& v) -> Status {
         if (v != "off" && v != "required")
           return InvalidArgument("--auth must be 'off' or 'required'");
         o.auth = v;
         return Status::Ok();
       }},
      {"--jwks", "jwks", Kind::kString, "JWK Set file of trusted client keys",
       StringSetter(&ServeOptions::jwks_file)},
      ListOption("--trusted-issuer", "trustedIssuers", "trusted JWT iss (repeatable)",
                 &ServeOptions::trusted_issuers),
      ListOption("--jku-allow", "jkuAllow", "URL prefix a token's jku may have (repeatable)",
                 &ServeOptions::jku_allow),
      {"--admin-token-file", "adminTokenFile", Kind::kString,
       "file with the bearer token /metrics and /admin/feedback require (read at start-up)",
       StringSetter(&ServeOptions::admin_token_file)},
      {"--external-base-url", "externalBaseUrl", Kind::kString,
       "this service's public base URL, for JWT aud (default http(s)://bind:port)",
       StringSetter(&ServeOptions::external_base_url)},
      {"--tls-cert", "tlsCert", Kind::kString, "PEM certificate chain: serve HTTPS",
       StringSetter(&ServeOptions::tls_cert)},
      {"--tls-key", "tlsKey", Kind::kString, "PEM private key for --tls-cert",
       StringSetter(&ServeOptions::tls_key)},
      ListOption("--cors-origin", "corsOrigins",
                 "allowed browser origin (repeatable; none: any origin, no credentials)",
                 &ServeOptions::cors_origins),
      {"--now", "now", Kind::kString, "pin the evaluation time (RFC 3339), for demos and tests",
       StringSetter(&ServeOptions::now)},
      {"--audit-log", "auditLog", Kind::kString,
       "audit trail, one FHIR AuditEvent JSON line per hook call and feedback: PATH | stderr | off",
       StringSetter(&ServeOptions::audit_log)},
  };
  return specs;
}

const OptionSpec* FindSpecByFlag(const std::string& flag) {
  for (const auto& s : ServeSpecs()) {
    if (flag == s.flag) return &s;
  }
  return nullptr;
}

// "--flag=value": keeps "--flag" in `arg`, puts "value" in `value` and returns true.
bool SplitInlineValue(std::string& arg, std::string& value) {
  auto eq = arg.find('=');
  if (eq == std::string::npos || arg.rfind("--", 0) != 0) return false;
  value = arg.substr(eq + 1);
  arg.resize(eq);
  return true;
}

// The value of a flag given as "--flag=value" or "--flag value".
Result<std::string> TakeValue(const std::vector<std::string>& args, std::size_t& i,
                              const std::string& flag, std::string inline_value, bool has_inline) {
  if (has_inline) return inline_value;
  if (i + 1 >= args.size()) return InvalidArgument(flag + " needs a value");
  return args[++i];
}

std::string ConfigSchemaJson() {
  rapidjson::Document schema(rapidjson::kObjectType);
  auto& a = schema.GetAllocator();
  schema.AddMember("type", "object", a);
  schema.AddMember("additionalProperties", false, a);
  rapidjson::Value props(rapidjson::kObjectType);
  for (const auto& s : ServeSpecs()) {
    if (s.key == nullptr) continue;
    rapidjson::Value p(rapidjson::kObjectType);
    switch (s.kind) {
      case Kind::kString:
        p.AddMember("type", "string", a);
        break;
      case Kind::kInt:
        p.AddMember("type", "integer", a);
        break;
      case Kind::kBool:
        p.AddMember("type", "boolean", a);
        break;
      case Kind::kStringList: {
        p.AddMember("type", "array", a);
        rapidjson::Value items(rapidjson::kObjectType);
        items.AddMember("type", "string", a);
        p.AddMember("items", items, a);
        break;
      }
    }
    p.AddMember("description", rapidjson::StringRef(s.description), a);
    props.AddMember(rapidjson::StringRef(s.key), p, a);
  }
  schema.AddMember("properties", props, a);
  return json::Serialize(schema);
}

}  // namespace

Status ApplyConfigFile(const std::string& path, ServeOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot read config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto doc = json::ParseUntrusted(buffer.str());
  if (!doc.ok()) return doc.status().WithContext("config file " + path);
  rapidjson::Document schema_doc;
  std::string schema_text = ConfigSchemaJson();
  schema_doc.Parse(schema_text.c_str());
  rapidjson::SchemaDocument schema(schema_doc);
  rapidjson::SchemaValidator validator(schema);
  if (!doc->Accept(validator)) {
    rapidjson::StringBuffer pointer;
    validator.GetInvalidDocumentPointer().StringifyUriFragment(pointer);
    std::string keyword = validator.GetInvalidSchemaKeyword();
    std::string what = keyword == "additionalProperties"
                           ? "unknown key (every key must match a serve flag; see --help)"
                           : "value breaks the schema rule '" + keyword + "'";
    return InvalidArgument("config file " + path + ": " + what, pointer.GetString());
  }
  for (const auto& s : ServeSpecs()) {
    if (s.key == nullptr) continue;
    const rapidjson::Value* v = json::Find(*doc, s.key);
    if (v == nullptr) continue;
    std::vector<std::string> values;
    if (v->IsString())
      values.emplace_back(v->GetString());
    else if (v->IsBool())
      values.emplace_back(v->GetBool() ? "true" : "false");
    else if (v->IsInt64())
      values.emplace_back(std::to_string(v->GetInt64()));
    else if (v->IsArray()) {
      for (const auto& e : v->GetArray()) {
        if (e.IsString()) values.emplace_back(e.GetString());
      }
    }
    for (const auto& value : values) {
      Status st = s.set(options, value);
      if (!st.ok())
        return Status(st.code(), "config file " + path + ": " + st.message(),
                      std::string("#/") + s.key);
    }
  }
  return Status::Ok();
}

std::string EnvironmentVariableFor(std::string_view key) {
  std::string name = "CEPHALGIA_";
  for (char c : key) {
    if (c >= 'A' && c <= 'Z') {
      name.push_back('_');
      name.push_back(c);
    } else {
      name.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
    }
  }
  return name;
}

Status ApplyEnvironment(const EnvironmentLookup& getenv, ServeOptions& options) {
  for (const auto& s : ServeSpecs()) {
    if (s.key == nullptr) continue;
    const std::string name = EnvironmentVariableFor(s.key);
    std::optional<std::string> value = getenv(name);
    // An empty variable counts as unset (container tools often pass VAR= for "not given").
    if (!value || value->empty()) continue;
    auto refuse = [&](const std::string& why) {
      return InvalidArgument("environment variable " + name + ": " + why, name);
    };
    std::vector<std::string> values;
    if (s.kind == Kind::kBool) {
      if (*value == "true" || *value == "1")
        values.emplace_back("true");
      else if (*value == "false" || *value == "0")
        values.emplace_back("false");
      else
        return refuse("must be true or false, got '" + *value + "'");
    } else if (s.kind == Kind::kStringList) {
      // Comma-separated; blanks around items are ignored. It replaces the config file's list.
      (options.*(s.list)).clear();
      std::size_t start = 0;
      while (start <= value->size()) {
        std::size_t comma = value->find(',', start);
        if (comma == std::string::npos) comma = value->size();
        std::string item = value->substr(start, comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) values.push_back(item);
        start = comma + 1;
      }
    } else {
      values.push_back(*value);
    }
    for (const auto& v : values) {
      Status st = s.set(options, v);
      if (!st.ok()) return refuse(st.message());
    }
  }
  return Status::Ok();
}

Result<ServeOptions> ParseServeArgs(const std::vector<std::string>& args, bool* help) {
  return ParseServeArgs(
      args,
      [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
      },
      help);
}

Result<ServeOptions> ParseServeArgs(const std::vector<std::string>& args,
                                    const EnvironmentLookup& getenv, bool* help) {
  ServeOptions options;
  // The config file: --config (below), else CEPHALGIA_CONFIG.
  if (auto from_env = getenv("CEPHALGIA_CONFIG"); from_env && !from_env->empty()) {
    options.config_file = *from_env;
  }
  // The config file is applied first, then every flag on top of it.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) options.config_file = args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) options.config_file = args[i].substr(9);
  }
  if (!options.config_file.empty())
    CEPHALGIA_RETURN_IF_ERROR(ApplyConfigFile(options.config_file, options));
  // Then the environment over the file, then the flags over both.
  CEPHALGIA_RETURN_IF_ERROR(ApplyEnvironment(getenv, options));
  // Lists given as flags replace the file's lists rather than append to them.
  std::set<const OptionSpec*> lists_reset;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return options;
    }
    std::string inline_value;
    bool has_inline = SplitInlineValue(arg, inline_value);
    const OptionSpec* spec = FindSpecByFlag(arg);
    if (spec == nullptr)
      return InvalidArgument("unknown option '" + arg + "' (see cephalgia serve --help)");
    std::string value;
    if (spec->kind == Kind::kBool && !has_inline) {
      value = "true";
    } else {
      CEPHALGIA_ASSIGN_OR_RETURN(value, TakeValue(args, i, arg, inline_value, has_inline));
    }
    if (spec->list != nullptr && lists_reset.insert(spec).second) (options.*(spec->list)).clear();
    CEPHALGIA_RETURN_IF_ERROR(spec->set(options, value));
  }
  return options;
}

Result<EvaluateOptions> ParseEvaluateArgs(const std::vector<std::string>& args, bool* help) {
  EvaluateOptions options;
  bool have_input = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return options;
    }
    std::string inline_value;
    bool has_inline = SplitInlineValue(arg, inline_value);
    if (arg == "--service") {
      CEPHALGIA_ASSIGN_OR_RETURN(options.service,
                                 TakeValue(args, i, arg, inline_value, has_inline));
    } else if (arg == "--now") {
      CEPHALGIA_ASSIGN_OR_RETURN(options.now, TakeValue(args, i, arg, inline_value, has_inline));
    } else if (arg == "--plugins") {
      CEPHALGIA_ASSIGN_OR_RETURN(options.plugins,
                                 TakeValue(args, i, arg, inline_value, has_inline));
    } else if (arg == "--fhir-timeout-ms") {
      CEPHALGIA_ASSIGN_OR_RETURN(std::string v, TakeValue(args, i, arg, inline_value, has_inline));
      CEPHALGIA_ASSIGN_OR_RETURN(long long ms, ParseInt(v, arg, 50, 60000));
      options.fhir_timeout_ms = static_cast<int>(ms);
    } else if (arg == "--allow-insecure-fhir") {
      options.allow_insecure_fhir = true;
    } else if (arg.rfind("--", 0) == 0) {
      return InvalidArgument("unknown option '" + arg + "' (see cephalgia evaluate --help)");
    } else {
      if (have_input) return InvalidArgument("evaluate takes one input FILE (or - for stdin)");
      options.input = arg;
      have_input = true;
    }
  }
  if (!have_input) return InvalidArgument("evaluate needs an input FILE, or - to read stdin");
  return options;
}

const char kTopHelp[] =
    R"(cephalgia: CDS Hooks 2.0 decision support for headache

Usage:
  cephalgia serve [options]            run the CDS Hooks HTTP service
  cephalgia evaluate [options] FILE|-  answer one CDS Hooks request from a file or stdin
  cephalgia context [--lexicon F] FILE|-  judge concepts in sentences (negation, time, experiencer)
  cephalgia check BASE_URL [options]   check any CDS Hooks service against the CDS Hooks checklist
  cephalgia healthcheck [--url URL]    exit 0 when the service's GET /livez answers 200
  cephalgia --version                  print the version
  cephalgia <command> --help           options of a command
)";

const char kServeHelp[] =
    R"(Usage: cephalgia serve [options]

Serves GET /cds-services (discovery), POST /cds-services/{id}, POST /cds-services/{id}/feedback,
GET /livez (alias /healthz), GET /readyz, GET /metrics and GET /admin/feedback.

Options (each has a config-file key in camelCase, e.g. --max-body-bytes -> maxBodyBytes):
  --bind ADDR              address to listen on (default 127.0.0.1)
  --port N                 TCP port (default 8080; 0 picks a free one)
  --threads N              I/O threads (default: one per core)
  --blocking-threads N     threads for calls that must fetch from the FHIR server and for
                           feedback writes, so they never stall an I/O thread (default 4)
  --plugins DIR            directory of rule packs (default: the built-in pack directory)
  --data-dir DIR           where the feedback database lives (default ./data)
  --store SPEC             the feedback store: sqlite:PATH (default: DIR/feedback.sqlite of
                           --data-dir) or postgresql://USER@HOST:PORT/DB, shared by replicas
                           (feedback, issued cards and the JWT jti replay cache)
  --replay-cache-outage local|refuse
                           with --store postgresql and --auth required, while the database is
                           unreachable: accept a token on this replica's own jti check (local,
                           default: hook calls keep answering; a replay at another replica could
                           pass during the outage) or answer 503 (refuse)
  --config FILE            JSON config file; unknown keys are refused; flags override it
  --max-body-bytes N       largest request body (default 1048576; larger gets 413)
  --max-connections N      open connections at most (default 1024; lowered at start-up, with a
                           log line, when the descriptor limit cannot hold it); at the cap the
                           connection idle the longest is closed to make room
  --max-connections-per-address N
                           open connections from one peer address at most (default 64; 0: no
                           limit); loopback peers (a local reverse proxy) are exempt unless
  --limit-loopback-connections  is given
  --header-timeout-ms N    time to receive a request's whole header (default 10000)
  --idle-timeout-ms N      keep-alive wait for the next request (default 30000)
  --linger-timeout-ms N    after a refusal sent before the body was read (413), read and discard
                           for at most this long (and 8 MiB) before closing (default 5000)
  --shutdown-delay-ms N    after SIGTERM, keep serving this long while GET /readyz answers 503,
                           so a load balancer stops sending traffic first (default 0)
  --drain-timeout-ms N     then, how long in-flight requests may take to finish (default 10000)
  --fhir-timeout-ms N      deadline for all FHIR fetches of one call (default 2000)
  --fhir-ca-bundle FILE    PEM CAs trusted for the EHR's FHIR server (default: system store)
  --allow-insecure-fhir    accept a plain-http fhirServer off loopback (testing only)
  --auth off|required      client JWT authentication (default off: local use only)
  --jwks FILE              JWK Set of trusted client keys
  --trusted-issuer ISS     trusted JWT issuer (repeatable)
  --jku-allow URL-PREFIX   fetch keys from a token's jku only under this prefix (repeatable)
  --admin-token-file FILE  bearer token (read at start-up, >= 16 characters) that GET /metrics
                           and GET /admin/feedback require; without it they answer only loopback
                           clients when --auth is required, anyone when it is off
  --external-base-url URL  public base URL used as JWT audience (default http(s)://ADDR:PORT)
  --tls-cert FILE          PEM certificate chain: serve HTTPS
  --tls-key FILE           PEM private key for --tls-cert
  --cors-origin ORIGIN     allowed browser origin (repeatable; default any origin, no credentials)
  --now DATETIME           pin the evaluation time (RFC 3339), for demos and tests
  --audit-log PATH|stderr|off
                           audit trail: one FHIR R4 AuditEvent JSON line per hook call and per
                           feedback, apart from the access log (default off)
  --help                   this text

Every option with a config key is also read from the environment as CEPHALGIA_<KEY>
(maxBodyBytes -> CEPHALGIA_MAX_BODY_BYTES; lists such as trustedIssuers comma-separated;
booleans true|false|1|0; an empty variable counts as unset), the config file as CEPHALGIA_CONFIG.
Precedence: flag > environment > config file > default. A bad value is refused naming its source.
)";

const char kHealthcheckHelp[] =
    R"(Usage: cephalgia healthcheck [--url URL] [--timeout-ms N]

GETs URL (default http://127.0.0.1:PORT/livez, PORT from CEPHALGIA_PORT or 8080) and exits 0 when
it answers 200, 1 otherwise: a container HEALTHCHECK that needs no curl in the image.
)";

const char kEvaluateHelp[] =
    R"(Usage: cephalgia evaluate [--service ID] [--now DATE] [--plugins DIR] FILE|-

Reads one CDS Hooks request (JSON) from FILE, or stdin with -, and prints the service's JSON
response on stdout, through the same code path as POST /cds-services/{id}.

  --service ID           the service to call (default: the one service answering the request's hook)
  --now DATE             evaluation date/time (RFC 3339 or YYYY-MM-DD) for reproducible answers
  --plugins DIR          directory of rule packs (default: the built-in pack directory)
  --fhir-timeout-ms N    deadline for FHIR fetches when prefetch is incomplete (default 2000)
  --allow-insecure-fhir  accept a plain-http fhirServer off loopback

Exit status: 0 success; 2 the request is invalid (400/404/413: the OperationOutcome is printed);
3 required data unavailable (412); 1 any other failure.
)";

}  // namespace cephalgia::cli
