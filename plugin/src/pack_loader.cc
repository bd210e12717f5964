// Loads rule packs from a directory with dlopen. Every per-file problem becomes a refusal that
// names the file and the reason; the service then starts with the packs that did load.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "cephalgia/plugin/pack_registry.h"

namespace cephalgia::plugin {
namespace {

// A pack runs in-process with full trust, so a file anyone else could have replaced is refused
// (the rule Redis and osquery apply to their modules and extensions).
Status CheckFileTrust(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return InvalidArgument("cannot stat the file");
  if (!S_ISREG(st.st_mode)) return InvalidArgument("not a regular file");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return InvalidArgument(std::string("file is writable by group or others (mode ") + mode +
                           "); run chmod go-w on it");
  }
  uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    return InvalidArgument("file is owned by uid " + std::to_string(st.st_uid) +
                           ", neither this user nor root");
  }
  return Status::Ok();
}

std::string DlError() {
  const char* e = ::dlerror();
  return e == nullptr ? std::string("unknown dlopen error") : std::string(e);
}

}  // namespace

Result<PackLoadReport> LoadPackDirectory(const std::string& directory,
                                         const std::map<std::string, std::string>& pack_configs,
                                         PackRegistry& registry) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    return InvalidArgument("pack directory '" + directory + "' does not exist or is not a directory");
  }
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, ec)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path().string());
  }
  if (ec) return InvalidArgument("cannot list pack directory '" + directory + "': " + ec.message());
  std::sort(files.begin(), files.end());

  PackLoadReport report;
  for (const std::string& file : files) {
    auto refuse = [&](const std::string& reason) { report.refused.push_back({file, reason}); };
    if (Status trust = CheckFileTrust(file); !trust.ok()) {
      refuse(trust.message());
      continue;
    }
    // RTLD_NODELETE: a pack is never unmapped, so no stray pointer into it can dangle.
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
      refuse("dlopen failed: " + DlError());
      continue;
    }
    ::dlerror();
    void* symbol = ::dlsym(handle, CEPHALGIA_RULE_PACK_ENTRY);
    if (symbol == nullptr) {
      refuse(std::string("missing entry point ") + CEPHALGIA_RULE_PACK_ENTRY);
      ::dlclose(handle);
      continue;
    }
    cephalgia_host_api host{sizeof(cephalgia_host_api), CEPHALGIA_RULE_PACK_ABI_MAJOR,
                            CEPHALGIA_RULE_PACK_ABI_MINOR, nullptr};
    auto init = reinterpret_cast<cephalgia_rule_pack_init_fn>(symbol);
    const cephalgia_rule_pack_v1* table = init(&host);
    if (Status valid = ValidatePackTable(table); !valid.ok()) {
      refuse(valid.message());
      continue;
    }
    auto config = pack_configs.find(table->pack_id);
    auto pack = LoadedPack::Create(table, file, fs::path(file).parent_path().string(),
                                   config == pack_configs.end() ? "{}" : config->second);
    if (!pack.ok()) {
      // The pack is ours to run but cannot start (e.g. invalid knowledge): stop start-up.
      return Status(pack.status().code(), file + ": " + pack.status().message(),
                    pack.status().location());
    }
    if (Status added = registry.Add(std::move(*pack)); !added.ok()) {
      refuse(added.message());
      continue;
    }
    report.loaded.push_back(file);
  }
  return report;
}

}  // namespace cephalgia::plugin
