#include "cephalgia/hooks/metrics/access_log.h"

#include <rapidjson/internal/dtoa.h>
#include <rapidjson/internal/itoa.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cephalgia/json.h"
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
    if (alnum) continue;
    // A few allowed characters, compared inline (find() called memchr for each '/' and '-').
    bool allowed = false;
    for (char a : extra_allowed) allowed |= c == a;
    if (!allowed) return false;
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

// Quoted into a buffer on the stack, then appended: json::AppendQuotedJsonString first grows the
// line to the worst case (six bytes per input byte), zeroing all of it. The values of a line are
// bounded (the Safe* checks), so the buffer holds them; a longer one takes the general path.
void AppendJsonString(std::string_view v, std::string* out) {
  char quoted[2048];
  if (json::QuotedJsonBound(v.size()) > sizeof(quoted)) {
    json::AppendQuotedJsonString(v, out);
    return;
  }
  out->append(quoted, static_cast<std::size_t>(json::WriteQuotedJsonString(v, quoted) - quoted));
}

void AppendStringOrNull(std::string_view v, std::string* out) {
  if (v.empty()) {
    *out += "null";
  } else {
    AppendJsonString(v, out);
  }
}

}  // namespace

namespace {

constexpr std::size_t kTimeBuffer = 80;

// FormatRfc3339Millis into `buf`; returns the length. The access line appends it from there (a
// string of its own was an allocation per request).
std::size_t WriteRfc3339Millis(std::chrono::system_clock::time_point t, char (&buf)[kTimeBuffer]) {
  // Written by hand: snprintf and gmtime_r cost several thousand instructions a call, and every
  // request's access line and every issued card carries one of these.
  const std::int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ms / 1000, millis = ms % 1000;
  if (millis < 0) millis += 1000, secs -= 1;
  std::int64_t days = secs / 86400, second_of_day = secs % 86400;
  if (second_of_day < 0) second_of_day += 86400, days -= 1;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date
  // Algorithms", days_from_civil's inverse), proleptic Gregorian like gmtime.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) {  // outside RFC 3339's four-digit years: as printf would
    const int n =
        std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                      static_cast<long long>(year), static_cast<long long>(month),
                      static_cast<long long>(day), static_cast<long long>(second_of_day / 3600),
                      static_cast<long long>(second_of_day / 60 % 60),
                      static_cast<long long>(second_of_day % 60), static_cast<long long>(millis));
    return n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof(buf) - 1);
  }
  constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";
  std::memcpy(buf, kShape.data(), kShape.size());
  auto put = [&buf](std::size_t at, std::int64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      buf[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, month, 2);
  put(8, day, 2);
  put(11, second_of_day / 3600, 2);
  put(14, second_of_day / 60 % 60, 2);
  put(17, second_of_day % 60, 2);
  put(20, millis, 3);
  return kShape.size();
}

}  // namespace

std::string FormatRfc3339Millis(std::chrono::system_clock::time_point t) {
  char buf[kTimeBuffer];
  return std::string(buf, WriteRfc3339Millis(t, buf));
}

std::string FormatAccessLogLine(const AccessLogEntry& e) {
  // Written straight into one string (one line per request: RapidJSON's Writer and its buffer
  // cost as much again). Numbers and strings come out exactly as the Writer writes them.
  std::string out;
  out.reserve(320 + e.client_iss.size());
  out += "{\"time\":\"";
  char time[kTimeBuffer];
  out.append(time, WriteRfc3339Millis(e.time, time));
  out += "\",\"type\":\"access\",\"method\":";
  AppendJsonString(SafeMethod(e.method), &out);
  out += ",\"route\":";
  AppendStringOrNull(SafeRoute(e.route), &out);
  out += ",\"service\":";
  AppendStringOrNull(SafeServiceId(e.service_id), &out);
  out += ",\"status\":";
  char number[32];
  out.append(number, rapidjson::internal::i32toa(e.status, number));
  out += ",\"durationMs\":";
  // Microsecond resolution is plenty; NaN/inf (a caller bug) would make the line invalid JSON.
  const double duration =
      std::isfinite(e.duration_ms) ? std::round(e.duration_ms * 1000) / 1000 : -1;
  out.append(number, rapidjson::internal::dtoa(duration, number));
  out += ",\"bytesIn\":";
  out.append(number, rapidjson::internal::u64toa(e.bytes_in, number));
  out += ",\"bytesOut\":";
  out.append(number, rapidjson::internal::u64toa(e.bytes_out, number));
  out += ",\"hookInstance\":";
  AppendStringOrNull(e.hook_instance.empty() || IsRfc4122Uuid(e.hook_instance)
                         ? e.hook_instance
                         : std::string_view(kInvalid),
                     &out);
  out += ",\"clientIss\":";
  AppendStringOrNull(SafeIss(e.client_iss), &out);
  out += ",\"traceparent\":";
  AppendStringOrNull(
      e.traceparent.empty() || (e.traceparent.size() == 55 && AllOf(e.traceparent, "-"))
          ? e.traceparent
          : std::string_view(kInvalid),
      &out);
  out += '}';
  return out;
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
