// Decisions -> cards (rules/packs/headache/CARD-STYLE.md). The only place that writes text for a
// clinician and the only place that writes the evidence extension; both come from the same
// decisions.
//
// Written straight into the one response string, byte for byte as RapidJSON's Writer wrote it
// before: what is the same in every response (labels, citations, links, codings, the order
// resources' fixed parts) was escaped once at load (PrepareRendering); what is the same for every
// card of one response (the gate, the data gaps, a finding with its evidence) is written once and
// copied where it recurs; text composed for a clinician is built in reused buffers.
#include "render.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "cephalgia/fhir/date_time.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"

namespace cephalgia::rules::internal {

// Escaped JSON made once per knowledge (see the file comment). Members are written without a
// leading comma unless their name says so.
struct RenderFragments {
  struct Order {
    std::string open;  // {"resourceType":..,"status":"draft","intent":"proposal","priority":
    std::string code;  // ,"code":{"coding":[..],"text":..},"subject":{"reference":
    std::string default_note;  // the note when no caution is added (unescaped)
    std::string note_end;      // ,"note":[{"text":<default note>}] + dosage + }
    std::string dosage_end;    // ,"dosageInstruction":[..] + }   (or just })
  };
  std::string
      response_extension_open;      // "extension":{"<key>":{"knowledgeVersion":..,"packVersion":..
  std::string card_extension_open;  // ,"extension":{"<key>":{..versions..,"ruleId":
  std::string source_open;          // ,"source":{"label":..
  std::string source_url;           // ,"url":<manifest source url> ("" when none)
  std::string topic_open;           // ,"topic":{"system":..,"code":
  std::string override_reasons;     // ,"overrideReasons":[..]
  std::vector<std::string> finding_open;   // {"finding":..,"display":..,"status":
  std::vector<std::string> citation;       // {"id":..,"text":..,"url":..}
  std::vector<std::string> citation_link;  // {"label":..,"url":..,"type":"absolute"}
  std::vector<std::string> citation_url;   // ,"url":..
  std::vector<Order> orders;
};

namespace {

constexpr std::size_t kMaxSummary = 100;  // the style guide's limit
constexpr std::size_t kMaxDetail = 600;   // about five short lines
constexpr std::size_t kMaxFindingPhrase = 110;
constexpr std::size_t kMaxWhyFindings = 3;
constexpr std::size_t kMaxLinks = 2;
constexpr std::string_view kEllipsis = "\u2026";

// Cuts what `s` holds from `from` on to at most `max` bytes on a word (or at least a UTF-8
// character) boundary, adding an ellipsis when something was cut.
void CutTail(std::string& s, std::size_t from, std::size_t max) {
  const std::string_view t(s.data() + from, s.size() - from);
  if (t.size() <= max) return;
  std::size_t end = max >= 3 ? max - 3 : 0;  // room for the ellipsis (3 bytes in UTF-8)
  while (end > 0 && (static_cast<unsigned char>(t[end]) & 0xC0) == 0x80) --end;
  std::size_t space = t.rfind(' ', end);
  if (space != std::string_view::npos && space > end / 2) end = space;
  s.resize(from + end);
  while (s.size() > from && (s.back() == ' ' || s.back() == ',' || s.back() == ';')) s.pop_back();
  s.append(kEllipsis);
}

// `s` cut to `max` bytes as CutTail cuts; `buffer` holds the cut text when there is one.
std::string_view Cut(std::string_view s, std::size_t max, std::string& buffer) {
  if (s.size() <= max) return s;
  buffer.assign(s);
  CutTail(buffer, 0, max);
  return buffer;
}

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuotedJsonString(s, &out);
  return out;
}

void AppendInt(std::string& out, long long v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// The calendar day of `t` when its year has four digits (else nullopt: the slow path prints it).
std::optional<std::chrono::year_month_day> PlainDay(fhir::Instant t) {
  std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return std::nullopt;
  return ymd;
}

void AppendYear4(std::string& out, int year) {
  const char digits[4] = {
      static_cast<char>('0' + year / 1000), static_cast<char>('0' + year / 100 % 10),
      static_cast<char>('0' + year / 10 % 10), static_cast<char>('0' + year % 10)};
  out.append(digits, 4);
}

// "2 Oct 2025".
void AppendClinicalDate(std::string& out, fhir::Instant t) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (std::optional<std::chrono::year_month_day> ymd = PlainDay(t)) {
    AppendInt(out, static_cast<unsigned>(ymd->day()));
    out.push_back(' ');
    out.append(kMonths[static_cast<unsigned>(ymd->month()) - 1]);
    out.push_back(' ');
    AppendYear4(out, static_cast<int>(ymd->year()));
    return;
  }
  std::string iso = fhir::DateTime::FromInstant(t).ToString();  // e.g. -0050-03-01T00:00:00Z
  if (iso.size() < 10) {
    out += iso;
    return;
  }
  int month = std::atoi(iso.substr(5, 2).c_str());
  int day = std::atoi(iso.substr(8, 2).c_str());
  if (month < 1 || month > 12) {
    out += iso.substr(0, 10);
    return;
  }
  out += std::to_string(day) + " " + kMonths[month - 1] + " " + iso.substr(0, 4);
}

// A member name as written after a comma: ,"name": (made at compile time).
template <std::size_t N>
struct Name {
  char text[N + 3];
  consteval Name(const char (&name)[N]) : text{} {
    text[0] = ',';
    text[1] = '"';
    for (std::size_t i = 0; i + 1 < N; ++i) text[i + 2] = name[i];
    text[N + 1] = '"';
    text[N + 2] = ':';
  }
};

// A span of the response already written, to be copied where the same JSON recurs.
struct Span {
  std::size_t offset = 0, size = 0;
  bool empty() const { return size == 0; }
};

// The response, written through a pointer into a std::string grown ahead of the writes and cut
// to its length at the end: appending a literal is a few moves instead of a call into
// std::string.
class Out {
 public:
  Out(std::string& s, std::size_t expected) : s_(s) { s_.reserve(expected); }
  // Cuts the string to what was written.
  void Finish() { s_.resize(len_); }
  std::size_t size() const { return len_; }

