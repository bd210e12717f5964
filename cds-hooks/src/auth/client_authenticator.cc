#include "cephalgia/hooks/auth/client_authenticator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>

#include "cephalgia/hooks/auth/base64url.h"
#include "cephalgia/hooks/auth/jwks.h"
#include "cephalgia/hooks/auth/replay_cache.h"
#include "cephalgia/json.h"
#include "jku_fetch.h"
#include "signature.h"

namespace cephalgia::hooks::auth {
namespace {

constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr std::size_t kMaxJtiBytes = 256;
constexpr std::size_t kMaxJkuBytes = 2048;

// The reasons are fixed phrases: a 401 body and the logs may show them (see the header).
Status Deny(const char* reason) { return Unauthenticated(reason); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

double Seconds(ClientAuthenticator::Clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A JWT NumericDate: a JSON number of seconds since the epoch (RFC 7519 §2).
std::optional<double> NumericDate(const rapidjson::Value& payload, std::string_view name) {
  std::optional<double> v = json::GetNumber(payload, name);
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

Result<rapidjson::Document> DecodeJsonSegment(std::string_view segment) {
  std::optional<std::string> bytes = Base64UrlDecode(segment);
  if (!bytes) return Deny("malformed token");
  Result<rapidjson::Document> doc = json::ParseUntrusted(*bytes, kMaxTokenBytes);
  if (!doc.ok() || !doc->IsObject()) return Deny("malformed token");
  return doc;
}

bool AudienceMatches(const rapidjson::Value& payload, std::string_view expected) {
  const rapidjson::Value* aud = json::Find(payload, "aud");
  if (aud == nullptr) return false;
  if (aud->IsString()) return json::AsStringView(*aud) == expected;
  if (!aud->IsArray()) return false;
  for (const rapidjson::Value& v : aud->GetArray()) {
    if (v.IsString() && json::AsStringView(v) == expected) return true;
  }
  return false;
}

struct JkuRule {
  std::string issuer;  // empty: any trusted issuer
  std::string prefix;
};

// "URL-PREFIX" or "ISS=URL-PREFIX" (see AuthConfig::jku_allow_prefixes).
Result<JkuRule> ParseJkuRule(std::string_view entry) {
  JkuRule rule;
  std::size_t split = std::string_view::npos;
  for (std::string_view scheme : {"=https://", "=http://"}) {
    split = std::min(split, entry.find(scheme));
  }
  if (split != std::string_view::npos && split > 0) {
    rule.issuer = std::string(entry.substr(0, split));
    entry.remove_prefix(split + 1);
  }
  rule.prefix = std::string(entry);
  const std::size_t scheme_end = rule.prefix.find("://");
  const bool http = rule.prefix.rfind("https://", 0) == 0 || rule.prefix.rfind("http://", 0) == 0;
  // At least "scheme://host/": a bare "https://" or "https://host" would allow far too much.
  if (!http || rule.prefix.find('/', scheme_end + 3) == std::string::npos) {
    return InvalidArgument("--jku-allow must be [ISS=]URL-PREFIX with a path, e.g. "
                           "https://ehr.example.org/.well-known/ (got " + std::string(entry) + ")",
                           "jku-allow");
  }
  return rule;
}

struct JkuEntry {
  std::shared_ptr<const JwkSet> set;  // null until a fetch succeeded
  ClientAuthenticator::Clock::time_point fetched_at{};
  ClientAuthenticator::Clock::time_point last_attempt{};
  bool attempted = false;
};

}  // namespace

Result<AuthMode> ParseAuthMode(std::string_view text) {
  if (text == "off") return AuthMode::kOff;
  if (text == "required") return AuthMode::kRequired;
  return InvalidArgument("auth mode must be \"off\" or \"required\"", "auth");
}

struct ClientAuthenticator::Impl {
  explicit Impl(AuthConfig c) : config(std::move(c)), replay(config.max_replay_entries) {}

  // The key for (kid, jku) or a denial. May fetch an allowlisted jku.
  Result<Jwk> FindKey(const std::string& kid, std::optional<std::string_view> jku,
                      std::string_view iss, Clock::time_point now);
  bool JkuAllowed(std::string_view jku, std::string_view iss) const {
    for (const JkuRule& rule : jku_rules) {
      if ((rule.issuer.empty() || rule.issuer == iss) &&
          jku.substr(0, rule.prefix.size()) == rule.prefix) {
        return true;
      }
    }
    return false;
  }
  bool IssuerTrusted(std::string_view iss) const {
    for (const std::string& t : config.trusted_issuers) {
      if (t == iss) return true;
    }
    return false;
  }

  const AuthConfig config;
  std::vector<JkuRule> jku_rules;  // parsed jku_allow_prefixes
  JwkSet configured;
  JtiReplayCache replay;
  std::mutex jku_mu;     // guards jku_cache
  std::mutex fetch_mu;   // one fetch at a time: a burst of tokens with a new kid fetches once
  std::map<std::string, JkuEntry, std::less<>> jku_cache;
  std::atomic<std::size_t> fetches{0};
};

Result<Jwk> ClientAuthenticator::Impl::FindKey(const std::string& kid,
                                               std::optional<std::string_view> jku,
                                               std::string_view iss, Clock::time_point now) {
  if (const Jwk* jwk = configured.Find(kid)) return *jwk;
  if (!jku) return Deny("unknown key id");
  if (jku->size() > kMaxJkuBytes || !JkuAllowed(*jku, iss)) return Deny("untrusted jku");
  const std::string url(*jku);

  auto lookup = [&](bool* may_fetch) -> std::optional<Jwk> {
    std::lock_guard lock(jku_mu);
    JkuEntry& entry = jku_cache[url];
    const bool stale = entry.set && now - entry.fetched_at >= config.jku_cache_ttl;
    if (entry.set && !stale) {
      if (const Jwk* jwk = entry.set->Find(kid)) return *jwk;
    }
    // Unknown kid (key rotation) or stale set: fetch, but not more than once per interval.
    *may_fetch = !entry.attempted || now - entry.last_attempt >= config.jku_min_refetch_interval;
    if (entry.set && stale && !*may_fetch) {
      if (const Jwk* jwk = entry.set->Find(kid)) return *jwk;  // better stale than nothing
    }
    return std::nullopt;
  };

  bool may_fetch = false;
  if (std::optional<Jwk> jwk = lookup(&may_fetch)) return *std::move(jwk);

  // Even when we may not fetch ourselves, another thread's fetch of this set may be in flight
  // (it marks the attempt first): wait for it, then look again.
  std::lock_guard fetch_lock(fetch_mu);
  if (std::optional<Jwk> jwk = lookup(&may_fetch)) return *std::move(jwk);
  if (!may_fetch) return Deny("unknown key id");
  {
    std::lock_guard lock(jku_mu);
    jku_cache[url].attempted = true;
    jku_cache[url].last_attempt = now;
  }
  fetches.fetch_add(1, std::memory_order_relaxed);
  Result<std::string> body = FetchJwksDocument(url, config.jku_fetch_timeout, config.jku_max_bytes);
  if (!body.ok()) return Deny("key set unavailable");
  Result<JwkSet> set = JwkSet::Parse(*body);
  if (!set.ok()) return Deny("key set invalid");
  auto shared = std::make_shared<const JwkSet>(*std::move(set));
  std::lock_guard lock(jku_mu);
  JkuEntry& entry = jku_cache[url];
  entry.set = shared;
  entry.fetched_at = now;
  if (const Jwk* jwk = shared->Find(kid)) return *jwk;
  return Deny("unknown key id");
}

ClientAuthenticator::ClientAuthenticator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientAuthenticator::~ClientAuthenticator() = default;

Result<std::unique_ptr<ClientAuthenticator>> ClientAuthenticator::Create(AuthConfig config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  const AuthConfig& c = impl->config;
  if (!c.jwks_file.empty()) {
    CEPHALGIA_ASSIGN_OR_RETURN(impl->configured, JwkSet::LoadFile(c.jwks_file));
  }
  if (c.mode == AuthMode::kRequired) {
    if (c.trusted_issuers.empty()) {
      return InvalidArgument("--auth required needs at least one --trusted-issuer", "trusted-issuer");
    }
    if (impl->configured.size() == 0 && c.jku_allow_prefixes.empty()) {
      return InvalidArgument("--auth required needs trusted keys: --jwks FILE or --jku-allow PREFIX",
                             "jwks");
    }
  }
  for (const std::string& entry : c.jku_allow_prefixes) {
    CEPHALGIA_ASSIGN_OR_RETURN(JkuRule rule, ParseJkuRule(entry));
    if (!rule.issuer.empty() && !impl->IssuerTrusted(rule.issuer)) {
      return InvalidArgument("--jku-allow names an issuer that is not trusted: " + rule.issuer,
                             "jku-allow");
    }
    impl->jku_rules.push_back(std::move(rule));
  }
  if (c.clock_skew.count() < 0 || c.max_token_lifetime.count() <= 0 || c.max_replay_entries == 0) {
    return InvalidArgument("invalid auth limits");
  }
  return std::unique_ptr<ClientAuthenticator>(new ClientAuthenticator(std::move(impl)));
}

bool ClientAuthenticator::required() const { return impl_->config.mode == AuthMode::kRequired; }

std::size_t ClientAuthenticator::jku_fetch_count() const {
  return impl_->fetches.load(std::memory_order_relaxed);
}

namespace {

// The compact JWS of "Bearer <token>" (scheme case-insensitive, whitespace trimmed), or the
// denial: no bearer token, or one that is empty or longer than kMaxTokenBytes.
Result<std::string_view> BearerToken(std::string_view authorization_header) {
  std::string_view value = Trim(authorization_header);
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || !EqualsIgnoreCase(value.substr(0, space), "Bearer")) {
    return Deny("missing bearer token");
  }
  const std::string_view token = Trim(value.substr(space + 1));
  if (token.empty() || token.size() > kMaxTokenBytes) return Deny("malformed token");
  return token;
}

}  // namespace

bool ClientAuthenticator::MayFetchKeys(std::string_view authorization_header,
                                       Clock::time_point now) const {
  if (impl_->config.mode == AuthMode::kOff) return false;
  const Result<std::string_view> token = BearerToken(authorization_header);
  const std::size_t dot = token.ok() ? token->find('.') : std::string_view::npos;
  if (dot == std::string_view::npos) return false;
  auto header = DecodeJsonSegment(token->substr(0, dot));
  if (!header.ok()) return false;  // Verify denies it without fetching
  const std::optional<std::string_view> kid = json::GetString(*header, "kid");
  const std::optional<std::string_view> jku = json::GetString(*header, "jku");
  if (!kid || !jku || impl_->configured.Find(std::string(*kid)) != nullptr) return false;
  std::lock_guard lock(impl_->jku_mu);
  auto entry = impl_->jku_cache.find(*jku);
  if (entry == impl_->jku_cache.end() || !entry->second.set) return true;
  const bool stale = now - entry->second.fetched_at >= impl_->config.jku_cache_ttl;
  return stale || entry->second.set->Find(std::string(*kid)) == nullptr;
}

Result<VerifiedClient> ClientAuthenticator::Verify(std::string_view authorization_header,
                                                   std::string_view expected_audience,
                                                   Clock::time_point now) {
  const AuthConfig& config = impl_->config;
  if (config.mode == AuthMode::kOff) return VerifiedClient{};

  // 1. "Bearer <compact JWS>".
  CEPHALGIA_ASSIGN_OR_RETURN(const std::string_view token, BearerToken(authorization_header));
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Deny("malformed token");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  // 2. JOSE header.
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document header, DecodeJsonSegment(header_b64));
  const std::optional<std::string_view> alg_name = json::GetString(header, "alg");
  JwsAlg alg;
  if (alg_name == "ES384") {
    alg = JwsAlg::kEs384;
  } else if (alg_name == "RS384") {
    alg = JwsAlg::kRs384;
  } else {
    return Deny("unsupported alg");  // none, HS*, RS256, ES256, PS*, EdDSA, missing, non-string
  }
  const rapidjson::Value* typ = json::Find(header, "typ");
  if (typ != nullptr ? !(typ->IsString() && EqualsIgnoreCase(json::AsStringView(*typ), "JWT"))
                     : config.require_typ) {
    return Deny("bad typ");
  }
  if (json::Find(header, "crit") != nullptr) return Deny("unsupported crit");
  const std::optional<std::string_view> kid = json::GetString(header, "kid");
  if (!kid || kid->empty()) return Deny("missing kid");
  const rapidjson::Value* jku_value = json::Find(header, "jku");
  if (jku_value != nullptr && !jku_value->IsString()) return Deny("malformed token");
  std::optional<std::string_view> jku;
  if (jku_value != nullptr) jku = json::AsStringView(*jku_value);

  // 3. Issuer, read before the signature is checked, only to decide which keys may be used.
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document payload, DecodeJsonSegment(payload_b64));
  const std::optional<std::string_view> iss = json::GetString(payload, "iss");
  if (!iss || iss->empty()) return Deny("missing iss");
  if (!impl_->IssuerTrusted(*iss)) return Deny("untrusted issuer");

