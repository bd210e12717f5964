// Tests of the FhirTestServer fixture itself: it starts the real server, reports its port, and
// stops exactly its own process; start failures come back as errors that say what happened.
#include "fhir_test_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace cephalgia::test {
namespace {

using ::testing::HasSubstr;

TEST(FhirTestServerTest, StartsReportsItsPortAndIsGoneAfterDestruction) {
  FhirTestServerOptions options;
  options.samples_dir = "";  // no data: this test is about the process, not the content
  auto server = FhirTestServer::Start("t", options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const pid_t pid = (*server)->pid();
  EXPECT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->base_url(),
            "http://127.0.0.1:" + std::to_string((*server)->port()) + "/fhir");
  EXPECT_EQ(kill(pid, 0), 0) << "running while the object lives";
  server->reset();
  // Destruction reaps the child, so the pid no longer names a process of ours.
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(FhirTestServerTest, MissingSampleDataIsAnError) {
  FhirTestServerOptions options;
  options.samples_dir = "/nonexistent/fhir-samples";
  auto server = FhirTestServer::Start("t", options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("/nonexistent/fhir-samples/synthea"));
}

TEST(FhirTestServerTest, AServerThatFailsToLoadReportsThatItExited) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/cephalgia-samples-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  fs::create_directories(dir + "/synthea");
  fs::create_directories(dir + "/hl7-r4-examples");
  std::ofstream(dir + "/synthea/broken.json") << "{ not json";
  FhirTestServerOptions options;
  options.samples_dir = dir;
  auto server = FhirTestServer::Start("t", options);
  fs::remove_all(dir);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("exited before listening"));
}

TEST(FhirTestServerTest, NodeVersionsFitMedplumsEngines) {
  // Medplum 5.2.13 declares "^22.18.0 || >=24.2.0"; Debian 12's nodejs is 18.20.4.
  for (const char* fits : {"v22.18.0", "v22.23.3", "v24.2.0", "v25.0.1", "v26.10.0", "22.19.1"}) {
    EXPECT_TRUE(FhirTestServer::NodeVersionFits(fits)) << fits;
  }
  for (const char* too_old : {"v18.20.4", "v20.20.2", "v22.17.9", "v23.11.0", "v24.1.0", "v2", "",
                              "v", "vx.y.z", "v22"}) {
    EXPECT_FALSE(FhirTestServer::NodeVersionFits(too_old)) << too_old;
  }
}

TEST(FhirTestServerTest, ANodeThatDoesNotFitIsRefusedInOneLineBeforeStarting) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/cephalgia-old-node-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string fake_node = dir + "/node";
  std::ofstream(fake_node) << "#!/bin/sh\necho v18.20.4\n";
  fs::permissions(fake_node, fs::perms::owner_all);
  const char* previous = std::getenv("CEPHALGIA_TEST_NODE");
  const std::string saved = previous ? previous : "";
  setenv("CEPHALGIA_TEST_NODE", fake_node.c_str(), 1);
  FhirTestServerOptions options;
  options.samples_dir = "";
  auto server = FhirTestServer::Start("t", options);
  if (previous) {
    setenv("CEPHALGIA_TEST_NODE", saved.c_str(), 1);
  } else {
    unsetenv("CEPHALGIA_TEST_NODE");
  }
  fs::remove_all(dir);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(), HasSubstr(fake_node + " is v18.20.4"));
  EXPECT_THAT(server.status().message(), HasSubstr("^22.18.0 || >=24.2.0"));
  EXPECT_EQ(server.status().message().find('\n'), std::string::npos) << "one line";
}

TEST(FhirTestServerTest, TheChosenNodeFits) {
  auto node = FhirTestServer::FindNode();
  ASSERT_TRUE(node.ok()) << node.status().message();
}

}  // namespace
}  // namespace cephalgia::test
