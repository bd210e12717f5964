// File: base64url.h
//
// base64url without padding (RFC 4648 §5, as JWS compact serialization uses it, RFC 7515 §2).
// Decoding is strict: it refuses padding, characters outside the url-safe alphabet, impossible
// lengths and non-zero trailing bits, so that one token has exactly one encoding.
//
//   std::optional<std::string> bytes = Base64UrlDecode(segment);
//   if (!bytes) return Unauthenticated("malformed token");
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cephalgia::hooks::auth {

// Encodes `bytes` (any binary data) as unpadded base64url.
std::string Base64UrlEncode(std::string_view bytes);

// Decodes unpadded base64url; std::nullopt if `text` is not a canonical encoding.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace cephalgia::hooks::auth
