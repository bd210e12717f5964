// The envelope scan (one SAX pass, no DOM) must decide exactly as the DOM validation and prefetch
// classification it replaced on the request path: the same status, message and location for
// every request, the same state and `next` link for every prefetch value, the same resources
// held for a read template. The DOM functions stay as the reference (and for their own tests).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cephalgia/hooks/hook_request.h"
#include "cephalgia/hooks/prefetch.h"
#include "cephalgia/json.h"

namespace cephalgia::hooks {
namespace {

std::string Describe(const Status& s) {
  return std::string(StatusCodeName(s.code())) + " | " + s.message() + " | " + s.location();
}

// Both ways, for one body and hook.
void ExpectSameVerdict(const std::string& body, std::string_view hook) {
  Status dom_status;
  std::string buffer;  // the DOM path parsed in situ, as the service did
  auto dom = json::ParseUntrustedInsitu(body, buffer, 1 << 20);
  if (!dom.ok()) {
    dom_status = dom.status();
  } else {
    dom_status = ValidateHookRequest(*dom, hook);
  }
  Status scan_status;
  auto scanned = ScanHookRequest(body, 1 << 20);
  if (!scanned.ok()) {
    scan_status = scanned.status();
  } else {
    scan_status = ValidateHookEnvelope(*scanned, hook);
  }
  EXPECT_EQ(Describe(scan_status), Describe(dom_status)) << "hook " << hook << ", body " << body;
}

// A valid order-select request as members, so each can be replaced or dropped.
std::vector<std::pair<std::string, std::string>> BaseMembers() {
  return {
      {"hook", R"("order-select")"},
      {"hookInstance", R"("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea")"},
      {"fhirServer", R"("https://ehr.test/fhir")"},
      {"fhirAuthorization",
       R"({"access_token":"t","token_type":"Bearer","expires_in":300,"scope":"s","subject":"c"})"},
      {"context",
       R"({"userId":"Practitioner/1","patientId":"p1","encounterId":"e1","selections":["MedicationRequest/1"],"draftOrders":{}})"},
      {"prefetch", R"({"patient":{"resourceType":"Patient","id":"p1"}})"},
  };
}

std::string Build(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out = "{";
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"" + members[i].first + "\":" + members[i].second;
  }
  return out + "}";
}

const std::vector<std::string> kValues = {"null",
                                          "true",
                                          "7",
                                          "-3",
                                          "7.5",
                                          "18446744073709551615",
                                          R"("")",
                                          R"(" ")",
                                          R"("x")",
                                          R"("Practitioner/1")",
                                          R"("..")",
                                          R"("p1")",
                                          R"("https://ehr.test/fhir")",
                                          R"("ftp://x")",
                                          R"("Bearer")",
                                          "[]",
                                          R"(["a"])",
                                          "[1]",
                                          R"(["a",2])",
                                          "{}",
                                          R"({"a":1})"};

TEST(HookEnvelopeTest, EveryTopLevelMemberReplacedOrDroppedGivesTheSameVerdict) {
  for (std::string_view hook : {"order-select", "patient-view", "order-sign", "custom-hook"}) {
    auto base = BaseMembers();
    ExpectSameVerdict(Build(base), hook);
    for (std::size_t i = 0; i < base.size(); ++i) {
      auto dropped = base;
      dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(i));
      ExpectSameVerdict(Build(dropped), hook);
      for (const std::string& v : kValues) {
        auto replaced = base;
        replaced[i].second = v;
        ExpectSameVerdict(Build(replaced), hook);
      }
    }
  }
}

TEST(HookEnvelopeTest, EveryContextAndAuthorizationFieldGivesTheSameVerdict) {
  const std::vector<std::string> context_fields = {"userId",     "patientId",   "encounterId",
                                                   "selections", "draftOrders", "appointments"};
  const std::vector<std::string> auth_fields = {"access_token", "token_type", "expires_in",
                                                "scope",        "subject",    "patient"};
  for (std::string_view hook :
       {"order-select", "encounter-start", "appointment-book", "medication-prescribe"}) {
    for (const std::string& field : context_fields) {
      for (const std::string& v : kValues) {
        auto m = BaseMembers();
        m[4].second = R"({"userId":"Practitioner/1","patientId":"p1","encounterId":"e1",)"
                      R"("selections":["MedicationRequest/1"],"draftOrders":{},"appointments":{},)"
                      R"("medications":{},")" +
                      field + "\":" + v + "}";
        // The field appears twice: the first one counts, as for a lookup by name.
        auto first = BaseMembers();
        first[4].second = "{\"" + field + "\":" + v +
                          R"(,"userId":"Practitioner/1","patientId":"p1","encounterId":"e1",)"
                          R"("selections":["MedicationRequest/1"],"draftOrders":{},)"
                          R"("appointments":{},"medications":{}})";
        ExpectSameVerdict(Build(m), hook);
        ExpectSameVerdict(Build(first), hook);
      }
    }
    for (const std::string& field : auth_fields) {
      for (const std::string& v : kValues) {
        auto m = BaseMembers();
        m[3].second = "{\"" + field + "\":" + v + R"(,"access_token":"t","token_type":"Bearer"})";
        ExpectSameVerdict(Build(m), hook);
      }
    }
  }
}

