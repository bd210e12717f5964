#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

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
  // Deep nesting does not exhaust the stack: refused past the depth limit, with the reason.
  std::string deep(200000, '[');
  auto too_deep = json::ParseUntrusted(deep, 1 << 20);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_THAT(too_deep.status().message(), HasSubstr("nested deeper than 256 levels"));
  std::string at_limit =
      std::string(json::kMaxNestingDepth, '[') + std::string(json::kMaxNestingDepth, ']');
  EXPECT_TRUE(json::ParseUntrusted(at_limit).ok()) << "exactly the limit is allowed";
  auto bad_utf8 = json::ParseUntrusted("{\"a\":\"\xff\"}");
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_THAT(bad_utf8.status().message(), HasSubstr("invalid UTF-8 or a NUL byte at byte 6"));
  EXPECT_FALSE(json::ParseUntrusted("{\"a\":\"\xC0\xAF\"}").ok()) << "overlong form";
  EXPECT_FALSE(json::ParseUntrusted("{\"a\":\"\xED\xA0\x80\"}").ok()) << "UTF-16 surrogate";
  EXPECT_FALSE(json::ParseUntrusted(std::string("{\"a\":1}\0", 8)).ok()) << "NUL byte";
  // Strings are copied: the document outlives the text it was parsed from.
  std::string text = R"({"k":"v\u00e9\n","n":1.5})";
  auto doc = json::ParseUntrusted(text);
  text.assign(text.size(), 'x');
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(json::GetString(*doc, "k"), "v\xC3\xA9\n");
  EXPECT_EQ(json::GetNumber(*doc, "n"), 1.5);
}

