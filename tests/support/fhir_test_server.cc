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
#include <cstdlib>
#include <cstring>
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
std::string FindNode() {
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

}  // namespace

std::string FhirTestServerOptions::DefaultSamplesDir() {
  return std::string(CEPHALGIA_SHARED_DIR) + "/fhir-samples";
}

std::string FhirTestServer::ServerDir() {
  return std::string(CEPHALGIA_SOURCE_DIR) + "/tests/fhir-server";
}

std::string FhirTestServer::InstallCommand() {
  return "bash " + ServerDir() + "/install.sh";
}

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
  const std::string node = FindNode();
  if (node.empty()) {
    return FailedPrecondition(
        "the test FHIR server needs Node.js 20+ and npm, and `node` is not on PATH. Install them "
        "(Debian: apt-get install nodejs npm), then run: " + InstallCommand());
  }
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

  std::vector<std::string> args = {node, "--experimental-websocket", dir + "/server.mjs",
                                   "--port", "0", "--token", token, "--exit-on-stdin-close"};
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
      failure = "did not report its port within " + std::to_string(options.start_timeout.count()) +
                " ms";
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
