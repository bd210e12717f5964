// File: ascii.h
//
// ASCII-only text helpers for protocol tokens (HTTP field names, auth schemes, JOSE "typ"),
// which are case-insensitive in ASCII only and must not depend on the C locale.
#pragma once

#include <string_view>

namespace cephalgia {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool EqualsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace cephalgia
