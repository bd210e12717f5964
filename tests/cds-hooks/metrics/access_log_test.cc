#include "cephalgia/hooks/metrics/access_log.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <set>
#include <vector>

namespace cephalgia::hooks::metrics {
namespace {

constexpr char kHookInstance[] = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea";

AccessLogEntry Typical() {
  AccessLogEntry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  e.method = "POST";
  e.route = "/cds-services/{id}";
  e.service_id = "headache-patient-view";
  e.status = 200;
  e.duration_ms = 1.23456;
  e.bytes_in = 10240;
  e.bytes_out = 2048;
  e.hook_instance = kHookInstance;
  e.client_iss = "https://ehr.example.org";
  return e;
}

rapidjson::Document ParseLine(const std::string& line) {
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line per request";
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  EXPECT_FALSE(doc.HasParseError()) << line;
  EXPECT_TRUE(doc.IsObject()) << line;
  return doc;
}

TEST(AccessLogTest, TypicalLine) {
  const std::string line = FormatAccessLogLine(Typical());
  rapidjson::Document doc = ParseLine(line);
  EXPECT_STREQ(doc["time"].GetString(), "2023-11-14T22:13:20.123Z");
  EXPECT_STREQ(doc["type"].GetString(), "access");
  EXPECT_STREQ(doc["method"].GetString(), "POST");
  EXPECT_STREQ(doc["route"].GetString(), "/cds-services/{id}");
  EXPECT_STREQ(doc["service"].GetString(), "headache-patient-view");
  EXPECT_EQ(doc["status"].GetInt(), 200);
  EXPECT_DOUBLE_EQ(doc["durationMs"].GetDouble(), 1.235);
  EXPECT_EQ(doc["bytesIn"].GetUint64(), 10240u);
  EXPECT_EQ(doc["bytesOut"].GetUint64(), 2048u);
  EXPECT_STREQ(doc["hookInstance"].GetString(), kHookInstance);
  EXPECT_STREQ(doc["clientIss"].GetString(), "https://ehr.example.org");
}

// The line is written by hand; it must be what RapidJSON's Writer writes for the same values:
// the same number forms (integral doubles as "5.0", shortest round-trip digits), the same
// escapes in the one free-text field (an unverified-looking iss may hold '"' and '\\').
TEST(AccessLogTest, LineIsExactlyWhatRapidJsonsWriterWrites) {
  const std::vector<double> durations = {0,      0.001, 0.0005,   1.23456, 5,      12.5,
                                         99.999, 1e-4,  123456.7, 1e9,     2.5e-7, -3};
  const std::vector<std::string_view> issuers = {"", "https://ehr.example.org", "a\"b\\c", "x"};
  for (double duration : durations) {
    for (std::string_view iss : issuers) {
      AccessLogEntry e = Typical();
      e.duration_ms = duration;
      e.client_iss = iss;
      e.status = static_cast<int>(duration) % 600;
      e.bytes_out =
          static_cast<std::uint64_t>(duration * 7) + 18446744073709551000ULL * (iss == "x");
      e.traceparent = iss.empty() ? "" : "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      w.StartObject();
      w.Key("time");
      w.String(FormatRfc3339Millis(e.time).c_str());
      w.Key("type");
      w.String("access");
      w.Key("method");
      w.String("POST");
      w.Key("route");
      w.String("/cds-services/{id}");
      w.Key("service");
      w.String("headache-patient-view");
      w.Key("status");
      w.Int(e.status);
      w.Key("durationMs");
      w.Double(std::round(e.duration_ms * 1000) / 1000);
      w.Key("bytesIn");
      w.Uint64(e.bytes_in);
      w.Key("bytesOut");
      w.Uint64(e.bytes_out);
      w.Key("hookInstance");
      w.String(kHookInstance);
      w.Key("clientIss");
      if (iss.empty()) {
        w.Null();
      } else {
        w.String(iss.data(), static_cast<rapidjson::SizeType>(iss.size()));
      }
      w.Key("traceparent");
      if (e.traceparent.empty()) {
        w.Null();
      } else {
        w.String(e.traceparent.data(), static_cast<rapidjson::SizeType>(e.traceparent.size()));
      }
      w.EndObject();
      EXPECT_EQ(FormatAccessLogLine(e), std::string(buf.GetString(), buf.GetSize()))
          << "duration " << duration << " iss " << iss;
    }
  }
}

// The line's keys are exactly these: adding a field (a body, a query string, a header) to the
// access log must be a deliberate change to this test.
TEST(AccessLogTest, HasExactlyTheKnownKeys) {
  rapidjson::Document doc = ParseLine(FormatAccessLogLine(Typical()));
  std::set<std::string> keys;
  for (const auto& m : doc.GetObject()) keys.insert(m.name.GetString());
  EXPECT_EQ(keys, (std::set<std::string>{"time", "type", "method", "route", "service", "status",
                                         "durationMs", "bytesIn", "bytesOut", "hookInstance",
                                         "clientIss", "traceparent"}));
  // Same keys when optional fields are empty (null), e.g. a 404 with auth off.
  AccessLogEntry bare;
  bare.method = "GET";
  bare.status = 404;
  rapidjson::Document doc2 = ParseLine(FormatAccessLogLine(bare));
  std::set<std::string> keys2;
  for (const auto& m : doc2.GetObject()) keys2.insert(m.name.GetString());
  EXPECT_EQ(keys, keys2);
  EXPECT_TRUE(doc2["route"].IsNull());
  EXPECT_TRUE(doc2["hookInstance"].IsNull());
  EXPECT_TRUE(doc2["clientIss"].IsNull());
}

// Whatever a careless caller passes, patient data and tokens do not reach the log.
TEST(AccessLogTest, NoPatientDataOrTokensEvenFromACarelessCaller) {
  const std::string token = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln";
  const std::string raw_target =
      "/cds-services/headache-patient-view?patient=Patient/123&name=Jane%20Doe";
  const std::string authorization = "Bearer " + token;  // outlives `e`, which only borrows
  AccessLogEntry e = Typical();
  e.method = "POST /cds-services?x=1";
  e.route = raw_target;                           // raw path + query instead of the template
  e.service_id = "Patient/123 Jane Doe";          // something that is not a service id
  e.hook_instance = "Jane Doe, born 1970-01-01";  // not a UUID
  e.client_iss = authorization;                   // the Authorization header by mistake
  const std::string line = FormatAccessLogLine(e);
  for (const std::string& secret :
       {std::string("Jane"), std::string("Patient/123"), std::string("1970-01-01"),
        std::string("patient="), token, std::string("eyJ"), std::string("Bearer")}) {
    EXPECT_EQ(line.find(secret), std::string::npos) << secret << " leaked into " << line;
  }
  rapidjson::Document doc = ParseLine(line);
  EXPECT_STREQ(doc["method"].GetString(), "OTHER");
  EXPECT_STREQ(doc["route"].GetString(), "(invalid)");
  EXPECT_STREQ(doc["service"].GetString(), "(invalid)");
  EXPECT_STREQ(doc["hookInstance"].GetString(), "(invalid)");
  EXPECT_STREQ(doc["clientIss"].GetString(), "(invalid)");
}

TEST(AccessLogTest, EscapesAndOddNumbers) {
  AccessLogEntry e = Typical();
  e.client_iss = "https://ehr.example.org/\"quoted\"\\";
  e.duration_ms = std::numeric_limits<double>::quiet_NaN();
  rapidjson::Document doc = ParseLine(FormatAccessLogLine(e));
  EXPECT_STREQ(doc["clientIss"].GetString(), "https://ehr.example.org/\"quoted\"\\");
  EXPECT_EQ(doc["durationMs"].GetDouble(), -1);
}

// Issue 13: a refused authentication gets a line saying why and who the token claimed to be;
// nothing else of the request, and never the token even if a caller hands it over.
TEST(AuthRefusalLogTest, SaysWhyAndWhoButNeverTheToken) {
  AuthRefusalEntry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  e.route = "/cds-services/{id}";
  e.reason = "token expired";
  e.label = "expired";
  e.iss = "https://ehr.example.org";
  e.kid = "ehr-key-1";
  e.remote = "10.1.2.3";
  rapidjson::Document doc = ParseLine(FormatAuthRefusalLine(e));
  std::set<std::string> keys;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) keys.insert(it->name.GetString());
  EXPECT_EQ(keys, (std::set<std::string>{"time", "type", "route", "reason", "label", "iss", "kid",
                                         "remote"}));
  EXPECT_STREQ(doc["type"].GetString(), "auth_refusal");
  EXPECT_STREQ(doc["reason"].GetString(), "token expired");
  EXPECT_STREQ(doc["label"].GetString(), "expired");
  EXPECT_STREQ(doc["iss"].GetString(), "https://ehr.example.org");
  EXPECT_STREQ(doc["kid"].GetString(), "ehr-key-1");
  EXPECT_STREQ(doc["remote"].GetString(), "10.1.2.3");

