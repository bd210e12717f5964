// File: jku_fetch.h (private to hooks_auth)
//
// Fetches a client's JWK Set from its `jku` with libcurl. The caller has already checked the URL
// against the allowlist; this function adds transport limits so an allowed-but-misbehaving host
// cannot hurt us: http/https only, no redirects (a redirect could leave the allowlisted prefix),
// a short total timeout, a response size cap and a 200 status.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "cephalgia/status.h"

namespace cephalgia::hooks::auth {

Result<std::string> FetchJwksDocument(const std::string& url, std::chrono::milliseconds timeout,
                                      std::size_t max_bytes);

}  // namespace cephalgia::hooks::auth