TEST(HookEnvelopeTest, MalformedAndOddBodiesGiveTheSameVerdict) {
  const std::vector<std::string> bodies = {
      "",
      "{",
      "[]",
      "7",
      R"("x")",
      "null",
      "{}",
      R"({"hook":"order-select"} x)",
      R"({"hook":"order-select","hook":"patient-view"})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1"},"context":7})",
      R"({"hook":"patient-view","hookInstance":"x","context":[],"prefetch":[]})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1"},"prefetch":7})",
      R"({"hook":"patient-view","hookInstance":"x","fhirAuthorization":null,"context":{}})",
      "{\"hook\":\"patient-view\",\"hookInstance\":\"\xff\"}",
      std::string(300, '[') + std::string(300, ']'),
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","x":[[[{"a":[1,{"b":2}]}]]]}})",
  };
  for (const std::string& body : bodies) ExpectSameVerdict(body, "patient-view");
}

// The fast tokenizer decodes escapes and reads numbers as RapidJSON does, and leaves to it what
// it does not handle (lone surrogates, escaped NUL, numbers near a double's limits).
TEST(HookEnvelopeTest, EscapesAndNumbersGiveTheSameVerdict) {
  const std::string ok_context = R"("context":{"userId":"Practitioner/1","patientId":"p1"})";
  const std::vector<std::string> bodies = {
      R"({"hook":"patient\u002dview","hookInstance":"x\ny",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"\ud83d\ude00",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"\udc00",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"\ud83d",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"a\u0000b",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":" \t\r\n ",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"\q",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"\u12",)" + ok_context + "}",
      R"({"hook":"patient-view","hookInstance":"x","context":{"us\u0065rId":"Practitioner\/1","patientId":"p\u0031"}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"\u00e9"}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":123}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","n":[-0,1.5e10,12345678901234567890,123456789012345678901234,-9223372036854775808,-9223372036854775809,1e999,1e-999,0.5]}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","n":1e999}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","n":01}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","n":1.}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","n":-}})",
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1","n":tru}})",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context + R"(,})",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context + R"(,"prefetch":{"a":[1,2,]}})",
      "{\"hook\":\"patient-view\",\"hookInstance\":\"a\tb\"," + ok_context + "}",
      // Errors inside subtrees the scan does not read (checked without events) are found too.
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context +
          R"(,"prefetch":{"p":{"resourceType":"Patient","name":[{"given":["a",]}]}}})",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context +
          R"(,"prefetch":{"p":{"resourceType":"Patient","x":{"v":1e999}}}})",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context +
          R"(,"prefetch":{"p":{"resourceType":"Patient","x":{"v":"\ud800"}}}})",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context +
          R"(,"prefetch":{"p":{"resourceType":"Patient","x":{"v":01}}}})",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context +
          R"(,"prefetch":{"p":{"resourceType":"Patient","x":)" + std::string(300, '[') +
          std::string(300, ']') + "}}}",
      R"({"hook":"patient-view","hookInstance":"x",)" + ok_context +
          R"(,"prefetch":{"p":{"resourceType":"Patient","x":)" + std::string(250, '[') +
          std::string(250, ']') + "}}}",
      R"({"hook":"patient-view","hookInstance":"x","extra":{"a":[1,{"b":tru}]},)" + ok_context +
          "}",
  };
  for (const std::string& body : bodies) ExpectSameVerdict(body, "patient-view");
  // Template values come through the same decoding.
  auto scanned = ScanHookRequest(
      R"({"context":{"patientId":"p\u0031","n":42,"big":12345678901234567890}})", 1 << 20);
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(*ExpandPrefetchTemplate("Patient/{{context.patientId}}", *scanned), "Patient/p1");
  EXPECT_EQ(*ExpandPrefetchTemplate("X?n={{context.n}}", *scanned), "X?n=42");
  EXPECT_FALSE(ExpandPrefetchTemplate("X?n={{context.big}}", *scanned).ok());
}

