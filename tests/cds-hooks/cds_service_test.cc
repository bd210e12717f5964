// The CDS Hooks service as a plain function: routing, validation, errors, prefetch rules and
// CORS, tested without a socket against the echo pack (which knows nothing about headache).
#include "cephalgia/hooks/cds_service.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "cephalgia/hooks/fhir_fetcher.h"
#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"

extern "C" const cephalgia_rule_pack_v1* cephalgia_static_pack_echo(const cephalgia_host_api*);

namespace cephalgia::hooks {
namespace {

using ::testing::HasSubstr;

class CdsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pack =
        plugin::LoadedPack::Create(cephalgia_static_pack_echo(nullptr), "static:echo", "", "{}");
    ASSERT_TRUE(pack.ok()) << pack.status().ToString();
    ASSERT_TRUE(registry_.Add(std::move(*pack)).ok());
    ServiceOptions options;
    options.fixed_now = "2026-03-01T10:00:00Z";
    options.max_body_bytes = 64 * 1024;
    service_ = std::make_unique<CdsService>(registry_, options, nullptr);
  }

  HttpResponse Post(const std::string& path, const std::string& body) const {
    HttpRequest r;
    r.method = "POST";
    r.target = path;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = body;
    return service_->Handle(r);
  }
  HttpResponse Get(const std::string& path) const {
    HttpRequest r;
    r.method = "GET";
    r.target = path;
    return service_->Handle(r);
  }

  // The OperationOutcome's diagnostics and expression[0] of an error response.
  static std::pair<std::string, std::string> Issue(const HttpResponse& response) {
    auto doc = json::ParseUntrusted(response.body);
    EXPECT_TRUE(doc.ok());
    EXPECT_EQ(json::GetString(*doc, "resourceType"), "OperationOutcome");
    const auto& issue = (*doc)["issue"][0];
    std::string where;
    if (const auto* e = json::GetArray(issue, "expression")) where = (*e)[0].GetString();
    return {std::string(json::GetString(issue, "diagnostics").value_or("")), where};
  }

  static std::string Request(const std::string& prefetch_and_more) {
    return R"({"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
      "context":{"userId":"Practitioner/1","patientId":"p1"})" +
           prefetch_and_more + "}";
  }

  plugin::PackRegistry registry_;
  std::unique_ptr<CdsService> service_;
};

// Checklist B.10-B.17: discovery at /cds-services, an object with a services array, no empty
// values, prefetch templates as strings in the pack's order.
TEST_F(CdsServiceTest, B10_DiscoveryListsThePackServices) {
  HttpResponse r = Get("/cds-services");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.content_type, HasSubstr("application/json"));
  EXPECT_EQ(
      r.body,
      R"({"services":[{"hook":"patient-view","title":"Echo","description":"Echoes what the host passed (test pack).","id":"echo-patient-view","prefetch":{"patient":"Patient/{{context.patientId}}","conditions":"Condition?patient={{context.patientId}}"}}]})");
}

TEST_F(CdsServiceTest, C24_ServiceCallReturnsTheCards) {
  HttpResponse r = Post(
      "/cds-services/echo-patient-view",
      Request(R"(,"prefetch":{"patient":{"resourceType":"Patient","id":"p1"},"conditions":null})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("summary":"Echo card")"));
  EXPECT_THAT(r.body, HasSubstr("keys=patient,conditions"));
  EXPECT_THAT(r.body, HasSubstr("now=2026-03-01T10:00:00Z"));
}

// The host reads each card's uuid, indicator and source.topic.code from the pack's answer (for
// metrics, the audit trail and the issued-card store) and checks the rest of it without reading
// it: the echo pack's answer is one card.
TEST_F(CdsServiceTest, C24_TheAnswersCardsAreReadForTheRecord) {
  HttpRequest r;
  r.method = "POST";
  r.target = "/cds-services/echo-patient-view";
  r.headers = {{"Content-Type", "application/json"}};
  r.body =
      Request(R"(,"prefetch":{"patient":{"resourceType":"Patient","id":"p1"},"conditions":null})");
  CallInfo info;
  HttpOutcome outcome = service_->Serve(r, info);
  ASSERT_FALSE(outcome.deferred());
  ASSERT_EQ(outcome.response.status, 200) << outcome.response.body;
  EXPECT_EQ(info.cards, (std::vector<std::pair<std::string, std::string>>{{"echo", "info"}}));
  ASSERT_EQ(info.card_uuids.size(), 1u);
  EXPECT_TRUE(IsRfc4122Uuid(info.card_uuids[0])) << info.card_uuids[0];
  EXPECT_THAT(outcome.response.body, HasSubstr(R"("uuid":")" + info.card_uuids[0] + "\""));
}

