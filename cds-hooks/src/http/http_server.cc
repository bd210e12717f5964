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

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "response_head.h"

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

// A request body read into a std::string by appending. Beast's string_body grows its string
// with resize() before copying into it, so every body byte was first zeroed and then written:
// a memset of the whole body per request (8k of case 217's instructions). Appending writes each
// byte once. The size limit stays with the parser (body_limit); the reserve is what
// Content-Length announces, which the parser has already held to that limit.
struct AppendedStringBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(http::header<kIsRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      if (length) {
        if (*length > body_.max_size()) {
          ec = http::error::buffer_overflow;
          return;
        }
        body_.reserve(static_cast<std::size_t>(*length));
      }
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      std::size_t added = 0;
      for (net::const_buffer piece : beast::buffers_range_ref(buffers)) {
        if (piece.size() > body_.max_size() - body_.size()) {
          ec = http::error::buffer_overflow;
          return added;
        }
        body_.append(static_cast<const char*>(piece.data()), piece.size());
        added += piece.size();
      }
      ec = {};
      return added;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

std::int64_t SteadyNowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Lets the server ask every live session to wind down, and find the one idle the longest.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Shutdown() = 0;
  // Closes the connection if it is still idle (the caller has claimed it; see Claim).
  virtual void Evict() = 0;
  // When the connection became idle (waiting for a request, or lingering), in steady-clock
  // nanoseconds; 0 while it is not idle or once it has been claimed for eviction.
  std::int64_t idle_since() const { return idle_since_.load(std::memory_order_acquire); }
  // Claims an idle connection for eviction; false when it stopped being idle meanwhile. The
  // session, leaving an idle state, does the same exchange: whoever takes the stamp decides.
  bool Claim(std::int64_t seen) {
    return seen != 0 && idle_since_.compare_exchange_strong(seen, 0, std::memory_order_acq_rel);
  }

 protected:
  std::atomic<std::int64_t> idle_since_{0};
};

// At most one log line per key per interval; the lines not written are counted and reported on
// the next one, so a flood of refusals costs a counter increment, not a write each.
class LogLimiter {
 public:
  // Returns how many lines were suppressed since the last one, or -1 when this one must not be
  // written either.
  long long Admit(std::string_view key, std::chrono::milliseconds interval) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    auto [it, inserted] = entries_.try_emplace(std::string(key));
    Entry& e = it->second;
    if (!inserted && now - e.last < interval) {
      ++e.suppressed;
      return -1;
    }
    long long suppressed = e.suppressed;
    e.last = now;
    e.suppressed = 0;
    return suppressed;
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last{};
    long long suppressed = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // keys are fixed reason labels: bounded
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
        drain_timer_(control_),
        accept_timer_(control_),
        shutdown_delay_timer_(control_) {}
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
  void OnAcceptShortage(const beast::error_code& ec);
  // Closes up to `count` connections, those idle the longest; returns how many.
  std::size_t EvictOldestIdle(std::size_t count);
  void Register(const std::shared_ptr<SessionBase>& session);
  void SessionClosed(const std::string& address);
  void StopContexts();
  // A refusal: counted always, logged at most once per interval per reason.
  void Refused(std::string_view reason, const std::string& message,
               std::string_view event = "connection_refused");
  void LogLimited(std::string_view key, std::string_view event, const std::string& message);

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
  net::steady_timer accept_timer_;          // the back-off after a failed accept (EMFILE)
  net::steady_timer shutdown_delay_timer_;  // from the stop signal to Stop() (shutdown_delay)
  std::chrono::milliseconds accept_backoff_{0};
  bool accept_paused_ = false;  // control context only
  long long accept_failures_ = 0;
  std::chrono::steady_clock::time_point accept_paused_at_;
  std::unique_ptr<ssl::context> tls_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> deferred_{0};
  std::mutex sessions_mutex_;
  std::vector<std::weak_ptr<SessionBase>> sessions_;
  std::mutex addresses_mutex_;
  std::unordered_map<std::string, std::size_t> connections_per_address_;
  LogLimiter log_limiter_;
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
  Session(HttpServer::Impl& server, Socket&& socket, std::string remote, Args&&... args)
      : server_(server),
        stream_(std::move(socket), std::forward<Args>(args)...),
        remote_(std::move(remote)) {
    // Idle (and so evictable) from the start: a connection that never sends is the cheapest
    // one to give up when the cap is reached.
    idle_since_.store(SteadyNowNanos(), std::memory_order_release);
    header_deadline_ = std::chrono::steady_clock::now() + server_.options_.header_timeout;
  }
  ~Session() override { server_.SessionClosed(remote_); }

