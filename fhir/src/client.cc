// FhirClient on libcurl's multi interface; see cephalgia/fhir/client.h for the guarantees.
//
// Shape: every query is a Job (its paging/redirect/retry state and merged result). A Job has at
// most one transfer in flight, on its own easy handle, which is re-armed for each redirect,
// retry and next page. One multi handle per FetchAll drives all Jobs in the calling thread until
// they finish or the batch deadline passes. Nothing is shared between FetchAll calls.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "cephalgia/fhir/client.h"
#include "cephalgia/json.h"
#include "client_url.h"

namespace cephalgia::fhir {

using client_internal::IsAbsoluteHttpUrl;
using client_internal::JoinUrl;
using client_internal::Origin;
using client_internal::ParseOrigin;

std::string_view FetchErrorKindName(FetchErrorKind kind) {
  switch (kind) {
    case FetchErrorKind::kTimeout: return "TIMEOUT";
    case FetchErrorKind::kUnauthorized: return "UNAUTHORIZED";
    case FetchErrorKind::kForbidden: return "FORBIDDEN";
    case FetchErrorKind::kNotFound: return "NOT_FOUND";
    case FetchErrorKind::kServerError: return "SERVER_ERROR";
    case FetchErrorKind::kHttpError: return "HTTP_ERROR";
    case FetchErrorKind::kInvalidJson: return "INVALID_JSON";
    case FetchErrorKind::kTooLarge: return "TOO_LARGE";
    case FetchErrorKind::kConnectionFailed: return "CONNECTION_FAILED";
    case FetchErrorKind::kTlsError: return "TLS_ERROR";
    case FetchErrorKind::kInvalidUrl: return "INVALID_URL";
    case FetchErrorKind::kCrossOrigin: return "CROSS_ORIGIN";
    case FetchErrorKind::kTooManyRedirects: return "TOO_MANY_REDIRECTS";
  }
  return "UNKNOWN";
}

std::string FetchError::ToString() const {
  std::string out(FetchErrorKindName(kind));
  out += ": ";
  out += message;
  if (!url.empty()) out += " (url: " + url + ")";
  return out;
}

Status FetchError::ToStatus() const {
  StatusCode code = StatusCode::kUnavailable;
  switch (kind) {
    case FetchErrorKind::kTimeout: code = StatusCode::kDeadlineExceeded; break;
    case FetchErrorKind::kUnauthorized: code = StatusCode::kUnauthenticated; break;
    case FetchErrorKind::kForbidden: code = StatusCode::kPermissionDenied; break;
    case FetchErrorKind::kNotFound: code = StatusCode::kNotFound; break;
    case FetchErrorKind::kTooLarge: code = StatusCode::kPayloadTooLarge; break;
    case FetchErrorKind::kInvalidUrl: code = StatusCode::kInvalidArgument; break;
    case FetchErrorKind::kServerError:
    case FetchErrorKind::kHttpError:
    case FetchErrorKind::kInvalidJson:
    case FetchErrorKind::kConnectionFailed:
    case FetchErrorKind::kTlsError:
    case FetchErrorKind::kCrossOrigin:
    case FetchErrorKind::kTooManyRedirects:
      code = StatusCode::kUnavailable;
      break;
  }
  return Status(code, ToString());
}

namespace {

using Clock = std::chrono::steady_clock;

void GlobalInitOnce() {
  static std::once_flag once;
  // CURL_GLOBAL_DEFAULT initialises OpenSSL; curl_global_init is not thread-safe by itself.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// RFC 6750 b64token: what may appear after "Bearer ". Anything else (CR/LF above all) would let a
// token inject headers, so such a token is never sent.
bool IsValidBearerToken(std::string_view token) {
  if (token.empty()) return false;
  for (unsigned char c : token) {
    bool ok = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
              c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

bool IsConnectionFailure(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:   // connection closed before any response (e.g. stale keep-alive)
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return true;
    default:
      return false;
  }
}

bool IsTlsFailure(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

// One query's state across all its requests (pages, redirects, retry).
struct Job {
  const FhirQuery* query = nullptr;
  FetchOutcome* outcome = nullptr;
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  char error_buffer[CURL_ERROR_SIZE] = {};

  std::string current_url;  // unredacted; never leaves this file
  std::string body;         // response body of the transfer in flight
  std::size_t bytes_before = 0;  // bytes of the pages already merged
  std::size_t max_bytes = 0;
  bool too_large = false;
  int redirects = 0;
  bool retried = false;
  bool in_flight = false;
  bool done = false;
  std::optional<rapidjson::Document> merged;  // first page, with later pages' entries appended
};

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* job = static_cast<Job*>(user);
  const size_t n = size * nmemb;
  if (job->bytes_before + job->body.size() + n > job->max_bytes) {
    job->too_large = true;
    return CURL_WRITEFUNC_ERROR;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  job->body.append(data, n);
  return n;
}

// The diagnostics of an OperationOutcome body, if the server sent one: servers explain 4xx/5xx
// there, and it never contains our token.
std::string OutcomeDiagnostics(const std::string& body) {
  auto doc = json::ParseUntrusted(body, 64 * 1024);
  if (!doc.ok() || !doc->IsObject()) return {};
  const rapidjson::Value* issues = json::GetArray(*doc, "issue");
  if (issues == nullptr || issues->Empty()) return {};
  const rapidjson::Value& first = (*issues)[0];
  if (auto d = json::GetString(first, "diagnostics")) return std::string(d->substr(0, 300));
  if (const rapidjson::Value* details = json::GetObject(first, "details")) {
    if (auto t = json::GetString(*details, "text")) return std::string(t->substr(0, 300));
  }
  return {};
}

// `link[relation=next].url` of a searchset Bundle, if any.
std::optional<std::string> NextLink(const rapidjson::Value& bundle) {
  const rapidjson::Value* links = json::GetArray(bundle, "link");
  if (links == nullptr) return std::nullopt;
  for (const rapidjson::Value& link : links->GetArray()) {
    if (json::GetString(link, "relation") == std::optional<std::string_view>("next")) {
      if (auto url = json::GetString(link, "url"); url && !url->empty()) return std::string(*url);
    }
  }
  return std::nullopt;
}

bool IsSearchset(const rapidjson::Value& doc) {
  return json::GetString(doc, "resourceType") == std::optional<std::string_view>("Bundle") &&
         json::GetString(doc, "type") == std::optional<std::string_view>("searchset");
}

// Drops the paging links (`next`, `previous`/`prev`, `first`, `last`), which would mislead once
// the pages are merged; keeps `self` and anything else.
void RemovePagingLinks(rapidjson::Document& doc) {
  if (!doc.IsObject()) return;
  auto it = doc.FindMember("link");
  if (it == doc.MemberEnd() || !it->value.IsArray()) return;
  rapidjson::Value& links = it->value;
  for (rapidjson::SizeType i = links.Size(); i > 0; --i) {
    auto rel = json::GetString(links[i - 1], "relation");
    if (rel && (*rel == "next" || *rel == "previous" || *rel == "prev" || *rel == "first" ||
                *rel == "last")) {
      links.Erase(links.Begin() + (i - 1));
    }
  }
  if (links.Empty()) doc.RemoveMember("link");  // no empty arrays in FHIR JSON
}

// Appends `page`'s entries to `merged`'s, copying them into `merged`'s allocator.
void AppendEntries(rapidjson::Document& merged, const rapidjson::Document& page) {
  const rapidjson::Value* entries = json::GetArray(page, "entry");
  if (entries == nullptr || entries->Empty()) return;
  auto& alloc = merged.GetAllocator();
  auto it = merged.FindMember("entry");
  if (it == merged.MemberEnd() || !it->value.IsArray()) {
    if (it != merged.MemberEnd()) merged.RemoveMember("entry");
    merged.AddMember("entry", rapidjson::Value(rapidjson::kArrayType), alloc);
    it = merged.FindMember("entry");
  }
  it->value.Reserve(it->value.Size() + entries->Size(), alloc);
  for (const rapidjson::Value& e : entries->GetArray()) {
    it->value.PushBack(rapidjson::Value(e, alloc), alloc);
  }
}

class BatchRunner {
 public:
  BatchRunner(const std::string& base_url, const std::string& base_error,
              const std::optional<std::string>& token, const FhirClientOptions& options)
      : base_url_(base_url), base_error_(base_error), token_(token), options_(options) {}

  void Run(const std::vector<FhirQuery>& queries, std::vector<FetchOutcome>& outcomes) {
    deadline_ = Clock::now() + options_.deadline;
    outcomes.resize(queries.size());
    jobs_.resize(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      outcomes[i].key = queries[i].key;
      jobs_[i].query = &queries[i];
      jobs_[i].outcome = &outcomes[i];
    }

    auto base_origin = ParseOrigin(base_url_);
    if (!base_error_.empty() || !base_origin.ok()) {
      for (Job& job : jobs_) {
        Fail(job, FetchErrorKind::kInvalidUrl, "FHIR base URL is unusable: " + base_error_,
             base_url_);
      }
      return;
    }
    base_origin_ = *base_origin;
    if (token_ && !IsValidBearerToken(*token_)) {
      for (Job& job : jobs_) {
        Fail(job, FetchErrorKind::kUnauthorized,
             "bearer token contains characters not allowed in an HTTP header; not sent",
             base_url_);
      }
      return;
    }

    multi_.reset(curl_multi_init());
    if (!multi_) {
      for (Job& job : jobs_) Fail(job, FetchErrorKind::kConnectionFailed, "curl_multi_init failed", {});
      return;
    }
    if (options_.max_connections > 0) {
      curl_multi_setopt(multi_.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, options_.max_connections);
    }

    for (Job& job : jobs_) StartQuery(job);
    Loop();
  }

 private:
  // First request of a query: resolve and check its URL.
  void StartQuery(Job& job) {
    const std::string& raw = job.query->url;
    if (raw.empty()) {
      Fail(job, FetchErrorKind::kInvalidUrl, "empty query URL", {});
      return;
    }
    std::string url;
    if (IsAbsoluteHttpUrl(raw)) {
      auto origin = ParseOrigin(raw);
      if (!origin.ok()) {
        Fail(job, FetchErrorKind::kInvalidUrl, origin.status().message(), raw);
        return;
      }
      if (!(*origin == base_origin_)) {
        Fail(job, FetchErrorKind::kCrossOrigin,
             "query URL is not on the FHIR server's origin " + base_origin_.ToString() +
                 "; refused so the token cannot leak",
             raw);
        return;
      }
      url = client_internal::EncodeUnsafeChars(raw);
    } else if (raw.find("://") != std::string::npos) {
      Fail(job, FetchErrorKind::kInvalidUrl, "only http and https URLs are fetched", raw);
      return;
    } else {
      url = JoinUrl(base_url_, raw);
    }
    job.outcome->url = Redact(url);
    job.max_bytes = options_.max_response_bytes;
    job.easy.reset(curl_easy_init());
    if (!job.easy || !SetUpHandle(job)) {
      Fail(job, FetchErrorKind::kConnectionFailed, "could not set up a curl handle", url);
      return;
    }
    Launch(job, std::move(url));
  }

  // Options that stay the same for every request of a job.
  bool SetUpHandle(Job& job) {
    CURL* e = job.easy.get();
    curl_slist* list = curl_slist_append(nullptr, "Accept: application/fhir+json");
    if (list == nullptr) return false;
    job.headers.reset(list);
    // W3C trace context: a value from ParseTraceparent/ToHeader only (hex and dashes).
    if (!options_.traceparent.empty() &&
        options_.traceparent.find_first_of("\r\n") == std::string::npos) {
      curl_slist* with_trace =
          curl_slist_append(list, ("traceparent: " + options_.traceparent).c_str());
      if (with_trace == nullptr) return false;
    }
    bool ok = curl_easy_setopt(e, CURLOPT_HTTPHEADER, job.headers.get()) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;  // threads: no SIGALRM
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;  // we follow, same-origin
    ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &WriteCallback) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, &job) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job.error_buffer) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;  // size cap is post-decode
    ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str()) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L) == CURLE_OK;
    if (!options_.ca_bundle.empty()) {
      ok &= curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_bundle.c_str()) == CURLE_OK;
    }
    // The token goes in through CURLOPT_XOAUTH2_BEARER + CURLAUTH_BEARER so that curl treats it
    // as a credential (it is then, like all curl credentials, never sent on a redirect, which we
    // do not let curl follow anyway) rather than as an ordinary header.
    if (token_) {
      ok &= curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER) == CURLE_OK;
      ok &= curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, token_->c_str()) == CURLE_OK;
    }
    return ok;
  }

  // Arms the job's handle for `url` with the time left and adds it to the multi handle. Only
  // URLs on the base origin reach here.
  void Launch(Job& job, std::string url) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      Fail(job, FetchErrorKind::kTimeout, DeadlineMessage(), url);
      return;
    }
    job.current_url = std::move(url);
    job.body.clear();
    job.too_large = false;
    job.error_buffer[0] = '\0';
    CURL* e = job.easy.get();
    const curl_off_t remaining_bytes =
        static_cast<curl_off_t>(job.max_bytes - std::min(job.max_bytes, job.bytes_before));
    curl_easy_setopt(e, CURLOPT_URL, job.current_url.c_str());
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, remaining_bytes);  // early out on Content-Length
    if (curl_multi_add_handle(multi_.get(), e) != CURLM_OK) {
      Fail(job, FetchErrorKind::kConnectionFailed, "curl_multi_add_handle failed", job.current_url);
      return;
    }
    job.in_flight = true;
  }

  void Loop() {
    int running = 0;
    while (true) {
      curl_multi_perform(multi_.get(), &running);
      DrainMessages();
      if (std::none_of(jobs_.begin(), jobs_.end(), [](const Job& j) { return j.in_flight; })) {
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) break;
      // Wake at least every 50 ms so the batch deadline is checked even if curl's own
      // per-transfer timeout (set from the same deadline) is late.
      int wait_ms = static_cast<int>(std::min<long long>(left.count(), 50));
      curl_multi_poll(multi_.get(), nullptr, 0, wait_ms, nullptr);
    }
    for (Job& job : jobs_) {
      if (job.in_flight) {
        Detach(job);
        Fail(job, FetchErrorKind::kTimeout, DeadlineMessage(), job.current_url);
      }
    }
  }

  void DrainMessages() {
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = std::find_if(jobs_.begin(), jobs_.end(),
                             [&](const Job& j) { return j.easy.get() == msg->easy_handle; });
      if (it == jobs_.end()) continue;
      CURLcode code = msg->data.result;
      Detach(*it);
      OnTransferDone(*it, code);
    }
  }

  void Detach(Job& job) {
    curl_multi_remove_handle(multi_.get(), job.easy.get());
    job.in_flight = false;
  }

  void OnTransferDone(Job& job, CURLcode code) {
    const std::string& url = job.current_url;
    if (code != CURLE_OK) {
      if (job.too_large || code == CURLE_FILESIZE_EXCEEDED) {
        Fail(job, FetchErrorKind::kTooLarge,
             "response exceeds the limit of " + std::to_string(options_.max_response_bytes) +
                 " bytes; transfer aborted",
             url);
      } else if (code == CURLE_OPERATION_TIMEDOUT) {
        Fail(job, FetchErrorKind::kTimeout, DeadlineMessage(), url);
      } else if (IsConnectionFailure(code)) {
        if (!job.retried) {  // a GET is idempotent; one more try if time remains
          job.retried = true;
          Launch(job, url);
          return;
        }
        Fail(job, FetchErrorKind::kConnectionFailed, CurlMessage(job, code) + " (after one retry)",
             url);
      } else if (IsTlsFailure(code)) {
        Fail(job, FetchErrorKind::kTlsError, CurlMessage(job, code), url);
      } else if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
        Fail(job, FetchErrorKind::kInvalidUrl, CurlMessage(job, code), url);
      } else {
        Fail(job, FetchErrorKind::kConnectionFailed, CurlMessage(job, code), url);
      }
      return;
    }

    long status = 0;
    curl_easy_getinfo(job.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    job.outcome->http_status = static_cast<int>(status);
    if (status >= 300 && status < 400 && status != 304) {
      OnRedirect(job, static_cast<int>(status));
      return;
    }
    if (status < 200 || status >= 300) {
      OnHttpError(job, static_cast<int>(status));
      return;
    }
    OnSuccess(job);
  }

  void OnRedirect(Job& job, int status) {
    char* location = nullptr;
    curl_easy_getinfo(job.easy.get(), CURLINFO_REDIRECT_URL, &location);
    if (location == nullptr || *location == '\0') {
      Fail(job, FetchErrorKind::kHttpError,
           "HTTP " + std::to_string(status) + " without a usable Location", job.current_url, status);
      return;
    }
    std::string target(location);
    auto origin = ParseOrigin(target);
    if (!origin.ok()) {
      Fail(job, FetchErrorKind::kInvalidUrl, "redirect to an unusable URL: " + Redact(target),
           job.current_url, status);
      return;
    }
    if (!(*origin == base_origin_)) {
      Fail(job, FetchErrorKind::kCrossOrigin,
           "redirect to another origin (" + Redact(target) + ") refused so the token cannot leak",
           job.current_url, status);
      return;
    }
    if (++job.redirects > options_.max_redirects) {
      Fail(job, FetchErrorKind::kTooManyRedirects,
           "more than " + std::to_string(options_.max_redirects) + " redirects", job.current_url,
           status);
      return;
    }
    Launch(job, std::move(target));
  }

  void OnHttpError(Job& job, int status) {
    FetchErrorKind kind = FetchErrorKind::kHttpError;
    if (status == 401) kind = FetchErrorKind::kUnauthorized;
    else if (status == 403) kind = FetchErrorKind::kForbidden;
    else if (status == 404 || status == 410) kind = FetchErrorKind::kNotFound;
    else if (status >= 500) kind = FetchErrorKind::kServerError;
    std::string message = "HTTP " + std::to_string(status);
    std::string diagnostics = OutcomeDiagnostics(job.body);
    if (!diagnostics.empty()) message += ": " + Redact(diagnostics);
    Fail(job, kind, message, job.current_url, status);
  }

  void OnSuccess(Job& job) {
    auto parsed = json::ParseUntrusted(job.body, job.max_bytes);
    if (!parsed.ok()) {
      Fail(job, FetchErrorKind::kInvalidJson, "response is not JSON: " + parsed.status().message(),
           job.current_url, job.outcome->http_status);
      return;
    }
    rapidjson::Document page = std::move(*parsed);
    if (!page.IsObject() || !json::GetString(page, "resourceType")) {
      Fail(job, FetchErrorKind::kInvalidJson, "response is not a FHIR resource (no resourceType)",
           job.current_url, job.outcome->http_status);
      return;
    }
    job.bytes_before += job.body.size();
    job.body.clear();
    job.body.shrink_to_fit();
    job.outcome->pages++;

    const bool searchset = IsSearchset(page);
    std::optional<std::string> next = searchset ? NextLink(page) : std::nullopt;
    if (!job.merged) {
      job.merged.emplace(std::move(page));
    } else {
      AppendEntries(*job.merged, page);
    }

    if (next && job.query->follow_paging) {
      if (job.outcome->pages >= options_.max_pages) {
        MarkPartial(job, "page cap of " + std::to_string(options_.max_pages) +
                             " reached; more results at " + Redact(*next));
      } else if (auto resolved = ResolveNext(job, *next)) {
        job.redirects = 0;
        job.retried = false;
        Launch(job, std::move(*resolved));
        return;
      }
    } else if (next) {
      // The caller asked for one page: hand back the Bundle as the server sent it (with `next`).
      Finish(job);
      return;
    }
    if (searchset) RemovePagingLinks(*job.merged);
    Finish(job);
  }

  // Makes a `next` link absolute and checks it is on the base origin; nullopt (and the outcome
  // marked partial) when it may not be followed.
  std::optional<std::string> ResolveNext(Job& job, const std::string& next) {
    if (!IsAbsoluteHttpUrl(next) && next.find("://") != std::string::npos) {
      MarkPartial(job, "next link is not an http(s) URL; not followed");
      return std::nullopt;
    }
    // Some servers send links relative to the base or to the origin.
    std::string url = client_internal::ResolveLink(base_url_, next);
    auto origin = ParseOrigin(url);
    if (!origin.ok()) {
      MarkPartial(job, "next link is unusable (" + origin.status().message() + "); not followed");
      return std::nullopt;
    }
    if (!(*origin == base_origin_)) {
      MarkPartial(job, "next link points to another origin (" + Redact(url) +
                           "); not followed so the token cannot leak");
      return std::nullopt;
    }
    return url;
  }

  void MarkPartial(Job& job, std::string reason) {
    job.outcome->partial = true;
    job.outcome->partial_reason = std::move(reason);
  }

  void Finish(Job& job) {
    job.done = true;
    job.outcome->result = std::move(*job.merged);
    job.merged.reset();
  }

  void Fail(Job& job, FetchErrorKind kind, std::string message, const std::string& url,
            int http_status = 0) {
    job.done = true;
    job.merged.reset();
    job.outcome->partial = false;
    job.outcome->partial_reason.clear();
    FetchError error;
    error.kind = kind;
    error.url = Redact(url);
    error.message = Redact(message);
    error.http_status = http_status;
    job.outcome->result = std::move(error);
  }

  std::string CurlMessage(const Job& job, CURLcode code) const {
    std::string m = curl_easy_strerror(code);
    if (job.error_buffer[0] != '\0') m += std::string(": ") + job.error_buffer;
    return m;
  }

  std::string DeadlineMessage() const {
    return "deadline of " + std::to_string(options_.deadline.count()) + " ms passed";
  }

  std::string Redact(std::string_view s) const {
    return RedactUrl(s, token_ ? std::string_view(*token_) : std::string_view());
  }

  const std::string& base_url_;
  const std::string& base_error_;
  const std::optional<std::string>& token_;
  const FhirClientOptions& options_;
  Origin base_origin_;
  Clock::time_point deadline_;
  // Every easy handle is removed from the multi handle (Detach) before either is cleaned up;
  // jobs_ (and their easy handles) are destroyed first, then the multi handle.
  std::unique_ptr<CURLM, MultiDeleter> multi_;
  std::vector<Job> jobs_;
};

}  // namespace

FhirClient::FhirClient(std::string base_url, std::optional<std::string> bearer_token,
                       FhirClientOptions options)
    : token_(std::move(bearer_token)), options_(std::move(options)) {
  GlobalInitOnce();
  auto normalized = client_internal::NormalizeBaseUrl(base_url);
  // An unusable base is kept as given; every query then fails with kInvalidUrl.
  if (normalized.ok()) {
    base_url_ = std::move(*normalized);
  } else {
    base_url_ = std::move(base_url);
    base_error_ = normalized.status().message();
  }
}

std::vector<FetchOutcome> FhirClient::FetchAll(const std::vector<FhirQuery>& queries) const {
  std::vector<FetchOutcome> outcomes;
  if (queries.empty()) return outcomes;
  BatchRunner runner(base_url_, base_error_, token_, options_);
  runner.Run(queries, outcomes);
  return outcomes;
}

FetchOutcome FhirClient::Fetch(const FhirQuery& query) const {
  std::vector<FetchOutcome> outcomes = FetchAll({query});
  return std::move(outcomes.front());
}

}  // namespace cephalgia::fhir