// Card fields with escapes are decoded by the tokenizer into a buffer of its own (or read by
// RapidJSON's reader when the tokenizer leaves the answer to it): what the host keeps is a copy
// made before the next string, for every card.
TEST_F(CdsServiceTest, C24_EscapedCardFieldsAreReadDecoded) {
  for (const char* patient : {"emit-escaped-cards", "emit-escaped-cards-fallback"}) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/cds-services/echo-patient-view";
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",)"
             R"("context":{"userId":"Practitioner/1","patientId":")" +
             std::string(patient) +
             R"("},"prefetch":{"patient":{"resourceType":"Patient","id":"p1"},"conditions":null}})";
    CallInfo info;
    HttpOutcome outcome = service_->Serve(r, info);
    ASSERT_FALSE(outcome.deferred());
    ASSERT_EQ(outcome.response.status, 200) << patient << ": " << outcome.response.body;
    EXPECT_EQ(info.cards, (std::vector<std::pair<std::string, std::string>>{{"r\"1", "info"},
                                                                            {"r\xc3\xa9"
                                                                             "2",
                                                                             "warning"}}))
        << patient;
    EXPECT_EQ(info.card_uuids, (std::vector<std::string>{"abc", "d\\e"})) << patient;
  }
}

TEST_F(CdsServiceTest, G79_UnknownServiceIs404WithAJsonBody) {
  HttpResponse r = Post("/cds-services/nope", Request(""));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(Issue(r).first, HasSubstr("no CDS service with id 'nope'"));
  EXPECT_EQ(Get("/not-cds").status, 404);
  EXPECT_EQ(Get("/cds-services/echo-patient-view/other").status, 404);
}

TEST_F(CdsServiceTest, G79_WrongMethodIs405) {
  EXPECT_EQ(Get("/cds-services/echo-patient-view").status, 405);
  EXPECT_EQ(Post("/cds-services", "{}").status, 405);
  EXPECT_EQ(Get("/cds-services/echo-patient-view/feedback").status, 405);
}

// RFC 9110 15.5.6: a 405 MUST name the methods the resource has, in `Allow`; 9.3.2: HEAD is
// answered wherever GET is (load balancers probe with it), the transport leaving out the body.
TEST_F(CdsServiceTest, G79_A405NamesTheAllowedMethodsAndHeadIsAnsweredLikeGet) {
  auto allow = [](const HttpResponse& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Allow") return value;
    }
    return std::string("(none)");
  };
  HttpResponse get_on_service = Get("/cds-services/echo-patient-view");
  EXPECT_EQ(get_on_service.status, 405);
  EXPECT_EQ(allow(get_on_service), "POST, OPTIONS");
  EXPECT_THAT(Issue(get_on_service).first, HasSubstr("GET is not allowed on "
                                                     "/cds-services/echo-patient-view; use POST"));
  HttpResponse post_on_discovery = Post("/cds-services", "{}");
  EXPECT_EQ(post_on_discovery.status, 405);
  EXPECT_EQ(allow(post_on_discovery), "GET, HEAD, OPTIONS");
  EXPECT_THAT(Issue(post_on_discovery).first, HasSubstr("use GET"));
  EXPECT_EQ(allow(Get("/cds-services/echo-patient-view/feedback")), "POST, OPTIONS");
  HttpRequest put;
  put.method = "PUT";
  put.target = "/livez";
  EXPECT_EQ(allow(service_->Handle(put)), "GET, HEAD, OPTIONS");

  HttpRequest head;
  head.method = "HEAD";
  for (const char* path : {"/cds-services", "/livez", "/readyz"}) {
    head.target = path;
    HttpResponse by_head = service_->Handle(head);
    HttpResponse by_get = Get(path);
    EXPECT_EQ(by_head.status, 200) << path;
    EXPECT_EQ(by_head.body, by_get.body) << path;  // the transport sends its length, not its bytes
  }
}

TEST_F(CdsServiceTest, G79_MalformedJsonIs400AndSaysWhere) {
  HttpResponse r = Post("/cds-services/echo-patient-view", R"({"hook": "patient-view",)");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(Issue(r).first, HasSubstr("malformed JSON"));
  EXPECT_THAT(Issue(r).first, HasSubstr("at byte"));
}

