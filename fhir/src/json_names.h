// Private helpers shared by the fhir sources: JSON type names for messages, member lookup by
// name, and date parsing that reports to a view's sink.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
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

// The first member of `object` named `key` (as RapidJSON's FindMember), or null. The length
// and first byte are compared inline, so most members are rejected without a call to memcmp
// (a request looks up a few hundred members by name).
inline const rapidjson::Value* FindMemberNamed(const rapidjson::Value& object,
                                               std::string_view key) {
  const std::size_t size = key.size();
  for (auto it = object.MemberBegin(), end = object.MemberEnd(); it != end; ++it) {
    const rapidjson::Value& name = it->name;
    if (name.GetStringLength() != size) continue;
    if (size == 0) return &it->value;
    const char* chars = name.GetString();
    if (chars[0] == key[0] && std::memcmp(chars + 1, key.data() + 1, size - 1) == 0) {
      return &it->value;
    }
  }
  return nullptr;
}

// Parses `text`; an error is a kError/kValue issue at `location`, an assumed-UTC dateTime a
// kWarning.
std::optional<DateTime> ParseDateReporting(std::string_view text, DateKind kind,
                                           const ElementView& where, std::string location);

}  // namespace cephalgia::fhir