// Each prefetch value classified both ways, including duplicates and odd shapes.
// Each prefetch value kI (values[I]) is classified by the scan as the DOM reference classifies
// it, with the same next-page URL when paged.
void ExpectClassifiedAsTheDom(const HookEnvelope& scanned, const rapidjson::Document& dom,
                              const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string key = "k" + std::to_string(i);
    std::string dom_next;
    PrefetchState expected = ClassifyPrefetchValue(json::Find(dom["prefetch"], key), &dom_next);
    const ScannedPrefetch* p = scanned.FindPrefetch(key);
    ASSERT_NE(p, nullptr) << key;
    EXPECT_EQ(PrefetchStateName(p->state), PrefetchStateName(expected)) << values[i];
    if (expected == PrefetchState::kPaged) {
      EXPECT_EQ(p->next_url, dom_next) << values[i];
    }
  }
}

TEST(HookEnvelopeTest, PrefetchValuesAreClassifiedAsTheDomClassifiesThem) {
  const std::vector<std::string> values = {
      "null",
      "7",
      R"("x")",
      "[]",
      "{}",
      R"({"resourceType":"Patient","id":"p1"})",
      R"({"resourceType":"OperationOutcome"})",
      R"({"resourceType":7,"resourceType":"OperationOutcome"})",
      R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}}]})",
      R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}},{"resource":{"resourceType":"Condition"}}]})",
      R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}},7]})",
      R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"},"resource":{}}]})",
      R"({"resourceType":"Bundle","entry":[{"resource":[]}]})",
      R"({"resourceType":"Bundle","entry":[]})",
      R"({"resourceType":"Bundle","entry":{}})",
      R"({"entry":[{"resource":{"resourceType":"OperationOutcome"}}],"resourceType":"Bundle"})",
      R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}}],"entry":[]})",
      R"({"resourceType":"Bundle","link":[{"relation":"self","url":"a"},{"relation":"next","url":"b"}]})",
      R"({"resourceType":"Bundle","link":[{"relation":"next","url":""},{"relation":"next","url":"c"}]})",
      R"({"resourceType":"Bundle","link":[{"url":"d","relation":"next"}]})",
      R"({"resourceType":"Bundle","link":[{"relation":"next","relation":"self","url":"e"}]})",
      R"({"resourceType":"Bundle","link":[{"relation":"next","url":7}]})",
      R"({"resourceType":"Bundle","link":["next"]})",
      R"({"resourceType":"Bundle","link":{"relation":"next","url":"f"}})",
      R"({"link":[{"relation":"next","url":"g"}],"resourceType":"Bundle"})",
      R"({"resourceType":"Condition","link":[{"relation":"next","url":"h"}]})",
  };
  std::string prefetch = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    prefetch += "\"k" + std::to_string(i) + "\":" + values[i] + ",";
  }
  prefetch += R"("k0":{"resourceType":"Patient"}})";  // a duplicate: the first counts
  std::string body =
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1"},"prefetch":)" +
      prefetch + "}";
  auto dom = json::ParseUntrusted(body);
  ASSERT_TRUE(dom.ok());
  auto scanned = ScanHookRequest(body, 1 << 20);
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  ASSERT_EQ(scanned->prefetch_values.size(), values.size() + 1);
  ExpectClassifiedAsTheDom(*scanned, *dom, values);
  EXPECT_FALSE(scanned->prefetch_values.back().first);
  EXPECT_EQ(scanned->FindPrefetch("k0")->state, PrefetchState::kNoData);
}

