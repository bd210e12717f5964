#include "cephalgia/hooks/auth/base64url.h"

#include <gtest/gtest.h>

namespace cephalgia::hooks::auth {
namespace {

TEST(Base64UrlTest, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
    const std::string encoded = Base64UrlEncode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(encoded), bytes);
  }
}

TEST(Base64UrlTest, KnownVectors) {  // RFC 4648 §10, url alphabet, no padding
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("eyJhbGciOiJFUzM4NCJ9"), R"({"alg":"ES384"})");
}

TEST(Base64UrlTest, RefusesNonCanonicalInput) {
  EXPECT_FALSE(Base64UrlDecode("Zg=="));       // padding
  EXPECT_FALSE(Base64UrlDecode("Zm9v+g"));     // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Zm9v/g"));
  EXPECT_FALSE(Base64UrlDecode("Zm9 v"));      // whitespace
  EXPECT_FALSE(Base64UrlDecode("Z"));          // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh"));         // non-zero trailing bits ("Zg" is canonical)
  EXPECT_FALSE(Base64UrlDecode(std::string("Zg\0", 3)));
}

}  // namespace
}  // namespace cephalgia::hooks::auth
