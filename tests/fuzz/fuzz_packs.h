// For the targets that drive the service core: the real rule packs of this build, loaded once
// per process and never unloaded (the packs' code must outlive every pointer into it).
#pragma once

#include <cstdio>
#include <cstdlib>

#include "cephalgia/plugin/pack_registry.h"
#include "fuzz_support.h"

namespace cephalgia::fuzz {

// The registry with every pack of PackDir() loaded; aborts (the fuzzer cannot run without it).
inline const plugin::PackRegistry& LoadedPacks() {
  static const plugin::PackRegistry* registry = [] {
    auto* r = new plugin::PackRegistry;
    auto report = plugin::LoadPackDirectory(PackDir(), {}, *r);
    if (!report.ok() || report->loaded.empty()) {
      std::fprintf(stderr, "fuzz: no rule pack loaded from %s: %s\n", PackDir().c_str(),
                   report.ok() ? "no .so there" : report.status().ToString().c_str());
      std::abort();
    }
    return r;
  }();
  return *registry;
}

}  // namespace cephalgia::fuzz
