#include "cephalgia/hooks/auth/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <fstream>
#include <sstream>

#include "cephalgia/hooks/auth/base64url.h"
#include "cephalgia/json.h"

namespace cephalgia::hooks::auth {
namespace {

// A JWK Set is small; anything bigger is not a key set we want to hold in memory.
constexpr std::size_t kMaxJwksBytes = 256 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr std::size_t kP384CoordinateBytes = 48;

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// EVP_PKEY_fromdata for a public key of algorithm `name`, then a public-key check (for EC this
// re-checks that the point is on the curve, so an invalid-curve key never reaches a verify).
Result<EVP_PKEY*> PublicKeyFromParams(const char* name, const OSSL_PARAM* params) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return Internal("OpenSSL: fromdata init");
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) <= 0 ||
      pkey == nullptr) {
    return InvalidArgument("key parameters are not a valid public key");
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) <= 0) {
    EVP_PKEY_free(pkey);
    return InvalidArgument("public key check failed");
  }
  return pkey;
}

Result<std::string> DecodeMember(const rapidjson::Value& jwk, std::string_view name) {
  std::optional<std::string_view> text = json::GetString(jwk, name);
  if (!text) return InvalidArgument("missing " + std::string(name));
  std::optional<std::string> bytes = Base64UrlDecode(*text);
  if (!bytes || bytes->empty()) return InvalidArgument("bad base64url in " + std::string(name));
  return *std::move(bytes);
}

Result<std::shared_ptr<const PublicKey>> EcP384FromJwk(const rapidjson::Value& jwk) {
  CEPHALGIA_ASSIGN_OR_RETURN(std::string x, DecodeMember(jwk, "x"));
  CEPHALGIA_ASSIGN_OR_RETURN(std::string y, DecodeMember(jwk, "y"));
  // RFC 7518 §6.2.1.2: the coordinates are the full size of the field, never shortened.
  if (x.size() != kP384CoordinateBytes || y.size() != kP384CoordinateBytes) {
    return InvalidArgument("P-384 coordinates must be 48 bytes");
  }
  std::string point = "\x04" + x + y;  // SEC1 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size())) {
    return Internal("OpenSSL: param build");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return Internal("OpenSSL: param build");
  CEPHALGIA_ASSIGN_OR_RETURN(EVP_PKEY * pkey, PublicKeyFromParams("EC", params.get()));
  return std::make_shared<const PublicKey>(KeyType::kEcP384, pkey);
}

Result<std::shared_ptr<const PublicKey>> RsaFromJwk(const rapidjson::Value& jwk) {
  CEPHALGIA_ASSIGN_OR_RETURN(std::string n_bytes, DecodeMember(jwk, "n"));
  CEPHALGIA_ASSIGN_OR_RETURN(std::string e_bytes, DecodeMember(jwk, "e"));
  BnPtr n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes.data()),
                    static_cast<int>(n_bytes.size()), nullptr));
  BnPtr e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes.data()),
                    static_cast<int>(e_bytes.size()), nullptr));
  if (!n || !e) return Internal("OpenSSL: BN_bin2bn");
  if (BN_num_bits(n.get()) < kMinRsaBits) return InvalidArgument("RSA key shorter than 2048 bits");
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return Internal("OpenSSL: param build");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return Internal("OpenSSL: param build");
  CEPHALGIA_ASSIGN_OR_RETURN(EVP_PKEY * pkey, PublicKeyFromParams("RSA", params.get()));
  return std::make_shared<const PublicKey>(KeyType::kRsa, pkey);
}

}  // namespace

PublicKey::~PublicKey() { EVP_PKEY_free(pkey_); }

Result<JwkSet> JwkSet::Parse(std::string_view text) {
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, json::ParseUntrusted(text, kMaxJwksBytes));
  const rapidjson::Value* keys = json::GetArray(doc, "keys");
  if (keys == nullptr) return InvalidArgument("a JWK Set needs a \"keys\" array", "keys");
  JwkSet set;
  for (rapidjson::SizeType i = 0; i < keys->Size(); ++i) {
    const rapidjson::Value& jwk = (*keys)[i];
    const std::string where = "keys[" + std::to_string(i) + "]";
    if (!jwk.IsObject()) return InvalidArgument("a JWK must be an object", where);
    std::optional<std::string_view> kid = json::GetString(jwk, "kid");
    std::optional<std::string_view> kty = json::GetString(jwk, "kty");
    std::optional<std::string_view> use = json::GetString(jwk, "use");
    // Not selectable by kid, or not a signature key: not for us (see the file comment).
    if (!kid || kid->empty() || !kty || (use && *use != "sig")) continue;
    Result<std::shared_ptr<const PublicKey>> key = Status(StatusCode::kInternal, "unset");
    if (*kty == "EC") {
      if (json::GetString(jwk, "crv") != std::optional<std::string_view>("P-384")) continue;
      key = EcP384FromJwk(jwk);
    } else if (*kty == "RSA") {
      key = RsaFromJwk(jwk);
    } else {
      continue;  // "oct" (symmetric) and "OKP" keys are never trusted for client JWTs
    }
    if (!key.ok()) {
      ERR_clear_error();  // do not leave OpenSSL errors for a later TLS call on this thread
      return InvalidArgument("JWK kid \"" + std::string(*kid) + "\": " + key.status().message(),
                             where);
    }
    std::string alg(json::GetString(jwk, "alg").value_or(""));
    if (set.keys_.count(*kid) != 0) {
      return InvalidArgument("duplicate kid \"" + std::string(*kid) + "\" in JWK Set", where);
    }
    set.keys_.emplace(std::string(*kid), Jwk{std::string(*kid), std::move(alg), *std::move(key)});
  }
  return set;
}

Result<JwkSet> JwkSet::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot read JWK Set file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  Result<JwkSet> set = Parse(text.str());
  if (!set.ok()) return set.status().WithContext(path);
  return set;
}

const Jwk* JwkSet::Find(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace cephalgia::hooks::auth
