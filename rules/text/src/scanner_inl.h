// File: scanner_inl.h (private; included by engine.h)
//
// The one pass over the bytes of a text. Words are runs of ASCII letters and digits and of
// non-ASCII UTF-8 characters (kept byte for byte), with an apostrophe between letters
// ("don't") and a period or comma between digits ("38.5") kept inside. A hyphen between two
// words is a plain word break; other punctuation is a break that phrases do not cross.
//
// Sentences end at '.', '!' or '?' followed by a blank, at ';', at a blank line, at a line
// break unless the next line goes on in lower case (a wrapped line), and after an answered
// checklist item; the sink is told which (Break). A period does not end a
// sentence after a listed abbreviation ("Dr.", "e.g."), after a single capital ("H. pylori"), or
// inside a number ("38.5"). A '?' before a word or after a blank is the "uncertain" marker
// ("?SAH"), a word of its own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace cephalgia::text::detail {
namespace scan_internal {

enum : std::uint8_t { kClassLower = 1, kClassUpper = 2, kClassDigit = 4 };
struct ByteTables {
  std::uint8_t cls[256] = {};
  char lower[256] = {};
  constexpr ByteTables() {
    for (int c = 0; c < 256; ++c) {
      lower[c] = static_cast<char>(c);
      if (c >= 'a' && c <= 'z') cls[c] = kClassLower;
      if (c >= '0' && c <= '9') cls[c] = kClassDigit;
      if (c >= 'A' && c <= 'Z') {
        cls[c] = kClassUpper;
        lower[c] = static_cast<char>(c + 32);
      }
    }
  }
};
inline constexpr ByteTables kBytes{};

// How far back on its line a ')' after a number looks for the '(' of an aside ("(age 8)").
inline constexpr std::size_t kMaxAsideBytes = 40;

// Words of one item of a question's list ("Any fever, double vision, difficulty swallowing?").
inline constexpr std::size_t kMaxAskedItemWords = 3;

inline bool IsAsciiAlnum(unsigned char c) { return kBytes.cls[c] != 0; }
inline bool IsBlank(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
inline bool IsBlankOrNewline(unsigned char c) { return IsBlank(c) || c == '\n'; }

// Length of a UTF-8 sequence at s[i] that separates words: U+0080-U+00BF (no-break space, °,
// ±, «, ...) and the General Punctuation block U+2000-U+207F (dashes, quotes, ellipsis,
// spaces). 0 when s[i] does not start one.
inline std::size_t SeparatorLength(const unsigned char* s, std::size_t i, std::size_t n) {
  unsigned char c = s[i];
  if (c == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0xBF) return 2;
  if (c == 0xE2 && i + 2 < n && (s[i + 1] == 0x80 || s[i + 1] == 0x81)) return 3;
  return 0;
}
inline bool IsNoBreakSpace(const unsigned char* s, std::size_t i, std::size_t n) {
  return s[i] == 0xC2 && i + 1 < n && s[i + 1] == 0xA0;
}
inline bool IsRightSingleQuote(const unsigned char* s, std::size_t i, std::size_t n) {
  return s[i] == 0xE2 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] == 0x99;
}
// U+2018-U+201F: curly single and double quotation marks.
inline bool IsCurlyQuote(const unsigned char* s, std::size_t i, std::size_t n) {
  return s[i] == 0xE2 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] >= 0x98 && s[i + 2] <= 0x9F;
}
// Bytes of the UTF-8 character whose lead byte is c (1 for ASCII or a stray byte).
inline std::size_t CharLength(unsigned char c) {
  if (c >= 0xF0 && c <= 0xF7) return 4;
  if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}
inline bool IsWordStart(const unsigned char* s, std::size_t i, std::size_t n) {
  unsigned char c = s[i];
  if (IsAsciiAlnum(c)) return true;
  return c >= 0x80 && SeparatorLength(s, i, n) == 0;
}
// The byte just before position i ends a word (for "-ve" after a word being a hyphen).
inline bool EndsWord(const unsigned char* s, std::size_t i) {
  if (i == 0) return false;
  unsigned char c = s[i - 1];
  return IsAsciiAlnum(c) || c >= 0x80;
}

inline bool EqualsNoCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (kBytes.lower[static_cast<unsigned char>(a[k])] != lower[k]) return false;
  }
  return true;
}

}  // namespace scan_internal