  // Always inlined: most appends are literals or keys, whose memcpy of a known size is then a
  // store or two instead of a call to Append and one to memcpy (~70 a card).
  [[gnu::always_inline]] void Append(const char* p, std::size_t n) {
    std::memcpy(Room(n), p, n);
    len_ += n;
  }
  template <std::size_t N>
  [[gnu::always_inline]] Out& operator+=(const char (&literal)[N]) {
    Append(literal, N - 1);
    return *this;
  }
  Out& operator+=(std::string_view v) {
    if (!v.empty()) Append(v.data(), v.size());
    return *this;
  }
  Out& operator+=(char c) {
    *Room(1) = c;
    ++len_;
    return *this;
  }
  // `v` as a quoted, escaped JSON string.
  void Quoted(std::string_view v) {
    char* const begin = Room(json::QuotedJsonBound(v.size()));
    len_ += static_cast<std::size_t>(json::WriteQuotedJsonString(v, begin) - begin);
  }
  void Int(long long v) {
    char* const begin = Room(24);
    len_ += static_cast<std::size_t>(std::to_chars(begin, begin + 24, v).ptr - begin);
  }
  // Copies a span already written to the end.
  void Repeat(Span span) {
    Room(span.size);
    std::memcpy(s_.data() + len_, s_.data() + span.offset, span.size);
    len_ += span.size;
  }

 private:
  [[gnu::always_inline]] char* Room(std::size_t n) {
    if (s_.size() - len_ < n) [[unlikely]]
      Grow(n);
    return s_.data() + len_;
  }

  // Room is made by resize, which zero-fills it: in steps of 1 KiB, because glibc's memset
  // switches to `rep stosb` above 2 KiB, which callgrind (the yardstick of issue 14) counts
  // byte by byte. The capacity is reserved first, so the steps never reallocate.
  void Grow(std::size_t n) {
    constexpr std::size_t kStep = 1024;
    const std::size_t need = len_ + n;
    if (s_.capacity() < need) s_.reserve(std::max(2 * s_.capacity(), need + kStep));
    while (s_.size() < need) s_.resize(s_.size() + kStep);
  }

  std::string& s_;
  std::size_t len_ = 0;
};

// Compact JSON into the response, separators as RapidJSON's Writer puts them. Needs no stack: a
// container closed is a value written in its parent.
class JsonOut {
 public:
  explicit JsonOut(Out& out) : s_(out) {}

  template <Name K>
  void Key() {
    if (!first_) s_ += ',';
    s_.Append(K.text + 1, sizeof K.text - 1);
    first_ = true;
  }
  void Str(std::string_view v) {
    Sep();
    s_.Quoted(v);
  }
  // A value (or a run of members) already in JSON.
  void Raw(std::string_view json) {
    Sep();
    s_ += json;
  }
  void Bool(bool b) {
    Sep();
    if (b) {
      s_ += "true";
    } else {
      s_ += "false";
    }
  }
  template <Name K>
  void KV(std::string_view v) {
    Key<K>();
    Str(v);
  }
  void StartObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void StartArray() { Open('['); }
  void EndArray() { Close(']'); }
  // After text written directly that ended a value.
  void WroteValue() { first_ = false; }
  // After text written directly that opened a container.
  void Opened() { first_ = true; }
  // Before a value written directly.
  void BeforeValue() { Sep(); }

