// libFuzzer target: the HTTP request handling above Beast, CdsService::Serve (routing, methods,
// CORS and its preflight, Content-Type, the body limit, client authentication, the admin
// endpoints' protection, feedback, discovery, service calls) with arbitrary method, target,
// headers, body and peer address, the real headache pack loaded. A deferred outcome is run
// inline, as the server's blocking pool would, and must give what Handle gives.
// The input is consumed by FuzzedDataProvider: a flags byte, then method, target, up to 16
// headers, the peer address, and the rest as the body.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "cephalgia/hooks/cds_service.h"
#include "fuzz_packs.h"

namespace {

using cephalgia::Result;
using cephalgia::Status;
using cephalgia::StatusCode;
using namespace cephalgia::hooks;  // NOLINT

// Collaborators with the shapes main() wires in, without their side effects: a token is "good"
// when it is exactly "Bearer good" (a key set fetch "may block" when it mentions jku).
ServiceHooks Hooks() {
  ServiceHooks hooks;
  hooks.authenticate = [](std::string_view authorization, std::string_view,
                          AuthAttempt& attempt) -> Result<std::string> {
    if (authorization == "Bearer good") return std::string("https://ehr.example.org");
    attempt.claimed_iss = "https://ehr.example.org";
    return Status(StatusCode::kUnauthenticated, "bad signature");
  };
  hooks.authenticate_may_block = [](std::string_view authorization) {
    return authorization.find("jku") != std::string_view::npos;
  };
  hooks.store_feedback = [](std::string_view, std::string_view body) {
    return body.size() % 7 == 3 ? Status(StatusCode::kUnavailable, "store is busy") : Status::Ok();
  };
  hooks.record_cards = [](std::string_view, std::string_view,
                          const std::vector<std::pair<std::string, std::string>>&) {};
  hooks.feedback_summary_json = []() -> Result<std::string> { return std::string("{}"); };
  hooks.metrics_text = [] { return std::string("# no metrics\n"); };
  return hooks;
}

const CdsService& Service(int variant) {
  static const CdsService* services[3] = {};
  if (services[variant] == nullptr) {
    ServiceOptions options;
    options.fixed_now = "2026-03-01T10:00:00Z";
    options.max_body_bytes = 64 << 10;
    if (variant == 0) {
      options.cors_allowed_origins = {"https://ehr.example.org", "http://localhost:3000"};
      options.admin_token = "admin-secret";
    } else if (variant == 1) {
      options.admin_loopback_only = true;
    }
    services[variant] = new CdsService(cephalgia::fuzz::LoadedPacks(), options, nullptr,
                                       variant == 2 ? ServiceHooks{} : Hooks());
  }
  return *services[variant];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int variant = in.ConsumeIntegralInRange(0, 2);
  HttpRequest request;
  request.method = in.ConsumeRandomLengthString(16);
  request.target = in.ConsumeRandomLengthString(256);
  const int headers = in.ConsumeIntegralInRange(0, 16);
  for (int i = 0; i < headers; ++i) {
    std::string name = in.ConsumeRandomLengthString(32);
    std::string value = in.ConsumeRandomLengthString(256);
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  request.remote_address = in.ConsumeRandomLengthString(48);
  request.body = in.ConsumeRemainingBytesAsString();

  const CdsService& service = Service(variant);
  CallInfo info;
  HttpOutcome outcome = service.Serve(request, info);
  HttpResponse response =
      outcome.deferred() ? outcome.blocking(request, info) : std::move(outcome.response);
  // A client's bytes never make the service fail (5xx) by themselves: only the feedback store's
  // 503, which the hook above produces, may appear.
  if (response.status < 100 || response.status > 599 ||
      (response.status >= 500 && response.status != 503)) {
    std::fprintf(stderr, "fuzz_http_handling: %s %s -> %d %s\n", request.method.c_str(),
                 request.target.c_str(), response.status, response.body.c_str());
    __builtin_trap();
  }
  return 0;
}
