// File: http_server.h
//
// The HTTP transport, on Boost.Beast (after Beast's advanced server example). It does I/O only:
// accept, keep-alive, a body-size limit, read/write timeouts, a connection cap, optional TLS, and
// graceful shutdown (stop accepting, finish in-flight requests, close idle connections). What a
// request means is decided by the `RequestHandler` (http_message.h), a plain function; the server
// includes nothing from the service or the plugin host, and keeps the handler's per-exchange
// state as an opaque ExchangeTag.
//
// Limits against hostile traffic (issue 13; README "Robustness"):
//  - header time: a request's header must be complete within `header_timeout` of the connection
//    opening (first request) or of its first byte (later requests): slow headers are cut;
//  - idle time: a keep-alive connection may wait `idle_timeout` for its next request;
//  - connections: `max_connections` in all; at the cap the connection idle the longest (waiting
//    for a request, or lingering) is closed to make room, and only when none is idle is the new
//    one refused. `max_connections_per_address` per peer address (loopback peers, usually a local
//    reverse proxy, are exempt unless `limit_loopback_connections`);
//  - descriptors: when accept() fails for want of descriptors (EMFILE) the acceptor closes the
//    connection idle the longest and backs off (50 ms doubling to 1 s) instead of spinning;
//  - lingering close: after a response that ends the connection (a 413 sent before the body was
//    read, a 400 on broken HTTP, `Connection: close`), the server half-closes and reads and
//    discards what the client still sends, for at most `linger_timeout` and `linger_max_bytes`,
//    so a client that writes its whole body before reading gets the status, not a reset.
// Refusals are reported to `on_refused` (every one, for a counter) and to `log` (rate-limited:
// at most one line per reason per `refusal_log_interval`, with the count of those not logged).
//
//   HttpServer server(options, ServiceHandler(service), on_complete);
//   CEPHALGIA_RETURN_IF_ERROR(server.Listen());   // binds; port() is known after this
//   server.Run();                                  // blocks until Stop() and the drain finish
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cephalgia/hooks/http_message.h"
#include "cephalgia/status.h"

namespace cephalgia::hooks {

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 8080;      // 0 picks a free port
  int threads = 1;           // I/O threads, one io_context each
  int blocking_threads = 4;  // run deferred work that may block (FHIR fetches, durable writes)
  // Requests with a body at least this large are handled on the blocking pool as a whole, so
  // parsing and evaluating them never stalls the other connections of an I/O thread.
  std::size_t offload_body_bytes = 256 * 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;  // over it: 431
  std::size_t max_header_fields = 100;       // over it: 431
  // From the connection opening (or a keep-alive request's first byte) to the end of its header.
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::seconds read_timeout{15};          // the body, once the header is in
  std::chrono::milliseconds idle_timeout{30000};  // a keep-alive connection may idle this long
  std::chrono::seconds write_timeout{15};
  std::chrono::milliseconds drain_timeout{10000};  // how long Stop() waits for in-flight requests
  // On SIGTERM/SIGINT, keep serving this long before Stop() (a second signal stops at once), so
  // a load balancer sees /readyz fail and takes the replica out before its port closes.
  std::chrono::milliseconds shutdown_delay{0};
  // Called once, on the control thread, when a stop signal arrives (before the delay).
  std::function<void()> on_stop_signal;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_address = 64;    // 0: no per-address limit
  bool limit_loopback_connections = false;         // apply the per-address limit to loopback peers
  std::chrono::milliseconds linger_timeout{5000};  // lingering close: how long at most
  std::size_t linger_max_bytes = 8 << 20;          // lingering close: how much is discarded at most
  std::chrono::milliseconds refusal_log_interval{1000};
  // Every refused connection or request cut by a timeout, by a fixed reason label:
  // "global_limit", "per_address_limit", "descriptors" (a failed accept), "header_timeout",
  // "body_timeout". Called on any thread; must be cheap (a counter).
  std::function<void(std::string_view reason)> on_refused;
  // Every idle connection closed to make room for a new one (at the cap, or out of descriptors).
  std::function<void()> on_evicted;
  // Rate-limited transport log lines: (event, message). Messages hold addresses and fixed
  // phrases, never request bytes. Called on any thread.
  std::function<void(std::string_view event, std::string_view message)> log;
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
  // Set when the transport refused the request itself (broken HTTP, a header or body over its
  // limit): a fixed phrase saying why, for the refusal's log line. Never request bytes.
  std::string refusal;
  // The handler's state for this exchange (RequestHandler::new_tag), opaque here; null for a
  // request the transport refused itself.
  std::unique_ptr<ExchangeTag> tag;
};

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