 private:
  void Sep() {
    if (!first_) s_ += ',';
    first_ = false;
  }
  void Open(char c) {
    Sep();
    s_ += c;
    first_ = true;
  }
  void Close(char c) {
    s_ += c;
    first_ = false;
  }

  Out& s_;
  bool first_ = true;
};

// Buffers reused across calls on one thread, so composing text allocates only while they grow.
struct Scratch {
  std::string text;     // the card detail being composed
  std::string phrases;  // the "Why" phrases of one card, back to back
  std::vector<Span> phrase_spans;
  std::string cut;  // a cut summary / link label / display
  std::string note;
  std::string gap_sentences;  // the same for every card of a response
  std::string card;           // per card: priority, reasons and reason references of resources
  std::vector<int> decisive;
  std::vector<std::string_view> refs;
  std::vector<std::string_view> seen;
  std::vector<int> gate;
  std::vector<Span> finding_json;  // per finding: its object, once written in this response
  std::string evaluated_at;        // quoted
  std::string patient_ref;         // Patient/<id>
  std::string patient_quoted;      // "Patient/<id>"
};

class Renderer {
 public:
  Renderer(const Knowledge& k, const Facts& facts, const Decisions& decisions,
           const RenderContext& context, Out& out, Scratch& scratch)
      : k_(k),
        f_(*k.render_fragments),
        facts_(facts),
        decisions_(decisions),
        context_(context),
        out_(out),
        w_(out),
        s_(scratch) {}

  void Render() {
    s_.evaluated_at.clear();
    json::AppendQuotedJsonString(context_.now_text, &s_.evaluated_at);
    s_.patient_ref.assign("Patient/");
    s_.patient_ref += context_.patient_id;
    s_.patient_quoted.clear();
    json::AppendQuotedJsonString(s_.patient_ref, &s_.patient_quoted);
    s_.finding_json.assign(k_.findings.size(), Span{});
    GapSentences();
    s_.gate.clear();
    for (const TraceLine& line : decisions_.gate_trace) {
      if (!line.met) continue;
      for (int f : line.findings(decisions_.trace_findings)) {
        if (facts_.findings[f].present) s_.gate.push_back(f);
      }
    }
    if (!context_.gaps.empty() || !facts_.notes.empty()) gaps_pending_ = true;
    out_ += "{\"cards\":[";
    w_.Opened();
    for (const Decision& d : decisions_.cards) WriteCard(d);
    w_.EndArray();
    // The knowledge version is in every response, also one without cards (CDS Hooks reserves
    // `extension` on every object for exactly this).
    out_ += ',';
    out_ += f_.response_extension_open;
    w_.WroteValue();
    // Data gaps are reported on the response too, so an answer without cards (a closed gate)
    // still tells the integrator what could not be read.
    WriteGaps();
    out_ += "}}}";
  }

 private:
  // ---- what the clinician reads ----------------------------------------------------------------
  // The evidence a clinician recognises first: current before past, coded before text.
  static const Evidence* Best(const FindingState& s) {
    const Evidence* best = nullptr;
    auto score = [](const Evidence& e) {
      return (e.history ? 0 : 4) + (e.certainty == fhir::Certainty::kConfirmed     ? 2
                                    : e.certainty == fhir::Certainty::kProvisional ? 1
                                                                                   : 0);
    };
    for (const Evidence& e : s.evidence) {
      if (e.note == "documented absent") continue;
      if (best == nullptr || score(e) > score(*best)) best = &e;
    }
    return best;
  }

