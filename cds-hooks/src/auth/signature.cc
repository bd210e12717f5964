#include "signature.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

namespace cephalgia::hooks::auth {
namespace {

constexpr std::size_t kEs384SignatureBytes = 96;  // r || s, 48 bytes each (RFC 7518 §3.4)

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// JOSE encodes an ECDSA signature as fixed-width big-endian r||s; OpenSSL's EVP_DigestVerify
// wants the ASN.1 DER SEQUENCE { r INTEGER, s INTEGER } (checklist item 100). Returns an empty
// string when `raw` cannot be a P-384 signature.
std::string JoseEcdsaToDer(std::string_view raw) {
  if (raw.size() != kEs384SignatureBytes) return {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(bytes, kEs384SignatureBytes / 2, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + kEs384SignatureBytes / 2, kEs384SignatureBytes / 2, nullptr);
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);  // ECDSA_SIG_set0 took ownership only on success
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0 || der == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool EvpVerifySha384(EVP_PKEY* pkey, std::string_view signing_input, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  // For an RSA key the default padding is RSASSA-PKCS1-v1_5, which is what RS384 is.
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, pkey) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

bool VerifyUnchecked(JwsAlg alg, const PublicKey& key, std::string_view signing_input,
                     std::string_view signature) {
  switch (alg) {
    case JwsAlg::kEs384: {
      if (key.type() != KeyType::kEcP384) return false;
      const std::string der = JoseEcdsaToDer(signature);
      return !der.empty() && EvpVerifySha384(key.pkey(), signing_input, der);
    }
    case JwsAlg::kRs384:
      if (key.type() != KeyType::kRsa) return false;
      return EvpVerifySha384(key.pkey(), signing_input, signature);
  }
  return false;
}

}  // namespace

bool VerifyJwsSignature(JwsAlg alg, const PublicKey& key, std::string_view signing_input,
                        std::string_view signature) {
  const bool ok = VerifyUnchecked(alg, key, signing_input, signature);
  // A failed verify leaves entries on this thread's OpenSSL error queue; a TLS stream served later
  // by the same thread would misread them as its own errors.
  ERR_clear_error();
  return ok;
}

}  // namespace cephalgia::hooks::auth
