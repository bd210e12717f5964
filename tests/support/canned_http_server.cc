// A tiny HTTP/1.1 listener for tests; see canned_http_server.h.
#include "canned_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace cephalgia::test {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away (e.g. it aborted an oversized transfer)
    off += static_cast<size_t>(n);
  }
}

}  // namespace

int UnusedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

CannedHttpServer::CannedHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket() failed");
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0) {
    close(listen_fd_);
    throw std::runtime_error("bind/listen on 127.0.0.1 failed");
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

CannedHttpServer::~CannedHttpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
}

std::vector<CannedHttpServer::Request> CannedHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void CannedHttpServer::Serve() {
  while (!stop_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    HandleConnection(fd);
    close(fd);
  }
}

void CannedHttpServer::HandleConnection(int fd) {
  // Read the request head (GET requests carry no body).
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 64 * 1024 && !stop_) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 20) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
    // Not HTTP (e.g. a TLS ClientHello): answer in plain HTTP at once, as a misconfigured
    // server would, instead of waiting for a request head that never comes.
    if (!std::isupper(static_cast<unsigned char>(head[0]))) break;
  }
  Request req;
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  {
    std::istringstream first(line);
    first >> req.method >> req.target;
  }
  while (std::getline(in, line) && line != "\r" && !line.empty()) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    req.headers[name] = value;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(req);
  }
  Response resp = handler_(req);
  if (resp.drop) return;
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
  out += "Content-Type: " + resp.content_type + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : resp.headers) out += name + ": " + value + "\r\n";
  if (resp.chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
    WriteAll(fd, out);
    const size_t kChunk = 64 * 1024;
    for (size_t off = 0; off < resp.body.size(); off += kChunk) {
      std::string part = resp.body.substr(off, kChunk);
      char size_line[32];
      std::snprintf(size_line, sizeof(size_line), "%zx\r\n", part.size());
      WriteAll(fd, size_line + part + "\r\n");
    }
    WriteAll(fd, "0\r\n\r\n");
  } else {
    out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n\r\n";
    WriteAll(fd, out);
    WriteAll(fd, resp.body);
  }
}

}  // namespace cephalgia::test
