// The fast tokenizer (cephalgia/json_scan.h) builds exactly the document RapidJSON's reader
// builds, on every golden case and every FHIR sample of ../shared (the serialised documents are
// byte for byte equal, doubles included), and leaves to RapidJSON what it does not handle.
#include "cephalgia/json_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cephalgia/json.h"

namespace cephalgia {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> JsonFiles() {
  std::vector<std::string> files;
  for (const std::string& dir : {std::string(CEPHALGIA_SOURCE_DIR) + "/tests/rules/cases",
                                 std::string(CEPHALGIA_SHARED_DIR) + "/fhir-samples"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().extension() == ".json") files.push_back(it->path().string());
    }
  }
  return files;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fast scan in situ into a document; nullopt when it left the text to RapidJSON.
bool FastDocument(std::string_view text, std::string& buffer, rapidjson::Document& doc) {
  buffer.assign(text.data(), text.size());
  buffer.push_back('\0');
  bool ok = false;
  auto scan = [&](rapidjson::Document& target) {
    ok = json_scan::Scan(buffer.data(), text.size(), target, /*in_situ=*/true,
                         json::kMaxNestingDepth);
    return ok;
  };
  doc.Populate(scan);
  return ok;
}

TEST(JsonScanTest, BuildsTheDocumentRapidJsonBuildsOnEveryCaseAndSample) {
  std::vector<std::string> files = JsonFiles();
  ASSERT_GT(files.size(), 250u);
  std::size_t scanned = 0;
  for (const std::string& file : files) {
    std::string text = Read(file);
    if (!json::CheckUtf8(text).ok()) continue;
    auto reference = json::ParseUntrusted(text, text.size() + 1);
    std::string buffer;
    rapidjson::Document fast;
    bool ok = FastDocument(text, buffer, fast);
    if (!reference.ok()) {
      EXPECT_FALSE(ok) << file << ": accepted what RapidJSON refuses";
      continue;
    }
    ASSERT_TRUE(ok) << file << ": left to RapidJSON";
    ++scanned;
    // Compared whole, without printing megabytes on a difference.
    EXPECT_TRUE(json::Serialize(fast) == json::Serialize(*reference)) << file;
    EXPECT_TRUE(fast == *reference) << file;
  }
  EXPECT_GT(scanned, 250u);
}

TEST(JsonScanTest, StringsAreNulTerminatedInSituAndNumbersTyped) {
  std::string buffer;
  rapidjson::Document doc;
  ASSERT_TRUE(FastDocument(
      R"({"a":"x\ny","b":"\u00e9\ud83d\ude00","i":-5,"u":18446744073709551615,"d":38.5,"e":-0.0,"big":123456789012345678901234})",
      buffer, doc));
  EXPECT_STREQ(doc["a"].GetString(), "x\ny");
  EXPECT_EQ(std::string(doc["b"].GetString()), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_TRUE(doc["i"].IsInt() && doc["i"].GetInt() == -5);
  EXPECT_TRUE(doc["u"].IsUint64() && !doc["u"].IsInt64());
  EXPECT_TRUE(doc["d"].IsDouble() && doc["d"].GetDouble() == 38.5);
  EXPECT_TRUE(doc["e"].IsDouble() && std::signbit(doc["e"].GetDouble()));
  EXPECT_TRUE(doc["big"].IsDouble());
}

// One-digit numbers take a short path: the same document as RapidJSON's wherever the digit
// stands, and a digit that goes on ("01", "5e2", "7.5", a digit ending the text) is read whole.
TEST(JsonScanTest, OneDigitNumbersGiveRapidJsonsDocument) {
  for (std::string text :
       {"7", "[0,1,9]", "{\"a\":5}", "[ 3 , 4 ]", "[5e2,5E2,7.5,-3,42]", "{\"total\":2,\"v\":0}"}) {
    auto reference = json::ParseUntrusted(text, text.size() + 1);
    ASSERT_TRUE(reference.ok()) << text;
    std::string buffer;
    rapidjson::Document fast;
    ASSERT_TRUE(FastDocument(text, buffer, fast)) << text;
    EXPECT_TRUE(json::Serialize(fast) == json::Serialize(*reference)) << text;
    EXPECT_TRUE(fast == *reference) << text;
  }
}

TEST(JsonScanTest, LeavesToRapidJsonWhatItDoesNotHandle) {
  for (std::string text : {"", "{", "[1,]", "01", "1e999", "\"\\udc00\"", "\"\\u0000\"", "tru",
                           "{\"a\":1} x", "\"a\tb\""}) {
    std::string buffer;
    rapidjson::Document doc;
    EXPECT_FALSE(FastDocument(text, buffer, doc)) << text;
  }
  std::string deep(257, '[');
  deep += std::string(257, ']');
  std::string buffer;
  rapidjson::Document doc;
  EXPECT_FALSE(FastDocument(deep, buffer, doc));
}

}  // namespace
}  // namespace cephalgia