  void Start() {
    // Run on the connection's own io_context: one thread runs it, so every handler of this
    // session is serialised there.
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::OnStart, this->shared_from_this()));
  }

  void Shutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      // A connection waiting for a request, or lingering, is closed now; a busy one closes after
      // its response.
      if (self->waiting_ || self->lingering_) self->CancelIo();
    });
  }

  void Evict() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->waiting_ || self->lingering_) self->CancelIo();
    });
  }

 private:
  void CancelIo() {
    beast::error_code ec;
    Lowest(stream_).socket().cancel(ec);
  }

  // Leaving an idle state: false when the server has claimed this connection for eviction.
  bool LeaveIdle() { return idle_since_.exchange(0, std::memory_order_acq_rel) != 0; }

  void OnStart() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest(stream_).expires_at(header_deadline_);
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      WaitForRequest();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // a failed TLS handshake just drops the connection
    WaitForRequest();
  }

  // Waits, idle, for the first byte of the next request: within the header deadline on a new
  // connection, within the idle timeout on a keep-alive one.
  void WaitForRequest() {
    if (stopping_) return DoClose();
    if (buffer_.size() > 0) {  // a pipelined request is already here
      header_deadline_ = std::chrono::steady_clock::now() + server_.options_.header_timeout;
      return ReadHeader();
    }
    if (!first_request_) {
      buffer_.shrink_to_fit();  // an idle connection holds no request-sized buffer
      idle_since_.store(SteadyNowNanos(), std::memory_order_release);
      Lowest(stream_).expires_after(server_.options_.idle_timeout);
    } else {
      Lowest(stream_).expires_at(header_deadline_);
    }
    waiting_ = true;
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        beast::bind_front_handler(&Session::OnFirstBytes, this->shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, std::size_t bytes) {
    waiting_ = false;
    bool claimed = !LeaveIdle();
    if (ec == beast::error::timeout && first_request_) {
      server_.Refused("header_timeout",
                      "no request header from " + remote_ + " within " +
                          std::to_string(server_.options_.header_timeout.count()) +
                          " ms of connecting; connection closed",
                      "connection_timed_out");
    }
    if (ec || claimed || stopping_) return DoClose();
    buffer_.commit(bytes);
    if (!first_request_) {
      header_deadline_ = std::chrono::steady_clock::now() + server_.options_.header_timeout;
    }
    ReadHeader();
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
    Lowest(stream_).expires_at(header_deadline_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t bytes) {
    first_request_ = false;
    if (ec) return OnReadError(ec, bytes, "header_timeout");
    const auto& header = parser_->get();
    std::size_t fields = static_cast<std::size_t>(std::distance(header.begin(), header.end()));
    if (fields > server_.options_.max_header_fields) {
      return Refuse(431, InvalidArgument("request has more than " +
                                         std::to_string(server_.options_.max_header_fields) +
                                         " header fields"));
    }
    if (parser_->is_done()) return OnRequest();
    if (beast::iequals(header[http::field::expect], "100-continue") && header.version() >= 11) {
      // A client that asks first (curl does above 1 MiB) sends its body only when told to.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      Lowest(stream_).expires_after(server_.options_.write_timeout);
      return http::async_write(
          stream_, *cont,
          [self = this->shared_from_this(), cont](beast::error_code wec, std::size_t) {
            if (wec) return self->DoClose();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  void ReadBody() {
    // Room for what Content-Length still announces, up to 64 KiB: with a full buffer Beast reads
    // 512 bytes, then what the grown buffer holds, so a 9.6 KB body took three to five reads.
    if (const auto length = parser_->content_length(); length && *length > buffer_.size()) {
      const std::uint64_t remaining = *length - buffer_.size();
      buffer_.reserve(buffer_.size() +
                      static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 64 * 1024)));
    }
    Lowest(stream_).expires_after(server_.options_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t bytes) {
    if (ec) return OnReadError(ec, bytes, "body_timeout");
    OnRequest();
  }

  void OnReadError(beast::error_code ec, std::size_t bytes, std::string_view timeout_reason) {
    if (ec == beast::error::timeout) {
      server_.Refused(
          timeout_reason,
          std::string(timeout_reason == "header_timeout" ? "request header" : "request body") +
              " from " + remote_ + " not complete in time; connection closed",
          "connection_timed_out");
      return DoClose();
    }
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      return DoClose();
    }
    if (ec == http::error::body_limit) {
      return Refuse(413, Status(StatusCode::kPayloadTooLarge,
                                "request body exceeds the limit of " +
                                    std::to_string(server_.options_.max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return Refuse(431,
                    InvalidArgument("request header exceeds the limit of " +
                                    std::to_string(server_.options_.max_header_bytes) + " bytes"));
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category() || bytes > 0) {
      // Beast's messages are fixed phrases ("bad chunk", "bad Content-Length"): no client bytes.
      return Refuse(400, InvalidArgument("malformed HTTP request: " + ec.message()));
    }
    DoClose();
  }

  void OnRequest() {
    started_ = std::chrono::steady_clock::now();
    http::request<AppendedStringBody> beast_request = parser_->release();
    parser_.reset();
    request_ = HttpRequest{};
    request_.method = std::string(beast_request.method_string());
    request_.target = std::string(beast_request.target());
    request_.remote_address = remote_;
    for (const auto& field : beast_request) {
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_.body = std::move(beast_request.body());
    record_ = ExchangeRecord{};
    record_.tag =
        server_.handler_.new_tag ? server_.handler_.new_tag() : std::make_unique<ExchangeTag>();
    record_.method = request_.method;
    record_.bytes_in = request_.body.size();
    record_.remote_address = remote_;
    head_request_ = beast_request.method() == http::verb::head;
    bool client_keep_alive = beast_request.keep_alive();
    unsigned version = beast_request.version();
    if (request_.body.size() >= server_.options_.offload_body_bytes) {
      // Parsing and evaluating a body this large takes long enough (a Bundle of a million
      // entries: about a second) to stall every other connection of this I/O thread: the whole
      // exchange runs on the blocking pool instead.
      server_.deferred_.fetch_add(1);
      return net::post(server_.blocking_pool_, [self = this->shared_from_this(), client_keep_alive,
                                                version]() mutable {
        HttpOutcome outcome = self->server_.handler_.handle(self->request_, *self->record_.tag);
        HttpResponse response = outcome.deferred()
                                    ? outcome.blocking(self->request_, *self->record_.tag)
                                    : std::move(outcome.response);
        Session::ReplyFromPool(std::move(self), std::move(response), client_keep_alive, version);
      });
    }
    HttpOutcome outcome = server_.handler_.handle(request_, *record_.tag);
    if (!outcome.deferred()) return Reply(std::move(outcome.response), client_keep_alive, version);
    // Work that may block runs on the blocking pool; the session waits (busy, no read pending)
    // and writes the answer back on its own I/O context.
    server_.deferred_.fetch_add(1);
    net::post(server_.blocking_pool_, [self = this->shared_from_this(),
                                       work = std::move(outcome.blocking), client_keep_alive,
                                       version]() mutable {
      HttpResponse response = work(self->request_, *self->record_.tag);
      Session::ReplyFromPool(std::move(self), std::move(response), client_keep_alive, version);
    });
  }

  // On the blocking pool: hand the answer back to the connection's own I/O context.
  static void ReplyFromPool(std::shared_ptr<Session> self, HttpResponse response,
                            bool client_keep_alive, unsigned version) {
    self->server_.deferred_.fetch_sub(1);
    auto executor = self->stream_.get_executor();
    net::post(executor, [self = std::move(self), response = std::move(response), client_keep_alive,
                         version]() mutable {
      self->Reply(std::move(response), client_keep_alive, version);
    });
  }

  void Reply(HttpResponse response, bool client_keep_alive, unsigned version) {
    bool keep_alive = client_keep_alive && !stopping_ && !server_.stopping_;
    Send(std::move(response), keep_alive, version);
  }

  // The request could not be read whole (or is refused before its body is read): answer once,
  // then close with a lingering close (the stream is out of sync, and the client may still be
  // sending its body).
  void Refuse(int http_status, const Status& status) {
    started_ = std::chrono::steady_clock::now();
    head_request_ = false;
    record_ = ExchangeRecord{};
    record_.method = "?";
    record_.remote_address = remote_;
    record_.refusal = status.message();
    HttpResponse response = ErrorResponse(status);
    response.status = http_status;
    Send(std::move(response), /*keep_alive=*/false, 11);
  }

  // The response and its head, kept alive together until the write ends. The body is written
  // from where it lies (an external body, such as a rule pack's buffer, is not copied).
  struct Outgoing {
    explicit Outgoing(HttpResponse r) : response(std::move(r)) {}
    HttpResponse response;
    std::string head;
  };

  void Send(HttpResponse response, bool keep_alive, unsigned version) {
    auto out = std::make_shared<Outgoing>(std::move(response));
    std::string_view body = out->response.Body();
    if (!StatusAllowsBody(out->response.status)) body = {};
    out->head = ResponseHead(out->response, version, keep_alive, body.size());
    // The answer to HEAD is the head of the answer to GET, Content-Length included, and no body
    // (RFC 9110 9.3.2): body bytes would be read as the start of the next response.
    if (head_request_) body = {};
    record_.status = out->response.status;
    record_.bytes_out = body.size();
    Lowest(stream_).expires_after(server_.options_.write_timeout);
    // Two plain buffers: Beast's serializer cost about 15k instructions per response.
    const std::array<net::const_buffer, 2> buffers{net::buffer(out->head),
                                                   net::buffer(body.data(), body.size())};
    net::async_write(stream_, buffers,
                     [self = this->shared_from_this(), out, keep_alive](
                         beast::error_code ec, std::size_t) { self->OnWrite(keep_alive, ec); });
  }

  void OnWrite(bool keep_alive, beast::error_code ec) {
    record_.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started_);
    if (server_.observer_) server_.observer_(record_);
    request_ = HttpRequest{};  // an idle keep-alive connection holds no request body
    if (ec) return DoClose();
    if (!keep_alive) return LingeringClose();
    WaitForRequest();  // closes at once when stopping
  }

  // After the last response: half-close, then read and discard what the client still sends
  // (bounded in time and bytes) until it closes, so the kernel never answers unread bytes with
  // a reset that would destroy the response in the client's receive buffer (nginx's
  // lingering_close). The session ends when the reading stops; the socket is closed then.
  void LingeringClose() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return DoClose();  // TLS: close_notify; clients of the TLS port read before they write on
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec || stopping_) return;
      lingering_ = true;
      idle_since_.store(SteadyNowNanos(), std::memory_order_release);  // evictable
      Lowest(stream_).expires_after(server_.options_.linger_timeout);
      DoLingerRead();
    }
  }

  void DoLingerRead() {
    buffer_.clear();
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        beast::bind_front_handler(&Session::OnLingerRead, this->shared_from_this()));
  }

  void OnLingerRead(beast::error_code ec, std::size_t bytes) {
    lingered_bytes_ += bytes;
    if (ec || stopping_ || lingered_bytes_ >= server_.options_.linger_max_bytes) {
      lingering_ = false;
      LeaveIdle();
      return;  // the last handler: the session and its socket go away
    }
    DoLingerRead();
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

  static constexpr std::size_t kReadChunk = 4096;

  HttpServer::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<AppendedStringBody>> parser_;
  HttpRequest request_;  // the exchange in progress; deferred work reads it on the blocking pool
  std::string remote_;
  ExchangeRecord record_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point header_deadline_;
  std::size_t lingered_bytes_ = 0;
  bool first_request_ = true;
  bool head_request_ = false;  // the exchange being answered is a HEAD: its body is not sent
  bool waiting_ = false;       // waiting for a request's first byte
  bool lingering_ = false;     // discarding after the last response
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
    if (ec)
      return InvalidArgument("cannot load TLS certificate " + options_.tls_certificate_file + ": " +
                             ec.message());
    tls_->use_private_key_file(options_.tls_private_key_file, ssl::context::pem, ec);
    if (ec)
      return InvalidArgument("cannot load TLS key " + options_.tls_private_key_file + ": " +
                             ec.message());
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

namespace {

// accept() failed for want of descriptors or kernel memory: retrying at once fails again.
bool IsResourceShortage(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
         ec == net::error::no_buffer_space || ec == net::error::no_memory;
}

}  // namespace

void HttpServer::Impl::OnAccept(beast::error_code ec, Socket socket) {
  if (stopping_) return;
  if (ec) {
    if (IsResourceShortage(ec)) return OnAcceptShortage(ec);
    return DoAccept();  // e.g. the peer gave up before we took it (ECONNABORTED): next one
  }
  if (accept_paused_) {
    accept_paused_ = false;
    auto paused_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - accept_paused_at_);
    LogLimited("accept_resumed", "accept_resumed",
               "accepting again after " + std::to_string(accept_failures_) +
                   " failed accepts over " + std::to_string(paused_ms.count()) + " ms");
    accept_failures_ = 0;
  }
  accept_backoff_ = std::chrono::milliseconds(0);
  beast::error_code endpoint_ec;
  auto endpoint = socket.remote_endpoint(endpoint_ec);
  if (endpoint_ec) return DoAccept();  // already gone
  std::string address = endpoint.address().to_string();
  bool exempt = endpoint.address().is_loopback() && !options_.limit_loopback_connections;
  {
    std::lock_guard<std::mutex> lock(addresses_mutex_);
    std::size_t& count = connections_per_address_[address];
    if (options_.max_connections_per_address > 0 && !exempt &&
        count >= options_.max_connections_per_address) {
      Refused("per_address_limit", "connection from " + address + " refused: it has " +
                                       std::to_string(options_.max_connections_per_address) +
                                       " open connections, the per-address limit");
      socket.close(ec);  // after the count and log line, which a test may read at once
      return DoAccept();
    }
    ++count;  // given back by SessionClosed, or just below on refusal
  }
  // At the cap, the connection idle the longest makes room; refused only when none is idle.
  // (Its close is asynchronous, so the count may pass the cap by the evictions in flight.)
  if (connections_.load() >= options_.max_connections && EvictOldestIdle(1) == 0) {
    {
      std::lock_guard<std::mutex> lock(addresses_mutex_);
      auto it = connections_per_address_.find(address);
      if (it != connections_per_address_.end() && --it->second == 0)
        connections_per_address_.erase(it);
    }
    Refused("global_limit", "connection from " + address +
                                " refused: " + std::to_string(options_.max_connections) +
                                " connections open (--max-connections), none idle");
    socket.close(ec);
    return DoAccept();
  }
  connections_.fetch_add(1);
  std::shared_ptr<SessionBase> session;
  if (tls_) {
    auto s =
        std::make_shared<Session<TlsStream>>(*this, std::move(socket), std::move(address), *tls_);
    s->Start();
    session = s;
  } else {
    auto s = std::make_shared<Session<PlainStream>>(*this, std::move(socket), std::move(address));
    s->Start();
    session = s;
  }
  Register(session);
  DoAccept();
}

constexpr std::size_t kEvictOnShortage = 16;

// Out of descriptors: spinning on accept() would burn a core and log nothing. Close the
// connections idle the longest (descriptors for the clients waiting in the backlog) and try again
// after a pause that doubles from 50 ms to 1 s; one log line per episode (rate-limited).
void HttpServer::Impl::OnAcceptShortage(const beast::error_code& ec) {
  ++accept_failures_;
  if (!accept_paused_) {
    accept_paused_ = true;
    accept_paused_at_ = std::chrono::steady_clock::now();
    LogLimited("accept_paused", "accept_paused",
               "accept failed: " + ec.message() + " (" + std::to_string(connections_.load()) +
                   " connections open); closing the connections idle the longest and retrying "
                   "after a pause of 50 ms to 1 s");
  }
  if (options_.on_refused) options_.on_refused("descriptors");
  // Several at once (as nginx drains reusable connections): each accept that follows needs one.
  EvictOldestIdle(kEvictOnShortage);
  accept_backoff_ = accept_backoff_.count() == 0
                        ? std::chrono::milliseconds(50)
                        : std::min(accept_backoff_ * 2, std::chrono::milliseconds(1000));
  accept_timer_.expires_after(accept_backoff_);
  accept_timer_.async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec && !stopping_) DoAccept();
  });
}

