// ABI 1.1 against packs of both minors, through real .so files: a pack built from the frozen
// ABI 1.0 header (packs/legacy_1_0_pack.cc, abi_1_0/) loads, is called through `evaluate` with
// the fetched parts merged into its request and the host's gaps as options, and answers through
// the service; the SDK-built echo pack takes the parts beside the untouched request.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "cephalgia/hooks/cds_service.h"
#include "cephalgia/plugin/pack_registry.h"

namespace cephalgia::plugin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPackRoot = TEST_PACK_ROOT;

const std::string kRequest =
    R"({"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",)"
    R"("context":{"userId":"Practitioner/1","patientId":"p1"},)"
    R"("prefetch":{"patient":{"resourceType":"Patient","id":"p1"},)"
    R"("conditions":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition"}}],)"
    R"("link":[{"relation":"next","url":"http://ehr.test/fhir/page2"}]}}})";

TEST(PackAbiCompatTest, APackBuiltFromTheFrozen10HeaderLoadsWithoutEvaluateParts) {
  PackRegistry registry;
  auto report = LoadPackDirectory(kPackRoot + "/legacy", {}, registry);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->loaded.size(), 1u);
  EXPECT_TRUE(report->refused.empty());
  const ServiceEntry* entry = registry.FindService("legacy-patient-view");
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(entry->pack->takes_parts());
}

TEST(PackAbiCompatTest, A10PackGetsThePartsMergedAndTheGapsAsOptions) {
  PackRegistry registry;
  ASSERT_TRUE(LoadPackDirectory(kPackRoot + "/legacy", {}, registry).ok());
  const ServiceEntry* entry = registry.FindService("legacy-patient-view");
  ASSERT_NE(entry, nullptr);
  const PackPart parts[] = {
      {"conditions",
       R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition"}},)"
       R"({"resource":{"resourceType":"Condition"}}]})",
       /*more_pages=*/true},
      {"observations", R"({"resourceType":"Bundle","entry":[]})", /*more_pages=*/false}};
  const PackGap gaps[] = {{"allergies", "could not be fetched: timeout", false},
                          {"conditions", "page cap", true}};
  PackCall call{"legacy-patient-view", kRequest, "2026-03-01T10:00:00Z", parts, gaps};
  auto answer = entry->pack->Evaluate(call);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  std::string json(answer->json());
  // The remaining pages extend the first (3 entries, the next link gone); a fetched key is added.
  EXPECT_THAT(json, HasSubstr("legacy prefetch=patient,conditions(3),observations(0) "));
  EXPECT_THAT(json, HasSubstr(R"(\"now\":\"2026-03-01T10:00:00Z\")"));
  EXPECT_THAT(
      json,
      HasSubstr(
          R"(\"unavailablePrefetch\":[{\"key\":\"allergies\",\"reason\":\"could not be fetched: timeout\"}])"));
  EXPECT_THAT(
      json, HasSubstr(R"(\"partialPrefetch\":[{\"key\":\"conditions\",\"reason\":\"page cap\"}])"));

  // Without parts the request reaches the pack as the client sent it (the link is still there).
  PackCall plain{"legacy-patient-view", kRequest, "2026-03-01T10:00:00Z", {}, {}};
  auto untouched = entry->pack->Evaluate(plain);
  ASSERT_TRUE(untouched.ok()) << untouched.status().ToString();
  EXPECT_THAT(std::string(untouched->json()), HasSubstr("conditions(1)+link"));
  EXPECT_THAT(std::string(untouched->json()), Not(HasSubstr("Prefetch")));
}

TEST(PackAbiCompatTest, A10PackAnswersThroughTheService) {
  PackRegistry registry;
  ASSERT_TRUE(LoadPackDirectory(kPackRoot + "/legacy", {}, registry).ok());
  hooks::ServiceOptions options;
  options.fixed_now = "2026-03-01T10:00:00Z";
  hooks::CdsService service(registry, options, nullptr);
  hooks::HttpRequest request;
  request.method = "POST";
  request.target = "/cds-services/legacy-patient-view";
  request.headers = {{"Content-Type", "application/json"}};
  // No conditions and no fhirServer: the host reports the gap; the pack answers with it.
  request.body = R"({"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",)"
                 R"("context":{"userId":"Practitioner/1","patientId":"p1"},)"
                 R"("prefetch":{"patient":{"resourceType":"Patient","id":"p1"}}})";
  hooks::HttpResponse response = service.Handle(request);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.body, HasSubstr("legacy prefetch=patient options="));
  EXPECT_THAT(
      response.body,
      HasSubstr(
          R"(\"key\":\"conditions\",\"reason\":\"not prefetched; no fhirServer to fetch it from\")"));
  // Its validation is the host's: a 400 with the location, before the pack is called.
  request.body =
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1"}})";
  hooks::HttpResponse invalid = service.Handle(request);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_THAT(invalid.body, HasSubstr("context.patientId"));
}

TEST(PackAbiCompatTest, AnSdkPackTakesThePartsBesideTheUntouchedRequest) {
  PackRegistry registry;
  ASSERT_TRUE(LoadPackDirectory(kPackRoot + "/good", {}, registry).ok());
  const ServiceEntry* entry = registry.FindService("echo-patient-view");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->pack->takes_parts());
  const PackPart parts[] = {
      {"conditions", R"({"resourceType":"Bundle","entry":[{}, {}]})", /*more_pages=*/true},
      {"patient", R"({"resourceType":"Patient","id":"p1","entry":[]})", /*more_pages=*/false}};
  const PackGap gaps[] = {{"allergies", "timeout", false}};
  PackCall call{"echo-patient-view", kRequest, "2026-03-01T10:00:00Z", parts, gaps};
  auto answer = entry->pack->Evaluate(call);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_THAT(std::string(answer->json()),
              HasSubstr("keys=patient(0),conditions(3) gaps=unavailable:allergies; "
                        "now=2026-03-01T10:00:00Z"));
}

}  // namespace
}  // namespace cephalgia::plugin
