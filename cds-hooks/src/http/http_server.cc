// Boost.Beast transport. Three roles as in Beast's examples: the acceptor loop accepts, a Session
// owns one connection and does only I/O, and the RequestHandler (a plain function) decides what
// each request means. Every Asio call uses the error_code overload: I/O errors close the
// connection; they are never exceptions.
//
// Threading (after the "io_context per thread" designs of Beast's fast examples and userver):
//  - I/O contexts: one io_context per I/O thread, each run by exactly that thread. A connection
//    is assigned to one when accepted and stays there, so its handlers are serialised without a
//    strand and no two threads share a scheduler queue. Measured on this 2-core host with a
//    fixed-body handler: one shared io_context run by two threads with a strand per connection
//    took 122 us of CPU per request; two contexts of one thread each take 38-53 us.
//  - the control context, run by the thread that calls Run(): the acceptor, the signals and the
//    drain timer, so accepting never waits behind a request being evaluated.
//  - the blocking pool: work the handler says may block (a FHIR fetch, a durable feedback write;
//    see HttpOutcome) runs there, so a slow EHR FHIR server never stalls the other connections of
//    an I/O thread. The response is written back on the connection's own I/O context.
#include "cephalgia/hooks/http_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace cephalgia::hooks {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

// The concrete executor type rather than Asio's type-erased any_io_executor: every handler
// dispatch through the type-erased one copied a shared executor object.
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;
using PlainStream = beast::basic_stream<tcp, Executor>;
using TlsStream = beast::ssl_stream<PlainStream>;

// Lets the server ask every live session to wind down.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Shutdown() = 0;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, RequestHandler handler, ExchangeObserver observer)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        observer_(std::move(observer)),
        control_(1),
        contexts_(MakeContexts(std::max(1, options_.threads))),
        blocking_pool_(static_cast<std::size_t>(std::max(1, options_.blocking_threads))),
        acceptor_(control_),
        signals_(control_),
        drain_timer_(control_) {}
  ~Impl() {
    // Pending handlers hold sessions, whose destructors post to the control context: destroy
    // them (with the I/O contexts and the blocking pool's queued work) while it still exists.
    blocking_pool_.stop();
    blocking_pool_.join();
    contexts_.clear();
  }

  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int count) {
    std::vector<std::unique_ptr<net::io_context>> contexts;
    // Concurrency hint 1: each context is run by one thread, so Asio may skip cross-thread work.
    for (int i = 0; i < count; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
    return contexts;
  }

  Status Listen();
  void Run(bool handle_signals);
  void Stop();

  void DoAccept();
  void OnAccept(beast::error_code ec, Socket socket);
  void Register(const std::shared_ptr<SessionBase>& session);
  void SessionClosed();
  void StopContexts();

  HttpServerOptions options_;
  RequestHandler handler_;
  ExchangeObserver observer_;
  net::io_context control_;  // declared first: destroyed last (see ~Impl)
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  net::thread_pool blocking_pool_;
  // Keeps each I/O context's run() going while it has no connection; released at shutdown.
  std::vector<net::executor_work_guard<Executor>> work_guards_;
  std::size_t next_context_ = 0;  // round-robin assignment of accepted connections
  net::basic_socket_acceptor<tcp, Executor> acceptor_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  std::unique_ptr<ssl::context> tls_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> deferred_{0};
  std::mutex sessions_mutex_;
  std::vector<std::weak_ptr<SessionBase>> sessions_;
  uint16_t port_ = 0;
};

