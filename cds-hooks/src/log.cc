#include "log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>
#include <iostream>
#include <mutex>

namespace cephalgia::cli {

void Log(LogLevel level, std::string_view event, std::string_view message) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("time");
  w.String(when);
  w.Key("level");
  w.String(level == LogLevel::kInfo ? "info" : level == LogLevel::kWarning ? "warning" : "error");
  w.Key("event");
  w.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::cerr << sb.GetString() << '\n' << std::flush;
}

}  // namespace cephalgia::cli
