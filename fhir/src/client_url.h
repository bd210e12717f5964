// File: client_url.h
//
// URL helpers private to the FHIR client: joining a query onto the FHIR base, parsing an
// origin (scheme://host:port) with libcurl's own URL parser so that what we compare is exactly
// what curl will connect to, and redaction. Kept apart from client.cc so they can be unit-tested
// without a network (tests/fhir/client_url_test.cc includes this header from fhir/src).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::fhir::client_internal {

// scheme://host:port with the scheme and host lower-cased and the port made explicit, so
// `HTTPS://EHR.example` and `https://ehr.example:443` compare equal.
struct Origin {
  std::string scheme;
  std::string host;
  int port = 0;
  bool operator==(const Origin&) const = default;
  std::string ToString() const;
};

// Parses an absolute http(s) URL's origin. Fails (kInvalidArgument) on anything else, including
// URLs that curl would not accept and URLs with user info (`user@host`: the host is what follows
// the `@`, and a URL written to look like another host is never used).
Result<Origin> ParseOrigin(std::string_view absolute_url);

// `host` as libcurl's URL parser returns it (CURLUPART_HOST; IPv6 in brackets): true for the
// exact name `localhost` and literal loopback addresses (127.0.0.0/8, ::1) only. A name that
// merely starts with "127." or "localhost" is not loopback.
bool IsLoopbackHost(std::string_view host);

bool IsAbsoluteHttpUrl(std::string_view url);

// Validates and normalises a FHIR base URL: absolute http(s), no query or fragment, no user info;
// returned as libcurl reads it (dot segments removed, numeric hosts dotted), trailing slash
// removed.
Result<std::string> NormalizeBaseUrl(std::string_view base_url);

// `base` (normalised) + `/` + `relative`, with the relative part's leading slashes dropped and
// characters that may not appear raw in a URL (space, controls, non-ASCII, `"<>\^`{|}`)
// percent-encoded. `%` is left alone: the caller may already have encoded its parameters.
std::string JoinUrl(std::string_view base, std::string_view relative);

// Resolves a link found in a response (a Bundle's `next`) against the FHIR base: absolute http(s)
// URLs stay as they are, `//host/...` takes the base's scheme, `/path` the base's origin, and
// anything else is relative to the base, as FHIR's relative URLs are. The result is
// percent-encoded like JoinUrl's; checking its origin is the caller's job.
std::string ResolveLink(std::string_view base, std::string_view link);

// Percent-encodes the characters JoinUrl encodes; used for absolute URLs too.
std::string EncodeUnsafeChars(std::string_view url);

}  // namespace cephalgia::fhir::client_internal
