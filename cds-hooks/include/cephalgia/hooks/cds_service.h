// File: cds_service.h
//
// The CDS Hooks service as a plain function of the request: `Handle(HttpRequest) -> HttpResponse`.
// `Serve` is the same function split in two for the server: what can be answered without
// blocking is answered at once; work that may block (a FHIR fetch, a durable feedback write)
// comes back as a deferred step the server runs off its I/O threads. It routes, applies CORS,
// builds discovery from the loaded packs, validates service calls, completes prefetch (fetching
// what is missing), calls the owning pack and maps every error to an HTTP status in one place
// (http_message.h). The Beast transport and the `evaluate` CLI both call into it, so HTTP and the
// command line give the same answers.
//
// The service knows the plugin API only: nothing here is specific to any rule pack.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/hooks/http_message.h"
#include "cephalgia/hooks/prefetch.h"
#include "cephalgia/plugin/pack_registry.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks {

struct ServiceOptions {
  std::size_t max_body_bytes = 1 << 20;
  // Fixes the evaluation time (RFC 3339) so answers are reproducible; the clock when empty.
  std::string fixed_now;
  // Origins allowed by CORS. Empty: any origin ("*", without credentials), for local use.
  std::vector<std::string> cors_allowed_origins;
  // A plain-http fhirServer is not used (no token is sent to it) unless it is on loopback or
  // this is set (checklist item 27: "refuse, or at least not use"). The request is still
  // answered from its prefetch.
  bool allow_insecure_fhir_server = false;
  // Who may read GET /metrics and GET /admin/feedback (issue 13). With an admin token, only a
  // request carrying `Authorization: Bearer <admin_token>` (401 otherwise, from anywhere); else,
  // with `admin_loopback_only`, only clients connected from a loopback address (403 otherwise);
  // else anyone (the local default with client authentication off).
  std::string admin_token;
  bool admin_loopback_only = false;
};

// One authentication of a call, between the service and its `authenticate` hook.
struct AuthAttempt {
  // False when the hook is called on an I/O thread (authenticate_may_block said it would not
  // block): a key set must then not be fetched.
  bool may_block = true;
  // What the token named (unverified), filled by the hook for the log line of a refusal.
  std::string claimed_iss;
  std::string claimed_kid;
  // The verified token's `sub` (the client id), filled by the hook on success, for the audit.
  std::string verified_sub;
};

// Per-call facts the transport knows and the pipeline reports back (for logs and metrics). The
// transport keeps it per exchange as an opaque ExchangeTag (see ServiceHandler).
struct CallInfo : ExchangeTag {
  std::string route;       // route template, e.g. "/cds-services/{id}"
  std::string service_id;  // when the route names a service that exists (a bounded set)
  std::string hook_instance;
  std::string client_iss;  // the authenticated client, when auth is on
  std::string client_sub;  // its token's `sub` (client id), when it had one
  // A refused authentication (a 401): the fixed reason phrase, and the iss and kid the token
  // claimed (unverified; empty when unknown), for the refusal's log line. Never the token.
  std::string auth_refusal;
  std::string refused_iss;
  std::string refused_kid;
  std::vector<std::pair<std::string, std::string>> cards;  // (rule id, indicator) per card
  std::vector<std::string> fetch_error_kinds;
  // For the audit trail (issue 16): what a call was about, never its content.
  std::string patient;                  // "Patient/<context.patientId>" of a service call
  std::vector<std::string> card_uuids;  // the uuid of each card in `cards`, "" when it had none
  // Stored feedback: (card uuid, outcome), filled by ServiceHooks::describe_feedback.
  std::vector<std::pair<std::string, std::string>> feedback;
  // This request's W3C trace context as this service's span (trace_context.h): the client's
  // trace id when it sent a valid `traceparent`, else a new trace. FHIR fetches carry it.
  std::string traceparent;
};

// Optional collaborators, wired in by main(). Each may be left empty.
struct ServiceHooks {
  // Authenticates a call: (Authorization header value, the path called, the attempt) -> the
  // client's `iss` (empty when authentication is off) or kUnauthenticated with a short reason.
  std::function<Result<std::string>(std::string_view authorization, std::string_view path,
                                    AuthAttempt& attempt)>
      authenticate;
  // Whether `authenticate` might block on the network for this Authorization header (a key set
  // to fetch from the token's jku): then the call is deferred off the I/O threads.
  std::function<bool(std::string_view authorization)> authenticate_may_block;
  // Feedback: (service id, body) -> OK or an error for the client.
  std::function<Status(std::string_view service_id, std::string_view body)> store_feedback;
  // After feedback was stored: what it was about (CallInfo::feedback), for the audit trail.
  std::function<void(std::string_view body, CallInfo& info)> describe_feedback;
  // Cards issued by a successful call: (service id, hookInstance, [(card uuid, rule id)]),
  // handed over (the strings may be moved on).
  std::function<void(std::string_view, std::string_view,
                     std::vector<std::pair<std::string, std::string>>&&)>
      record_cards;
  std::function<Result<std::string>()> feedback_summary_json;  // GET /admin/feedback
  std::function<std::string()> metrics_text;           // GET /metrics
  // GET /readyz: OK when this replica should receive traffic; otherwise a status (kUnavailable)
  // whose message says why (draining after SIGTERM, the store unreachable), answered as 503.
  // Left empty: always ready. GET /livez (and its alias /healthz) only says the process answers.
  std::function<Status()> readiness;
};

