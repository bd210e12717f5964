// File: fhir_test_server.h
//
// FhirTestServer: starts the real test FHIR R4 server (tests/fhir-server/server.mjs: Medplum's
// in-memory FHIR engine behind our node:http front) as a child process for integration tests and
// benchmarks, with the shared sample data (Synthea patients + HL7 R4 examples) loaded and a
// required bearer token. The process is killed by pid when the object goes away, so a failing
// test cannot leave it behind; the server also exits by itself if this process dies (it watches
// its stdin pipe).
//
//   auto server = FhirTestServer::Start("test-token");
//   ASSERT_TRUE(server.ok()) << server.status().ToString();   // says what to install if needed
//   FhirClient client((*server)->base_url(), "test-token");
//
// Missing node, a Node too old for Medplum, or missing node_modules is an error whose message says
// exactly what to run; tests must fail with it, not skip.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::test {

struct FhirTestServerOptions {
  // Folder holding synthea/ and hl7-r4-examples/; empty loads nothing.
  std::string samples_dir = DefaultSamplesDir();
  // Delay added to every response (the per-request knob is the `_testDelayMs=N` query parameter).
  int delay_ms = 0;
  // How long to wait for `LISTENING <port>` (loading all samples takes a few seconds).
  std::chrono::milliseconds start_timeout{60000};

  static std::string DefaultSamplesDir();
};

class FhirTestServer {
 public:
  // Checks the Node (FindNode), spawns `node server.mjs --port 0 --token <token> ...` and waits
  // until it reports its port.
  static Result<std::unique_ptr<FhirTestServer>> Start(const std::string& token,
                                                       const FhirTestServerOptions& options = {});

  // SIGTERM to our child, then SIGKILL if it has not exited within 3 s; always reaped.
  ~FhirTestServer();
  FhirTestServer(const FhirTestServer&) = delete;
  FhirTestServer& operator=(const FhirTestServer&) = delete;

  // http://127.0.0.1:<port>/fhir
  const std::string& base_url() const { return base_url_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Where the server's files live (CEPHALGIA_SOURCE_DIR/tests/fhir-server) and the command that
  // installs its dependencies.
  static std::string ServerDir();
  static std::string InstallCommand();

  // The Node.js that runs the server, by the rule of tests/fhir-server/install.sh:
  // $CEPHALGIA_TEST_NODE if set; else `node` on PATH if it fits; else the pinned Node that
  // install.sh puts in <source>/.tools/node (CEPHALGIA_TEST_NODE_PREFIX, set by CMake). PATH is
  // never changed. An error of one line (what was found, what fits, what to run) if none fits.
  static Result<std::string> FindNode();
  // Medplum 5.2.13's "engines": ^22.18.0 || >=24.2.0. `version` as Node prints it, "v22.23.3".
  static bool NodeVersionFits(std::string_view version);

 private:
  FhirTestServer(pid_t pid, int stdin_fd, int port);

  pid_t pid_;
  int stdin_fd_;  // write end of the child's stdin; closing it also stops the child
  int port_;
  std::string base_url_;
};

}  // namespace cephalgia::test
