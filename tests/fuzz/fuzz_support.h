// Shared by the libFuzzer targets in this directory: where the built packs are, and a few helpers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace cephalgia::fuzz {

// The pack directory of this build (CEPHALGIA_PACK_DIR), or $CEPHALGIA_PACK_DIR when set.
inline std::string PackDir() {
  const char* env = std::getenv("CEPHALGIA_PACK_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(CEPHALGIA_PACK_DIR);
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace cephalgia::fuzz