namespace {

template <class Stream>
auto& Lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(HttpServer::Impl& server, Socket&& socket, Args&&... args)
      : server_(server), stream_(std::move(socket), std::forward<Args>(args)...) {
    beast::error_code ec;
    auto endpoint = Lowest(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
  }
  ~Session() override { server_.SessionClosed(); }

  void Start() {
    // Run on the connection's own io_context: one thread runs it, so every handler of this
    // session is serialised there.
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::OnStart, this->shared_from_this()));
  }

  void Shutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      // An idle keep-alive connection is closed now; a busy one closes after its response.
      bool idle = !self->busy_ && self->buffer_.size() == 0 &&
                  (!self->parser_ || !self->parser_->got_some());
      if (idle) {
        beast::error_code ec;
        Lowest(self->stream_).socket().cancel(ec);
      }
    });
  }

 private:
  void OnStart() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest(stream_).expires_after(server_.options_.read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      DoRead();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // a failed TLS handshake just drops the connection
    DoRead();
  }

  void DoRead() {
    if (stopping_) return DoClose();
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
    Lowest(stream_).expires_after(first_request_ ? server_.options_.read_timeout
                                                 : server_.options_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t bytes) {
    first_request_ = false;
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset || ec == net::error::eof) {
      return DoClose();
    }
    if (ec == http::error::body_limit) {
      return RespondToBrokenRequest(
          Status(StatusCode::kPayloadTooLarge,
                 "request body exceeds the limit of " +
                     std::to_string(server_.options_.max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return RespondToBrokenRequest(InvalidArgument("request headers are too large"));
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_method).category() || bytes > 0) {
        return RespondToBrokenRequest(InvalidArgument("malformed HTTP request: " + ec.message()));
      }
      return DoClose();
    }
    busy_ = true;
    started_ = std::chrono::steady_clock::now();
    http::request<http::string_body> beast_request = parser_->release();
    request_ = HttpRequest{};
    request_.method = std::string(beast_request.method_string());
    request_.target = std::string(beast_request.target());
    request_.remote_address = remote_;
    for (const auto& field : beast_request) {
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_.body = std::move(beast_request.body());
    record_ = ExchangeRecord{};
    record_.method = request_.method;
    record_.bytes_in = request_.body.size();
    record_.remote_address = remote_;
    bool client_keep_alive = beast_request.keep_alive();
    unsigned version = beast_request.version();
    HttpOutcome outcome = server_.handler_(request_, record_.info);
    if (!outcome.deferred()) return Reply(std::move(outcome.response), client_keep_alive, version);
    // Work that may block runs on the blocking pool; the session waits (busy, no read pending)
    // and writes the answer back on its own I/O context.
    server_.deferred_.fetch_add(1);
    net::post(server_.blocking_pool_, [self = this->shared_from_this(), work = std::move(outcome.blocking),
                                       client_keep_alive, version]() mutable {
      HttpResponse response = work(self->request_, self->record_.info);
      self->server_.deferred_.fetch_sub(1);
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), response = std::move(response), client_keep_alive,
                           version]() mutable {
        self->Reply(std::move(response), client_keep_alive, version);
      });
    });
  }

  void Reply(HttpResponse response, bool client_keep_alive, unsigned version) {
    bool keep_alive = client_keep_alive && !stopping_ && !server_.stopping_;
    Send(std::move(response), keep_alive, version);
  }

  // The request could not be read whole: answer once, then close (the stream is out of sync).
  void RespondToBrokenRequest(const Status& status) {
    busy_ = true;
    started_ = std::chrono::steady_clock::now();
    record_ = ExchangeRecord{};
    record_.method = "?";
    record_.remote_address = remote_;
    record_.info.route = "unparsed";
    Send(ErrorResponse(status), /*keep_alive=*/false, 11);
  }

  void Send(HttpResponse response, bool keep_alive, unsigned version) {
    auto out = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    out->set(http::field::server, "cephalgia");
    if (!response.content_type.empty()) out->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) out->set(name, value);
    out->body() = std::move(response.body);
    out->keep_alive(keep_alive);
    out->prepare_payload();
    record_.status = response.status;
    record_.bytes_out = out->body().size();
    Lowest(stream_).expires_after(server_.options_.write_timeout);
    http::async_write(stream_, *out,
                      [self = this->shared_from_this(), out, keep_alive](beast::error_code ec,
                                                                         std::size_t) {
                        self->OnWrite(keep_alive, ec);
                      });
  }

  void OnWrite(bool keep_alive, beast::error_code ec) {
    busy_ = false;
    record_.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started_);
    if (server_.observer_) server_.observer_(record_);
    request_ = HttpRequest{};  // an idle keep-alive connection holds no request body
    if (ec || !keep_alive || stopping_) return DoClose();
    DoRead();
  }

  void DoClose() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  HttpServer::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;  // the exchange in progress; deferred work reads it on the blocking pool
  std::string remote_;
  ExchangeRecord record_;
  std::chrono::steady_clock::time_point started_;
  bool first_request_ = true;
  bool busy_ = false;
  bool stopping_ = false;
};

}  // namespace