  // Appends to `out`: "Cervical spondylosis (2 Oct 2025)", "possible “papilloedema on the left”
  // (from text: exam note, 28 Feb 2026)".
  void AppendPhrase(std::string& out, int finding) const {
    const std::size_t start = out.size();
    const FindingState& s = facts_.findings[finding];
    const Evidence* e = Best(s);
    if (e == nullptr) {
      out += k_.findings[finding].display;
      return;
    }
    if (!e->quote.empty()) {
      out += e->possible ? "possible \u201c" : "\u201c";
      out += e->quote;
      out += "\u201d (from text: ";
      if (e->display.empty()) {
        out += "note";
      } else {
        const std::size_t where = out.size();
        out += e->display;
        CutTail(out, where, 40);
      }
      if (e->date) {
        out += ", ";
        AppendClinicalDate(out, *e->date);
      }
      out += ')';
    } else {
      if (e->display.empty()) {
        out += k_.findings[finding].display;
      } else {
        out += e->display;
        CutTail(out, start, 60);
      }
      // "(provisional, past, 2 Oct 2025)": each part when it applies.
      const bool provisional = e->certainty == fhir::Certainty::kProvisional;
      if (provisional || e->history || e->date) {
        out += " (";
        const char* sep = "";
        if (provisional) {
          out += "provisional";
          sep = ", ";
        }
        if (e->history) {
          out += sep;
          out += "past";
          sep = ", ";
        }
        if (e->date) {
          out += sep;
          AppendClinicalDate(out, *e->date);
        }
        out += ')';
      }
    }
    CutTail(out, start, kMaxFindingPhrase);
  }

  // Findings behind the met criteria, in the order the rule names them, into s_.decisive.
  void Decisive(const Decision& d) {
    s_.decisive.clear();
    for (const TraceLine& line : d.trace) {
      if (!line.met) continue;
      for (int f : line.findings(decisions_.trace_findings)) {
        if (facts_.findings[f].present &&
            std::find(s_.decisive.begin(), s_.decisive.end(), f) == s_.decisive.end())
          s_.decisive.push_back(f);
      }
    }
  }

  // The plain sentences for the data gaps: the same on every card of the response.
  void GapSentences() {
    std::string& out = s_.gap_sentences;
    out.clear();
    s_.seen.clear();
    std::size_t shown = 0, more = 0;
    for (const DataGap& g : context_.gaps) {
      if (g.key.empty()) continue;  // unreadable FHIR: in the extension only
      auto it = k_.prefetch_gap_text.find(g.key);
      std::string_view sentence =
          it != k_.prefetch_gap_text.end()
              ? std::string_view(it->second)
              : "Part of the record could not be retrieved: some checks may be incomplete.";
      if (std::find(s_.seen.begin(), s_.seen.end(), sentence) != s_.seen.end()) continue;
      s_.seen.push_back(sentence);
      if (shown == 2) {
        ++more;
        continue;
      }
      if (!out.empty()) out += ' ';
      out += sentence;
      ++shown;
    }
    if (more > 0) {
      out += " (";
      AppendInt(out, static_cast<long long>(more));
      out += " more in the evidence.)";
    }
  }

  // The card's detail into s_.text (needs s_.decisive).
  void Detail(const Decision& d) {
    std::string& t = s_.text;
    t.clear();
    // Every line is non-empty; lines are separated by a blank line.
    auto start_line = [&t]() {
      if (!t.empty()) t += "\n\n";
      return t.size();
    };
    if (!d.advice.empty()) {
      start_line();
      t += d.advice;
    }
    if (d.kind == DecisionKind::kOrderSign) {
      const std::size_t line = start_line();
      t += "**Draft:** ";
      const std::size_t name = t.size();
      t += d.draft_name;
      CutTail(t, name, 80);
      for (std::size_t i = 0; i < d.problems.size() && i < 3; ++i) {
        t += i == 0 ? " \u2014 " : "; ";
        t += d.problems[i];
      }
      CutTail(t, line, 240);
    }
    // The same record can support several findings (a coded CGH is also "a headache"): it is
    // named once.
    s_.phrases.clear();
    s_.phrase_spans.clear();
    for (int f : s_.decisive) {
      const std::size_t start = s_.phrases.size();
      AppendPhrase(s_.phrases, f);
      const std::string_view phrase(s_.phrases.data() + start, s_.phrases.size() - start);
      bool repeated = false;
      for (const Span& p : s_.phrase_spans) {
        if (std::string_view(s_.phrases.data() + p.offset, p.size) == phrase) repeated = true;
      }
      if (repeated) {
        s_.phrases.resize(start);
      } else {
        s_.phrase_spans.push_back({start, phrase.size()});
      }
    }
    if (!s_.phrase_spans.empty()) {
      start_line();
      t += "**Why:** ";
      for (std::size_t i = 0; i < s_.phrase_spans.size() && i < kMaxWhyFindings; ++i) {
        if (i) t += "; ";
        t.append(s_.phrases, s_.phrase_spans[i].offset, s_.phrase_spans[i].size);
      }
      if (s_.phrase_spans.size() > kMaxWhyFindings) {
        t += "; and ";
        AppendInt(t, static_cast<long long>(s_.phrase_spans.size() - kMaxWhyFindings));
        t += " more";
      }
    }
    if (!d.would_decide.empty()) {
      const std::size_t line = start_line();
      t += "**Would decide it:** ";
      for (std::size_t i = 0; i < d.would_decide.size() && i < 6; ++i) {
        if (i) t += ", ";
        t += k_.findings[d.would_decide[i]].display;
      }
      if (d.would_decide.size() > 6) t += " \u2026";
      CutTail(t, line, 260);
    }
    if (!d.not_suggested.empty()) {
      const std::size_t line = start_line();
      t += "**Not suggested:** ";
      s_.seen.clear();
      std::size_t n = 0;
      for (const NotSuggested& ns : d.not_suggested) {
        if (n == 2) break;
        if (std::find(s_.seen.begin(), s_.seen.end(), ns.label) != s_.seen.end()) continue;
        s_.seen.push_back(ns.label);
        if (n++) t += "; ";
        t += ns.label;
        t += " (";
        t += ns.reason;
        t += ')';
      }
      CutTail(t, line, 200);
    }
    if (!s_.gap_sentences.empty()) {
      start_line();
      t += s_.gap_sentences;
    }
    // Keep within the style guide's length: drop from the end of the evidence line first.
    CutTail(t, 0, kMaxDetail);
  }

