// File: jwt_signer.h
//
// Es384Signer: the client side of CDS Hooks authentication (checklist §J) for `cephalgia check`.
// Loads an EC P-384 private key (PEM) and signs compact JWS tokens with ES384, the signature in
// JOSE's raw r||s form (96 bytes), as a CDS client does. Also publishes the public key as a JWK
// Set for the service under test to trust, and can make a throw-away key the service has never
// seen (the "unknown key" check).
//
//   auto signer = Es384Signer::FromPemFile("client-key.pem", /*kid=*/"");  // kid: RFC 7638
//   thumbprint std::string jwt = signer->Sign(header_json, payload_json);
#pragma once

#include <memory>
#include <string>

#include "cephalgia/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cephalgia::check {

class Es384Signer {
 public:
  // `kid` empty: the key's RFC 7638 JWK thumbprint (SHA-256, base64url).
  static Result<std::unique_ptr<Es384Signer>> FromPemFile(const std::string& path,
                                                          const std::string& kid);
  // A fresh P-384 key (never published anywhere).
  static Result<std::unique_ptr<Es384Signer>> Generate(const std::string& kid);
  ~Es384Signer();

  const std::string& kid() const { return kid_; }
  // {"kty":"EC","crv":"P-384","use":"sig","alg":"ES384","kid":...,"x":...,"y":...}
  std::string PublicJwk() const;
  std::string PublicJwkSet() const { return R"({"keys":[)" + PublicJwk() + "]}"; }
  // header.payload.signature; both JSON texts are encoded as given.
  Result<std::string> Sign(const std::string& header_json, const std::string& payload_json) const;

 private:
  Es384Signer(EVP_PKEY* key, std::string kid);
  Status ReadPublicPoint();

  EVP_PKEY* key_;
  std::string kid_;
  std::string x_, y_;  // base64url, 48 bytes each
};

}  // namespace cephalgia::check
