#include "cephalgia/hooks/auth/client_authenticator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>

#include "cephalgia/ascii.h"
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
  std::string prefix;  // normalised like a jku (NormalizeJkuUrl)
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
  const std::string prefix(entry);
  const std::size_t scheme_end = prefix.find("://");
  const bool http = prefix.rfind("https://", 0) == 0 || prefix.rfind("http://", 0) == 0;
  // At least "scheme://host/": a bare "https://" or "https://host" would allow far too much.
  Result<std::string> normalized = InvalidArgument("no path");
  if (http && prefix.find('/', scheme_end + 3) != std::string::npos) {
    normalized = NormalizeJkuUrl(prefix, /*allow_dot_segments=*/true);
  }
  if (!normalized.ok()) {
    return InvalidArgument(
        "--jku-allow must be [ISS=]URL-PREFIX with a path, e.g. "
        "https://ehr.example.org/.well-known/ (got " +
            prefix + ")",
        "jku-allow");
  }
  rule.prefix = *std::move(normalized);
  return rule;
}

using Clock = ClientAuthenticator::Clock;

struct CachedKeySet {
  std::shared_ptr<const JwkSet> set;
  Clock::time_point fetched_at{};
  Clock::time_point last_attempt{};      // of a fetch, successful or not
  std::list<std::string>::iterator lru;  // its place in Impl::lru (front: most recent)
};

// One fetch of one jku URL; verifications needing the same URL meanwhile wait for it.
struct InFlightFetch {
  bool done = false;
  Status status;                      // the denial when the fetch failed
  std::shared_ptr<const JwkSet> set;  // when it succeeded
};

// Token bucket of an issuer's fetches of jku URLs that are not cached.
struct IssuerBudget {
  double tokens = 0;
  Clock::time_point updated{};
};

// The key set a token names, read before any key is looked up (steps 1-3 of Verify).
struct TokenParts {
  std::string_view signing_input;  // "header.payload"
  std::string_view signature_b64;
  rapidjson::Document payload;
  JwsAlg alg = JwsAlg::kEs384;
  std::string alg_name;
  std::string kid;
  std::optional<std::string> jku;
  std::string iss;
};

}  // namespace

Result<AuthMode> ParseAuthMode(std::string_view text) {
  if (text == "off") return AuthMode::kOff;
  if (text == "required") return AuthMode::kRequired;
  return InvalidArgument("auth mode must be \"off\" or \"required\"", "auth");
}

std::string_view RefusalReasonLabel(std::string_view reason) {
  static constexpr std::pair<std::string_view, std::string_view> kLabels[] = {
      {"missing bearer token", "missing_token"},
      {"malformed token", "malformed"},
      {"unsupported alg", "unsupported_alg"},
      {"bad typ", "bad_typ"},
      {"unsupported crit", "unsupported_crit"},
      {"missing kid", "missing_kid"},
      {"missing iss", "missing_iss"},
      {"untrusted issuer", "untrusted_issuer"},
      {"untrusted jku", "untrusted_jku"},
      {"unknown key id", "unknown_key"},
      {"key set unavailable", "key_set_unavailable"},
      {"key set invalid", "key_set_invalid"},
      {"jku fetch rate limited", "jku_rate_limited"},
      {"key not for this alg", "key_alg_mismatch"},
      {"bad signature", "bad_signature"},
      {"audience mismatch", "wrong_audience"},
      {"missing exp", "missing_exp"},
      {"token expired", "expired"},
      {"token lifetime too long", "lifetime_too_long"},
      {"missing iat", "missing_iat"},
      {"token issued in the future", "issued_in_future"},
      {"token not yet valid", "not_yet_valid"},
      {"missing jti", "missing_jti"},
      {"replayed jti", "replay"},
      {"replay cache full", "replay_cache_full"},
  };
  for (const auto& [phrase, label] : kLabels) {
    if (phrase == reason) return label;
  }
  return "other";
}

