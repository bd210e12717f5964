// File: test_jwt_signer.h (tests only)
//
// Real keys and real signatures for authentication tests: generates EC P-384 and RSA-2048 keys
// with OpenSSL, publishes them as a JWK Set, and signs compact JWS tokens (ES384 signatures are
// converted from OpenSSL's DER to JOSE's raw r||s, exactly what a CDS client does). Header-only so
// that the service's integration tests can sign tokens too:
//
//   TestSigningKey ec = TestSigningKey::EcP384("ec-1");
//   std::string jwks = JwksJson({&ec});
//   std::string token = ec.Sign(R"({"alg":"ES384","typ":"JWT","kid":"ec-1"})", payload_json);
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cephalgia/hooks/auth/base64url.h"

namespace cephalgia::hooks::auth::testing {

class TestSigningKey {
 public:
  static TestSigningKey EcP384(std::string kid) {
    return TestSigningKey(std::move(kid), true, EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  }
  static TestSigningKey Rsa2048(std::string kid) {
    return TestSigningKey(std::move(kid), false,
                          EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  }

  const std::string& kid() const { return kid_; }
  bool is_ec() const { return is_ec_; }

  // The public JWK (no private parts), with `kid_override` instead of kid() when non-empty.
  std::string PublicJwk(const std::string& kid_override = "") const {
    const std::string& kid = kid_override.empty() ? kid_ : kid_override;
    if (is_ec_) {
      return R"({"kty":"EC","crv":"P-384","use":"sig","kid":")" + kid + R"(","x":")" +
             Base64UrlEncode(BnParam(OSSL_PKEY_PARAM_EC_PUB_X, 48)) + R"(","y":")" +
             Base64UrlEncode(BnParam(OSSL_PKEY_PARAM_EC_PUB_Y, 48)) + R"("})";
    }
    return R"({"kty":"RSA","use":"sig","kid":")" + kid + R"(","n":")" +
           Base64UrlEncode(BnParam(OSSL_PKEY_PARAM_RSA_N, 0)) + R"(","e":")" +
           Base64UrlEncode(BnParam(OSSL_PKEY_PARAM_RSA_E, 0)) + R"("})";
  }

  // A compact JWS of the given header and payload JSON, signed with this key (ES384 or RS384
  // depending on the key type, whatever the header's alg says).
  std::string Sign(const std::string& header_json, const std::string& payload_json) const {
    const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
    return input + "." + Base64UrlEncode(RawSignature(input, /*jose=*/true));
  }
  // The classic bug (checklist item 100): an ES384 signature left in OpenSSL's DER form.
  std::string SignWithDerSignature(const std::string& header_json,
                                   const std::string& payload_json) const {
    const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
    return input + "." + Base64UrlEncode(RawSignature(input, /*jose=*/false));
  }

 private:
  TestSigningKey(std::string kid, bool is_ec, EVP_PKEY* pkey)
      : kid_(std::move(kid)), is_ec_(is_ec), pkey_(pkey, &EVP_PKEY_free) {
    if (pkey == nullptr) throw std::runtime_error("key generation failed");
  }

  std::string BnParam(const char* name, int pad_to) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey_.get(), name, &bn) != 1) throw std::runtime_error(name);
    const int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
    std::string out(static_cast<size_t>(len), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
    BN_free(bn);
    return out;
  }

  std::string RawSignature(const std::string& input, bool jose) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, pkey_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1) {
      throw std::runtime_error("sign init");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("sign");
    }
    sig.resize(len);
    if (!is_ec_ || !jose) return sig;
    // DER SEQUENCE{r, s} -> JOSE r||s, 48 bytes each.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (ecdsa == nullptr) throw std::runtime_error("d2i_ECDSA_SIG");
    std::string raw(96, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), reinterpret_cast<unsigned char*>(raw.data()), 48);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), reinterpret_cast<unsigned char*>(raw.data()) + 48, 48);
    ECDSA_SIG_free(ecdsa);
    return raw;
  }

  std::string kid_;
  bool is_ec_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// {"keys":[...]} of the given public keys.
inline std::string JwksJson(const std::vector<const TestSigningKey*>& keys) {
  std::string out = R"({"keys":[)";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ",";
    out += keys[i]->PublicJwk();
  }
  return out + "]}";
}

// An HMAC-SHA-x signed token, as an attacker who knows nothing but a public key might send.
inline std::string SignHmac(const std::string& header_json, const std::string& payload_json,
                            const std::string& secret, const EVP_MD* md) {
  const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

}  // namespace cephalgia::hooks::auth::testing