// The scan tells the members a resource, entry or link reads by their length first: keys of the
// same length as `id`, `link`, `entry`, `resourceType`, `resource`, `relation` and `url` (and
// one byte shorter or longer) must be ignored exactly as the DOM ignores them.
TEST(HookEnvelopeTest, KeysLikeTheReadOnesAreIgnoredAsTheDomIgnoresThem) {
  const std::vector<std::string> values = {
      R"({"resourceTypf":"OperationOutcome"})",
      R"({"resourceTyp":"OperationOutcome"})",
      R"({"resourceTypeX":"OperationOutcome"})",
      R"({"ResourceType":"OperationOutcome","resourceType":"Patient"})",
      R"({"resourceType":"Bundle","entrx":[{"resource":{"resourceType":"OperationOutcome"}}]})",
      R"({"resourceType":"Bundle","Entry":[{"resource":{"resourceType":"OperationOutcome"}}]})",
      R"({"resourceType":"Bundle","entry":[{"resourcf":{"resourceType":"OperationOutcome"}}]})",
      R"({"resourceType":"Bundle","entry":[{"Resource":{"resourceType":"OperationOutcome"}}]})",
      R"({"resourceType":"Bundle","entry":[{"resourc":{"resourceType":"OperationOutcome"}}]})",
      R"({"resourceType":"Bundle","linx":[{"relation":"next","url":"a"}]})",
      R"({"resourceType":"Bundle","lin":[{"relation":"next","url":"a"}]})",
      R"({"resourceType":"Bundle","link":[{"relatiom":"next","url":"b"}]})",
      R"({"resourceType":"Bundle","link":[{"relation":"next","urk":"c"}]})",
      R"({"resourceType":"Bundle","link":[{"relation":"next","Url":"c"}]})",
      R"({"resourceType":"Bundle","link":[{"relation":"next","ur":"c","url":"d"}]})",
      R"({"resourceType":"Bundle","link":[{"relationX":"next","relation":"next","url":"e"}]})",
      R"({"resourceType":"Bundle","ix":7,"id":"b1","Id":[],"entry":[{"resource":{"resourceType":"OperationOutcome","iD":{}}}]})",
  };
  std::string prefetch = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) prefetch += ",";
    prefetch += "\"k" + std::to_string(i) + "\":" + values[i];
  }
  prefetch += "}";
  std::string body =
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1"},"prefetch":)" +
      prefetch + "}";
  auto dom = json::ParseUntrusted(body);
  ASSERT_TRUE(dom.ok());
  auto scanned = ScanHookRequest(body, 1 << 20);
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  ASSERT_EQ(scanned->prefetch_values.size(), values.size());
  ExpectClassifiedAsTheDom(*scanned, *dom, values);
  // Near misses read as the real keys would make errors or pages of these; a real key beside
  // near misses (k14's `url`) must still be read.
  EXPECT_EQ(scanned->FindPrefetch("k0")->state, PrefetchState::kSatisfied);
  EXPECT_EQ(scanned->FindPrefetch("k9")->state, PrefetchState::kSatisfied);
  EXPECT_EQ(scanned->FindPrefetch("k14")->state, PrefetchState::kPaged);
  EXPECT_EQ(scanned->FindPrefetch("k14")->next_url, "d");
}