struct ClientAuthenticator::Impl {
  explicit Impl(AuthConfig c)
      : config(std::move(c)),
        replay(config.replay_cache != nullptr
                   ? config.replay_cache
                   : std::make_shared<JtiReplayCache>(config.max_replay_entries)) {}

  // Steps 1-3 of Verify: the bearer token, its JOSE header and a trusted `iss`.
  Result<TokenParts> ReadToken(std::string_view authorization_header, ClaimedClient* claimed) const;
  // The key for (kid, jku) or a denial. May fetch an allowlisted jku (unless `may_fetch` is false).
  Result<Jwk> FindKey(const std::string& kid, const std::optional<std::string>& jku,
                      std::string_view iss, Clock::time_point now, bool may_fetch);
  // The jku as it will be fetched, if the allowlist lets `iss` use it.
  Result<std::string> AllowedJku(std::string_view jku, std::string_view iss) const {
    if (jku.size() > kMaxJkuBytes) return Deny("untrusted jku");
    Result<std::string> url = NormalizeJkuUrl(jku);
    if (!url.ok()) return Deny("untrusted jku");
    for (const JkuRule& rule : jku_rules) {
      if ((rule.issuer.empty() || rule.issuer == iss) && url->rfind(rule.prefix, 0) == 0) {
        return url;
      }
    }
    return Deny("untrusted jku");
  }
  bool IssuerTrusted(std::string_view iss) const {
    for (const std::string& t : config.trusted_issuers) {
      if (t == iss) return true;
    }
    return false;
  }
  // The issuer's new-URL fetch budget at `now` (callers hold jku_mu).
  double BudgetAt(std::string_view iss, Clock::time_point now) const {
    const double burst = static_cast<double>(std::max(config.jku_new_url_burst, 0));
    auto it = budgets.find(iss);
    if (it == budgets.end()) return burst;
    const double interval = std::chrono::duration<double>(config.jku_new_url_interval).count();
    const double elapsed =
        std::max(0.0, std::chrono::duration<double>(now - it->second.updated).count());
    return std::min(burst, it->second.tokens + (interval > 0 ? elapsed / interval : burst));
  }
  void SpendBudget(std::string_view iss, Clock::time_point now) {
    const double left = BudgetAt(iss, now) - 1;
    IssuerBudget& budget = budgets[std::string(iss)];
    budget.tokens = left;
    budget.updated = std::max(budget.updated, now);
  }
  // Caches a freshly fetched set (callers hold jku_mu), evicting the least recently used.
  void Store(const std::string& url, std::shared_ptr<const JwkSet> set, Clock::time_point now) {
    auto it = jku_cache.find(url);
    if (it == jku_cache.end()) {
      lru.push_front(url);
      it = jku_cache.emplace(url, CachedKeySet{}).first;
      it->second.lru = lru.begin();
    } else {
      lru.splice(lru.begin(), lru, it->second.lru);
    }
    it->second.set = std::move(set);
    it->second.fetched_at = now;
    it->second.last_attempt = now;
    while (jku_cache.size() > std::max<std::size_t>(config.jku_cache_capacity, 1)) {
      jku_cache.erase(lru.back());
      lru.pop_back();
    }
  }

  const AuthConfig config;
  std::vector<JkuRule> jku_rules;  // parsed jku_allow_prefixes
  JwkSet configured;
  std::shared_ptr<ReplayCache> replay;
  // Guards everything below. Never held during a fetch.
  mutable std::mutex jku_mu;
  std::condition_variable fetch_done;  // a fetch of in_flight finished
  std::unordered_map<std::string, CachedKeySet> jku_cache;
  std::list<std::string> lru;  // cached URLs, most recently used first
  std::unordered_map<std::string, std::shared_ptr<InFlightFetch>> in_flight;
  std::map<std::string, IssuerBudget, std::less<>> budgets;  // trusted issuers only
  std::atomic<std::size_t> fetches{0};
};