// An escape of half a UTF-16 surrogate pair, as a Condition's text might carry from a cut
// UTF-16 string (fuzz reproducer hook_request/lone-low-surrogate-echoed-into-answer): the client
// hears that its JSON is malformed and where, and no pack ever sees the text.
TEST_F(CdsServiceTest, G79_AnUnpairedSurrogateEscapeIs400NotAnAnswerTheHostRefuses) {
  HttpResponse r = Post("/cds-services/echo-patient-view",
                        R"({"hook":"patient-view","hookInstance":"h1","context":)"
                        R"({"userId":"Practitioner/1","patientId":"p1"},"prefetch":{"conditions":)"
                        R"({"resourceType":"Condition","id":"c1","code":{"text":"Fh\uDFFFoD"}}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(Issue(r).first, HasSubstr("malformed JSON"));
  EXPECT_THAT(Issue(r).first, HasSubstr("unpaired UTF-16 surrogate"));
  EXPECT_THAT(Issue(r).first, HasSubstr("at byte 179"));  // where the escape starts
}

TEST_F(CdsServiceTest, C25_WrongHookIs400) {
  HttpResponse r = Post("/cds-services/echo-patient-view",
                        R"({"hook":"order-sign","hookInstance":"x","context":{}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Issue(r).second, "hook");
}

TEST_F(CdsServiceTest, C26_HookInstanceIsRequired) {
  HttpResponse r =
      Post("/cds-services/echo-patient-view",
           R"({"hook":"patient-view","context":{"userId":"Practitioner/1","patientId":"p"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Issue(r).second, "hookInstance");
}

TEST_F(CdsServiceTest, I88_MissingRequiredContextFieldIs400WithItsPath) {
  HttpResponse r =
      Post("/cds-services/echo-patient-view",
           R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Issue(r).second, "context.patientId");
  HttpResponse typed = Post(
      "/cds-services/echo-patient-view",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":7}})");
  EXPECT_EQ(typed.status, 400);
  EXPECT_THAT(Issue(typed).first, HasSubstr("must be a non-empty string"));
}

TEST_F(CdsServiceTest, I90_IdsThatWouldChangeAFhirUrlAre400) {
  for (const char* bad : {"../Observation", "1?_has=x", "a b", "p/1", ""}) {
    HttpResponse r = Post(
        "/cds-services/echo-patient-view",
        R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":")" +
            std::string(bad) + R"("}})");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Issue(r).second, "context.patientId") << bad;
  }
  HttpResponse user = Post(
      "/cds-services/echo-patient-view",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"1234","patientId":"p1"}})");
  EXPECT_EQ(user.status, 400);
  EXPECT_EQ(Issue(user).second, "context.userId");
}

