// Which malloc serves the `cephalgia` process (issue 14). The executable links mimalloc by
// default (CMake option CEPHALGIA_ALLOCATOR): a request makes a few hundred small, short-lived
// allocations in the host and the pack, and glibc's malloc/free cost about twice the
// instructions per pair. Linking it into the executable replaces malloc for every library in the
// process, the dlopen()ed rule packs included, so a pack needs nothing of its own.
#pragma once

#include <string>

namespace cephalgia::cli {

// "mimalloc 2.0.9" or "system (glibc)", for the start-up log line an operator reads.
std::string AllocatorName();

}  // namespace cephalgia::cli
