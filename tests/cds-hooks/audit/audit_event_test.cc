// The audit trail's AuditEvent lines (issue 16): FHIR R4 AuditEvent in the IHE BALP shape, with
// who/what/when/outcome, and nothing that is not an identifier.
#include "cephalgia/hooks/audit/audit_event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cephalgia::hooks::audit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

AuditRecord TypicalCall() {
  AuditRecord r;
  r.kind = AuditKind::kHookCall;
  r.start = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796000000123));
  r.duration = std::chrono::microseconds(2500);
  r.http_status = 200;
  r.client_iss = "https://ehr.example.org";
  r.client_sub = "ehr-client-42";
  r.remote_address = "10.1.2.3";
  r.server_base = "https://cds.example.org";
  r.service_id = "headache-patient-view";
  r.hook = "patient-view";
  r.patient = "Patient/123";
  r.hook_instance = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea";
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  r.cards = {{"0190c3e2-6c2e-7d8a-9b1c-2d3e4f506172", "thunderclap_onset"},
             {"0190c3e2-6c2e-7d8a-9b1c-2d3e4f506173", "migraine"}};
  return r;
}

rapidjson::Document Parse(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.c_str(), line.size());
  EXPECT_FALSE(doc.HasParseError()) << line;
  EXPECT_TRUE(doc.IsObject()) << line;
  return doc;
}

// The entity whose what.identifier.system is `system`, in order.
std::vector<const rapidjson::Value*> Entities(const rapidjson::Document& doc,
                                              const std::string& system) {
  std::vector<const rapidjson::Value*> out;
  for (const auto& e : doc["entity"].GetArray()) {
    if (e["what"].HasMember("identifier") &&
        e["what"]["identifier"]["system"].GetString() == system) {
      out.push_back(&e);
    }
  }
  return out;
}

TEST(AuditEventTest, AHookCallHasWhoWhatWhenAndOutcome) {
  rapidjson::Document doc = Parse(FormatAuditEvent(TypicalCall()));
  EXPECT_STREQ(doc["resourceType"].GetString(), "AuditEvent");
  // R4 cardinalities: type 1..1, recorded 1..1, agent 1..*, agent.requestor 1..1, source 1..1.
  EXPECT_STREQ(doc["type"]["code"].GetString(), "rest");
  EXPECT_STREQ(doc["subtype"][0]["code"].GetString(), "cds-hook-call");
  EXPECT_STREQ(doc["action"].GetString(), "E");
  EXPECT_STREQ(doc["period"]["start"].GetString(), "2026-11-30T00:53:20.123Z");
  EXPECT_STREQ(doc["period"]["end"].GetString(), "2026-11-30T00:53:20.125Z");
  EXPECT_TRUE(doc["recorded"].IsString());
  EXPECT_STREQ(doc["outcome"].GetString(), "0");
  EXPECT_FALSE(doc.HasMember("outcomeDesc"));
  ASSERT_EQ(doc["agent"].Size(), 2u);
  const auto& client = doc["agent"][0];
  EXPECT_STREQ(client["type"]["coding"][0]["code"].GetString(), "110153");
  EXPECT_STREQ(client["who"]["identifier"]["value"].GetString(), "https://ehr.example.org");
  EXPECT_STREQ(client["altId"].GetString(), "ehr-client-42") << "the token's sub";
  EXPECT_TRUE(client["requestor"].GetBool());
  EXPECT_STREQ(client["network"]["address"].GetString(), "10.1.2.3");
  const auto& server = doc["agent"][1];
  EXPECT_STREQ(server["type"]["coding"][0]["code"].GetString(), "110152");
  EXPECT_FALSE(server["requestor"].GetBool());
  EXPECT_STREQ(server["who"]["identifier"]["value"].GetString(), "https://cds.example.org");
  EXPECT_STREQ(doc["source"]["observer"]["display"].GetString(), "cephalgia");

  const auto& patient = doc["entity"][0];
  EXPECT_STREQ(patient["what"]["reference"].GetString(), "Patient/123");
  EXPECT_STREQ(patient["role"]["code"].GetString(), "1");
  auto transaction = Entities(doc, "urn:cephalgia:hook-instance");
  ASSERT_EQ(transaction.size(), 1u);
  EXPECT_STREQ((*transaction[0])["what"]["identifier"]["value"].GetString(),
               "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea");
  EXPECT_THAT(
      FormatAuditEvent(TypicalCall()),
      HasSubstr(
          R"({"type":"traceparent","valueString":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})"));
  EXPECT_THAT(FormatAuditEvent(TypicalCall()),
              HasSubstr(R"({"type":"hook","valueString":"patient-view"})"));
  auto service = Entities(doc, "urn:cephalgia:cds-service");
  ASSERT_EQ(service.size(), 1u);
  EXPECT_STREQ((*service[0])["what"]["identifier"]["value"].GetString(), "headache-patient-view");
  auto cards = Entities(doc, "urn:cephalgia:card");
  ASSERT_EQ(cards.size(), 2u);
  EXPECT_STREQ((*cards[0])["what"]["identifier"]["value"].GetString(),
               "0190c3e2-6c2e-7d8a-9b1c-2d3e4f506172");
  EXPECT_STREQ((*cards[0])["detail"][0]["type"].GetString(), "ruleId");
  EXPECT_STREQ((*cards[0])["detail"][0]["valueString"].GetString(), "thunderclap_onset");
  EXPECT_STREQ((*cards[1])["detail"][0]["valueString"].GetString(), "migraine");
}

