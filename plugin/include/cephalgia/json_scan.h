// File: json_scan.h
//
// A fast JSON tokenizer feeding RapidJSON SAX handlers (the host's envelope scan and its check of
// a pack's answer) or a RapidJSON document (the headache pack's parse of the request), with the
// events RapidJSON's reader would give.
// RapidJSON stays the parser of record: this scanner accepts only what RapidJSON accepts with
// kParseDefaultFlags and gives the same events, and whenever it meets anything it does not
// handle (malformed JSON, nesting deeper than the limit, a number near the limits of a double,
// a lone surrogate, an escaped NUL) it returns false, and the caller runs RapidJSON's reader on
// the same text for the verdict and its exact error message. It also refuses text that is not
// well-formed UTF-8 or holds a NUL byte (checked in each string as it is searched; JSON allows
// neither a byte from 0x80 up nor a NUL anywhere else), so a caller whose fallback checks the text
// with json::CheckUtf8 first (json::ParseInsituWith does) needs no check of its own before the
// scan. What makes it fast: strings are skipped 16 bytes at a time (json_bytes.h; RapidJSON,
// without SSE, looks at each byte through an escape table), and plain strings are never copied.
//
//   if (!json_scan::Scan(text.data(), text.size(), handler, /*in_situ=*/false, 256)) {
//     ... json::CheckUtf8(text), then RapidJSON on `text` with a fresh handler ...
//   }
//
// In situ,
// escaped strings are decoded where they lie (the text is modified) and every string the
// handler receives points into the text; otherwise the text is only read, and an escaped string
// is decoded into a scratch buffer valid during its callback only. Strings reach the handler
// with copy == !in_situ, as from RapidJSON's reader; numbers with RapidJSON's types (an integer
// as Int64, or Uint64 above INT64_MAX; anything else as Double, converted by RapidJSON itself).
#pragma once

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "cephalgia/json_bytes.h"

namespace cephalgia::json_scan {

// Receives the one number RapidJSON's reader converts for the scanner.
struct DoubleCapture : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DoubleCapture> {
  bool Default() { return false; }
  bool Double(double d) {
    value = d;
    got = true;
    return true;
  }
  double value = 0;
  bool got = false;
};

// kInSitu is a template argument: each caller scans one way, and the tokenizer's loops then test
// nothing for it.
template <typename Handler, bool kInSitu>
class Scanner {
 public:
  Scanner(char* text, std::size_t size, Handler& handler, int max_depth)
      : p_(text), end_(text + size), h_(handler), max_depth_(max_depth) {}

  bool Run() {
    SkipWhitespace();
    if (p_ == end_ || !Values()) return false;
    SkipWhitespace();
    return p_ == end_;
  }

 private:
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  // Most tokens follow one another with no whitespace between them: one compare (nothing above
  // ' ' is whitespace) says so before the four that tell which byte it is.
  [[gnu::always_inline]] static bool IsWhitespace(char c) {
    return static_cast<unsigned char>(c) <= ' ' &&
           (c == ' ' || c == '\n' || c == '\r' || c == '\t');
  }
  [[gnu::always_inline]] void SkipWhitespace() {
    while (p_ != end_ && IsWhitespace(*p_)) ++p_;
  }

  bool Literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  // A handler may say, right after a container opens, that it does not read what is inside
  // (`bool WantsContents()`): the contents are then checked without events.
  static constexpr bool kMaySkip = requires(Handler & h) { h.WantsContents(); };
  // A handler may also say, right after a member's key, that it does not read the member's value
  // (`bool WantsValue()`): the value is then checked without events.
  static constexpr bool kMaySkipValues = requires(Handler & h) { h.WantsValue(); };
  // And, right after a member's value, that it reads no more members of the object
  // (`bool WantsRest()`): the rest of the object is then checked without events, and EndObject
  // gets the number of members reported.
  static constexpr bool kMaySkipRest = requires(Handler & h) { h.WantsRest(); };

