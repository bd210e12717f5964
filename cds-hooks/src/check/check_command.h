// File: check_command.h
//
// `cephalgia check BASE_URL [options]`: the CDS Hooks conformance checker on the command line
// (parses the options, runs the checks, prints the report). See kCheckHelp.
#pragma once

#include <string>
#include <vector>

namespace cephalgia::check {

extern const char kCheckHelp[];

// Exit status: 0 every MUST met; 1 a MUST failed; 2 bad arguments or the run could not start.
int RunCheckCommand(const std::vector<std::string>& args);

}  // namespace cephalgia::check