class CdsService {
 public:
  // `registry` and `fetcher` must outlive the service; `fetcher` may be null (no FHIR fetching).
  CdsService(const plugin::PackRegistry& registry, ServiceOptions options, FhirFetcher* fetcher,
             ServiceHooks hooks = {});

  // Everything an HTTP request can mean. Never throws; a client's mistake is a 4xx.
  HttpResponse Handle(const HttpRequest& request, CallInfo* info = nullptr) const;

  // Handle, split for a server: an immediate answer, or a deferred step that may block (see
  // HttpOutcome). Running the deferred step gives exactly what Handle gives.
  HttpOutcome Serve(const HttpRequest& request, CallInfo& info) const;
  // Serve for a transport that writes a response's external body where it lies: a hook call's
  // answer stays in the pack's buffer (HttpResponse::external) instead of being copied to `body`.
  HttpOutcome ServeInPlace(const HttpRequest& request, CallInfo& info) const;

  // POST /cds-services/{id} without HTTP: validate, complete prefetch, evaluate. Returns the
  // response JSON or a Status whose code maps to the HTTP status.
  Result<std::string> CallService(std::string_view service_id, std::string_view body,
                                  CallInfo* info = nullptr) const;

  // The service id for a request body whose hook only one service answers (CLI without
  // --service). kInvalidArgument when none or several services answer that hook.
  Result<std::string> ServiceIdForHook(std::string_view body) const;

  const std::string& discovery_json() const { return discovery_json_; }

 private:
  struct PreparedCall;  // a scanned, validated service call whose prefetch plan is known
  // One row of the route table: an exact path, or a path and everything below it (`subtree`).
  struct RouteEntry {
    std::string_view path;
    bool subtree;
    HttpOutcome (CdsService::*handle)(const HttpRequest& request, std::string_view path,
                                      CallInfo& info, bool may_defer) const;
  };
  static const std::vector<RouteEntry>& Routes();
  // `may_defer` false: everything runs here and the outcome is never deferred.
  HttpOutcome Route(const HttpRequest& request, CallInfo& info, bool may_defer) const;
  HttpOutcome RouteLive(const HttpRequest& request, std::string_view path, CallInfo& info,
                        bool may_defer) const;
  HttpOutcome RouteReady(const HttpRequest& request, std::string_view path, CallInfo& info,
                         bool may_defer) const;
  HttpOutcome RouteMetrics(const HttpRequest& request, std::string_view path, CallInfo& info,
                           bool may_defer) const;
  HttpOutcome RouteFeedbackSummary(const HttpRequest& request, std::string_view path,
                                   CallInfo& info, bool may_defer) const;
  HttpOutcome RouteServices(const HttpRequest& request, std::string_view path, CallInfo& info,
                            bool may_defer) const;
  Result<std::unique_ptr<PreparedCall>> PrepareCall(std::string_view service_id,
                                                    std::string_view body, CallInfo* info) const;
  // Whether finishing `call` will fetch from the FHIR server (and so may block).
  bool WillFetch(const PreparedCall& call) const;
  Result<plugin::PackAnswer> FinishCall(PreparedCall& call, CallInfo* info) const;
  void ApplyCors(const HttpRequest& request, HttpResponse& response, bool preflight) const;
  // Whether this request may read an admin endpoint (/metrics, /admin/feedback); see
  // ServiceOptions::admin_token.
  Status AuthorizeAdmin(const HttpRequest& request, CallInfo& info) const;
  std::string_view NowRfc3339(char (&buffer)[40]) const;
  // Why the request's fhirServer may not be used for fetching; empty when it may.
  std::string FhirServerRefusal(const HookEnvelope& request) const;

  const plugin::PackRegistry& registry_;
  ServiceOptions options_;
  FhirFetcher* fetcher_;
  ServiceHooks hooks_;
  std::string discovery_json_;
};

// The CallInfo a transport kept as `tag`: for the exchange observer, one whose route is
// "unparsed" when there is none (a request the transport refused itself).
CallInfo& CallInfoOf(ExchangeTag& tag);
const CallInfo& CallInfoOf(const ExchangeTag* tag);

// The transport's handler for `service`: ServeInPlace with a CallInfo per exchange as its tag.
RequestHandler ServiceHandler(const CdsService& service);

// Builds the discovery document ({"services":[...]}) from the registry: no empty values,
// prefetch key order preserved (checklist §B).
std::string BuildDiscoveryJson(const plugin::PackRegistry& registry);

}  // namespace cephalgia::hooks