  // The value at p_ (not the end) with everything inside it, with events: one loop with the open
  // containers on a stack instead of a call per container (as the skip loop below). The innermost
  // open container's count of members or elements and its closing bracket (which also says
  // whether it is an object) are kept in registers, the enclosing ones' on the stack; the read
  // position is a local, kept in a register rather than stored back at every token. Each place
  // expects the byte compact JSON has there (',' ':' or a value) before it looks for whitespace.
  // Nesting deeper than max_depth_ (or than kEventLevels) is left to RapidJSON.
  static constexpr int kEventLevels = 256;
  bool Values() {
    struct Enclosing {
      rapidjson::SizeType count;
      char close;
    };
    Enclosing enclosing[kEventLevels];  // by level, written before it is read
    int level = 0;                      // open containers
    const int level_limit = std::min(max_depth_, kEventLevels);
    rapidjson::SizeType count = 0;  // the innermost open container's members or elements
    char close = 0;                 // its closing bracket
    char* p = p_;
    char* const end = end_;
    char c;
    const char* s;
    std::size_t n;
  value:  // p at a value, not the end
    c = *p;
    switch (c) {
      case '"':
        if (!StringFrom(p, end, s, n) ||
            !h_.String(s, static_cast<rapidjson::SizeType>(n), !in_situ_)) {
          return false;
        }
        break;
      case '{':
      case '[': {
        if (level >= level_limit) goto fail;
        const bool is_object = c == '{';
        ++p;
        if (!(is_object ? h_.StartObject() : h_.StartArray())) goto fail;
        if constexpr (kMaySkip) {
          if (!h_.WantsContents()) {
            p_ = p;
            if (!SkipContainer(is_object, level + 1)) return false;
            p = p_;
            if (!(is_object ? h_.EndObject(0) : h_.EndArray(0))) goto fail;
            break;
          }
        }
        const char closing = static_cast<char>(c + 2);  // '{' + 2 == '}', '[' + 2 == ']'
        p = SkipWhitespaceFrom(p, end);
        if (p == end) goto fail;
        if (*p == closing) {
          ++p;
          if (!(is_object ? h_.EndObject(0) : h_.EndArray(0))) goto fail;
          break;
        }
        if (level > 0) enclosing[level - 1] = {count, close};
        ++level;
        count = 0;
        close = closing;
        if (is_object) goto key;
        goto value;
      }
      case 't':
        if (end - p < 4 || std::memcmp(p, "true", 4) != 0) goto fail;
        p += 4;
        if (!h_.Bool(true)) goto fail;
        break;
      case 'f':
        if (end - p < 5 || std::memcmp(p, "false", 5) != 0) goto fail;
        p += 5;
        if (!h_.Bool(false)) goto fail;
        break;
      case 'n':
        if (end - p < 4 || std::memcmp(p, "null", 4) != 0) goto fail;
        p += 4;
        if (!h_.Null()) goto fail;
        break;
      default:
        p_ = p;
        if (!Number()) return false;
        p = p_;
    }
    // After a value: the root's, a member's or an element's.
  after_value:
    if (level == 0) {
      p_ = p;
      return true;
    }
    ++count;
    if constexpr (kMaySkipRest) {
      if (close == '}' && !h_.WantsRest()) {
        p_ = p;
        if (!SkipContainer</*kAfterValue=*/true>(/*is_object=*/true, level)) return false;
        p = p_;
        goto closed;
      }
    }
  next:
    if (p == end) goto fail;
    c = *p;
    if (c == ',') {
      ++p;
      if (p == end) goto fail;
      if (IsWhitespace(*p)) [[unlikely]] {
        p = SkipWhitespaceFrom(p, end);
        if (p == end) goto fail;
      }
      if (close == '}') goto key;
      goto value;
    }
    if (c == close) {
      ++p;
      goto closed;
    }
    if (!IsWhitespace(c)) goto fail;
    p = SkipWhitespaceFrom(p, end);
    goto next;
  closed:  // the innermost container closed, p past its closing bracket
    if (!(close == '}' ? h_.EndObject(count) : h_.EndArray(count))) goto fail;
    if (--level > 0) {
      count = enclosing[level - 1].count;
      close = enclosing[level - 1].close;
    }
    goto after_value;
  key:  // p at a member's key, not the end
    if (*p != '"') goto fail;
    if (!StringFrom(p, end, s, n) || !h_.Key(s, static_cast<rapidjson::SizeType>(n), !in_situ_)) {
      return false;
    }
    p = PastColon(p, end);
    if (p == nullptr) return false;
    if constexpr (kMaySkipValues) {
      if (!h_.WantsValue()) {
        p_ = p;
        if (!SkipValue(level)) return false;
        p = p_;
        goto after_value;
      }
    }
    goto value;
  fail:
    p_ = p;
    return false;
  }