Status HttpServer::Impl::Listen() {
  beast::error_code ec;
  if (!options_.tls_certificate_file.empty() || !options_.tls_private_key_file.empty()) {
    if (options_.tls_certificate_file.empty() || options_.tls_private_key_file.empty()) {
      return InvalidArgument("TLS needs both a certificate (--tls-cert) and a key (--tls-key)");
    }
    tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::single_dh_use);
    tls_->use_certificate_chain_file(options_.tls_certificate_file, ec);
    if (ec) return InvalidArgument("cannot load TLS certificate " + options_.tls_certificate_file + ": " + ec.message());
    tls_->use_private_key_file(options_.tls_private_key_file, ssl::context::pem, ec);
    if (ec) return InvalidArgument("cannot load TLS key " + options_.tls_private_key_file + ": " + ec.message());
  }
  auto address = net::ip::make_address(options_.bind_address, ec);
  if (ec) return InvalidArgument("invalid bind address '" + options_.bind_address + "'");
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + options_.bind_address + ":" +
                       std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  DoAccept();
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  // The next connection lives on the next context in turn.
  net::io_context& target = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor_.async_accept(target.get_executor(), beast::bind_front_handler(&Impl::OnAccept, this));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, Socket socket) {
  if (stopping_) return;
  if (!ec) {
    if (connections_.load() >= options_.max_connections) {
      // Over the cap: refuse at once rather than queue work we cannot serve.
      socket.close(ec);
    } else {
      connections_.fetch_add(1);
      std::shared_ptr<SessionBase> session;
      if (tls_) {
        auto s = std::make_shared<Session<TlsStream>>(*this, std::move(socket), *tls_);
        s->Start();
        session = s;
      } else {
        auto s = std::make_shared<Session<PlainStream>>(*this, std::move(socket));
        s->Start();
        session = s;
      }
      Register(session);
    }
  }
  DoAccept();
}

void HttpServer::Impl::Register(const std::shared_ptr<SessionBase>& session) {
  std::lock_guard<std::mutex> lock(sessions_mutex_);
  // Drop entries of sessions that are gone, so the list stays as long as the live set.
  if (sessions_.size() > 64 && sessions_.size() > 2 * connections_.load()) {
    std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
  }
  sessions_.push_back(session);
  if (stopping_) session->Shutdown();
}

void HttpServer::Impl::SessionClosed() {
  if (connections_.fetch_sub(1) == 1 && stopping_) {
    net::post(control_, [this] { drain_timer_.cancel(); });
  }
}

void HttpServer::Impl::StopContexts() {
  for (auto& context : contexts_) context->stop();
}

void HttpServer::Impl::Stop() {
  if (stopping_.exchange(true)) return;
  net::post(control_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard<std::mutex> lock(sessions_mutex_);
      for (auto& w : sessions_) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->Shutdown();
    if (connections_.load() == 0) return;
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](beast::error_code wait_ec) {
      // Cancelled: the last connection closed. Expired: in-flight requests did not finish in time.
      if (!wait_ec) StopContexts();
    });
  });
}

void HttpServer::Impl::Run(bool handle_signals) {
  if (handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](beast::error_code ec, int) {
      if (!ec) Stop();
    });
  }
  for (auto& context : contexts_) work_guards_.emplace_back(context->get_executor());
  std::vector<std::thread> threads;
  for (auto& context : contexts_) threads.emplace_back([c = context.get()] { c->run(); });
  // Returns once Stop() has closed the acceptor and every connection closed (or the drain timed
  // out, in which case the drain timer has stopped the I/O contexts already).
  control_.run();
  work_guards_.clear();  // each I/O context's run() returns once its connections are gone
  for (auto& t : threads) t.join();
  blocking_pool_.join();  // deferred work still running finishes (bounded by its own deadline)
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler, ExchangeObserver observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(observer))) {}
HttpServer::~HttpServer() = default;
Status HttpServer::Listen() { return impl_->Listen(); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::Run(bool handle_signals) { impl_->Run(handle_signals); }
void HttpServer::Stop() { impl_->Stop(); }
std::size_t HttpServer::open_connections() const { return impl_->connections_.load(); }
std::size_t HttpServer::deferred_in_progress() const { return impl_->deferred_.load(); }

}  // namespace cephalgia::hooks