namespace {

// A fetched document as a usable key set, or the denial.
Result<std::shared_ptr<const JwkSet>> FetchKeySet(const std::string& url,
                                                  const AuthConfig& config) {
  Result<std::string> body = FetchJwksDocument(url, config.jku_fetch_timeout, config.jku_max_bytes);
  if (!body.ok()) return Deny("key set unavailable");
  Result<JwkSet> set = JwkSet::Parse(*body);
  if (!set.ok() || set->size() == 0) return Deny("key set invalid");
  return std::make_shared<const JwkSet>(*std::move(set));
}

}  // namespace

Result<Jwk> ClientAuthenticator::Impl::FindKey(const std::string& kid,
                                               const std::optional<std::string>& jku,
                                               std::string_view iss, Clock::time_point now,
                                               bool may_fetch) {
  if (const Jwk* jwk = configured.Find(kid)) return *jwk;
  if (!jku) return Deny("unknown key id");
  CEPHALGIA_ASSIGN_OR_RETURN(const std::string url, AllowedJku(*jku, iss));

  std::shared_ptr<const JwkSet> stale;  // a cached set too old or without the kid
  // Better a stale set that has the key than a refusal, when we cannot fetch a fresh one.
  auto stale_or = [&](Status denial) -> Result<Jwk> {
    if (stale) {
      if (const Jwk* jwk = stale->Find(kid)) return *jwk;
    }
    return denial;
  };

  std::unique_lock lock(jku_mu);
  std::shared_ptr<InFlightFetch> flight;
  bool leader = false;
  auto cached = jku_cache.find(url);
  if (cached != jku_cache.end()) {
    CachedKeySet& entry = cached->second;
    lru.splice(lru.begin(), lru, entry.lru);
    if (now - entry.fetched_at < config.jku_cache_ttl) {
      if (const Jwk* jwk = entry.set->Find(kid)) return *jwk;
    }
    stale = entry.set;
  }
  if (auto running = in_flight.find(url); running != in_flight.end()) {
    if (!may_fetch) return stale_or(Deny("key set unavailable"));
    flight = running->second;
  } else {
    // Unknown kid (key rotation) or stale set: refetch, but not more than once per interval. A
    // URL not cached: only within the issuer's budget, so tokens naming ever new URLs under an
    // allowed prefix cannot make us fetch (or remember) without bound.
    if (cached != jku_cache.end()) {
      if (now - cached->second.last_attempt < config.jku_min_refetch_interval) {
        return stale_or(Deny("unknown key id"));
      }
    } else if (BudgetAt(iss, now) < 1) {
      return Deny("jku fetch rate limited");
    }
    if (!may_fetch) return stale_or(Deny("key set unavailable"));
    if (cached != jku_cache.end()) {
      cached->second.last_attempt = now;
    } else {
      SpendBudget(iss, now);
    }
    flight = std::make_shared<InFlightFetch>();
    in_flight.emplace(url, flight);
    leader = true;
  }

  if (leader) {
    lock.unlock();  // other URLs, and cached keys, are served while this one is fetched
    fetches.fetch_add(1, std::memory_order_relaxed);
    Result<std::shared_ptr<const JwkSet>> fetched = Deny("key set unavailable");
    try {
      fetched = FetchKeySet(url, config);
    } catch (...) {
      // Out of memory mid-fetch: still close the flight below, or its waiters would hang.
    }
    lock.lock();
    in_flight.erase(url);
    flight->done = true;
    if (fetched.ok()) {
      flight->set = *fetched;
      Store(url, *fetched, now);
    } else {
      flight->status = fetched.status();  // nothing is cached for a failed fetch
    }
    fetch_done.notify_all();
  } else {
    // The leader's fetch is bounded by the fetch timeout; the margin covers its parsing.
    const bool finished = fetch_done.wait_for(
        lock, config.jku_fetch_timeout + std::chrono::seconds(1), [&] { return flight->done; });
    if (!finished) return stale_or(Deny("key set unavailable"));
  }
  if (!flight->status.ok()) return stale_or(flight->status);
  if (const Jwk* jwk = flight->set->Find(kid)) return *jwk;
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
      return InvalidArgument("--auth required needs at least one --trusted-issuer",
                             "trusted-issuer");
    }
    if (impl->configured.size() == 0 && c.jku_allow_prefixes.empty()) {
      return InvalidArgument(
          "--auth required needs trusted keys: --jwks FILE or --jku-allow PREFIX", "jwks");
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
  if (c.clock_skew.count() < 0 || c.max_token_lifetime.count() <= 0 || c.max_replay_entries == 0 ||
      c.jku_cache_capacity == 0 || c.jku_new_url_burst < 0 || c.jku_new_url_interval.count() <= 0) {
    return InvalidArgument("invalid auth limits");
  }
  return std::unique_ptr<ClientAuthenticator>(new ClientAuthenticator(std::move(impl)));
}