  // ---- card
  // --------------------------------------------------------------------------------------
  // The guideline links of a card (at most kMaxLinks citations, distinct urls).
  std::size_t Links(const Decision& d, std::array<int, kMaxLinks>& out) const {
    std::size_t n = 0;
    for (int ci : d.citations) {
      const Citation& c = k_.citations[ci];
      if (!c.guideline || c.url.empty()) continue;
      bool repeated = false;
      for (std::size_t i = 0; i < n; ++i) repeated = repeated || k_.citations[out[i]].url == c.url;
      if (repeated) continue;
      out[n++] = ci;
      if (n == kMaxLinks) break;
    }
    return n;
  }

  // The Condition / Observation references behind the decisive findings, into s_.refs.
  void ReasonRefs() {
    s_.refs.clear();
    for (int f : s_.decisive) {
      for (const Evidence& e : facts_.findings[f].evidence) {
        if (e.note == "documented absent") continue;
        if (e.ref.rfind("Condition/", 0) != 0 && e.ref.rfind("Observation/", 0) != 0) continue;
        if (std::find(s_.refs.begin(), s_.refs.end(), e.ref) == s_.refs.end())
          s_.refs.push_back(e.ref);
      }
    }
  }

  // What every created resource of a card shares: its priority, then (after the patient
  // reference) its reasons. Written into s_.card; returns the split.
  std::size_t CardResourceParts(const Decision& d) {
    std::string& c = s_.card;
    c.clear();
    json::AppendQuotedJsonString(d.priority.empty() ? std::string_view("routine") : d.priority, &c);
    const std::size_t priority_end = c.size();
    c += "},\"reasonCode\":[{\"text\":";
    if (d.tier.empty()) {
      json::AppendQuotedJsonString(d.title, &c);
    } else {
      s_.note.clear();
      s_.note += "Red flag: ";
      s_.note += d.title;
      s_.note += " (";
      s_.note += d.tier;
      s_.note += ')';
      json::AppendQuotedJsonString(s_.note, &c);
    }
    c += "}]";
    ReasonRefs();
    if (!s_.refs.empty()) {
      c += ",\"reasonReference\":[";
      for (std::size_t i = 0; i < s_.refs.size(); ++i) {
        c += i ? ",{\"reference\":" : "{\"reference\":";
        json::AppendQuotedJsonString(s_.refs[i], &c);
        c += '}';
      }
      c += ']';
    }
    return priority_end;
  }

  void WriteResource(const Proposal& p, int order, std::size_t priority_end) {
    const RenderFragments::Order& o = f_.orders[order];
    out_ += o.open;
    out_ += std::string_view(s_.card).substr(0, priority_end);
    out_ += o.code;
    out_ += s_.patient_quoted;
    out_ += std::string_view(s_.card).substr(priority_end);
    if (p.cautions.empty()) {
      out_ += o.note_end;
    } else {
      s_.note = o.default_note;
      for (const std::string& c : p.cautions) {
        s_.note += ' ';
        s_.note += c;
      }
      out_ += ",\"note\":[{\"text\":";
      out_.Quoted(s_.note);
      out_ += "}]";
      out_ += o.dosage_end;
    }
    w_.WroteValue();
  }

  void WriteUuid() {
    char uuid[kUuidLength];
    WriteUuidV7(uuid);
    out_ += '"';
    out_ += std::string_view(uuid, kUuidLength);
    out_ += '"';
    w_.WroteValue();
  }

