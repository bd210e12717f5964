// The Beast transport over real sockets on 127.0.0.1 (port 0), called with libcurl.
#include "cephalgia/hooks/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace cephalgia::hooks {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct CurlResult {
  long status = 0;
  std::string body;
  std::string content_type;
  long new_connections = 0;
  CURLcode code = CURLE_OK;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

CurlResult Call(CURL* curl, const std::string& url, const std::string* post_body = nullptr) {
  CurlResult r;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  if (post_body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  r.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  char* ct = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
  if (ct != nullptr) r.content_type = ct;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &r.new_connections);
  return r;
}

// One GET on a fresh connection from a thread of its own; `out` is filled before it ends.
std::thread CallInBackground(std::string url, CurlResult& out) {
  return std::thread([url = std::move(url), &out] {
    CURL* c = curl_easy_init();
    out = Call(c, url);
    curl_easy_cleanup(c);
  });
}

// Runs an HttpServer on its own thread for one test.
class RunningServer {
 public:
  RunningServer(HttpServerOptions options, RequestHandler handler)
      : server_(std::move(options), std::move(handler)) {
    Status s = server_.Listen();
    EXPECT_TRUE(s.ok()) << s.ToString();
    thread_ = std::thread([this] { server_.Run(false); });
  }
  ~RunningServer() {
    server_.Stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const std::string& path, const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(server_.port()) + path;
  }
  HttpServer& server() { return server_; }
  std::thread& thread() { return thread_; }

 private:
  HttpServer server_;
  std::thread thread_;
};

HttpResponse EchoHandler(const HttpRequest& request, CallInfo& info) {
  info.route = "echo";
  HttpResponse r;
  r.body = R"({"method":")" + request.method + R"(","bytes":)" + std::to_string(request.body.size()) + "}";
  return r;
}

int ConnectRaw(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

HttpServerOptions TestOptions() {
  HttpServerOptions o;
  o.port = 0;
  o.threads = 2;
  o.max_body_bytes = 1024;
  return o;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { curl_ = curl_easy_init(); }
  void TearDown() override { curl_easy_cleanup(curl_); }
  CURL* curl_ = nullptr;
};

TEST_F(HttpServerTest, ServesJsonAndKeepsTheConnectionAlive) {
  RunningServer server(TestOptions(), EchoHandler);
  CurlResult first = Call(curl_, server.url("/x"));
  ASSERT_EQ(first.code, CURLE_OK);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, R"({"method":"GET","bytes":0})");
  EXPECT_THAT(first.content_type, HasSubstr("application/json"));
  CurlResult second = Call(curl_, server.url("/x"));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.new_connections, 0) << "the second request should reuse the connection";
}

TEST_F(HttpServerTest, A_BodyOverTheLimitGets413WithAJsonBody) {
  RunningServer server(TestOptions(), EchoHandler);
  std::string big(5000, 'x');
  CurlResult r = Call(curl_, server.url("/x"), &big);
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 1024 bytes"));
  EXPECT_THAT(r.body, HasSubstr("OperationOutcome"));
}

TEST_F(HttpServerTest, MalformedHttpGets400) {
  RunningServer server(TestOptions(), EchoHandler);
  int fd = ConnectRaw(server.server().port());
  ASSERT_GE(fd, 0);
  std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n";
  ASSERT_GT(::send(fd, garbage.data(), garbage.size(), 0), 0);
  std::string reply = ReadAll(fd);
  ::close(fd);
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(reply, HasSubstr("malformed HTTP request"));
}

TEST_F(HttpServerTest, AnIdleClientIsTimedOut) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = 1s;
  RunningServer server(options, EchoHandler);
  int fd = ConnectRaw(server.server().port());
  ASSERT_GE(fd, 0);
  std::string partial = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
  ::send(fd, partial.data(), partial.size(), 0);
  // The server closes the connection itself: recv returns 0 (or an error) within the 5 s
  // receive timeout, well before it, because the read timeout is 1 s.
  auto start = std::chrono::steady_clock::now();
  char buf[64];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  auto waited = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_LE(n, 0);
  EXPECT_LT(waited, 4s) << "the slow client was not cut off by the read timeout";
}

TEST_F(HttpServerTest, ConnectionsOverTheCapAreRefused) {
  HttpServerOptions options = TestOptions();
  options.max_connections = 1;
  RunningServer server(options, EchoHandler);
  int first = ConnectRaw(server.server().port());
  ASSERT_GE(first, 0);
  for (int i = 0; i < 50 && server.server().open_connections() < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server.server().open_connections(), 1u);
  int second = ConnectRaw(server.server().port());
  ASSERT_GE(second, 0);
  std::string req = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(second, req.data(), req.size(), MSG_NOSIGNAL);
  EXPECT_EQ(ReadAll(second), "") << "the connection over the cap must be closed unanswered";
  ::close(second);
  ::close(first);
}

TEST_F(HttpServerTest, StopFinishesTheInFlightRequestThenReturns) {
  std::atomic<bool> in_handler{false};
  RunningServer server(TestOptions(), [&](const HttpRequest& req, CallInfo& info) {
    in_handler = true;
    std::this_thread::sleep_for(500ms);  // a slow evaluation in flight during shutdown
    return EchoHandler(req, info);
  });
  CurlResult result;
  std::thread client = CallInBackground(server.url("/slow"), result);
  while (!in_handler) std::this_thread::sleep_for(5ms);
  server.server().Stop();
  client.join();
  EXPECT_EQ(result.status, 200) << "the in-flight request must complete during shutdown";
  server.thread().join();  // Run() returned: the server drained and stopped
  EXPECT_LT(ConnectRaw(server.server().port()), 0) << "no longer accepting";
}

