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
#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::hooks::auth {

// The URL as libcurl will fetch it, in a form fit for prefix comparison:
// `scheme://host:port/path[?query]`, scheme and host lower-case, the port explicit, dot segments
// resolved by libcurl's own parser. kInvalidArgument for anything that is not a plain absolute
// http(s) URL: user info (`https://allowed@evil/`), a fragment, and, unless
// `allow_dot_segments`, any `.` or `..` path segment, percent-encoded or not (`%2e%2e`), which a
// server may resolve after we compared. (Allowlist prefixes are normalised with dot segments
// allowed, so a configured `https://h/a/./b/` still means `https://h/a/b/`.)
Result<std::string> NormalizeJkuUrl(std::string_view url, bool allow_dot_segments = false);

Result<std::string> FetchJwksDocument(const std::string& url, std::chrono::milliseconds timeout,
                                      std::size_t max_bytes);

}  // namespace cephalgia::hooks::auth
