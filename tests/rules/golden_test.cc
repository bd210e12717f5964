// Runs every golden case of tests/rules/cases/ through the headache engine in-process and checks
// the case's `expect` plus the global safety invariants (golden/golden_case.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cephalgia/json.h"
#include "cephalgia/rules/headache_engine.h"
#include "golden/golden_case.h"
#include "test_support.h"

namespace cephalgia::rules {
namespace {

class GoldenCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenCaseTest, MatchesExpectationAndInvariants) {
  Result<cephalgia::testing::GoldenCase> c = cephalgia::testing::LoadGoldenCase(GetParam());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<std::string> response = EvaluateCase(*c);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  Result<rapidjson::Document> doc = json::ParseUntrusted(*response);
  ASSERT_TRUE(doc.ok());
  std::vector<std::string> failures = cephalgia::testing::CheckGoldenCase(c->json, *doc);
  EXPECT_THAT(failures, ::testing::IsEmpty())
      << c->name << ": " << json::GetString(c->json, "description").value_or("") ;
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return "c" + name;
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenCaseTest, ::testing::ValuesIn(CaseFiles()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenCaseTest);

}  // namespace
}  // namespace cephalgia::rules
