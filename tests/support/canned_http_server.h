// File: canned_http_server.h
//
// CannedHttpServer: a tiny real HTTP/1.1 listener on 127.0.0.1 (port chosen by the kernel) for
// the cases a real FHIR server will not produce on demand: invalid JSON, oversized bodies,
// redirects, links to another origin, dropped connections. It records every request it receives
// (request line and headers) so tests can assert what a client did and did not send, e.g. that a
// bearer token never reached another origin.
//
//   CannedHttpServer other([](const CannedHttpServer::Request&) {
//     return CannedHttpServer::Response{200, "application/fhir+json", R"({"resourceType":"Patient"})"};
//   });
//   ... other.base_url() ... other.requests().size() ...
//
// One connection at a time, `Connection: close` after each response; a handler may return
// `drop = true` to close the connection without answering.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cephalgia::test {

// A TCP port on 127.0.0.1 with nothing listening on it (bound by the kernel's choice, then
// closed). For "unreachable server" tests and for servers that take a port argument.
int UnusedLoopbackPort();

class CannedHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;                         // path and query as sent
    std::map<std::string, std::string> headers;  // names lower-cased
  };
  struct Response {
    int status = 200;
    std::string content_type = "application/fhir+json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    bool chunked = false;  // send the body chunked (no Content-Length)
    bool drop = false;     // close the connection without any response
  };
  using Handler = std::function<Response(const Request&)>;

  explicit CannedHttpServer(Handler handler);
  ~CannedHttpServer();  // stops the listener thread and closes the socket
  CannedHttpServer(const CannedHttpServer&) = delete;
  CannedHttpServer& operator=(const CannedHttpServer&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port>
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Request> requests() const;

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace cephalgia::test