  void WriteCard(const Decision& d) {
    std::array<int, kMaxLinks> links{};
    const std::size_t link_count = Links(d, links);
    Decisive(d);
    w_.StartObject();
    // Time-ordered: the host stores and indexes every card uuid it issues (uuid.h says why).
    w_.Key<"uuid">();
    WriteUuid();
    w_.KV<"summary">(Cut(d.summary, kMaxSummary, s_.cut));
    Detail(d);
    w_.KV<"detail">(s_.text);
    w_.KV<"indicator">(d.indicator);
    out_ += f_.source_open;
    out_ += link_count > 0 ? f_.citation_url[links[0]] : f_.source_url;
    out_ += f_.topic_open;
    out_.Quoted(d.rule_id);
    out_ += ",\"display\":";
    out_.Quoted(d.title);
    out_ += "}}";
    w_.WroteValue();
    if (!d.proposals.empty()) {
      bool creates = false;
      for (const Proposal& p : d.proposals) {
        for (const ProposedAction& a : p.actions) creates = creates || !a.is_delete;
      }
      const std::size_t priority_end = creates ? CardResourceParts(d) : 0;
      w_.Key<"suggestions">();
      w_.StartArray();
      for (const Proposal& p : d.proposals) {
        w_.StartObject();
        w_.KV<"label">(p.label);
        w_.Key<"uuid">();
        WriteUuid();
        w_.Key<"isRecommended">();
        w_.Bool(p.recommended);
        w_.Key<"actions">();
        w_.StartArray();
        for (const ProposedAction& a : p.actions) {
          w_.StartObject();
          out_ += a.is_delete ? "\"type\":\"delete\"" : "\"type\":\"create\"";
          w_.WroteValue();
          w_.KV<"description">(a.description);
          if (a.is_delete) {
            w_.KV<"resourceId">(a.resource_id);
          } else {
            w_.Key<"resource">();
            w_.BeforeValue();
            WriteResource(p, a.order, priority_end);
          }
          w_.EndObject();
        }
        w_.EndArray();
        w_.EndObject();
      }
      w_.EndArray();
      out_ += d.alternatives ? ",\"selectionBehavior\":\"at-most-one\""
                             : ",\"selectionBehavior\":\"any\"";
    }
    // Every card that interrupts (warning, critical) or proposes can be dismissed with a reason,
    // so feedback analytics keep exactly the cards that most need them.
    if (!d.proposals.empty() || d.indicator == "warning" || d.indicator == "critical") {
      out_ += f_.override_reasons;
    }
    if (link_count > 0) {
      out_ += ",\"links\":[";
      for (std::size_t i = 0; i < link_count; ++i) {
        if (i) out_ += ',';
        out_ += f_.citation_link[links[i]];
      }
      out_ += ']';
    }
    WriteEvidence(d);
    w_.EndObject();
  }

  // ---- the evidence trail (README "The evidence extension") ------------------------------------
  // "2025-10-02", quoted.
  void WriteQuotedIsoDate(fhir::Instant t) {
    if (std::optional<std::chrono::year_month_day> ymd = PlainDay(t)) {
      const auto year = static_cast<unsigned>(static_cast<int>(ymd->year()));
      const auto month = static_cast<unsigned>(ymd->month());
      const auto day = static_cast<unsigned>(ymd->day());
      const char text[12] = {'"',
                             static_cast<char>('0' + year / 1000),
                             static_cast<char>('0' + year / 100 % 10),
                             static_cast<char>('0' + year / 10 % 10),
                             static_cast<char>('0' + year % 10),
                             '-',
                             static_cast<char>('0' + month / 10),
                             static_cast<char>('0' + month % 10),
                             '-',
                             static_cast<char>('0' + day / 10),
                             static_cast<char>('0' + day % 10),
                             '"'};
      out_.Append(text, sizeof text);
      return;
    }
    out_.Quoted(fhir::DateTime::FromInstant(t).ToString().substr(0, 10));
  }

  void WriteEvidenceItem(const Evidence& e) {
    out_ += "{\"reference\":";
    out_.Quoted(e.ref);
    if (!e.display.empty()) {
      out_ += ",\"display\":";
      out_.Quoted(e.display);
    }
    if (e.date) {
      out_ += ",\"date\":";
      WriteQuotedIsoDate(*e.date);
    }
    if (e.quote.empty()) {
      out_ += ",\"origin\":\"coded\"";
    } else {
      out_ += ",\"origin\":\"text\",\"quote\":";
      out_.Quoted(e.quote);
    }
    if (e.possible) out_ += ",\"possible\":true";
    if (e.history) out_ += ",\"history\":true";
    out_ += ",\"certainty\":";
    out_.Quoted(fhir::CertaintyName(e.certainty));
    if (!e.note.empty()) {
      out_ += ",\"note\":";
      out_.Quoted(e.note);
    }
    out_ += '}';
  }

