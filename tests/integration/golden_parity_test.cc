// Every golden clinical case, answered by the real binary two ways: `cephalgia evaluate --now`
// (stdin/stdout) and POST /cds-services/{id} on `cephalgia serve --now`. Both answers must pass
// the same checks as the in-process runner (tests/rules/golden), so the CLI, HTTP and the
// engine agree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cephalgia/json.h"
#include "cephalgia_process.h"
#include "golden/golden_case.h"

namespace cephalgia::test {
namespace {

using ::testing::IsEmpty;

const std::string kCaseDir = std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/cases";

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(info.param.find_last_of('/') + 1);
  name = name.substr(0, name.size() - 5);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// One server per distinct `now` (all cases share one today), started on first use.
CephalgiaServer& ServerFor(const std::string& now) {
  static std::map<std::string, std::unique_ptr<CephalgiaServer>> servers;
  auto& slot = servers[now];
  if (!slot) {
    auto started = CephalgiaServer::Start({"--now", now, "--plugins", BuiltPackDir()});
    if (!started.ok()) {
      ADD_FAILURE() << started.status().ToString();
      std::abort();
    }
    slot = std::move(*started);
  }
  return *slot;
}

class GoldenParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenParityTest, SameVerdictThroughEvaluateAndHttp) {
  auto loaded = cephalgia::testing::LoadGoldenCase(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto& c = *loaded;

  ProcessResult cli = RunCephalgia(
      {"evaluate", "--now", c.now, "--service", c.service, "--plugins", BuiltPackDir(), "-"},
      c.request_json);
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  auto cli_doc = json::ParseUntrusted(cli.out);
  ASSERT_TRUE(cli_doc.ok()) << cli.out;
  EXPECT_THAT(cephalgia::testing::CheckGoldenCase(c.json, *cli_doc), IsEmpty()) << "via evaluate";

  HttpResult http = HttpCall("POST", ServerFor(c.now).url("/cds-services/" + c.service), c.request_json);
  ASSERT_EQ(http.status, 200) << http.body;
  EXPECT_EQ(http.Header("Content-Type"), "application/json; charset=utf-8");
  auto http_doc = json::ParseUntrusted(http.body);
  ASSERT_TRUE(http_doc.ok()) << http.body;
  EXPECT_THAT(cephalgia::testing::CheckGoldenCase(c.json, *http_doc), IsEmpty()) << "via HTTP";

  // Same cards (rule ids and indicators, in order) both ways.
  auto topics = [](const rapidjson::Value& response) {
    std::vector<std::string> out;
    for (const auto& card : response["cards"].GetArray()) {
      out.push_back(std::string(card["source"]["topic"]["code"].GetString()) + "/" +
                    card["indicator"].GetString());
    }
    return out;
  };
  EXPECT_EQ(topics(*cli_doc), topics(*http_doc));
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenParityTest,
                         ::testing::ValuesIn(cephalgia::testing::ListGoldenCaseFiles(kCaseDir)),
                         CaseName);

}  // namespace
}  // namespace cephalgia::test
