// The generic engine: facts -> red flags -> classification -> ladder -> safety -> cards, and
// the order-sign checks. Everything clinical comes from the compiled knowledge; this file only
// knows the shape of a CDS Hooks response.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_set>

#include "cephalgia/fhir/date_time.h"
#include "cephalgia/fhir/resource_index.h"
#include "cephalgia/json.h"
#include "cephalgia/rules/headache_engine.h"
#include "cephalgia/uuid.h"
#include "facts.h"
#include "knowledge.h"

namespace cephalgia::rules {

using internal::Expr;
using internal::Facts;
using internal::Knowledge;
using internal::TraceLine;

namespace {

constexpr std::size_t kMaxRequestBytes = std::size_t{64} << 20;
constexpr std::string_view kDraftOrigin = "context.draftOrders";
constexpr std::size_t kValueBufferBytes =
    256 * 1024;  // per thread; larger requests fall back to malloc
constexpr std::size_t kParseBufferBytes = 16 * 1024;

struct Action {
  bool is_delete = false;
  int order = -1;           // create: index into Knowledge::orders
  std::string resource_id;  // delete
  std::string description;
};

struct Suggestion {
  std::string label;
  bool recommended = true;
  std::vector<Action> actions;
};

struct Card {
  std::string rule_id, topic_display, summary, indicator, detail, priority, reason_text;
  std::vector<std::string> reason_refs;
  std::vector<Suggestion> suggestions;
  bool alternatives = false;
};

std::string_view CertaintyText(fhir::Certainty c) {
  switch (c) {
    case fhir::Certainty::kConfirmed:
      return "confirmed";
    case fhir::Certainty::kProvisional:
      return "provisional";
    case fhir::Certainty::kText:
      return "from text, lower certainty";
  }
  return "";
}

// Per-evaluation state shared by the card builders.
class Evaluation {
 public:
  // `host_reported_gaps`: the host said some prefetch was unavailable or partial (as opposed to
  // keys the request simply did not carry), which alone justifies a data_incomplete card.
  Evaluation(const Knowledge& k, Facts facts, std::string patient_id, std::string now_text,
             std::vector<std::string> gaps, bool host_reported_gaps)
      : k_(k),
        facts_(std::move(facts)),
        patient_id_(std::move(patient_id)),
        now_text_(std::move(now_text)),
        gaps_(std::move(gaps)),
        host_reported_gaps_(host_reported_gaps) {
    criterion_cache_.assign(k_.criteria.size(), -1);
    diagnoses_.assign(k_.diagnoses.size(), 0);
    env_.knowledge = &k_;
    env_.facts = &facts_;
    env_.criterion_cache = &criterion_cache_;
    env_.diagnoses = &diagnoses_;
  }

  // knowledge.md §0: the service speaks only about a current headache. A closed gate answers
  // with no card at all (no red flag, safety or "data incomplete" card): history alone is not a
  // reason to interrupt a clinician who opened an unrelated chart.
  bool GateOpen() {
    gate_trace_.clear();
    bool open = internal::EvalTraced(k_.relevance.gate, env_, &gate_trace_);
    return open;
  }

  void PatientView() {
    if (!GateOpen()) return;
    RedFlags(/*emit=*/true);
    bool emergency = env_.max_red_flag_tier >= static_cast<int>(internal::Tier::kEmergency);
    // Under an EMERGENCY red flag the emergency is the message (§c.0, §e.4); the classification
    // and its ladder are still evaluated, so an order-sign check stays consistent, but not shown.
    bool show_classification =
        !(k_.has_classification_suppress && internal::Eval(k_.classification_suppress, env_));
    Classify(/*emit=*/show_classification);
    if (!(k_.has_safety_suppress && internal::Eval(k_.safety_suppress, env_))) Safety();
    if (cards_.empty() && host_reported_gaps_ && !emergency) DataIncompleteCard();
  }

  void OrderSign() {
    if (!GateOpen()) return;
    RedFlags(/*emit=*/false);
    Classify(/*emit=*/false);
    // One card per draft order: the first rule (in order-sign.json order) that applies speaks
    // for it, so an opioid draft is not also an overuse card.
    for (const internal::DraftOrder& d : facts_.drafts) {
      for (const internal::OrderSignRule& r : k_.order_sign_rules) {
        if (CheckDraft(d, r)) break;
      }
    }
  }