// A read template is satisfied by its resource under any key, directly or inside a Bundle
// (nested Bundles too), and only by the resource with that id.
TEST(HookEnvelopeTest, ReadTemplatesAreSatisfiedByTheResourceUnderAnyKey) {
  plugin::ServiceDescriptor service;
  service.id = "s";
  service.hook = "patient-view";
  service.prefetch = {{"patient", "Patient/{{context.patientId}}"}};
  auto plan_for = [&](const std::string& prefetch) {
    std::string body =
        R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1","patientId":"p1"},"prefetch":)" +
        prefetch + "}";
    auto scanned = ScanHookRequest(body, 1 << 20, ReadTemplateTypes(service));
    EXPECT_TRUE(scanned.ok());
    auto plan = PlanPrefetch(*scanned, service);
    EXPECT_TRUE(plan.ok());
    return plan->known.unavailable.size();
  };
  EXPECT_EQ(plan_for(R"({"greet":{"resourceType":"Patient","id":"p1"}})"), 0u);
  EXPECT_EQ(plan_for(R"({"greet":{"id":"p1","resourceType":"Patient"}})"), 0u);
  EXPECT_EQ(plan_for(R"({"greet":{"resourceType":"Patient","id":"p2"}})"), 1u);
  EXPECT_EQ(
      plan_for(
          R"({"b":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p1"}}]}})"),
      0u);
  EXPECT_EQ(
      plan_for(
          R"({"b":{"entry":[{"resource":{"entry":[{"resource":{"resourceType":"Patient","id":"p1"}}],"resourceType":"Bundle"}}],"resourceType":"Bundle"}})"),
      0u);
  // Entries count only inside a Bundle.
  EXPECT_EQ(
      plan_for(
          R"({"c":{"resourceType":"List","entry":[{"resource":{"resourceType":"Patient","id":"p1"}}]}})"),
      1u);
  EXPECT_EQ(plan_for(R"({})"), 1u);
}

}  // namespace
}  // namespace cephalgia::hooks

namespace cephalgia::hooks {
namespace {

// The envelope's views point into its own copy of the body, which must move with it even when
// the body is short enough for a string's inline storage.
TEST(HookEnvelopeTest, ViewsOfAShortBodySurviveTheEnvelopesMoves) {
  for (std::string body : {std::string(R"({"hook":"ab"})"), std::string(R"({"hook":"a\u0062"})")}) {
    auto scanned = ScanHookRequest(body, 1 << 20);
    ASSERT_TRUE(scanned.ok());
    HookEnvelope moved = std::move(*scanned);
    HookEnvelope again = std::move(moved);
    EXPECT_EQ(again.hook.text, "ab") << body;
    // Inside the buffer the envelope owns now, not in storage left behind by a move.
    const char* begin = again.buffer.data();
    EXPECT_TRUE(again.hook.text.data() >= begin &&
                again.hook.text.data() + again.hook.text.size() <= begin + again.buffer.size())
        << body;
  }
}

}  // namespace
}  // namespace cephalgia::hooks

