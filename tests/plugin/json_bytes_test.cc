// The 16-byte steps under the JSON primitives (cephalgia/json_bytes.h and what uses it): each
// byte that matters at every offset around the 8- and 16-byte step boundaries, against a
// one-byte-at-a-time reference or RapidJSON itself. Every text lies in a heap block of exactly
// its size, so the sanitized run (scripts/test.sh) sees any read or write past its end.
#include "cephalgia/json_bytes.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cephalgia/json.h"
#include "cephalgia/json_scan.h"

namespace cephalgia {
namespace {

// A copy of `text` in a heap block of exactly its size.
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view text)
      : size_(text.size()), data_(new char[text.size() == 0 ? 1 : text.size()]) {
    std::memcpy(data_.get(), text.data(), text.size());
  }
  char* data() { return data_.get(); }
  std::size_t size() const { return size_; }
  std::string_view view() const { return std::string_view(data_.get(), size_); }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

// Bytes that end a plain run, and bytes next to them (which do not).
const std::vector<unsigned char> kStops = {'"', '\\', 0x00, 0x01, '\n', '\t', 0x1F};
const std::vector<unsigned char> kNeighbours = {' ', '!', '#', '[', ']', 0x7F, 0x80, 0xC3, 0xFF};

std::size_t ReferenceStop(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) < 0x20 || s[i] == '"' || s[i] == '\\') return i;
  }
  return s.size();
}

TEST(JsonBytesTest, FindsTheFirstStopAtEveryOffset) {
  for (std::size_t n = 0; n <= 48; ++n) {
    for (char filler : {'a', ' ', '~', '\x80'}) {
      std::string base(n, filler);
      ExactBuffer plain(base);
      EXPECT_EQ(json_bytes::FindStringStop(plain.data(), plain.data() + n), plain.data() + n) << n;
      for (std::size_t at = 0; at < n && at <= 40; ++at) {
        for (unsigned char c : kStops) {
          std::string text = base;
          text[at] = static_cast<char>(c);
          if (at + 3 < n) text[at + 3] = '"';  // a later stop must not win
          ExactBuffer b(text);
          EXPECT_EQ(json_bytes::FindStringStop(b.data(), b.data() + n) - b.data(),
                    static_cast<std::ptrdiff_t>(at))
              << "n=" << n << " at=" << at << " byte=" << int{c};
        }
        for (unsigned char c : kNeighbours) {
          std::string text = base;
          text[at] = static_cast<char>(c);
          ExactBuffer b(text);
          EXPECT_EQ(json_bytes::FindStringStop(b.data(), b.data() + n) - b.data(),
                    static_cast<std::ptrdiff_t>(ReferenceStop(text)))
              << "n=" << n << " at=" << at << " byte=" << int{c};
        }
      }
    }
  }
}

std::size_t ReferenceStopOrNonAscii(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) return i;
  }
  return s.size();
}

TEST(JsonBytesTest, FindsTheFirstStopOrNonAsciiByteAtEveryOffset) {
  for (std::size_t n = 0; n <= 48; ++n) {
    const std::string base(n, 'a');
    ExactBuffer plain(base);
    EXPECT_EQ(json_bytes::FindStringStopOrNonAscii(plain.data(), plain.data() + n),
              plain.data() + n);
    for (std::size_t at = 0; at < n && at <= 40; ++at) {
      for (unsigned char c : {0x00, 0x1F, 0x20, 0x22, 0x5C, 0x7F, 0x80, 0xBF, 0xC3, 0xFF}) {
        std::string text = base;
        text[at] = static_cast<char>(c);
        if (at + 3 < n) text[at + 3] = '\x80';  // a later stop must not win
        ExactBuffer b(text);
        EXPECT_EQ(json_bytes::FindStringStopOrNonAscii(b.data(), b.data() + n) - b.data(),
                  static_cast<std::ptrdiff_t>(ReferenceStopOrNonAscii(text)))
            << "n=" << n << " at=" << at << " byte=" << int{c};
      }
    }
  }
}

