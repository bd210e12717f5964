// Checklist §H items 82-87 and invariants cds-fb-1..3: every rule, with its location.
#include "cephalgia/hooks/feedback/feedback.h"

#include <gtest/gtest.h>

namespace cephalgia::hooks::feedback {
namespace {

// The two examples of the CDS Hooks 2.0 specification's feedback section.
constexpr char kSpecAccepted[] = R"({
  "feedback": [{
    "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
    "outcomeTimestamp": "2020-12-11T00:00:00Z"
  }]
})";
constexpr char kSpecOverridden[] = R"({
  "feedback": [{
    "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
    "outcome": "overridden",
    "overrideReason": {
      "reason": {"code": "reason-code-provided-by-service",
                 "system": "http://example.org/cds-services/fhir/CodeSystem/override-reasons"},
      "userComment": "Clinician has already discussed this with the patient"
    },
    "outcomeTimestamp": "2020-12-11T00:00:00Z"
  }]
})";

// A body of one item whose members are `members` (JSON text without braces).
std::string One(const std::string& members) { return R"({"feedback":[{)" + members + "}]}"; }
const std::string kCard = R"("card":"c1")";
const std::string kTs = R"("outcomeTimestamp":"2021-12-11T10:05:31Z")";
const std::string kOverridden = R"("outcome":"overridden")";

// Expects a 400-class error at `location`.
void ExpectInvalidAt(const std::string& body, const std::string& location) {
  Result<std::vector<FeedbackItem>> r = ValidateFeedback(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << body;
  EXPECT_EQ(r.status().location(), location) << r.status().ToString();
}

TEST(FeedbackValidationTest, Item83_SpecAcceptedExample) {
  Result<std::vector<FeedbackItem>> r = ValidateFeedback(kSpecAccepted);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  const FeedbackItem& item = (*r)[0];
  EXPECT_EQ(item.card, "4e0a3a1e-3283-4575-ab82-028d55fe2719");
  EXPECT_EQ(item.outcome, Outcome::kAccepted);
  EXPECT_EQ(item.accepted_suggestions,
            std::vector<std::string>{"e56e1945-20b3-4393-8503-a1a20fd73152"});
  EXPECT_FALSE(item.override_reason.has_value());
  EXPECT_EQ(item.outcome_timestamp, "2020-12-11T00:00:00Z");
}

TEST(FeedbackValidationTest, Item87_SpecOverriddenExampleWithoutDisplay) {
  Result<std::vector<FeedbackItem>> r = ValidateFeedback(kSpecOverridden);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FeedbackItem& item = (*r)[0];
  EXPECT_EQ(item.outcome, Outcome::kOverridden);
  ASSERT_TRUE(item.override_reason && item.override_reason->reason);
  EXPECT_EQ(item.override_reason->reason->code, "reason-code-provided-by-service");
  EXPECT_FALSE(item.override_reason->reason->display.has_value());
  EXPECT_EQ(item.override_reason->user_comment,
            "Clinician has already discussed this with the patient");
}

TEST(FeedbackValidationTest, Item83_SeveralItemsInOneCall) {
  const std::string body =
      R"({"feedback":[{)" + kCard + "," + kOverridden + "," + kTs + R"(},{"card":"c2","outcome":"accepted",)"
      R"("acceptedSuggestions":[{"id":"s1"},{"id":"s2"}],"outcomeTimestamp":"2021-12-11T10:05:31.250+01:00"}]})";
  Result<std::vector<FeedbackItem>> r = ValidateFeedback(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].accepted_suggestions, (std::vector<std::string>{"s1", "s2"}));
}

TEST(FeedbackValidationTest, Item86_UnknownCardUuidAndUnknownMembersAreFine) {
  EXPECT_TRUE(ValidateFeedback(One(R"("card":"not-a-card-we-issued",)" + kOverridden + "," + kTs +
                                   R"(,"extension":{"x":1})"))
                  .ok());
  EXPECT_TRUE(ValidateFeedback(R"({"feedback":[]})").ok());
}

TEST(FeedbackValidationTest, CardIsRequired) {
  ExpectInvalidAt(One(kOverridden + "," + kTs), "feedback[0].card");
  ExpectInvalidAt(One(R"("card":"",)" + kOverridden + "," + kTs), "feedback[0].card");
  ExpectInvalidAt(One(R"("card":42,)" + kOverridden + "," + kTs), "feedback[0].card");
}

TEST(FeedbackValidationTest, CdsFb1_OutcomeEnum) {
  ExpectInvalidAt(One(kCard + "," + kTs), "feedback[0].outcome");
  ExpectInvalidAt(One(kCard + R"(,"outcome":"ignored",)" + kTs), "feedback[0].outcome");
  ExpectInvalidAt(One(kCard + R"(,"outcome":"Accepted",)" + kTs), "feedback[0].outcome");
  // The location names the offending item, not the first one.
  ExpectInvalidAt(R"({"feedback":[{)" + kCard + "," + kOverridden + "," + kTs + "},{" + kCard +
                      "," + kOverridden + "," + kTs + "},{" + kCard + R"(,"outcome":"x",)" + kTs +
                      "}]}",
                  "feedback[2].outcome");
}

