// Checklist §J (items 95-103) against real keys, real signatures and a real jku server.
#include "cephalgia/hooks/auth/client_authenticator.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "canned_http_server.h"
#include "cephalgia/hooks/auth/base64url.h"
#include "test_jwt_signer.h"

namespace cephalgia::hooks::auth {
namespace {

using testing::JwksJson;
using testing::SignHmac;
using testing::TestSigningKey;
using Clock = ClientAuthenticator::Clock;
using std::chrono::seconds;

constexpr char kIss[] = "https://ehr.example.org";
constexpr char kAud[] = "https://cds.example.org/cds-services/headache-patient-view";
const Clock::time_point kNow = Clock::time_point(seconds(1'700'000'000));
constexpr int64_t kNowSec = 1'700'000'000;

// The claims of a token; each test changes what it is about.
struct Claims {
  std::string iss = kIss;
  std::string aud_json = std::string("\"") + kAud + "\"";
  int64_t exp = kNowSec + 300;
  int64_t iat = kNowSec;
  std::string jti = "jti-" + std::to_string(counter++);
  std::string extra;  // more members, e.g. ,"tenant":"t1"
  static inline std::atomic<int> counter{0};

  std::string Json() const {
    return R"({"iss":")" + iss + R"(","aud":)" + aud_json + R"(,"exp":)" + std::to_string(exp) +
           R"(,"iat":)" + std::to_string(iat) + R"(,"jti":")" + jti + "\"" + extra + "}";
  }
};

std::string Header(const std::string& alg, const std::string& kid, const std::string& extra = "") {
  return R"({"alg":")" + alg + R"(","typ":"JWT","kid":")" + kid + "\"" + extra + "}";
}

class ClientAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jwks_path_ = ::testing::TempDir() + "/auth_test_jwks_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
    std::ofstream(jwks_path_) << JwksJson({&ec_, &rsa_});
    config_.mode = AuthMode::kRequired;
    config_.jwks_file = jwks_path_;
    config_.trusted_issuers = {kIss, "https://other-ehr.example.org"};
  }

  std::unique_ptr<ClientAuthenticator> Make() {
    Result<std::unique_ptr<ClientAuthenticator>> auth = ClientAuthenticator::Create(config_);
    EXPECT_TRUE(auth.ok()) << auth.status().ToString();
    return auth.ok() ? *std::move(auth) : nullptr;
  }

  std::string Es384(const Claims& c, const std::string& header_extra = "") {
    return ec_.Sign(Header("ES384", "ec-1", header_extra), c.Json());
  }

  // Verifies and returns the failure reason ("" when accepted).
  std::string Reason(ClientAuthenticator& auth, const std::string& token,
                     const std::string& aud = kAud, Clock::time_point now = kNow) {
    Result<VerifiedClient> r = auth.Verify("Bearer " + token, aud, now);
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
    // The reason must never echo the token or any part of it (it goes into a 401 body).
    for (size_t pos = 0; pos < token.size(); pos += 16) {
      const std::string piece = token.substr(pos, 16);
      if (piece.size() == 16) {
        EXPECT_EQ(r.status().message().find(piece), std::string::npos);
      }
    }
    return r.status().message();
  }

  // Generated once: RSA key generation is slow, and the keys are read-only.
  static const TestSigningKey& SharedEc() {
    static const TestSigningKey* key = new TestSigningKey(TestSigningKey::EcP384("ec-1"));
    return *key;
  }
  static const TestSigningKey& SharedRsa() {
    static const TestSigningKey* key = new TestSigningKey(TestSigningKey::Rsa2048("rsa-1"));
    return *key;
  }
  const TestSigningKey& ec_ = SharedEc();
  const TestSigningKey& rsa_ = SharedRsa();
  std::string jwks_path_;
  AuthConfig config_;
};

// --- accepted tokens -----------------------------------------------------------------------

TEST_F(ClientAuthenticatorTest, Item100_ValidEs384TokenIsAccepted) {
  auto auth = Make();
  Claims c;
  c.extra = R"(,"tenant":"clinic-7","sub":"ehr-client-42")";
  Result<VerifiedClient> client = auth->Verify("Bearer " + Es384(c), kAud, kNow);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ(client->iss, kIss);
  EXPECT_EQ(client->kid, "ec-1");
  EXPECT_EQ(client->jti, c.jti);
  EXPECT_EQ(client->tenant, "clinic-7");
  EXPECT_EQ(client->sub, "ehr-client-42") << "the client id, for the audit trail";
}

TEST_F(ClientAuthenticatorTest, Item100_ValidRs384TokenIsAccepted) {
  auto auth = Make();
  Claims c;
  Result<VerifiedClient> client =
      auth->Verify("Bearer " + rsa_.Sign(Header("RS384", "rsa-1"), c.Json()), kAud, kNow);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ(client->kid, "rsa-1");
  EXPECT_FALSE(client->tenant.has_value());
}