TEST_F(CdsServiceTest, C28_FhirAuthorizationWithoutFhirServerIs400) {
  HttpResponse r =
      Post("/cds-services/echo-patient-view",
           Request(R"(,"fhirAuthorization":{"access_token":"t","token_type":"Bearer"})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Issue(r).second, "fhirServer");
  HttpResponse bad_type = Post(
      "/cds-services/echo-patient-view",
      Request(
          R"(,"fhirServer":"https://ehr.test/fhir","fhirAuthorization":{"access_token":"t","token_type":"MAC"})"));
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_EQ(Issue(bad_type).second, "fhirAuthorization.token_type");
}

TEST_F(CdsServiceTest, A8_UnknownFieldsAndExtensionsAreAccepted) {
  HttpResponse r = Post(
      "/cds-services/echo-patient-view",
      Request(
          R"(,"extension":{"org.example.x":{"a":1}},"user":"Practitioner/1","somethingNew":true,"prefetch":{"patient":{"resourceType":"Patient","id":"p1"}})"));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(CdsServiceTest, E42_NullPrefetchForARequiredReadIs412) {
  HttpResponse r =
      Post("/cds-services/echo-patient-view", Request(R"(,"prefetch":{"patient":null})"));
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Issue(r).second, "prefetch.patient");
}

TEST_F(CdsServiceTest, E50_MissingRequiredPrefetchWithoutFhirServerIs412) {
  HttpResponse r = Post("/cds-services/echo-patient-view", Request(""));
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(Issue(r).first, HasSubstr("no fhirServer"));
  auto doc = json::ParseUntrusted(r.body);
  EXPECT_EQ(json::GetString((*doc)["issue"][0], "code"), "incomplete");
}

TEST_F(CdsServiceTest, E43_OperationOutcomeInPlaceOfRequiredDataIs412) {
  HttpResponse r =
      Post("/cds-services/echo-patient-view",
           Request(R"(,"prefetch":{"patient":{"resourceType":"OperationOutcome","issue":[]}})"));
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(Issue(r).first, HasSubstr("OperationOutcome"));
}

TEST_F(CdsServiceTest, E81_MissingOptionalPrefetchIsReportedToThePack) {
  HttpResponse r = Post("/cds-services/echo-patient-view",
                        Request(R"(,"prefetch":{"patient":{"resourceType":"Patient","id":"p1"}})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("unavailable:conditions;"));
}

TEST_F(CdsServiceTest, E41_ARequiredReadUnderAnotherKeyNameCounts) {
  // The spec's own example sends the Patient as `patientToGreet`.
  HttpResponse r =
      Post("/cds-services/echo-patient-view",
           Request(R"(,"prefetch":{"patientToGreet":{"resourceType":"Patient","id":"p1"}})"));
  ASSERT_EQ(r.status, 200) << r.body;
  // A different patient under another key does not count.
  HttpResponse other =
      Post("/cds-services/echo-patient-view",
           Request(R"(,"prefetch":{"x":{"resourceType":"Patient","id":"someone-else"}})"));
  EXPECT_EQ(other.status, 412);
}

TEST_F(CdsServiceTest, E44_PagedPrefetchWithoutFhirServerIsPartial) {
  HttpResponse r = Post("/cds-services/echo-patient-view", Request(R"(,"prefetch":{
      "patient":{"resourceType":"Patient","id":"p1"},
      "conditions":{"resourceType":"Bundle","type":"searchset","entry":[],
        "link":[{"relation":"next","url":"https://ehr.test/fhir/Condition?page=2"}]}})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("partial:conditions;"));
}

TEST_F(CdsServiceTest, C27_PlainHttpFhirServerOffLoopbackIsNotUsed) {
  // Answered from prefetch; the missing key is reported, not fetched over plain http.
  HttpResponse r = Post("/cds-services/echo-patient-view",
                        Request(R"(,"fhirServer":"http://ehr.example.org/fhir",
                                   "prefetch":{"patient":{"resourceType":"Patient","id":"p1"}})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("unavailable:conditions;"));
  // Without the required key it is a 412 that says why the server was not used.
  HttpResponse missing = Post("/cds-services/echo-patient-view",
                              Request(R"(,"fhirServer":"http://ehr.example.org/fhir")"));
  EXPECT_EQ(missing.status, 412);
  EXPECT_THAT(Issue(missing).first, HasSubstr("is plain http"));
}

// Records what it was asked to fetch, and answers every query with an empty searchset.
class RecordingFetcher : public FhirFetcher {
 public:
  struct Call {
    std::string fhir_server;
    std::string token;
  };
  std::vector<FetchResult> FetchAll(std::string_view fhir_server,
                                    const std::optional<std::string>& bearer_token,
                                    const std::vector<FetchQuery>& queries) override {
    calls.push_back({std::string(fhir_server), bearer_token.value_or("")});
    std::vector<FetchResult> results;
    for (const FetchQuery& q : queries) {
      FetchResult r;
      r.key = q.key;
      r.document.Parse(R"({"resourceType":"Bundle","type":"searchset","entry":[]})");
      results.push_back(std::move(r));
    }
    return results;
  }
  std::vector<Call> calls;
};

// Issue 13: the loopback exception for plain http is decided on the host libcurl connects to.
// `http://127.0.0.1@HOST/` connects to HOST (and is refused for its user info anyway),
// `http://127.0.0.1.evil.example/` is not loopback: neither gets the EHR's token. The call is
// answered from its prefetch and says what was missing, as for any plain-http server.
TEST_F(CdsServiceTest, C27_AFhirServerThatOnlyLooksLocalGetsNoToken) {
  RecordingFetcher fetcher;
  ServiceOptions options;
  options.fixed_now = "2026-03-01T10:00:00Z";
  CdsService service(registry_, options, &fetcher);
  auto call = [&](const std::string& fhir_server) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/cds-services/echo-patient-view";
    r.body = Request(R"(,"fhirServer":")" + fhir_server + R"(",
        "fhirAuthorization":{"access_token":"ehr-secret-token","token_type":"Bearer",
                             "expires_in":300,"scope":"patient/*.read","subject":"cds"},
        "prefetch":{"patient":{"resourceType":"Patient","id":"p1"}})");
    return service.Handle(r);
  };
  for (const std::string fhir_server :
       {"http://127.0.0.1@ehr.example.org/fhir", "http://localhost:1@ehr.example.org/fhir",
        "http://[::1]@ehr.example.org/fhir", "http://127.0.0.1.evil.example/fhir",
        "http://localhost.evil.example/fhir", "http://127.0.0.1:8080@ehr.example.org:8080/fhir",
        "https://127.0.0.1@ehr.example.org/fhir"}) {
    HttpResponse r = call(fhir_server);
    ASSERT_EQ(r.status, 200) << fhir_server << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("unavailable:conditions;")) << fhir_server;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("ehr-secret-token")));
  }
  EXPECT_TRUE(fetcher.calls.empty()) << "fetched from " << fetcher.calls.front().fhir_server;
  // Literal loopback addresses and `localhost` itself are still used, with the token.
  for (const std::string fhir_server : {"http://127.0.0.1:9/fhir", "http://127.5.6.7:9/fhir",
                                        "http://[::1]:9/fhir", "http://localhost:9/fhir"}) {
    HttpResponse r = call(fhir_server);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("unavailable:conditions;"))) << fhir_server;
  }
  ASSERT_EQ(fetcher.calls.size(), 4u);
  EXPECT_EQ(fetcher.calls.back().token, "ehr-secret-token");
}

// Issue 13: ids made only of dots are refused where they are given, so
// `Patient/{{context.patientId}}` can never become `Patient/..` (a request to the FHIR base, with
// the token).
TEST_F(CdsServiceTest, C29_IdsOfOnlyDotsAreRefusedWithTheirLocation) {
  for (const char* id : {".", "..", "..."}) {
    HttpResponse r =
        Post("/cds-services/echo-patient-view",
             R"({"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                              "context":{"userId":"Practitioner/1","patientId":")" +
                 std::string(id) + R"("}})");
    EXPECT_EQ(r.status, 400) << id;
    EXPECT_EQ(Issue(r).second, "context.patientId") << id;
    HttpResponse user =
        Post("/cds-services/echo-patient-view",
             R"({"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                                 "context":{"userId":"Practitioner/)" +
                 std::string(id) + R"(","patientId":"p1"}})");
    EXPECT_EQ(user.status, 400) << id;
    EXPECT_EQ(Issue(user).second, "context.userId") << id;
  }
  auto encounter = json::ParseUntrusted(
      R"({"hook":"encounter-start","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","encounterId":".."}})");
  ASSERT_TRUE(encounter.ok());
  Status s = ValidateHookRequest(*encounter, "encounter-start");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.location(), "context.encounterId");
  // Ids with dots inside are still ids.
  EXPECT_EQ(
      Post("/cds-services/echo-patient-view",
           Request(
               R"(,"prefetch":{"patient":{"resourceType":"Patient","id":"p1"},"conditions":null})"))
          .status,
      200);
}

