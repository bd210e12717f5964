#include "allocator.h"

#include <cstdlib>

#ifdef CEPHALGIA_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace cephalgia::cli {

std::string AllocatorName() {
#ifdef CEPHALGIA_WITH_MIMALLOC
  // Calling into the library also keeps it a DT_NEEDED entry under --as-needed, which the
  // override depends on: without it the linker would drop the library and glibc would serve.
  int version = mi_version();  // e.g. 209 for 2.0.9
  std::string name = "mimalloc " + std::to_string(version / 100) + "." +
                     std::to_string(version / 10 % 10) + "." + std::to_string(version % 10);
  // Linked is not the same as in effect: ask whether plain malloc() returns mimalloc's memory.
  void* probe = std::malloc(16);
  bool in_effect = probe != nullptr && mi_is_in_heap_region(probe);
  std::free(probe);
  return in_effect ? name : "system (glibc; " + name + " linked but not in effect)";
#else
  return "system (glibc)";
#endif
}

}  // namespace cephalgia::cli
