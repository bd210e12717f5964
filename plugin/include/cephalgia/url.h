// File: url.h
//
// The one test of "an absolute http(s) URL" that CDS Hooks fields need (fhirServer in a request,
// a card's source.url and source.icon in an answer). The service checks requests with it and
// `cephalgia check` checks other services' answers with it, so both judge a URL alike.
#pragma once

#include <string_view>

namespace cephalgia {

// True if `url` starts with http:// or https://, has a host part (not empty, not starting with
// '/'), and holds no whitespace. Deliberately no stricter: real EHRs send fhirServer URLs with
// ports, paths and query strings, and a stricter parse would refuse them.
inline bool IsAbsoluteHttpUrl(std::string_view url) {
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return false;
  }
  return !rest.empty() && rest.front() != '/' &&
         url.find_first_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace cephalgia
