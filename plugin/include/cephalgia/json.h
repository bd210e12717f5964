// File: json.h
//
// Defensive RapidJSON helpers shared by every module.
//
// RapidJSON's typed getters only assert() the type, so calling GetString() on a number is
// undefined behaviour in a release build. Code in this project reads untrusted JSON only through
// these helpers (or after an explicit IsX() check):
//
//   CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseUntrusted(body, kMaxBodyBytes));
//   std::optional<std::string_view> hook = GetString(doc, "hook");
//
// ParseUntrusted enforces a size limit and uses the iterative parser, so deeply nested input
// cannot exhaust the stack, and validates UTF-8.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::json {

inline constexpr std::size_t kDefaultMaxBytes = 1 << 20;  // 1 MiB

// Parses `text` as JSON. Fails with kPayloadTooLarge over `max_bytes` and with kInvalidArgument
// (message names the RapidJSON error and byte offset) on malformed input.
Result<rapidjson::Document> ParseUntrusted(std::string_view text,
                                           std::size_t max_bytes = kDefaultMaxBytes);

// Same checks, parsing in situ: `buffer` receives a copy of `text` and the document's strings
// point into it, which saves an allocation per string. `buffer` must outlive the document.
Result<rapidjson::Document> ParseUntrustedInsitu(std::string_view text, std::string& buffer,
                                                 std::size_t max_bytes = kDefaultMaxBytes);

// Member lookup that never asserts: nullptr when `object` is not an object or lacks `key`.
const rapidjson::Value* Find(const rapidjson::Value& object, std::string_view key);

std::optional<std::string_view> GetString(const rapidjson::Value& object, std::string_view key);
std::optional<bool> GetBool(const rapidjson::Value& object, std::string_view key);
std::optional<double> GetNumber(const rapidjson::Value& object, std::string_view key);
std::optional<int64_t> GetInt64(const rapidjson::Value& object, std::string_view key);
// nullptr unless the member exists and is an array / object.
const rapidjson::Value* GetArray(const rapidjson::Value& object, std::string_view key);
const rapidjson::Value* GetObject(const rapidjson::Value& object, std::string_view key);

inline std::string_view AsStringView(const rapidjson::Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

// Serialises a value compactly.
std::string Serialize(const rapidjson::Value& value);

// Builds a string value that owns a copy of `s` in `alloc`.
inline rapidjson::Value MakeString(std::string_view s, rapidjson::Document::AllocatorType& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

}  // namespace cephalgia::json