TEST_F(ClientAuthenticatorTest, Item97_AudienceMayBeAnArray) {
  auto auth = Make();
  Claims c;
  c.aud_json = std::string(R"(["https://elsewhere.example.org",")") + kAud + "\"]";
  EXPECT_EQ(Reason(*auth, Es384(c)), "");
  Claims other;
  other.aud_json = R"(["https://elsewhere.example.org"])";
  EXPECT_EQ(Reason(*auth, Es384(other)), "audience mismatch");
}

TEST_F(ClientAuthenticatorTest, Item95_BearerSchemeIsCaseInsensitiveAndTrimmed) {
  auto auth = Make();
  EXPECT_TRUE(auth->Verify("bearer   " + Es384(Claims()) + " ", kAud, kNow).ok());
}

TEST_F(ClientAuthenticatorTest, Item97_NoSubClaimIsRequired) {
  auto auth = Make();
  Claims c;  // Claims has no sub
  EXPECT_EQ(c.Json().find("\"sub\""), std::string::npos);
  EXPECT_EQ(Reason(*auth, Es384(c)), "");
  Result<VerifiedClient> client = auth->Verify("Bearer " + Es384(Claims()), kAud, kNow);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->sub, "");
}

TEST_F(ClientAuthenticatorTest, OffModeAcceptsAnythingWithoutLooking) {
  config_.mode = AuthMode::kOff;
  config_.jwks_file.clear();
  config_.trusted_issuers.clear();
  auto auth = Make();
  EXPECT_FALSE(auth->required());
  Result<VerifiedClient> client = auth->Verify("", kAud, kNow);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->iss, "");
}

// --- time claims ---------------------------------------------------------------------------

TEST_F(ClientAuthenticatorTest, Item103_ExpiredTokenIsRefusedWithinSkewIsAccepted) {
  auto auth = Make();
  Claims expired;
  expired.iat = kNowSec - 600;
  expired.exp = kNowSec - 61;
  EXPECT_EQ(Reason(*auth, Es384(expired)), "token expired");
  Claims just;
  just.iat = kNowSec - 600;
  just.exp = kNowSec - 30;  // inside the 60 s skew
  EXPECT_EQ(Reason(*auth, Es384(just)), "");
}

TEST_F(ClientAuthenticatorTest, Item97_IatInTheFutureIsRefused) {
  auto auth = Make();
  Claims c;
  c.iat = kNowSec + 120;
  c.exp = kNowSec + 400;
  EXPECT_EQ(Reason(*auth, Es384(c)), "token issued in the future");
  Claims skewed;
  skewed.iat = kNowSec + 30;
  EXPECT_EQ(Reason(*auth, Es384(skewed)), "");
}

TEST_F(ClientAuthenticatorTest, TokensLivingLongerThanTheReplayWindowAreRefused) {
  auto auth = Make();
  Claims c;
  c.exp = kNowSec + 2 * 3600;
  EXPECT_EQ(Reason(*auth, Es384(c)), "token lifetime too long");
}

TEST_F(ClientAuthenticatorTest, MissingTimeClaimsAreRefused) {
  auto auth = Make();
  const std::string no_exp = R"({"iss":")" + std::string(kIss) + R"(","aud":")" + kAud +
                             R"(","iat":)" + std::to_string(kNowSec) + R"(,"jti":"x1"})";
  EXPECT_EQ(Reason(*auth, ec_.Sign(Header("ES384", "ec-1"), no_exp)), "missing exp");
  const std::string no_jti = R"({"iss":")" + std::string(kIss) + R"(","aud":")" + kAud +
                             R"(","iat":)" + std::to_string(kNowSec) + R"(,"exp":)" +
                             std::to_string(kNowSec + 60) + "}";
  EXPECT_EQ(Reason(*auth, ec_.Sign(Header("ES384", "ec-1"), no_jti)), "missing jti");
}

// --- audience --------------------------------------------------------------------------------

TEST_F(ClientAuthenticatorTest, Item98_AudienceMustEqualTheUrlCalled) {
  auto auth = Make();
  const std::string token = Es384(Claims());
  EXPECT_EQ(Reason(*auth, token, "https://cds.example.org/cds-services/other-service"),
            "audience mismatch");
  EXPECT_EQ(Reason(*auth, token, std::string(kAud) + "/feedback"), "audience mismatch");
  EXPECT_EQ(Reason(*auth, token, "https://cds.example.org/cds-services"), "audience mismatch");
  EXPECT_EQ(Reason(*auth, token), "");  // the signature-valid token itself is fine
}

// --- replay ----------------------------------------------------------------------------------

TEST_F(ClientAuthenticatorTest, Item103_ReplayedJtiIsRefused) {
  auto auth = Make();
  const std::string token = Es384(Claims());
  EXPECT_EQ(Reason(*auth, token), "");
  EXPECT_EQ(Reason(*auth, token, kAud, kNow + seconds(5)), "replayed jti");
  // Same jti from a different trusted issuer is a different nonce.
  Claims other;
  other.iss = "https://other-ehr.example.org";
  other.jti = Claims{}.jti;
  EXPECT_EQ(Reason(*auth, Es384(other)), "");
  EXPECT_EQ(Reason(*auth, Es384(other)), "replayed jti");
}

TEST_F(ClientAuthenticatorTest, ConcurrentReplaysOfOneTokenSucceedExactlyOnce) {
  auto auth = Make();
  const std::string token = Es384(Claims());
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      if (auth->Verify("Bearer " + token, kAud, kNow).ok()) accepted.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
}

TEST_F(ClientAuthenticatorTest, ForgedTokensDoNotFillTheReplayCache) {
  config_.max_replay_entries = 1;
  auto auth = Make();
  TestSigningKey intruder = TestSigningKey::EcP384("ec-1");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Reason(*auth, intruder.Sign(Header("ES384", "ec-1"), Claims().Json())),
              "bad signature");
  }
  EXPECT_EQ(Reason(*auth, Es384(Claims())), "");  // the one slot is still free
}

// --- algorithms (item 99, 100) ------------------------------------------------------------