  const std::string token = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln";
  const std::string bearer = "Bearer " + token;
  // The entry borrows (string_view): every string it points at must outlive the call.
  const std::string long_kid(200, 'k');
  const std::string route_with_token = "/cds-services?access_token=" + token;
  AuthRefusalEntry careless = e;
  careless.reason = bearer;  // the header by mistake, everywhere
  careless.iss = bearer;
  careless.kid = long_kid;
  careless.remote = bearer;
  careless.route = route_with_token;
  const std::string line = FormatAuthRefusalLine(careless);
  EXPECT_EQ(line.find("eyJ"), std::string::npos) << line;
  rapidjson::Document bad = ParseLine(line);
  EXPECT_STREQ(bad["iss"].GetString(), "(invalid)");
  EXPECT_STREQ(bad["kid"].GetString(), "(invalid)");
  AuthRefusalEntry unknown = e;
  unknown.iss = {};
  unknown.kid = {};
  rapidjson::Document nulls = ParseLine(FormatAuthRefusalLine(unknown));
  EXPECT_TRUE(nulls["iss"].IsNull());
  EXPECT_TRUE(nulls["kid"].IsNull());
}

TEST(AccessLogTest, Rfc3339Millis) {
  EXPECT_EQ(FormatRfc3339Millis(std::chrono::system_clock::time_point()),
            "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(
                std::chrono::system_clock::time_point(std::chrono::milliseconds(951782400999))),
            "2000-02-29T00:00:00.999Z");
}

// The formatter computes the civil date itself: it must agree with the C library's gmtime on
// every kind of day (leap days, century rules, year ends, before 1970) and every millisecond,
// within system_clock's range here (nanoseconds in 64 bits: 1677 to 2262).
TEST(AccessLogTest, Rfc3339MillisAgreesWithGmtime) {
  std::vector<std::int64_t> samples_ms = {
      -1, -999, -1000, -86400000, -2208988800000, 951782400000 - 1, 4107542399999};
  for (std::int64_t ms = -4102444800000; ms < 4102444800000;
       ms += 86400000LL * 97 + 3600000 * 5 + 60000 * 7 + 1009)
    samples_ms.push_back(ms);
  for (const std::int64_t ms : samples_ms) {
    std::int64_t secs = ms / 1000, millis = ms % 1000;
    if (millis < 0) millis += 1000, secs -= 1;
    const std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
    char expected[80];
    std::snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    EXPECT_EQ(
        FormatRfc3339Millis(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))),
        expected)
        << "ms=" << ms;
  }
}

}  // namespace
}  // namespace cephalgia::hooks::metrics
