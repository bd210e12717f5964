// Starts and stops the test FHIR server; see fhir_test_server.h.
#include "fhir_test_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace cephalgia::test {
namespace {

bool IsExecutable(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// `node` on PATH, as the shell would find it; empty if there is none.
std::string NodeOnPath() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/node";
    if (IsExecutable(candidate)) return candidate;
  }
  return {};
}

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Waits for `pid` to exit for up to `timeout`; true if it was reaped.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Stops and reaps a child we spawned (by its pid only).
void StopChild(pid_t pid) {
  if (pid <= 0) return;
  int status = 0;
  kill(pid, SIGTERM);
  if (!WaitForExit(pid, std::chrono::seconds(3), &status)) {
    kill(pid, SIGKILL);
    WaitForExit(pid, std::chrono::seconds(5), &status);
  }
}

std::string DescribeExit(pid_t pid) {
  int status = 0;
  if (!WaitForExit(pid, std::chrono::milliseconds(500), &status)) return "still running";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

// What `node --version` prints ("v22.23.3"), or an error; bounded to 10 s.
Result<std::string> RunNodeVersion(const std::string& node) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Internal(ErrnoText("pipe2"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::string arg0 = node;
  std::string arg1 = "--version";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, node.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return Internal(std::string("cannot run it: ") + std::strerror(rc));
  }
  std::string text;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{out[0], POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    char buf[128];
    const ssize_t got = read(out[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0 || text.size() > 256) break;
    text.append(buf, static_cast<size_t>(got));
  }
  close(out[0]);
  StopChild(pid);  // reaps it; a node that hangs on --version is killed
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty() || text.front() != 'v')
    return Internal("`" + node + " --version` printed no version");
  return text;
}

// RunNodeVersion, once per path for the life of the test process.
Result<std::string> NodeVersion(const std::string& node) {
  static std::mutex mutex;
  static std::map<std::string, Result<std::string>> versions;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = versions.find(node);
  if (it == versions.end()) it = versions.emplace(node, RunNodeVersion(node)).first;
  return it->second;
}

}  // namespace

bool FhirTestServer::NodeVersionFits(std::string_view version) {
  if (!version.empty() && version.front() == 'v') version.remove_prefix(1);
  int major = -1;
  int minor = -1;
  const char* end = version.data() + version.size();
  auto [after_major, major_error] = std::from_chars(version.data(), end, major);
  if (major_error != std::errc() || after_major == end || *after_major != '.') return false;
  auto [after_minor, minor_error] = std::from_chars(after_major + 1, end, minor);
  if (minor_error != std::errc()) return false;
  return (major == 22 && minor >= 18) || (major == 24 && minor >= 2) || major > 24;
}

Result<std::string> FhirTestServer::FindNode() {
  const std::string wanted = "Node.js ^22.18.0 || >=24.2.0 (Medplum 5.2.13's engines)";
  auto describe = [](const std::string& node) {
    Result<std::string> version = NodeVersion(node);
    return version.ok() ? node + " is " + *version : node + ": " + version.status().message();
  };
  if (const char* chosen = std::getenv("CEPHALGIA_TEST_NODE"); chosen != nullptr && *chosen) {
    Result<std::string> version = NodeVersion(chosen);
    if (version.ok() && NodeVersionFits(*version)) return std::string(chosen);
    return FailedPrecondition("the test FHIR server needs " + wanted +
                              "; CEPHALGIA_TEST_NODE=" + describe(chosen));
  }
  std::string found;
  const std::string on_path = NodeOnPath();
  if (on_path.empty()) {
    found = "no node on PATH";
  } else {
    Result<std::string> version = NodeVersion(on_path);
    if (version.ok() && NodeVersionFits(*version)) return on_path;
    found = describe(on_path);
  }
  const std::string pinned = std::string(CEPHALGIA_TEST_NODE_PREFIX) + "/bin/node";
  if (IsExecutable(pinned)) {
    Result<std::string> version = NodeVersion(pinned);
    if (version.ok() && NodeVersionFits(*version)) return pinned;
    found += ", " + describe(pinned);
  } else {
    found += ", and the pinned Node is not installed";
  }
  return FailedPrecondition("the test FHIR server needs " + wanted + "; " + found +
                            ". Run: " + InstallCommand());
}

