#include "cephalgia/hooks/auth/jwks.h"

#include <gtest/gtest.h>

#include <fstream>

#include "cephalgia/hooks/auth/base64url.h"
#include "test_jwt_signer.h"

namespace cephalgia::hooks::auth {
namespace {

using testing::JwksJson;
using testing::TestSigningKey;

TEST(JwkSetTest, ParsesEcP384AndRsaKeys) {
  TestSigningKey ec = TestSigningKey::EcP384("ec-1");
  TestSigningKey rsa = TestSigningKey::Rsa2048("rsa-1");
  Result<JwkSet> set = JwkSet::Parse(JwksJson({&ec, &rsa}));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->size(), 2u);
  ASSERT_NE(set->Find("ec-1"), nullptr);
  EXPECT_EQ(set->Find("ec-1")->key->type(), KeyType::kEcP384);
  ASSERT_NE(set->Find("rsa-1"), nullptr);
  EXPECT_EQ(set->Find("rsa-1")->key->type(), KeyType::kRsa);
  EXPECT_EQ(set->Find("nope"), nullptr);
}

TEST(JwkSetTest, SkipsKeysThatCannotSignCdsHooksTokens) {
  TestSigningKey ec = TestSigningKey::EcP384("ec-1");
  const std::string text = R"({"keys":[)" + ec.PublicJwk() +
                           R"(,{"kty":"oct","kid":"hmac","k":"c2VjcmV0"})"
                           R"(,{"kty":"EC","crv":"P-256","kid":"p256","x":"AA","y":"AA"})"
                           R"(,{"kty":"RSA","use":"enc","kid":"enc","n":"AQAB","e":"AQAB"})"
                           R"(,{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"AA"}]})";
  Result<JwkSet> set = JwkSet::Parse(text);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->size(), 1u);
  EXPECT_EQ(set->Find("hmac"), nullptr);
}

TEST(JwkSetTest, RefusesPointNotOnCurve) {
  const std::string coord = Base64UrlEncode(std::string(48, '\x01'));
  Result<JwkSet> set = JwkSet::Parse(R"({"keys":[{"kty":"EC","crv":"P-384","kid":"bad","x":")" +
                                     coord + R"(","y":")" + coord + R"("}]})");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(set.status().location(), "keys[0]");
}

TEST(JwkSetTest, RefusesShortCoordinatesAndShortRsaModulus) {
  TestSigningKey ec = TestSigningKey::EcP384("ec-1");
  std::string jwk = ec.PublicJwk();
  const size_t x = jwk.find(R"("x":")") + 5;
  jwk.erase(x, 4);  // 3 bytes shorter
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":[)" + jwk + "]}").ok());

  const std::string n1024 = Base64UrlEncode("\x80" + std::string(127, '\x01'));
  Result<JwkSet> rsa =
      JwkSet::Parse(R"({"keys":[{"kty":"RSA","kid":"r","n":")" + n1024 + R"(","e":"AQAB"}]})");
  ASSERT_FALSE(rsa.ok());
  EXPECT_NE(rsa.status().message().find("2048"), std::string::npos);
}

TEST(JwkSetTest, RefusesDuplicateKidAndMalformedDocuments) {
  TestSigningKey a = TestSigningKey::EcP384("same");
  TestSigningKey b = TestSigningKey::EcP384("same");
  EXPECT_FALSE(JwkSet::Parse(JwksJson({&a, &b})).ok());
  EXPECT_FALSE(JwkSet::Parse("[]").ok());
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":{}})").ok());
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":[1]})").ok());
  EXPECT_FALSE(JwkSet::Parse("{").ok());
}

TEST(JwkSetTest, LoadFileNamesTheFile) {
  Result<JwkSet> missing = JwkSet::LoadFile("/nonexistent/keys.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/keys.json"), std::string::npos);
  TestSigningKey ec = TestSigningKey::EcP384("ec-1");
  const std::string path = ::testing::TempDir() + "/jwks_test_keys.json";
  std::ofstream(path) << JwksJson({&ec});
  Result<JwkSet> set = JwkSet::LoadFile(path);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_NE(set->Find("ec-1"), nullptr);
}

}  // namespace
}  // namespace cephalgia::hooks::auth
