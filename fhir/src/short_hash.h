// A short-string hash computed inline, eight bytes per step, for the fhir sources' per-request
// tables (terminology's code keys, the resource index's references): std::hash calls out to a
// general routine, which showed once per coding looked up and twice per indexed resource. Not
// seeded from outside: the tables are bounded by the request's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace cephalgia::fhir {

inline constexpr std::uint64_t kShortHashSeed = 0x243F6A8885A308D3ULL;

// `s` hashed on from `h` (kShortHashSeed to start; a previous result to hash a second string
// after the first).
inline std::size_t ShortHash(std::string_view s, std::uint64_t h = kShortHashSeed) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  // The last 0-7 bytes by fixed-size loads (a memcpy of a variable length was a call): the last
  // 8 bytes again when there were 8, two overlapping 4-byte loads, or 3 single bytes.
  std::uint64_t tail = 0;
  if (s.size() >= 8) {
    std::memcpy(&tail, s.data() + s.size() - 8, 8);
  } else if (n >= 4) {
    std::uint32_t first, last;
    std::memcpy(&first, p, 4);
    std::memcpy(&last, p + n - 4, 4);
    tail = (static_cast<std::uint64_t>(first) << 32) | last;
  } else if (n > 0) {
    tail = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
           (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
           static_cast<unsigned char>(p[n - 1]);
  }
  h = (h ^ tail ^ (static_cast<std::uint64_t>(s.size()) << 56)) * kMul;
  return static_cast<std::size_t>(h ^ (h >> 32));
}

}  // namespace cephalgia::fhir
