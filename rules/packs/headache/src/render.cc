// Decisions -> cards (rules/packs/headache/CARD-STYLE.md). The only place that writes text for a
// clinician and the only place that writes the evidence extension; both come from the same
// decisions.
#include "render.h"

#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "cephalgia/fhir/date_time.h"
#include "cephalgia/json.h"
#include "cephalgia/uuid.h"

namespace cephalgia::rules::internal {
namespace {

constexpr std::size_t kMaxSummary = 100;  // the style guide's limit
constexpr std::size_t kMaxDetail = 600;   // about five short lines
constexpr std::size_t kMaxFindingPhrase = 110;
constexpr std::size_t kMaxWhyFindings = 3;
constexpr std::size_t kMaxLinks = 2;

// Cuts `s` to at most `max` bytes on a word (or at least a UTF-8 character) boundary, adding an
// ellipsis when something was cut.
std::string Cut(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t end = max >= 3 ? max - 3 : 0;  // room for the ellipsis (3 bytes in UTF-8)
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  std::size_t space = s.rfind(' ', end);
  if (space != std::string_view::npos && space > end / 2) end = space;
  std::string out(s.substr(0, end));
  while (!out.empty() && (out.back() == ' ' || out.back() == ',' || out.back() == ';'))
    out.pop_back();
  return out + "\u2026";
}

std::string ClinicalDate(fhir::Instant t) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string iso = fhir::DateTime::FromInstant(t).ToString();  // YYYY-MM-DDThh:mm:ssZ
  if (iso.size() < 10) return iso;
  int month = std::atoi(iso.substr(5, 2).c_str());
  int day = std::atoi(iso.substr(8, 2).c_str());
  if (month < 1 || month > 12) return iso.substr(0, 10);
  return std::to_string(day) + " " + kMonths[month - 1] + " " + iso.substr(0, 4);
}

std::string IsoDate(fhir::Instant t) {
  return fhir::DateTime::FromInstant(t).ToString().substr(0, 10);
}

class Renderer {
 public:
  Renderer(const Knowledge& k, const Facts& facts, const Decisions& decisions,
           const RenderContext& context)
      : k_(k), facts_(facts), decisions_(decisions), context_(context) {}

  std::string Render() {
    std::size_t estimate = 512;
    for (const Decision& d : decisions_.cards) estimate += 3072 + 1024 * d.proposals.size();
    rapidjson::StringBuffer sb(nullptr, estimate);
    json::StringWriter w(sb);
    w.StartObject();
    w.Key("cards");
    w.StartArray();
    for (const Decision& d : decisions_.cards) WriteCard(w, d);
    w.EndArray();
    // The knowledge version is in every response, also one without cards (CDS Hooks reserves
    // `extension` on every object for exactly this).
    w.Key("extension");
    w.StartObject();
    w.Key(k_.extension_key.c_str());
    w.StartObject();
    KV(w, "knowledgeVersion", k_.knowledge_version);
    KV(w, "packVersion", k_.pack_version);
    // Data gaps are reported on the response too, so an answer without cards (a closed gate)
    // still tells the integrator what could not be read.
    WriteGaps(w);
    w.EndObject();
    w.EndObject();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }

 private:
  using W = json::StringWriter;
  static void Str(W& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  static void KV(W& w, const char* key, std::string_view value) {
    w.Key(key);
    Str(w, value);
  }

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

  // "Cervical spondylosis (2 Oct 2025)", "possible “papilloedema on the left” (exam note, 28 Feb
  // 2026)".
  std::string Phrase(int finding) const {
    const FindingState& s = facts_.findings[finding];
    const Evidence* e = Best(s);
    if (e == nullptr) return k_.findings[finding].display;
    std::string when = e->date ? ClinicalDate(*e->date) : std::string();
    std::string out;
    if (!e->quote.empty()) {
      out = (e->possible ? "possible \u201c" : "\u201c") + e->quote + "\u201d";
      std::string where = e->display.empty() ? std::string("note") : Cut(e->display, 40);
      out += " (from text: " + where + (when.empty() ? "" : ", " + when) + ")";
    } else {
      out = e->display.empty() ? k_.findings[finding].display : Cut(e->display, 60);
      if (e->history) when = when.empty() ? "past" : "past, " + when;
      if (e->certainty == fhir::Certainty::kProvisional)
        when = when.empty() ? "provisional" : "provisional, " + when;
      if (!when.empty()) out += " (" + when + ")";
    }
    return Cut(out, kMaxFindingPhrase);
  }

  // Findings behind the met criteria, in the order the rule names them.
  std::vector<int> Decisive(const Decision& d) const {
    std::vector<int> out;
    for (const TraceLine& line : d.trace) {
      if (!line.met) continue;
      for (int f : line.findings) {
        if (facts_.findings[f].present && std::find(out.begin(), out.end(), f) == out.end())
          out.push_back(f);
      }
    }
    return out;
  }

  std::string GapSentences() const {
    std::string out;
    std::size_t shown = 0, more = 0;
    std::set<std::string> seen;
    for (const DataGap& g : context_.gaps) {
      if (g.key.empty()) continue;  // unreadable FHIR: in the extension only
      auto it = k_.prefetch_gap_text.find(g.key);
      std::string sentence =
          it != k_.prefetch_gap_text.end()
              ? it->second
              : "Part of the record could not be retrieved: some checks may be incomplete.";
      if (!seen.insert(sentence).second) continue;
      if (shown == 2) {
        ++more;
        continue;
      }
      if (!out.empty()) out += " ";
      out += sentence;
      ++shown;
    }
    if (more > 0) out += " (" + std::to_string(more) + " more in the evidence.)";
    return out;
  }

  std::string Detail(const Decision& d) const {
    std::vector<std::string> lines;
    if (!d.advice.empty()) lines.push_back(d.advice);
    if (d.kind == DecisionKind::kOrderSign) {
      std::string draft = "**Draft:** " + Cut(d.draft_name, 80);
      for (std::size_t i = 0; i < d.problems.size() && i < 3; ++i)
        draft += (i == 0 ? " \u2014 " : "; ") + d.problems[i];
      lines.push_back(Cut(draft, 240));
    }
    // The same record can support several findings (a coded CGH is also "a headache"): it is
    // named once.
    std::vector<std::string> why;
    for (int f : Decisive(d)) {
      std::string phrase = Phrase(f);
      if (std::find(why.begin(), why.end(), phrase) == why.end()) why.push_back(std::move(phrase));
    }
    if (!why.empty()) {
      std::string line = "**Why:** ";
      for (std::size_t i = 0; i < why.size() && i < kMaxWhyFindings; ++i)
        line += (i ? "; " : "") + why[i];
      if (why.size() > kMaxWhyFindings)
        line += "; and " + std::to_string(why.size() - kMaxWhyFindings) + " more";
      lines.push_back(line);
    }
    if (!d.would_decide.empty()) {
      std::string line = "**Would decide it:** ";
      for (std::size_t i = 0; i < d.would_decide.size() && i < 6; ++i) {
        line += (i ? ", " : "") + k_.findings[d.would_decide[i]].display;
      }
      if (d.would_decide.size() > 6) line += " \u2026";
      lines.push_back(Cut(line, 260));
    }
    if (!d.not_suggested.empty()) {
      std::string line = "**Not suggested:** ";
      std::set<std::string> seen;
      std::size_t n = 0;
      for (const NotSuggested& ns : d.not_suggested) {
        if (!seen.insert(ns.label).second || n == 2) continue;
        line += (n++ ? "; " : "") + ns.label + " (" + ns.reason + ")";
      }
      lines.push_back(Cut(line, 200));
    }
    std::string gaps = GapSentences();
    if (!gaps.empty()) lines.push_back(gaps);
    // Keep within the style guide's length: drop from the end of the evidence line first.
    std::string out;
    for (const std::string& l : lines) out += (out.empty() ? "" : "\n\n") + l;
    return Cut(out, kMaxDetail);
  }

  // ---- card
  // --------------------------------------------------------------------------------------
  std::vector<const Citation*> Links(const Decision& d) const {
    std::vector<const Citation*> out;
    for (int ci : d.citations) {
      const Citation& c = k_.citations[ci];
      if (!c.guideline || c.url.empty()) continue;
      if (std::any_of(out.begin(), out.end(), [&c](const Citation* o) { return o->url == c.url; }))
        continue;
      out.push_back(&c);
      if (out.size() == kMaxLinks) break;
    }
    return out;
  }

  std::vector<std::string> ReasonRefs(const Decision& d) const {
    std::vector<std::string> refs;
    for (int f : Decisive(d)) {
      for (const Evidence& e : facts_.findings[f].evidence) {
        if (e.note == "documented absent") continue;
        if (e.ref.rfind("Condition/", 0) != 0 && e.ref.rfind("Observation/", 0) != 0) continue;
        if (std::find(refs.begin(), refs.end(), e.ref) == refs.end()) refs.push_back(e.ref);
      }
    }
    return refs;
  }

  void WriteCoding(W& w, const Coding& c) {
    w.StartObject();
    KV(w, "system", c.system);
    KV(w, "code", c.code);
    KV(w, "display", c.display);
    w.EndObject();
  }

  void WriteResource(W& w, const Decision& d, const Proposal& p, int order) {
    const OrderDef& o = k_.orders[order];
    w.StartObject();
    KV(w, "resourceType", o.medication ? "MedicationRequest" : "ServiceRequest");
    KV(w, "status", "draft");
    KV(w, "intent", "proposal");
    KV(w, "priority", d.priority.empty() ? "routine" : d.priority);
    w.Key(o.medication ? "medicationCodeableConcept" : "code");
    w.StartObject();
    w.Key("coding");
    w.StartArray();
    WriteCoding(w, o.code);
    w.EndArray();
    KV(w, "text", o.code.display);
    w.EndObject();
    w.Key("subject");
    w.StartObject();
    KV(w, "reference", "Patient/" + context_.patient_id);
    w.EndObject();
    w.Key("reasonCode");
    w.StartArray();
    w.StartObject();
    KV(w, "text", d.tier.empty() ? d.title : "Red flag: " + d.title + " (" + d.tier + ")");
    w.EndObject();
    w.EndArray();
    std::vector<std::string> refs = ReasonRefs(d);
    if (!refs.empty()) {
      w.Key("reasonReference");
      w.StartArray();
      for (const std::string& r : refs) {
        w.StartObject();
        KV(w, "reference", r);
        w.EndObject();
      }
      w.EndArray();
    }
    std::string note = o.note.empty() ? "Suggested by " + k_.source_label + "." : o.note;
    for (const std::string& c : p.cautions) note += " " + c;
    w.Key("note");
    w.StartArray();
    w.StartObject();
    KV(w, "text", note);
    w.EndObject();
    w.EndArray();
    if (o.medication) {
      w.Key("dosageInstruction");
      w.StartArray();
      w.StartObject();
      KV(w, "text", o.dosage);
      w.EndObject();
      w.EndArray();
    }
    w.EndObject();
  }

  void WriteCard(W& w, const Decision& d) {
    std::vector<const Citation*> links = Links(d);
    w.StartObject();
    // Time-ordered: the host stores and indexes every card uuid it issues (uuid.h says why).
    KV(w, "uuid", NewUuidV7());
    KV(w, "summary", Cut(d.summary, kMaxSummary));
    KV(w, "detail", Detail(d));
    KV(w, "indicator", d.indicator);
    w.Key("source");
    w.StartObject();
    KV(w, "label", k_.source_label);
    std::string url = !links.empty() ? links[0]->url : k_.source_url;
    if (!url.empty()) KV(w, "url", url);
    w.Key("topic");
    w.StartObject();
    KV(w, "system", k_.rule_system);
    KV(w, "code", d.rule_id);
    KV(w, "display", d.title);
    w.EndObject();
    w.EndObject();
    if (!d.proposals.empty()) {
      w.Key("suggestions");
      w.StartArray();
      for (const Proposal& p : d.proposals) {
        w.StartObject();
        KV(w, "label", p.label);
        KV(w, "uuid", NewUuidV7());
        w.Key("isRecommended");
        w.Bool(p.recommended);
        w.Key("actions");
        w.StartArray();
        for (const ProposedAction& a : p.actions) {
          w.StartObject();
          KV(w, "type", a.is_delete ? "delete" : "create");
          KV(w, "description", a.description);
          if (a.is_delete) {
            KV(w, "resourceId", a.resource_id);
          } else {
            w.Key("resource");
            WriteResource(w, d, p, a.order);
          }
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
      }
      w.EndArray();
      KV(w, "selectionBehavior", d.alternatives ? "at-most-one" : "any");
    }
    // Every card that interrupts (warning, critical) or proposes can be dismissed with a reason,
    // so feedback analytics keep exactly the cards that most need them.
    if (!d.proposals.empty() || d.indicator == "warning" || d.indicator == "critical") {
      w.Key("overrideReasons");
      w.StartArray();
      for (const Coding& r : k_.override_reasons) WriteCoding(w, r);
      w.EndArray();
    }
    if (!links.empty()) {
      w.Key("links");
      w.StartArray();
      for (const Citation* c : links) {
        w.StartObject();
        KV(w, "label", Cut(c->label.empty() ? c->text : c->label, 80));
        KV(w, "url", c->url);
        KV(w, "type", "absolute");
        w.EndObject();
      }
      w.EndArray();
    }
    WriteEvidence(w, d);
    w.EndObject();
  }

  // ---- the evidence trail (README "The evidence extension") ------------------------------------
  void WriteEvidenceItem(W& w, const Evidence& e) {
    w.StartObject();
    KV(w, "reference", e.ref);
    if (!e.display.empty()) KV(w, "display", e.display);
    if (e.date) KV(w, "date", IsoDate(*e.date));
    KV(w, "origin", e.quote.empty() ? "coded" : "text");
    if (!e.quote.empty()) KV(w, "quote", e.quote);
    if (e.possible) {
      w.Key("possible");
      w.Bool(true);
    }
    if (e.history) {
      w.Key("history");
      w.Bool(true);
    }
    KV(w, "certainty", fhir::CertaintyName(e.certainty));
    if (!e.note.empty()) KV(w, "note", e.note);
    w.EndObject();
  }

  void WriteFindings(W& w, const std::vector<int>& findings) {
    w.StartArray();
    std::set<int> seen;
    for (int f : findings) {
      if (!seen.insert(f).second) continue;
      const FindingState& s = facts_.findings[f];
      w.StartObject();
      KV(w, "finding", k_.findings[f].id);
      KV(w, "display", k_.findings[f].display);
      KV(w, "status", s.present ? "present" : s.absent ? "documented-absent" : "not-recorded");
      if (!s.evidence.empty()) {
        w.Key("evidence");
        w.StartArray();
        for (const Evidence& e : s.evidence) WriteEvidenceItem(w, e);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
  }

  void WriteGaps(W& w) {
    if (context_.gaps.empty() && facts_.notes.empty()) return;
    w.Key("dataGaps");
    w.StartArray();
    for (const DataGap& g : context_.gaps) {
      w.StartObject();
      if (!g.key.empty()) KV(w, "prefetchKey", g.key);
      KV(w, "detail", g.technical);
      w.EndObject();
    }
    for (const std::string& n : facts_.notes) {
      w.StartObject();
      KV(w, "detail", n);
      w.EndObject();
    }
    w.EndArray();
  }

  void WriteEvidence(W& w, const Decision& d) {
    w.Key("extension");
    w.StartObject();
    w.Key(k_.extension_key.c_str());
    w.StartObject();
    KV(w, "knowledgeVersion", k_.knowledge_version);
    KV(w, "packVersion", k_.pack_version);
    KV(w, "ruleId", d.rule_id);
    KV(w, "evaluatedAt", context_.now_text);
    if (!d.tier.empty()) KV(w, "tier", d.tier);
    // What opened the relevance gate (knowledge.md §0): every card names it.
    std::vector<int> gate;
    for (const TraceLine& line : decisions_.gate_trace) {
      if (!line.met) continue;
      for (int f : line.findings) {
        if (facts_.findings[f].present) gate.push_back(f);
      }
    }
    if (!gate.empty()) {
      w.Key("gate");
      WriteFindings(w, gate);
    }
    // No empty arrays (the golden runner and some clients refuse them): each array below is
    // written only when it has members.
    if (!d.trace.empty()) {
      w.Key("criteria");
      w.StartArray();
    }
    for (const TraceLine& line : d.trace) {
      w.StartObject();
      KV(w, "label", line.label);
      w.Key("met");
      w.Bool(line.met);
      w.Key("depth");
      w.Int(line.depth);
      if (!line.findings.empty()) {
        w.Key("findings");
        WriteFindings(w, line.findings);
      }
      w.EndObject();
    }
    if (!d.trace.empty()) w.EndArray();
    if (!d.would_decide.empty()) {
      w.Key("wouldDecide");
      WriteFindings(w, d.would_decide);
    }
    if (!d.problems.empty()) {
      w.Key("draft");
      w.StartObject();
      if (!d.draft_ref.empty()) KV(w, "reference", d.draft_ref);
      KV(w, "display", d.draft_name);
      w.Key("problems");
      w.StartArray();
      for (const std::string& p : d.problems) Str(w, p);
      w.EndArray();
      w.EndObject();
    }
    if (!d.not_suggested.empty()) {
      w.Key("notSuggested");
      w.StartArray();
      for (const NotSuggested& ns : d.not_suggested) {
        w.StartObject();
        KV(w, "suggestion", ns.label);
        KV(w, "reason", ns.reason);
        w.EndObject();
      }
      w.EndArray();
    }
    WriteGaps(w);
    if (!d.citations.empty()) {
      w.Key("citations");
      w.StartArray();
    }
    for (int ci : d.citations) {
      const Citation& c = k_.citations[ci];
      w.StartObject();
      KV(w, "id", c.id);
      KV(w, "text", c.text);
      if (!c.url.empty()) KV(w, "url", c.url);
      w.EndObject();
    }
    if (!d.citations.empty()) w.EndArray();
    w.EndObject();
    w.EndObject();
  }

  const Knowledge& k_;
  const Facts& facts_;
  const Decisions& decisions_;
  const RenderContext& context_;
};

}  // namespace

std::string RenderResponse(const Knowledge& k, const Facts& facts, const Decisions& decisions,
                           const RenderContext& context) {
  return Renderer(k, facts, decisions, context).Render();
}

}  // namespace cephalgia::rules::internal