// The prefetch template path is guarded too: a template may name any primitive context field.
TEST(PrefetchTest, Issue13_PathValuesThatWouldChangeTheResourceAreNotSubstituted) {
  auto context = json::ParseUntrusted(
      R"({"patientId":"p1","a":"..","b":".","c":"x/../..","d":"%2e%2e","e":"a?b","f":"a#b","g":"a\\b","h":"","i":"ok.id-1"})");
  ASSERT_TRUE(context.ok());
  for (const char* field : {"a", "b", "c", "d", "e", "f", "g", "h"}) {
    auto url = ExpandPrefetchTemplate(std::string("Patient/{{context.") + field + "}}", *context);
    EXPECT_FALSE(url.ok()) << field << " -> " << (url.ok() ? *url : "");
  }
  EXPECT_EQ(*ExpandPrefetchTemplate("Patient/{{context.i}}", *context), "Patient/ok.id-1");
  // In the query part the value is percent-encoded data, never a path: `..` is harmless there.
  EXPECT_EQ(*ExpandPrefetchTemplate("Condition?patient={{context.a}}", *context),
            "Condition?patient=..");
}

// Issue 13: with an admin token, /metrics and /admin/feedback need it (401 without, from
// anywhere); without one, and client authentication required, they answer loopback clients only.
TEST_F(CdsServiceTest, AdminEndpointsNeedTheAdminTokenOrALoopbackClient) {
  ServiceHooks hooks;
  hooks.metrics_text = [] { return std::string("cephalgia_up 1\n"); };
  hooks.feedback_summary_json = []() -> Result<std::string> { return std::string("{}"); };
  auto get = [](const std::string& path, const std::string& remote, const std::string& auth) {
    HttpRequest r;
    r.method = "GET";
    r.target = path;
    r.remote_address = remote;
    if (!auth.empty()) r.headers = {{"Authorization", auth}};
    return r;
  };
  const std::string admin = "0123456789abcdef-admin";
  ServiceOptions with_token;
  with_token.admin_token = admin;
  CdsService guarded(registry_, with_token, nullptr, hooks);
  for (const std::string path : {"/metrics", "/admin/feedback"}) {
    CallInfo info;
    HttpResponse none = guarded.Handle(get(path, "127.0.0.1", ""), &info);
    EXPECT_EQ(none.status, 401) << path;
    EXPECT_EQ(info.auth_refusal, "missing admin token");
    CallInfo wrong_info;
    EXPECT_EQ(guarded.Handle(get(path, "127.0.0.1", "Bearer " + admin + "x"), &wrong_info).status,
              401);
    EXPECT_EQ(wrong_info.auth_refusal, "wrong admin token");
    EXPECT_EQ(
        guarded.Handle(get(path, "127.0.0.1", "Bearer " + admin.substr(1)), &wrong_info).status,
        401);
    EXPECT_EQ(guarded.Handle(get(path, "10.0.0.5", "Bearer " + admin)).status, 200) << path;
    EXPECT_EQ(guarded.Handle(get(path, "127.0.0.1", "bearer " + admin)).status, 200) << path;
  }
  EXPECT_EQ(guarded.Handle(get("/healthz", "10.0.0.5", "")).status, 200) << "liveness stays open";

  ServiceOptions loopback_only;
  loopback_only.admin_loopback_only = true;
  CdsService local(registry_, loopback_only, nullptr, hooks);
  for (const std::string path : {"/metrics", "/admin/feedback"}) {
    for (const char* remote : {"127.0.0.1", "::1", "::ffff:127.0.0.1", "127.9.9.9"}) {
      EXPECT_EQ(local.Handle(get(path, remote, "")).status, 200) << path << " " << remote;
    }
    for (const char* remote : {"10.0.0.5", "::ffff:10.0.0.5", "2001:db8::1", "", "localhost"}) {
      EXPECT_EQ(local.Handle(get(path, remote, "")).status, 403) << path << " " << remote;
    }
  }
  // The local default (auth off, no token): anyone, as before.
  EXPECT_EQ(CdsService(registry_, ServiceOptions{}, nullptr, hooks)
                .Handle(get("/metrics", "10.0.0.5", ""))
                .status,
            200);
}

std::string ResponseHeader(const HttpResponse& response, const std::string& name) {
  for (const auto& [n, v] : response.headers) {
    if (n == name) return v;
  }
  return "";
}

// Serve splits Handle for the server: a call answered from its prefetch is immediate; a call
// that must fetch from the FHIR server, and a feedback write, come back as deferred work (run
// off the I/O threads), and running that work gives the same answer Handle gives. The fetcher
// is the real libcurl one, aimed at a loopback port nothing listens on.
TEST_F(CdsServiceTest, ServeDefersOnlyWhatMayBlock) {
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(probe);  // the port is now closed: connections are refused at once
  std::string fhir_server = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/fhir";

  fhir::FhirClientOptions fetch_options;
  fetch_options.deadline = std::chrono::milliseconds(2000);
  CurlFhirFetcher fetcher(fetch_options);
  ServiceOptions options;
  options.fixed_now = "2026-03-01T10:00:00Z";
  int feedback_writes = 0;
  ServiceHooks hooks;
  hooks.store_feedback = [&](std::string_view, std::string_view) {
    ++feedback_writes;
    return Status::Ok();
  };
  CdsService service(registry_, options, &fetcher, hooks);
  auto post = [](std::string path, std::string body) {
    HttpRequest r;
    r.method = "POST";
    r.target = std::move(path);
    r.headers = {{"Content-Type", "application/json"}, {"Origin", "https://ehr.test"}};
    r.body = std::move(body);
    return r;
  };

  HttpRequest complete =
      post("/cds-services/echo-patient-view", Request(R"(,"fhirServer":")" + fhir_server + R"(",
      "prefetch":{"patient":{"resourceType":"Patient","id":"p1"},
                  "conditions":{"resourceType":"Bundle","type":"searchset","entry":[]}})"));
  CallInfo info;
  HttpOutcome immediate = service.Serve(complete, info);
  ASSERT_FALSE(immediate.deferred()) << "nothing to fetch: answered on the I/O thread";
  EXPECT_EQ(immediate.response.status, 200) << immediate.response.body;
  EXPECT_EQ(ResponseHeader(immediate.response, "Access-Control-Allow-Origin"), "*");

  HttpRequest missing =
      post("/cds-services/echo-patient-view", Request(R"(,"fhirServer":")" + fhir_server + R"(",
      "prefetch":{"patient":{"resourceType":"Patient","id":"p1"}})"));
  CallInfo deferred_info;
  HttpOutcome deferred = service.Serve(missing, deferred_info);
  ASSERT_TRUE(deferred.deferred()) << "the conditions must be fetched: that may block";
  EXPECT_EQ(deferred_info.hook_instance, "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea");
  HttpResponse answered = deferred.blocking(missing, deferred_info);
  EXPECT_EQ(answered.status, 200) << answered.body;
  EXPECT_THAT(answered.body, HasSubstr("unavailable:conditions;"));
  EXPECT_EQ(ResponseHeader(answered, "Access-Control-Allow-Origin"), "*")
      << "CORS on deferred answers too";
  EXPECT_FALSE(deferred_info.fetch_error_kinds.empty());
  HttpResponse handled = service.Handle(missing);
  EXPECT_EQ(handled.status, answered.status);
  // The same answer (card uuids are fresh on every call).
  EXPECT_THAT(handled.body, HasSubstr("keys=patient gaps=unavailable:conditions; "));
  EXPECT_THAT(answered.body, HasSubstr("keys=patient gaps=unavailable:conditions; "));

  // A required key that cannot be fetched: still a 412, from the deferred step.
  HttpRequest required =
      post("/cds-services/echo-patient-view", Request(R"(,"fhirServer":")" + fhir_server + R"(")"));
  CallInfo required_info;
  HttpOutcome required_outcome = service.Serve(required, required_info);
  ASSERT_TRUE(required_outcome.deferred());
  EXPECT_EQ(required_outcome.blocking(required, required_info).status, 412);

  // Bad requests are refused at once, without a trip to the blocking pool.
  CallInfo bad_info;
  HttpOutcome bad = service.Serve(post("/cds-services/echo-patient-view", "{"), bad_info);
  ASSERT_FALSE(bad.deferred());
  EXPECT_EQ(bad.response.status, 400);

  HttpRequest feedback = post("/cds-services/echo-patient-view/feedback", R"({"feedback":[]})");
  CallInfo feedback_info;
  HttpOutcome stored = service.Serve(feedback, feedback_info);
  ASSERT_TRUE(stored.deferred()) << "a durable write may block";
  EXPECT_EQ(feedback_writes, 0) << "nothing is written before the deferred step runs";
  EXPECT_EQ(stored.blocking(feedback, feedback_info).status, 200);
  EXPECT_EQ(feedback_writes, 1);
}

// A client whose key set may have to be fetched (a jku not yet cached) is verified off the I/O
// threads: the whole call is deferred, and runs to the same answer.
TEST_F(CdsServiceTest, ServeDefersACallWhoseAuthenticationMayFetchKeys) {
  ServiceOptions options;
  options.fixed_now = "2026-03-01T10:00:00Z";
  ServiceHooks hooks;
  int verified = 0;
  hooks.authenticate = [&](std::string_view authorization, std::string_view,
                           AuthAttempt&) -> Result<std::string> {
    ++verified;
    if (authorization == "Bearer bad") return Status(StatusCode::kUnauthenticated, "bad token");
    return std::string("https://ehr.test");
  };
  hooks.authenticate_may_block = [](std::string_view authorization) {
    return authorization != "Bearer cached";
  };
  CdsService service(registry_, options, nullptr, hooks);
  auto discovery = [](std::string token) {
    HttpRequest r;
    r.method = "GET";
    r.target = "/cds-services";
    r.headers = {{"Authorization", std::move(token)}};
    return r;
  };
  CallInfo cached_info;
  HttpOutcome cached = service.Serve(discovery("Bearer cached"), cached_info);
  ASSERT_FALSE(cached.deferred());
  EXPECT_EQ(cached.response.status, 200);
  EXPECT_EQ(verified, 1);

  HttpRequest fresh = discovery("Bearer fresh");
  CallInfo fresh_info;
  HttpOutcome deferred = service.Serve(fresh, fresh_info);
  ASSERT_TRUE(deferred.deferred());
  EXPECT_EQ(verified, 1) << "not verified on the I/O thread";
  HttpResponse answered = deferred.blocking(fresh, fresh_info);
  EXPECT_EQ(answered.status, 200);
  EXPECT_EQ(fresh_info.client_iss, "https://ehr.test");
  EXPECT_EQ(ResponseHeader(answered, "Access-Control-Allow-Origin"), "*");

  HttpRequest bad = discovery("Bearer bad");
  CallInfo bad_info;
  HttpOutcome refused = service.Serve(bad, bad_info);
  ASSERT_TRUE(refused.deferred());
  EXPECT_EQ(refused.blocking(bad, bad_info).status, 401);
}

// Issue 13: a refusal reaches the log with its reason and who the token claimed to be, and the
// hook is told whether it may block (not on an I/O thread).
TEST_F(CdsServiceTest, ARefusedAuthenticationIsReportedWithItsReason) {
  ServiceOptions options;
  options.fixed_now = "2026-03-01T10:00:00Z";
  ServiceHooks hooks;
  std::vector<bool> may_block;
  hooks.authenticate = [&](std::string_view authorization, std::string_view,
                           AuthAttempt& attempt) -> Result<std::string> {
    may_block.push_back(attempt.may_block);
    attempt.claimed_iss = "https://ehr.test";
    attempt.claimed_kid = "k1";
    if (authorization == "Bearer old") return Status(StatusCode::kUnauthenticated, "token expired");
    return std::string("https://ehr.test");
  };
  hooks.authenticate_may_block = [](std::string_view authorization) {
    return authorization == "Bearer fetch";
  };
  CdsService service(registry_, options, nullptr, hooks);
  HttpRequest r;
  r.method = "GET";
  r.target = "/cds-services";
  r.headers = {{"Authorization", "Bearer old"}};
  CallInfo info;
  HttpOutcome outcome = service.Serve(r, info);
  ASSERT_FALSE(outcome.deferred());
  EXPECT_EQ(outcome.response.status, 401);
  EXPECT_EQ(info.auth_refusal, "token expired");
  EXPECT_EQ(info.refused_iss, "https://ehr.test");
  EXPECT_EQ(info.refused_kid, "k1");
  EXPECT_TRUE(info.client_iss.empty());
  r.headers = {{"Authorization", "Bearer fetch"}};
  CallInfo fetch_info;
  HttpOutcome deferred = service.Serve(r, fetch_info);
  ASSERT_TRUE(deferred.deferred());
  EXPECT_EQ(deferred.blocking(r, fetch_info).status, 200);
  EXPECT_TRUE(fetch_info.auth_refusal.empty());
  EXPECT_EQ(may_block, (std::vector<bool>{false, true})) << "no fetch on the I/O thread";
}

TEST_F(CdsServiceTest, BodyOverTheLimitIs413) {
  HttpResponse r = Post("/cds-services/echo-patient-view", std::string(70 * 1024, ' '));
  EXPECT_EQ(r.status, 413);
}

TEST_F(CdsServiceTest, K107_PreflightAllowsAuthorizationAndContentType) {
  HttpRequest r;
  r.method = "OPTIONS";
  r.target = "/cds-services/echo-patient-view";
  r.headers = {{"Origin", "https://sandbox.example"},
               {"Access-Control-Request-Method", "POST"},
               {"Access-Control-Request-Headers", "authorization,content-type"}};
  HttpResponse response = service_->Handle(r);
  EXPECT_EQ(response.status, 204);
  auto header = [&](std::string_view name) {
    for (auto& [k, v] : response.headers)
      if (k == name) return v;
    return std::string();
  };
  EXPECT_EQ(header("Access-Control-Allow-Origin"), "*");
  EXPECT_THAT(header("Access-Control-Allow-Methods"), HasSubstr("POST"));
  EXPECT_THAT(header("Access-Control-Allow-Headers"), HasSubstr("Authorization, Content-Type"));
  // The actual response carries the origin header too.
  HttpResponse discovery = Get("/cds-services");
  ASSERT_FALSE(discovery.headers.empty());
  EXPECT_EQ(discovery.headers[0].first, "Access-Control-Allow-Origin");
}

TEST_F(CdsServiceTest, K108_AnOriginAllowlistIsReflectedOnlyForListedOrigins) {
  ServiceOptions options;
  options.cors_allowed_origins = {"https://ehr.example"};
  CdsService strict(registry_, options, nullptr);
  HttpRequest r;
  r.method = "GET";
  r.target = "/cds-services";
  r.headers = {{"Origin", "https://ehr.example"}};
  HttpResponse allowed = strict.Handle(r);
  ASSERT_FALSE(allowed.headers.empty());
  EXPECT_EQ(allowed.headers[0].second, "https://ehr.example");
  r.headers = {{"Origin", "https://evil.example"}};
  EXPECT_TRUE(strict.Handle(r).headers.empty());
}

TEST_F(CdsServiceTest, G79_ABrokenPackAnswerIsA500NeverRelayed) {
  HttpResponse r = Post(
      "/cds-services/echo-patient-view",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"emit-invalid-json"},
                            "prefetch":{"patient":{"resourceType":"Patient","id":"emit-invalid-json"}}})");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(Issue(r).first, HasSubstr("pack org.cephalgia.test.echo"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("\xff")));
}

TEST_F(CdsServiceTest, HealthzAnswers) {
  HttpResponse r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST_F(CdsServiceTest, Issue15_LivezAnswersAndReadyzFollowsTheReadinessHook) {
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_EQ(Get("/livez").body, R"({"status":"ok"})");
  EXPECT_EQ(Get("/readyz").status, 200) << "no readiness hook: always ready";
  EXPECT_EQ(Get("/readyz").body, R"({"status":"ready"})");

  ServiceHooks hooks;
  bool store_up = false;
  hooks.readiness = [&store_up]() -> Status {
    if (!store_up) return Status(StatusCode::kUnavailable, "feedback store unreachable");
    return Status::Ok();
  };
  ServiceOptions options;
  CdsService probed(registry_, options, nullptr, hooks);
  HttpRequest get;
  get.method = "GET";
  get.target = "/readyz";
  HttpResponse down = probed.Handle(get);
  EXPECT_EQ(down.status, 503);
  EXPECT_THAT(Issue(down).first, HasSubstr("feedback store unreachable"));
  bool has_retry_after = false;
  for (const auto& [name, value] : down.headers) has_retry_after |= name == "Retry-After";
  EXPECT_TRUE(has_retry_after) << "a 503 says when to come back";
  get.target = "/livez";
  EXPECT_EQ(probed.Handle(get).status, 200) << "liveness does not depend on the store";
  store_up = true;
  get.target = "/readyz";
  EXPECT_EQ(probed.Handle(get).status, 200);
  get.method = "POST";
  EXPECT_EQ(probed.Handle(get).status, 405);
}

TEST_F(CdsServiceTest, ServiceIdForHookPicksTheOnlyServiceOrSaysWhyNot) {
  auto id = service_->ServiceIdForHook(R"({"hook":"patient-view"})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "echo-patient-view");
  auto none = service_->ServiceIdForHook(R"({"hook":"order-sign"})");
  EXPECT_THAT(none.status().message(), HasSubstr("no loaded service answers hook 'order-sign'"));
}

TEST(PrefetchTest, D34_ExpandsContextAndUserTokens) {
  auto context = json::ParseUntrusted(
      R"({"patientId":"p 1","userId":"Practitioner/pr-9","encounterId":"e1","draftOrders":{}})");
  ASSERT_TRUE(context.ok());
  EXPECT_EQ(*ExpandPrefetchTemplate("Patient/{{context.patientId}}", *context), "Patient/p 1");
  EXPECT_EQ(*ExpandPrefetchTemplate("Condition?patient={{context.patientId}}", *context),
            "Condition?patient=p%201");
  EXPECT_EQ(*ExpandPrefetchTemplate("Practitioner/{{userPractitionerId}}", *context),
            "Practitioner/pr-9");
  EXPECT_FALSE(ExpandPrefetchTemplate("Patient/{{userPatientId}}", *context).ok());
  EXPECT_FALSE(ExpandPrefetchTemplate("X?{{context.draftOrders}}", *context).ok());
  EXPECT_FALSE(ExpandPrefetchTemplate("X?{{context.missing}}", *context).ok());
  EXPECT_FALSE(ExpandPrefetchTemplate("X?{{context.patientId", *context).ok());
}

TEST(PrefetchTest, E42_ClassifiesEachKindOfPrefetchValue) {
  auto doc = json::ParseUntrusted(R"({
    "null": null,
    "patient": {"resourceType":"Patient"},
    "oo": {"resourceType":"OperationOutcome"},
    "oo_bundle": {"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}}]},
    "empty": {"resourceType":"Bundle","type":"searchset","total":0},
    "paged": {"resourceType":"Bundle","link":[{"relation":"self","url":"a"},{"relation":"next","url":"b"}]},
    "garbage": 7})");
  ASSERT_TRUE(doc.ok());
  std::string next;
  EXPECT_EQ(ClassifyPrefetchValue(nullptr, &next), PrefetchState::kMissing);
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["null"], &next), PrefetchState::kNoData);
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["patient"], &next), PrefetchState::kSatisfied);
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["oo"], &next), PrefetchState::kError);
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["oo_bundle"], &next), PrefetchState::kError);
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["empty"], &next), PrefetchState::kSatisfied);
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["paged"], &next), PrefetchState::kPaged);
  EXPECT_EQ(next, "b");
  EXPECT_EQ(ClassifyPrefetchValue(&(*doc)["garbage"], &next), PrefetchState::kError);
}

}  // namespace
}  // namespace cephalgia::hooks
