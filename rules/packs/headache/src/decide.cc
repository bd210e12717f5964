// Facts -> decisions. Everything clinical comes from the compiled knowledge; this file knows the
// order in which decisions are taken and how they constrain each other (knowledge.md §0, §c.0,
// §e.4), not what any rule says.
#include "decide.h"

#include <algorithm>
#include <cmath>

namespace cephalgia::rules::internal {
namespace {

std::string_view TierName(Tier t) { return t == Tier::kEmergency ? "EMERGENCY" : "URGENT"; }

std::string Lowercase(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

class Decider {
 public:
  Decider(const Knowledge& k, const Facts& facts) : k_(k), facts_(facts) {
    criterion_cache_.assign(k_.criteria.size(), -1);
    diagnoses_.assign(k_.diagnoses.size(), 0);
    suggested_.assign(k_.orders.size(), 0);
    // Room for a typical evaluation's trace, so it grows without reallocating.
    out_.gate_trace.reserve(8);
    out_.trace_findings.reserve(128);
    env_.knowledge = &k_;
    env_.facts = &facts_;
    env_.criterion_cache = &criterion_cache_;
    env_.diagnoses = &diagnoses_;
  }

  Decisions PatientView(bool host_reported_gaps) {
    if (!Gate()) return std::move(out_);
    RedFlags(/*emit=*/true);
    bool emergency = env_.max_red_flag_tier >= static_cast<int>(Tier::kEmergency);
    // Under an EMERGENCY red flag the emergency is the message (§c.0, §e.4): the classification
    // is still decided (order-sign needs it) but not shown; likewise the safety cards.
    Classify(!(k_.has_classification_suppress && Eval(k_.classification_suppress, env_)));
    if (!(k_.has_safety_suppress && Eval(k_.safety_suppress, env_))) Safety();
    if (out_.cards.empty() && host_reported_gaps && !emergency) DataIncomplete();
    FilterProposals();
    FoldCautions();
    return std::move(out_);
  }

  Decisions OrderSign() {
    if (!Gate()) return std::move(out_);
    RedFlags(/*emit=*/false);
    Classify(/*emit=*/false);
    for (const DraftOrder& d : facts_.drafts) CheckDraft(d);
    FilterProposals();
    return std::move(out_);
  }

 private:
  // knowledge.md §0: speak only about a current headache.
  bool Gate() {
    out_.gate_open = EvalTraced(k_.relevance.gate, env_, &out_.gate_trace, &out_.trace_findings);
    return out_.gate_open;
  }

  Decision Start(DecisionKind kind, std::string_view id, std::string_view title) const {
    Decision d;
    d.kind = kind;
    d.rule_id = id;
    d.title = title;
    d.trace.reserve(8);
    return d;
  }

  Proposal Create(int order, bool recommended) const {
    Proposal p;
    p.label = k_.orders[order].label;
    p.recommended = recommended;
    ProposedAction a;
    a.order = order;
    a.description = k_.orders[order].create_description;
    p.actions.push_back(std::move(a));
    return p;
  }

  // Keeps text composed for a decision; its views point here.
  std::string_view Compose(std::string text) {
    out_.composed_text.push_front(std::move(text));
    return out_.composed_text.front();
  }

  // ---- red flags -----------------------------------------------------------------------------
  void RedFlags(bool emit) {
    for (const RedFlag& f : k_.red_flags) {
      if (!Eval(f.when, env_)) continue;
      const RedFlagVariant* variant = nullptr;
      for (const RedFlagVariant& v : f.variants) {
        if (Eval(v.when, env_)) {
          variant = &v;
          break;
        }
      }
      // A variant may raise the tier, never lower it: a red flag is never weakened.
      Tier tier = variant != nullptr ? std::max(variant->tier, f.tier) : f.tier;
      env_.max_red_flag_tier = std::max(env_.max_red_flag_tier, static_cast<int>(tier));
      if (!emit) continue;
      const TierDef& td = k_.tiers[static_cast<int>(tier)];
      Decision d = Start(DecisionKind::kRedFlag, f.id, f.title);
      d.tier = TierName(tier);
      d.summary = variant != nullptr ? variant->summary : f.summary;
      d.advice = variant != nullptr && !variant->detail.empty() ? variant->detail : f.detail;
      d.indicator = td.indicator;
      d.priority = td.priority;
      EvalTraced(f.when, env_, &d.trace, &out_.trace_findings);
      if (variant != nullptr) EvalTraced(variant->when, env_, &d.trace, &out_.trace_findings);
      std::vector<int> orders = td.always_orders;
      auto add = [&orders](const std::vector<int>& more) {
        for (int o : more) {
          if (std::find(orders.begin(), orders.end(), o) == orders.end()) orders.push_back(o);
        }
      };
      add(f.orders);
      if (variant != nullptr) add(variant->orders);
      for (int o : orders) d.proposals.push_back(Create(o, true));
      d.citations = f.citations;
      out_.cards.push_back(std::move(d));
    }
  }

  // ---- classification and ladder -------------------------------------------------------------
  void Classify(bool emit) {
    bool any = false;
    for (std::size_t i = 0; i < k_.diagnoses.size(); ++i) {
      const Diagnosis& dx = k_.diagnoses[i];
      bool explicit_dx = Eval(dx.explicit_dx, env_);
      bool criteria = Eval(dx.criteria, env_);
      diagnoses_[i] = (explicit_dx || criteria) ? 1 : 0;
      if (!diagnoses_[i]) continue;
      any = true;
      if (!emit) continue;
      Decision d = Start(DecisionKind::kDiagnosis, dx.id, dx.title);
      d.indicator = k_.classification_indicator;
      d.priority = "routine";
      d.advice = dx.detail;
      // The clinician-coded diagnosis first; the criteria behind a diagnosis made by criteria.
      EvalTraced(dx.explicit_dx, env_, &d.trace, &out_.trace_findings);
      EvalTraced(dx.criteria, env_, &d.trace, &out_.trace_findings);
      std::string_view step_summary = Ladder(dx, &d);
      if (step_summary.empty()) {
        d.summary = dx.summary;
      } else {
        d.summary.reserve(dx.short_name.size() + 2 + step_summary.size());
        d.summary += dx.short_name;
        d.summary += ": ";
        d.summary += step_summary;
      }
      d.citations = dx.citations;
      out_.cards.push_back(std::move(d));
    }
    if (!any && emit && Eval(k_.undetermined.when, env_)) Undetermined();
  }

  void Undetermined() {
    const internal::Undetermined& u = k_.undetermined;
    Decision d = Start(DecisionKind::kUndetermined, u.id, u.title);
    d.summary = u.summary;
    d.advice = u.detail;
    d.indicator = k_.classification_indicator;
    d.priority = "routine";
    for (int f : u.deciding_findings) {
      if (!facts_.findings[f].present && !facts_.findings[f].absent) d.would_decide.push_back(f);
    }
    d.citations = u.citations;
    out_.cards.push_back(std::move(d));
  }

  // Adds the ladder's proposals to `d`; returns the summary of the first step that proposed
  // something ("refer to physiotherapy (step 1)"), or "" when none did.
  std::string_view Ladder(const Diagnosis& dx, Decision* d) {
    const internal::Ladder& ladder = k_.ladders[dx.ladder];
    if (ladder.steps.empty() || Eval(k_.ladder_suppress, env_)) return {};
    std::string_view summary;
    // Alternatives within one step (acetaminophen or an NSAID) are "at most one"; proposals of
    // different steps that apply together can all be taken, so such a card is "any".
    int contributing_steps = 0;
    for (int si : ladder.steps) {
      const LadderStep& st = k_.steps[si];
      if (!Eval(st.when, env_)) continue;
      bool first = true;
      for (int o : st.orders) {
        if (suggested_[o]) continue;  // already on an earlier card
        suggested_[o] = 1;
        d->proposals.push_back(Create(o, !st.alternatives || first));
        first = false;
      }
      if (first) continue;
      ++contributing_steps;
      if (summary.empty()) summary = st.summary;
      if (st.alternatives) d->alternatives = true;
      for (int c : st.citations) {
        if (std::find(d->citations.begin(), d->citations.end(), c) == d->citations.end())
          d->citations.push_back(c);
      }
    }
    if (contributing_steps > 1) d->alternatives = false;
    return summary;
  }

  // ---- safety --------------------------------------------------------------------------------
  void Safety() {
    for (const SafetyCard& s : k_.safety_cards) {
      if (!Eval(s.when, env_)) continue;
      Decision d = Start(DecisionKind::kSafety, s.id, s.title);
      d.summary = s.summary;
      d.advice = s.detail;
      d.indicator = k_.safety_indicator;
      d.priority = "routine";
      EvalTraced(s.when, env_, &d.trace, &out_.trace_findings);
      d.citations = s.citations;
      out_.cards.push_back(std::move(d));
    }
  }

  void DataIncomplete() {
    Decision d = Start(DecisionKind::kDataIncomplete, "data_incomplete", "Patient data incomplete");
    d.summary = "Part of the record could not be read: headache checks may be incomplete";
    d.advice = "No headache card fired, but part of the record was not available.";
    d.indicator = "info";
    d.priority = "routine";
    out_.cards.push_back(std::move(d));
  }

  // ---- order-sign ----------------------------------------------------------------------------
  // ICHD-3 8.2 as it means it: regular use above the class threshold for more than 3 months.
  // The existing use of the class (its longest current course) plus the draft's supply and
  // refills must exceed the rule's sustained days, and the days per month must reach the limit.
  std::optional<std::string> OveruseProblem(const DraftOrder& d, const OrderSignRule& r) const {
    if (d.overuse_class < 0) return std::nullopt;
    const OveruseClass& oc = k_.overuse_classes[d.overuse_class];
    double existing = 0, all = 0;
    int64_t existing_days = 0;
    for (const MedUse& u : facts_.med_uses) {
      if (!u.current || u.overuse_class < 0 || !u.days_per_month) continue;
      all += *u.days_per_month;
      if (u.overuse_class == d.overuse_class) existing += *u.days_per_month;
      if (u.duration_days) existing_days = std::max(existing_days, *u.duration_days);
    }
    double add = d.days_per_month.value_or(0);
    double projected = std::min(30.0, existing + add);
    double projected_all = std::min(30.0, all + add);
    if (projected < oc.min_days_per_month && projected_all < k_.overuse_combined_days)
      return std::nullopt;
    double supply = d.supply_days.value_or(static_cast<double>(r.assumed_supply_days));
    if (r.sustained_days > 0 && static_cast<double>(existing_days) + supply <= r.sustained_days)
      return std::nullopt;
    auto num = [](double v) { return std::to_string(static_cast<long long>(std::lround(v))); };
    return "about " + num(projected) + " days a month of " + oc.display + " (limit " +
           num(oc.min_days_per_month) + ") for about " +
           num(static_cast<double>(existing_days) + supply) + " days";
  }

  // One card per draft order: every rule that applies adds its problem; the first one gives the
  // card its rule id, summary and advice, the highest indicator wins (issue 12 "one card per
  // decision").
  void CheckDraft(const DraftOrder& draft) {
    Decision d;
    bool any = false;
    bool delete_draft = false, propose_ladder = false;
    for (const OrderSignRule& r : k_.order_sign_rules) {
      if (r.draft_value_set >= 0 && std::find(draft.value_sets.begin(), draft.value_sets.end(),
                                              r.draft_value_set) == draft.value_sets.end()) {
        continue;
      }
      std::string why;
      if (r.draft_overuse) {
        std::optional<std::string> p = OveruseProblem(draft, r);
        if (!p) continue;
        why = *p;
      }
      if (r.has_when && !Eval(r.when, env_)) continue;
      if (!any) {
        d = Start(DecisionKind::kOrderSign, r.id, r.title);
        d.summary = r.summary;
        d.advice = r.detail;
        d.indicator = r.indicator;
        d.priority = "routine";
        d.draft_ref = draft.ref;
        d.draft_name = draft.name;
        any = true;
      } else if (Rank(r.indicator) > Rank(d.indicator)) {
        d.indicator = r.indicator;
      }
      d.problems.push_back(why.empty() ? r.title : r.title + ": " + why);
      if (r.has_when) EvalTraced(r.when, env_, &d.trace, &out_.trace_findings);
      delete_draft = delete_draft || r.delete_draft;
      propose_ladder = propose_ladder || r.propose_ladder;
      for (int c : r.citations) {
        if (std::find(d.citations.begin(), d.citations.end(), c) == d.citations.end())
          d.citations.push_back(c);
      }
    }
    if (!any) return;
    ProposedAction del;
    bool can_delete = delete_draft && !draft.ref.empty();
    if (can_delete) {
      del.is_delete = true;
      del.resource_id = draft.ref;
      del.description = Compose("Remove the draft order " + draft.name);
    }
    std::vector<int> replacements = propose_ladder ? CurrentLadderOrders() : std::vector<int>{};
    for (int o : replacements) {
      Proposal p;
      p.label = Compose((can_delete ? "Replace with: " : "Instead: ") + k_.orders[o].label);
      p.recommended = d.proposals.empty();
      if (can_delete) p.actions.push_back(del);
      ProposedAction a;
      a.order = o;
      a.description = k_.orders[o].label;
      p.actions.push_back(std::move(a));
      d.proposals.push_back(std::move(p));
    }
    if (replacements.empty() && can_delete) {
      Proposal p;
      p.label = Compose("Remove the draft " + draft.name);
      p.actions.push_back(del);
      d.proposals.push_back(std::move(p));
    }
    if (d.proposals.size() > 1) d.alternatives = true;
    out_.cards.push_back(std::move(d));
  }

  static int Rank(std::string_view indicator) {
    return indicator == "critical" ? 2 : indicator == "warning" ? 1 : 0;
  }

  // Orders of the ladder steps that apply now (the diagnoses' ladders, else the first ladder).
  std::vector<int> CurrentLadderOrders() {
    if (Eval(k_.ladder_suppress, env_)) return {};
    std::vector<int> ladders;
    for (std::size_t i = 0; i < k_.diagnoses.size(); ++i) {
      if (diagnoses_[i]) ladders.push_back(k_.diagnoses[i].ladder);
    }
    if (ladders.empty() && !k_.ladders.empty()) ladders.push_back(0);
    std::vector<int> out;
    for (int l : ladders) {
      for (int si : k_.ladders[l].steps) {
        const LadderStep& st = k_.steps[si];
        if (!Eval(st.when, env_)) continue;
        for (int o : st.orders) {
          if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
        }
      }
    }
    return out;
  }

  // ---- the final safety filter ---------------------------------------------------------------
  // Defence in depth: whatever the knowledge proposed, no proposal may create a restricted order
  // (manipulation, opioids, imaging without a red flag, contraindicated drugs) or something the
  // patient already has active. It acts on decisions; the renderer says what was held back.
  std::optional<std::string_view> Blocked(int order) {
    const OrderDef& o = k_.orders[order];
    // The restrictions whose value set holds the order's code (OrderDef::restricted_by).
    for (int ri : o.restricted_by) {
      const Restriction& r = k_.restrictions[ri];
      bool applies = true;
      if (r.has_when) applies = Eval(r.when, env_);
      if (applies && r.has_unless) applies = !Eval(r.unless, env_);
      if (applies) return r.reason;
    }
    if (o.active_value_set >= 0 && facts_.active_value_sets[o.active_value_set])
      return "already active for this patient";
    if (facts_.active_codes.count(o.active_code_key)) return "already active for this patient";
    return std::nullopt;
  }

  void FilterProposals() {
    for (Decision& d : out_.cards) {
      std::vector<Proposal> kept;
      for (Proposal& p : d.proposals) {
        std::vector<ProposedAction> actions;
        bool dropped_create = false;
        for (ProposedAction& a : p.actions) {
          if (!a.is_delete) {
            if (auto why = Blocked(a.order)) {
              d.not_suggested.push_back({k_.orders[a.order].label, *why});
              dropped_create = true;
              continue;
            }
          }
          actions.push_back(std::move(a));
        }
        // A replacement whose create action was blocked is dropped whole; a plain delete stays.
        if (actions.empty() || (dropped_create && actions.size() == 1 && actions[0].is_delete &&
                                p.actions.size() > 1)) {
          continue;
        }
        p.actions = std::move(actions);
        kept.push_back(std::move(p));
      }
      if (!kept.empty() &&
          std::none_of(kept.begin(), kept.end(), [](const Proposal& p) { return p.recommended; })) {
        kept[0].recommended = true;
      }
      if (kept.size() <= 1) d.alternatives = false;
      d.proposals = std::move(kept);
    }
  }

  // A safety caution that belongs to a suggestion (no manipulation -> the physiotherapy
  // referral) goes into that suggestion's note; its card is dropped. Without that suggestion the
  // card stays.
  void FoldCautions() {
    std::vector<bool> folded(out_.cards.size(), false);
    for (std::size_t i = 0; i < out_.cards.size(); ++i) {
      const Decision& d = out_.cards[i];
      if (d.kind != DecisionKind::kSafety) continue;
      const SafetyCard* s = nullptr;
      for (const SafetyCard& sc : k_.safety_cards) {
        if (sc.id == d.rule_id) s = &sc;
      }
      Proposal* host =
          s != nullptr && s->fold_into_order >= 0 ? FindProposal(s->fold_into_order) : nullptr;
      if (host == nullptr) continue;
      std::string reasons;
      for (const TraceLine& line : d.trace) {
        if (!line.met || !line.has_findings() || line.label == d.title) continue;
        if (!reasons.empty()) reasons += ", ";
        reasons += Lowercase(std::string(line.label));
      }
      host->cautions.push_back(d.summary +
                               (reasons.empty() ? std::string() : " (" + reasons + ")") + ".");
      folded[i] = true;
    }
    std::vector<Decision> kept;
    for (std::size_t i = 0; i < out_.cards.size(); ++i) {
      if (!folded[i]) kept.push_back(std::move(out_.cards[i]));
    }
    out_.cards = std::move(kept);
  }

  Proposal* FindProposal(int order) {
    for (Decision& d : out_.cards) {
      for (Proposal& p : d.proposals) {
        for (const ProposedAction& a : p.actions) {
          if (!a.is_delete && a.order == order) return &p;
        }
      }
    }
    return nullptr;
  }

  const Knowledge& k_;
  const Facts& facts_;
  std::vector<int8_t> criterion_cache_;
  std::vector<int8_t> diagnoses_;
  EvalEnv env_;
  std::vector<char> suggested_;  // per order: proposed on an earlier card
  Decisions out_;
};

}  // namespace

Decisions DecidePatientView(const Knowledge& k, const Facts& facts, bool host_reported_gaps) {
  return Decider(k, facts).PatientView(host_reported_gaps);
}

Decisions DecideOrderSign(const Knowledge& k, const Facts& facts) {
  return Decider(k, facts).OrderSign();
}

}  // namespace cephalgia::rules::internal
