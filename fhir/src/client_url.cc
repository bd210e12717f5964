// URL helpers of the FHIR client; see client_url.h.
#include "client_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include "cephalgia/fhir/client.h"

namespace cephalgia::fhir {
namespace client_internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Lower(s.substr(0, prefix.size())) == prefix;
}

struct CurluDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using CurluPtr = std::unique_ptr<CURLU, CurluDeleter>;

// Reads one part of a parsed URL; nullopt when absent.
std::optional<std::string> GetPart(CURLU* u, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string out(value);
  curl_free(value);
  return out;
}

bool IsUnsafe(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return true;
  switch (c) {
    case '"': case '<': case '>': case '\\': case '^': case '`': case '{': case '|': case '}':
      return true;
    default:
      return false;
  }
}

// True when the URL names a user (or password, or login options) before its host. libcurl
// connects to the host after the `@`, so `http://127.0.0.1@evil.example/` only looks local.
bool HasUserInfo(CURLU* u) {
  return GetPart(u, CURLUPART_USER).has_value() || GetPart(u, CURLUPART_PASSWORD).has_value() ||
         GetPart(u, CURLUPART_OPTIONS).has_value();
}

// Parses an absolute http(s) URL the way libcurl will when it fetches it.
Result<CurluPtr> ParseHttpUrl(std::string_view absolute_url) {
  if (!IsAbsoluteHttpUrl(absolute_url)) {
    return InvalidArgument("not an absolute http(s) URL");
  }
  CurluPtr u(curl_url());
  if (!u) return Internal("curl_url() failed");
  const std::string text = EncodeUnsafeChars(absolute_url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return InvalidArgument("malformed URL");
  }
  if (HasUserInfo(u.get())) {
    return InvalidArgument("a URL with user info (user@host) is refused: it hides the real host");
  }
  return u;
}

}  // namespace

std::string Origin::ToString() const { return scheme + "://" + host + ":" + std::to_string(port); }