TEST_F(ClientAuthenticatorTest, Item99_AlgNoneIsRefused) {
  auto auth = Make();
  const std::string payload = Base64UrlEncode(Claims().Json());
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string unsigned_token =
        Base64UrlEncode(Header(alg, "ec-1")) + "." + payload + ".";
    EXPECT_EQ(Reason(*auth, unsigned_token), "unsupported alg") << alg;
  }
  const std::string no_alg = Base64UrlEncode(R"({"typ":"JWT","kid":"ec-1"})") + "." + payload +
                             "." + Base64UrlEncode("x");
  EXPECT_EQ(Reason(*auth, no_alg), "unsupported alg");
}

TEST_F(ClientAuthenticatorTest, Item99_HmacAlgorithmsAreRefused) {
  auto auth = Make();
  // The key-confusion attack: HMAC keyed with the server's *public* key text.
  const std::string secret = ec_.PublicJwk();
  EXPECT_EQ(Reason(*auth, SignHmac(Header("HS256", "ec-1"), Claims().Json(), secret, EVP_sha256())),
            "unsupported alg");
  EXPECT_EQ(Reason(*auth, SignHmac(Header("HS384", "ec-1"), Claims().Json(), secret, EVP_sha384())),
            "unsupported alg");
  EXPECT_EQ(Reason(*auth, SignHmac(Header("HS512", "ec-1"), Claims().Json(), secret, EVP_sha512())),
            "unsupported alg");
}

TEST_F(ClientAuthenticatorTest, Item100_OnlyEs384AndRs384AreAccepted) {
  auto auth = Make();
  for (const char* alg : {"ES256", "ES512", "RS256", "RS512", "PS384", "EdDSA", "es384"}) {
    EXPECT_EQ(Reason(*auth, ec_.Sign(Header(alg, "ec-1"), Claims().Json())), "unsupported alg")
        << alg;
  }
}

TEST_F(ClientAuthenticatorTest, Item100_DerEncodedEs384SignatureIsRefused) {
  auto auth = Make();
  EXPECT_EQ(Reason(*auth, ec_.SignWithDerSignature(Header("ES384", "ec-1"), Claims().Json())),
            "bad signature");
}

TEST_F(ClientAuthenticatorTest, AlgMustMatchTheKeyType) {
  auto auth = Make();
  // RS384 claimed, but kid names the EC key (and vice versa): never verifies.
  EXPECT_EQ(Reason(*auth, ec_.Sign(Header("RS384", "ec-1"), Claims().Json())), "bad signature");
  EXPECT_EQ(Reason(*auth, rsa_.Sign(Header("ES384", "rsa-1"), Claims().Json())), "bad signature");
}

// --- signature and key selection (item 101) ----------------------------------------------

TEST_F(ClientAuthenticatorTest, Item101_SignatureByAnotherKeyWithTheSameKidIsRefused) {
  auto auth = Make();
  TestSigningKey intruder = TestSigningKey::EcP384("ec-1");
  EXPECT_EQ(Reason(*auth, intruder.Sign(Header("ES384", "ec-1"), Claims().Json())),
            "bad signature");
  TestSigningKey rsa_intruder = TestSigningKey::Rsa2048("rsa-1");  // fresh key, same kid
  EXPECT_EQ(Reason(*auth, rsa_intruder.Sign(Header("RS384", "rsa-1"), Claims().Json())),
            "bad signature");
}

TEST_F(ClientAuthenticatorTest, Item101_TamperedPayloadIsRefused) {
  auto auth = Make();
  const std::string token = Es384(Claims());
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  Claims forged;
  forged.iss = kIss;
  const std::string tampered = token.substr(0, dot1 + 1) + Base64UrlEncode(forged.Json()) +
                               token.substr(dot2);
  EXPECT_EQ(Reason(*auth, tampered), "bad signature");
}

TEST_F(ClientAuthenticatorTest, Item101_UnknownKidIsRefused) {
  auto auth = Make();
  TestSigningKey stranger = TestSigningKey::EcP384("ec-9");
  EXPECT_EQ(Reason(*auth, stranger.Sign(Header("ES384", "ec-9"), Claims().Json())),
            "unknown key id");
}

TEST_F(ClientAuthenticatorTest, Item96_MissingKidIsRefused) {
  auto auth = Make();
  EXPECT_EQ(Reason(*auth, ec_.Sign(R"({"alg":"ES384","typ":"JWT"})", Claims().Json())),
            "missing kid");
  EXPECT_EQ(Reason(*auth, ec_.Sign(R"({"alg":"ES384","typ":"JWT","kid":""})", Claims().Json())),
            "missing kid");
}

TEST_F(ClientAuthenticatorTest, Item96_TypMustBeJwt) {
  auto auth = Make();
  EXPECT_EQ(Reason(*auth, ec_.Sign(R"({"alg":"ES384","kid":"ec-1"})", Claims().Json())), "bad typ");
  EXPECT_EQ(Reason(*auth, ec_.Sign(R"({"alg":"ES384","typ":"at+jwt","kid":"ec-1"})",
                                   Claims().Json())),
            "bad typ");
  EXPECT_EQ(Reason(*auth, ec_.Sign(R"({"alg":"ES384","typ":"jwt","kid":"ec-1"})",
                                   Claims().Json())),
            "");
  config_.require_typ = false;
  auto lenient = Make();
  EXPECT_EQ(Reason(*lenient, ec_.Sign(R"({"alg":"ES384","kid":"ec-1"})", Claims().Json())), "");
  EXPECT_EQ(Reason(*lenient, ec_.Sign(R"({"alg":"ES384","typ":"JOSE","kid":"ec-1"})",
                                      Claims().Json())),
            "bad typ");
}

