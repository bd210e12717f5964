#include "cephalgia/uuid.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>

namespace cephalgia {
namespace {

// One engine per thread, seeded from the OS: uuids must not repeat across threads or restarts.
std::mt19937_64& Engine() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return engine;
}

// Each byte's two lower-case hex digits.
constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> pairs{};
  for (std::size_t b = 0; b < pairs.size(); ++b) pairs[b] = {kHex[b >> 4], kHex[b & 0x0F]};
  return pairs;
}();

// The 16 bytes in 8-4-4-4-12 form: a table lookup and a 2-byte copy per byte (a push_back per
// digit, each checking the capacity, was 1,600 instructions per request of golden case 217).
void Format(std::array<uint8_t, 16>& bytes, uint8_t version, char (&out)[kUuidLength]) {
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0F) | (version << 4));
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 / 9562 variant
  // Where each byte's digits start: after 4, 6, 8 and 10 bytes comes a '-'.
  static constexpr uint8_t kAt[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  for (int i = 0; i < 16; ++i) std::memcpy(out + kAt[i], kHexPairs[bytes[i]].data(), 2);
  out[8] = out[13] = out[18] = out[23] = '-';
}

}  // namespace

std::string NewUuidV4() {
  std::array<uint8_t, 16> bytes{};
  uint64_t hi = Engine()();
  uint64_t lo = Engine()();
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  char out[kUuidLength];
  Format(bytes, 4, out);
  return std::string(out, kUuidLength);
}

std::string NewUuidV7() {
  char out[kUuidLength];
  WriteUuidV7(out);
  return std::string(out, kUuidLength);
}

void WriteUuidV7(char (&out)[kUuidLength]) {
  std::array<uint8_t, 16> bytes{};
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  uint64_t hi = Engine()();
  uint64_t lo = Engine()();
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));  // 48-bit ms
  bytes[6] = static_cast<uint8_t>(hi >> 8);
  bytes[7] = static_cast<uint8_t>(hi);
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  Format(bytes, 7, out);
}

bool IsRfc4122Uuid(std::string_view s) {
  // A table per byte (hex digit or not) and one compare per dash: the access log checks every
  // request's hookInstance, and a range test per character cost about 550 instructions.
  static constexpr std::array<bool, 256> kIsHex = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = true;
    return t;
  }();
  if (s.size() != 36) return false;
  if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return false;
  bool hex = true;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    hex &= kIsHex[static_cast<unsigned char>(s[i])];
  }
  if (!hex) return false;
  char variant = s[19];
  return variant == '8' || variant == '9' || variant == 'a' || variant == 'b' || variant == 'A' ||
         variant == 'B';
}

}  // namespace cephalgia