template <typename Sink>
void Scan(std::string_view text, const RulesData& rules, Sink& sink) {
  using namespace scan_internal;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  char buf[kMaxWordBytes + 16];
  std::uint16_t pending = kSegmentStart;
  bool words_in_sentence = false;
  std::size_t i = 0;
  // Words since the sentence start or the last comma, and whether an item separator (':', '?',
  // '=', " - ") came among them: a checklist answer must not reach back past them.
  std::size_t segment_words = 0;
  bool segment_has_separator = false;
  // The segment opens with "any", as a question's list does ("Any fever, rash, stiff neck? No"):
  // its first item is two words long and still one of the list the answer covers.
  bool segment_asks = false;
  // An earlier segment of the sentence opened with "any": the segments after it are items of
  // the same question's list ("Any dizziness, double vision, difficulty swallowing? No").
  bool list_asks = false;
  // The segment so far is the label "Q" or "Question" of a question-and-answer form: its colon
  // opens the question ("Q: Any weakness, numbness or trouble speaking? A: no"), it is no item.
  bool segment_is_question_label = false;

  // An answered item ends a ConText sentence at once; a stronger end right after it (the line
  // break after "Fever? No") is still reported, with no words, so the statement ends too.
  bool clause_open = false;
  auto end_sentence = [&](Break how) {
    if (words_in_sentence || how == Break::kBlankLine || (clause_open && how != Break::kClause)) {
      sink.OnSentenceEnd(how);
      clause_open = how == Break::kClause;
    }
    words_in_sentence = false;
    pending = kSegmentStart;
    segment_words = 0;
    segment_has_separator = false;
    segment_asks = false;
    list_asks = false;
  };

  // A word the scanner writes itself (an answer mark read as "no", a checklist answer).
  auto emit_word = [&](std::size_t begin, std::size_t end, std::string_view word) {
    WordEvent event;
    event.begin = static_cast<std::uint32_t>(begin);
    event.end = static_cast<std::uint32_t>(end);
    std::memcpy(buf, word.data(), word.size());
    std::memset(buf + word.size(), 0, 8);
    event.lower = std::string_view(buf, word.size());
    event.flags = static_cast<std::uint16_t>(pending | kPunctBefore);
    pending = 0;
    sink.OnWord(event);
    words_in_sentence = true;
  };
  auto emit_negative_answer = [&](std::size_t begin, std::size_t end) {
    emit_word(begin, end, kNegativeAnswerWord);
  };
  // Whether this line's answer marks come before their items; unknown until its first mark.
  enum { kMarksUnknown, kMarksBefore, kMarksAfter };
  int line_marks_before = kMarksUnknown;

  // A checklist item answered "no" ("Fever: no.", "Neck stiffness? Denies", "Rash - none",
  // "Fever: No Neck stiffness: No"): after the separator at s[sep], a word of
  // rules.negative_answers that closes its clause (the end, a line break, '.', ';', ',', ')',
  // or a blank and the capital of the next item). Returns the answer's [begin, end), or an
  // empty range.
  auto negative_answer_after = [&](std::size_t sep) -> std::pair<std::size_t, std::size_t> {
    if (rules.negative_answers.empty()) return {0, 0};
    std::size_t j = sep + 1;
    while (j < n && IsBlank(s[j])) ++j;
    if (s[sep] == '?') {
      // "'Any recent injury?' No.": the question may be quoted.
      if (j == sep + 1) {
        std::size_t q = j;
        while (q < n && (s[q] == '\'' || s[q] == '"' || IsCurlyQuote(s, q, n)))
          q += CharLength(s[q]);
        if (q > j) {
          j = q;
          while (j < n && IsBlank(s[j])) ++j;
        }
      }
      // "Headache? - no.": a dash may stand between the question and its answer.
      if (j + 1 < n && s[j] == '-' && IsBlank(s[j + 1])) {
        j += 2;
        while (j < n && IsBlank(s[j])) ++j;
      }
      // "Q: Fever? A: No.": the reply is written after "A:" (or "Answer:"), maybe on the next
      // line.
      std::size_t k = j;
      while (k < n && IsBlankOrNewline(s[k])) ++k;
      const bool short_form = k + 1 < n && (s[k] == 'A' || s[k] == 'a') && s[k + 1] == ':';
      const bool long_form = k + 6 < n &&
                             EqualsNoCase(std::string_view(text.data() + k, 6), "answer") &&
                             s[k + 6] == ':';
      if (short_form || long_form) {
        j = k + (short_form ? 2 : 7);
        while (j < n && IsBlank(s[j])) ++j;
      }
    }
    const std::size_t begin = j;
    char word[16];
    std::size_t len = 0;
    while (j < n && (kBytes.cls[s[j]] & (kClassLower | kClassUpper)) != 0) {
      if (len == sizeof(word)) return {0, 0};
      word[len++] = kBytes.lower[s[j]];
      ++j;
    }
    if (len == 0 && j < n && s[j] == '0' && !(j + 1 < n && IsAsciiAlnum(s[j + 1])) &&
        !(j + 2 < n && (s[j + 1] == '.' || s[j + 1] == ',') && IsAsciiAlnum(s[j + 2]))) {
      std::memcpy(word, "zero", 4);  // "HA: 0"
      len = 4;
      ++j;
    }
    if (len == 1 && word[0] == 'n' && j + 1 < n && s[j] == '/' && (s[j + 1] | 0x20) == 'a' &&
        !(j + 2 < n && IsAsciiAlnum(s[j + 2]))) {
      word[len++] = 'a';  // "N/A": "na"
      j += 2;
    }
    if (len == 0 || (j < n && (IsAsciiAlnum(s[j]) || s[j] >= 0x80))) return {0, 0};
    if (len == 2 && word[0] == 'n' && word[1] == 'o') {
      // "Dissection: no signs.": "no" and a word that only says what is absent.
      std::size_t k = j;
      while (k < n && IsBlank(s[k])) ++k;
      std::size_t e = k;
      while (e < n && (kBytes.cls[s[e]] & (kClassLower | kClassUpper)) != 0) ++e;
      const std::string_view next(text.data() + k, e - k);
      for (std::string_view filler : {"signs", "evidence", "features", "concerns", "symptoms"}) {
        if (k > j && EqualsNoCase(next, filler)) j = e;
      }
    }
    const std::size_t end = j;
    bool blank = false;
    while (j < n && IsBlank(s[j])) {
      ++j;
      blank = true;
    }
    // The next item starts with a capital and has its own separator within four words
    // ("Fever: No Neck stiffness: No"); "SKIN: No RASHES." goes on, so its "No" is not an answer.
    auto next_item_follows = [&](std::size_t k) {
      if (!(k < n && s[k] >= 'A' && s[k] <= 'Z')) return false;
      for (std::size_t words = 0; k < n && words < 4;) {
        while (k < n && (IsAsciiAlnum(s[k]) || s[k] == '\'' || s[k] == '-')) ++k;
        ++words;
        while (k < n && IsBlank(s[k])) ++k;
        if (k < n && (s[k] == ':' || s[k] == '?')) return true;
        if (!(k < n && IsAsciiAlnum(s[k]))) return false;
      }
      return false;
    };
    // "Postnatal? No - youngest child is 6", "SAH (no - gradual onset)": a dash after the
    // answer starts its explanation.
    const bool dash_follows =
        blank && j + 1 < n &&
        ((s[j] == '-' && IsBlank(s[j + 1])) ||
         (s[j] == 0xE2 && j + 3 < n && s[j + 1] == 0x80 && (s[j + 2] == 0x93 || s[j + 2] == 0x94)));
    const bool closes = j == n || s[j] == '\n' || s[j] == '.' || s[j] == ';' || s[j] == ',' ||
                        s[j] == ')' || s[j] == '(' || s[j] == '|' || dash_follows ||
                        (blank && s[j] == '/') ||  // "Fever / rash? No / No"
                        (blank && next_item_follows(j));
    if (!closes) return {0, 0};
    const std::string_view w(word, len);
    for (const std::string& answer : rules.negative_answers) {
      if (answer == w) return {begin, end};
    }
    return {0, 0};
  };
  // Bytes of the item separator at s[at] (3 for an en or em dash).
  auto separator_length = [&](std::size_t at) -> std::size_t { return s[at] == 0xE2 ? 3 : 1; };
  // The character at s[at] separates a checklist item from its answer.
  auto is_item_separator = [&](std::size_t at) {
    const unsigned char c = s[at];
    if (c == ':' || c == '=') return true;
    // "SAH (no - gradual onset)": an answer in parentheses after its item (only an answer
    // that closes makes it one; "Headache (no aura)" is a plain aside).
    if (c == '(') return at >= 2 && IsBlank(s[at - 1]) && EndsWord(s, at - 1);
    if (c == '?')  // after a word or a parenthesis ("Sudden onset (peak < 1 min)? No")
      return (EndsWord(s, at) || (at > 0 && s[at - 1] == ')')) &&
             !(at + 1 < n && IsWordStart(s, at + 1, n));
    if (c == 0xE2 && at + 3 < n && s[at + 1] == 0x80 && (s[at + 2] == 0x93 || s[at + 2] == 0x94))
      return at > 0 && IsBlank(s[at - 1]) && IsBlank(s[at + 3]);  // " – ", " — "
    // "| Fever | N |": a table's cell after its item.
    if (c == '|') {
      std::size_t p = at;
      while (p > 0 && IsBlank(s[p - 1])) --p;
      return p > 0 && (IsAsciiAlnum(s[p - 1]) || s[p - 1] == ')');
    }
    return c == '-' && at > 0 && IsBlank(s[at - 1]) && at + 1 < n && IsBlank(s[at + 1]);
  };
  // Answer marks of templated notes: "(-)" and "(+)", check boxes "[ ]" and "[x]", and the
  // symbols ☐ ☑ ☒ ✓ ✔ ✗ ✘. Sets *len; 0 none, 1 negative, 2 positive.
  auto mark_at = [&](std::size_t at, std::size_t* len) -> int {
    if (rules.negative_answers.empty()) return 0;
    const unsigned char c = s[at];
    // "Fever -" / "Headache +" closing their line: the sign column of a "(+/-)" review of
    // systems. Only after a blank and a word's last letter, and only at the line's end ("Fever -
    // none", "Temp 38.9 -" and "BP 120/80 - stable" are not answers).
    if ((c == '-' || c == '+') && at >= 2 && IsBlank(s[at - 1])) {
      std::size_t p = at - 1;
      while (p > 0 && IsBlank(s[p - 1])) --p;
      std::size_t q = at + 1;
      while (q < n && IsBlank(s[q])) ++q;
      const bool after_letter = p > 0 && (kBytes.cls[s[p - 1]] & (kClassLower | kClassUpper)) != 0;
      if ((after_letter || (p > 0 && s[p - 1] == ')')) && (q == n || s[q] == '\n')) {
        *len = 1;
        return c == '-' ? 1 : 2;
      }
    }
    if (c == '(' && at + 2 < n && s[at + 2] == ')' && (s[at + 1] == '-' || s[at + 1] == '+')) {
      *len = 3;
      return s[at + 1] == '-' ? 1 : 2;
    }
    if (c == '[') {
      std::size_t j = at + 1;
      while (j < n && j - at < 4 && s[j] == ' ') ++j;
      if (j < n && s[j] == ']') {
        *len = j + 1 - at;
        return 1;
      }
      if (j + 1 < n && (s[j] == 'x' || s[j] == 'X') && s[j + 1] == ']') {
        *len = j + 2 - at;
        return 2;
      }
      if (j + 3 < n && s[j] == 0xE2 && s[j + 1] == 0x9C && (s[j + 2] == 0x93 || s[j + 2] == 0x94) &&
          s[j + 3] == ']') {
        *len = j + 4 - at;
        return 2;
      }
      return 0;
    }
    if (c == 0xE2 && at + 2 < n) {
      const unsigned char b1 = s[at + 1], b2 = s[at + 2];
      *len = 3;
      if (b1 == 0x98 && b2 == 0x90) return 1;                  // ☐
      if (b1 == 0x98 && (b2 == 0x91 || b2 == 0x92)) return 2;  // ☑ ☒
      if (b1 == 0x9C && (b2 == 0x97 || b2 == 0x98)) return 1;  // ✗ ✘
      if (b1 == 0x9C && (b2 == 0x93 || b2 == 0x94)) return 2;  // ✓ ✔
    }
    return 0;
  };
  // After a comma at s[at - 1]: a short list of items answered "no" ("..., fever: no",
  // "..., fever, chills: none")? Segments of at most four words, ten in all.
  auto negative_item_ahead = [&](std::size_t at) {
    std::size_t j = at, words = 0, segment = 0;
    while (j < n && j - at < 160) {
      const unsigned char c = s[j];
      if (IsBlank(c)) {
        ++j;
        continue;
      }
      if (IsAsciiAlnum(c) || c >= 0x80) {
        while (j < n && (IsAsciiAlnum(s[j]) || s[j] >= 0x80 || s[j] == '\'' ||
                         (s[j] == '-' && j + 1 < n && IsAsciiAlnum(s[j + 1])) || s[j] == '/'))
          ++j;
        if (++words > 10 || ++segment > 4) return false;
        continue;
      }
      if (c == ',') {
        segment = 0;
        ++j;
        continue;
      }
      if (std::size_t len = 0; words > 0 && mark_at(j, &len) == 1) return true;
      if (words > 0 && is_item_separator(j))
        return negative_answer_after(j + separator_length(j) - 1).second != 0;
      return false;
    }
    return false;
  };

  // A period at s[i] ends a sentence?
  auto period_ends_sentence = [&](std::size_t at) {
    std::size_t j = at + 1;
    while (j < n && (s[j] == ')' || s[j] == '"' || s[j] == ']' || s[j] == '\'')) ++j;
    if (j < n && !IsBlankOrNewline(s[j])) return false;
    std::size_t b = at;
    while (b > 0 && at - b < 12 && (IsAsciiAlnum(s[b - 1]) || s[b - 1] == '.')) --b;
    if (b == at) return true;
    if (at - b == 1 && s[b] >= 'A' && s[b] <= 'Z') return false;  // an initial
    char word[16];
    std::size_t len = 0;
    for (std::size_t k = b; k < at && len < sizeof(word); ++k) {
      unsigned char c = s[k];
      word[len++] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    std::string_view w(word, len);
    for (const std::string& abbreviation : rules.no_split_abbreviations) {
      if (abbreviation == w) return false;
    }
    return true;
  };

  auto scan_word = [&](char sign) __attribute__((always_inline)) {
    const std::size_t begin = i - (sign != 0 ? 1 : 0);
    std::size_t len = 0;
    if (sign != 0) buf[len++] = sign;
    bool has_upper = false, has_lower = false, all_digits = true, overflow = false;
    const bool capitalized = s[i] >= 'A' && s[i] <= 'Z';
    auto put = [&](char c) {
      if (len < kMaxWordBytes) {
        buf[len++] = c;
      } else {
        overflow = true;
      }
    };
    std::uint8_t classes = 0;
    while (i < n) {
      unsigned char c = s[i];
      // The common case first: a run of ASCII letters and digits, lower-cased into buf as it
      // is read, up to the room left (len never exceeds kMaxWordBytes here: the loop stops at
      // `limit`); only a run longer than that room is read on for its classes alone.
      if (std::uint8_t cls = kBytes.cls[c]; cls != 0) {
        std::size_t j = i;
        if (len < kMaxWordBytes) {
          const std::size_t limit = std::min(n, i + (kMaxWordBytes - len));
          do {
            classes |= cls;
            buf[len++] = static_cast<char>(kBytes.lower[s[j]]);
            ++j;
          } while (j < limit && (cls = kBytes.cls[s[j]]) != 0);
          if (j == limit && j < n) cls = kBytes.cls[s[j]];  // the run may go on past the room
        }
        if (j < n && cls != 0 && len == kMaxWordBytes) {
          overflow = true;
          do {
            classes |= cls;
            ++j;
          } while (j < n && (cls = kBytes.cls[s[j]]) != 0);
        }
        i = j;
        has_upper = has_upper || (classes & kClassUpper);
        has_lower = has_lower || (classes & kClassLower);
        all_digits = all_digits && !(classes & (kClassUpper | kClassLower));
        continue;
      }
      if (c >= 0x80) {
        if (IsRightSingleQuote(s, i, n) && i + 3 < n && IsAsciiAlnum(s[i + 3])) {
          put('\'');
          all_digits = false;
          i += 3;
          continue;
        }
        if (SeparatorLength(s, i, n) != 0) break;
        std::size_t cl = CharLength(c);
        if (i + cl > n) cl = n - i;
        for (std::size_t k = 0; k < cl; ++k) put(static_cast<char>(s[i + k]));
        all_digits = false;
        i += cl;
        continue;
      }
      if (c == '\'' && i + 1 < n && IsAsciiAlnum(s[i + 1])) {
        put('\'');
        all_digits = false;
        ++i;
        continue;
      }
      // classes has kClassDigit once a digit was read (the word's digits so far).
      if ((c == '.' || c == ',') && all_digits && (classes & kClassDigit) && i + 1 < n &&
          s[i + 1] >= '0' && s[i + 1] <= '9') {
        put(static_cast<char>(c));
        ++i;
        continue;
      }
      break;
    }
    // "s/p", "w/o", "h/o", "w/", "pain/stiffness": one word when the lexicon lists it.
    if (i < n && s[i] == '/' && len <= 12 && !overflow) {
      std::size_t j = i + 1, k = j;
      while (k < n && k - j < 12 && IsAsciiAlnum(s[k])) ++k;
      if (k == n || !IsAsciiAlnum(s[k])) {
        char candidate[kMaxWordBytes + 16];
        std::size_t cl = len;
        for (std::size_t m = 0; m < len; ++m) candidate[m] = buf[m];
        candidate[cl++] = '/';
        for (std::size_t m = j; m < k; ++m) {
          unsigned char c = s[m];
          candidate[cl++] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (k > j && sink.IsCompound(std::string_view(candidate, cl))) {
          for (std::size_t m = 0; m < cl; ++m) buf[m] = candidate[m];
          len = cl;
          i = k;
        } else if (sink.IsCompound(std::string_view(candidate, len + 1))) {
          buf[len++] = '/';
          i = j;
        }
      }
    }
    if (len >= 3 && buf[len - 2] == '\'' && buf[len - 1] == 's') len -= 2;  // possessive
    std::uint16_t flags = pending;
    pending = 0;
    if (flags & kPunctBefore) {
      std::size_t j = begin;
      while (j > 0 && IsBlank(s[j - 1])) --j;
      if (j < begin && j >= 2 && s[j - 1] == ':' && IsAsciiAlnum(s[j - 2]))
        flags |= kFieldColonBefore;
      if (j >= 2 && s[j - 1] == ',' && IsAsciiAlnum(s[j - 2])) flags |= kCommaBefore;
      if (j >= 2 && (s[j - 1] == '/' || s[j - 1] == '&')) {
        std::size_t k = j - 1;
        while (k > 0 && IsBlank(s[k - 1])) --k;
        if (k > 0 && IsAsciiAlnum(s[k - 1])) flags |= kJoinBefore;
      }
    }
    if (has_upper && !has_lower) flags |= kUpper;
    if (capitalized) flags |= kCapitalized;
    if (sign != 0) flags |= kSigned;
    if (!all_digits && sign == 0 && len >= 3) {
      std::size_t digits = 0;
      while (digits < len && digits < 4 && buf[digits] >= '0' && buf[digits] <= '9') ++digits;
      const std::string_view unit(buf + digits, len - digits);
      if (digits >= 1 && digits <= 3 && unit == "yo") {
        flags |= kAge;
      }
    }
    if (all_digits && sign == 0 && len == 4 &&
        ((buf[0] == '1' && buf[1] == '9') || (buf[0] == '2' && buf[1] == '0'))) {
      flags |= kYear;
    }
    {
      std::size_t j = i;
      while (j < n && IsBlank(s[j])) ++j;
      if (j < n && s[j] == ':' &&
          !(all_digits && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9')) {
        flags |= kColonAfter;
      }
      // "Addendum (SpR):", "Family history (paternal):": a short aside in parentheses between
      // a heading and its colon leaves it the heading.
      if (j < n && s[j] == '(' && !all_digits) {
        std::size_t k = j + 1;
        while (k < n && k - j <= 32 && s[k] != ')' && s[k] != '(' && s[k] != '\n' && s[k] != ':')
          ++k;
        if (k < n && s[k] == ')') {
          ++k;
          while (k < n && IsBlank(s[k])) ++k;
          if (k < n && s[k] == ':') flags |= kColonAfter;
        }
      }
      if (j == n || s[j] == '\n') flags |= kLineEndAfter;
    }
    WordEvent event;
    event.begin = static_cast<std::uint32_t>(begin);
    event.end = static_cast<std::uint32_t>(i);
    // An over-long word keeps a key no vocabulary holds (longer than any entry).
    if (overflow) {
      buf[kMaxWordBytes] = '~';
      len = kMaxWordBytes + 1;
    }
    std::memset(buf + len, 0, 8);  // the padding Vocabulary::FindPadded reads
    event.lower = std::string_view(buf, len);
    event.flags = flags;
    sink.OnWord(event);
    words_in_sentence = true;
    if (segment_words == 0) {
      segment_asks = event.lower == "any";
      segment_is_question_label = event.lower == "q" || event.lower == "question";
    }
    ++segment_words;
  };

  // "Fever N, Chills N": a capital N straight after its item, with no separator, answers it
  // (the yes/no column of a template); it closes its item like any other answer. A single N
  // anywhere else ("N/V", "N = 12", "grade N") is a word.
  // The byte after a bare N closes its item: the end, a line break, ',', ';' or a final '.'.
  auto bare_no_closes = [&](std::size_t j) {
    if (j == n || s[j] == '\n' || s[j] == ',' || s[j] == ';' ||
        (s[j] == '.' && (j + 1 == n || IsBlankOrNewline(s[j + 1])))) {
      return true;
    }
    // "trauma N | fever N | weight loss N": a screen's cells, one bar after each answer.
    while (j < n && IsBlank(s[j])) ++j;
    return j < n && s[j] == '|';
  };
  // The answer at s[at] comes straight after a word of its sentence, past blanks only.
  auto follows_item = [&](std::size_t at) {
    if (!words_in_sentence || at < 2 || !IsBlank(s[at - 1])) return false;
    std::size_t p = at - 1;
    while (p > 0 && IsBlank(s[p - 1])) --p;
    return p != 0 && IsAsciiAlnum(s[p - 1]);
  };
  auto bare_no_at = [&](std::size_t at) {
    return s[at] == 'N' && follows_item(at) && bare_no_closes(at + 1);
  };

  // "Fever no. Weight loss no.": a review of systems that writes "no" straight after its item,
  // with nothing after it but the item's end, answers that item the same way.
  auto bare_lower_no_at = [&](std::size_t at) {
    if (at + 1 >= n || (s[at + 1] != 'o' && s[at + 1] != 'O')) return false;
    return follows_item(at) && bare_no_closes(at + 2);
  };

  // "Pregnant N/A (male)": a bare "N/A" after its item answers it the same way (not applicable,
  // so not present); it may be followed by a short aside in parentheses.
  auto bare_not_applicable_at = [&](std::size_t at) {
    if (at + 2 >= n || s[at + 1] != '/' || (s[at + 2] != 'A' && s[at + 2] != 'a')) return false;
    if (!follows_item(at)) return false;
    std::size_t j = at + 3;
    if (j < n && (IsAsciiAlnum(s[j]) || s[j] == '/')) return false;
    while (j < n && IsBlank(s[j])) ++j;
    return bare_no_closes(j) || (j < n && s[j] == '(');
  };

  // A yes answer ("Y", "Yes", "YES") closing the cell before the bar at s[at], after its item.
  auto yes_answer_before = [&](std::size_t at) {
    std::size_t end = at;
    while (end > 0 && IsBlank(s[end - 1])) --end;
    std::size_t begin = end;
    while (begin > 0 && IsAsciiAlnum(s[begin - 1])) --begin;
    if (begin == end || begin == 0 || !IsBlank(s[begin - 1])) return false;
    const std::string_view word(reinterpret_cast<const char*>(s) + begin, end - begin);
    return word == "Y" || EqualsNoCase(word, "yes");
  };

  // After a comma at s[at - 1]: up to four words and a bare N answering them ("Headache, neck
  // stiffness N"). That N answers only its own item, never a word before the comma.
  auto bare_no_item_ahead = [&](std::size_t at) {
    std::size_t j = at, words = 0;
    while (j < n && words <= 4) {
      while (j < n && IsBlank(s[j])) ++j;
      if (j >= n || !IsAsciiAlnum(s[j])) return false;
      const std::size_t word = j;
      while (j < n && (IsAsciiAlnum(s[j]) || s[j] == '\'' || s[j] == '-')) ++j;
      if (j == word + 1 && s[word] == 'N' && words > 0 && bare_no_closes(j)) return true;
      ++words;
    }
    return false;
  };

  while (i < n) {
    if (sink.stopped()) return;
    const unsigned char c = s[i];
    if (c == 'N' && bare_no_at(i)) {
      emit_negative_answer(i, i + 1);
      ++i;
      end_sentence(Break::kClause);
      continue;
    }
    if ((c == 'n' || c == 'N') && bare_lower_no_at(i)) {
      emit_negative_answer(i, i + 2);
      i += 2;
      end_sentence(Break::kClause);
      continue;
    }
    if (c == 'N' && bare_not_applicable_at(i)) {
      emit_negative_answer(i, i + 3);
      i += 3;
      end_sentence(Break::kClause);
      continue;
    }
    if (IsAsciiAlnum(c)) {
      scan_word(0);
      continue;
    }
    if (IsBlank(c)) {
      ++i;
      continue;
    }
    if (c == '\n') {
      line_marks_before = kMarksUnknown;
      std::size_t j = i;
      int newlines = 0;
      while (j < n && IsBlankOrNewline(s[j])) {
        if (s[j] == '\n') ++newlines;
        ++j;
      }
      if (newlines >= 2) {
        end_sentence(Break::kBlankLine);
      } else {
        std::size_t p = i;
        while (p > 0 && IsBlank(s[p - 1])) --p;
        bool wrapped = (j < n && s[j] >= 'a' && s[j] <= 'z') || (p > 0 && s[p - 1] == ',');
        if (!wrapped) end_sentence(Break::kSentence);
      }
      i = j;
      continue;
    }
    if (std::size_t mark_len = 0; const int mark = mark_at(i, &mark_len)) {
      // A mark answers the item after it when the line's first mark came before any word or
      // right after a colon or comma ("ROS: (+) headache, (-) fever", "☐ Fever"), else the item
      // before it ("Fever (-)", "headache ☐ fever ☐"). "[x] No" and "[ ] Yes" answer no.
      std::size_t j = i + mark_len;
      while (j < n && IsBlank(s[j])) ++j;
      std::size_t word_end = j;
      while (word_end < n && (kBytes.cls[s[word_end]] & (kClassLower | kClassUpper)) != 0)
        ++word_end;
      const std::string_view next(text.data() + j, word_end - j);
      const bool next_yes = EqualsNoCase(next, "yes") || EqualsNoCase(next, "y");
      const bool next_no =
          !next_yes && negative_answer_after(i + mark_len - 1).second == word_end && word_end > j;
      if (next_yes || next_no) {
        const bool negative = (mark == 1) == next_yes;
        if (negative && words_in_sentence) emit_negative_answer(i, word_end);
        i = word_end;
        end_sentence(Break::kClause);
        continue;
      }
      if (line_marks_before == kMarksUnknown) {
        std::size_t p = i;
        while (p > 0 && IsBlank(s[p - 1])) --p;
        // After a colon or comma only when an item follows on the line: "Fever: (-)" answers
        // fever, as "Fever (-)" does.
        std::size_t q = i + mark_len;
        while (q < n && IsBlank(s[q])) ++q;
        const bool item_follows = q < n && IsWordStart(s, q, n);
        line_marks_before =
            (p == 0 || s[p - 1] == '\n' || ((s[p - 1] == ':' || s[p - 1] == ',') && item_follows))
                ? kMarksBefore
                : kMarksAfter;
      }
      if (line_marks_before == kMarksBefore) {
        end_sentence(Break::kClause);
        if (mark == 1) emit_word(i, i + mark_len, "no");
      } else {
        if (mark == 1 && words_in_sentence) emit_negative_answer(i, i + mark_len);
        end_sentence(Break::kClause);
      }
      i += mark_len;
      continue;
    }
    // "fever Y | neck stiffness N": a cell answered yes ends at its bar, so that the next
    // cell's answer does not reach back into it.
    if (c == '|' && words_in_sentence && yes_answer_before(i)) {
      end_sentence(Break::kClause);
      ++i;
      continue;
    }
    if (words_in_sentence && is_item_separator(i)) {
      // "Fever: no.": the item is negated by the word kNegativeAnswerWord in place of the
      // answer, and the clause ends with it.
      if (auto [begin, end] = negative_answer_after(i + separator_length(i) - 1); end != 0) {
        emit_negative_answer(begin, end);
        i = end;
        end_sentence(Break::kClause);
        continue;
      }
      if (c == ':' && segment_words == 1 && segment_is_question_label) {
        segment_words = 0;
        segment_asks = false;
        segment_is_question_label = false;
      } else {
        segment_has_separator = true;
      }
    }
    if (c >= 0x80) {
      std::size_t sl = SeparatorLength(s, i, n);
      if (sl == 0) {
        scan_word(0);
        continue;
      }
      // Quotation marks do not break a phrase: notes quote the patient's words inside one
      // ("says his head is 'pounding'"), and the quoted word belongs to the phrase around it.
      if (!IsNoBreakSpace(s, i, n) && !IsCurlyQuote(s, i, n)) pending |= kPunctBefore;
      i += sl;
      continue;
    }
    if (c == ',') {
      // "Headache for a week, fever: no": the answered item is a clause of its own, so that
      // its "no" reaches neither the headache nor an earlier item ("Neck stiffness: yes, ...").
      // A clause of one word may head a list answered together ("Fever, chills: none").
      const bool one_item = segment_words <= 1 || (segment_words == 2 && segment_asks) ||
                            (list_asks && segment_words <= kMaxAskedItemWords);
      if (((!one_item || segment_has_separator) && negative_item_ahead(i + 1)) ||
          bare_no_item_ahead(i + 1)) {
        end_sentence(Break::kClause);
        ++i;
        continue;
      }
      list_asks = list_asks || (segment_asks && !segment_has_separator);
      segment_words = 0;
      segment_has_separator = false;
      segment_asks = false;
    }
    switch (c) {
      case '-':
      case '+': {
        const bool after_word = EndsWord(s, i);
        const bool before_word = i + 1 < n && IsWordStart(s, i + 1, n);
        if (!after_word && before_word && i + 1 < n && IsAsciiAlnum(s[i + 1])) {
          ++i;
          scan_word(static_cast<char>(c));
          continue;
        }
        if (!(c == '-' && after_word && before_word)) pending |= kPunctBefore;
        ++i;
        continue;
      }
      case '.':
        if (period_ends_sentence(i)) {
          end_sentence(Break::kSentence);
        } else {
          pending |= kPunctBefore;
        }
        ++i;
        continue;
      case '!': {
        if (i + 1 == n || IsBlankOrNewline(s[i + 1])) {
          end_sentence(Break::kSentence);
        } else {
          pending |= kPunctBefore;
        }
        ++i;
        continue;
      }
      case '?': {
        const bool after_blank = i == 0 || IsBlankOrNewline(s[i - 1]) || s[i - 1] == '(';
        const bool before_word = i + 1 < n && IsWordStart(s, i + 1, n);
        if (after_blank || before_word) {
          WordEvent event;
          event.begin = static_cast<std::uint32_t>(i);
          event.end = static_cast<std::uint32_t>(i + 1);
          buf[0] = '?';
          std::memset(buf + 1, 0, 8);
          event.lower = std::string_view(buf, 1);
          event.flags = static_cast<std::uint16_t>(pending | kPunctBefore);
          pending = 0;
          sink.OnWord(event);
          words_in_sentence = true;
        } else if (i + 1 == n || IsBlankOrNewline(s[i + 1])) {
          end_sentence(Break::kSentence);
        } else {
          pending |= kPunctBefore;
        }
        ++i;
        continue;
      }
      case ';':
        end_sentence(Break::kSemicolon);
        ++i;
        continue;
      case ')': {
        // "1) ... 2) ...": an item number (one or two digits after a blank, no '(' before it)
        // starts a new statement. Not when it closes an aside opened earlier on its line:
        // "Son (age 8) in remission from ALL" is one statement about the son.
        std::size_t b = i;
        while (b > 0 && i - b < 3 && s[b - 1] >= '0' && s[b - 1] <= '9') --b;
        bool closes_aside = false;
        for (std::size_t k = b; k > 0 && b - k < kMaxAsideBytes; --k) {
          if (s[k - 1] == '\n' || s[k - 1] == ')') break;
          if (s[k - 1] == '(') {
            closes_aside = true;
            break;
          }
        }
        if (b < i && i - b <= 2 && (b == 0 || IsBlankOrNewline(s[b - 1])) && !closes_aside) {
          end_sentence(Break::kSentence);
        } else {
          pending |= kPunctBefore | kParenCloseBefore;
        }
        ++i;
        continue;
      }
      case '(':
        pending |= kPunctBefore | kParenOpenBefore;
        ++i;
        continue;
      case '\'':
      case '"':
        // A quotation mark does not break a phrase (see the curly quotes above).
        ++i;
        continue;
      default:
        pending |= kPunctBefore;
        ++i;
        continue;
    }
  }
  if (words_in_sentence) sink.OnSentenceEnd(Break::kSentence);
}

}  // namespace cephalgia::text::detail