bool ClientAuthenticator::required() const { return impl_->config.mode == AuthMode::kRequired; }

std::size_t ClientAuthenticator::jku_fetch_count() const {
  return impl_->fetches.load(std::memory_order_relaxed);
}

std::size_t ClientAuthenticator::jku_cache_size() const {
  std::lock_guard lock(impl_->jku_mu);
  return impl_->jku_cache.size();
}

namespace {

// The compact JWS of "Bearer <token>" (scheme case-insensitive, whitespace trimmed), or the
// denial: no bearer token, or one that is empty or longer than kMaxTokenBytes.
Result<std::string_view> BearerToken(std::string_view authorization_header) {
  std::string_view value = Trim(authorization_header);
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || !EqualsIgnoreCaseAscii(value.substr(0, space), "Bearer")) {
    return Deny("missing bearer token");
  }
  const std::string_view token = Trim(value.substr(space + 1));
  if (token.empty() || token.size() > kMaxTokenBytes) return Deny("malformed token");
  return token;
}

}  // namespace

Result<TokenParts> ClientAuthenticator::Impl::ReadToken(std::string_view authorization_header,
                                                        ClaimedClient* claimed) const {
  // 1. "Bearer <compact JWS>".
  CEPHALGIA_ASSIGN_OR_RETURN(const std::string_view token, BearerToken(authorization_header));
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Deny("malformed token");
  }
  TokenParts parts;
  parts.signing_input = token.substr(0, dot2);
  parts.signature_b64 = token.substr(dot2 + 1);
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);

  // 2. JOSE header.
  CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document header, DecodeJsonSegment(header_b64));
  // Who the token says it is, for the log line should it be refused (read, not trusted).
  Result<rapidjson::Document> payload = DecodeJsonSegment(payload_b64);
  if (claimed != nullptr) {
    claimed->kid = std::string(json::GetString(header, "kid").value_or(""));
    if (payload.ok()) claimed->iss = std::string(json::GetString(*payload, "iss").value_or(""));
  }
  const std::optional<std::string_view> alg_name = json::GetString(header, "alg");
  if (alg_name == "ES384") {
    parts.alg = JwsAlg::kEs384;
  } else if (alg_name == "RS384") {
    parts.alg = JwsAlg::kRs384;
  } else {
    return Deny("unsupported alg");  // none, HS*, RS256, ES256, PS*, EdDSA, missing, non-string
  }
  parts.alg_name = std::string(*alg_name);
  const rapidjson::Value* typ = json::Find(header, "typ");
  if (typ != nullptr ? !(typ->IsString() && EqualsIgnoreCaseAscii(json::AsStringView(*typ), "JWT"))
                     : config.require_typ) {
    return Deny("bad typ");
  }
  if (json::Find(header, "crit") != nullptr) return Deny("unsupported crit");
  const std::optional<std::string_view> kid = json::GetString(header, "kid");
  if (!kid || kid->empty()) return Deny("missing kid");
  parts.kid = std::string(*kid);
  const rapidjson::Value* jku_value = json::Find(header, "jku");
  if (jku_value != nullptr && !jku_value->IsString()) return Deny("malformed token");
  if (jku_value != nullptr) parts.jku = std::string(json::AsStringView(*jku_value));

  // 3. Issuer, read before the signature is checked, only to decide which keys may be used.
  if (!payload.ok()) return payload.status();
  parts.payload = *std::move(payload);
  const std::optional<std::string_view> iss = json::GetString(parts.payload, "iss");
  if (!iss || iss->empty()) return Deny("missing iss");
  if (!IssuerTrusted(*iss)) return Deny("untrusted issuer");
  parts.iss = std::string(*iss);
  return parts;
}