  // 4. Key.
  CEPHALGIA_ASSIGN_OR_RETURN(Jwk jwk, impl_->FindKey(std::string(*kid), jku, *iss, now));
  if (!jwk.alg.empty() && jwk.alg != *alg_name) return Deny("key not for this alg");

  // 5. Signature over the ASCII "header.payload".
  std::optional<std::string> signature = Base64UrlDecode(signature_b64);
  if (!signature) return Deny("malformed token");
  if (!VerifyJwsSignature(alg, *jwk.key, token.substr(0, dot2), *signature)) {
    return Deny("bad signature");
  }

  // 6. Claims.
  if (!AudienceMatches(payload, expected_audience)) return Deny("audience mismatch");
  const double t = Seconds(now);
  const double skew = static_cast<double>(config.clock_skew.count());
  const std::optional<double> exp = NumericDate(payload, "exp");
  if (!exp) return Deny("missing exp");
  if (*exp <= t - skew) return Deny("token expired");
  if (*exp > t + static_cast<double>(config.max_token_lifetime.count()) + skew) {
    return Deny("token lifetime too long");
  }
  const std::optional<double> iat = NumericDate(payload, "iat");
  if (!iat) return Deny("missing iat");
  if (*iat > t + skew) return Deny("token issued in the future");
  if (json::Find(payload, "nbf") != nullptr) {
    const std::optional<double> nbf = NumericDate(payload, "nbf");
    if (!nbf || *nbf > t + skew) return Deny("token not yet valid");
  }
  const std::optional<std::string_view> jti = json::GetString(payload, "jti");
  if (!jti || jti->empty() || jti->size() > kMaxJtiBytes) return Deny("missing jti");
  const rapidjson::Value* tenant = json::Find(payload, "tenant");
  if (tenant != nullptr && !tenant->IsString()) return Deny("malformed token");

  // 7. Replay: remembered until the token could no longer be accepted anyway.
  const auto forget_at =
      Clock::time_point(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(*exp + skew)));
  switch (impl_->replay.Insert(*iss, *jti, forget_at, now)) {
    case JtiReplayCache::kFresh:
      break;
    case JtiReplayCache::kReplayed:
      return Deny("replayed jti");
    case JtiReplayCache::kFull:
      return Deny("replay cache full");
  }

  VerifiedClient client{std::string(*iss), std::string(*kid), std::string(*jti), std::nullopt};
  if (tenant != nullptr) client.tenant = std::string(json::AsStringView(*tenant));
  return client;
}

}  // namespace cephalgia::hooks::auth
