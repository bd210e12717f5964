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

TEST(OriginTest, UserInfoIsRefusedSoItCannotFoolTheHostComparison) {
  // The classic trick: everything before @ is user info, the host is evil.example. Such a URL is
  // never taken for the host it imitates: it is refused outright (issue 13).
  for (const char* url :
       {"https://ehr.example:443@evil.example/fhir/Patient", "http://127.0.0.1@evil.example/fhir",
        "http://localhost:1@evil.example/fhir", "http://[::1]@evil.example/fhir",
        "https://user:pw@ehr.example/fhir", "https://@ehr.example/fhir"}) {
    auto o = ParseOrigin(url);
    EXPECT_FALSE(o.ok()) << url << " -> " << (o.ok() ? o->ToString() : "");
    if (!o.ok()) {
      EXPECT_THAT(o.status().message(), HasSubstr("user info")) << url;
    }
  }
}

// Issue 13: the loopback decision is made on the host libcurl connects to, and only literal
// loopback addresses and the exact name `localhost` count.
TEST(LoopbackTest, OnlyLiteralLoopbackAddressesAndLocalhostAreLoopback) {
  using client_internal::IsLoopbackHost;
  for (const char* host : {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "127.255.255.255",
                           "[::1]", "[0:0:0:0:0:0:0:1]"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host :
       {"127.0.0.1.evil.example", "localhost.evil.example", "localhost.", "evil.example",
        "128.0.0.1", "10.0.0.1", "[::2]", "::1", "[::1", "[::ffff:10.0.0.1]", "", "127.0.0.1:80"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(InspectFhirServerUrlTest, DecidesOnTheUrlLibcurlWillUse) {
  struct Case {
    const char* url;
    bool loopback;
    const char* origin;
  };
  for (const Case& c :
       {Case{"http://127.0.0.1:8080/fhir", true, "http://127.0.0.1:8080"},
        Case{"http://localhost/fhir/", true, "http://localhost:80"},
        Case{"http://[::1]:9000/fhir", true, "http://[::1]:9000"},
        Case{"http://127.1/fhir", true, "http://127.0.0.1:80"},
        Case{"http://127.0.0.1.evil.example/", false, "http://127.0.0.1.evil.example:80"},
        Case{"http://localhost.evil.example/fhir", false, "http://localhost.evil.example:80"},
        Case{"https://ehr.example/fhir", false, "https://ehr.example:443"}}) {
    auto endpoint = InspectFhirServerUrl(c.url);
    ASSERT_TRUE(endpoint.ok()) << c.url << ": " << endpoint.status().ToString();
    EXPECT_EQ(endpoint->loopback, c.loopback) << c.url;
    EXPECT_EQ(endpoint->origin, c.origin) << c.url;
  }
  for (const char* url :
       {"http://127.0.0.1@evil.example/fhir", "http://localhost:1@evil.example/fhir",
        "http://[::1]@evil.example/fhir", "http://127.0.0.1\\@evil.example/fhir",
        "ftp://127.0.0.1/fhir", "http://127.0.0.1/fhir?x=1", "127.0.0.1/fhir"}) {
    EXPECT_FALSE(InspectFhirServerUrl(url).ok()) << url;
  }
  EXPECT_EQ(InspectFhirServerUrl("HTTP://ehr.example/fhir")->scheme, "http");
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
  // What is fetched is what libcurl reads: dot segments gone, user info refused.
  EXPECT_EQ(*NormalizeBaseUrl("https://ehr.example/a/../fhir/"), "https://ehr.example/fhir");
  EXPECT_EQ(*NormalizeBaseUrl("https://ehr.example"), "https://ehr.example");
  EXPECT_FALSE(NormalizeBaseUrl("https://127.0.0.1@ehr.example/fhir").ok());
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

// Found by tests/fuzz (fuzz_fhir_client_urls): a token that starts with the end of the marker
// ("D", "ED", ...) and is followed by its own tail came back whole after redaction.
TEST(RedactUrlTest, TheTokenNeverSurvivesRedaction) {
  const std::string token = "Dabcdefgh";
  const std::string redacted = RedactUrl("http://127.0.0.1/fhir/x?q=Dabcdefghabcdefgh", token);
  EXPECT_EQ(redacted.find(token), std::string::npos) << redacted;
  EXPECT_EQ(RedactUrl("https://h/fhir/Patient/EDxyEDxyxy", "EDxy").find("EDxy"), std::string::npos);
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
