// libFuzzer target: client authentication (CDS Hooks JWT, checklist §J) over untrusted bytes.
// The first byte picks the entry point, the rest is its input:
//   0  an Authorization header value: ClientAuthenticator::MayFetchKeys and Verify (compact
//      form, base64url, header JSON, alg/typ/kid/jku, claims up to the signature check) with a
//      configured JWK Set (an EC P-384 and an RSA key) and required mode;
//   1  "<header JSON>\n<payload JSON>", signed here with the configured EC key, then verified:
//      so that mutated headers and claims get past the signature and reach the claim checks
//      (iss, aud, exp/nbf/iat, lifetime, jti replay, tenant);
//   2  a JWK Set document: JwkSet::Parse (key types, curves, sizes, base64url of n/e/x/y);
//   3  base64url text: Base64UrlDecode.
// No jku is allowlisted, so nothing is fetched from the network.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "cephalgia/hooks/auth/base64url.h"
#include "cephalgia/hooks/auth/client_authenticator.h"
#include "cephalgia/hooks/auth/jwks.h"
#include "fuzz_support.h"
#include "test_jwt_signer.h"

namespace {

namespace auth = cephalgia::hooks::auth;
constexpr char kAudience[] = "https://cds.example.org/cds-services/headache-patient-view";
const auth::ClientAuthenticator::Clock::time_point kNow{std::chrono::seconds(1'700'000'000)};

// Keys generated once per process. Signed tokens get a fresh authenticator each, so that a jti
// remembered from one input never changes how the next is handled (the same bytes always take
// the same path, as libFuzzer expects); unsigned ones never get that far and share one.
struct Fixture {
  auth::testing::TestSigningKey ec = auth::testing::TestSigningKey::EcP384("ec-1");
  auth::testing::TestSigningKey rsa = auth::testing::TestSigningKey::Rsa2048("rsa-1");
  auth::AuthConfig config;
  std::unique_ptr<auth::ClientAuthenticator> shared;

  Fixture() {
    char dir[] = "/tmp/cephalgia-fuzz-jwt-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    config.mode = auth::AuthMode::kRequired;
    config.jwks_file = std::string(dir) + "/jwks.json";
    std::ofstream(config.jwks_file) << auth::testing::JwksJson({&ec, &rsa});
    config.trusted_issuers = {"https://ehr.example.org", "https://other-ehr.example.org"};
    config.max_replay_entries = 64;
    static std::string cleanup_dir = dir;
    static std::string cleanup_file = config.jwks_file;
    std::atexit([] {
      std::remove(cleanup_file.c_str());
      rmdir(cleanup_dir.c_str());
    });
    shared = NewAuthenticator();
  }
  std::unique_ptr<auth::ClientAuthenticator> NewAuthenticator() const {
    auto created = auth::ClientAuthenticator::Create(config);
    if (!created.ok()) {
      std::fprintf(stderr, "fuzz_jwt: %s\n", created.status().ToString().c_str());
      std::abort();
    }
    return *std::move(created);
  }
};

void Verify(auth::ClientAuthenticator& authenticator, std::string_view header) {
  (void)authenticator.MayFetchKeys(header, kNow);
  auth::ClaimedClient claimed;
  auto verified = authenticator.Verify(header, kAudience, kNow, &claimed, /*may_fetch_keys=*/true);
  if (!verified.ok() && verified.status().code() != cephalgia::StatusCode::kUnauthenticated) {
    // Every refusal of a token is a 401; anything else is the verifier's own failure.
    std::fprintf(stderr, "fuzz_jwt: %s\n", verified.status().ToString().c_str());
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture;
  if (size == 0) return 0;
  const std::string_view input = cephalgia::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      Verify(*fixture->shared, input);
      break;
    case 1: {
      const size_t newline = input.find('\n');
      if (newline == std::string_view::npos) return 0;
      const std::string token = fixture->ec.Sign(std::string(input.substr(0, newline)),
                                                 std::string(input.substr(newline + 1)));
      Verify(*fixture->NewAuthenticator(), "Bearer " + token);
      break;
    }
    case 2: {
      auto set = auth::JwkSet::Parse(input);
      if (set.ok()) (void)set->Find("ec-1");
      break;
    }
    case 3:
      (void)auth::Base64UrlDecode(input);
      break;
  }
  return 0;
}
