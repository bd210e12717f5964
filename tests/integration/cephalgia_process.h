// File: cephalgia_process.h
//
// Runs the real `cephalgia` binary for integration tests: `serve` as a child process on a free
// port (read from its "listening" log line), or `evaluate` with stdin/stdout captured. Children
// are ended by their own pid only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cephalgia/status.h"

namespace cephalgia::test {

// The built binary and pack directory of this build tree.
std::string CephalgiaBinary();
std::string BuiltPackDir();

class CephalgiaServer {
 public:
  // Starts `cephalgia serve --port 0 <args...>` and waits (up to `timeout`) for its port.
  static Result<std::unique_ptr<CephalgiaServer>> Start(
      const std::vector<std::string>& args,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));
  ~CephalgiaServer();  // SIGTERM, then SIGKILL after 5 s; always reaped

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Everything the server has written to stderr so far (log lines).
  std::string Log() const;
  // The log once it contains `text` (access lines are written after a response is sent, which
  // can be just after the client has it), or the log as it is after `timeout`.
  std::string WaitForLog(const std::string& text,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const;
  // Sends `signal` and waits for the exit; returns the exit status (or 128+signal).
  int StopWith(int signal);

 private:
  CephalgiaServer(pid_t pid, int port, std::string log_path)
      : pid_(pid), port_(port), log_path_(std::move(log_path)) {}
  pid_t pid_;
  int port_;
  std::string log_path_;
  bool exited_ = false;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `cephalgia <args...>` with `stdin_data` on its stdin, and collects its output.
ProcessResult RunCephalgia(const std::vector<std::string>& args, const std::string& stdin_data = "");

struct HttpResult {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string Header(const std::string& name) const;
};

// One HTTP exchange with libcurl. `method` GET/POST/OPTIONS.
HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body = "",
                    const std::vector<std::string>& headers = {});

std::string ReadFile(const std::string& path);

}  // namespace cephalgia::test
