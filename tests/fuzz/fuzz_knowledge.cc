// libFuzzer target: the headache pack's knowledge loader (LoadKnowledge: parse, JSON-Schema
// validation, compilation with cross-reference checks) over a mutated knowledge file.
//
// Input: "<file name>\n<contents>", e.g. "criteria.json\n{...}". The pack's knowledge and
// schema files are copied once into a temporary directory; each input replaces that one file,
// the whole set is loaded as the pack loads it, and the original is put back. Names that are
// not a knowledge file are ignored. Seeds: every knowledge file in this form (scripts/fuzz.sh).
// Knowledge files come from the pack's authors, not from clients, but a loader that crashes on
// a typo instead of naming it is a defect all the same.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "knowledge.h"

namespace {

namespace fs = std::filesystem;

struct Workspace {
  std::string dir;
  std::map<std::string, std::string, std::less<>> originals;  // file name -> contents

  Workspace() {
    char tmpl[] = "/tmp/cephalgia-fuzz-knowledge-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir = tmpl;
    const fs::path pack = fs::path(cephalgia::fuzz::PackDir()) / "headache";
    fs::copy(pack / "schema", fs::path(dir) / "schema");
    fs::copy(pack / "knowledge", fs::path(dir) / "knowledge");
    for (const auto& entry : fs::directory_iterator(fs::path(dir) / "knowledge")) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      originals[entry.path().filename().string()] = text.str();
    }
    if (originals.empty() || !cephalgia::rules::internal::LoadKnowledge(dir).ok()) {
      std::fprintf(stderr, "fuzz_knowledge: the pack's own knowledge does not load from %s\n",
                   pack.c_str());
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(Get().dir, ec);
    });
  }
  static Workspace& Get() {
    static Workspace* w = new Workspace;
    return *w;
  }
  void Write(const std::string& name, std::string_view contents) const {
    std::ofstream(fs::path(dir) / "knowledge" / name, std::ios::binary | std::ios::trunc)
        .write(contents.data(), static_cast<std::streamsize>(contents.size()));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Workspace& w = Workspace::Get();
  const std::string_view input = cephalgia::fuzz::AsText(data, size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string name(input.substr(0, newline));
  auto original = w.originals.find(name);
  if (original == w.originals.end()) return 0;
  w.Write(name, input.substr(newline + 1));
  auto knowledge = cephalgia::rules::internal::LoadKnowledge(w.dir);
  if (knowledge.ok() && (*knowledge)->lexicon != nullptr) {
    std::vector<cephalgia::text::Mention> mentions;
    cephalgia::text::FindMentions("new headache, no fever; worst headache of my life",
                                  *(*knowledge)->lexicon, &mentions);
  }
  w.Write(name, original->second);
  return 0;
}