namespace cephalgia::hooks {
namespace {

// Everything the envelope holds, as text, for comparing two scans.
std::string Dump(const HookEnvelope& e) {
  auto value = [](const ScannedValue& v) {
    return std::to_string(static_cast<int>(v.kind)) + ":" + std::string(v.text) + ":" +
           std::to_string(v.is_int64) + ":" + std::to_string(v.int64) + ":" +
           std::to_string(v.array_size) + ":" + std::to_string(v.array_all_strings) + ";";
  };
  std::string out = std::to_string(e.root_is_object) + "|";
  for (const ScannedValue* v :
       {&e.hook, &e.hook_instance, &e.fhir_server, &e.fhir_authorization, &e.context, &e.prefetch,
        &e.access_token, &e.token_type, &e.expires_in, &e.scope, &e.subject, &e.patient}) {
    out += value(*v);
  }
  for (const auto& [key, v] : e.context_fields) out += std::string(key) + "=" + value(v);
  for (const ScannedPrefetch& p : e.prefetch_values) {
    out += "|" + std::string(p.key) + (p.first ? "!" : "") +
           std::string(PrefetchStateName(p.state)) + ":" + std::string(p.next_url) + ":" +
           std::to_string(p.held_begin) + "-" + std::to_string(p.held_end);
  }
  for (const auto& [type, id] : e.held) out += "|" + std::string(type) + "/" + std::string(id);
  return out;
}

// An escaped NUL anywhere sends the body to RapidJSON's reader, which also reports what is inside
// the containers the fast scan skips without events: the envelope must come out the same.
TEST(HookEnvelopeTest, TheReaderFallbackCollectsWhatTheFastScanCollects) {
  const std::string prefetch =
      R"({"p":{"resourceType":"Patient","id":"p1","name":[{"given":["a",{"x":[1]}]}]},)"
      R"("b":{"resourceType":"Bundle","link":[{"relation":"next","url":"u","x":{"y":[]}}],)"
      R"("entry":[{"resource":{"resourceType":"Condition","id":"c1","code":{"coding":[{"code":"1"}]}}},)"
      R"({"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"error"}]}},7,[],{}]},)"
      R"("o":{"resourceType":"OperationOutcome"},"n":null,"s":"x","a":[{"resourceType":"Patient"}],)"
      R"("p":{"resourceType":"Patient","id":"p2"}})";
  const std::string body =
      R"({"hook":"patient-view","hookInstance":"x","fhirServer":"https://ehr.test/fhir",)"
      R"("fhirAuthorization":{"access_token":"t","token_type":"Bearer","expires_in":300,"more":{"a":[1,{}]}},)"
      R"("context":{"userId":"Practitioner/1","patientId":"p1","selections":["a","b"],"draft":{"a":[{"b":1}]}},)"
      R"("prefetch":)" +
      prefetch + "}";
  const std::vector<std::string_view> read_types = {"Patient", "Condition"};
  auto fast = ScanHookRequest(body, 1 << 20, read_types);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->held.size(), 3u);
  const std::string expected = Dump(*fast);
  // The NUL where the scan reads nothing, at each level: inside skipped containers, and as a
  // member of its own that is skipped.
  for (const std::string& extra :
       {std::string(R"("z":"\u0000")"), std::string(R"("z":{"a":["\u0000",{"b":[1,{"c":2}]}]})"),
        std::string(R"("z":[[["\u0000"]],{"hook":"y","prefetch":{}}])")}) {
    std::string with_nul = body;
    with_nul.insert(1, extra + ",");
    auto slow = ScanHookRequest(with_nul, 1 << 20, read_types);
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    EXPECT_EQ(Dump(*slow), expected) << extra;
  }
  // Every 'e' in every string (keys, kept values, resource types, ids, the next url, prefetch
  // keys) written as an escape: the fast scan decodes them, and keeps what it keeps in the
  // envelope's own buffer, not in the body (overwritten here before the envelope is read) nor in
  // the tokenizer's scratch buffer (reused by every escaped string after it).
  {
    std::string escaped;
    bool in_string = false;
    for (char c : body) {
      if (c == '"') in_string = !in_string;
      escaped += in_string && c == 'e' ? std::string("\\u0065") : std::string(1, c);
    }
    ASSERT_NE(escaped, body);
    auto decoded = ScanHookRequest(escaped, 1 << 20, read_types);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    escaped.assign(escaped.size(), 'X');  // same storage: a view left in the body would read X
    EXPECT_EQ(Dump(*decoded), expected);
    std::string plain_copy = body;
    auto plain = ScanHookRequest(plain_copy, 1 << 20, read_types);
    ASSERT_TRUE(plain.ok());
    plain_copy.assign(plain_copy.size(), 'X');
    EXPECT_EQ(Dump(*plain), expected);
    auto in_buffer = [&](std::string_view v) {
      const char* begin = plain->buffer.data();
      return v.empty() ||
             (v.data() >= begin && v.data() + v.size() <= begin + plain->buffer.size());
    };
    EXPECT_TRUE(in_buffer(plain->hook.text) && in_buffer(plain->access_token.text));
    for (const auto& [key, v] : plain->context_fields)
      EXPECT_TRUE(in_buffer(key) && in_buffer(v.text));
    for (const ScannedPrefetch& p : plain->prefetch_values) {
      EXPECT_TRUE(in_buffer(p.key) && in_buffer(p.next_url)) << p.key;
    }
    for (const auto& [type, id] : plain->held) EXPECT_TRUE(in_buffer(type) && in_buffer(id));
  }
  // A root that is an array: no envelope members at all, both ways.
  for (std::string root :
       {std::string(R"([{"hook":"x"},[1]])"), std::string(R"([{"hook":"x"},["\u0000"]])")}) {
    auto scanned = ScanHookRequest(root, 1 << 20);
    ASSERT_TRUE(scanned.ok());
    EXPECT_FALSE(scanned->root_is_object);
    EXPECT_FALSE(scanned->hook.present()) << root;
  }
}

}  // namespace
// Once a resource, an entry or a link has shown every member it reads, the fast scan checks the
// rest without events: what follows (later members of the read names, a Bundle's entries after a
// type that is not Bundle, a second resource or url) changes nothing, as for RapidJSON's reader,
// which reads it all (the NUL member sends the body to the reader).
TEST(HookEnvelopeTest, TheRestOfAResourceIsSkippedAsTheReaderReadsIt) {
  const std::string prefetch =
      R"({"a":{"resourceType":"Condition","id":"c1","resourceType":"Bundle","id":"c2",)"
      R"("entry":[{"resource":{"resourceType":"OperationOutcome"}}],"link":[{"relation":"next","url":"u"}]},)"
      R"("b":{"id":"b1","link":[{"relation":"next","url":"u1","relation":"self","url":"u2"}],)"
      R"("resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p1","id":"p2"},)"
      R"("resource":{"resourceType":"OperationOutcome"}},{"fullUrl":"x","resource":{"id":"c3",)"
      R"("resourceType":"Condition","code":{"text":"t"},"resourceType":"Patient"}}],"total":2,)"
      R"("link":[{"relation":"next","url":"u3"}],"entry":[]},)"
      R"("c":{"resourceType":"Bundle","id":"b2","entry":[{"resource":{"resourceType":"OperationOutcome",)"
      R"("id":"o1"},"resource":{"resourceType":"Patient"}}],"x":[1,{"y":2}],"link":[],"z":"w"},)"
      R"("d":{"resourceType":7,"id":"d1","entry":[{"resource":{"resourceType":"Patient","id":"p3"}}]},)"
      R"("e":{"resourceType":"Patient","id":{"x":1},"resourceType":"Condition","more":[1,2]}})";
  const std::string body =
      R"({"hook":"patient-view","hookInstance":"x","context":{"userId":"Practitioner/1",)"
      R"("patientId":"p1"},"prefetch":)" +
      prefetch + "}";
  const std::vector<std::string_view> read_types = {"Patient", "Condition", "Bundle"};
  auto fast = ScanHookRequest(body, 1 << 20, read_types);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  std::string with_nul = body;
  with_nul.insert(1, R"("z":"\u0000",)");
  auto slow = ScanHookRequest(with_nul, 1 << 20, read_types);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ(Dump(*fast), Dump(*slow));
  ASSERT_EQ(fast->prefetch_values.size(), 5u);
  EXPECT_EQ(fast->prefetch_values[0].state,
            PrefetchState::kSatisfied);                              // a Condition, not a Bundle
  EXPECT_EQ(fast->prefetch_values[1].state, PrefetchState::kPaged);  // the first link's next
  EXPECT_EQ(fast->prefetch_values[1].next_url, "u1");
  EXPECT_EQ(fast->prefetch_values[2].state, PrefetchState::kError);  // every entry an outcome
  // A malformed member after the read ones is still refused, with the reader's message.
  std::string broken = body;
  broken.replace(broken.find(R"("code":{"text":"t"})"), 19, R"("code":{"text":"t",})");
  auto refused = ScanHookRequest(broken, 1 << 20, read_types);
  ASSERT_FALSE(refused.ok());
  std::string buffer;
  auto reference = json::ParseUntrustedInsitu(broken, buffer, 1 << 20);
  ASSERT_FALSE(reference.ok());
  EXPECT_EQ(refused.status().message(), reference.status().message());
}

}  // namespace cephalgia::hooks
