#include "cephalgia/json.h"

#include <rapidjson/error/en.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace cephalgia::json {

namespace {

Status TooLarge(std::size_t size, std::size_t max_bytes) {
  return Status(StatusCode::kPayloadTooLarge, "JSON body of " + std::to_string(size) +
                                                  " bytes exceeds the limit of " +
                                                  std::to_string(max_bytes) + " bytes");
}

}  // namespace

std::size_t FindInvalidUtf8OrNul(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  std::size_t i = 0;
  auto clean = [](uint64_t w) { return (w & kHigh) == 0 && ((w - kOnes) & ~w & kHigh) == 0; };
  while (i < n) {
    // 32 bytes per step while they are plain ASCII without NUL (the common case for FHIR).
    while (i + 32 <= n) {
      uint64_t w[4];
      std::memcpy(w, s + i, 32);
      uint64_t high = (w[0] | w[1] | w[2] | w[3]) & kHigh;
      uint64_t zero = ((w[0] - kOnes) & ~w[0]) | ((w[1] - kOnes) & ~w[1]) |
                      ((w[2] - kOnes) & ~w[2]) | ((w[3] - kOnes) & ~w[3]);
      if (high != 0 || (zero & kHigh) != 0) break;
      i += 32;
    }
    // The 32-byte steps may end exactly at the end (found by tests/fuzz: s[n] was read).
    if (i == n) break;
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      // All ASCII and no zero byte: skip the word.
      if (clean(w)) {
        i += 8;
        continue;
      }
    }
    unsigned char c = s[i];
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t min;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

Status CheckUtf8(std::string_view text) {
  if (std::size_t bad = FindInvalidUtf8OrNul(text); bad != text.size()) {
    return InvalidArgument("malformed JSON: invalid UTF-8 or a NUL byte at byte " + std::to_string(bad), "$");
  }
  return Status::Ok();
}

Status ParseFailure(const rapidjson::ParseResult& result, bool too_deep, int max_depth) {
  std::string what = too_deep ? "JSON nested deeper than " + std::to_string(max_depth) + " levels"
                              : std::string("malformed JSON: ") + rapidjson::GetParseError_En(result.Code());
  return InvalidArgument(what + " at byte " + std::to_string(result.Offset()), "$");
}

Result<rapidjson::Document> ParseUntrustedInsitu(std::string_view text, std::string& buffer,
                                                 std::size_t max_bytes) {
  if (text.size() > max_bytes) return TooLarge(text.size(), max_bytes);
  rapidjson::Document doc;
  CEPHALGIA_RETURN_IF_ERROR(ParseInsituInto(doc, text, buffer));
  return doc;
}

Result<rapidjson::Document> ParseUntrusted(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) return TooLarge(text.size(), max_bytes);
  CEPHALGIA_RETURN_IF_ERROR(CheckUtf8(text));
  // The strings are copied into the document, so the NUL-terminated copy (which lets RapidJSON
  // scan strings with SIMD) can go when this returns.
  std::string terminated(text);
  rapidjson::Document doc;
  Status status;
  auto generate = [&](rapidjson::Document& target) {
    rapidjson::StringStream stream(terminated.c_str());
    status = ParseCheckedText<rapidjson::kParseDefaultFlags>(stream, target);
    return status.ok();
  };
  doc.Populate(generate);
  CEPHALGIA_RETURN_IF_ERROR(status);
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

namespace {

constexpr uint64_t kByteOnes = 0x0101010101010101ULL;
constexpr uint64_t kByteHighs = 0x8080808080808080ULL;

// True when one of the eight bytes of `w` must be escaped in a JSON string: below 0x20, '"' or
// '\\'. (The classic "has a zero byte" test; exact for the word as a whole.)
bool WordNeedsEscape(uint64_t w) {
  auto has_zero = [](uint64_t x) { return ((x - kByteOnes) & ~x & kByteHighs) != 0; };
  const bool control = ((w - 0x20 * kByteOnes) & ~w & kByteHighs) != 0;
  return control || has_zero(w ^ (0x22 * kByteOnes)) || has_zero(w ^ (0x5C * kByteOnes));
}

bool ByteNeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// Length of the prefix of `s` that needs no escaping.
std::size_t PlainPrefix(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (WordNeedsEscape(w)) break;
  }
  while (i < s.size() && !ByteNeedsEscape(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

}  // namespace

void AppendQuotedJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  while (!s.empty()) {
    std::size_t plain = PlainPrefix(s);
    out->append(s.data(), plain);
    if (plain == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[plain]);
    out->push_back('\\');
    switch (c) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '\b': out->push_back('b'); break;
      case '\f': out->push_back('f'); break;
      case '\n': out->push_back('n'); break;
      case '\r': out->push_back('r'); break;
      case '\t': out->push_back('t'); break;
      default:
        out->append("u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
    }
    s.remove_prefix(plain + 1);
  }
  out->push_back('"');
}

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  StringWriter writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace cephalgia::json
