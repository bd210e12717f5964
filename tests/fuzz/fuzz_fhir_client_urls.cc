// libFuzzer target: the FHIR client's decisions on what a hostile FHIR server (or EHR) hands it,
// where they can be reached without a socket: the fhirServer base URL (NormalizeBaseUrl,
// InspectFhirServerUrl, loopback), a Bundle's `next` link resolved against it (ResolveLink,
// ParseOrigin: the token goes only to the base's origin) and the redaction of URLs that end up
// in errors and logs (RedactUrl with the bearer token).
// Input: "<base URL>\n<link>\n<token>". The client's response handling proper (status, headers,
// sizes, paging) lives inside its curl multi loop in fhir/src/client.cc and needs an HTTP peer;
// tests/fhir/client_*_test.cc drive it with a real server, see the README's Robustness section.
#include <cstdint>
#include <string>
#include <string_view>

#include "cephalgia/fhir/client.h"
#include "client_url.h"
#include "fuzz_support.h"

namespace fhir = cephalgia::fhir;
namespace url = cephalgia::fhir::client_internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = cephalgia::fuzz::AsText(data, size);
  const size_t first = input.find('\n');
  if (first == std::string_view::npos) return 0;
  const std::string_view base_text = input.substr(0, first);
  std::string_view rest = input.substr(first + 1);
  const size_t second = rest.find('\n');
  const std::string_view link = rest.substr(0, second);
  const std::string_view token =
      second == std::string_view::npos ? std::string_view() : rest.substr(second + 1);

  (void)fhir::InspectFhirServerUrl(base_text);
  auto base = url::NormalizeBaseUrl(base_text);
  if (base.ok()) {
    auto base_origin = url::ParseOrigin(*base);
    const std::string resolved = url::ResolveLink(*base, link);
    const std::string joined = url::JoinUrl(*base, link);
    auto link_origin = url::ParseOrigin(resolved);
    (void)url::ParseOrigin(joined);
    (void)base_origin;
    (void)link_origin;
  }
  const std::string redacted = fhir::RedactUrl(link, token);
  // The token never survives redaction (unless it is part of the marker itself).
  if (token.size() >= 8 && std::string_view("REDACTED").find(token) == std::string_view::npos &&
      redacted.find(token) != std::string::npos) {
    std::fprintf(stderr, "fuzz_fhir_client_urls: token left in \"%s\"\n", redacted.c_str());
    __builtin_trap();
  }
  return 0;
}
