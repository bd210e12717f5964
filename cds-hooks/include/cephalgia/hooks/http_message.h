// File: http_message.h
//
// Transport-neutral HTTP request and response, and the seam between a transport and whatever
// answers it: the handler type, the outcome it returns (an answer, or work that may block), and
// an opaque per-exchange tag the transport keeps for the handler without knowing what it is.
// The Beast session converts to and from these, so everything that decides what a request means
// (routing, CDS Hooks, errors) is a plain function testable without a socket:
// `HttpResponse CdsService::Handle(const HttpRequest&)`.
//
//   RequestHandler handler{
//       [](const HttpRequest& req, ExchangeTag&) -> HttpOutcome { return HttpResponse{}; },
//       [] { return std::make_unique<ExchangeTag>(); }};
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::hooks {

struct HttpRequest {
  std::string method;  // "GET", "POST", "OPTIONS", ...
  std::string target;  // path plus optional query, as received: "/cds-services/x?y=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;

  // Case-insensitive header lookup; empty when absent.
  std::string_view Header(std::string_view name) const;
  // The target without its query string.
  std::string_view Path() const;
};

// A response body that lives elsewhere (a rule pack's buffer), written to the socket from where
// it lies; `owner` keeps it alive until then.
struct ExternalBody {
  std::shared_ptr<const void> owner;
  std::string_view bytes;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  ExternalBody external;  // when its owner is set, the body is these bytes and `body` is empty

  void SetHeader(std::string name, std::string value);
  // The body's bytes, wherever they are.
  std::string_view Body() const { return external.owner ? external.bytes : std::string_view(body); }
  // Copies an external body into `body` (for callers that read `body`, e.g. tests and the CLI).
  void MaterializeBody();
};

// What a transport keeps per exchange for its handler, and hands back to deferred work and to
// the exchange observer. Opaque to the transport; the handler's own type derives from it.
class ExchangeTag {
 public:
  virtual ~ExchangeTag() = default;
};

// The answer to one request, or, when producing it may block (a FHIR fetch for missing
// prefetch, a durable feedback write), the work that produces it. A server runs `blocking` on a
// pool of its own so a slow EHR FHIR server never stalls other connections' I/O thread; the
// request and the tag are the same objects the handler was given, kept alive by the server.
using BlockingWork = std::function<HttpResponse(const HttpRequest& request, ExchangeTag& tag)>;
struct HttpOutcome {
  HttpOutcome(HttpResponse r) : response(std::move(r)) {}  // NOLINT: most answers are immediate
  explicit HttpOutcome(BlockingWork work) : blocking(std::move(work)) {}
  bool deferred() const { return static_cast<bool>(blocking); }

  HttpResponse response;  // when not deferred
  BlockingWork blocking;
};

// What a transport calls: `handle` for every request, with the tag `new_tag` made for that
// exchange (a plain ExchangeTag when `new_tag` is empty).
struct RequestHandler {
  std::function<HttpOutcome(const HttpRequest&, ExchangeTag&)> handle;
  std::function<std::unique_ptr<ExchangeTag>()> new_tag;
};

// The one place where a Status becomes an HTTP status code.
int HttpStatusFor(StatusCode code);

// An error response whose body is a FHIR OperationOutcome (checklist item 51/79) saying what is
// wrong and where: {"resourceType":"OperationOutcome","issue":[{"severity":"error",
// "code":"invalid","diagnostics":"...","expression":["context.patientId"]}]}.
HttpResponse ErrorResponse(const Status& status);

// Same body, for callers (the CLI) that print it without HTTP.
std::string OperationOutcomeJson(const Status& status);

}  // namespace cephalgia::hooks