  // The skip loop's helpers take the end as their caller holds it (a local, which no store
  // through a char pointer can change, unlike end_).
  [[gnu::always_inline]] static char* SkipWhitespaceFrom(char* q, char* end) {
    while (q != end && IsWhitespace(*q)) ++q;
    return q;
  }
  // From just after a member's key to its value: past the ':' and any whitespace around it, at
  // the value (not the end). nullptr when the text ends first or has anything else there.
  [[gnu::always_inline]] static char* PastColon(char* q, char* end) {
    if (q == end) return nullptr;
    if (*q != ':') {
      q = SkipWhitespaceFrom(q, end);
      if (q == end || *q != ':') return nullptr;
    }
    ++q;
    if (q == end) return nullptr;
    if (IsWhitespace(*q)) [[unlikely]] {
      q = SkipWhitespaceFrom(q, end);
      if (q == end) return nullptr;
    }
    return q;
  }
  // For the skip loop: a string nobody reads at `q`, checked as String checks it. Past it, or
  // nullptr when String refuses it. Inlined: it is most of the skip loop. Its escapes are
  // checked and not decoded (not read, the read-only scan's decoded copy was work thrown away);
  // in situ they are decoded as before, since that writes the text.
  [[gnu::always_inline]] char* SkipStringAt(char* q, char* end) {
    bool closed;
    char* const stop = PlainRunEnd(q + 1, end, closed);
    if (closed) [[likely]] {
      return stop + 1;
    }
    p_ = stop;  // the rest is checked from where the plain run ended
    const char* s;
    std::size_t n;
    return EscapedString</*kDecode=*/false>(q + 1, s, n) ? p_ : nullptr;
  }

  // A value nobody reads, at p_ (not the end), inside a container at nesting `depth`: checked as
  // Value checks it (a container one level deeper), without events.
  bool SkipValue(int depth) {
    switch (*p_) {
      case '{':
      case '[': {
        if (depth + 1 > max_depth_) return false;
        const bool is_object = *p_ == '{';
        ++p_;
        return SkipContainer(is_object, depth + 1);
      }
      case '"': {
        char* const past = SkipStringAt(p_, end_);
        if (past == nullptr) return false;
        p_ = past;
        return true;
      }
      case 't':
        return Literal("true", 4);
      case 'f':
        return Literal("false", 5);
      case 'n':
        return Literal("null", 4);
      default:
        return Number(/*emit=*/false);
    }
  }

