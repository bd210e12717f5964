// File: http_client.h
//
// One HTTP exchange for `cephalgia check`, with libcurl: any method, headers, body; the status,
// response headers and body (up to a limit), and the time it took. A transport failure
// (connection refused, timeout) is reported in `error`, never thrown.
//
//   HttpReply r = HttpExchange({"POST", base + "/cds-services/x", body, {"Content-Type:
//   application/json"}}, 10.0); if (!r.error.empty()) ...; else if (r.status == 200) ...
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cephalgia::check {

struct HttpRequestSpec {
  std::string method;  // GET, POST, OPTIONS
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
};

struct HttpReply {
  std::string error;  // transport failure; empty when an HTTP answer arrived
  long status = 0;
  std::string body;
  bool body_truncated = false;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  double elapsed_ms = 0;
  // The first header with this name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

// Performs the exchange; `timeout_s` bounds the whole exchange. Bodies over 16 MiB are cut.
HttpReply HttpExchange(const HttpRequestSpec& request, double timeout_s);

}  // namespace cephalgia::check
