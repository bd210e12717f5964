// File: context_command.h
//
// `cephalgia context FILE|- [--lexicon FILE]`: judges each row's concept in its sentence with
// the clinical text module (ConText) and prints `id negation temporality experiencer` as TSV.
#pragma once

#include <string>
#include <vector>

namespace cephalgia::cli {

extern const char kContextHelp[];

// Exit status: 0 done (rows whose concept was not found are printed and reported on stderr);
// 2 bad arguments, an unreadable file, a table without its header or columns, a bad lexicon.
int RunContext(const std::vector<std::string>& args);

}  // namespace cephalgia::cli
