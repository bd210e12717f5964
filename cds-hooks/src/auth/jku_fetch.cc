#include "jku_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace cephalgia::hooks::auth {
namespace {

struct Sink {
  std::string body;
  std::size_t max_bytes;
  bool too_large = false;
};

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (sink->body.size() + n > sink->max_bytes) {
    sink->too_large = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

Result<std::string> FetchJwksDocument(const std::string& url, std::chrono::milliseconds timeout,
                                      std::size_t max_bytes) {
  static std::once_flag init_once;
  std::call_once(init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  Sink sink{{}, max_bytes};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // we are called from server worker threads
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_bytes));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteCallback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cephalgia-jwks-fetch");
  const CURLcode rc = curl_easy_perform(c);
  if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) return Unavailable("JWK Set too large");
  if (rc != CURLE_OK) return Unavailable(std::string("JWK Set fetch failed: ") + curl_easy_strerror(rc));
  long http_status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status != 200) return Unavailable("JWK Set fetch: HTTP " + std::to_string(http_status));
  return std::move(sink.body);
}

}  // namespace cephalgia::hooks::auth
