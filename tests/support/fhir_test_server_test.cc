// Tests of the FhirTestServer fixture itself: it starts the real server, reports its port, and
// stops exactly its own process; start failures come back as errors that say what happened.
#include "fhir_test_server.h"

#include <signal.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
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
  EXPECT_EQ((*server)->base_url(), "http://127.0.0.1:" + std::to_string((*server)->port()) + "/fhir");
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

}  // namespace
}  // namespace cephalgia::test