  // One finding's object: written the first time, copied after.
  void WriteFinding(int f) {
    Span& done = s_.finding_json[f];
    if (!done.empty()) {
      out_.Repeat(done);
      return;
    }
    const std::size_t start = out_.size();
    const FindingState& s = facts_.findings[f];
    out_ += f_.finding_open[f];
    out_ += s.present ? "\"present\"" : s.absent ? "\"documented-absent\"" : "\"not-recorded\"";
    if (!s.evidence.empty()) {
      out_ += ",\"evidence\":[";
      for (std::size_t i = 0; i < s.evidence.size(); ++i) {
        if (i) out_ += ',';
        WriteEvidenceItem(s.evidence[i]);
      }
      out_ += ']';
    }
    out_ += '}';
    done = {start, out_.size() - start};
  }

  template <typename Findings>
  void WriteFindings(const Findings& findings) {
    w_.StartArray();
    for (auto it = findings.begin(); it != findings.end(); ++it) {
      if (std::find(findings.begin(), it, *it) != it) continue;
      w_.BeforeValue();
      WriteFinding(*it);
    }
    w_.EndArray();
  }

  // "dataGaps": written the first time, copied after (the same on every card and the response).
  void WriteGaps() {
    if (!gaps_pending_) return;
    if (!gaps_json_.empty()) {
      out_ += ',';
      out_.Repeat(gaps_json_);
      w_.WroteValue();
      return;
    }
    w_.Key<"dataGaps">();
    const std::size_t start = out_.size();
    w_.StartArray();
    for (const DataGap& g : context_.gaps) {
      w_.StartObject();
      if (!g.key.empty()) w_.KV<"prefetchKey">(g.key);
      w_.KV<"detail">(g.technical);
      w_.EndObject();
    }
    for (const std::string& n : facts_.notes) {
      w_.StartObject();
      w_.KV<"detail">(n);
      w_.EndObject();
    }
    w_.EndArray();
    // From the member name on (without its comma).
    const std::size_t name = start - (sizeof("\"dataGaps\":") - 1);
    gaps_json_ = {name, out_.size() - name};
  }

  void WriteEvidence(const Decision& d) {
    out_ += f_.card_extension_open;
    out_.Quoted(d.rule_id);
    out_ += ",\"evaluatedAt\":";
    out_ += s_.evaluated_at;
    w_.WroteValue();
    if (!d.tier.empty()) w_.KV<"tier">(d.tier);
    // What opened the relevance gate (knowledge.md §0): every card names it.
    if (!s_.gate.empty()) {
      if (!gate_json_.empty()) {
        out_ += ',';
        out_.Repeat(gate_json_);
        w_.WroteValue();
      } else {
        out_ += ",\"gate\":";
        const std::size_t start = out_.size() - (sizeof("\"gate\":") - 1);
        w_.Opened();
        WriteFindings(s_.gate);
        gate_json_ = {start, out_.size() - start};
      }
    }
    // No empty arrays (the golden runner and some clients refuse them): each array below is
    // written only when it has members.
    if (!d.trace.empty()) {
      w_.Key<"criteria">();
      w_.StartArray();
      for (const TraceLine& line : d.trace) {
        w_.StartObject();
        w_.KV<"label">(line.label);
        out_ += line.met ? ",\"met\":true,\"depth\":" : ",\"met\":false,\"depth\":";
        out_.Int(line.depth);
        w_.WroteValue();
        if (line.has_findings()) {
          w_.Key<"findings">();
          WriteFindings(line.findings(decisions_.trace_findings));
        }
        w_.EndObject();
      }
      w_.EndArray();
    }
    if (!d.would_decide.empty()) {
      w_.Key<"wouldDecide">();
      WriteFindings(d.would_decide);
    }
    if (!d.problems.empty()) {
      w_.Key<"draft">();
      w_.StartObject();
      if (!d.draft_ref.empty()) w_.KV<"reference">(d.draft_ref);
      w_.KV<"display">(d.draft_name);
      w_.Key<"problems">();
      w_.StartArray();
      for (const std::string& p : d.problems) w_.Str(p);
      w_.EndArray();
      w_.EndObject();
    }
    if (!d.not_suggested.empty()) {
      w_.Key<"notSuggested">();
      w_.StartArray();
      for (const NotSuggested& ns : d.not_suggested) {
        w_.StartObject();
        w_.KV<"suggestion">(ns.label);
        w_.KV<"reason">(ns.reason);
        w_.EndObject();
      }
      w_.EndArray();
    }
    WriteGaps();
    if (!d.citations.empty()) {
      w_.Key<"citations">();
      w_.StartArray();
      for (int ci : d.citations) w_.Raw(f_.citation[ci]);
      w_.EndArray();
    }
    out_ += "}}";
    w_.WroteValue();
  }