// Each I/O thread runs its own io_context and connections are dealt out in turn: two slow
// requests on two connections run at the same time, on two different threads.
TEST_F(HttpServerTest, TwoConnectionsAreServedInParallelOnTwoThreads) {
  std::mutex mutex;
  std::set<std::thread::id> handler_threads;
  int inside = 0;
  int most_inside = 0;
  RunningServer server(TestOptions(), [&](const HttpRequest& req, CallInfo& info) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      most_inside = std::max(most_inside, ++inside);
      handler_threads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(300ms);
    {
      std::lock_guard<std::mutex> lock(mutex);
      --inside;
    }
    return EchoHandler(req, info);
  });
  CurlResult results[2];
  std::thread clients[2];
  for (int i = 0; i < 2; ++i) {
    clients[i] = CallInBackground(server.url("/slow"), results[i]);
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(results[0].status, 200);
  EXPECT_EQ(results[1].status, 200);
  EXPECT_EQ(most_inside, 2) << "the two requests were served one after the other";
  EXPECT_EQ(handler_threads.size(), 2u);
}

// Work the handler defers (a FHIR fetch, in the service) runs on the blocking pool: with a
// single I/O thread, a second connection is answered while the first one's work is blocked.
TEST_F(HttpServerTest, DeferredWorkDoesNotStallTheOtherConnectionsOfItsIoThread) {
  HttpServerOptions options = TestOptions();
  options.threads = 1;
  std::atomic<bool> blocked{false};
  std::atomic<bool> release{false};
  std::atomic<bool> slow_done{false};
  RunningServer server(options, [&](const HttpRequest& req, CallInfo& info) -> HttpOutcome {
    if (req.target != "/slow") return EchoHandler(req, info);
    return HttpOutcome([&](const HttpRequest& deferred_req, CallInfo& deferred_info) {
      blocked = true;
      for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(10ms);
      HttpResponse r = EchoHandler(deferred_req, deferred_info);
      r.body = "slow:" + deferred_req.method;  // the request object is still the client's
      slow_done = true;
      return r;
    });
  });
  CurlResult slow;
  std::thread client = CallInBackground(server.url("/slow"), slow);
  while (!blocked) std::this_thread::sleep_for(5ms);
  CurlResult fast = Call(curl_, server.url("/fast"));
  bool slow_still_blocked = !slow_done;  // the work waits (up to 5 s) for `release`
  EXPECT_EQ(server.server().deferred_in_progress(), 1u);
  release = true;
  client.join();
  EXPECT_EQ(fast.status, 200);
  EXPECT_TRUE(slow_still_blocked);
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, "slow:GET");
  EXPECT_EQ(server.server().deferred_in_progress(), 0u);
}

TEST_F(HttpServerTest, StopFinishesInFlightDeferredWorkThenReturns) {
  std::atomic<bool> in_work{false};
  RunningServer server(TestOptions(), [&](const HttpRequest&, CallInfo&) -> HttpOutcome {
    return HttpOutcome([&](const HttpRequest& req, CallInfo& info) {
      in_work = true;
      std::this_thread::sleep_for(500ms);
      return EchoHandler(req, info);
    });
  });
  CurlResult result;
  std::thread client = CallInBackground(server.url("/deferred"), result);
  while (!in_work) std::this_thread::sleep_for(5ms);
  server.server().Stop();
  client.join();
  EXPECT_EQ(result.status, 200) << "the deferred request must complete during shutdown";
  server.thread().join();
}

// Stop() reaches the connections of every I/O thread: idle keep-alive connections, spread over
// both threads, are closed at once and Run() returns long before the 10 s drain timeout.
TEST_F(HttpServerTest, StopClosesIdleConnectionsOnEveryThreadAndReturns) {
  RunningServer server(TestOptions(), EchoHandler);
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    int fd = ConnectRaw(server.server().port());
    ASSERT_GE(fd, 0);
    std::string req = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_GT(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), 0);
    char buf[512];
    ASSERT_GT(::recv(fd, buf, sizeof(buf), 0), 0) << "connection " << i << " got no answer";
    fds.push_back(fd);
  }
  ASSERT_EQ(server.server().open_connections(), 4u);
  auto start = std::chrono::steady_clock::now();
  server.server().Stop();
  server.thread().join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  for (int fd : fds) {
    char buf[64];
    EXPECT_LE(::recv(fd, buf, sizeof(buf), 0), 0) << "an idle connection was left open";
    ::close(fd);
  }
  EXPECT_EQ(server.server().open_connections(), 0u);
}

TEST_F(HttpServerTest, J93_ServesHttpsWithTheGivenCertificate) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("cephalgia-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                    "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert +
                    " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl (Debian package openssl) is needed";
  HttpServerOptions options = TestOptions();
  options.tls_certificate_file = cert;
  options.tls_private_key_file = key;
  RunningServer server(options, EchoHandler);
  curl_easy_setopt(curl_, CURLOPT_CAINFO, cert.c_str());  // verification stays on
  CurlResult r = Call(curl_, server.url("/x", "https"));
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  // Plain HTTP to the TLS port gets no HTTP answer.
  CURL* plain = curl_easy_init();
  CurlResult p = Call(plain, server.url("/x"));
  curl_easy_cleanup(plain);
  EXPECT_NE(p.status, 200);
  fs::remove_all(dir);
}

TEST_F(HttpServerTest, BadTlsFilesAreAStartupError) {
  HttpServerOptions options = TestOptions();
  options.tls_certificate_file = "/nonexistent/cert.pem";
  options.tls_private_key_file = "/nonexistent/key.pem";
  HttpServer server(options, EchoHandler);
  Status s = server.Listen();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/cert.pem"));
}

}  // namespace
}  // namespace cephalgia::hooks
