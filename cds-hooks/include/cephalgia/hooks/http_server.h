// File: http_server.h
//
// The HTTP transport, on Boost.Beast (after Beast's advanced server example). It does I/O only:
// accept, keep-alive, a body-size limit, read/write timeouts, a connection cap, optional TLS, and
// graceful shutdown (stop accepting, finish in-flight requests, close idle connections). What a
// request means is decided by the `RequestHandler`, a plain function; the server never includes a
// rule pack header.
//
//   HttpServer server(options, [&](const HttpRequest& req, CallInfo& info) {
//     return service.Serve(req, info); }, on_complete);
//   CEPHALGIA_RETURN_IF_ERROR(server.Listen());   // binds; port() is known after this
//   server.Run();                                  // blocks until Stop() and the drain finish
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/hooks/http_message.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks {

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port
  int threads = 1;           // I/O threads, one io_context each
  int blocking_threads = 4;  // run deferred work that may block (FHIR fetches, durable writes)
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds read_timeout{15};   // a request (headers and body) must arrive within it
  std::chrono::seconds idle_timeout{30};   // a keep-alive connection may idle this long
  std::chrono::seconds write_timeout{15};
  std::chrono::seconds drain_timeout{10};  // how long Stop() waits for in-flight requests
  std::size_t max_connections = 1024;
  std::string tls_certificate_file;  // both set: serve HTTPS only
  std::string tls_private_key_file;
};

// Facts about one completed exchange, for the access log and metrics.
struct ExchangeRecord {
  std::string method;
  int status = 0;
  std::size_t bytes_in = 0;
  std::size_t bytes_out = 0;
  std::chrono::microseconds duration{0};
  std::string remote_address;
  CallInfo info;
};

// Returns the answer, or work that may block, which the server runs on its blocking pool (a
// handler returning a plain HttpResponse converts to an immediate HttpOutcome).
using RequestHandler = std::function<HttpOutcome(const HttpRequest&, CallInfo&)>;
using ExchangeObserver = std::function<void(const ExchangeRecord&)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler, ExchangeObserver observer = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; loads the TLS certificate if configured. Errors are start-up errors.
  Status Listen();
  uint16_t port() const;
  // Runs the I/O threads until Stop() is called and in-flight requests are done (or the drain
  // timeout passes). SIGINT/SIGTERM call Stop() when `handle_signals` is set.
  void Run(bool handle_signals);
  // Thread-safe and idempotent: stop accepting, let in-flight requests finish, close idle ones.
  void Stop();
  std::size_t open_connections() const;
  // Deferred work handed to the blocking pool that is queued or running.
  std::size_t deferred_in_progress() const;

  class Impl;  // implementation detail (public only so that the session type can name it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cephalgia::hooks
