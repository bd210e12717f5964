#include "cephalgia/hooks/metrics/access_log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <ctime>

#include "cephalgia/uuid.h"

namespace cephalgia::hooks::metrics {
namespace {

constexpr const char* kInvalid = "(invalid)";

std::string_view SafeMethod(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH"}) {
    if (m == known) return known;
  }
  return "OTHER";
}

bool AllOf(std::string_view s, std::string_view extra_allowed) {
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && extra_allowed.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::string_view SafeRoute(std::string_view r) {
  return r.size() <= 128 && (r.empty() || r.front() == '/') && AllOf(r, "/_.{}-") ? r : kInvalid;
}

std::string_view SafeServiceId(std::string_view s) {
  return s.size() <= 128 && AllOf(s, "._-") ? s : kInvalid;
}

std::string_view SafePrintable(std::string_view s, std::size_t max_size) {
  if (s.size() > max_size) return kInvalid;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return kInvalid;
  }
  return s;
}

std::string_view SafeIss(std::string_view s) { return SafePrintable(s, 256); }

// Refusal phrases and labels are fixed text of the authenticator: lower-case words.
std::string_view SafeWords(std::string_view s) {
  return s.size() <= 64 && AllOf(s, " _-") ? s : kInvalid;
}

// An IPv4 or IPv6 address as the transport prints it.
std::string_view SafeAddress(std::string_view s) {
  return s.size() <= 64 && AllOf(s, ":.%_-") ? s : kInvalid;
}

void StringOrNull(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view v) {
  if (v.empty()) {
    w.Null();
  } else {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
}

}  // namespace

std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];  // roomy: the compiler cannot bound tm_year
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string FormatAccessLogLine(const AccessLogEntry& e) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("time");
  const std::string time = FormatRfc3339Millis(e.time);
  w.String(time.c_str());
  w.Key("type");
  w.String("access");
  w.Key("method");
  const std::string_view method = SafeMethod(e.method);
  w.String(method.data(), static_cast<rapidjson::SizeType>(method.size()));
  w.Key("route");
  StringOrNull(w, SafeRoute(e.route));
  w.Key("service");
  StringOrNull(w, SafeServiceId(e.service_id));
  w.Key("status");
  w.Int(e.status);
  w.Key("durationMs");
  // Microsecond resolution is plenty; NaN/inf (a caller bug) would make the line invalid JSON.
  w.Double(std::isfinite(e.duration_ms) ? std::round(e.duration_ms * 1000) / 1000 : -1);
  w.Key("bytesIn");
  w.Uint64(e.bytes_in);
  w.Key("bytesOut");
  w.Uint64(e.bytes_out);
  w.Key("hookInstance");
  StringOrNull(w, e.hook_instance.empty() || IsRfc4122Uuid(e.hook_instance)
                      ? e.hook_instance
                      : std::string_view(kInvalid));
  w.Key("clientIss");
  StringOrNull(w, SafeIss(e.client_iss));
  w.Key("traceparent");
  StringOrNull(w, e.traceparent.empty() || (e.traceparent.size() == 55 && AllOf(e.traceparent, "-"))
                      ? e.traceparent
                      : std::string_view(kInvalid));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string FormatAuthRefusalLine(const AuthRefusalEntry& e) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("time");
  const std::string time = FormatRfc3339Millis(e.time);
  w.String(time.c_str());
  w.Key("type");
  w.String("auth_refusal");
  w.Key("route");
  StringOrNull(w, SafeRoute(e.route));
  w.Key("reason");
  StringOrNull(w, SafeWords(e.reason));
  w.Key("label");
  StringOrNull(w, SafeWords(e.label));
  w.Key("iss");
  StringOrNull(w, SafeIss(e.iss));
  w.Key("kid");
  StringOrNull(w, SafePrintable(e.kid, 128));
  w.Key("remote");
  StringOrNull(w, SafeAddress(e.remote));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cephalgia::hooks::metrics
