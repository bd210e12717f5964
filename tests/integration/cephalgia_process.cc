#include "cephalgia_process.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace cephalgia::test {
namespace {

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

bool WaitExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t AppendHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    static_cast<std::vector<std::pair<std::string, std::string>>*>(out)->emplace_back(
        line.substr(0, colon), value);
  }
  return size * n;
}

}  // namespace

std::string CephalgiaBinary() { return std::string(CEPHALGIA_BINARY_DIR) + "/bin/cephalgia"; }
std::string BuiltPackDir() { return CEPHALGIA_PACK_DIR; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<CephalgiaServer>> CephalgiaServer::Start(const std::vector<std::string>& args,
                                                                std::chrono::milliseconds timeout) {
  char log_template[] = "/tmp/cephalgia-serve-XXXXXX";
  int log_fd = ::mkstemp(log_template);
  if (log_fd < 0) return Internal("mkstemp failed");
  std::vector<std::string> argv_strings = {CephalgiaBinary(), "serve", "--port", "0",
                                           "--threads", "2"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid < 0) return Internal("fork failed");
  if (pid == 0) {
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    auto argv = Argv(argv_strings);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  std::unique_ptr<CephalgiaServer> server(new CephalgiaServer(pid, 0, log_template));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = server->Log();
    auto at = log.find("\"event\":\"listening\"");
    if (at != std::string::npos) {
      auto colon = log.find("127.0.0.1:", at);
      if (colon != std::string::npos) {
        server->port_ = std::atoi(log.c_str() + colon + 10);
        return server;
      }
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      server->exited_ = true;
      return Internal("cephalgia serve exited during start-up: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Internal("cephalgia serve did not report its port in time: " + server->Log());
}

CephalgiaServer::~CephalgiaServer() {
  if (!exited_) StopWith(SIGTERM);
  ::unlink(log_path_.c_str());
}

std::string CephalgiaServer::Log() const { return ReadFile(log_path_); }

std::string CephalgiaServer::WaitForLog(const std::string& text,
                                        std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string log = Log();
  while (log.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log = Log();
  }
  return log;
}

int CephalgiaServer::StopWith(int signal) {
  if (exited_) return -1;
  ::kill(pid_, signal);
  int status = 0;
  if (!WaitExit(pid_, std::chrono::seconds(5), &status)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  exited_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

ProcessResult RunCephalgia(const std::vector<std::string>& args, const std::string& stdin_data) {
  ProcessResult result;
  char out_template[] = "/tmp/cephalgia-out-XXXXXX";
  char err_template[] = "/tmp/cephalgia-err-XXXXXX";
  int out_fd = ::mkstemp(out_template);
  int err_fd = ::mkstemp(err_template);
  int in_pipe[2];
  if (out_fd < 0 || err_fd < 0 || ::pipe(in_pipe) != 0) return result;
  std::vector<std::string> argv_strings = {CephalgiaBinary()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::close(in_pipe[1]);
    auto argv = Argv(argv_strings);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  std::size_t written = 0;
  while (written < stdin_data.size()) {
    ssize_t n = ::write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  ::close(in_pipe[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_template);
  result.err = ReadFile(err_template);
  ::close(out_fd);
  ::close(err_fd);
  ::unlink(out_template);
  ::unlink(err_template);
  return result;
}

std::string HttpResult::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers) {
  HttpResult r;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (method == "POST") {
    list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace cephalgia::test
