#include "cephalgia/json.h"

#include <rapidjson/error/en.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "cephalgia/json_bytes.h"

namespace cephalgia::json {

namespace {

Status TooLarge(std::size_t size, std::size_t max_bytes) {
  return Status(StatusCode::kPayloadTooLarge, "JSON body of " + std::to_string(size) +
                                                  " bytes exceeds the limit of " +
                                                  std::to_string(max_bytes) + " bytes");
}

}  // namespace

namespace {

// The offset of the first byte at or after `i` that is not ASCII or is NUL (n when none).
std::size_t SkipCleanAscii(const unsigned char* s, std::size_t i, std::size_t n) {
#if defined(CEPHALGIA_JSON_SSE2)
  const __m128i zero = _mm_setzero_si128();
  // 32 bytes a step while all are clean; the 16-byte steps below locate a byte that is not.
  while (n - i >= 32) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    if ((_mm_movemask_epi8(_mm_or_si128(a, b)) |
         _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(a, b), zero))) != 0) {
      break;
    }
    i += 32;
  }
  while (n - i >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    // movemask takes each byte's high bit: set for non-ASCII bytes and for the NUL compare.
    const unsigned m =
        static_cast<unsigned>(_mm_movemask_epi8(v) | _mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)));
    if (m != 0) return i + static_cast<std::size_t>(__builtin_ctz(m));
    i += 16;
  }
#else
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  while (n - i >= 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if ((w & kHigh) != 0 || ((w - kOnes) & ~w & kHigh) != 0) break;
    i += 8;
  }
#endif
  while (i < n && s[i] != 0 && s[i] < 0x80) ++i;
  return i;
}

}  // namespace

std::size_t FindInvalidUtf8OrNul(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  for (;;) {
    i = SkipCleanAscii(s, i, n);
    if (i == n || s[i] == 0) return i;
    const std::size_t len = json_bytes::Utf8SequenceLength(text.data() + i, text.data() + n);
    if (len == 0) return i;
    i += len;
  }
}

Status CheckUtf8(std::string_view text) {
  if (std::size_t bad = FindInvalidUtf8OrNul(text); bad != text.size()) {
    return InvalidArgument(
        "malformed JSON: invalid UTF-8 or a NUL byte at byte " + std::to_string(bad), "$");
  }
  return Status::Ok();
}

namespace {

// The code unit of the four hex digits at `at`, or -1 when they are not four hex digits (the
// parser then reports the malformed escape itself).
int HexCodeUnit(std::string_view text, std::size_t at) {
  if (at > text.size()) return -1;
  return json_bytes::HexCodeUnit(text.data() + at, text.data() + text.size());
}

}  // namespace

std::size_t FindUnpairedSurrogateEscape(std::string_view text) {
  // A backslash outside a string is a syntax error the parser reports, so every backslash is
  // taken as the start of an escape; "\\" is stepped over whole, so its second backslash never
  // starts one.
  std::size_t i = 0;
  for (;;) {
    if (i >= text.size()) return text.size();
    const void* hit = std::memchr(text.data() + i, '\\', text.size() - i);
    if (hit == nullptr) return text.size();
    i = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
    if (i + 1 >= text.size()) return text.size();
    if (text[i + 1] != 'u') {
      i += 2;
      continue;
    }
    const int unit = HexCodeUnit(text, i + 2);
    if (unit >= 0xDC00 && unit <= 0xDFFF) return i;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const bool paired = text.size() - i >= 12 && text[i + 6] == '\\' && text[i + 7] == 'u' &&
                          HexCodeUnit(text, i + 8) >= 0xDC00 && HexCodeUnit(text, i + 8) <= 0xDFFF;
      if (!paired) return i;
      i += 12;
      continue;
    }
    i += 2;
  }
}

Status CheckSurrogateEscapes(std::string_view text) {
  if (std::size_t bad = FindUnpairedSurrogateEscape(text); bad != text.size()) {
    return InvalidArgument(
        "malformed JSON: \\u escape of an unpaired UTF-16 surrogate (not a "
        "Unicode character) at byte " +
            std::to_string(bad),
        "$");
  }
  return Status::Ok();
}

