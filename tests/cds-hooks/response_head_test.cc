// The transport's response head against Beast's own serializer: for every status, version,
// keep-alive and field combination the service uses, the bytes are the ones Beast wrote for the
// same message before the transport stopped using Beast's serializer (RFC 9110 8.6 aside: no
// Content-Length on 1xx/204/304, which Beast 1.74 wrote as "0").
#include "response_head.h"

#include <gtest/gtest.h>

#include <boost/beast/core/span.hpp>
#include <boost/beast/http.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace cephalgia::hooks {
namespace {

namespace http = boost::beast::http;

// What http_server.cc's Send did until the head was written by hand, serialized by Beast.
std::string BeastBytes(const HttpResponse& response, unsigned version, bool keep_alive) {
  http::response<http::span_body<const char>> message;
  message.result(static_cast<http::status>(response.status));
  message.version(version);
  message.set(http::field::server, "cephalgia");
  if (!response.content_type.empty()) message.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) message.set(name, value);
  std::string_view body = response.Body();
  message.body() = boost::beast::span<const char>(body.data(), body.size());
  message.keep_alive(keep_alive);
  message.prepare_payload();
  std::ostringstream os;
  os << message;
  return os.str();
}

std::string OurBytes(const HttpResponse& response, unsigned version, bool keep_alive) {
  std::string_view body = response.Body();
  if (!StatusAllowsBody(response.status)) body = {};
  return ResponseHead(response, version, keep_alive, body.size()) + std::string(body);
}

std::vector<HttpResponse> ResponsesTheServiceSends() {
  std::vector<HttpResponse> out;
  HttpResponse cards;
  cards.body = R"({"cards":[]})";
  out.push_back(cards);
  HttpResponse cors = cards;
  cors.SetHeader("Access-Control-Allow-Origin", "https://ehr.example.org");
  cors.SetHeader("Vary", "Origin");
  out.push_back(cors);
  HttpResponse unauthorized;
  unauthorized.status = 401;
  unauthorized.body = R"({"error":"unauthorized"})";
  unauthorized.SetHeader("WWW-Authenticate", "Bearer");
  out.push_back(unauthorized);
  HttpResponse busy;
  busy.status = 503;
  busy.body = R"({"error":"busy"})";
  busy.SetHeader("Retry-After", "5");
  out.push_back(busy);
  HttpResponse metrics;
  metrics.content_type = "text/plain; version=0.0.4; charset=utf-8";
  metrics.body = "# HELP x y\n";
  out.push_back(metrics);
  HttpResponse no_type;
  no_type.content_type.clear();
  no_type.status = 404;
  out.push_back(no_type);
  for (int status : {400, 405, 413, 415, 422, 429, 431, 500}) {
    HttpResponse error;
    error.status = status;
    error.body = R"({"error":"x"})";
    out.push_back(error);
  }
  // A field given twice (a raw push, not SetHeader) and one that replaces a transport field:
  // Beast's set() keeps the last value at the place of the last setting.
  HttpResponse twice = cards;
  twice.headers.emplace_back("X-A", "1");
  twice.headers.emplace_back("X-B", "2");
  twice.headers.emplace_back("x-a", "3");
  twice.headers.emplace_back("server", "other");
  out.push_back(twice);
  HttpResponse large;
  large.body.assign(123457, 'x');
  out.push_back(large);
  return out;
}

TEST(ResponseHeadTest, TheBytesAreBeastsForEveryResponseTheServiceSends) {
  int compared = 0;
  for (const HttpResponse& response : ResponsesTheServiceSends()) {
    for (unsigned version : {10u, 11u}) {
      for (bool keep_alive : {true, false}) {
        EXPECT_EQ(OurBytes(response, version, keep_alive),
                  BeastBytes(response, version, keep_alive))
            << "status " << response.status << " version " << version << " keep-alive "
            << keep_alive;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 4 * 16);
}

TEST(ResponseHeadTest, NoContentLengthOn204Or304OrInformationalAndNoBody) {
  for (int status : {100, 204, 304}) {
    HttpResponse r;
    r.status = status;
    r.content_type.clear();
    r.body = "would be a body";
    EXPECT_FALSE(StatusAllowsBody(status));
    const std::string head = ResponseHead(r, 11, true, 0);
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  }
  // Beast wrote the same head with "Content-Length: 0" for a 204 without body; nothing else.
  HttpResponse preflight;
  preflight.status = 204;
  preflight.content_type.clear();
  preflight.SetHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  std::string beast = BeastBytes(preflight, 11, true);
  const std::string zero = "Content-Length: 0\r\n";
  ASSERT_NE(beast.find(zero), std::string::npos);
  beast.erase(beast.find(zero), zero.size());
  EXPECT_EQ(OurBytes(preflight, 11, true), beast);
  EXPECT_TRUE(StatusAllowsBody(200));
  EXPECT_TRUE(StatusAllowsBody(400));
}

TEST(ResponseHeadTest, TheTransportOwnsTheFramingFields) {
  HttpResponse r;
  r.body = "{}";
  r.headers.emplace_back("Content-Length", "999");
  r.headers.emplace_back("Transfer-Encoding", "chunked");
  r.headers.emplace_back("connection", "upgrade");
  EXPECT_EQ(ResponseHead(r, 11, false, 2),
            "HTTP/1.1 200 OK\r\nServer: cephalgia\r\nContent-Type: application/json; "
            "charset=utf-8\r\nConnection: close\r\nContent-Length: 2\r\n\r\n");
}

}  // namespace
}  // namespace cephalgia::hooks