const std::vector<std::string> kUtf8Inserts = {
    std::string(1, '\0'), "\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xc2", "\xc2\x41",
    "\xe0\x80\xaf", "\xed\xa0\x80", "\xef\xbf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
    "\xf5\x80\x80\x80", "\xff", "\xfe", "\xc2\"",
    // Well-formed: stepped over.
    "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
    "\xf4\x8f\xbf\xbf", "\xc3\xa9\xc3\xa9"};

// The scanner's documents, in situ and copying, against RapidJSON's reader: a string of every
// length up to 48 with an escape, a control byte or a quote-like neighbour at every offset.
void ExpectScanMatchesRapidJson(const std::string& text) {
  rapidjson::Document reference;
  reference.Parse(text.data(), text.size());
  for (bool in_situ : {true, false}) {
    ExactBuffer buffer(text);
    rapidjson::Document fast;
    bool ok = false;
    auto scan = [&](rapidjson::Document& target) {
      ok = json_scan::Scan(buffer.data(), buffer.size(), target, in_situ, json::kMaxNestingDepth);
      return ok;
    };
    fast.Populate(scan);
    if (reference.HasParseError()) {
      EXPECT_FALSE(ok) << "accepted what RapidJSON refuses: " << text;
      continue;
    }
    // What the scanner leaves to RapidJSON here is only an escaped NUL or a lone surrogate.
    if (!ok) {
      EXPECT_TRUE(text.find("\\u0000") != std::string::npos ||
                  text.find("\\udc") != std::string::npos)
          << "left to RapidJSON: " << text;
      continue;
    }
    EXPECT_TRUE(fast == reference) << (in_situ ? "in situ: " : "copying: ") << text;
    EXPECT_EQ(json::Serialize(fast), json::Serialize(reference)) << text;
  }
}

TEST(JsonBytesTest, ScannerStringsMatchRapidJsonAcrossStepBoundaries) {
  const std::vector<std::string> inserts = {
      "\\\"",    "\\\\",    "\\/",      "\\n", "\\t", "\\u00e9", "\\ud83d\\ude00",
      "\\u0041", "\\u0000", "\\udc00",  "\\x", "\\",  "\x01",    "\x1f",
      "\t",      "\x7f",    "\xc3\xa9", "]",   "!",   "#"};
  for (std::size_t n = 0; n <= 48; ++n) {
    const std::string plain(n, 'k');
    // The string where it ends the text (the scanner's steps stop short of the end) and where
    // more follows it.
    ExpectScanMatchesRapidJson("\"" + plain + "\"");
    ExpectScanMatchesRapidJson("{\"" + plain + "\":[\"" + plain + "\",1]}");
    for (std::size_t at = 0; at <= n && at <= 40; ++at) {
      for (const std::string& insert : inserts) {
        const std::string s = plain.substr(0, at) + insert + plain.substr(at);
        ExpectScanMatchesRapidJson("\"" + s + "\"");
        ExpectScanMatchesRapidJson("{\"" + s + "\":\"" + s + "\",\"z\":[\"" + s + "\"]}");
      }
    }
    // Unterminated: the end comes in the middle of a step.
    ExpectScanMatchesRapidJson("\"" + plain);
    ExpectScanMatchesRapidJson("[\"" + plain + "\\");
  }
}

// A one-byte-at-a-time UTF-8 check (RFC 3629), written apart from json.cc's.
std::size_t ReferenceInvalidUtf8OrNul(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned c = s[i];
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = c >= 0xF0 && c <= 0xF4   ? 4
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xC2 && c <= 0xDF ? 2
                                               : 0;
    if (len == 0 || i + len > text.size()) return i;
    uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return text.size();
}

TEST(JsonBytesTest, Utf8CheckFindsEveryBadSequenceAtEveryOffset) {
  const std::vector<std::string> inserts = {
      std::string(1, '\0'), "\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xc2", "\xc2\x41",
      "\xe0\x80\xaf", "\xed\xa0\x80", "\xef\xbf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
      "\xf5\x80\x80\x80", "\xff", "\xfe",
      // Well-formed: must be stepped over, and the check go on after them.
      "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
      "\xf4\x8f\xbf\xbf"};
  for (std::size_t n = 0; n <= 48; ++n) {
    for (std::size_t at = 0; at <= n && at <= 40; ++at) {
      for (const std::string& insert : inserts) {
        std::string text = std::string(at, 'a') + insert + std::string(n - at, 'b');
        ExactBuffer b(text);
        EXPECT_EQ(json::FindInvalidUtf8OrNul(b.view()), ReferenceInvalidUtf8OrNul(text))
            << "n=" << n << " at=" << at << " insert=" << insert;
        // A second bad byte later must not hide the first; one before it must win.
        text += '\xff';
        ExactBuffer later(text);
        EXPECT_EQ(json::FindInvalidUtf8OrNul(later.view()), ReferenceInvalidUtf8OrNul(text));
      }
    }
  }
}

