// File: jwks.h
//
// A JSON Web Key Set (RFC 7517) of *public signature* keys, as CDS clients publish them at their
// `jku` or hand them over out of band (`serve --jwks FILE`). Keys are turned into OpenSSL 3
// EVP_PKEYs once, at parse time (EVP_PKEY_fromdata), so verifying a token does no JSON work.
//
// Only what CDS Hooks recommends is kept (checklist §J items 100-101):
//   - kty "EC", crv "P-384" (x, y: 48 bytes each)  -> usable with ES384
//   - kty "RSA" (n >= 2048 bits, e)                  -> usable with RS384
// Other keys (encryption keys, other curves, symmetric "oct" keys, keys without `kid`) are
// skipped, not refused: a client's published set may legitimately contain them. A usable key that
// is malformed (bad base64url, point not on the curve, ...) or a duplicate `kid` refuses the whole
// set, because then we cannot know which key the client meant.
//
//   CEPHALGIA_ASSIGN_OR_RETURN(JwkSet set, JwkSet::LoadFile("/etc/cephalgia/clients.jwks.json"));
//   if (const Jwk* jwk = set.Find(kid)) { ... }
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "cephalgia/status.h"

// OpenSSL's EVP_PKEY, forward-declared so that this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace cephalgia::hooks::auth {

// Which JWS algorithm a key can verify.
enum class KeyType { kEcP384, kRsa };

// An immutable public key; shared between the configured set, fetched sets and in-flight checks.
class PublicKey {
 public:
  PublicKey(KeyType type, evp_pkey_st* pkey) : type_(type), pkey_(pkey) {}  // takes ownership
  ~PublicKey();
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;

  KeyType type() const { return type_; }
  evp_pkey_st* pkey() const { return pkey_; }

 private:
  KeyType type_;
  evp_pkey_st* pkey_;
};

struct Jwk {
  std::string kid;
  std::string alg;  // the JWK's optional `alg`; empty when absent (then any matching alg is ok)
  std::shared_ptr<const PublicKey> key;
};

class JwkSet {
 public:
  JwkSet() = default;

  // Parses a JWK Set document `{"keys":[...]}` (kInvalidArgument on malformed input).
  static Result<JwkSet> Parse(std::string_view json);
  // Reads and parses a JWK Set file (kInvalidArgument naming the file when unreadable).
  static Result<JwkSet> LoadFile(const std::string& path);

  // The key whose `kid` is exactly `kid`, or nullptr.
  const Jwk* Find(std::string_view kid) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, Jwk, std::less<>> keys_;
};

}  // namespace cephalgia::hooks::auth
