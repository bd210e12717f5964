// `cephalgia healthcheck [--url URL] [--timeout-ms N]`: GET the service's /livez and exit 0 on a
// 200, 1 otherwise (2 for a usage error), so a container image needs no curl for HEALTHCHECK.
#pragma once

#include <string>
#include <vector>

namespace cephalgia::cli {

int RunHealthcheck(const std::vector<std::string>& args);

}  // namespace cephalgia::cli