  std::string Serialize() {
    ApplySafetyFilter();
    std::size_t estimate = 256;
    for (const Card& c : cards_) estimate += c.detail.size() + 1024 + 1024 * c.suggestions.size();
    rapidjson::StringBuffer sb(nullptr, estimate);
    json::StringWriter w(sb);
    w.StartObject();
    w.Key("cards");
    w.StartArray();
    for (const Card& c : cards_) WriteCard(w, c);
    w.EndArray();
    // The knowledge version is in every response, also one without cards (CDS Hooks reserves
    // `extension` on every object for exactly this).
    WriteVersionExtension(w, /*rule_id=*/{});
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }

 private:
  // ---- red flags ---------------------------------------------------------------------------
  void RedFlags(bool emit) {
    for (const internal::RedFlag& f : k_.red_flags) {
      if (!internal::Eval(f.when, env_)) continue;
      const internal::RedFlagVariant* variant = nullptr;
      for (const internal::RedFlagVariant& v : f.variants) {
        if (internal::Eval(v.when, env_)) {
          variant = &v;
          break;
        }
      }
      // A variant may raise the tier, never lower it (a red flag is never weakened).
      internal::Tier tier = variant != nullptr ? std::max(variant->tier, f.tier) : f.tier;
      env_.max_red_flag_tier = std::max(env_.max_red_flag_tier, static_cast<int>(tier));
      if (!emit) continue;
      const internal::TierDef& td = k_.tiers[static_cast<int>(tier)];
      Card c;
      c.rule_id = f.id;
      c.topic_display = f.title;
      c.summary = variant != nullptr ? variant->summary : f.summary;
      c.indicator = td.indicator;
      c.priority = td.priority;
      c.reason_text = "Red flag: " + f.title + " (" + td.label + ")";
      std::vector<TraceLine> trace;
      internal::EvalTraced(f.when, env_, &trace);
      if (variant != nullptr) internal::EvalTraced(variant->when, env_, &trace);
      std::string d = "**Red flag: " + f.title + "** (" + td.label + ")\n\n" + f.detail + "\n\n";
      if (variant != nullptr && !variant->detail.empty()) d += variant->detail + "\n\n";
      d += "**Evidence**\n" + RenderTrace(trace, &c.reason_refs) + GateEvidence();
      std::vector<int> orders = td.always_orders;
      auto add = [&orders](const std::vector<int>& more) {
        for (int o : more) {
          if (std::find(orders.begin(), orders.end(), o) == orders.end()) orders.push_back(o);
        }
      };
      add(f.orders);
      if (variant != nullptr) add(variant->orders);
      for (int o : orders) c.suggestions.push_back(CreateSuggestion(o, true));
      c.detail = d + Footer(f.citations);
      cards_.push_back(std::move(c));
    }
  }

  // ---- classification and ladder -----------------------------------------------------------
  void Classify(bool emit) {
    bool any = false;
    for (std::size_t i = 0; i < k_.diagnoses.size(); ++i) {
      const internal::Diagnosis& dx = k_.diagnoses[i];
      bool explicit_dx = internal::Eval(dx.explicit_dx, env_);
      bool criteria = internal::Eval(dx.criteria, env_);
      diagnoses_[i] = (explicit_dx || criteria) ? 1 : 0;
      if (!diagnoses_[i]) continue;
      any = true;
      if (!emit) continue;
      Card c;
      c.rule_id = dx.id;
      c.topic_display = dx.title;
      c.summary = dx.summary;
      c.indicator = k_.classification_indicator;
      c.priority = "routine";
      c.reason_text = dx.title;
      std::vector<TraceLine> trace;
      internal::EvalTraced(dx.explicit_dx, env_, &trace);
      std::vector<TraceLine> crit;
      internal::EvalTraced(dx.criteria, env_, &crit);
      std::string d =
          "**" + dx.title + "** (" +
          (explicit_dx ? std::string("clinician-coded diagnosis") : std::string("criteria met")) +
          ")\n\n" + dx.detail + "\n\n**Clinician-coded diagnosis**\n" +
          RenderTrace(trace, &c.reason_refs) + "\n**ICHD-3 criteria**\n" +
          RenderTrace(crit, explicit_dx ? nullptr : &c.reason_refs);
      d += "\n" + Ladder(dx, &c);
      c.detail = d + GateEvidence() + Footer(dx.citations);
      cards_.push_back(std::move(c));
    }
    if (!any && emit && internal::Eval(k_.undetermined.when, env_)) UndeterminedCard();
  }