TEST_F(ClientAuthenticatorTest, JwkAlgMustMatchTheTokenAlg) {
  std::string jwk = ec_.PublicJwk("ec-es256-only");
  jwk.insert(jwk.size() - 1, R"(,"alg":"ES256")");
  std::ofstream(jwks_path_) << R"({"keys":[)" + jwk + "]}";
  auto auth = Make();
  EXPECT_EQ(Reason(*auth, ec_.Sign(Header("ES384", "ec-es256-only"), Claims().Json())),
            "key not for this alg");
}

TEST_F(ClientAuthenticatorTest, NotBeforeInTheFutureIsRefused) {
  auto auth = Make();
  Claims c;
  c.extra = R"(,"nbf":)" + std::to_string(kNowSec + 120);
  EXPECT_EQ(Reason(*auth, Es384(c)), "token not yet valid");
  Claims ok;
  ok.extra = R"(,"nbf":)" + std::to_string(kNowSec - 5);
  EXPECT_EQ(Reason(*auth, Es384(ok)), "");
}

TEST_F(ClientAuthenticatorTest, CritHeaderIsRefused) {
  auto auth = Make();
  EXPECT_EQ(Reason(*auth, Es384(Claims(), R"(,"crit":["exp"])")), "unsupported crit");
}

TEST_F(ClientAuthenticatorTest, Item102_UntrustedIssuerIsRefused) {
  auto auth = Make();
  Claims c;
  c.iss = "https://evil.example.com";
  EXPECT_EQ(Reason(*auth, Es384(c)), "untrusted issuer");
  Claims prefix;
  prefix.iss = std::string(kIss) + ".evil.com";
  EXPECT_EQ(Reason(*auth, Es384(prefix)), "untrusted issuer");
}

// --- malformed input -------------------------------------------------------------------------

TEST_F(ClientAuthenticatorTest, Item95_MissingOrNonBearerAuthorizationIsRefused) {
  auto auth = Make();
  const std::string token = Es384(Claims());
  EXPECT_EQ(auth->Verify("", kAud, kNow).status().message(), "missing bearer token");
  EXPECT_EQ(auth->Verify("Bearer", kAud, kNow).status().message(), "missing bearer token");
  EXPECT_EQ(auth->Verify("Basic dXNlcjpwYXNz", kAud, kNow).status().message(),
            "missing bearer token");
  EXPECT_EQ(auth->Verify(token, kAud, kNow).status().message(), "missing bearer token");
  EXPECT_EQ(auth->Verify("Bearer  ", kAud, kNow).status().message(), "missing bearer token");
  EXPECT_EQ(auth->Verify("Bearer x y", kAud, kNow).status().message(), "malformed token");
}

TEST_F(ClientAuthenticatorTest, MalformedTokensAreRefused) {
  auto auth = Make();
  const std::string token = Es384(Claims());
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  const std::string header = token.substr(0, dot1);
  const std::string payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string sig = token.substr(dot2 + 1);
  EXPECT_EQ(Reason(*auth, header + "." + payload), "malformed token");
  EXPECT_EQ(Reason(*auth, token + ".x"), "malformed token");
  EXPECT_EQ(Reason(*auth, "a.b.c.d.e"), "malformed token");
  EXPECT_EQ(Reason(*auth, header + "=." + payload + "." + sig), "malformed token");
  EXPECT_EQ(Reason(*auth, header + "." + payload + "." + sig + "*"), "malformed token");
  EXPECT_EQ(Reason(*auth, Base64UrlEncode("not json") + "." + payload + "." + sig),
            "malformed token");
  EXPECT_EQ(Reason(*auth, Base64UrlEncode("[1]") + "." + payload + "." + sig), "malformed token");
  EXPECT_EQ(Reason(*auth, header + "." + Base64UrlEncode("{\"iss\":") + "." + sig),
            "malformed token");
  EXPECT_EQ(Reason(*auth, std::string(20000, 'a') + "." + payload + "." + sig), "malformed token");
  // Truncated signature: decodes, but cannot be a P-384 signature.
  EXPECT_EQ(Reason(*auth, header + "." + payload + "." + sig.substr(0, 64)), "bad signature");
}

TEST_F(ClientAuthenticatorTest, CreateRefusesIncompleteRequiredConfig) {
  AuthConfig no_issuer = config_;
  no_issuer.trusted_issuers.clear();
  EXPECT_FALSE(ClientAuthenticator::Create(no_issuer).ok());
  AuthConfig no_keys = config_;
  no_keys.jwks_file.clear();
  EXPECT_FALSE(ClientAuthenticator::Create(no_keys).ok());
  AuthConfig bad_file = config_;
  bad_file.jwks_file = "/nonexistent.json";
  EXPECT_FALSE(ClientAuthenticator::Create(bad_file).ok());
  AuthConfig bad_prefix = config_;
  bad_prefix.jku_allow_prefixes = {"file:///etc/"};
  EXPECT_FALSE(ClientAuthenticator::Create(bad_prefix).ok());
  EXPECT_TRUE(ParseAuthMode("required").ok());
  EXPECT_EQ(*ParseAuthMode("off"), AuthMode::kOff);
  EXPECT_FALSE(ParseAuthMode("maybe").ok());
}

// --- jku (items 101-103) --------------------------------------------------------------------

