// Start-up and lifecycle log lines: one JSON object per line on stderr. Request lines come from
// the access log (no patient data, no tokens); nothing here ever prints a request body.
#pragma once

#include <string_view>

namespace cephalgia::cli {

enum class LogLevel { kInfo, kWarning, kError };
void Log(LogLevel level, std::string_view event, std::string_view message);

}  // namespace cephalgia::cli