TEST(JsonBytesTest, Utf8CheckMatchesTheReferenceOnRandomText) {
  std::mt19937 rng(14);
  // Mostly ASCII with well-formed multibyte characters, and now and then one bad byte.
  const std::vector<std::string> pieces = {
      "a", "Z", " ", "\"", "{", "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "0", "\n"};
  const std::vector<std::string> bad = {std::string(1, '\0'), "\x80", "\xc3", "\xed\xa0\x80",
                                        "\xf8"};
  for (int round = 0; round < 4000; ++round) {
    std::string text;
    const std::size_t pieces_wanted = rng() % 80;
    for (std::size_t i = 0; i < pieces_wanted; ++i) {
      text += rng() % 60 == 0 ? bad[rng() % bad.size()] : pieces[rng() % pieces.size()];
    }
    ExactBuffer b(text);
    ASSERT_EQ(json::FindInvalidUtf8OrNul(b.view()), ReferenceInvalidUtf8OrNul(text)) << text;
  }
}

std::string RapidJsonQuoted(std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

// WriteQuotedJsonString into a block of exactly QuotedJsonBound bytes, AppendQuotedJsonString
// after existing text, and StringWriter: each equal to RapidJSON's Writer.
void ExpectQuotedLikeRapidJson(const std::string& s) {
  const std::string expected = RapidJsonQuoted(s);
  ExactBuffer input(s);
  std::unique_ptr<char[]> out(new char[json::QuotedJsonBound(s.size())]);
  char* end = json::WriteQuotedJsonString(input.view(), out.get());
  ASSERT_LE(static_cast<std::size_t>(end - out.get()), json::QuotedJsonBound(s.size()));
  EXPECT_EQ(std::string(out.get(), end), expected) << s;
  std::string appended = "x";
  json::AppendQuotedJsonString(input.view(), &appended);
  EXPECT_EQ(appended, "x" + expected) << s;
  rapidjson::StringBuffer buffer;
  json::StringWriter writer(buffer);
  writer.String(input.data(), static_cast<rapidjson::SizeType>(input.size()));
  EXPECT_EQ(std::string(buffer.GetString(), buffer.GetSize()), expected) << s;
}

TEST(JsonBytesTest, QuotedStringsMatchRapidJsonAtEveryOffset) {
  for (std::size_t n = 0; n <= 48; ++n) {
    const std::string plain(n, 'q');
    ExpectQuotedLikeRapidJson(plain);
    for (std::size_t at = 0; at < n && at <= 40; ++at) {
      for (int c = 0; c < 0x100; ++c) {
        // Every byte below 0x20, the two escaped printables and the neighbours of each.
        if (c > 0x22 && c != '[' && c != '\\' && c != ']' && c != 0x7F && c != 0x80 && c != 0xFF) {
          continue;
        }
        std::string s = plain;
        s[at] = static_cast<char>(c);
        ExpectQuotedLikeRapidJson(s);
        // Escapes back to back, and one in each of two steps.
        if (at + 1 < n) s[at + 1] = '"';
        if (at + 17 < n) s[at + 17] = '\n';
        ExpectQuotedLikeRapidJson(s);
      }
    }
  }
}

TEST(JsonBytesTest, QuotedStringsMatchRapidJsonOnRandomAndAdversarialText) {
  std::mt19937 rng(290);
  const std::string alphabet = std::string("ab \"\\\n\t\x01\x1f\x7f/", 12) + "\xc3\xa9";
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    const std::size_t n = rng() % 100;
    const bool dense = round % 3 == 0;  // mostly escapes, or mostly plain
    for (std::size_t i = 0; i < n; ++i) {
      s += dense || rng() % 12 == 0 ? alphabet[rng() % alphabet.size()]
                                    : static_cast<char>('a' + rng() % 26);
    }
    ExpectQuotedLikeRapidJson(s);
  }
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  for (std::size_t shift = 0; shift < 17; ++shift) {
    ExpectQuotedLikeRapidJson(every_byte.substr(shift) + every_byte.substr(0, shift));
  }
  ExpectQuotedLikeRapidJson(std::string(1000, '\x01'));  // every byte at its longest escape
  ExpectQuotedLikeRapidJson(std::string(1000, '"'));
  ExpectQuotedLikeRapidJson(std::string(100000, 'm') + "\"");
}

// Declines the contents of every container from `depth` down: the scanner checks them without
// events (its one-loop skip). Counts what it is told, to keep the compiler honest.
struct DecliningHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DecliningHandler> {
  explicit DecliningHandler(int from_depth) : from(from_depth) {}
  bool Default() { return ++events > 0; }
  bool StartObject() { return Open(); }
  bool StartArray() { return Open(); }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool EndArray(rapidjson::SizeType) { return Close(); }
  bool WantsContents() const { return depth < from; }
  bool Open() {
    ++depth;
    return true;
  }
  bool Close() {
    --depth;
    return true;
  }
  int from;
  int depth = 0;
  long events = 0;
};

// The one-byte edits of `text` at `at`: the byte deleted, or replaced by each byte that matters
// to JSON's grammar (and a letter and a digit).
std::vector<std::string> OneByteEdits(const std::string& text, std::size_t at) {
  const std::string replacements = std::string("{}[]:,\"0-e.tfn\\ \x01", 17) + "a9";
  std::vector<std::string> variants = {text.substr(0, at) + text.substr(at + 1)};
  for (char c : replacements) {
    std::string v = text;
    v[at] = c;
    variants.push_back(v);
  }
  return variants;
}

// The skip accepts exactly what the scan with events accepts, on every one-byte edit of a real
// request (each byte deleted, or replaced by a byte that matters to the grammar); and what it
// accepts, RapidJSON's reader accepts.
TEST(JsonBytesTest, SkippedContentsAreJudgedAsTheFullScanJudgesThem) {
  std::string text =
      R"({"hook":"patient-view","context":{"patientId":"p1","n":[1,-2.5e3,true,false,null]},)"
      R"("prefetch":{"p":{"resourceType":"Patient","name":[{"given":["A\u00e9\n","B"]}],)"
      R"("x":{"y":[[],{},[{"z":"\"q\""}]]}}, "s" : [ 0 , 1 ] }})";
  std::size_t accepted = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    for (const std::string& v : OneByteEdits(text, at)) {
      rapidjson::Document full;
      bool full_ok = false;
      {
        ExactBuffer b(v);
        auto scan = [&](rapidjson::Document& target) {
          full_ok = json_scan::Scan(b.data(), b.size(), target, /*in_situ=*/false,
                                    json::kMaxNestingDepth);
          return full_ok;
        };
        full.Populate(scan);
      }
      rapidjson::Reader reader;
      rapidjson::StringStream stream(v.c_str());
      rapidjson::BaseReaderHandler<> ignore;
      const bool reference_ok = !reader.Parse(stream, ignore).IsError();
      for (int from : {1, 2, 3}) {
        for (bool in_situ : {false, true}) {
          ExactBuffer b(v);
          DecliningHandler handler(from);
          const bool skip_ok =
              json_scan::Scan(b.data(), b.size(), handler, in_situ, json::kMaxNestingDepth);
          EXPECT_EQ(skip_ok, full_ok) << "from depth " << from << ": " << v;
          if (skip_ok) {
            EXPECT_TRUE(reference_ok) << v;
          }
          accepted += skip_ok;
        }
      }
    }
  }
  EXPECT_GT(accepted, 1000u);
}