// A real HTTP listener on 127.0.0.1 serving one JWK Set (the shared test server of
// tests/support), recording which paths were fetched.
class JwksServer {
 public:
  JwksServer()
      : server_([this](const test::CannedHttpServer::Request&) {
          std::lock_guard<std::mutex> lock(mu_);
          test::CannedHttpServer::Response r;
          r.content_type = "application/json";
          r.body = body_;
          return r;
        }) {}
  std::string BaseUrl() const { return server_.origin(); }
  void SetBody(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
  }
  std::vector<std::string> Paths() const {
    std::vector<std::string> paths;
    for (const auto& r : server_.requests()) paths.push_back(r.target);
    return paths;
  }
  std::size_t RequestCount() const { return server_.requests().size(); }

 private:
  std::mutex mu_;
  std::string body_;
  test::CannedHttpServer server_;  // last: destroyed first, its thread calls the handler
};

class JkuTest : public ClientAuthenticatorTest {
 protected:
  void SetUp() override {
    ClientAuthenticatorTest::SetUp();
    config_.jwks_file.clear();  // keys come only from the jku
    config_.jku_allow_prefixes = {server_.BaseUrl() + "/allowed/"};
    server_.SetBody(JwksJson({&remote_}));
  }
  std::string Token(const TestSigningKey& key, const std::string& jku, const Claims& c = Claims()) {
    return key.Sign(Header("ES384", key.kid(), R"(,"jku":")" + jku + "\""), c.Json());
  }

  JwksServer server_;
  TestSigningKey remote_ = TestSigningKey::EcP384("remote-1");
};

TEST_F(JkuTest, Item101_KeysFromAnAllowlistedJkuAreFetchedAndCached) {
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/jwks.json";
  EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "");
  EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "");
  EXPECT_EQ(server_.Paths(), std::vector<std::string>{"/allowed/jwks.json"});  // cached
  EXPECT_EQ(auth->jku_fetch_count(), 1u);
}

// The service defers a call off its I/O threads when verifying it may fetch keys: true before
// the jku's set is cached, false once it holds the kid, true again for a kid it lacks or when
// the cached set is stale; false for configured keys, tokens without jku, and auth off.
TEST_F(JkuTest, MayFetchKeysOnlyWhenTheKeyIsNotAtHand) {
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/jwks.json";
  const std::string bearer = "Bearer " + Token(remote_, jku);
  EXPECT_TRUE(auth->MayFetchKeys(bearer, kNow));
  EXPECT_EQ(server_.RequestCount(), 0u) << "asking fetches nothing";
  ASSERT_EQ(Reason(*auth, Token(remote_, jku)), "");
  EXPECT_FALSE(auth->MayFetchKeys(bearer, kNow));
  TestSigningKey rotated = TestSigningKey::EcP384("remote-2");
  // A kid the cached set lacks: refetched only once the refetch interval has passed; before
  // that it is refused at once, without a fetch, so there is nothing to take off the I/O thread.
  EXPECT_FALSE(auth->MayFetchKeys("Bearer " + Token(rotated, jku), kNow));
  EXPECT_TRUE(
      auth->MayFetchKeys("Bearer " + Token(rotated, jku), kNow + config_.jku_min_refetch_interval));
  EXPECT_TRUE(auth->MayFetchKeys(bearer, kNow + config_.jku_cache_ttl));
  EXPECT_FALSE(auth->MayFetchKeys("Bearer " + remote_.Sign(Header("ES384", remote_.kid()), Claims().Json()), kNow))
      << "no jku: nothing to fetch";
  EXPECT_FALSE(auth->MayFetchKeys("", kNow));
  EXPECT_FALSE(auth->MayFetchKeys("Bearer not.a.token", kNow));
  config_.jwks_file = jwks_path_;  // ec-1 is configured: its jku is never needed
  EXPECT_FALSE(Make()->MayFetchKeys("Bearer " + Token(ec_, jku), kNow));
  config_.mode = AuthMode::kOff;
  EXPECT_FALSE(Make()->MayFetchKeys(bearer, kNow));
}

TEST_F(JkuTest, Item103_UnknownKidRefetchesOnceThenRateLimits) {
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/jwks.json";
  ASSERT_EQ(Reason(*auth, Token(remote_, jku)), "");
  // The client rotates its key; the new kid triggers a refetch once the interval has passed.
  TestSigningKey rotated = TestSigningKey::EcP384("remote-2");
  server_.SetBody(JwksJson({&remote_, &rotated}));
  const Clock::time_point later = kNow + config_.jku_min_refetch_interval;
  Claims c;
  EXPECT_EQ(Reason(*auth, Token(rotated, jku, c), kAud, later), "");
  EXPECT_EQ(server_.RequestCount(), 2u);
  // An unknown kid right after: no fetch storm, just a refusal.
  TestSigningKey unknown = TestSigningKey::EcP384("remote-3");
  EXPECT_EQ(Reason(*auth, Token(unknown, jku), kAud, later + seconds(1)), "unknown key id");
  EXPECT_EQ(Reason(*auth, Token(unknown, jku), kAud, later + seconds(2)), "unknown key id");
  EXPECT_EQ(server_.RequestCount(), 2u);
}