  void UndeterminedCard() {
    const internal::Undetermined& u = k_.undetermined;
    Card c;
    c.rule_id = u.id;
    c.topic_display = u.title;
    c.summary = u.summary;
    c.indicator = k_.classification_indicator;
    std::string d = "**" + u.title + "**\n\n" + u.detail + "\n\n";
    for (int f : u.deciding_findings) {
      const internal::FindingState& s = facts_.findings[f];
      d += "- " + k_.findings[f].display + ": ";
      if (s.present)
        d += "present (" + EvidenceList(s) + ")";
      else if (s.absent)
        d += "documented absent (" + EvidenceList(s) + ")";
      else
        d += "**not documented**";
      d += "\n";
    }
    c.detail = d + GateEvidence() + Footer(u.citations);
    cards_.push_back(std::move(c));
  }

  // Appends the ladder's suggestions to `c`; returns the Markdown describing the steps.
  std::string Ladder(const internal::Diagnosis& dx, Card* c) {
    const internal::Ladder& ladder = k_.ladders[dx.ladder];
    if (ladder.steps.empty())
      return "**Treatment**: no medicine or referral is suggested for this diagnosis.\n";
    if (internal::Eval(k_.ladder_suppress, env_)) {
      return "**Treatment ladder suppressed**: an EMERGENCY red flag must be handled first "
             "(knowledge.md §c.0).\n";
    }
    std::string d = "**Treatment ladder**\n";
    // Alternatives within one step (acetaminophen or an NSAID) are "at most one"; suggestions
    // from different steps that apply together (a medicine and a referral) can all be taken, so
    // a card fed by several steps is "any" (cds-resp-1: at-most-one allows one recommendation).
    int contributing_steps = 0;
    for (int si : ladder.steps) {
      const internal::LadderStep& st = k_.steps[si];
      bool applies = internal::Eval(st.when, env_);
      d += std::string("- ") + (applies ? "[x] " : "[ ] ") + st.title +
           (applies ? " (applies)" : " (not now)") + "\n";
      if (!applies) continue;
      bool first = true;
      for (int o : st.orders) {
        if (!suggested_.insert(o).second) {
          d += "  - " + k_.orders[o].label + ": already suggested on another card\n";
          continue;
        }
        Suggestion s = CreateSuggestion(o, !st.alternatives || first);
        first = false;
        c->suggestions.push_back(std::move(s));
      }
      if (!first) ++contributing_steps;
      if (st.alternatives && !first) c->alternatives = true;
    }
    if (contributing_steps > 1) c->alternatives = false;
    return d;
  }

  // ---- safety ------------------------------------------------------------------------------
  void Safety() {
    for (const internal::SafetyCard& s : k_.safety_cards) {
      if (!internal::Eval(s.when, env_)) continue;
      Card c;
      c.rule_id = s.id;
      c.topic_display = s.title;
      c.summary = s.summary;
      c.indicator = k_.safety_indicator;
      std::vector<TraceLine> trace;
      internal::EvalTraced(s.when, env_, &trace);
      std::string d =
          "**" + s.title + "**\n\n" + s.detail + "\n\n**Reason**\n" + RenderTrace(trace, nullptr);
      c.detail = d + GateEvidence() + Footer(s.citations);
      cards_.push_back(std::move(c));
    }
  }

  void DataIncompleteCard() {
    Card c;
    c.rule_id = "data_incomplete";
    c.topic_display = "Patient data incomplete";
    c.summary = "Headache rules ran on incomplete data: some findings may be missing";
    c.indicator = "info";
    c.detail =
        "No headache card fired, but part of the patient record was not available, so a red flag "
        "or contraindication may be missing.\n\n" +
        Footer({});
    cards_.push_back(std::move(c));
  }

  // ---- order-sign --------------------------------------------------------------------------
  std::optional<std::string> OveruseProjection(const internal::DraftOrder& d) const {
    if (d.overuse_class < 0) return std::nullopt;
    const internal::OveruseClass& oc = k_.overuse_classes[d.overuse_class];
    double existing = 0, all = 0;
    for (const internal::MedUse& u : facts_.med_uses) {
      if (!u.current || u.overuse_class < 0 || !u.days_per_month) continue;
      all += *u.days_per_month;
      if (u.overuse_class == d.overuse_class) existing += *u.days_per_month;
    }
    double add = d.days_per_month.value_or(0);
    double projected = std::min(30.0, existing + add);
    double projected_all = std::min(30.0, all + add);
    if (projected >= oc.min_days_per_month || projected_all >= k_.overuse_combined_days) {
      // Built as a std::string (never a fixed buffer): the medicine name comes from the record
      // and may be long and non-ASCII; cutting it could split a UTF-8 character.
      auto num = [](double v) { return std::to_string(static_cast<long long>(std::lround(v))); };
      std::string s = d.name + ": about " + num(existing) + " days/month already, " +
                      (d.days_per_month ? "about " + num(add) + " more days with"
                                        : std::string("unknown extra days with")) +
                      " this order; limit " + num(oc.min_days_per_month) + " for " + oc.display +
                      " (" + num(k_.overuse_combined_days) + " across classes).";
      return s;
    }
    return std::nullopt;
  }