// Declines the values of the members whose key has an odd length (WantsValue): the scanner
// checks them without events.
struct ValueDecliningHandler
    : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ValueDecliningHandler> {
  bool Default() { return ++events > 0; }
  bool Key(const char*, rapidjson::SizeType n, bool) {
    wants = n % 2 == 0;
    return true;
  }
  bool WantsValue() const { return wants; }
  bool wants = true;
  long events = 0;
};

// Scans every one-byte edit of `text` with the full scan and, in situ and not, with a handler
// that declines what it does not read (`SkippingHandler`); both must judge each edit alike.
// `accepted(handler, edit)` is called after each skipping scan that accepted its edit. Returns
// how many skipping scans accepted.
template <typename SkippingHandler,
          typename Accepted = void (*)(const SkippingHandler&, const std::string&)>
std::size_t ExpectSkipsJudgedAsTheFullScan(
    const std::string& text,
    Accepted accepted = [](const SkippingHandler&, const std::string&) {}) {
  std::size_t count = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    for (const std::string& v : OneByteEdits(text, at)) {
      bool full_ok = false;
      {
        ExactBuffer b(v);
        DecliningHandler handler(1000);  // every container reported, no value declined
        full_ok =
            json_scan::Scan(b.data(), b.size(), handler, /*in_situ=*/false, json::kMaxNestingDepth);
      }
      for (bool in_situ : {false, true}) {
        ExactBuffer b(v);
        SkippingHandler handler;
        const bool skip_ok =
            json_scan::Scan(b.data(), b.size(), handler, in_situ, json::kMaxNestingDepth);
        EXPECT_EQ(skip_ok, full_ok) << v;
        if (skip_ok) accepted(handler, v);
        count += skip_ok;
      }
    }
  }
  return count;
}