TEST_F(JkuTest, ConcurrentFirstUsesFetchOnce) {
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/jwks.json";
  std::vector<std::string> tokens;
  for (int i = 0; i < 6; ++i) tokens.push_back(Token(remote_, jku));
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (const std::string& token : tokens) {
    threads.emplace_back([&, token] {
      if (auth->Verify("Bearer " + token, kAud, kNow).ok()) accepted.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 6);
  EXPECT_EQ(server_.RequestCount(), 1u);
}

TEST_F(JkuTest, Item102_JkuOutsideTheAllowlistIsNeverFetched) {
  auto auth = Make();
  for (const std::string& jku : {server_.BaseUrl() + "/evil/jwks.json",
                                 server_.BaseUrl() + "/allowed",  // prefix of the prefix
                                 std::string("http://127.0.0.1:1/allowed/jwks.json")}) {
    EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "untrusted jku") << jku;
  }
  EXPECT_EQ(server_.RequestCount(), 0u);
  EXPECT_EQ(auth->jku_fetch_count(), 0u);
}

TEST_F(JkuTest, Item102_AllowlistedJkuIsNotFetchedForAnUntrustedIssuer) {
  auto auth = Make();
  Claims c;
  c.iss = "https://evil.example.com";
  EXPECT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/jwks.json", c)),
            "untrusted issuer");
  EXPECT_EQ(server_.RequestCount(), 0u);
}

TEST_F(JkuTest, Item102_JkuBoundToAnIssuerServesOnlyThatIssuer) {
  config_.jku_allow_prefixes = {std::string(kIss) + "=" + server_.BaseUrl() + "/allowed/"};
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/jwks.json";
  // Another *trusted* issuer may not use this issuer's key set to sign as itself.
  Claims other;
  other.iss = "https://other-ehr.example.org";
  EXPECT_EQ(Reason(*auth, Token(remote_, jku, other)), "untrusted jku");
  EXPECT_EQ(server_.RequestCount(), 0u);
  EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "");
  EXPECT_EQ(server_.RequestCount(), 1u);
}

TEST_F(JkuTest, CreateRefusesLooseOrUnboundableJkuRules) {
  for (const std::string& rule : {std::string("https://"), std::string("https://ehr.example.org"),
                                  std::string("ftp://ehr.example.org/keys/"),
                                  std::string("https://untrusted.example.com=https://k.example/a/")}) {
    AuthConfig c = config_;
    c.jku_allow_prefixes = {rule};
    EXPECT_FALSE(ClientAuthenticator::Create(c).ok()) << rule;
  }
}

TEST_F(JkuTest, ServedGarbageOrUnreachableJkuIsRefused) {
  server_.SetBody("this is not a key set");
  auto auth = Make();
  EXPECT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/jwks.json")),
            "key set invalid");
  server_.SetBody(std::string(200 * 1024, ' ') + JwksJson({&remote_}));  // over the size cap
  EXPECT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/big.json")),
            "key set unavailable");
}

TEST_F(JkuTest, ConfiguredKeysNeedNoFetch) {
  config_.jwks_file = jwks_path_;
  auto auth = Make();
  // A token naming a configured kid is verified with the configured key, jku or not.
  EXPECT_EQ(Reason(*auth, ec_.Sign(Header("ES384", "ec-1", R"(,"jku":")" + server_.BaseUrl() +
                                                               "/allowed/jwks.json\""),
                                   Claims().Json())),
            "");
  EXPECT_EQ(server_.RequestCount(), 0u);
}

// --- issue 13: jku URL decisions, a bounded cache, single-flight fetches, diagnosable refusals ---

// The allowlist is compared on the URL libcurl fetches: a dot segment (plain or percent-encoded),
// user info or a fragment never gets past it, and nothing is fetched for them.
TEST_F(JkuTest, Issue13_DotSegmentsAndUserInfoCannotLeaveTheAllowedPath) {
  auto auth = Make();
  const std::string base = server_.BaseUrl();
  const std::string port = std::to_string(std::stoi(base.substr(base.rfind(':') + 1)));
  for (const std::string& jku :
       {base + "/allowed/../uploads/keys.json", base + "/allowed/%2e%2e/uploads/keys.json",
        base + "/allowed/%2E%2e/uploads/keys.json", base + "/allowed/.%2e/uploads/keys.json",
        base + "/allowed/..%2fuploads/keys.json",
        base + "/allowed/..\\\\uploads/keys.json" /* JSON-escaped backslash */,
        base + "/allowed/./jwks.json", base + "/allowed/sub/../../uploads/keys.json",
        "http://user@127.0.0.1:" + port + "/allowed/jwks.json",
        "http://127.0.0.1:" + port + "@127.0.0.1:" + port + "/allowed/jwks.json",
        base + "/allowed/jwks.json#fragment", "ftp://127.0.0.1:" + port + "/allowed/jwks.json"}) {
    EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "untrusted jku") << jku;
  }
  EXPECT_EQ(server_.RequestCount(), 0u) << "nothing outside the allowed path was fetched";
  // The same allowed URL written differently is the same URL, fetched as libcurl reads it.
  EXPECT_EQ(Reason(*auth, Token(remote_, "HTTP://127.0.0.1:" + port + "/allowed/jwks.json")), "");
  EXPECT_EQ(server_.Paths(), std::vector<std::string>{"/allowed/jwks.json"});
}

// A recording JWK Set server: key sets under /allowed/good/, 404 elsewhere; an optional delay.
class KeySetServer {
 public:
  explicit KeySetServer(std::string body, std::chrono::milliseconds delay = {})
      : server_([this, body = std::move(body), delay](const test::CannedHttpServer::Request& r) {
          if (delay.count() > 0) std::this_thread::sleep_for(delay);
          test::CannedHttpServer::Response response;
          response.content_type = "application/json";
          if (r.target.rfind("/allowed/good/", 0) == 0) {
            response.body = body;
          } else {
            response.status = 404;
            response.body = "{}";
          }
          return response;
        }) {}
  std::string Url(const std::string& path) const { return server_.origin() + path; }
  std::size_t RequestCount() const { return server_.requests().size(); }

