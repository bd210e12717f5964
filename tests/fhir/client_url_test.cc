// Unit tests for the FHIR client's URL handling (joining, origins, redaction) and error values.
// No network: these are the pure parts that decide where a token may go and what may be shown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cephalgia/fhir/client.h"
#include "client_url.h"

namespace cephalgia::fhir {
namespace {

using client_internal::IsAbsoluteHttpUrl;
using client_internal::JoinUrl;
using client_internal::NormalizeBaseUrl;
using client_internal::Origin;
using client_internal::ParseOrigin;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(JoinUrlTest, JoinsRelativeQueriesOntoTheBase) {
  EXPECT_EQ(JoinUrl("https://ehr.example/fhir", "Patient/123"),
            "https://ehr.example/fhir/Patient/123");
  EXPECT_EQ(JoinUrl("https://ehr.example/fhir/", "/Patient/123"),
            "https://ehr.example/fhir/Patient/123");
  EXPECT_EQ(JoinUrl("https://ehr.example/fhir//", "//Condition?patient=1"),
            "https://ehr.example/fhir/Condition?patient=1");
}

TEST(JoinUrlTest, EncodesCharactersThatMayNotAppearRawButKeepsEscapes) {
  // Prefetch templates are often written with raw `|` and spaces (token search parameters).
  EXPECT_EQ(JoinUrl("http://h/fhir", "Observation?code=http://loinc.org|8480-6&x=a b"),
            "http://h/fhir/Observation?code=http://loinc.org%7C8480-6&x=a%20b");
  EXPECT_EQ(JoinUrl("http://h/fhir", "Condition?code=a%7Cb"), "http://h/fhir/Condition?code=a%7Cb");
  EXPECT_EQ(JoinUrl("http://h/fhir", "Patient?name=\xC3\xA9"), "http://h/fhir/Patient?name=%C3%A9");
  EXPECT_EQ(JoinUrl("http://h/fhir", "Patient/1\r\nX-Injected: 1"),
            "http://h/fhir/Patient/1%0D%0AX-Injected:%201");
}

TEST(ResolveLinkTest, ResolvesNextLinksTheWayServersWriteThem) {
  using client_internal::ResolveLink;
  const std::string base = "https://ehr.example:8443/r4/fhir";
  EXPECT_EQ(ResolveLink(base, "https://ehr.example:8443/r4/fhir/Condition?page=2"),
            "https://ehr.example:8443/r4/fhir/Condition?page=2");
  EXPECT_EQ(ResolveLink(base, "Condition?page=2"), "https://ehr.example:8443/r4/fhir/Condition?page=2");
  EXPECT_EQ(ResolveLink(base, "/r4/fhir/Condition?page=2"),
            "https://ehr.example:8443/r4/fhir/Condition?page=2");
  EXPECT_EQ(ResolveLink(base, "//other.example/fhir?page=2"), "https://other.example/fhir?page=2");
  EXPECT_EQ(ResolveLink("http://h", "/fhir/x?a=b c"), "http://h/fhir/x?a=b%20c");
}

TEST(OriginTest, DefaultPortsAndCaseAreNormalised) {
  auto a = ParseOrigin("HTTPS://EHR.Example/fhir");
  auto b = ParseOrigin("https://ehr.example:443/other?x=1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->ToString(), "https://ehr.example:443");
  auto http = ParseOrigin("http://ehr.example/fhir");
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->port, 80);
  EXPECT_FALSE(*http == *a) << "scheme is part of the origin";
  EXPECT_FALSE(*ParseOrigin("https://ehr.example:8443/") == *a) << "port is part of the origin";
}

TEST(OriginTest, UserInfoDoesNotFoolTheHostComparison) {
  // The classic trick: everything before @ is user info, the host is evil.example.
  auto o = ParseOrigin("https://ehr.example:443@evil.example/fhir/Patient");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->host, "evil.example");
  EXPECT_FALSE(*o == *ParseOrigin("https://ehr.example/fhir"));
}

TEST(OriginTest, RejectsNonHttpAndRelativeUrls) {
  EXPECT_FALSE(ParseOrigin("ftp://ehr.example/fhir").ok());
  EXPECT_FALSE(ParseOrigin("file:///etc/passwd").ok());
  EXPECT_FALSE(ParseOrigin("Patient/123").ok());
  EXPECT_FALSE(ParseOrigin("https://").ok());
  EXPECT_TRUE(IsAbsoluteHttpUrl("HTTP://x"));
  EXPECT_FALSE(IsAbsoluteHttpUrl("Patient?x=http://y"));
}

TEST(NormalizeBaseUrlTest, StripsTrailingSlashAndRejectsQueries) {
  auto base = NormalizeBaseUrl("https://ehr.example/fhir/");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(*base, "https://ehr.example/fhir");
  EXPECT_FALSE(NormalizeBaseUrl("https://ehr.example/fhir?x=1").ok());
  EXPECT_FALSE(NormalizeBaseUrl("ehr.example/fhir").ok());
  EXPECT_FALSE(NormalizeBaseUrl("").ok());
}

TEST(RedactUrlTest, RedactsCredentialQueryParameters) {
  EXPECT_EQ(RedactUrl("https://h/fhir/Patient?access_token=abc123&name=x"),
            "https://h/fhir/Patient?access_token=REDACTED&name=x");
  EXPECT_EQ(RedactUrl("https://h/fhir/Patient?name=x&Access_Token=abc;code=zz#token=t"),
            "https://h/fhir/Patient?name=x&Access_Token=REDACTED;code=REDACTED#token=REDACTED");
  EXPECT_EQ(RedactUrl("https://h/fhir/Patient?name=token&tokenizer=1"),
            "https://h/fhir/Patient?name=token&tokenizer=1");
}

TEST(RedactUrlTest, RedactsUserInfoPasswordAndTheBearerTokenAnywhere) {
  EXPECT_EQ(RedactUrl("https://alice:s3cret@h/fhir"), "https://alice:REDACTED@h/fhir");
  EXPECT_EQ(RedactUrl("https://h/fhir/Patient/tok-XYZ?q=tok-XYZ", "tok-XYZ"),
            "https://h/fhir/Patient/REDACTED?q=REDACTED");
  EXPECT_EQ(RedactUrl("https://h/fhir/Patient/1"), "https://h/fhir/Patient/1");
}

TEST(FetchErrorTest, MapsToProjectStatusCodes) {
  FetchError e{FetchErrorKind::kTimeout, "https://h/fhir/Patient/1", "deadline passed", 0};
  EXPECT_EQ(e.ToStatus().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(e.ToString(), "TIMEOUT: deadline passed (url: https://h/fhir/Patient/1)");
  e.kind = FetchErrorKind::kUnauthorized;
  EXPECT_EQ(e.ToStatus().code(), StatusCode::kUnauthenticated);
  e.kind = FetchErrorKind::kForbidden;
  EXPECT_EQ(e.ToStatus().code(), StatusCode::kPermissionDenied);
  e.kind = FetchErrorKind::kConnectionFailed;
  EXPECT_EQ(e.ToStatus().code(), StatusCode::kUnavailable);
  e.kind = FetchErrorKind::kTooLarge;
  EXPECT_EQ(e.ToStatus().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(FetchErrorKindName(FetchErrorKind::kCrossOrigin), "CROSS_ORIGIN");
}

TEST(FhirClientTest, UnusableBaseUrlFailsEveryQueryWithoutThrowing) {
  FhirClient client("not a url", std::string("tok"));
  auto got = client.FetchAll({{"a", "Patient/1"}, {"b", "Condition?patient=1"}});
  ASSERT_EQ(got.size(), 2u);
  for (const FetchOutcome& o : got) {
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.error().kind, FetchErrorKind::kInvalidUrl);
  }
  EXPECT_EQ(got[1].key, "b");
  FhirClient with_query("https://ehr.example/fhir?x=1", std::nullopt);
  EXPECT_EQ(with_query.Fetch({"a", "Patient/1"}).error().kind, FetchErrorKind::kInvalidUrl);
}

TEST(FhirClientTest, QueryUrlsOffTheBaseOriginAreRefusedBeforeAnyNetworkUse) {
  FhirClient client("https://ehr.example/fhir", std::string("tok"));
  auto got = client.FetchAll({{"other", "https://evil.example/fhir/Patient/1"},
                              {"scheme", "ftp://ehr.example/fhir/Patient/1"},
                              {"empty", ""}});
  EXPECT_EQ(got[0].error().kind, FetchErrorKind::kCrossOrigin);
  EXPECT_EQ(got[1].error().kind, FetchErrorKind::kInvalidUrl);
  EXPECT_EQ(got[2].error().kind, FetchErrorKind::kInvalidUrl);
  EXPECT_THAT(got[0].error().ToString(), Not(HasSubstr("tok")));
}

TEST(FhirClientTest, EmptyBatchReturnsNothing) {
  FhirClient client("https://ehr.example/fhir", std::nullopt);
  EXPECT_TRUE(client.FetchAll({}).empty());
}

}  // namespace
}  // namespace cephalgia::fhir
