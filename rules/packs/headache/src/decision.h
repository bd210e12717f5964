// File: decision.h (private)
//
// What the engine decided, as plain values, before anything is written for a clinician. The
// engine (decide.cc) produces decisions, the safety filter acts on decisions, and one renderer
// (render.cc) turns them into CDS Hooks cards and the evidence extension (issue 12 item 5:
// decide, then render).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "expr.h"

namespace cephalgia::rules::internal {

struct Knowledge;
struct Facts;

enum class DecisionKind {
  kRedFlag,
  kDiagnosis,
  kUndetermined,
  kSafety,
  kOrderSign,
  kDataIncomplete
};

// The views below point into the Knowledge, the Facts (which outlive the decisions) or
// Decisions::composed_text: decisions copy no text that already exists.
struct ProposedAction {
  bool is_delete = false;
  int order = -1;                // create: index into Knowledge::orders
  std::string_view resource_id;  // delete: "MedicationRequest/abc"
  std::string_view description;
};

struct Proposal {
  std::string_view label;
  bool recommended = true;
  std::vector<ProposedAction> actions;
  std::vector<std::string> cautions;  // added to the created resource's note
};

struct NotSuggested {
  std::string_view label;   // the order's label
  std::string_view reason;  // why the safety filter held it back
};

struct Decision {
  DecisionKind kind = DecisionKind::kRedFlag;
  std::string_view rule_id, title;
  std::string summary;            // what to do, <= 100 characters
  std::string_view advice;        // one or two sentences of guidance
  std::string_view indicator;     // info | warning | critical
  std::string_view priority;      // of created orders: routine | urgent | stat
  std::string_view tier;          // red flags: "URGENT" | "EMERGENCY"; else empty
  std::vector<TraceLine> trace;   // every labelled criterion, met or not, with its findings
  std::vector<int> would_decide;  // undetermined: findings that would decide the diagnosis
  std::vector<Proposal> proposals;
  bool alternatives = false;  // "at-most-one" among the proposals
  std::vector<NotSuggested> not_suggested;
  std::vector<std::string> problems;  // order-sign: everything wrong with the draft
  std::string_view draft_ref, draft_name;
  std::vector<int> citations;
};

// A prefetch key the service could not have in full, with the host's technical reason (for the
// log and the extension; clinicians read the plain sentence of manifest.json `prefetchGaps`).
struct DataGap {
  std::string key;
  std::string technical;
  bool reported_by_host = false;  // unavailable/partial, as opposed to simply not sent
};

}  // namespace cephalgia::rules::internal