 private:
  test::CannedHttpServer server_;
};

// Tokens naming ever new jku URLs under the allowed prefix (the probe behind issue 13 sent
// 47,000 and grew the server by 100 MiB, each token an outbound GET) cost at most the issuer's
// fetch budget, and leave the cache bounded: entries only for key sets that were fetched whole,
// the least recently used evicted first.
TEST_F(JkuTest, Issue13_NewJkuUrlsAreRateLimitedPerIssuerAndTheCacheStaysBounded) {
  KeySetServer keys(JwksJson({&remote_}));
  config_.jku_allow_prefixes = {keys.Url("/allowed/")};
  auto auth = Make();
  ASSERT_EQ(config_.jku_new_url_burst, 10);
  ASSERT_EQ(config_.jku_cache_capacity, 256u);
  // Unsigned, as the probe's were: nothing about them is checked before the key lookup.
  const std::string payload = Base64UrlEncode(Claims().Json());
  std::map<std::string, int> reasons;
  for (int i = 0; i < 5000; ++i) {
    const std::string jku = keys.Url("/allowed/evil-" + std::to_string(i) + ".json");
    ++reasons[Reason(
        *auth, Base64UrlEncode(Header("ES384", "remote-1", R"(,"jku":")" + jku + "\"")) + "." +
                   payload + "." + Base64UrlEncode("not a signature"))];
  }
  EXPECT_EQ(reasons["key set unavailable"], 10) << "the burst was fetched (404)";
  EXPECT_EQ(reasons["jku fetch rate limited"], 4990);
  EXPECT_EQ(keys.RequestCount(), 10u) << "at most the rate limit's worth of outbound fetches";
  EXPECT_EQ(auth->jku_fetch_count(), 10u);
  EXPECT_EQ(auth->jku_cache_size(), 0u) << "a failed fetch leaves nothing behind";

  // Another trusted issuer has a budget of its own.
  Claims other;
  other.iss = "https://other-ehr.example.org";
  EXPECT_EQ(Reason(*auth, Token(remote_, keys.Url("/allowed/good/other.json"), other)), "");
  EXPECT_EQ(auth->jku_cache_size(), 1u);

  // Over time the budget refills (one new URL per 6 s): good key sets are cached, never more
  // than the capacity, and a key set in use stays cached while others come and go (LRU).
  Clock::time_point now = kNow;
  auto claims_at = [](Clock::time_point t) {
    Claims c;
    c.iat = std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
    c.exp = c.iat + 300;
    return c;
  };
  const std::string in_use = keys.Url("/allowed/good/in-use.json");
  now += config_.jku_new_url_interval;
  ASSERT_EQ(Reason(*auth, Token(remote_, in_use, claims_at(now)), kAud, now), "");
  const std::size_t fetched_before = keys.RequestCount();
  for (int i = 0; i < 300; ++i) {
    now += config_.jku_new_url_interval;
    const std::string url = keys.Url("/allowed/good/k-" + std::to_string(i) + ".json");
    ASSERT_EQ(Reason(*auth, Token(remote_, url, claims_at(now)), kAud, now), "") << i;
    ASSERT_LE(auth->jku_cache_size(), 256u);
    if (i % 50 == 0) {  // the client keeps using its key set
      ASSERT_EQ(Reason(*auth, Token(remote_, in_use, claims_at(now)), kAud, now), "") << i;
    }
  }
  EXPECT_EQ(auth->jku_cache_size(), 256u);
  EXPECT_EQ(keys.RequestCount(), fetched_before + 300) << "one fetch per new URL, none for in-use";
  EXPECT_FALSE(auth->MayFetchKeys("Bearer " + Token(remote_, in_use, claims_at(now)), now))
      << "the key set in use was not evicted";
}

