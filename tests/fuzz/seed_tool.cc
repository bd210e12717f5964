// Seed extraction for the fuzz corpora (run by tests/fuzz/run_target.sh, not a fuzz target):
//   fuzz_seed_tool requests OUT_DIR CASE.json...   each golden case's "request", one file each
//   fuzz_seed_tool prefetch OUT_DIR FILE.json...   every prefetch value of each request or case
// So that the corpora start from the repository's golden cases without copying them into git.
#include <rapidjson/document.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s requests|prefetch OUT_DIR FILE...\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::filesystem::path out = argv[2];
  std::filesystem::create_directories(out);
  int written = 0;
  for (int i = 3; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(text.str().c_str());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    const std::string stem = std::filesystem::path(argv[i]).stem().string();
    const rapidjson::Value* request = &doc;
    if (doc.HasMember("request") && doc["request"].IsObject()) request = &doc["request"];
    if (mode == "requests") {
      WriteFile(out / stem, Serialize(*request));
      ++written;
    } else if (mode == "prefetch") {
      if (!request->HasMember("prefetch") || !(*request)["prefetch"].IsObject()) continue;
      for (const auto& member : (*request)["prefetch"].GetObject()) {
        if (!member.value.IsObject()) continue;
        WriteFile(out / (stem + "." + member.name.GetString()), Serialize(member.value));
        ++written;
      }
    } else {
      std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
      return 2;
    }
  }
  std::printf("fuzz_seed_tool: %d seeds in %s\n", written, out.c_str());
  return 0;
}