bool ClientAuthenticator::MayFetchKeys(std::string_view authorization_header,
                                       Clock::time_point now) const {
  if (impl_->config.mode == AuthMode::kOff) return false;
  Result<TokenParts> parts = impl_->ReadToken(authorization_header, nullptr);
  if (!parts.ok()) return false;             // refused without a key lookup
  if (impl_->replay->remote()) return true;  // the replay check itself goes over the network
  if (!parts->jku) return false;             // verified without a fetch
  if (impl_->configured.Find(parts->kid) != nullptr) return false;
  const Result<std::string> url = impl_->AllowedJku(*parts->jku, parts->iss);
  if (!url.ok()) return false;
  // The same decisions FindKey makes, without making them.
  std::lock_guard lock(impl_->jku_mu);
  if (impl_->in_flight.count(*url) != 0) return true;  // would wait for it
  auto entry = impl_->jku_cache.find(*url);
  if (entry == impl_->jku_cache.end()) return impl_->BudgetAt(parts->iss, now) >= 1;
  const bool fresh = now - entry->second.fetched_at < impl_->config.jku_cache_ttl;
  if (fresh && entry->second.set->Find(parts->kid) != nullptr) return false;
  return now - entry->second.last_attempt >= impl_->config.jku_min_refetch_interval;
}

Result<VerifiedClient> ClientAuthenticator::Verify(std::string_view authorization_header,
                                                   std::string_view expected_audience,
                                                   Clock::time_point now, ClaimedClient* claimed,
                                                   bool may_fetch_keys) {
  const AuthConfig& config = impl_->config;
  if (config.mode == AuthMode::kOff) return VerifiedClient{};

  // 1-3. Bearer token, JOSE header, trusted issuer.
  CEPHALGIA_ASSIGN_OR_RETURN(TokenParts parts, impl_->ReadToken(authorization_header, claimed));
  const rapidjson::Document& payload = parts.payload;

  // 4. Key.
  CEPHALGIA_ASSIGN_OR_RETURN(Jwk jwk,
                             impl_->FindKey(parts.kid, parts.jku, parts.iss, now, may_fetch_keys));
  if (!jwk.alg.empty() && jwk.alg != parts.alg_name) return Deny("key not for this alg");

  // 5. Signature over the ASCII "header.payload".
  std::optional<std::string> signature = Base64UrlDecode(parts.signature_b64);
  if (!signature) return Deny("malformed token");
  if (!VerifyJwsSignature(parts.alg, *jwk.key, parts.signing_input, *signature)) {
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
  const auto forget_at = Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*exp + skew)));
  switch (impl_->replay->Insert(parts.iss, *jti, forget_at, now)) {
    case ReplayCache::kFresh:
      break;
    case ReplayCache::kReplayed:
      return Deny("replayed jti");
    case ReplayCache::kFull:
      return Deny("replay cache full");
    case ReplayCache::kUnavailable:
      // Not a refusal of the client: the shared cache is away. Fail closed, but as a 503 the
      // client may retry, not a 401 that says its token is bad.
      return Unavailable("replay cache unavailable");
  }

  VerifiedClient client{parts.iss, parts.kid, std::string(*jti), std::nullopt, {}};
  if (tenant != nullptr) client.tenant = std::string(json::AsStringView(*tenant));
  // `sub` (the client_id, checklist §J) names the calling app for the audit trail; a token
  // without one, or with one that is not a short string, is still the issuer's.
  if (const std::optional<std::string_view> sub = json::GetString(payload, "sub");
      sub && sub->size() <= 256) {
    client.sub = std::string(*sub);
  }
  return client;
}

}  // namespace cephalgia::hooks::auth
