// File: signature.h (private to hooks_auth)
//
// JWS signature verification with OpenSSL EVP for the two algorithms CDS Hooks recommends.
// No cryptography is written here: we only reshape the JOSE signature encoding for OpenSSL.
#pragma once

#include <string_view>

#include "cephalgia/hooks/auth/jwks.h"

namespace cephalgia::hooks::auth {

enum class JwsAlg { kEs384, kRs384 };

// True iff `signature` (the decoded third JWS segment) is a valid `alg` signature by `key` over
// `signing_input` (the ASCII `header.payload`). False on any mismatch, including a key of the
// wrong type for `alg`.
bool VerifyJwsSignature(JwsAlg alg, const PublicKey& key, std::string_view signing_input,
                        std::string_view signature);

}  // namespace cephalgia::hooks::auth