std::size_t HttpServer::Impl::EvictOldestIdle(std::size_t count) {
  std::vector<std::pair<std::int64_t, std::shared_ptr<SessionBase>>> idle;
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    for (const auto& weak : sessions_) {
      auto session = weak.lock();
      if (!session) continue;
      if (std::int64_t since = session->idle_since(); since != 0)
        idle.emplace_back(since, std::move(session));
    }
  }
  count = std::min(count, idle.size());
  std::partial_sort(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(count), idle.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t evicted = 0;
  // A session may stop being idle between the scan and the claim: then it is skipped.
  for (std::size_t i = 0; i < count; ++i) {
    if (!idle[i].second->Claim(idle[i].first)) continue;
    idle[i].second->Evict();
    if (options_.on_evicted) options_.on_evicted();
    ++evicted;
  }
  return evicted;
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

void HttpServer::Impl::SessionClosed(const std::string& address) {
  {
    std::lock_guard<std::mutex> lock(addresses_mutex_);
    auto it = connections_per_address_.find(address);
    if (it != connections_per_address_.end() && --it->second == 0)
      connections_per_address_.erase(it);
  }
  if (connections_.fetch_sub(1) == 1 && stopping_) {
    net::post(control_, [this] { drain_timer_.cancel(); });
  }
}

void HttpServer::Impl::Refused(std::string_view reason, const std::string& message,
                               std::string_view event) {
  if (options_.on_refused) options_.on_refused(reason);
  LogLimited(reason, event, message);
}

void HttpServer::Impl::LogLimited(std::string_view key, std::string_view event,
                                  const std::string& message) {
  if (!options_.log) return;
  long long suppressed = log_limiter_.Admit(key, options_.refusal_log_interval);
  if (suppressed < 0) return;
  std::string line = "reason=" + std::string(key) + ": " + message;
  if (suppressed > 0)
    line += " (and " + std::to_string(suppressed) + " more since the last such line)";
  options_.log(event, line);
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
    accept_timer_.cancel();
    shutdown_delay_timer_.cancel();
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
      if (ec) return;
      if (options_.on_stop_signal) options_.on_stop_signal();
      if (options_.shutdown_delay.count() <= 0) {
        Stop();
        return;
      }
      // Serve on (readiness now failing) for the delay; a second signal stops at once.
      shutdown_delay_timer_.expires_after(options_.shutdown_delay);
      shutdown_delay_timer_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Stop();
      });
      signals_.async_wait([this](beast::error_code again_ec, int) {
        if (!again_ec) Stop();
      });
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
