// File: json.h
//
// Defensive RapidJSON helpers shared by every module.
//
// RapidJSON's typed getters only assert() the type, so calling GetString() on a number is
// undefined behaviour in a release build. Code in this project reads untrusted JSON only through
// these helpers (or after an explicit IsX() check):
//
//   CEPHALGIA_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseUntrusted(body, kMaxBodyBytes));
//   std::optional<std::string_view> hook = GetString(doc, "hook");
//
// ParseUntrusted enforces a size limit, refuses nesting deeper than kMaxNestingDepth (so deeply
// nested input cannot exhaust the stack or build a document that later recursion trips over),
// and validates UTF-8 over the whole text before parsing.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "cephalgia/status.h"

namespace cephalgia::json {

inline constexpr std::size_t kDefaultMaxBytes = 1 << 20;  // 1 MiB

// Deeper JSON is refused. FHIR resources nest a few dozen levels at most, even inside a CDS Hooks
// request's prefetch Bundles; 256 leaves room and bounds the recursive parser's stack use.
inline constexpr int kMaxNestingDepth = 256;

// Offset of the first byte of `text` that is not well-formed UTF-8 (RFC 3629: no overlong forms,
// surrogates or code points above U+10FFFF) or is NUL; text.size() when there is none. One pass,
// eight ASCII bytes per step: several times faster than RapidJSON's per-character
// kParseValidateEncodingFlag, which also disables its SIMD string scanning. A NUL is refused
// because it would silently end a NUL-terminated (in-situ) parse early.
std::size_t FindInvalidUtf8OrNul(std::string_view text);

// Forwards SAX events to `Target` (a document or any RapidJSON handler) and stops the parse
// (returns false) once nesting goes deeper than `max_depth`. With it the recursive parser, which
// is faster than kParseIterativeFlag, is as safe against deep input as the iterative one.
template <typename Target>
class DepthLimitedHandler {
 public:
  DepthLimitedHandler(Target& target, int max_depth) : target_(target), max_(max_depth) {}
  bool too_deep() const { return too_deep_; }

  bool Null() { return target_.Null(); }
  bool Bool(bool b) { return target_.Bool(b); }
  bool Int(int i) { return target_.Int(i); }
  bool Uint(unsigned u) { return target_.Uint(u); }
  bool Int64(int64_t i) { return target_.Int64(i); }
  bool Uint64(uint64_t u) { return target_.Uint64(u); }
  bool Double(double d) { return target_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return target_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return target_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return target_.Key(s, n, copy); }
  bool StartObject() { return Enter() && target_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return target_.EndObject(members);
  }
  bool StartArray() { return Enter() && target_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return target_.EndArray(elements);
  }

