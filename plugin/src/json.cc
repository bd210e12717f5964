#include "cephalgia/json.h"

#include <rapidjson/error/en.h>

#include <cmath>
#include <limits>

namespace cephalgia::json {

namespace {

Status TooLarge(std::size_t size, std::size_t max_bytes) {
  return Status(StatusCode::kPayloadTooLarge, "JSON body of " + std::to_string(size) +
                                                  " bytes exceeds the limit of " +
                                                  std::to_string(max_bytes) + " bytes");
}

Status ParseError(const rapidjson::Document& doc) {
  return InvalidArgument(std::string("malformed JSON: ") +
                             rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
                             std::to_string(doc.GetErrorOffset()),
                         "$");
}

}  // namespace

Result<rapidjson::Document> ParseUntrustedInsitu(std::string_view text, std::string& buffer,
                                                 std::size_t max_bytes) {
  if (text.size() > max_bytes) return TooLarge(text.size(), max_bytes);
  buffer.assign(text.data(), text.size());
  buffer.push_back('\0');  // ParseInsitu reads a NUL-terminated buffer
  rapidjson::Document doc;
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag | rapidjson::kParseInsituFlag;
  doc.ParseInsitu<kFlags>(buffer.data());
  if (doc.HasParseError()) return ParseError(doc);
  // A NUL inside the body would end the in-situ parse early; refuse it like trailing garbage.
  if (text.find('\0') != std::string_view::npos) {
    return InvalidArgument("malformed JSON: NUL byte in the body", "$");
  }
  return doc;
}

Result<rapidjson::Document> ParseUntrusted(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return TooLarge(text.size(), max_bytes);
  }
  rapidjson::Document doc;
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag;
  doc.Parse<kFlags>(text.data(), text.size());
  if (doc.HasParseError()) return ParseError(doc);
  // Trailing non-whitespace after the root value is refused by RapidJSON itself
  // (kParseErrorDocumentRootNotSingular), so no extra check is needed here.
  return doc;
}

const rapidjson::Value* Find(const rapidjson::Value& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(
      rapidjson::Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == object.MemberEnd()) return nullptr;
  return &it->value;
}

std::optional<std::string_view> GetString(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* v = Find(object, key);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<bool> GetBool(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* v = Find(object, key);
  if (v == nullptr || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}

std::optional<double> GetNumber(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* v = Find(object, key);
  if (v == nullptr || !v->IsNumber()) return std::nullopt;
  return v->GetDouble();
}

std::optional<int64_t> GetInt64(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* v = Find(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsDouble()) {
    double d = v->GetDouble();
    if (std::isfinite(d) && d == std::floor(d) &&
        std::fabs(d) < static_cast<double>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

const rapidjson::Value* GetArray(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* v = Find(object, key);
  return (v != nullptr && v->IsArray()) ? v : nullptr;
}

const rapidjson::Value* GetObject(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* v = Find(object, key);
  return (v != nullptr && v->IsObject()) ? v : nullptr;
}

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace cephalgia::json
