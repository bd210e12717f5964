#include "healthcheck_command.h"

#include <curl/curl.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "cli_options.h"

namespace cephalgia::cli {
namespace {

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// Discards the body: only the status matters, and it must never be echoed into a probe's log.
size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

int RunHealthcheck(const std::vector<std::string>& args) {
  // The service as configured in this environment (a container sets CEPHALGIA_PORT and maybe
  // CEPHALGIA_TLS_CERT): loopback, its port, http or https.
  const bool tls = !EnvOr("CEPHALGIA_TLS_CERT", "").empty();
  std::string url = std::string(tls ? "https" : "http") +
                    "://127.0.0.1:" + EnvOr("CEPHALGIA_PORT", "8080") + "/livez";
  bool default_url = true;
  long timeout_ms = 3000;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kHealthcheckHelp;
      return 0;
    }
    if ((arg == "--url" || arg == "--timeout-ms") && i + 1 < args.size()) {
      const std::string& value = args[++i];
      if (arg == "--url") {
        url = value;
        default_url = false;
      } else {
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), timeout_ms);
        if (ec != std::errc() || end != value.data() + value.size() || timeout_ms < 1 ||
            timeout_ms > 600000) {
          std::cerr << "cephalgia healthcheck: --timeout-ms must be 1 to 600000\n";
          return 2;
        }
      }
      continue;
    }
    std::cerr << "cephalgia healthcheck: unexpected argument '" << arg << "'\n\n"
              << kHealthcheckHelp;
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::cerr << "cephalgia healthcheck: cannot initialise libcurl\n";
    return 1;
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // a probe talks to this host, never via a proxy
  if (tls && default_url) {
    // Our own listener on loopback: its certificate names the public host, not 127.0.0.1.
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    std::cerr << "cephalgia healthcheck: " << url << ": " << curl_easy_strerror(rc) << "\n";
    return 1;
  }
  if (status != 200) {
    std::cerr << "cephalgia healthcheck: " << url << " answered " << status << "\n";
    return 1;
  }
  return 0;
}

}  // namespace cephalgia::cli
