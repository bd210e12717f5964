// Loader tests against real .so files: the good echo pack loads and answers; each broken pack is
// refused with a message naming the file and the reason, and the others still load.
#include "cephalgia/plugin/pack_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

extern "C" const cephalgia_rule_pack_v1* cephalgia_static_pack_echo(const cephalgia_host_api*);

namespace cephalgia::plugin {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kPackRoot = TEST_PACK_ROOT;

std::string ReasonFor(const PackLoadReport& report, std::string_view file_part) {
  for (const auto& r : report.refused) {
    if (r.file.find(file_part) != std::string::npos) return r.reason;
  }
  return "<not refused>";
}

TEST(PackLoaderTest, LoadsTheEchoPackAndRoutesItsService) {
  PackRegistry registry;
  auto report = LoadPackDirectory(kPackRoot + "/good", {}, registry);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->loaded.size(), 1u);
  EXPECT_TRUE(report->refused.empty());
  const ServiceEntry* entry = registry.FindService("echo-patient-view");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->descriptor->hook, "patient-view");
  EXPECT_EQ(entry->pack->descriptor().pack_id, "org.cephalgia.test.echo");
  ASSERT_EQ(entry->descriptor->prefetch.size(), 2u);
  EXPECT_EQ(entry->descriptor->prefetch[0].first, "patient");  // descriptor order is kept
  EXPECT_EQ(entry->descriptor->required_prefetch, std::vector<std::string>{"patient"});

  auto response = entry->pack->Evaluate("echo-patient-view",
                                        R"({"hook":"patient-view","prefetch":{"patient":{}}})",
                                        R"({"now":"2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_THAT(*response, HasSubstr("keys=patient"));
  EXPECT_THAT(*response, HasSubstr("now=2026-01-01T00:00:00Z"));
}

TEST(PackLoaderTest, RefusesBrokenPacksByNameAndStillLoadsTheGoodOne) {
  PackRegistry registry;
  auto report = LoadPackDirectory(kPackRoot + "/mixed", {}, registry);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->loaded.size(), 1u);
  EXPECT_THAT(report->loaded[0], HasSubstr("echo_pack_mixed.so"));
  EXPECT_THAT(ReasonFor(*report, "raw_wrong_major_pack.so"),
              HasSubstr("ABI major version mismatch: pack was built for ABI 2.0"));
  EXPECT_THAT(ReasonFor(*report, "raw_no_entry_pack.so"),
              HasSubstr("missing entry point cephalgia_rule_pack_init"));
  EXPECT_THAT(ReasonFor(*report, "raw_null_table_pack.so"), HasSubstr("no function table"));
  EXPECT_THAT(ReasonFor(*report, "zz_duplicate_echo_pack.so"),
              HasSubstr("duplicate service id 'echo-patient-view'"));
  EXPECT_EQ(report->refused.size(), 4u);
  EXPECT_NE(registry.FindService("echo-patient-view"), nullptr);
}

TEST(PackLoaderTest, RefusesAFileWritableByGroupOrOthers) {
  fs::path dir = fs::temp_directory_path() / ("cephalgia-perm-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path copy = dir / "echo_pack.so";
  fs::copy_file(kPackRoot + "/good/echo_pack.so", copy, fs::copy_options::overwrite_existing);
  ASSERT_EQ(::chmod(copy.c_str(), 0775), 0);
  PackRegistry registry;
  auto report = LoadPackDirectory(dir.string(), {}, registry);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->loaded.empty());
  EXPECT_THAT(ReasonFor(*report, "echo_pack.so"), HasSubstr("writable by group or others (mode 775)"));
  fs::remove_all(dir);
}

TEST(PackLoaderTest, APackThatCannotStartStopsTheLoadWithItsMessage) {
  PackRegistry registry;
  auto report = LoadPackDirectory(kPackRoot + "/good",
                                  {{"org.cephalgia.test.echo", R"({"fail":"knowledge broken"})"}},
                                  registry);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("echo_pack.so"));
  EXPECT_THAT(report.status().message(), HasSubstr("knowledge broken"));
  EXPECT_EQ(report.status().location(), "echo.json#/fail");
}

TEST(PackLoaderTest, MissingDirectoryIsAClearError) {
  PackRegistry registry;
  auto report = LoadPackDirectory("/nonexistent/cephalgia/packs", {}, registry);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("/nonexistent/cephalgia/packs"));
}

TEST(PackRegistryTest, TheSamePackSourceLinksStatically) {
  auto pack = LoadedPack::Create(cephalgia_static_pack_echo(nullptr), "static:echo", "", "{}");
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  PackRegistry registry;
  ASSERT_TRUE(registry.Add(std::move(*pack)).ok());
  EXPECT_NE(registry.FindService("echo-patient-view"), nullptr);
  // A second copy of the same services is a duplicate.
  auto again = LoadedPack::Create(cephalgia_static_pack_echo(nullptr), "static:echo2", "", "{}");
  ASSERT_TRUE(again.ok());
  Status dup = registry.Add(std::move(*again));
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.message(), HasSubstr("already provided by pack org.cephalgia.test.echo from static:echo"));
}

TEST(PackRegistryTest, DescriptorErrorsNameTheField) {
  auto bad = ParsePackDescriptor(R"({"packId":"x","packVersion":"1","services":[{"id":"a","hook":""}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().location(), "$.services[0].hook");
  auto undeclared = ParsePackDescriptor(
      R"({"packId":"x","packVersion":"1","services":[{"id":"a","hook":"h","description":"d",
          "prefetch":{"p":"Patient/{{context.patientId}}"},"requiredPrefetch":["q"]}]})");
  ASSERT_FALSE(undeclared.ok());
  EXPECT_THAT(undeclared.status().message(), HasSubstr("'q' has no template"));
}

TEST(PackRegistryTest, ServiceIdsMustBeUrlPathSafe) {
  EXPECT_TRUE(IsValidServiceId("headache-patient-view"));
  EXPECT_FALSE(IsValidServiceId("a/b"));
  EXPECT_FALSE(IsValidServiceId("a b"));
  EXPECT_FALSE(IsValidServiceId(""));
}

}  // namespace
}  // namespace cephalgia::plugin