// Values skipped after their key are judged as the full scan judges them, on every one-byte
// edit of a request (as SkippedContentsAreJudgedAsTheFullScanJudgesThem for contents).
TEST(JsonBytesTest, SkippedValuesAreJudgedAsTheFullScanJudgesThem) {
  std::string text =
      R"({"hook":"patient-view","context":{"patientId":"p1","n":[1,-2.5e3,true,false,null]},)"
      R"("prefetch":{"p":{"resourceType":"Patient","name":[{"given":["A\u00e9\n","B"]}],)"
      R"("x":{"y":[[],{},[{"z":"\"q\""}]]}}, "s" : [ 0 , 1 ], "tt":true,"ab":-0.5e-3,)"
      R"("abc":null,"abcd":"x\ty", "nul" : false ,"zz":{"q":[{}]},"zzz":[[1],{"a":"b"}]}})";
  EXPECT_GT(ExpectSkipsJudgedAsTheFullScan<ValueDecliningHandler>(text), 500u);
}

// The scanner checks the UTF-8 of what it reads: a malformed character or a NUL anywhere in a
// request (in a key, a value, a container it skips, or between tokens) makes both the scan with
// events and the skip decline it, and a well-formed one anywhere in a string changes nothing.
TEST(JsonBytesTest, ScannerDeclinesExactlyTheTextThatIsNotUtf8WithoutNul) {
  const std::string text =
      R"({"hook":"patient-view","context":{"patientId":"p1","n":[1,true,null]},)"
      R"("prefetch":{"p":{"resourceType":"Patient","name":[{"given":["A\u00e9\n","B"]}],)"
      R"("x":{"y":[[],{},[{"z":"\"q\""}]]}}, "s" : [ 0 , "t" ] }})";
  std::size_t accepted = 0, declined = 0;
  for (std::size_t at = 0; at <= text.size(); ++at) {
    for (const std::string& insert : kUtf8Inserts) {
      const std::string v = text.substr(0, at) + insert + text.substr(at);
      const bool utf8_ok = ReferenceInvalidUtf8OrNul(v) == v.size();
      rapidjson::Reader reader;
      rapidjson::MemoryStream stream(v.data(), v.size());
      rapidjson::BaseReaderHandler<> ignore;
      const bool reference_ok = !reader.Parse(stream, ignore).IsError();
      for (int from : {0, 1, 2, 3}) {  // 0: every container reported (no skip)
        for (bool in_situ : {false, true}) {
          ExactBuffer b(v);
          DecliningHandler handler(from == 0 ? 1000 : from);
          const bool ok =
              json_scan::Scan(b.data(), b.size(), handler, in_situ, json::kMaxNestingDepth);
          EXPECT_EQ(ok, utf8_ok && reference_ok)
              << "from depth " << from << " at " << at << " insert " << insert << ": " << v;
          (ok ? accepted : declined) += 1;
        }
      }
    }
  }
  EXPECT_GT(accepted, 1000u);
  EXPECT_GT(declined, 1000u);
  // Multibyte characters before and after an escape, across the step boundaries: the documents
  // RapidJSON builds, in situ and copying.
  for (std::size_t n = 0; n <= 40; ++n) {
    const std::string plain(n, 'k');
    for (std::size_t at = 0; at <= n; ++at) {
      const std::string head = plain.substr(0, at), tail = plain.substr(at);
      ExpectScanMatchesRapidJson("[\"" + head + "\xe2\x80\xa6" + tail + "\"]");
      ExpectScanMatchesRapidJson("[\"" + head + "\xe2\x80\xa6" + tail + "\\n\xc3\xa9\"]");
      ExpectScanMatchesRapidJson("{\"" + head + "\\t" + tail + "\xf0\x9f\x98\x80\":1}");
    }
  }
}