std::string FhirTestServerOptions::DefaultSamplesDir() {
  return std::string(CEPHALGIA_SHARED_DIR) + "/fhir-samples";
}

std::string FhirTestServer::ServerDir() {
  return std::string(CEPHALGIA_SOURCE_DIR) + "/tests/fhir-server";
}

std::string FhirTestServer::InstallCommand() { return "bash " + ServerDir() + "/install.sh"; }

FhirTestServer::FhirTestServer(pid_t pid, int stdin_fd, int port)
    : pid_(pid),
      stdin_fd_(stdin_fd),
      port_(port),
      base_url_("http://127.0.0.1:" + std::to_string(port) + "/fhir") {}

FhirTestServer::~FhirTestServer() {
  StopChild(pid_);
  if (stdin_fd_ >= 0) close(stdin_fd_);
}

Result<std::unique_ptr<FhirTestServer>> FhirTestServer::Start(
    const std::string& token, const FhirTestServerOptions& options) {
  Result<std::string> found_node = FindNode();
  if (!found_node.ok()) return found_node.status();
  const std::string node = *found_node;
  const std::string dir = ServerDir();
  if (!IsDirectory(dir + "/node_modules/@medplum/fhir-router")) {
    return FailedPrecondition("the test FHIR server's npm dependencies are not installed (" + dir +
                              "/node_modules is missing). Run: " + InstallCommand());
  }
  if (!options.samples_dir.empty() && !IsDirectory(options.samples_dir + "/synthea")) {
    return FailedPrecondition("sample data not found at " + options.samples_dir + "/synthea");
  }

  // O_CLOEXEC so that children spawned concurrently by other threads do not inherit our pipe
  // ends (an inherited stdin write end would keep the server alive after we close ours).
  int out_pipe[2];
  int in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Internal(ErrnoText("pipe2"));
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Internal(ErrnoText("pipe2"));
  }

  std::vector<std::string> args = {node,  dir + "/server.mjs",    "--port", "0", "--token",
                                   token, "--exit-on-stdin-close"};
  if (!options.samples_dir.empty()) {
    args.push_back("--samples");
    args.push_back(options.samples_dir);
  }
  if (options.delay_ms > 0) {
    args.push_back("--delay-ms");
    args.push_back(std::to_string(options.delay_ms));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid = -1;
  int rc = posix_spawn(&pid, node.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return Internal(std::string("posix_spawn(node) failed: ") + std::strerror(rc));
  }

  // Read `LISTENING <port>\n` within the start timeout.
  std::string line;
  const auto until = std::chrono::steady_clock::now() + options.start_timeout;
  std::string failure;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure =
          "did not report its port within " + std::to_string(options.start_timeout.count()) + " ms";
      break;
    }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    int n = poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = ErrnoText("poll");
      break;
    }
    if (n == 0) continue;
    char buf[256];
    ssize_t got = read(out_pipe[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::string how = DescribeExit(pid);  // reaps the child if it has exited
      if (how == "still running") {
        failure = "closed its stdout before listening; its stderr is above";
      } else {
        failure = "exited before listening (" + how + "); its stderr is above";
        pid = -1;  // reaped: never signal a pid that may have been reused
      }
      break;
    }
    line.append(buf, static_cast<size_t>(got));
  }
  close(out_pipe[0]);  // the server writes nothing else to stdout

  int port = 0;
  if (failure.empty()) {
    std::istringstream in(line.substr(0, line.find('\n')));
    std::string word;
    if (!(in >> word >> port) || word != "LISTENING" || port <= 0 || port > 65535) {
      failure = "printed an unexpected first line: " + line.substr(0, line.find('\n'));
    }
  }
  if (!failure.empty()) {
    StopChild(pid);
    close(in_pipe[1]);
    return Unavailable("test FHIR server (" + dir + "/server.mjs) " + failure);
  }
  return std::unique_ptr<FhirTestServer>(new FhirTestServer(pid, in_pipe[1], port));
}

}  // namespace cephalgia::test