  // Whether the current use of acute headache medicines has already lasted `days` (a new
  // course alone cannot reach the > 3 months ICHD-3 8.2 needs).
  bool ExistingUseLasted(int days) const {
    for (const internal::MedUse& u : facts_.med_uses) {
      if (u.current && u.overuse_class >= 0 && u.duration_days && *u.duration_days >= days)
        return true;
    }
    return false;
  }

  // Emits the card of rule `r` for draft `d` when it applies; returns whether it did.
  bool CheckDraft(const internal::DraftOrder& d, const internal::OrderSignRule& r) {
    std::string why;
    if (r.draft_value_set >= 0) {
      if (std::find(d.value_sets.begin(), d.value_sets.end(), r.draft_value_set) ==
          d.value_sets.end())
        return false;
    }
    if (r.draft_overuse) {
      if (r.existing_use_min_days > 0 && !ExistingUseLasted(r.existing_use_min_days)) return false;
      std::optional<std::string> p = OveruseProjection(d);
      if (!p) return false;
      why = *p;
    }
    if (r.has_when && !internal::Eval(r.when, env_)) return false;
    Card c;
    c.rule_id = r.id;
    c.topic_display = r.title;
    c.summary = r.summary;
    c.indicator = r.indicator;
    c.priority = "routine";
    c.reason_text = r.title;
    std::string d_text = "**" + r.title + "**\n\nDraft order: " +
                         (d.ref.empty() ? d.resource_type + " without id" : d.ref) + " (" + d.name +
                         ")\n\n" + r.detail + "\n";
    if (!why.empty()) d_text += "\n" + why + "\n";
    if (r.has_when) {
      std::vector<TraceLine> trace;
      internal::EvalTraced(r.when, env_, &trace);
      std::string t = RenderTrace(trace, &c.reason_refs);
      if (!t.empty()) d_text += "\n**Evidence**\n" + t;
    }
    std::vector<int> proposals;
    if (r.propose_ladder) proposals = CurrentLadderOrders();
    Action del;
    bool can_delete = r.delete_draft && !d.ref.empty();
    if (can_delete) {
      del.is_delete = true;
      del.resource_id = d.ref;
      del.description = "Remove the draft order " + d.name;
    }
    for (int o : proposals) {
      Suggestion s;
      s.label = (can_delete ? "Replace with: " : "Instead: ") + k_.orders[o].label;
      s.recommended = c.suggestions.empty();
      if (can_delete) s.actions.push_back(del);
      Action a;
      a.order = o;
      a.description = k_.orders[o].label;
      s.actions.push_back(a);
      c.suggestions.push_back(std::move(s));
    }
    if (proposals.empty() && can_delete) {
      Suggestion s;
      s.label = "Remove the draft " + d.name;
      s.actions.push_back(del);
      c.suggestions.push_back(std::move(s));
    }
    if (c.suggestions.size() > 1) c.alternatives = true;
    c.detail = d_text + GateEvidence() + Footer(r.citations);
    cards_.push_back(std::move(c));
    return true;
  }

  // Orders of the ladder steps that apply now (the diagnoses' ladders, else the first ladder).
  std::vector<int> CurrentLadderOrders() {
    if (internal::Eval(k_.ladder_suppress, env_)) return {};
    std::vector<int> ladders;
    for (std::size_t i = 0; i < k_.diagnoses.size(); ++i) {
      if (diagnoses_[i]) ladders.push_back(k_.diagnoses[i].ladder);
    }
    if (ladders.empty() && !k_.ladders.empty()) ladders.push_back(0);
    std::vector<int> out;
    for (int l : ladders) {
      for (int si : k_.ladders[l].steps) {
        const internal::LadderStep& st = k_.steps[si];
        if (!internal::Eval(st.when, env_)) continue;
        for (int o : st.orders) {
          if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
        }
      }
    }
    return out;
  }