// A string whose plain run ends early (an escape, a multibyte character, a malformed byte or a
// control byte) is checked on from the byte where that run ended, found by the first 16-byte step
// or by the search loop after it: with the first such spot at every offset and a second at every
// later one, the scan with events (in situ and copying: the document RapidJSON builds) and the
// skip accept exactly the texts RapidJSON accepts that are UTF-8 without NUL.
TEST(JsonBytesTest, StringsAreTakenUpWhereTheirPlainRunEnds) {
  const std::vector<std::string> firsts = {"\\n", "\xc3\xa9", "\xe9"};
  const std::vector<std::string> seconds = {"\\t",  "\\u00e9", "\xe2\x80\xa6",
                                            "\xe9", "\x01",    "\\\""};
  std::size_t accepted = 0, declined = 0;
  for (std::size_t n : {0, 1, 2, 7, 8, 9, 14, 15, 16, 17, 18, 23, 24, 31, 32, 33, 40}) {
    const std::string plain(n, 'k');
    for (std::size_t i = 0; i <= n; ++i) {
      for (std::size_t j = i; j <= n; ++j) {
        for (const std::string& first : firsts) {
          for (const std::string& second : seconds) {
            const std::string s =
                plain.substr(0, i) + first + plain.substr(i, j - i) + second + plain.substr(j);
            const std::string text = "[\"" + s + "\",{\"" + s + "\":1}]";
            rapidjson::Document reference;
            reference.Parse(text.data(), text.size());
            const bool expected =
                !reference.HasParseError() && ReferenceInvalidUtf8OrNul(text) == text.size();
            for (bool in_situ : {false, true}) {
              ExactBuffer b(text);
              rapidjson::Document fast;
              bool ok = false;
              auto scan = [&](rapidjson::Document& target) {
                ok = json_scan::Scan(b.data(), b.size(), target, in_situ, json::kMaxNestingDepth);
                return ok;
              };
              fast.Populate(scan);
              ASSERT_EQ(ok, expected) << (in_situ ? "in situ: " : "copying: ") << text;
              if (ok) {
                EXPECT_TRUE(fast == reference) << text;
              }
            }
            ExactBuffer b(text);
            DecliningHandler skipping(1);
            ASSERT_EQ(json_scan::Scan(b.data(), b.size(), skipping, /*in_situ=*/false,
                                      json::kMaxNestingDepth),
                      expected)
                << "skipped: " << text;
            (expected ? accepted : declined) += 1;
          }
        }
      }
    }
  }
  EXPECT_GT(accepted, 10000u);
  EXPECT_GT(declined, 10000u);
}

