#include "cephalgia/hooks/http_message.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>

#include "cephalgia/ascii.h"
#include "cephalgia/json.h"

namespace cephalgia::hooks {
namespace {

// FHIR IssueType codes (http://hl7.org/fhir/issue-type) closest to each status.
const char* IssueTypeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return "invalid";
    case StatusCode::kNotFound:
      return "not-found";
    case StatusCode::kMethodNotAllowed:
      return "not-supported";
    case StatusCode::kFailedPrecondition:
      return "incomplete";
    case StatusCode::kPayloadTooLarge:
      return "too-costly";
    case StatusCode::kUnauthenticated:
      return "login";
    case StatusCode::kPermissionDenied:
      return "forbidden";
    case StatusCode::kDeadlineExceeded:
      return "timeout";
    case StatusCode::kUnavailable:
      return "transient";
    default:
      return "exception";
  }
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCaseAscii(k, name)) return v;
  }
  return {};
}

std::string_view HttpRequest::Path() const {
  std::string_view t(target);
  return t.substr(0, t.find('?'));
}

void HttpResponse::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoreCaseAscii(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void HttpResponse::MaterializeBody() {
  if (!external.owner) return;
  body.assign(external.bytes.data(), external.bytes.size());
  external = ExternalBody{};
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kMethodNotAllowed:
      return 405;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string OperationOutcomeJson(const Status& status) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "OperationOutcome", a);
  rapidjson::Value issue(rapidjson::kObjectType);
  issue.AddMember("severity", "error", a);
  issue.AddMember("code", rapidjson::StringRef(IssueTypeFor(status.code())), a);
  std::string message =
      status.message().empty() ? std::string(StatusCodeName(status.code())) : status.message();
  issue.AddMember("diagnostics", json::MakeString(message, a), a);
  if (!status.location().empty()) {
    rapidjson::Value expression(rapidjson::kArrayType);
    expression.PushBack(json::MakeString(status.location(), a), a);
    issue.AddMember("expression", expression, a);
  }
  rapidjson::Value issues(rapidjson::kArrayType);
  issues.PushBack(issue, a);
  doc.AddMember("issue", issues, a);
  return json::Serialize(doc);
}

HttpResponse ErrorResponse(const Status& status) {
  HttpResponse response;
  response.status = HttpStatusFor(status.code());
  // Checklist A.1: every body is JSON with Content-Type application/json (the default), even
  // though this one is a FHIR OperationOutcome.
  response.body = OperationOutcomeJson(status);
  // RFC 6750 §3: a 401 for a bearer-token scheme names the scheme it wants.
  if (status.code() == StatusCode::kUnauthenticated) {
    response.SetHeader("WWW-Authenticate", "Bearer");
  }
  // RFC 9110 §10.2.3: a 503 says when to come back (a draining replica, a store reconnecting).
  if (status.code() == StatusCode::kUnavailable) response.SetHeader("Retry-After", "5");
  return response;
}

}  // namespace cephalgia::hooks
