// The SDK's edge of the C ABI: an exception thrown inside a pack never crosses it; it becomes an
// error answer that names the entry point, and an evaluation's result becomes the ABI's answer.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "cephalgia/plugin/sdk.h"

namespace cephalgia::plugin::sdk_detail {
namespace {

std::string Take(cephalgia_buffer& b) {
  std::string s = b.data == nullptr ? "" : std::string(b.data, b.size);
  std::free(b.data);
  b = {};
  return s;
}

TEST(SdkBoundaryTest, AnExceptionBecomesAnInternalErrorNamingTheEntryPoint) {
  cephalgia_buffer out{};
  cephalgia_pack_code code = CEPHALGIA_PACK_OK;
  try {
    throw std::runtime_error("knowledge table missing");
  } catch (...) {
    code = FailOnException("evaluate", &out);
  }
  EXPECT_EQ(code, ToPackCode(StatusCode::kInternal));
  EXPECT_EQ(Take(out), R"({"message":"exception in evaluate: knowledge table missing"})");
  try {
    throw 42;
  } catch (...) {
    code = FailOnException("describe", &out);
  }
  EXPECT_EQ(code, ToPackCode(StatusCode::kInternal));
  EXPECT_EQ(Take(out), R"({"message":"unknown exception in describe"})");
}

TEST(SdkBoundaryTest, AnAnswerCarriesTheResponseOrTheError) {
  cephalgia_buffer out{};
  EXPECT_EQ(Answer(Result<std::string>(std::string(R"({"cards":[]})")), &out), CEPHALGIA_PACK_OK);
  EXPECT_EQ(Take(out), R"({"cards":[]})");
  EXPECT_EQ(Answer(Result<std::string>(InvalidArgument("context is required", "context")), &out),
            ToPackCode(StatusCode::kInvalidArgument));
  EXPECT_EQ(Take(out), R"({"message":"context is required","location":"context"})");
}

}  // namespace
}  // namespace cephalgia::plugin::sdk_detail