bool IsLoopbackHost(std::string_view host) {
  if (Lower(host) == "localhost") return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    in6_addr v6{};
    const std::string inner = text.substr(1, text.size() - 2);
    return inet_pton(AF_INET6, inner.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

bool IsAbsoluteHttpUrl(std::string_view url) {
  return StartsWithNoCase(url, "http://") || StartsWithNoCase(url, "https://");
}

Result<Origin> ParseOrigin(std::string_view absolute_url) {
  CEPHALGIA_ASSIGN_OR_RETURN(CurluPtr u, ParseHttpUrl(absolute_url));
  Origin origin;
  auto scheme = GetPart(u.get(), CURLUPART_SCHEME);
  auto host = GetPart(u.get(), CURLUPART_HOST);
  auto port = GetPart(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || !port || host->empty()) return InvalidArgument("URL without a host");
  origin.scheme = Lower(*scheme);
  origin.host = Lower(*host);
  if (origin.scheme != "http" && origin.scheme != "https") {
    return InvalidArgument("only http and https are allowed");
  }
  try {
    origin.port = std::stoi(*port);
  } catch (...) {
    return InvalidArgument("bad port");
  }
  return origin;
}

Result<std::string> NormalizeBaseUrl(std::string_view base_url) {
  CEPHALGIA_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(base_url));
  (void)origin;
  if (base_url.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument("a FHIR base URL has no query or fragment");
  }
  // The URL as libcurl reads it (dot segments removed, numeric hosts in dotted form): what the
  // client fetches is then exactly what was checked.
  CEPHALGIA_ASSIGN_OR_RETURN(CurluPtr u, ParseHttpUrl(base_url));
  std::optional<std::string> out = GetPart(u.get(), CURLUPART_URL);
  if (!out) return InvalidArgument("malformed URL");
  while (!out->empty() && out->back() == '/') out->pop_back();
  return *std::move(out);
}

std::string EncodeUnsafeChars(std::string_view url) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(url.size());
  for (unsigned char c : url) {
    if (IsUnsafe(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string JoinUrl(std::string_view base, std::string_view relative) {
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += '/';
  out += EncodeUnsafeChars(relative);
  return out;
}

std::string ResolveLink(std::string_view base, std::string_view link) {
  if (IsAbsoluteHttpUrl(link)) return EncodeUnsafeChars(link);
  const std::size_t scheme_end = base.find("://");
  if (scheme_end == std::string_view::npos) return JoinUrl(base, link);
  if (link.substr(0, 2) == "//") {
    return std::string(base.substr(0, scheme_end + 1)) + EncodeUnsafeChars(link);
  }
  if (!link.empty() && link.front() == '/') {
    std::size_t path = base.find('/', scheme_end + 3);
    return std::string(base.substr(0, path)) + EncodeUnsafeChars(link);
  }
  return JoinUrl(base, link);
}

}  // namespace client_internal

Result<FhirServerEndpoint> InspectFhirServerUrl(std::string_view base_url) {
  CEPHALGIA_ASSIGN_OR_RETURN(std::string normalized, client_internal::NormalizeBaseUrl(base_url));
  CEPHALGIA_ASSIGN_OR_RETURN(client_internal::Origin origin,
                             client_internal::ParseOrigin(normalized));
  FhirServerEndpoint endpoint;
  endpoint.scheme = origin.scheme;
  endpoint.origin = origin.ToString();
  endpoint.loopback = client_internal::IsLoopbackHost(origin.host);
  return endpoint;
}

namespace {

// Query parameters whose values are credentials (OAuth 2.0 / SMART names and the usual others).
bool IsSecretParam(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kSecret = {
      "access_token", "token",    "id_token",      "refresh_token", "code",
      "client_secret", "password", "api_key",      "apikey"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kSecret.begin(), kSecret.end(), lower) != kSecret.end();
}

constexpr std::string_view kRedacted = "REDACTED";

}  // namespace

std::string RedactUrl(std::string_view url, std::string_view secret) {
  std::string out;
  out.reserve(url.size());
  // User info: scheme://user:password@host -> scheme://user:REDACTED@host.
  std::size_t authority = url.find("://");
  std::size_t pos = 0;
  if (authority != std::string_view::npos) {
    authority += 3;
    std::size_t authority_end = url.find_first_of("/?#", authority);
    if (authority_end == std::string_view::npos) authority_end = url.size();
    std::size_t at = url.rfind('@', authority_end - 1);
    if (at != std::string_view::npos && at >= authority) {
      std::size_t colon = url.find(':', authority);
      out.append(url.substr(0, authority));
      if (colon != std::string_view::npos && colon < at) {
        out.append(url.substr(authority, colon - authority + 1));
        out.append(kRedacted);
      } else {
        out.append(url.substr(authority, at - authority));
      }
      pos = at;  // continue with "@host..."
    }
  }
  // Query (and fragment) parameters: name=value pairs separated by & or ;.
  std::size_t query = url.find_first_of("?#", pos);
  if (query == std::string_view::npos) {
    out.append(url.substr(pos));
  } else {
    out.append(url.substr(pos, query + 1 - pos));
    std::size_t i = query + 1;
    while (i <= url.size()) {
      std::size_t end = url.find_first_of("&;#", i);
      if (end == std::string_view::npos) end = url.size();
      std::string_view pair = url.substr(i, end - i);
      std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && IsSecretParam(pair.substr(0, eq))) {
        out.append(pair.substr(0, eq + 1));
        out.append(kRedacted);
      } else {
        out.append(pair);
      }
      if (end < url.size()) out.push_back(url[end]);
      i = end + 1;
    }
  }
  // Finally the token itself, wherever it might have been pasted.
  if (!secret.empty()) {
    for (std::size_t at = out.find(secret); at != std::string::npos;
         at = out.find(secret, at + kRedacted.size())) {
      out.replace(at, secret.size(), kRedacted);
    }
    // The marker and what follows it can spell the token again ("Dxy" + "xy" -> "REDACTEDxy",
    // found by tests/fuzz): then nothing of the URL is shown.
    if (out.find(secret) != std::string::npos) return std::string(kRedacted);
  }
  return out;
}

}  // namespace cephalgia::fhir