  // ---- the final safety filter ------------------------------------------------------------
  // Defence in depth: whatever the data above proposed, no suggestion may create a restricted
  // order (manipulation, opioids, imaging without a red flag, contraindicated drugs) or
  // something the patient already has active.
  std::optional<std::string> Blocked(int order) {
    const internal::OrderDef& o = k_.orders[order];
    for (const internal::Restriction& r : k_.restrictions) {
      if (!k_.value_sets.ContainsCode(k_.value_set_ids[r.value_set], o.code.system, o.code.code))
        continue;
      bool applies = true;
      if (r.has_when) applies = internal::Eval(r.when, env_);
      if (applies && r.has_unless) applies = !internal::Eval(r.unless, env_);
      if (applies) return r.reason;
    }
    if (o.active_value_set >= 0 && facts_.active_value_sets[o.active_value_set]) {
      return "the patient already has an active " + k_.value_set_ids[o.active_value_set] +
             " order or medicine";
    }
    std::string key = std::string(fhir::CanonicalSystem(o.code.system)) + "|" +
                      fhir::NormalizeCode(fhir::IdentifySystem(o.code.system), o.code.code);
    if (facts_.active_codes.count(key)) return "already active for this patient";
    return std::nullopt;
  }

  void ApplySafetyFilter() {
    for (Card& c : cards_) {
      std::string removed;
      std::vector<Suggestion> kept;
      for (Suggestion& s : c.suggestions) {
        std::vector<Action> actions;
        bool dropped_create = false;
        for (Action& a : s.actions) {
          if (!a.is_delete) {
            if (auto why = Blocked(a.order)) {
              removed += "- " + k_.orders[a.order].label + ": " + *why + "\n";
              dropped_create = true;
              continue;
            }
          }
          actions.push_back(std::move(a));
        }
        // A replacement whose create action was blocked is dropped whole; a plain delete stays.
        if (actions.empty() ||
            (dropped_create && actions.size() == 1 && actions[0].is_delete && s.actions.size() > 1))
          continue;
        s.actions = std::move(actions);
        kept.push_back(std::move(s));
      }
      if (!kept.empty() && std::none_of(kept.begin(), kept.end(),
                                        [](const Suggestion& s) { return s.recommended; })) {
        kept[0].recommended = true;
      }
      c.suggestions = std::move(kept);
      if (!removed.empty()) {
        std::size_t footer = c.detail.rfind("\n---\n");
        std::string block = "\n**Not suggested (safety rules)**\n" + removed;
        if (footer == std::string::npos)
          c.detail += block;
        else
          c.detail.insert(footer, block);
      }
    }
  }

  // ---- rendering ---------------------------------------------------------------------------
  // What opened the relevance gate (§0: every card names it).
  std::string GateEvidence() const {
    std::string out;
    std::set<int> seen;
    for (const TraceLine& line : gate_trace_) {
      if (!line.met) continue;
      for (int f : line.findings) {
        const internal::FindingState& s = facts_.findings[f];
        if (!s.present || !seen.insert(f).second) continue;
        if (!out.empty()) out += "; ";
        out += EvidenceList(s);
      }
    }
    if (out.empty()) return {};
    return "\n**Current headache** (why this service speaks): " + out + "\n";
  }

  std::string EvidenceList(const internal::FindingState& s) const {
    std::string out;
    std::size_t n = 0;
    for (const internal::Evidence& e : s.evidence) {
      if (n++ == 6) {
        out += ", ...";
        break;
      }
      if (!out.empty()) out += "; ";
      out += "`" + e.ref + "`";
      if (!e.note.empty()) out += " " + e.note;
      out += " [" + std::string(CertaintyText(e.certainty)) + "]";
    }
    return out;
  }

  std::string RenderTrace(const std::vector<TraceLine>& trace,
                          std::vector<std::string>* refs) const {
    std::string out;
    for (const TraceLine& line : trace) {
      out.append(static_cast<std::size_t>(line.depth) * 2, ' ');
      out += line.met ? "- [x] " : "- [ ] ";
      out += std::string(line.label);
      out += line.met ? " (met)" : " (not met)";
      std::string ev;
      std::set<int> seen;
      for (int f : line.findings) {
        if (!seen.insert(f).second) continue;
        const internal::FindingState& s = facts_.findings[f];
        if (s.evidence.empty()) continue;
        if (!ev.empty()) ev += "; ";
        ev += (s.present ? "" : "documented absent: ") + EvidenceList(s);
        if (refs != nullptr && s.present && line.met) {
          for (const internal::Evidence& e : s.evidence) {
            if (std::find(refs->begin(), refs->end(), e.ref) == refs->end()) refs->push_back(e.ref);
          }
        }
      }
      if (!ev.empty())
        out += ": " + ev;
      else if (!line.met)
        out += ": not documented";
      out += "\n";
    }
    return out;
  }

