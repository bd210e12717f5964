// File: http_message.h
//
// Transport-neutral HTTP request and response. The Beast session converts to and from these, so
// everything that decides what a request means (routing, CDS Hooks, errors) is a plain function
// testable without a socket: `HttpResponse CdsService::Handle(const HttpRequest&)`.
#pragma once

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

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void SetHeader(std::string name, std::string value);
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
