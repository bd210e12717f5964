// File: response_head.h
//
// The status line and header fields of a response, written in one string by the transport.
// Beast's serializer walked a five-part buffer sequence through four layers of views on every
// write, about 15k instructions per response (callgrind, case 217); the transport now writes
// this head and the body as two plain buffers. The bytes are the ones Beast wrote for the same
// message (http_server_test compares them with Beast's serializer):
//
//   HTTP/1.1 200 OK\r\n
//   Server: cephalgia\r\n
//   Content-Type: <response.content_type>\r\n        (when not empty)
//   <name>: <value>\r\n                              (response.headers, in order)
//   Connection: close | keep-alive\r\n               (as the version and keep_alive require)
//   Content-Length: <body size>\r\n             (not on 1xx, 204, 304)
//   \r\n
//
// A field set twice keeps its last value at the place of the last setting, as Beast's set()
// does. Connection, Content-Length and Transfer-Encoding frame the message and belong to the
// transport: a handler's own values for them are dropped.
#pragma once

#include <cstddef>
#include <string>

#include "cephalgia/hooks/http_message.h"

namespace cephalgia::hooks {

// False for 1xx, 204 and 304: such a response has no body (RFC 9110 6.4.1) and no
// Content-Length; the transport writes the head alone.
bool StatusAllowsBody(int status);

std::string ResponseHead(const HttpResponse& response, unsigned http_version, bool keep_alive,
                         std::size_t body_size);

}  // namespace cephalgia::hooks