  // The same grammar without events: the contents of a container its handler does not read,
  // p_ just after its opening bracket, at nesting `depth`. One loop with the open containers'
  // closing brackets on a stack of bytes instead of a call per value: the innermost one, kept in
  // a register, is both what closes the container and whether it is an object. Deeper than
  // kSkipLevels inside one skip is left to RapidJSON, like anything else the scanner does not
  // handle.
  // The read position is a local here (kept in a register, not stored back at every step), and
  // each place expects the byte compact JSON has there (',' ':' or a value) before it looks for
  // whitespace.
  static constexpr int kSkipLevels = 256;
  // With kAfterValue, p_ is just after a member's value or an element of the container instead
  // (the rest of it is checked); a template argument, so that the loop of a handler that never
  // declines a rest tests nothing for it.
  template <bool kAfterValue = false>
  bool SkipContainer(bool is_object, int depth) {
    // The closing bracket of each open container, by level (written before it is read).
    char closers[kSkipLevels];
    int level = 0;  // containers opened inside this one
    // Opening one more fails from this level on (as Value would past max_depth_).
    const int level_limit = std::min(max_depth_ - depth, kSkipLevels - 1);
    char close = is_object ? '}' : ']';  // the innermost open container's closing bracket
    closers[0] = close;
    char* p = p_;
    char* const end = end_;
    char c;
    if constexpr (kAfterValue) goto next;
    // At the start of a container's contents.
  open:
    p = SkipWhitespaceFrom(p, end);
    if (p == end) goto fail;
    c = *p;
    if (c == close) goto close;
  element:  // p at a member's key or an element's value, c == *p
    if (close == '}') {
      if (c != '"') goto fail;
      p = SkipStringAt(p, end);
      if (p == nullptr) return false;
      p = PastColon(p, end);
      if (p == nullptr) return false;
      c = *p;
    }
    switch (c) {
      case '{':
      case '[':
        if (level >= level_limit) goto fail;
        close = static_cast<char>(c + 2);  // '{' + 2 == '}', '[' + 2 == ']'
        ++p;
        closers[++level] = close;
        goto open;
      case '"':
        p = SkipStringAt(p, end);
        if (p == nullptr) return false;
        break;
      case 't':
        if (end - p < 4 || std::memcmp(p, "true", 4) != 0) goto fail;
        p += 4;
        break;
      case 'f':
        if (end - p < 5 || std::memcmp(p, "false", 5) != 0) goto fail;
        p += 5;
        break;
      case 'n':
        if (end - p < 4 || std::memcmp(p, "null", 4) != 0) goto fail;
        p += 4;
        break;
      default:
        p_ = p;
        if (!Number(/*emit=*/false)) return false;
        p = p_;
    }
    // After a value.
  next:
    if (p == end) goto fail;
    c = *p;
    if (c == ',') {
      ++p;
      if (p == end) goto fail;
      c = *p;
      if (IsWhitespace(c)) {
        p = SkipWhitespaceFrom(p, end);
        if (p == end) goto fail;
        c = *p;
      }
      goto element;
    }
    if (c != close) {
      if (!IsWhitespace(c)) goto fail;
      p = SkipWhitespaceFrom(p, end);
      goto next;
    }
  close:  // p at the container's closing bracket
    ++p;
    if (level == 0) {
      p_ = p;
      return true;
    }
    close = closers[--level];
    goto next;
  fail:
    p_ = p;
    return false;
  }

  bool Hex4(unsigned& out) {
    const int unit = json_bytes::HexCodeUnit(p_, end_);
    if (unit < 0) return false;
    out = static_cast<unsigned>(unit);
    p_ += 4;
    return true;
  }

  // Appends decoded bytes: in situ behind the read position, else to the scratch buffer.
  void Put(const char* s, std::size_t n) {
    if constexpr (in_situ_) {
      std::memmove(dst_, s, n);
      dst_ += n;
    } else {
      scratch_.append(s, n);
    }
  }
  template <bool kPut>
  [[gnu::always_inline]] void PutIf(const char* s, std::size_t n) {
    if constexpr (kPut) Put(s, n);
  }

  // `p` (the event loop's read position; `end` as it holds it) is at the opening quote; on
  // success it is past the closing one. Most strings have no escape and no byte from 0x80 up:
  // found with one search and returned where they lie; the rest go to EscapedString, which also
  // checks their UTF-8. Always inlined: it is in the loop of every object and array.
  [[gnu::always_inline]] bool StringFrom(char*& p, char* end, const char*& out,
                                         std::size_t& out_size) {
    char* const start = p + 1;
    bool closed;
    char* const stop = PlainRunEnd(start, end, closed);
    if (closed) [[likely]] {
      out = start;
      out_size = static_cast<std::size_t>(stop - start);
      if constexpr (in_situ_) *stop = '\0';  // NUL-terminated where it lies, as RapidJSON in situ
      p = stop + 1;
      return true;
    }
    p_ = stop;  // the rest is checked from where the plain run ended, not searched again
    // Through locals of its own: `out` and `out_size` are the caller's registers, which a
    // reference passed to the out-of-line EscapedString would keep in memory for every string.
    const char* escaped;
    std::size_t escaped_size;
    const bool ok = EscapedString(start, escaped, escaped_size);
    out = escaped;
    out_size = escaped_size;
    p = p_;
    return ok;
  }

