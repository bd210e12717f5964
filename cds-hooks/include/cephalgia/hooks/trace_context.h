// File: trace_context.h
//
// W3C Trace Context (https://www.w3.org/TR/trace-context/) `traceparent`, version 00:
//   00-<trace-id: 32 lower-case hex>-<parent-id: 16 lower-case hex>-<trace-flags: 2 hex>
// A hook call's traceparent is accepted when valid and continued: the trace id and flags are
// kept, and the FHIR fetches the call makes carry a parent id of this service's own span. An
// absent or invalid header starts a new trace (the specification's "restart"), so every hook call
// has a trace id for the access log and the audit event.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cephalgia::hooks {

struct TraceContext {
  std::string trace_id;   // 32 lower-case hex digits, not all zero
  std::string parent_id;  // 16 lower-case hex digits, not all zero
  std::string flags;      // 2 hex digits ("01": sampled)

  // "00-<trace_id>-<parent_id>-<flags>".
  std::string ToHeader() const;
};

// The header parsed as the specification says a receiver must: version 00 is exactly 55
// characters; a later version (not "ff") may append "-..." after the first 55, which is ignored.
// Upper-case hex, all-zero ids and any other deviation make it invalid (nullopt).
std::optional<TraceContext> ParseTraceparent(std::string_view header);

// A new trace: random trace id and parent id, flags "00".
TraceContext NewTraceContext();

// The same trace with a new random parent id: this service's span, which outgoing calls carry.
TraceContext ChildSpan(const TraceContext& parent);

}  // namespace cephalgia::hooks
