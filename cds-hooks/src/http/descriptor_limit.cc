// Start-up descriptor budget: see http_limits.h.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cephalgia/hooks/http_limits.h"

namespace cephalgia::hooks {

std::size_t DescriptorReserve(int blocking_threads) {
  return 64 + 4 * static_cast<std::size_t>(blocking_threads > 0 ? blocking_threads : 0);
}

Result<DescriptorPlan> PlanDescriptors(std::size_t max_connections, std::size_t reserve,
                                       std::size_t min_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Internal(std::string("getrlimit(RLIMIT_NOFILE) failed: ") + std::strerror(errno));
  }
  DescriptorPlan plan;
  plan.soft_before = limit.rlim_cur;
  plan.hard = limit.rlim_max;
  const std::uint64_t needed = static_cast<std::uint64_t>(max_connections) + reserve;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur =
        limit.rlim_max == RLIM_INFINITY ? needed : std::min<std::uint64_t>(needed, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  plan.soft = limit.rlim_cur;
  plan.max_connections = max_connections;
  if (plan.soft != RLIM_INFINITY && plan.soft < needed) {
    const std::uint64_t fits = plan.soft > reserve ? plan.soft - reserve : 0;
    if (fits < min_connections) {
      return InvalidArgument(
          "the descriptor limit (RLIMIT_NOFILE soft " + std::to_string(plan.soft) + ", hard " +
          std::to_string(plan.hard) + ") leaves room for " + std::to_string(fits) +
          " connections after " + std::to_string(reserve) +
          " descriptors kept for files and FHIR sockets; at least " +
          std::to_string(min_connections) + " are needed: raise the limit (ulimit -n)");
    }
    plan.max_connections = static_cast<std::size_t>(fits);
    plan.note = "--max-connections lowered from " + std::to_string(max_connections) + " to " +
                std::to_string(plan.max_connections) + ": the descriptor limit is " +
                std::to_string(plan.soft) + " (hard " + std::to_string(plan.hard) + ") and " +
                std::to_string(reserve) +
                " are kept for files and FHIR sockets; raise it (ulimit -n) to allow more";
  } else if (plan.soft != plan.soft_before) {
    plan.note = "descriptor limit raised from " + std::to_string(plan.soft_before) + " to " +
                std::to_string(plan.soft) + " for " + std::to_string(max_connections) +
                " connections plus " + std::to_string(reserve) + " kept for files and FHIR sockets";
  }
  return plan;
}

}  // namespace cephalgia::hooks