  // Where the plain ASCII run (no escape, no control byte, no byte from 0x80 up) of the string
  // whose contents start at `start` ends: the first byte that is not plain, or `end`; `closed`
  // says whether that byte is the closing quote (the string is plain). Otherwise the string goes
  // on from there (an escape, a multibyte character) or is malformed, and EscapedString takes it
  // up at that byte. Most strings close within 16 bytes: then one 16-byte step finds the quote
  // (the byte after the 16 is read only when all 16 are plain, and is there, as the step runs
  // only while more than 16 bytes are left); longer ones go on with the search loop.
  [[gnu::always_inline]] static char* PlainRunEnd(char* start, char* end, bool& closed) {
    char* stop;
    if (end - start > 16) [[likely]] {
      stop = start + json_bytes::FirstStopOrNonAsciiIn16(start);
      if (*stop == '"') [[likely]] {
        closed = true;
        return stop;
      }
      if (stop != start + 16) {
        closed = false;
        return stop;
      }
      stop = json_bytes::FindStringStopOrNonAscii(stop, end);
    } else {
      stop = json_bytes::FindStringStopOrNonAscii(start, end);
    }
    closed = stop != end && *stop == '"';
    return stop;
  }

  // p_ is at the first byte after `start` that ends a plain run (a '\\', a control byte, or the
  // end) or is from 0x80 up; checks and decodes the rest of the string. Without kDecode (a
  // string nobody reads, not in situ) it only checks: the same verdict and the same end, and
  // `out` is not set.
  template <bool kDecode = true>
  [[gnu::noinline]] bool EscapedString(char* start, const char*& out, std::size_t& out_size) {
    constexpr bool kPut = kDecode || in_situ_;  // in situ, the text is decoded all the same
    bool escaped = false;
    char* run = start;  // start of the plain run not yet copied (once escaped)
    for (;; p_ = json_bytes::FindStringStopOrNonAscii(p_, end_)) {
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c >= 0x80) {  // a multibyte character: part of the plain run when well-formed
        const std::size_t n = json_bytes::Utf8SequenceLength(p_, end_);
        if (n == 0) return false;
        p_ += n;
        continue;
      }
      if (c == '"' && !escaped) {  // no escape after all, only multibyte characters
        out = start;
        out_size = static_cast<std::size_t>(p_ - start);
        if constexpr (in_situ_) *p_ = '\0';
        ++p_;
        return true;
      }
      if (c == '"') {
        PutIf<kPut>(run, static_cast<std::size_t>(p_ - run));
        if constexpr (in_situ_) {
          out = start;
          out_size = static_cast<std::size_t>(dst_ - start);
          *dst_ = '\0';
        } else if constexpr (kPut) {
          out = scratch_.data();
          out_size = scratch_.size();
        }
        ++p_;
        return true;
      }
      if (c != '\\') return false;  // a control byte
      // An escape: copy the plain run before it, then decode.
      if (!escaped) {
        escaped = true;
        if constexpr (in_situ_) {
          dst_ = start;
        } else if constexpr (kPut) {
          scratch_.clear();
        }
      }
      PutIf<kPut>(run, static_cast<std::size_t>(p_ - run));
      ++p_;
      if (p_ == end_) return false;
      char e = *p_++;
      char single = 0;
      switch (e) {
        case '"':
          single = '"';
          break;
        case '\\':
          single = '\\';
          break;
        case '/':
          single = '/';
          break;
        case 'b':
          single = '\b';
          break;
        case 'f':
          single = '\f';
          break;
        case 'n':
          single = '\n';
          break;
        case 'r':
          single = '\r';
          break;
        case 't':
          single = '\t';
          break;
        case 'u': {
          unsigned cp;
          if (!Hex4(cp)) return false;
          if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return false;  // left to RapidJSON
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          char utf8[4];
          std::size_t n;
          if (cp < 0x80) {
            utf8[0] = static_cast<char>(cp);
            n = 1;
          } else if (cp < 0x800) {
            utf8[0] = static_cast<char>(0xC0 | (cp >> 6));
            utf8[1] = static_cast<char>(0x80 | (cp & 0x3F));
            n = 2;
          } else if (cp < 0x10000) {
            utf8[0] = static_cast<char>(0xE0 | (cp >> 12));
            utf8[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            utf8[2] = static_cast<char>(0x80 | (cp & 0x3F));
            n = 3;
          } else {
            utf8[0] = static_cast<char>(0xF0 | (cp >> 18));
            utf8[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            utf8[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            utf8[3] = static_cast<char>(0x80 | (cp & 0x3F));
            n = 4;
          }
          PutIf<kPut>(utf8, n);
          run = p_;
          continue;
        }
        default:
          return false;
      }
      PutIf<kPut>(&single, 1);
      run = p_;
    }
  }

  bool Number(bool emit = true) {
    char* q = p_;
    // Most numbers of a hook request are one digit (a Bundle's total, a dose, a score) followed
    // by what cannot go on a number: told at once, with the event the general path gives
    // (Int64). A digit that ends the text, or is followed by a digit, '.', 'e' or 'E', goes on
    // below.
    if (end_ - q >= 2 && IsDigit(q[0]) && !IsDigit(q[1]) && q[1] != '.' && (q[1] | 0x20) != 'e') {
      p_ = q + 1;
      return !emit || h_.Int64(q[0] - '0');
    }
    const bool negative = *q == '-';
    if (negative) ++q;
    if (q == end_ || !IsDigit(*q)) return false;
    uint64_t value = 0;
    int digits = 0;
    bool overflow = false;
    if (*q == '0') {
      ++q;
      digits = 1;
    } else {
      while (q != end_ && IsDigit(*q)) {
        const uint64_t d = static_cast<uint64_t>(*q - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - d) / 10) overflow = true;
        if (!overflow) value = value * 10 + d;
        ++digits;
        ++q;
      }
    }
    bool is_double = overflow;
    long exponent = 0;
    if (q != end_ && *q == '.') {
      ++q;
      if (q == end_ || !IsDigit(*q)) return false;
      while (q != end_ && IsDigit(*q)) ++q;
      is_double = true;
    }
    if (q != end_ && (*q == 'e' || *q == 'E')) {
      ++q;
      bool minus = false;
      if (q != end_ && (*q == '+' || *q == '-')) minus = *q++ == '-';
      if (q == end_ || !IsDigit(*q)) return false;
      while (q != end_ && IsDigit(*q)) {
        if (exponent < 100000) exponent = exponent * 10 + (*q - '0');
        ++q;
      }
      if (minus) exponent = -exponent;
      is_double = true;
    }
    // Anything near the range of a double is left to RapidJSON (it refuses what overflows).
    if (digits > 300 || exponent > 300 || exponent < -300 || digits + exponent > 300) return false;
    char* const start = p_;
    p_ = q;
    if (!emit) return true;  // within the bounds above RapidJSON accepts it
    if (is_double || (negative && value > (uint64_t{1} << 63))) return EmitDouble(start, q);
    if (negative) {
      constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
      return h_.Int64(value == kMinMagnitude ? std::numeric_limits<int64_t>::min()
                                             : -static_cast<int64_t>(value));
    }
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return h_.Uint64(value);
    return h_.Int64(static_cast<int64_t>(value));
  }

  // RapidJSON's own conversion of the number token [start, stop), so the value is bit for bit
  // the one its reader gives (its default precision differs from correct rounding in the last
  // place for long mantissas). Doubles are few in a CDS Hooks request: out of line, so that the
  // reader's stream is not set up where the event loop reaches every value (GCC had hoisted a
  // part of it there).
  [[gnu::noinline]] bool EmitDouble(const char* start, const char* stop) {
    DoubleCapture capture;
    rapidjson::MemoryStream token(start, static_cast<std::size_t>(stop - start));
    rapidjson::Reader reader;
    if (reader.Parse<rapidjson::kParseStopWhenDoneFlag>(token, capture).IsError() || !capture.got) {
      return false;
    }
    return h_.Double(capture.value);
  }

  char* p_;
  char* const end_;
  Handler& h_;
  static constexpr bool in_situ_ = kInSitu;
  const int max_depth_;
  char* dst_ = nullptr;
  std::string scratch_;
};

// Scans `text` into `handler`; false when the text must be left to RapidJSON (see the file
// comment), which includes any text that is not UTF-8 without NUL. In situ, `text` is modified.
template <typename Handler>
bool Scan(char* text, std::size_t size, Handler& handler, bool in_situ, int max_depth) {
  if (in_situ) return Scanner<Handler, true>(text, size, handler, max_depth).Run();
  return Scanner<Handler, false>(text, size, handler, max_depth).Run();
}

}  // namespace cephalgia::json_scan