// The one parse of a \u escape's four hex digits (the tokenizer's and the unpaired-surrogate
// check's): every code unit in both cases of its letters, and every text that is short or holds
// a byte that is not a hex digit, against strtol; its reads stay inside the text.
TEST(JsonBytesTest, HexCodeUnitReadsExactlyFourHexDigits) {
  char upper[5], lower[5];
  for (int unit = 0; unit <= 0xFFFF; ++unit) {
    std::snprintf(upper, sizeof upper, "%04X", static_cast<unsigned>(unit));
    std::snprintf(lower, sizeof lower, "%04x", static_cast<unsigned>(unit));
    ExactBuffer u(std::string_view(upper, 4)), l(std::string_view(lower, 4));
    ASSERT_EQ(json_bytes::HexCodeUnit(u.data(), u.data() + 4), unit) << upper;
    ASSERT_EQ(json_bytes::HexCodeUnit(l.data(), l.data() + 4), unit) << lower;
    ASSERT_EQ(json_bytes::HexCodeUnit(u.data(), u.data() + 3), -1) << upper;
  }
  for (int at = 0; at < 4; ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string text = "aB09";
      text[at] = static_cast<char>(c);
      const bool hex = std::isxdigit(c) != 0;
      ExactBuffer b(text);
      EXPECT_EQ(json_bytes::HexCodeUnit(b.data(), b.data() + 4),
                hex ? static_cast<int>(std::strtol(text.c_str(), nullptr, 16)) : -1)
          << "byte " << c << " at " << at;
    }
  }
  EXPECT_EQ(json_bytes::HexCodeUnit("", static_cast<const char*>("")), -1);
}

// The tokenizer's first 16-byte step into a string: every byte value at every offset of the 16
// (a later stop must not win), and 16 bytes without a stop, against the one-byte reference.
TEST(JsonBytesTest, FirstStepFindsTheFirstStopOrNonAsciiByteAtEveryOffset) {
  const std::string plain(16, 'a');
  ExactBuffer none(plain);
  EXPECT_EQ(json_bytes::FirstStopOrNonAsciiIn16(none.data()), 16u);
  for (std::size_t at = 0; at < 16; ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string text = plain;
      text[at] = static_cast<char>(c);
      if (at + 1 < 16) text[15] = '"';
      ExactBuffer b(text);
      EXPECT_EQ(json_bytes::FirstStopOrNonAsciiIn16(b.data()),
                static_cast<unsigned>(ReferenceStopOrNonAscii(text)))
          << "at=" << at << " byte=" << c;
    }
  }
}

// Strings the skip steps over are judged as the scan with events judges them: a string of every
// length up to 48 (ending within the first 16-byte step, just past it, or at the end of the text)
// with an escape, a control byte, a multibyte character or a quote-like neighbour at every
// offset, as a key and as a value of a container the handler declines.
TEST(JsonBytesTest, SkippedStringsAreJudgedAsReadOnesAcrossStepBoundaries) {
  const std::vector<std::string> inserts = {
      "\\\"", "\\n",  "\\u00e9",  "\\ud83d\\ude00", "\\u0000", "\\x", "\\", "\x01",
      "\x1f", "\x7f", "\xc3\xa9", "\xe9",           "\"",      "!",   "#",  "]"};
  std::size_t accepted = 0, declined = 0;
  for (std::size_t n = 0; n <= 48; ++n) {
    const std::string plain(n, 'k');
    for (std::size_t at = 0; at <= n && at <= 40; ++at) {
      for (const std::string& insert : inserts) {
        const std::string s = plain.substr(0, at) + insert + plain.substr(at);
        for (const std::string& text :
             {"{\"a\":{\"" + s + "\":\"" + s + "\",\"z\":[\"" + s + "\"]}}",
              "{\"a\":[\"" + s + "\"]}", "{\"a\":[\"" + s}) {
          bool full_ok, skip_ok;
          {
            ExactBuffer b(text);
            DecliningHandler handler(1000);
            full_ok = json_scan::Scan(b.data(), b.size(), handler, /*in_situ=*/false,
                                      json::kMaxNestingDepth);
          }
          {
            ExactBuffer b(text);
            DecliningHandler handler(1);
            skip_ok = json_scan::Scan(b.data(), b.size(), handler, /*in_situ=*/false,
                                      json::kMaxNestingDepth);
          }
          EXPECT_EQ(skip_ok, full_ok) << text;
          (full_ok ? accepted : declined) += 1;
        }
      }
    }
  }
  EXPECT_GT(accepted, 5000u);
  EXPECT_GT(declined, 5000u);
}

