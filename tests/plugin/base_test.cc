#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "cephalgia/json.h"
#include "cephalgia/status.h"
#include "cephalgia/uuid.h"

namespace cephalgia {
namespace {

using ::testing::HasSubstr;

TEST(StatusTest, CarriesCodeMessageAndLocation) {
  Status s = InvalidArgument("patientId is required", "context.patientId");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "INVALID_ARGUMENT: patientId is required (at context.patientId)");
  EXPECT_EQ(s.WithContext("request").message(), "request: patientId is required");
  EXPECT_TRUE(Status().ok());
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> ok = 7;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  Result<int> err = NotFound("nope");
  EXPECT_EQ(err.status().code(), StatusCode::kNotFound);
  Result<int> from_ok_status = Status();  // a bug: an error must be an error
  EXPECT_EQ(from_ok_status.status().code(), StatusCode::kInternal);
}

TEST(JsonTest, ParseUntrustedEnforcesTheLimitAndReportsTheOffset) {
  auto too_big = json::ParseUntrusted(std::string(100, ' '), 10);
  EXPECT_EQ(too_big.status().code(), StatusCode::kPayloadTooLarge);
  auto bad = json::ParseUntrusted(R"({"a": })");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("at byte 6"));
  auto trailing = json::ParseUntrusted(R"({"a":1} x)");
  EXPECT_FALSE(trailing.ok());
  // Deep nesting does not exhaust the stack (iterative parser).
  std::string deep(200000, '[');
  EXPECT_FALSE(json::ParseUntrusted(deep, 1 << 20).ok());
  auto bad_utf8 = json::ParseUntrusted("{\"a\":\"\xff\"}");
  EXPECT_FALSE(bad_utf8.ok());
}

TEST(JsonTest, InsituParsingAppliesTheSameChecks) {
  std::string buffer;
  auto doc = json::ParseUntrustedInsitu(R"({"hook":"patient-view","n":[1,2]})", buffer);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(json::GetString(*doc, "hook"), "patient-view");
  EXPECT_EQ(json::ParseUntrustedInsitu(std::string(100, ' '), buffer, 10).status().code(),
            StatusCode::kPayloadTooLarge);
  EXPECT_FALSE(json::ParseUntrustedInsitu(R"({"a": })", buffer).ok());
  EXPECT_FALSE(json::ParseUntrustedInsitu(std::string("{\"a\":1}\0{}", 10), buffer).ok())
      << "a NUL byte must not hide trailing content";
  EXPECT_FALSE(json::ParseUntrustedInsitu("{\"a\":\"\xff\"}", buffer).ok());
  EXPECT_FALSE(json::ParseUntrustedInsitu(std::string(200000, '['), buffer, 1 << 20).ok());
}

TEST(JsonTest, TypedGettersNeverAssertOnTheWrongType) {
  auto doc = json::ParseUntrusted(R"({"s":"x","n":3,"b":true,"a":[1],"o":{},"d":2.0})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(json::GetString(*doc, "s"), "x");
  EXPECT_FALSE(json::GetString(*doc, "n").has_value());
  EXPECT_FALSE(json::GetBool(*doc, "s").has_value());
  EXPECT_EQ(json::GetInt64(*doc, "d"), 2);
  EXPECT_EQ(json::GetArray(*doc, "o"), nullptr);
  EXPECT_NE(json::GetObject(*doc, "o"), nullptr);
  EXPECT_EQ(json::Find(*doc, "missing"), nullptr);
  rapidjson::Value not_object(5);
  EXPECT_EQ(json::Find(not_object, "s"), nullptr);
}

TEST(UuidTest, GeneratesDistinctRfc4122Version4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = NewUuidV4();
    ASSERT_TRUE(IsRfc4122Uuid(u)) << u;
    EXPECT_EQ(u[14], '4');
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(IsRfc4122Uuid("not-a-uuid"));
  EXPECT_FALSE(IsRfc4122Uuid("123e4567-e89b-12d3-c456-426614174000"));  // wrong variant
}

}  // namespace
}  // namespace cephalgia
