// File: json_bytes.h
//
// The byte-class searches under the JSON primitives (json_scan.h's tokenizer, json.cc's UTF-8
// check and string quoting): where a JSON string's plain run ends ('"', '\\' or a control byte
// below 0x20), and for the tokenizer, which checks UTF-8 as it goes, also where a byte from 0x80
// up starts a multibyte character (checked by Utf8SequenceLength). x86-64 always has SSE2, so the
// search looks at 16 bytes a step with one unaligned load, three compares and a movemask; elsewhere
// (and for the last bytes before the end) eight bytes a step in a 64-bit word. Loads never reach
// past the end of the text: a caller's buffer need not be padded. Also the one parse of a \u
// escape's four hex digits (HexCodeUnit), for the tokenizer and json.cc's surrogate check.
//
//   const char* stop = json_bytes::FindStringStop(p, end);  // end when the rest is plain
//   const char* stop = json_bytes::FindStringStopOrNonAscii(p, end);  // or at a byte >= 0x80
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

// CEPHALGIA_JSON_NO_SIMD selects the 64-bit word code even where SSE2 is there (a test builds the
// primitives both ways).
#if defined(__SSE2__) && !defined(CEPHALGIA_JSON_NO_SIMD)
#define CEPHALGIA_JSON_SSE2 1
#include <emmintrin.h>
#endif

namespace cephalgia::json_bytes {

inline bool IsStringStop(unsigned char c) { return c == '"' || c == '\\' || c < 0x20; }

inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// The high bit of each byte of `w` that ends a plain run is set, and possibly of bytes after
// one that is; the lowest set bit is always exact (the classic "has a zero byte" test, whose
// borrows only run upwards), so on a little-endian machine it locates the first such byte.
inline uint64_t StopMask64(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  auto zero_bytes = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  const uint64_t control = (w - 0x20 * kOnes) & ~w & kHighs;
  return control | zero_bytes(w ^ (0x22 * kOnes)) | zero_bytes(w ^ (0x5C * kOnes));
}

// StopMask64 with the high bit of every byte from 0x80 up set as well (exact: adding exact bits
// keeps the lowest set bit exact).
inline uint64_t StopOrNonAsciiMask64(uint64_t w) {
  return StopMask64(w) | (w & 0x8080808080808080ULL);
}

#if defined(CEPHALGIA_JSON_SSE2)
// Bit i set when byte i of `v` ends a plain run (exact for every byte).
inline unsigned StopMask128(__m128i v) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i max_control = _mm_set1_epi8(0x1F);
  // Unsigned v <= 0x1F exactly when min(v, 0x1F) == v (SSE2 has no unsigned compare).
  const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, max_control), v);
  const __m128i stop =
      _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
  return static_cast<unsigned>(_mm_movemask_epi8(stop));
}

inline __m128i Load128(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Bit i set when byte i of `v` is plain ASCII: from 0x20 to 0x7F and neither '"' nor '\\'.
// Compared as signed bytes, those above 0x1F are exactly the bytes from 0x20 to 0x7F: one
// compare tells them from the control bytes and the bytes from 0x80 up together. (GCC turns a
// signed "below 0x20" into "not above 0x1F", two instructions: the plain bytes are counted
// instead, and their complement taken on the mask.)
inline unsigned PlainAsciiMask128(__m128i v) {
  const __m128i quote_or_backslash =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  const __m128i above_control = _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1F));
  return static_cast<unsigned>(
      _mm_movemask_epi8(_mm_andnot_si128(quote_or_backslash, above_control)));
}

// StopMask128 with the bit of every byte from 0x80 up set as well.
inline unsigned StopOrNonAsciiMask128(__m128i v) { return PlainAsciiMask128(v) ^ 0xFFFFu; }
#endif