 private:
  bool Enter() {
    if (++depth_ > max_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  Target& target_;
  int max_;
  int depth_ = 0;
  bool too_deep_ = false;
};

// The InvalidArgument status for a failed parse (RapidJSON's message and byte offset, or the
// depth limit), located at "$".
Status ParseFailure(const rapidjson::ParseResult& result, bool too_deep, int max_depth);

// Runs RapidJSON's recursive SAX parser with `kFlags` over `stream` behind the depth limit,
// feeding `handler`. The caller has checked the text with FindInvalidUtf8OrNul. `too_deep`, when
// given, tells whether a failure was the depth limit.
template <unsigned kFlags, typename Stream, typename Handler>
Status ParseCheckedText(Stream& stream, Handler& handler, int max_depth = kMaxNestingDepth,
                        bool* too_deep = nullptr) {
  DepthLimitedHandler<Handler> limited(handler, max_depth);
  rapidjson::Reader reader;
  rapidjson::ParseResult result = reader.Parse<kFlags>(stream, limited);
  if (too_deep != nullptr) *too_deep = limited.too_deep();
  if (result.IsError()) return ParseFailure(result, limited.too_deep(), max_depth);
  return Status::Ok();
}

// OK when `text` is well-formed UTF-8 without NUL bytes; else the InvalidArgument naming the
// first bad byte, located at "$".
Status CheckUtf8(std::string_view text);

// The offset of the first \u escape in JSON `text` that names half of a UTF-16 surrogate pair
// without the other half (a low one alone, or a high one not followed by an escaped low one),
// or text.size() when there is none. RapidJSON's reader refuses a lone high surrogate but turns a
// lone low one into three bytes that are not UTF-8 (RFC 3629 excludes surrogates), which a pack
// could then echo into an answer the host must refuse. I-JSON (RFC 7493 section 2.1) excludes
// both; so do we, as malformed JSON, before RapidJSON sees the text.
std::size_t FindUnpairedSurrogateEscape(std::string_view text);
// CheckUtf8's verdict on what FindUnpairedSurrogateEscape finds.
Status CheckSurrogateEscapes(std::string_view text);

// Parses `text` in situ with any SAX `handler`: `buffer` (a std::string or std::vector<char>)
// receives a NUL-terminated copy, and strings reach the handler pointing into it. UTF-8 and NUL
// bytes are checked first; deeper than `max_depth` and trailing content are refused; `too_deep`,
// when given, tells whether a failure was the depth limit. No size limit: callers apply theirs.
template <typename Handler, typename Buffer>
Status ParseInsituWith(Handler& handler, std::string_view text, Buffer& buffer,
                       int max_depth = kMaxNestingDepth, bool* too_deep = nullptr) {
  CEPHALGIA_RETURN_IF_ERROR(CheckUtf8(text));
  CEPHALGIA_RETURN_IF_ERROR(CheckSurrogateEscapes(text));
  buffer.assign(text.data(), text.data() + text.size());
  buffer.push_back('\0');
  rapidjson::InsituStringStream stream(buffer.data());
  return ParseCheckedText<rapidjson::kParseInsituFlag>(stream, handler, max_depth, too_deep);
}

// ParseInsituWith into `doc` (any GenericDocument, e.g. one on pool allocators): the document's
// strings point into `buffer`, so it must outlive the document.
template <typename Document, typename Buffer>
Status ParseInsituInto(Document& doc, std::string_view text, Buffer& buffer,
                       int max_depth = kMaxNestingDepth, bool* too_deep = nullptr) {
  Status status;
  auto generate = [&](Document& target) {
    status = ParseInsituWith(target, text, buffer, max_depth, too_deep);
    return status.ok();
  };
  doc.Populate(generate);
  return status;
}

// Parses `text` as JSON. Fails with kPayloadTooLarge over `max_bytes` and with kInvalidArgument
// (message names the RapidJSON error and byte offset) on malformed input.
Result<rapidjson::Document> ParseUntrusted(std::string_view text,
                                           std::size_t max_bytes = kDefaultMaxBytes);

// Same checks, parsing in situ: `buffer` receives a copy of `text` and the document's strings
// point into it, which saves an allocation per string. `buffer` must outlive the document.
Result<rapidjson::Document> ParseUntrustedInsitu(std::string_view text, std::string& buffer,
                                                 std::size_t max_bytes = kDefaultMaxBytes);

// Member lookup that never asserts: nullptr when `object` is not an object or lacks `key`.
const rapidjson::Value* Find(const rapidjson::Value& object, std::string_view key);

std::optional<std::string_view> GetString(const rapidjson::Value& object, std::string_view key);
std::optional<bool> GetBool(const rapidjson::Value& object, std::string_view key);
std::optional<double> GetNumber(const rapidjson::Value& object, std::string_view key);
std::optional<int64_t> GetInt64(const rapidjson::Value& object, std::string_view key);
// nullptr unless the member exists and is an array / object.
const rapidjson::Value* GetArray(const rapidjson::Value& object, std::string_view key);
const rapidjson::Value* GetObject(const rapidjson::Value& object, std::string_view key);

inline std::string_view AsStringView(const rapidjson::Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

// Serialises a value compactly.
std::string Serialize(const rapidjson::Value& value);

// The most bytes WriteQuotedJsonString writes for `n` input bytes (two quotes, and "\u001F" is
// six bytes for one).
constexpr std::size_t QuotedJsonBound(std::size_t n) { return 2 + 6 * n; }

// Writes `s` at `dst` as a quoted JSON string, escaped byte for byte as RapidJSON's Writer
// escapes it, and returns the end of what it wrote. `dst` must have room for
// QuotedJsonBound(s.size()) bytes, all of which it may overwrite: plain runs are copied whole,
// 16 bytes a step while looking for their end (json_bytes.h).
char* WriteQuotedJsonString(std::string_view s, char* dst);

// Appends `s` to `out` as WriteQuotedJsonString writes it.
void AppendQuotedJsonString(std::string_view s, std::string* out);

// A RapidJSON Writer into a StringBuffer that produces exactly the same text, but writes each
// string (value or key) by copying its plain runs whole instead of RapidJSON's per-character
// escape-and-transcode loop, which was the largest single cost of serialising cards with long
// Markdown details; straight into the buffer, whose room it reserves as RapidJSON's Writer does
// (six bytes per input byte) and gives back after. Use it wherever a
// rapidjson::Writer<rapidjson::StringBuffer> would go, including value.Accept(writer).
class StringWriter : public rapidjson::Writer<rapidjson::StringBuffer> {
 public:
  using Base = rapidjson::Writer<rapidjson::StringBuffer>;
  explicit StringWriter(rapidjson::StringBuffer& out) : Base(out) {}

  bool String(const char* s, rapidjson::SizeType length, bool copy = false) {
    (void)copy;
    return WriteQuoted(std::string_view(s, length));
  }
  bool String(const char* s) { return WriteQuoted(s); }
  bool String(const std::string& s) { return WriteQuoted(s); }
  bool Key(const char* s, rapidjson::SizeType length, bool copy = false) {
    (void)copy;
    return WriteQuoted(std::string_view(s, length));
  }
  bool Key(const char* s) { return WriteQuoted(s); }
  bool Key(const std::string& s) { return WriteQuoted(s); }

 private:
  bool WriteQuoted(std::string_view s) {
    Prefix(rapidjson::kStringType);
    const std::size_t room = QuotedJsonBound(s.size());
    char* const begin = os_->Push(room);
    os_->Pop(room - static_cast<std::size_t>(WriteQuotedJsonString(s, begin) - begin));
    return EndValue(true);
  }
};

// Builds a string value that owns a copy of `s` in `alloc`.
inline rapidjson::Value MakeString(std::string_view s, rapidjson::Document::AllocatorType& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

}  // namespace cephalgia::json
