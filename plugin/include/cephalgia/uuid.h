// File: uuid.h
//
// RFC 4122 version-4 UUIDs for card, suggestion and resource ids. CDS Hooks 3.0 types card and
// suggestion `uuid` as uuid, and clients key feedback on them, so they must be real and unique.
#pragma once

#include <string>
#include <string_view>

namespace cephalgia {

// A random (version 4, variant 1) UUID in lower-case 8-4-4-4-12 form. Thread-safe.
std::string NewUuidV4();

// True if `s` is a lower- or upper-case 8-4-4-4-12 hex UUID of RFC 4122 variant.
bool IsRfc4122Uuid(std::string_view s);

}  // namespace cephalgia
