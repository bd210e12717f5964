// Configuration from the environment (issue 16): every config key as CEPHALGIA_<KEY>, with the
// precedence flag > environment > config file > default, and a bad value refused naming its source.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "cli_options.h"

namespace cephalgia::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvironmentLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text)
      : path_(fs::temp_directory_path() /
              ("cephalgia-env-test-" + std::to_string(::getpid()) + ".json")) {
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(EnvironmentConfigTest, VariableNamesFollowTheConfigKeys) {
  EXPECT_EQ(EnvironmentVariableFor("maxBodyBytes"), "CEPHALGIA_MAX_BODY_BYTES");
  EXPECT_EQ(EnvironmentVariableFor("port"), "CEPHALGIA_PORT");
  EXPECT_EQ(EnvironmentVariableFor("jwks"), "CEPHALGIA_JWKS");
  EXPECT_EQ(EnvironmentVariableFor("trustedIssuers"), "CEPHALGIA_TRUSTED_ISSUERS");
  EXPECT_EQ(EnvironmentVariableFor("auditLog"), "CEPHALGIA_AUDIT_LOG");
}

TEST(EnvironmentConfigTest, EveryKindOfOptionIsReadFromTheEnvironment) {
  bool help = false;
  auto options =
      ParseServeArgs({},
                     Env({{"CEPHALGIA_MAX_BODY_BYTES", "2048"},
                          {"CEPHALGIA_BIND", "0.0.0.0"},
                          {"CEPHALGIA_ALLOW_INSECURE_FHIR", "1"},
                          {"CEPHALGIA_TRUSTED_ISSUERS", " https://a.test , https://b.test,"},
                          {"CEPHALGIA_AUDIT_LOG", "stderr"},
                          {"CEPHALGIA_DATA_DIR", "/var/lib/cephalgia"}}),
                     &help);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->max_body_bytes, 2048u);
  EXPECT_EQ(options->bind, "0.0.0.0");
  EXPECT_TRUE(options->allow_insecure_fhir);
  EXPECT_THAT(options->trusted_issuers, ElementsAre("https://a.test", "https://b.test"));
  EXPECT_EQ(options->audit_log, "stderr");
  EXPECT_EQ(options->data_dir, "/var/lib/cephalgia");
}

TEST(EnvironmentConfigTest, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  ConfigFile file(
      R"({"port": 9001, "threads": 3, "maxBodyBytes": 4096, "trustedIssuers": ["https://file.test"]})");
  bool help = false;
  auto options = ParseServeArgs({"--config", file.path(), "--port", "9003"},
                                Env({{"CEPHALGIA_PORT", "9002"},
                                     {"CEPHALGIA_THREADS", "5"},
                                     {"CEPHALGIA_TRUSTED_ISSUERS", "https://env.test"}}),
                                &help);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->port, 9003);             // flag over environment over file
  EXPECT_EQ(options->threads, 5);             // environment over file
  EXPECT_EQ(options->max_body_bytes, 4096u);  // file over default
  EXPECT_EQ(options->blocking_threads, 4);    // default
  EXPECT_THAT(options->trusted_issuers, ElementsAre("https://env.test"));  // replaced, not added
}

TEST(EnvironmentConfigTest, ConfigFileFromTheEnvironmentUnlessAFlagNamesOne) {
  ConfigFile file(R"({"port": 9100})");
  bool help = false;
  auto from_env = ParseServeArgs({}, Env({{"CEPHALGIA_CONFIG", file.path()}}), &help);
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->port, 9100);
  auto flag_wins = ParseServeArgs({"--config", file.path()},
                                  Env({{"CEPHALGIA_CONFIG", "/nonexistent/config.json"}}), &help);
  EXPECT_TRUE(flag_wins.ok()) << flag_wins.status().ToString();
}

TEST(EnvironmentConfigTest, EmptyVariablesCountAsUnsetAndOthersAreIgnored) {
  bool help = false;
  auto options = ParseServeArgs(
      {},
      Env({{"CEPHALGIA_PORT", ""}, {"CEPHALGIA_TEST_SANITIZE", "0"}, {"CEPHALGIA_BUILD_DIR", "x"}}),
      &help);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->port, 8080);
}

TEST(EnvironmentConfigTest, ABadValueNamesItsSource) {
  bool help = false;
  auto bad_env = ParseServeArgs({}, Env({{"CEPHALGIA_PORT", "eighty"}}), &help);
  ASSERT_FALSE(bad_env.ok());
  EXPECT_THAT(bad_env.status().message(), HasSubstr("environment variable CEPHALGIA_PORT"));
  EXPECT_THAT(bad_env.status().message(), HasSubstr("'eighty'"));

  auto bad_bool = ParseServeArgs({}, Env({{"CEPHALGIA_ALLOW_INSECURE_FHIR", "maybe"}}), &help);
  ASSERT_FALSE(bad_bool.ok());
  EXPECT_THAT(
      bad_bool.status().message(),
      HasSubstr("environment variable CEPHALGIA_ALLOW_INSECURE_FHIR: must be true or false"));

  auto bad_auth = ParseServeArgs({}, Env({{"CEPHALGIA_AUTH", "sometimes"}}), &help);
  ASSERT_FALSE(bad_auth.ok());
  EXPECT_THAT(bad_auth.status().message(), HasSubstr("environment variable CEPHALGIA_AUTH"));

  ConfigFile file(R"({"port": 70000})");
  auto bad_file = ParseServeArgs({"--config", file.path()}, Env({}), &help);
  ASSERT_FALSE(bad_file.ok());
  EXPECT_THAT(bad_file.status().message(), HasSubstr("config file " + file.path()));

  auto bad_flag = ParseServeArgs({"--port", "-1"}, Env({}), &help);
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_THAT(bad_flag.status().message(), HasSubstr("--port"));
  EXPECT_THAT(bad_flag.status().message(), ::testing::Not(HasSubstr("environment")));
}

// A flag fixes a value the environment got wrong: the environment is still checked (an operator
// should learn of the bad variable), so a bad variable fails even when a flag overrides it.
TEST(EnvironmentConfigTest, ABadVariableFailsEvenWhenAFlagOverridesIt) {
  bool help = false;
  auto options = ParseServeArgs({"--port", "8081"}, Env({{"CEPHALGIA_PORT", "x"}}), &help);
  EXPECT_FALSE(options.ok());
}

}  // namespace
}  // namespace cephalgia::cli