  const Knowledge& k_;
  const RenderFragments& f_;
  const Facts& facts_;
  const Decisions& decisions_;
  const RenderContext& context_;
  Out& out_;
  JsonOut w_;
  Scratch& s_;
  bool gaps_pending_ = false;
  Span gaps_json_;
  Span gate_json_;
};

}  // namespace

void PrepareRendering(Knowledge& k) {
  auto f = std::make_shared<RenderFragments>();
  std::string versions = "\"knowledgeVersion\":" + Quoted(k.knowledge_version) +
                         ",\"packVersion\":" + Quoted(k.pack_version);
  f->response_extension_open = "\"extension\":{" + Quoted(k.extension_key) + ":{" + versions;
  f->card_extension_open =
      ",\"extension\":{" + Quoted(k.extension_key) + ":{" + versions + ",\"ruleId\":";
  f->source_open = ",\"source\":{\"label\":" + Quoted(k.source_label);
  f->source_url = k.source_url.empty() ? std::string() : ",\"url\":" + Quoted(k.source_url);
  f->topic_open = ",\"topic\":{\"system\":" + Quoted(k.rule_system) + ",\"code\":";
  auto coding = [](const Coding& c) {
    return "{\"system\":" + Quoted(c.system) + ",\"code\":" + Quoted(c.code) +
           ",\"display\":" + Quoted(c.display) + "}";
  };
  f->override_reasons = ",\"overrideReasons\":[";
  for (std::size_t i = 0; i < k.override_reasons.size(); ++i) {
    if (i) f->override_reasons += ',';
    f->override_reasons += coding(k.override_reasons[i]);
  }
  f->override_reasons += ']';
  for (const Finding& finding : k.findings) {
    f->finding_open.push_back("{\"finding\":" + Quoted(finding.id) +
                              ",\"display\":" + Quoted(finding.display) + ",\"status\":");
  }
  for (const Citation& c : k.citations) {
    std::string url = c.url.empty() ? std::string() : ",\"url\":" + Quoted(c.url);
    f->citation.push_back("{\"id\":" + Quoted(c.id) + ",\"text\":" + Quoted(c.text) + url + "}");
    std::string cut;
    f->citation_link.push_back(
        "{\"label\":" + Quoted(Cut(c.label.empty() ? c.text : c.label, 80, cut)) +
        ",\"url\":" + Quoted(c.url) + ",\"type\":\"absolute\"}");
    f->citation_url.push_back(url);
  }
  for (const OrderDef& o : k.orders) {
    RenderFragments::Order r;
    r.open = std::string("{\"resourceType\":") +
             (o.medication ? "\"MedicationRequest\"" : "\"ServiceRequest\"") +
             ",\"status\":\"draft\",\"intent\":\"proposal\",\"priority\":";
    r.code = std::string(o.medication ? ",\"medicationCodeableConcept\":" : ",\"code\":") +
             "{\"coding\":[" + coding(o.code) + "],\"text\":" + Quoted(o.code.display) +
             "},\"subject\":{\"reference\":";
    r.default_note = o.note.empty() ? "Suggested by " + k.source_label + "." : o.note;
    r.dosage_end =
        o.medication ? ",\"dosageInstruction\":[{\"text\":" + Quoted(o.dosage) + "}]}" : "}";
    r.note_end = ",\"note\":[{\"text\":" + Quoted(r.default_note) + "}]" + r.dosage_end;
    f->orders.push_back(std::move(r));
  }
  k.render_fragments = std::move(f);
}

std::string RenderResponse(const Knowledge& k, const Facts& facts, const Decisions& decisions,
                           const RenderContext& context) {
  // One allocation for the answer, sized from the last one on this thread.
  thread_local std::size_t last_size = 16 * 1024;
  thread_local Scratch scratch;
  std::string response;
  Out out(response, std::min<std::size_t>(last_size + last_size / 8, std::size_t{1} << 20));
  Renderer(k, facts, decisions, context, out, scratch).Render();
  out.Finish();
  last_size = std::max<std::size_t>(response.size(), 1024);
  return response;
}

}  // namespace cephalgia::rules::internal