// The skip's stack of open containers: nesting up to the depth limit and one level past it,
// arrays and objects mixed, declined from several depths, is judged as the full scan judges it;
// the closing brackets must match the opening ones at every level.
TEST(JsonBytesTest, SkippedNestingIsJudgedAsTheFullScanJudgesIt) {
  auto nested = [](std::size_t n, bool swap_one) {
    std::string open, close;
    for (std::size_t i = 0; i < n; ++i) {
      const bool object = i % 3 == 1;
      open += object ? "{\"k\":" : "[";
      close.insert(0, object ? "}" : "]");
    }
    if (swap_one && !close.empty()) {
      const std::size_t at = close.size() / 2;
      close[at] = close[at] == '}' ? ']' : '}';
    }
    return "{\"a\":" + open + "1" + close + ",\"b\":[]}";
  };
  std::size_t accepted = 0, declined = 0;
  for (std::size_t n : {0, 1, 2, 3, 62, 63, 64, 65, 128, 250, 251, 252, 253, 254, 255, 256, 257}) {
    for (bool swap_one : {false, true}) {
      const std::string text = nested(n, swap_one);
      bool full_ok;
      {
        ExactBuffer b(text);
        DecliningHandler handler(1000);
        full_ok =
            json_scan::Scan(b.data(), b.size(), handler, /*in_situ=*/false, json::kMaxNestingDepth);
      }
      // The root object and n containers inside it: accepted up to the limit, when every bracket
      // matches (with n == 0 there is none to swap).
      EXPECT_EQ(full_ok,
                (!swap_one || n == 0) && n + 1 <= static_cast<std::size_t>(json::kMaxNestingDepth))
          << "n=" << n << " swapped=" << swap_one;
      for (int from : {1, 2, 3, 5}) {
        ExactBuffer b(text);
        DecliningHandler handler(from);
        const bool skip_ok =
            json_scan::Scan(b.data(), b.size(), handler, /*in_situ=*/false, json::kMaxNestingDepth);
        EXPECT_EQ(skip_ok, full_ok) << "n=" << n << " swapped=" << swap_one << " from=" << from;
      }
      (full_ok ? accepted : declined) += 1;
    }
  }
  EXPECT_GT(accepted, 10u);
  EXPECT_GT(declined, 10u);
}

// Declines the rest of an object after a member whose key has an odd length (WantsRest): the
// scanner checks the rest without events, then closes the object. Keeps its own depth from the
// events, which must come back to 0.
struct RestDecliningHandler
    : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RestDecliningHandler> {
  bool Default() { return ++events > 0; }
  bool Key(const char*, rapidjson::SizeType n, bool) {
    rest = n % 2 == 0;
    return true;
  }
  bool StartObject() { return ++depth > 0; }
  bool StartArray() { return ++depth > 0; }
  bool EndObject(rapidjson::SizeType) { return depth-- > 0; }
  bool EndArray(rapidjson::SizeType) { return depth-- > 0; }
  bool WantsRest() const { return rest; }
  bool rest = true;
  int depth = 0;
  long events = 0;
};

// The rest of an object skipped after a member is judged as the full scan judges it, on every
// one-byte edit of a request (as SkippedValuesAreJudgedAsTheFullScanJudgesThem for values).
TEST(JsonBytesTest, SkippedRestsOfObjectsAreJudgedAsTheFullScanJudgesThem) {
  std::string text =
      R"({"hook":"patient-view","context":{"patientId":"p1","n":[1,-2.5e3,true,false,null]},)"
      R"("prefetch":{"p":{"resourceType":"Patient","id":"x","name":[{"given":["A\u00e9\n","B"]}],)"
      R"("x":{"y":[[],{},[{"z":"\"q\""}]]}}, "s" : [ 0 , 1 ], "tt":true,"ab":-0.5e-3,)"
      R"("abc":null,"abcd":"x\ty", "nul" : false ,"zz":{"q":[{}]},"zzz":[[1],{"a":"b"}]}})";
  EXPECT_GT(ExpectSkipsJudgedAsTheFullScan<RestDecliningHandler>(
                text,
                [](const RestDecliningHandler& handler, const std::string& v) {
                  EXPECT_EQ(handler.depth, 0) << v;  // every object it opened was closed
                }),
            500u);
}

}  // namespace
}  // namespace cephalgia
