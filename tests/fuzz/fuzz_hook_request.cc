// libFuzzer target: a CDS Hooks service call, POST /cds-services/{id}, through the service core
// (CdsService::Handle, no socket) with the real headache pack loaded from the build's pack dir,
// so the envelope, context and prefetch validation, prefetch completion and the pack's
// evaluation all see the bytes.
//
// Input: the request body, optionally followed by "\n#PAGE\n" and what the FHIR server
// "answers": a fetcher stands in for libcurl and returns that text, parsed, for every query the
// host makes (a fetched resource or searchset page merged into prefetch), or a fetch error when
// it is not JSON. The service id is the headache pack's patient-view service unless the body's
// hook is "order-sign". Seeds: the golden cases' requests (scripts/fuzz.sh extracts them).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/hooks/prefetch.h"
#include "cephalgia/json.h"
#include "fuzz_packs.h"

namespace {

using cephalgia::Status;
using cephalgia::StatusCode;
using cephalgia::hooks::FetchQuery;
using cephalgia::hooks::FetchResult;

constexpr std::string_view kPageMarker = "\n#PAGE\n";

class FuzzedFetcher final : public cephalgia::hooks::FhirFetcher {
 public:
  std::string_view page;
  std::vector<FetchResult> FetchAll(std::string_view, const std::optional<std::string>&,
                                    const std::vector<FetchQuery>& queries) override {
    std::vector<FetchResult> results;
    for (const FetchQuery& q : queries) {
      FetchResult r;
      r.key = q.key;
      r.document.Parse<rapidjson::kParseStopWhenDoneFlag>(page.data(), page.size());
      if (r.document.HasParseError() || !r.document.IsObject()) {
        r.document.SetNull();
        r.status = Status(StatusCode::kUnavailable, "the FHIR server's answer is not a resource");
        r.error_kind = "INVALID_JSON";
      }
      results.push_back(std::move(r));
    }
    return results;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cephalgia::plugin::PackRegistry& registry = cephalgia::fuzz::LoadedPacks();
  static FuzzedFetcher* fetcher = new FuzzedFetcher;
  static const cephalgia::hooks::CdsService* service = [] {
    cephalgia::hooks::ServiceOptions options;
    options.fixed_now = "2026-03-01T10:00:00Z";
    return new cephalgia::hooks::CdsService(registry, options, fetcher);
  }();

  std::string_view input = cephalgia::fuzz::AsText(data, size);
  std::string_view body = input;
  fetcher->page = {};
  if (size_t at = input.find(kPageMarker); at != std::string_view::npos) {
    body = input.substr(0, at);
    fetcher->page = input.substr(at + kPageMarker.size());
  }
  const bool order_sign = body.find("\"order-sign\"") != std::string_view::npos;
  cephalgia::hooks::HttpRequest request;
  request.method = "POST";
  request.target =
      order_sign ? "/cds-services/headache-order-sign" : "/cds-services/headache-patient-view";
  request.headers = {{"Content-Type", "application/json"}};
  request.body.assign(body);
  request.remote_address = "127.0.0.1";
  cephalgia::hooks::CallInfo info;
  cephalgia::hooks::HttpResponse response = service->Handle(request, &info);
  // What the service promises whatever the bytes: an HTTP status, and never a 500 (a 5xx other
  // than the FHIR server's 502/503/504 would be the service's own fault for a client's input).
  if (response.status < 200 || response.status > 599 ||
      (response.status >= 500 && response.status != 502 && response.status != 503 &&
       response.status != 504)) {
    std::fprintf(stderr, "fuzz_hook_request: status %d: %s\n", response.status,
                 response.body.c_str());
    __builtin_trap();
  }
  // The host's one-pass envelope scan decides exactly as the DOM validation it replaced (issue
  // 14): the same status, message and location, the same state for every prefetch value.
  const std::string_view hook = order_sign ? "order-sign" : "patient-view";
  std::string buffer;
  auto dom = cephalgia::json::ParseUntrustedInsitu(body, buffer);
  auto scanned = cephalgia::hooks::ScanHookRequest(body, cephalgia::json::kDefaultMaxBytes);
  Status by_dom = dom.ok() ? cephalgia::hooks::ValidateHookRequest(*dom, hook) : dom.status();
  Status by_scan =
      scanned.ok() ? cephalgia::hooks::ValidateHookEnvelope(*scanned, hook) : scanned.status();
  if (by_dom.code() != by_scan.code() || by_dom.message() != by_scan.message() ||
      by_dom.location() != by_scan.location()) {
    std::fprintf(stderr, "fuzz_hook_request: scan says %s, DOM says %s\n",
                 by_scan.ToString().c_str(), by_dom.ToString().c_str());
    __builtin_trap();
  }
  if (dom.ok() && scanned.ok() && by_dom.ok()) {
    const rapidjson::Value* prefetch = cephalgia::json::Find(*dom, "prefetch");
    for (const cephalgia::hooks::ScannedPrefetch& p : scanned->prefetch_values) {
      if (!p.first || prefetch == nullptr) continue;
      std::string next;
      auto expected =
          cephalgia::hooks::ClassifyPrefetchValue(cephalgia::json::Find(*prefetch, p.key), &next);
      if (expected != p.state ||
          (expected == cephalgia::hooks::PrefetchState::kPaged && next != p.next_url)) {
        std::fprintf(stderr, "fuzz_hook_request: prefetch '%.*s' classified differently\n",
                     static_cast<int>(p.key.size()), p.key.data());
        __builtin_trap();
      }
    }
  }
  return 0;
}