// Verifications that need one slow jku share one fetch; a verification with cached keys, or one
// needing another jku, does not wait for it (issue 13: one global mutex made a legitimate call
// wait 4.7 s behind an attacker's fetches).
TEST_F(JkuTest, Issue13_ASlowKeySetDelaysOnlyTheVerificationsThatNeedIt) {
  KeySetServer slow(JwksJson({&remote_}), std::chrono::milliseconds(300));
  config_.jku_allow_prefixes = {server_.BaseUrl() + "/allowed/", slow.Url("/allowed/")};
  auto auth = Make();
  ASSERT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/cached.json")), "");

  std::vector<std::string> slow_tokens;
  for (int i = 0; i < 3; ++i)
    slow_tokens.push_back(Token(remote_, slow.Url("/allowed/good/keys.json")));
  std::atomic<int> slow_done{0};
  std::atomic<int> slow_accepted{0};
  std::vector<std::thread> threads;
  for (const std::string& token : slow_tokens) {
    threads.emplace_back([&, token] {
      if (auth->Verify("Bearer " + token, kAud, kNow).ok()) slow_accepted.fetch_add(1);
      slow_done.fetch_add(1);
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (slow.RequestCount() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(slow.RequestCount(), 1u) << "the slow fetch has started";

  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/cached.json")), "");
  const auto cached_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/other.json")), "");
  const auto other_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_EQ(slow_done.load(), 0) << "measured while the slow fetch was still running";
  EXPECT_LT(cached_ms.count(), 100) << "cached keys: " << cached_ms.count() << " ms";
  EXPECT_LT(other_ms.count(), 150) << "another jku: " << other_ms.count() << " ms";

  for (auto& t : threads) t.join();
  EXPECT_EQ(slow_accepted.load(), 3);
  EXPECT_EQ(slow.RequestCount(), 1u) << "single flight: one fetch for the three";
}

// A caller that must not block (an I/O thread) gets a refusal rather than a fetch.
TEST_F(JkuTest, Issue13_NoFetchWhenTheCallerMayNotBlock) {
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/jwks.json";
  EXPECT_EQ(
      auth->Verify("Bearer " + Token(remote_, jku), kAud, kNow, nullptr, false).status().message(),
      "key set unavailable");
  EXPECT_EQ(server_.RequestCount(), 0u);
  EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "");  // may block: fetched
}

// Only tokens whose verification could really fetch are sent off the I/O threads: refused ones
// (bad alg, untrusted issuer or jku, an exhausted fetch budget) are answered where they are.
TEST_F(JkuTest, Issue13_MayFetchKeysIsFalseForWhatIsRefusedWithoutAFetch) {
  config_.jku_new_url_burst = 1;
  auto auth = Make();
  const std::string jku = server_.BaseUrl() + "/allowed/a.json";
  EXPECT_TRUE(auth->MayFetchKeys("Bearer " + Token(remote_, jku), kNow));
  const std::string payload = Base64UrlEncode(Claims().Json());
  EXPECT_FALSE(auth->MayFetchKeys(
      "Bearer " + Base64UrlEncode(Header("none", "remote-1", R"(,"jku":")" + jku + "\"")) + "." +
          payload + ".",
      kNow));
  Claims untrusted;
  untrusted.iss = "https://evil.example.com";
  EXPECT_FALSE(auth->MayFetchKeys("Bearer " + Token(remote_, jku, untrusted), kNow));
  EXPECT_FALSE(
      auth->MayFetchKeys("Bearer " + Token(remote_, server_.BaseUrl() + "/evil/a.json"), kNow));
  EXPECT_FALSE(auth->MayFetchKeys(
      "Bearer " + Token(remote_, server_.BaseUrl() + "/allowed/../a.json"), kNow));
  server_.SetBody("not a key set");
  EXPECT_EQ(Reason(*auth, Token(remote_, jku)), "key set invalid");  // spends the budget of 1
  EXPECT_FALSE(
      auth->MayFetchKeys("Bearer " + Token(remote_, server_.BaseUrl() + "/allowed/b.json"), kNow));
  EXPECT_EQ(Reason(*auth, Token(remote_, server_.BaseUrl() + "/allowed/b.json")),
            "jku fetch rate limited");
  EXPECT_TRUE(auth->MayFetchKeys("Bearer " + Token(remote_, server_.BaseUrl() + "/allowed/b.json"),
                                 kNow + config_.jku_new_url_interval));
}

// Every refusal can be told apart in logs and metrics, with who the token claimed to be.
TEST_F(ClientAuthenticatorTest, Issue13_RefusalsSayWhoTheTokenClaimedAndHaveALabel) {
  auto auth = Make();
  Claims expired;
  expired.iat = kNowSec - 600;
  expired.exp = kNowSec - 100;
  ClaimedClient claimed;
  Result<VerifiedClient> r = auth->Verify("Bearer " + Es384(expired), kAud, kNow, &claimed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "token expired");
  EXPECT_EQ(RefusalReasonLabel(r.status().message()), "expired");
  EXPECT_EQ(claimed.iss, kIss);
  EXPECT_EQ(claimed.kid, "ec-1");

  Claims evil;
  evil.iss = "https://evil.example.com";
  ClaimedClient evil_claimed;
  r = auth->Verify("Bearer " + Es384(evil), kAud, kNow, &evil_claimed);
  EXPECT_EQ(RefusalReasonLabel(r.status().message()), "untrusted_issuer");
  EXPECT_EQ(evil_claimed.iss, "https://evil.example.com");

  ClaimedClient nothing;
  r = auth->Verify("Bearer garbage", kAud, kNow, &nothing);
  EXPECT_EQ(RefusalReasonLabel(r.status().message()), "malformed");
  EXPECT_EQ(nothing.iss, "");
  EXPECT_EQ(nothing.kid, "");

  for (const char* phrase : {"missing bearer token",  "malformed token",
                             "unsupported alg",       "bad typ",
                             "unsupported crit",      "missing kid",
                             "missing iss",           "untrusted issuer",
                             "untrusted jku",         "unknown key id",
                             "key set unavailable",   "key set invalid",
                             "key not for this alg",  "bad signature",
                             "audience mismatch",     "missing exp",
                             "token expired",         "token lifetime too long",
                             "missing iat",           "token issued in the future",
                             "token not yet valid",   "missing jti",
                             "replayed jti",          "replay cache full",
                             "jku fetch rate limited"}) {
    EXPECT_NE(RefusalReasonLabel(phrase), "other") << phrase;
  }
  EXPECT_EQ(RefusalReasonLabel("anything else"), "other");
  EXPECT_EQ(RefusalReasonLabel("audience mismatch"), "wrong_audience");
  EXPECT_EQ(RefusalReasonLabel("unknown key id"), "unknown_key");
  EXPECT_EQ(RefusalReasonLabel("replayed jti"), "replay");
  EXPECT_EQ(RefusalReasonLabel("bad signature"), "bad_signature");
}

}  // namespace
}  // namespace cephalgia::hooks::auth
