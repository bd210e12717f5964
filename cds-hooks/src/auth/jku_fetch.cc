#include "jku_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

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

struct CurluFree {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::optional<std::string> GetPart(CURLU* u, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string out(value);
  curl_free(value);
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Whether a raw path has a `.` or `..` segment once `%2e` is read as a dot and `%2f`, `%5c` and
// `\` as separators (what a lenient server might do after we compared).
bool HasDotSegment(std::string path) {
  path = Lower(std::move(path));
  std::string decoded;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path.compare(i, 3, "%2e") == 0) {
      decoded.push_back('.');
      i += 2;
    } else if (path.compare(i, 3, "%2f") == 0 || path.compare(i, 3, "%5c") == 0) {
      decoded.push_back('/');
      i += 2;
    } else {
      decoded.push_back(path[i] == '\\' ? '/' : path[i]);
    }
  }
  std::size_t start = 0;
  while (start <= decoded.size()) {
    std::size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view segment(decoded.data() + start, end - start);
    if (segment == "." || segment == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

Result<std::string> NormalizeJkuUrl(std::string_view url, bool allow_dot_segments) {
  const std::string text(url);
  if (text.find_first_of(" \t\r\n") != std::string::npos) {
    return InvalidArgument("jku has whitespace");
  }
  std::unique_ptr<CURLU, CurluFree> raw(curl_url());
  std::unique_ptr<CURLU, CurluFree> resolved(curl_url());
  if (!raw || !resolved) return Internal("curl_url() failed");
  // Parsed twice: as written (to see dot segments) and as libcurl resolves it for a fetch.
  if (curl_url_set(raw.get(), CURLUPART_URL, text.c_str(), CURLU_PATH_AS_IS) != CURLUE_OK ||
      curl_url_set(resolved.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return InvalidArgument("jku is not a URL");
  }
  const std::optional<std::string> scheme = GetPart(resolved.get(), CURLUPART_SCHEME);
  const std::optional<std::string> host = GetPart(resolved.get(), CURLUPART_HOST);
  const std::optional<std::string> port =
      GetPart(resolved.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  const std::optional<std::string> path = GetPart(resolved.get(), CURLUPART_PATH);
  if (!scheme || !host || !port || !path || host->empty()) {
    return InvalidArgument("jku without host");
  }
  const std::string lower_scheme = Lower(*scheme);
  if (lower_scheme != "https" && lower_scheme != "http") {
    return InvalidArgument("jku is not http(s)");
  }
  if (GetPart(resolved.get(), CURLUPART_USER) || GetPart(resolved.get(), CURLUPART_PASSWORD) ||
      GetPart(resolved.get(), CURLUPART_OPTIONS)) {
    return InvalidArgument("jku has user info");
  }
  if (GetPart(resolved.get(), CURLUPART_FRAGMENT) || text.find('#') != std::string::npos) {
    return InvalidArgument("jku has a fragment");
  }
  if (!allow_dot_segments) {
    const std::optional<std::string> raw_path = GetPart(raw.get(), CURLUPART_PATH);
    if (!raw_path || HasDotSegment(*raw_path)) return InvalidArgument("jku has a dot segment");
  }
  std::string out = lower_scheme + "://" + Lower(*host) + ":" + *port + *path;
  if (std::optional<std::string> query = GetPart(resolved.get(), CURLUPART_QUERY)) {
    out += "?" + *query;
  }
  return out;
}

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