  std::string Footer(const std::vector<int>& citations) const {
    std::string d;
    if (!gaps_.empty() || !facts_.notes.empty()) {
      d += "\n**Data not available or incomplete** (findings from it may be missing)\n";
      for (const std::string& g : gaps_) d += "- " + g + "\n";
      for (const std::string& n : facts_.notes) d += "- " + n + "\n";
    }
    if (!citations.empty()) {
      d += "\n**Sources**\n";
      for (int ci : citations) {
        const internal::Citation& c = k_.citations[ci];
        d += "- " + c.text;
        if (!c.url.empty()) d += " <" + c.url + ">";
        d += "\n";
      }
    }
    d += "\n---\n_" + k_.source_label + ", knowledge base " + k_.pack_id + " " +
         k_.knowledge_version + ", evaluated at " + now_text_ + "._";
    return d;
  }

  Suggestion CreateSuggestion(int order, bool recommended) {
    Suggestion s;
    s.label = k_.orders[order].label;
    s.recommended = recommended;
    Action a;
    a.order = order;
    a.description = (k_.orders[order].medication ? "Propose " : "Order ") + k_.orders[order].label;
    s.actions.push_back(std::move(a));
    return s;
  }

  using W = json::StringWriter;
  static void Str(W& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  static void KV(W& w, const char* key, std::string_view value) {
    w.Key(key);
    Str(w, value);
  }

  void WriteCoding(W& w, const internal::Coding& c) {
    w.StartObject();
    KV(w, "system", c.system);
    KV(w, "code", c.code);
    KV(w, "display", c.display);
    w.EndObject();
  }

  void WriteResource(W& w, const Card& c, int order) {
    const internal::OrderDef& o = k_.orders[order];
    w.StartObject();
    KV(w, "resourceType", o.medication ? "MedicationRequest" : "ServiceRequest");
    KV(w, "status", "draft");
    KV(w, "intent", "proposal");
    KV(w, "priority", c.priority.empty() ? "routine" : c.priority);
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
    KV(w, "reference", "Patient/" + patient_id_);
    w.EndObject();
    if (!c.reason_text.empty()) {
      w.Key("reasonCode");
      w.StartArray();
      w.StartObject();
      KV(w, "text", c.reason_text);
      w.EndObject();
      w.EndArray();
    }
    bool any_ref = false;
    for (const std::string& r : c.reason_refs) {
      if (r.rfind("Condition/", 0) != 0 && r.rfind("Observation/", 0) != 0) continue;
      if (!any_ref) {
        w.Key("reasonReference");
        w.StartArray();
        any_ref = true;
      }
      w.StartObject();
      KV(w, "reference", r);
      w.EndObject();
    }
    if (any_ref) w.EndArray();
    std::string note =
        o.note.empty() ? "Suggested by " + k_.source_label + " (" + c.rule_id + ")" : o.note;
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

  void WriteCard(W& w, const Card& c) {
    w.StartObject();
    // Time-ordered: the host stores and indexes every card uuid it issues (uuid.h says why).
    KV(w, "uuid", NewUuidV7());
    KV(w, "summary", c.summary);
    KV(w, "detail", c.detail);
    KV(w, "indicator", c.indicator);
    w.Key("source");
    w.StartObject();
    KV(w, "label", k_.source_label);
    if (!k_.source_url.empty()) KV(w, "url", k_.source_url);
    w.Key("topic");
    w.StartObject();
    KV(w, "system", k_.rule_system);
    KV(w, "code", c.rule_id);
    KV(w, "display", c.topic_display);
    w.EndObject();
    w.EndObject();
    if (!c.suggestions.empty()) {
      w.Key("suggestions");
      w.StartArray();
      for (const Suggestion& s : c.suggestions) {
        w.StartObject();
        KV(w, "label", s.label);
        KV(w, "uuid", NewUuidV7());
        w.Key("isRecommended");
        w.Bool(s.recommended);
        w.Key("actions");
        w.StartArray();
        for (const Action& a : s.actions) {
          w.StartObject();
          KV(w, "type", a.is_delete ? "delete" : "create");
          KV(w, "description", a.description);
          if (a.is_delete) {
            KV(w, "resourceId", a.resource_id);
          } else {
            w.Key("resource");
            WriteResource(w, c, a.order);
          }
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
      }
      w.EndArray();
      KV(w, "selectionBehavior", c.alternatives ? "at-most-one" : "any");
      w.Key("overrideReasons");
      w.StartArray();
      for (const internal::Coding& r : k_.override_reasons) WriteCoding(w, r);
      w.EndArray();
    }
    WriteVersionExtension(w, c.rule_id);
    w.EndObject();
  }

  // "extension": {<pack key>: {knowledgeVersion, packVersion[, ruleId]}}.
  void WriteVersionExtension(W& w, std::string_view rule_id) {
    w.Key("extension");
    w.StartObject();
    w.Key(k_.extension_key.c_str());
    w.StartObject();
    KV(w, "knowledgeVersion", k_.knowledge_version);
    KV(w, "packVersion", k_.pack_version);
    if (!rule_id.empty()) KV(w, "ruleId", rule_id);
    w.EndObject();
    w.EndObject();
  }

  const Knowledge& k_;
  Facts facts_;
  std::string patient_id_;
  std::string now_text_;
  std::vector<std::string> gaps_;
  bool host_reported_gaps_ = false;
  std::vector<int8_t> criterion_cache_;
  std::vector<int8_t> diagnoses_;
  internal::EvalEnv env_;
  std::vector<Card> cards_;
  std::unordered_set<int> suggested_;
  std::vector<TraceLine> gate_trace_;
};

}  // namespace

struct HeadacheEngine::Impl {
  std::unique_ptr<Knowledge> k;
  std::string descriptor;
};

HeadacheEngine::HeadacheEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HeadacheEngine::~HeadacheEngine() = default;

const std::string& HeadacheEngine::knowledge_version() const { return impl_->k->knowledge_version; }
std::string HeadacheEngine::Describe() const { return impl_->descriptor; }

std::string HeadacheDataDir(std::string_view pack_directory) {
  std::string dir(pack_directory.empty() ? "." : pack_directory);
  return dir + "/headache";
}

Result<std::unique_ptr<HeadacheEngine>> HeadacheEngine::Load(const std::string& data_dir) {
  auto impl = std::make_unique<Impl>();
  CEPHALGIA_ASSIGN_OR_RETURN(impl->k, internal::LoadKnowledge(data_dir));
  const Knowledge& k = *impl->k;
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("packId");
  w.String(k.pack_id.c_str());
  w.Key("packVersion");
  w.String(k.pack_version.c_str());
  w.Key("knowledgeVersion");
  w.String(k.knowledge_version.c_str());
  w.Key("services");
  w.StartArray();
  for (const internal::Service& s : k.services) {
    w.StartObject();
    w.Key("id");
    w.String(s.id.c_str());
    w.Key("hook");
    w.String(s.hook.c_str());
    w.Key("title");
    w.String(s.title.c_str());
    w.Key("description");
    w.String(s.description.c_str());
    w.Key("prefetch");
    w.StartObject();
    for (const auto& [key, tmpl] : s.prefetch) {
      w.Key(key.c_str());
      w.String(tmpl.c_str());
    }
    w.EndObject();
    w.Key("requiredPrefetch");
    w.StartArray();
    for (const std::string& r : s.required_prefetch) w.String(r.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  impl->descriptor.assign(sb.GetString(), sb.GetSize());
  return std::unique_ptr<HeadacheEngine>(new HeadacheEngine(std::move(impl)));
}

Result<std::string> HeadacheEngine::Evaluate(const plugin::EvaluateCall& call) const {
  const Knowledge& k = *impl_->k;
  const internal::Service* service = nullptr;
  for (const internal::Service& s : k.services) {
    if (s.id == call.service_id) service = &s;
  }
  if (service == nullptr) return NotFound("unknown service '" + std::string(call.service_id) + "'");

  fhir::Instant now;
  std::string now_text;
  if (!call.now.empty()) {
    Result<fhir::DateTime> parsed = fhir::DateTime::Parse(call.now, fhir::DateKind::kDateTime);
    if (!parsed.ok())
      return InvalidArgument("option 'now' is not a FHIR dateTime: " + parsed.status().message(),
                             "now");
    now = parsed->start();
    now_text = call.now;
  } else {
    now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    now_text = fhir::DateTime::FromInstant(now).ToString();
  }

  // Parsed in situ into per-thread buffers that are reused across calls: the request is parsed
  // on every evaluation and this keeps the allocator out of the hot path (same checks as
  // json::ParseUntrusted: UTF-8 and NUL checked up front, depth-limited, size-capped).
  if (call.request_json.size() > kMaxRequestBytes) {
    return Status(StatusCode::kPayloadTooLarge,
                  "request of " + std::to_string(call.request_json.size()) +
                      " bytes exceeds the limit of " + std::to_string(kMaxRequestBytes));
  }
  thread_local std::vector<char> text;
  thread_local std::unique_ptr<char[]> value_buffer(new char[kValueBufferBytes]);
  thread_local std::unique_ptr<char[]> parse_buffer(new char[kParseBufferBytes]);
  rapidjson::MemoryPoolAllocator<> value_alloc(value_buffer.get(), kValueBufferBytes);
  rapidjson::MemoryPoolAllocator<> parse_alloc(parse_buffer.get(), kParseBufferBytes);
  rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                             rapidjson::MemoryPoolAllocator<>>
      doc(&value_alloc, kParseBufferBytes, &parse_alloc);
  CEPHALGIA_RETURN_IF_ERROR(json::ParseInsituInto(doc, call.request_json, text));
  if (!doc.IsObject()) return InvalidArgument("the CDS Hooks request must be a JSON object", "$");
  const rapidjson::Value* context = json::GetObject(doc, "context");
  if (context == nullptr) return InvalidArgument("context is required", "context");
  std::optional<std::string_view> patient_id = json::GetString(*context, "patientId");
  if (!patient_id || patient_id->empty())
    return InvalidArgument("context.patientId is required", "context.patientId");
  // A FHIR id ([A-Za-z0-9-.]{1,64}): it becomes `Patient/<id>` in every suggested resource, so a
  // value with slashes or other characters must not pass through.
  if (patient_id->size() > 64 || !std::all_of(patient_id->begin(), patient_id->end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.';
      })) {
    return InvalidArgument("context.patientId is not a FHIR id ([A-Za-z0-9-.]{1,64})",
                           "context.patientId");
  }

  fhir::ResourceIndex index(nullptr);
  std::vector<std::string> gaps;
  const rapidjson::Value* prefetch = json::GetObject(doc, "prefetch");
  for (const auto& g : call.unavailable_prefetch) {
    gaps.push_back("prefetch `" + g.key + "` unavailable" +
                   (g.reason.empty() ? "" : ": " + g.reason));
  }
  for (const auto& g : call.partial_prefetch) {
    gaps.push_back("prefetch `" + g.key + "` partial" + (g.reason.empty() ? "" : ": " + g.reason));
  }
  if (prefetch != nullptr) {
    for (auto m = prefetch->MemberBegin(); m != prefetch->MemberEnd(); ++m) {
      if (m->value.IsNull()) continue;
      index.Add(m->value, std::string_view(m->name.GetString(), m->name.GetStringLength()));
    }
  }
  // A key the client did not send is a gap unless the host reported it already, or it is a
  // read (`Patient/{{context.patientId}}`) whose resource came under another key name (as in
  // the CDS Hooks spec's own example, which sends the Patient as `patientToGreet`).
  for (const auto& [key, tmpl] : service->prefetch) {
    if (prefetch != nullptr && json::Find(*prefetch, key) != nullptr) continue;
    bool reported = false;
    for (const auto& g : call.unavailable_prefetch) reported = reported || g.key == key;
    for (const auto& g : call.partial_prefetch) reported = reported || g.key == key;
    std::string_view read_type = std::string_view(tmpl).substr(0, tmpl.find('/'));
    bool read_present = tmpl.find('?') == std::string::npos &&
                        tmpl.find('/') != std::string::npos && !index.OfType(read_type).empty();
    if (!reported && !read_present)
      gaps.push_back("prefetch `" + key + "` (" + tmpl + ") was not sent");
  }
  for (const fhir::IndexedResource* oo : index.operation_outcomes()) {
    gaps.push_back("prefetch `" + std::string(oo->origin) +
                   "` returned an OperationOutcome (query failed)");
  }
  if (service->order_sign) {
    if (const rapidjson::Value* drafts = json::Find(*context, "draftOrders");
        drafts != nullptr && drafts->IsObject()) {
      index.Add(*drafts, kDraftOrigin);
    }
  }
  Facts facts = internal::ExtractFacts(k, index, now,
                                       service->order_sign ? kDraftOrigin : std::string_view());
  bool host_gaps = !call.unavailable_prefetch.empty() || !call.partial_prefetch.empty() ||
                   !index.operation_outcomes().empty();
  Evaluation eval(k, std::move(facts), std::string(*patient_id), now_text, std::move(gaps),
                  host_gaps);
  if (service->order_sign)
    eval.OrderSign();
  else
    eval.PatientView();
  return eval.Serialize();
}

}  // namespace cephalgia::rules
