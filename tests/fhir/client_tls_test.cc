// TLS behaviour of FhirClient against a real TLS server on 127.0.0.1: `openssl s_server -WWW`
// serving a FHIR JSON file with a freshly generated self-signed certificate. Checks that peer
// verification is on by default, that `ca_bundle` is honoured, and that the host name is checked.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "canned_http_server.h"
#include "cephalgia/fhir/client.h"
#include "cephalgia/json.h"

extern char** environ;

namespace cephalgia::fhir {
namespace {

namespace fs = std::filesystem;

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A self-signed certificate for `san` and an `openssl s_server -WWW` using it, serving
// <dir>/fhir/Patient/1. Stopped (by pid) and cleaned up in the destructor.
class TlsServer {
 public:
  explicit TlsServer(const std::string& san) {
    char tmpl[] = "/tmp/cephalgia-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string gen =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=cephalgia-test -addext subjectAltName=" + san + " -keyout " + dir_ +
        "/key.pem -out " + dir_ + "/cert.pem >/dev/null 2>&1";
    if (std::system(gen.c_str()) != 0) {
      error_ = "could not generate a certificate with the openssl command";
      return;
    }
    fs::create_directories(dir_ + "/fhir/Patient");
    std::ofstream(dir_ + "/fhir/Patient/1") << R"({"resourceType":"Patient","id":"1"})";
    port_ = test::UnusedLoopbackPort();
    std::vector<std::string> args = {"openssl", "s_server", "-accept",
                                     "127.0.0.1:" + std::to_string(port_), "-cert",
                                     dir_ + "/cert.pem", "-key", dir_ + "/key.pem", "-WWW",
                                     "-quiet"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addchdir_np(&actions, dir_.c_str());
    if (posix_spawnp(&pid_, "openssl", &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      error_ = "could not start `openssl s_server`";
    }
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < 500 && pid_ > 0 && !CanConnect(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0 && !CanConnect(port_)) error_ = "openssl s_server did not start listening";
  }
  ~TlsServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& error() const { return error_; }
  std::string ca_file() const { return dir_ + "/cert.pem"; }
  std::string base_url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port_) + "/fhir";
  }

 private:
  std::string dir_;
  std::string error_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(FhirClientTlsTest, AnUntrustedCertificateIsRefusedByDefault) {
  TlsServer server("IP:127.0.0.1");
  ASSERT_TRUE(server.error().empty()) << server.error();
  FhirClient client(server.base_url(), std::string("tok"));
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTlsError) << o.error().ToString();
}

TEST(FhirClientTlsTest, TheConfiguredCaBundleIsTrusted) {
  TlsServer server("IP:127.0.0.1");
  ASSERT_TRUE(server.error().empty()) << server.error();
  FhirClient client(server.base_url(), std::string("tok"), {.ca_bundle = server.ca_file()});
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_TRUE(o.ok()) << o.error().ToString();
  EXPECT_EQ(json::GetString(o.document(), "id"), "1");
}

TEST(FhirClientTlsTest, TheHostNameMustMatchTheCertificateEvenWithATrustedCa) {
  TlsServer server("DNS:other.example");
  ASSERT_TRUE(server.error().empty()) << server.error();
  FhirClient client(server.base_url(), std::string("tok"), {.ca_bundle = server.ca_file()});
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTlsError) << o.error().ToString();
}

TEST(FhirClientTlsTest, AMissingCaBundleFileIsATlsError) {
  TlsServer server("IP:127.0.0.1");
  ASSERT_TRUE(server.error().empty()) << server.error();
  FhirClient client(server.base_url(), std::string("tok"),
                    {.ca_bundle = "/nonexistent/cephalgia-ca.pem"});
  FetchOutcome o = client.Fetch({"p", "Patient/1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, FetchErrorKind::kTlsError) << o.error().ToString();
}

}  // namespace
}  // namespace cephalgia::fhir
