#include "cephalgia/hooks/trace_context.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>

namespace cephalgia::hooks {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// Random lower-case hex, never all zero. Ids only need to be unique, not secret; one generator
// per thread, seeded from the OS. Two digits per random byte, from a table (a digit at a time
// with a modulo per digit was most of the 770 instructions of a request's new trace context).
std::string RandomHex(std::size_t digits) {
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  static constexpr auto kHexPairs = [] {
    constexpr char kHex[] = "0123456789abcdef";
    std::array<std::array<char, 2>, 256> pairs{};
    for (std::size_t b = 0; b < pairs.size(); ++b) pairs[b] = {kHex[b >> 4], kHex[b & 0x0F]};
    return pairs;
  }();
  std::string out(digits, '0');
  do {
    char* p = out.data();
    std::size_t left = digits;
    for (; left >= 16; left -= 16) {  // a whole word: 16 digits, no bound checks
      std::uint64_t word = generator();
      for (int byte = 0; byte < 8; ++byte, word >>= 8, p += 2) {
        std::memcpy(p, kHexPairs[word & 0xFF].data(), 2);
      }
    }
    if (left > 0) {
      std::uint64_t word = generator();
      for (; left >= 2; left -= 2, word >>= 8, p += 2) {
        std::memcpy(p, kHexPairs[word & 0xFF].data(), 2);
      }
      if (left == 1) *p = kHexPairs[word & 0xFF][0];
    }
  } while (AllZero(out));
  return out;
}

}  // namespace

std::string TraceContext::ToHeader() const {
  std::string out;
  out.reserve(6 + trace_id.size() + parent_id.size() + flags.size());
  out += "00-";
  out += trace_id;
  out += '-';
  out += parent_id;
  out += '-';
  out += flags;
  return out;
}

std::optional<TraceContext> ParseTraceparent(std::string_view header) {
  if (header.size() < 55) return std::nullopt;
  const std::string_view version = header.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? header.size() != 55 : header.size() > 55 && header[55] != '-') {
    return std::nullopt;
  }
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  TraceContext context;
  context.trace_id = std::string(header.substr(3, 32));
  context.parent_id = std::string(header.substr(36, 16));
  context.flags = std::string(header.substr(53, 2));
  if (!IsLowerHex(context.trace_id) || AllZero(context.trace_id) ||
      !IsLowerHex(context.parent_id) || AllZero(context.parent_id) || !IsLowerHex(context.flags)) {
    return std::nullopt;
  }
  return context;
}

TraceContext NewTraceContext() { return {RandomHex(32), RandomHex(16), "00"}; }

TraceContext ChildSpan(const TraceContext& parent) {
  return {parent.trace_id, RandomHex(16), parent.flags};
}

}  // namespace cephalgia::hooks