TEST(JsonTest, StringWriterWritesWhatRapidJsonsWriterWrites) {
  std::vector<std::string> texts = {"",
                                    "plain",
                                    "exactly8",
                                    "a bit longer than sixteen bytes",
                                    "quote \" inside",
                                    "back\\slash",
                                    "tab\there",
                                    "nl\n",
                                    std::string("nul\0byte", 8),
                                    "caf\xC3\xA9 \xE2\x9C\x93",
                                    "del\x7F",
                                    std::string(40, 'a') + "\x1f",
                                    std::string(23, 'b') + "\"",
                                    "# Markdown\n\n- line one\r\n- line\ttwo \b\f end"};
  std::string every_byte;  // 0x00..0xFF in order: every escape RapidJSON knows, in every position
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  texts.push_back(every_byte);
  texts.push_back(every_byte.substr(5) + every_byte.substr(0, 5));
  for (const std::string& t : texts) {
    rapidjson::StringBuffer expected_buffer, actual_buffer;
    rapidjson::Writer<rapidjson::StringBuffer> expected(expected_buffer);
    json::StringWriter actual(actual_buffer);
    // The same text as a key, an object value, array elements and through Accept().
    rapidjson::Document doc(rapidjson::kObjectType);
    doc.AddMember(json::MakeString(t, doc.GetAllocator()), json::MakeString(t, doc.GetAllocator()),
                  doc.GetAllocator());
    expected.StartArray();
    actual.StartArray();
    expected.StartObject();
    actual.StartObject();
    expected.Key(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    actual.Key(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    expected.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    actual.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    expected.EndObject();
    actual.EndObject();
    expected.String(t);
    actual.String(t);
    doc.Accept(expected);
    doc.Accept(actual);
    expected.EndArray();
    actual.EndArray();
    EXPECT_EQ(std::string(actual_buffer.GetString()), std::string(expected_buffer.GetString()))
        << "text: " << t;
  }
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

// Found by tests/fuzz (fuzz_fhir_readers, fuzz_jwt): clean ASCII whose length is a multiple of
// 32 made the UTF-8 check read the byte after the text. Each text here is a heap block of exactly
// its size, so AddressSanitizer (the sanitized run of scripts/test.sh) sees such a read.
TEST(JsonTest, Utf8CheckNeverReadsPastTheText) {
  for (std::size_t n : {0, 7, 8, 31, 32, 33, 40, 64, 768}) {
    std::unique_ptr<char[]> text(new char[n]);
    std::memset(text.get(), 'a', n);
    EXPECT_EQ(json::FindInvalidUtf8OrNul(std::string_view(text.get(), n)), n) << n;
    if (n > 0) {
      text[n - 1] = '\0';
      EXPECT_EQ(json::FindInvalidUtf8OrNul(std::string_view(text.get(), n)), n - 1) << n;
    }
  }
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

// Every byte value at every position of a valid uuid, against the check written out plainly.
TEST(UuidTest, CheckAgreesWithThePlainDefinitionAtEveryPositionAndByte) {
  auto plain = [](std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (c != '-') return false;
        continue;
      }
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
        return false;
    }
    return std::string_view("89abAB").find(s[19]) != std::string_view::npos;
  };
  const std::string valid = "123e4567-e89b-42d3-a456-426614174000";
  ASSERT_TRUE(IsRfc4122Uuid(valid));
  for (std::size_t i = 0; i < valid.size(); ++i) {
    for (int b = 0; b < 256; ++b) {
      std::string u = valid;
      u[i] = static_cast<char>(b);
      ASSERT_EQ(IsRfc4122Uuid(u), plain(u)) << i << " " << b;
    }
  }
  EXPECT_FALSE(IsRfc4122Uuid(valid.substr(0, 35)));
  EXPECT_FALSE(IsRfc4122Uuid(valid + "0"));
  EXPECT_FALSE(IsRfc4122Uuid(""));
}

// Version 7: distinct, RFC variant, the current Unix millisecond in the first 48 bits, and so
// ordered by time as text (what makes them cheap to index).
TEST(UuidTest, GeneratesDistinctTimeOrderedVersion7Uuids) {
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const long long before = now_ms();
  std::set<std::string> seen;
  std::string first = NewUuidV7();
  for (int i = 0; i < 1000; ++i) {
    std::string u = NewUuidV7();
    ASSERT_TRUE(IsRfc4122Uuid(u)) << u;
    EXPECT_EQ(u[14], '7');
    seen.insert(u);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string later = NewUuidV7();
  const long long after = now_ms();
  EXPECT_EQ(seen.size(), 1000u);
  const long long stamped = std::stoll(first.substr(0, 8) + first.substr(9, 4), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
  EXPECT_LT(first, later) << "a uuid made 2 ms later sorts after";
}

}  // namespace
// RFC 8259 lets a \u escape name half of a UTF-16 surrogate pair; RapidJSON stores a lone low
// half as three bytes that are not UTF-8. I-JSON (RFC 7493 section 2.1) excludes both halves
// alone: every untrusted parse refuses them as malformed JSON and names the escape's byte.
TEST(JsonTest, UnpairedSurrogateEscapesAreMalformed) {
  const std::string pair = R"({"a":"\ud83d\ude00 \uD83D\uDE00"})";
  EXPECT_EQ(json::FindUnpairedSurrogateEscape(pair), pair.size());
  EXPECT_TRUE(json::ParseUntrusted(pair).ok());
  struct Case {
    std::string text;
    std::size_t at;
  };
  const std::vector<Case> unpaired = {
      {R"({"a":"x\uDFFF"})", 7},        // a low half alone
      {R"({"a":"\udc00\ud83d"})", 6},   // a low half before its high half
      {R"({"a":"\uD800"})", 6},         // a high half at the end of a string
      {R"({"a":"\uD800x\uDC00"})", 6},  // a high half not followed by an escape
      {R"({"a":"\uDBFF\u0041"})", 6},   // a high half followed by another escape
      {R"({"a":"\\\uDC00"})", 8},       // an escaped backslash, then a lone low half
  };
  for (const Case& c : unpaired) {
    EXPECT_EQ(json::FindUnpairedSurrogateEscape(c.text), c.at) << c.text;
    auto parsed = json::ParseUntrusted(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("unpaired UTF-16 surrogate (not a Unicode character) at byte " +
                          std::to_string(c.at)));
    std::string buffer;
    EXPECT_FALSE(json::ParseUntrustedInsitu(c.text, buffer).ok()) << c.text;
  }
  // Not escapes of surrogates: an escaped backslash before "uDC00", a short or non-hex escape
  // (the parser's own error), escapes of other characters, a backslash at the very end.
  for (const std::string& text :
       {std::string(R"({"a":"\\uDC00"})"), std::string(R"({"a":"\uDC0"})"),
        std::string(R"({"a":"\uDCxz"})"), std::string(R"({"a":"\u00e9\n"})"), std::string("\\"),
        std::string()}) {
    EXPECT_EQ(json::FindUnpairedSurrogateEscape(text), text.size()) << text;
  }
  EXPECT_TRUE(json::ParseUntrusted(R"({"a":"\\uDC00"})").ok());
}

}  // namespace cephalgia
