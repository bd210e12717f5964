#include "response_head.h"

#include <boost/beast/http/status.hpp>
#include <charconv>
#include <string_view>
#include <utility>
#include <vector>

#include "cephalgia/ascii.h"

namespace cephalgia::hooks {
namespace {

bool IsFramingField(std::string_view name) {
  return EqualsIgnoreCaseAscii(name, "Connection") ||
         EqualsIgnoreCaseAscii(name, "Content-Length") ||
         EqualsIgnoreCaseAscii(name, "Transfer-Encoding");
}

}  // namespace

bool StatusAllowsBody(int status) { return status / 100 != 1 && status != 204 && status != 304; }

std::string ResponseHead(const HttpResponse& response, unsigned http_version, bool keep_alive,
                         std::size_t body_size) {
  // The fields in the order they are written, with Beast's set() semantics: setting a name again
  // removes the earlier value and appends the new one. A handful of fields: a linear scan.
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  fields.reserve(response.headers.size() + 2);
  auto set = [&fields](std::string_view name, std::string_view value) {
    std::erase_if(fields, [name](const auto& f) { return EqualsIgnoreCaseAscii(f.first, name); });
    fields.emplace_back(name, value);
  };
  set("Server", "cephalgia");
  if (!response.content_type.empty()) set("Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (!IsFramingField(name)) set(name, value);
  }

  const unsigned code = static_cast<unsigned>(response.status);
  const auto beast_reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(code));
  const std::string_view reason(beast_reason.data(), beast_reason.size());
  std::string head;
  std::size_t size = 13 + reason.size() + 2 + 64;
  for (const auto& [name, value] : fields) size += name.size() + value.size() + 4;
  head.reserve(size);
  head += "HTTP/";
  head += static_cast<char>('0' + http_version / 10);
  head += '.';
  head += static_cast<char>('0' + http_version % 10);
  head += ' ';
  head += static_cast<char>('0' + code / 100 % 10);
  head += static_cast<char>('0' + code / 10 % 10);
  head += static_cast<char>('0' + code % 10);
  head += ' ';
  head += reason;
  head += "\r\n";
  for (const auto& [name, value] : fields) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told (RFC 9112 9.3).
  if (http_version >= 11 && !keep_alive) head += "Connection: close\r\n";
  if (http_version < 11 && keep_alive) head += "Connection: keep-alive\r\n";
  // RFC 9110 8.6: no Content-Length on a 1xx or 204 response (Beast 1.74 wrote "0" on a 204). A
  // 304 is sent without one too: it would have to describe a representation this server never
  // sends with a 304.
  if (StatusAllowsBody(response.status)) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), body_size);
    head += "Content-Length: ";
    head.append(digits, end);
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

}  // namespace cephalgia::hooks
