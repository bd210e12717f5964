// Private helpers shared by the fhir sources: JSON type names for messages, member lookup by
// name, and date parsing that reports to a view's sink.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "cephalgia/fhir/datatypes.h"

namespace cephalgia::fhir {

inline std::string_view JsonTypeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "an unknown type";
}

// Whether the `n` bytes at `a` and `b` are equal. Up to 32 bytes (every FHIR member name the
// readers ask for, every resource type) by loads of each that overlap, within the n bytes: a
// call to memcmp cost more than the comparison (19,200 calls for case 217's 300 requests).
inline bool SameBytes(const char* a, const char* b, std::size_t n) {
  // The `sizeof word` bytes at offset `at` of both sides, compared.
  auto same_at = [a, b](std::size_t at, auto word) {
    decltype(word) x, y;
    std::memcpy(&x, a + at, sizeof word);
    std::memcpy(&y, b + at, sizeof word);
    return x == y;
  };
  if (n > 32) return std::memcmp(a, b, n) == 0;
  if (n > 16) {
    return same_at(0, std::uint64_t{}) && same_at(8, std::uint64_t{}) &&
           same_at(n - 16, std::uint64_t{}) && same_at(n - 8, std::uint64_t{});
  }
  if (n >= 8) return same_at(0, std::uint64_t{}) && same_at(n - 8, std::uint64_t{});
  if (n >= 4) return same_at(0, std::uint32_t{}) && same_at(n - 4, std::uint32_t{});
  if (n >= 2) return same_at(0, std::uint16_t{}) && same_at(n - 2, std::uint16_t{});
  return n == 0 || a[0] == b[0];
}

// The first member of `object` named `key` (as RapidJSON's FindMember), or null. The length
// and first byte are compared first, so most members are rejected at once (a request looks up
// a few hundred members by name).
inline const rapidjson::Value* FindMemberNamed(const rapidjson::Value& object,
                                               std::string_view key) {
  const std::size_t size = key.size();
  for (auto it = object.MemberBegin(), end = object.MemberEnd(); it != end; ++it) {
    const rapidjson::Value& name = it->name;
    if (name.GetStringLength() != size) continue;
    if (size == 0) return &it->value;
    const char* chars = name.GetString();
    if (chars[0] == key[0] && SameBytes(chars, key.data(), size)) return &it->value;
  }
  return nullptr;
}

// Parses `text`; an error is a kError/kValue issue at `location`, an assumed-UTC dateTime a
// kWarning.
std::optional<DateTime> ParseDateReporting(std::string_view text, DateKind kind,
                                           const ElementView& where, std::string location);

}  // namespace cephalgia::fhir