// The first byte of [p, end) that ends a plain run of a JSON string (with kNonAscii, or is from
// 0x80 up); `end` when there is none.
template <bool kNonAscii>
[[gnu::always_inline]] inline const char* FindStop(const char* p, const char* end) {
#if defined(CEPHALGIA_JSON_SSE2)
  while (end - p >= 16) {
    const __m128i v = Load128(p);
    if (const unsigned m = kNonAscii ? StopOrNonAsciiMask128(v) : StopMask128(v); m != 0) {
      return p + __builtin_ctz(m);
    }
    p += 16;
  }
  if (end - p >= 8) {
    const uint64_t w = Load64(p);
    if (const uint64_t m = kNonAscii ? StopOrNonAsciiMask64(w) : StopMask64(w); m != 0) {
      return p + (__builtin_ctzll(m) >> 3);
    }
    p += 8;
  }
#else
  while (end - p >= 8) {
    const uint64_t w = Load64(p);
    if (const uint64_t m = kNonAscii ? StopOrNonAsciiMask64(w) : StopMask64(w); m != 0) {
      return p + (__builtin_ctzll(m) >> 3);
    }
    p += 8;
  }
#endif
  while (p != end && !IsStringStop(static_cast<unsigned char>(*p)) &&
         !(kNonAscii && static_cast<unsigned char>(*p) >= 0x80)) {
    ++p;
  }
  return p;
}

// FindStringStopInlined is FindStringStop always inlined (for the tokenizer's skip loop, which
// the compiler would otherwise leave calling it).
[[gnu::always_inline]] inline const char* FindStringStopInlined(const char* p, const char* end) {
  return FindStop<false>(p, end);
}

// The UTF-16 code unit that the four hex digits at `p` spell (the digits of a \u escape), or -1
// when [p, end) is shorter than four bytes or one of them is not a hex digit. The one parse of
// them: the tokenizer decodes escapes with it and json.cc's unpaired-surrogate check reads them.
inline int HexCodeUnit(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int value = 0;
  for (int k = 0; k < 4; ++k) {
    const char c = p[k];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    value = (value << 4) | digit;
  }
  return value;
}

// Length of the well-formed UTF-8 sequence (RFC 3629: shortest form, no surrogate, at most
// U+10FFFF) that starts at the byte from 0x80 up at `p`, or 0 when it is malformed or cut by
// `end`.
inline std::size_t Utf8SequenceLength(const char* p, const char* end) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  const unsigned char c = s[0];
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
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// The first byte of [p, end) that ends a plain run or is from 0x80 up; `end` when there is
// none. For the tokenizer, which checks the UTF-8 of every string it reads where this stops at a
// byte from 0x80 up (JSON allows such bytes nowhere else).
[[gnu::always_inline]] inline const char* FindStringStopOrNonAscii(const char* p, const char* end) {
  return FindStop<true>(p, end);
}

[[gnu::always_inline]] inline char* FindStringStopOrNonAscii(char* p, char* end) {
  return const_cast<char*>(FindStop<true>(p, end));
}

// The offset of the first of the 16 bytes at `p` that ends a plain run or is from 0x80 up; 16
// when none of them does. The caller makes sure the 16 bytes are there. The tokenizer's first
// step into a string: most strings end within it, and then no loop, no end check and no second
// search are needed (see json_scan.h's PlainRunEnd).
[[gnu::always_inline]] inline unsigned FirstStopOrNonAsciiIn16(const char* p) {
#if defined(CEPHALGIA_JSON_SSE2)
  // The stops' mask with bit 16 set, so that a mask without a stop gives 16.
  return static_cast<unsigned>(__builtin_ctz(PlainAsciiMask128(Load128(p)) ^ 0x1FFFFu));
#else
  if (const uint64_t m = StopOrNonAsciiMask64(Load64(p)); m != 0) {
    return static_cast<unsigned>(__builtin_ctzll(m) >> 3);
  }
  if (const uint64_t m = StopOrNonAsciiMask64(Load64(p + 8)); m != 0) {
    return 8 + static_cast<unsigned>(__builtin_ctzll(m) >> 3);
  }
  return 16;
#endif
}

inline const char* FindStringStop(const char* p, const char* end) {
  return FindStringStopInlined(p, end);
}

inline char* FindStringStop(char* p, char* end) {
  return const_cast<char*>(FindStringStop(static_cast<const char*>(p), end));
}

}  // namespace cephalgia::json_bytes
