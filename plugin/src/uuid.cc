#include "cephalgia/uuid.h"

#include <array>
#include <chrono>
#include <cstdint>
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

std::string Format(std::array<uint8_t, 16>& bytes, uint8_t version) {
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0F) | (version << 4));
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 / 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0F]);
  }
  return out;
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
  return Format(bytes, 4);
}

std::string NewUuidV7() {
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
  return Format(bytes, 7);
}

bool IsRfc4122Uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
      continue;
    }
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  char variant = s[19];
  return variant == '8' || variant == '9' || variant == 'a' || variant == 'b' || variant == 'A' ||
         variant == 'B';
}

}  // namespace cephalgia
