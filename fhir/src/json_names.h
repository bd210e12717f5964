// Private helpers shared by the fhir sources: JSON type names for messages, and date parsing
// that reports to a view's sink.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
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

// Parses `text`; an error is a kError/kValue issue at `location`, an assumed-UTC dateTime a
// kWarning.
std::optional<DateTime> ParseDateReporting(std::string_view text, DateKind kind,
                                           const ElementView& where, std::string location);

}  // namespace cephalgia::fhir