Status ParseFailure(const rapidjson::ParseResult& result, bool too_deep, int max_depth) {
  std::string what =
      too_deep ? "JSON nested deeper than " + std::to_string(max_depth) + " levels"
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
  CEPHALGIA_RETURN_IF_ERROR(CheckSurrogateEscapes(text));
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
  auto it = object.FindMember(rapidjson::Value(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
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

using json_bytes::Load64;
using json_bytes::StopMask64;

uint32_t Load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// Copies the `n` < 16 bytes at `p` to `dst` (all of them, whatever they hold) and returns the
// length of their plain prefix (n when none needs an escape). Short strings are the common case:
// two overlapping words cover them (a head and a tail, each searched once), without a loop or a
// call to memcpy.
std::size_t CopyShortRun(const char* p, std::size_t n, char* dst) {
  if (n >= 8) {
    const uint64_t head = Load64(p), tail = Load64(p + n - 8);
    std::memcpy(dst, &head, 8);
    std::memcpy(dst + n - 8, &tail, 8);
#if defined(CEPHALGIA_JSON_SSE2)
    // Head in bytes 0-7, tail in bytes 8-15 of one vector: one search for both.
    const unsigned m = json_bytes::StopMask128(
        _mm_set_epi64x(static_cast<long long>(tail), static_cast<long long>(head)));
    if (m == 0) return n;
    return (m & 0xFF) != 0 ? __builtin_ctz(m) : n - 16 + __builtin_ctz(m);
#else
    if (const uint64_t m = StopMask64(head); m != 0) return __builtin_ctzll(m) >> 3;
    if (const uint64_t m = StopMask64(tail); m != 0) return n - 8 + (__builtin_ctzll(m) >> 3);
    return n;
#endif
  }
  if (n >= 4) {
    const uint32_t head = Load32(p), tail = Load32(p + n - 4);
    std::memcpy(dst, &head, 4);
    std::memcpy(dst + n - 4, &tail, 4);
    // Both halves in one word, head first: a stop in the head is found first.
    const uint64_t word = head | (uint64_t{tail} << 32);
#if defined(CEPHALGIA_JSON_SSE2)
    const unsigned m =
        json_bytes::StopMask128(_mm_set_epi64x(0, static_cast<long long>(word))) & 0xFF;
    if (m == 0) return n;
    const std::size_t at = static_cast<std::size_t>(__builtin_ctz(m));
#else
    const uint64_t m = StopMask64(word);  // its lowest set bit is exact
    if (m == 0) return n;
    const std::size_t at = __builtin_ctzll(m) >> 3;
#endif
    return at < 4 ? at : n - 8 + at;
  }
  for (std::size_t i = 0; i < n; ++i) {
    dst[i] = p[i];
    if (json_bytes::IsStringStop(static_cast<unsigned char>(p[i]))) return i;
  }
  return n;
}

}  // namespace

char* WriteQuotedJsonString(std::string_view s, char* dst) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char* p = s.data();
  const char* const end = p + s.size();
  *dst++ = '"';
  for (;;) {
    // Copy the plain run whole while looking for its end: a step stores all its bytes, and the
    // room for six bytes per input byte leaves space for that.
#if defined(CEPHALGIA_JSON_SSE2)
    while (end - p >= 16) {
      const __m128i v = json_bytes::Load128(p);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
      if (const unsigned m = json_bytes::StopMask128(v); m != 0) {
        const int at = __builtin_ctz(m);
        p += at;
        dst += at;
        goto escape;
      }
      p += 16;
      dst += 16;
    }
#else
    while (end - p >= 16) {
      const uint64_t w = Load64(p);
      std::memcpy(dst, &w, 8);
      if (const uint64_t m = StopMask64(w); m != 0) {
        const int at = __builtin_ctzll(m) >> 3;
        p += at;
        dst += at;
        goto escape;
      }
      p += 8;
      dst += 8;
    }
#endif
    {
      const std::size_t rest = static_cast<std::size_t>(end - p);
      const std::size_t plain = CopyShortRun(p, rest, dst);
      p += plain;
      dst += plain;
      if (plain == rest) break;
    }
  escape : {
    const unsigned char c = static_cast<unsigned char>(*p++);
    *dst++ = '\\';
    switch (c) {
      case '"':
        *dst++ = '"';
        break;
      case '\\':
        *dst++ = '\\';
        break;
      case '\b':
        *dst++ = 'b';
        break;
      case '\f':
        *dst++ = 'f';
        break;
      case '\n':
        *dst++ = 'n';
        break;
      case '\r':
        *dst++ = 'r';
        break;
      case '\t':
        *dst++ = 't';
        break;
      default:
        dst[0] = 'u';
        dst[1] = '0';
        dst[2] = '0';
        dst[3] = kHex[c >> 4];
        dst[4] = kHex[c & 0xF];
        dst += 5;
    }
  }
  }
  *dst++ = '"';
  return dst;
}

void AppendQuotedJsonString(std::string_view s, std::string* out) {
  const std::size_t old_size = out->size();
  out->resize(old_size + QuotedJsonBound(s.size()));
  char* const begin = out->data() + old_size;
  out->resize(old_size + static_cast<std::size_t>(WriteQuotedJsonString(s, begin) - begin));
}

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  StringWriter writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace cephalgia::json