TEST(AuditEventTest, UnauthenticatedClientsAndFailuresAreSaidSo) {
  AuditRecord r = TypicalCall();
  r.client_iss.clear();
  r.http_status = 412;
  r.cards.clear();
  rapidjson::Document doc = Parse(FormatAuditEvent(r));
  EXPECT_STREQ(doc["agent"][0]["who"]["identifier"]["value"].GetString(), "unauthenticated");
  EXPECT_STREQ(doc["outcome"].GetString(), "4");
  EXPECT_STREQ(doc["outcomeDesc"].GetString(), "HTTP 412");
  r.http_status = 500;
  EXPECT_STREQ(Parse(FormatAuditEvent(r))["outcome"].GetString(), "8");
}

TEST(AuditEventTest, FeedbackNamesEachCardAndItsOutcome) {
  AuditRecord r = TypicalCall();
  r.kind = AuditKind::kFeedback;
  r.patient.clear();
  r.cards.clear();
  r.feedback = {{"0190c3e2-6c2e-7d8a-9b1c-2d3e4f506172", "accepted"}};
  rapidjson::Document doc = Parse(FormatAuditEvent(r));
  EXPECT_STREQ(doc["subtype"][0]["code"].GetString(), "cds-feedback");
  EXPECT_STREQ(doc["action"].GetString(), "C");
  auto cards = Entities(doc, "urn:cephalgia:card");
  ASSERT_EQ(cards.size(), 1u);
  EXPECT_STREQ((*cards[0])["detail"][0]["type"].GetString(), "feedbackOutcome");
  EXPECT_STREQ((*cards[0])["detail"][0]["valueString"].GetString(), "accepted");
  for (const auto& e : doc["entity"].GetArray()) EXPECT_FALSE(e["what"].HasMember("reference"));
}

TEST(AuditEventTest, ValuesOutsideTheirAlphabetAreNotWritten) {
  AuditRecord r = TypicalCall();
  r.patient = "Patient/1\",\"injected\":\"x";
  r.client_iss = "https://ehr.example.org/ with blank";
  r.hook_instance = std::string(5000, 'a');
  const std::string line = FormatAuditEvent(r);
  EXPECT_THAT(line, Not(HasSubstr("injected")));
  EXPECT_THAT(line, Not(HasSubstr("with blank")));
  EXPECT_THAT(line, Not(HasSubstr(std::string(100, 'a'))));
  rapidjson::Document doc = Parse(line);
  EXPECT_STREQ(doc["entity"][0]["what"]["reference"].GetString(), "(invalid)");
}

TEST(AuditSinkTest, WritesOneLinePerEventToAnAppendOnlyFile) {
  const fs::path path =
      fs::temp_directory_path() / ("cephalgia-audit-" + std::to_string(::getpid()) + ".jsonl");
  fs::remove(path);
  {
    auto sink = AuditSink::Open(path.string());
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    EXPECT_TRUE((*sink)->enabled());
    (*sink)->Write(TypicalCall());
    (*sink)->Write(TypicalCall());
  }
  {
    auto again = AuditSink::Open(path.string());  // reopened: appends
    ASSERT_TRUE(again.ok());
    (*again)->Write(TypicalCall());
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    Parse(line);
    ++lines;
  }
  EXPECT_EQ(lines, 3);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0640, 0u) << "the audit log must not be readable by others";
  fs::remove(path);
}

TEST(AuditSinkTest, OffWritesNothingAndAnUnwritablePathIsAStartUpError) {
  auto off = AuditSink::Open("off");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE((*off)->enabled());
  (*off)->Write(TypicalCall());
  auto bad = AuditSink::Open("/nonexistent-dir/audit.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("/nonexistent-dir/audit.jsonl"));
}

}  // namespace
}  // namespace cephalgia::hooks::audit
