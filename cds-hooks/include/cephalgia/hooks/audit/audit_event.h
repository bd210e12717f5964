// File: audit_event.h
//
// The audit trail: one FHIR R4 AuditEvent per hook call and per feedback, as one JSON line, in
// the shape of the IHE Basic Audit Log Patterns (BALP): who (the client agent: its verified JWT
// `iss`, or "unauthenticated", and its network address; the server agent: this service), what
// (the CDS service and hook, the patient reference, each card uuid issued with its rule id, or
// each card uuid a feedback was about with its outcome), when (`recorded`, `period`), the outcome
// (0 success, 4 a client's error, 8 a server's error) and the W3C trace context.
//
// Never in it, by construction (AuditRecord has no field for them): a token, a header, a request
// or response body, prefetch content, a query string. Free-text fields are checked like the
// access log's: a value with characters outside its allowed set is written "(invalid)".
//
// It is kept apart from the access log on its own sink (`--audit-log PATH|stderr|off`), because
// its readers (privacy officers, "who saw this patient") and its retention differ.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::hooks::audit {

enum class AuditKind { kHookCall, kFeedback };

struct AuditRecord {
  AuditKind kind = AuditKind::kHookCall;
  std::chrono::system_clock::time_point start;  // when the request started
  std::chrono::microseconds duration{0};
  int http_status = 0;
  std::string client_iss;      // verified JWT iss; empty: unauthenticated
  std::string client_sub;      // verified JWT sub (the client id); empty when the token had none
  std::string remote_address;  // the peer address
  std::string server_base;     // this service's base URL (the server agent)
  std::string service_id;
  std::string hook;     // "patient-view", ...
  std::string patient;  // "Patient/123"; empty when the request named none
  std::string hook_instance;
  std::string traceparent;  // the trace this call belongs to (W3C traceparent)
  std::vector<std::pair<std::string, std::string>> cards;     // (card uuid, rule id) issued
  std::vector<std::pair<std::string, std::string>> feedback;  // (card uuid, outcome) received
};

// The AuditEvent as one line of JSON (no trailing newline).
std::string FormatAuditEvent(const AuditRecord& record);

// Where audit events go: a file opened for appending (O_APPEND, so copytruncate rotation and
// several writers keep whole lines), stderr, or nowhere. Thread-safe; every line is flushed.
class AuditSink {
 public:
  // "off" (or ""): no sink; "stderr"; anything else: a file path, created with mode 0640.
  static Result<std::unique_ptr<AuditSink>> Open(const std::string& target);
  ~AuditSink();
  AuditSink(const AuditSink&) = delete;
  AuditSink& operator=(const AuditSink&) = delete;

  bool enabled() const { return file_ != nullptr; }
  void Write(const AuditRecord& record);

 private:
  AuditSink(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
  std::mutex mutex_;
  std::FILE* file_;
  bool owned_;
};

}  // namespace cephalgia::hooks::audit
