// File: http_limits.h
//
// The process's descriptor budget, settled at start-up before the server listens. Every open
// connection holds one descriptor, and the process needs more for its own files (the feedback
// database and its WAL, rule packs, logs), the FHIR client's sockets and the event loop. With a
// soft RLIMIT_NOFILE of 1024 and --max-connections 1024, accept() fails with EMFILE before the
// cap can act; so the soft limit is raised towards the hard limit, and when the cap still does
// not fit, it is lowered (with a log line) rather than left unenforceable.
//
//   auto plan = PlanDescriptors(options.max_connections, DescriptorReserve(blocking_threads));
//   if (!plan.ok()) { log(plan.status()); return 1; }
//   if (!plan->note.empty()) log(plan->note);
//   server_options.max_connections = plan->max_connections;
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cephalgia/status.h"

namespace cephalgia::hooks {

struct DescriptorPlan {
  std::uint64_t soft_before = 0;  // RLIMIT_NOFILE soft limit found at start-up
  std::uint64_t soft = 0;         // the soft limit now
  std::uint64_t hard = 0;
  std::size_t max_connections = 0;  // the cap to use: the one asked for, or lowered to fit
  std::string note;                 // non-empty when something was changed, for the log
};

// Descriptors kept for everything but client connections: a fixed 64 (listener, event loop,
// standard streams, the feedback database, packs, logs) plus 4 per blocking thread (the FHIR and
// jku fetches each runs hold a socket, and resolver or TLS files).
std::size_t DescriptorReserve(int blocking_threads);

// Raises the soft RLIMIT_NOFILE to fit `max_connections + reserve` (at most to the hard limit)
// and returns the cap that fits. Lowers the cap when the hard limit is too small; an error when
// fewer than `min_connections` would fit.
Result<DescriptorPlan> PlanDescriptors(std::size_t max_connections, std::size_t reserve,
                                       std::size_t min_connections = 16);

}  // namespace cephalgia::hooks