TEST(FeedbackValidationTest, CdsFb2_AcceptedNeedsAcceptedSuggestions) {
  ExpectInvalidAt(One(kCard + R"(,"outcome":"accepted",)" + kTs), "feedback[0].acceptedSuggestions");
  ExpectInvalidAt(One(kCard + R"(,"outcome":"accepted","acceptedSuggestions":[],)" + kTs),
                  "feedback[0].acceptedSuggestions");
  ExpectInvalidAt(One(kCard + R"(,"outcome":"accepted","acceptedSuggestions":{"id":"s"},)" + kTs),
                  "feedback[0].acceptedSuggestions");
  ExpectInvalidAt(One(kCard + R"(,"outcome":"accepted","acceptedSuggestions":[{"id":"s"},{}],)" + kTs),
                  "feedback[0].acceptedSuggestions[1].id");
  ExpectInvalidAt(One(kCard + R"(,"outcome":"accepted","acceptedSuggestions":["s"],)" + kTs),
                  "feedback[0].acceptedSuggestions[0].id");
}

TEST(FeedbackValidationTest, CdsFb3_OverrideReasonNeedsReasonOrComment) {
  ExpectInvalidAt(One(kCard + "," + kOverridden + R"(,"overrideReason":{},)" + kTs),
                  "feedback[0].overrideReason");
  ExpectInvalidAt(One(kCard + "," + kOverridden + R"(,"overrideReason":"busy",)" + kTs),
                  "feedback[0].overrideReason");
  Result<std::vector<FeedbackItem>> comment_only = ValidateFeedback(
      One(kCard + "," + kOverridden + R"(,"overrideReason":{"userComment":"later"},)" + kTs));
  ASSERT_TRUE(comment_only.ok());
  EXPECT_FALSE((*comment_only)[0].override_reason->reason.has_value());
  ExpectInvalidAt(One(kCard + "," + kOverridden + R"(,"overrideReason":{"userComment":7},)" + kTs),
                  "feedback[0].overrideReason.userComment");
}

TEST(FeedbackValidationTest, OverrideReasonCodingNeedsSystemAndCode) {
  ExpectInvalidAt(
      One(kCard + "," + kOverridden + R"(,"overrideReason":{"reason":{"code":"x"}},)" + kTs),
      "feedback[0].overrideReason.reason.system");
  ExpectInvalidAt(
      One(kCard + "," + kOverridden + R"(,"overrideReason":{"reason":{"system":"http://s"}},)" + kTs),
      "feedback[0].overrideReason.reason.code");
  ExpectInvalidAt(
      One(kCard + "," + kOverridden + R"(,"overrideReason":{"reason":"x"},)" + kTs),
      "feedback[0].overrideReason.reason");
  ExpectInvalidAt(One(kCard + "," + kOverridden +
                      R"(,"overrideReason":{"reason":{"system":"http://s","code":"c","display":1}},)" +
                      kTs),
                  "feedback[0].overrideReason.reason.display");
  Result<std::vector<FeedbackItem>> with_display = ValidateFeedback(
      One(kCard + "," + kOverridden +
          R"(,"overrideReason":{"reason":{"system":"http://s","code":"c","display":"Seen"}},)" + kTs));
  ASSERT_TRUE(with_display.ok());
  EXPECT_EQ((*with_display)[0].override_reason->reason->display, "Seen");
}

TEST(FeedbackValidationTest, OutcomeTimestampIsRequiredRfc3339) {
  ExpectInvalidAt(One(kCard + "," + kOverridden), "feedback[0].outcomeTimestamp");
  for (const char* bad : {"2021-12-11", "2021-12-11T10:05:31", "2021-12-11 10:05:31Z",
                          "2021-13-11T10:05:31Z", "2021-02-29T10:05:31Z", "2021-12-11T24:00:00Z",
                          "2021-12-11T10:60:00Z", "2021-12-11T10:05:31.Z", "2021-12-11T10:05:31+0100",
                          "2021-12-11T10:05:31Zjunk", "1639217131", "21-12-11T10:05:31Z"}) {
    ExpectInvalidAt(One(kCard + "," + kOverridden + R"(,"outcomeTimestamp":")" + bad + "\""),
                    "feedback[0].outcomeTimestamp");
    EXPECT_FALSE(IsRfc3339DateTime(bad)) << bad;
  }
  for (const char* good : {"2021-12-11T10:05:31Z", "2024-02-29T00:00:00Z", "2021-12-11t10:05:31z",
                           "2021-12-11T10:05:31.123456Z", "2021-12-11T10:05:31-05:00",
                           "2016-12-31T23:59:60Z"}) {
    EXPECT_TRUE(IsRfc3339DateTime(good)) << good;
  }
}

TEST(FeedbackValidationTest, BodyShape) {
  ExpectInvalidAt("", "$");
  ExpectInvalidAt("{", "$");
  ExpectInvalidAt("[]", "$");
  ExpectInvalidAt("{}", "feedback");
  ExpectInvalidAt(R"({"feedback":{}})", "feedback");
  ExpectInvalidAt(R"({"feedback":[1]})", "feedback[0]");
  Result<std::vector<FeedbackItem>> too_big =
      ValidateFeedback(std::string(kMaxFeedbackBodyBytes + 1, ' '));
  EXPECT_EQ(too_big.status().code(), StatusCode::kPayloadTooLarge);
}

}  // namespace
}  // namespace cephalgia::hooks::feedback
