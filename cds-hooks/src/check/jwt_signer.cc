#include "jwt_signer.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>

#include "cephalgia/hooks/auth/base64url.h"

namespace cephalgia::check {

using hooks::auth::Base64UrlEncode;

Es384Signer::Es384Signer(EVP_PKEY* key, std::string kid) : key_(key), kid_(std::move(kid)) {}

Es384Signer::~Es384Signer() { EVP_PKEY_free(key_); }

Status Es384Signer::ReadPublicPoint() {
  char group[32] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_base_id(key_) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key_, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_len) != 1 ||
      (std::string(group) != "secp384r1" && std::string(group) != "P-384")) {
    return InvalidArgument("the key is not an EC P-384 key (ES384 needs one)");
  }
  for (auto [name, out] :
       {std::pair{OSSL_PKEY_PARAM_EC_PUB_X, &x_}, std::pair{OSSL_PKEY_PARAM_EC_PUB_Y, &y_}}) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key_, name, &bn) != 1) return Internal("cannot read the public key");
    std::string bytes(48, '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(bytes.data()), 48);
    BN_free(bn);
    *out = Base64UrlEncode(bytes);
  }
  if (kid_.empty()) {
    // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    const std::string canonical =
        R"({"crv":"P-384","kty":"EC","x":")" + x_ + R"(","y":")" + y_ + R"("})";
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr);
    kid_ = Base64UrlEncode(std::string(reinterpret_cast<char*>(digest), len));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Es384Signer>> Es384Signer::FromPemFile(const std::string& path,
                                                              const std::string& kid) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return NotFound("cannot read --jwks-key " + path);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (key == nullptr) return InvalidArgument("--jwks-key " + path + " is not a PEM private key");
  std::unique_ptr<Es384Signer> signer(new Es384Signer(key, kid));
  if (Status s = signer->ReadPublicPoint(); !s.ok()) {
    return InvalidArgument("--jwks-key " + path + ": " + s.message());
  }
  return signer;
}

Result<std::unique_ptr<Es384Signer>> Es384Signer::Generate(const std::string& kid) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (key == nullptr) return Internal("P-384 key generation failed");
  std::unique_ptr<Es384Signer> signer(new Es384Signer(key, kid));
  if (Status s = signer->ReadPublicPoint(); !s.ok()) return s;
  return signer;
}

std::string Es384Signer::PublicJwk() const {
  return R"({"kty":"EC","crv":"P-384","use":"sig","alg":"ES384","kid":")" + kid_ + R"(","x":")" +
         x_ + R"(","y":")" + y_ + R"("})";
}

Result<std::string> Es384Signer::Sign(const std::string& header_json,
                                      const std::string& payload_json) const {
  const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return Internal("out of memory");
  size_t len = 0;
  std::string der;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key_) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    der.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    der.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return Internal("ES384 signing failed");
  // OpenSSL gives DER SEQUENCE{r, s}; JWS wants r||s, 48 bytes each (RFC 7518 §3.4).
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return Internal("unreadable ECDSA signature");
  std::string raw(96, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 48);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 48, 48);
  ECDSA_SIG_free(sig);
  return input + "." + Base64UrlEncode(raw);
}

}  // namespace cephalgia::check
