// File: issues.h
//
// IssueSink: where the FHIR reading layer reports *bad data* (after google/fhir's ErrorReporter).
// A malformed patient record is not a failure of our code: accessors report what is wrong, with a
// FHIR element path, and return nullopt/empty, so one bad Observation never hides the rest of the
// record and nothing throws or crashes. Internal failures stay `Status` values.
//
//   IssueSink sink;
//   ObservationView obs(json, &sink);
//   std::optional<double> v = obs.value().quantity()->value();   // wrong type -> issue, nullopt
//   for (const Issue& i : sink.issues()) LOG(i.location + ": " + i.message);
//   std::string outcome = sink.ToOperationOutcomeJson();          // FHIR OperationOutcome
//
// Severity policy used across cephalgia::fhir:
//   kError       the data violates FHIR R4 (wrong JSON type, unparseable date, unknown status code,
//                non-object entry, missing resourceType). The element is treated as absent.
//   kWarning     tolerated but lossy (dateTime without a time-zone offset, unresolvable reference,
//                an OperationOutcome returned by a server in place of data).
//   kInformation notes (server informational outcomes).
// Valid FHIR never produces kError (the Synthea test corpus checks this).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <forward_list>
#include <string>
#include <string_view>
#include <vector>

namespace cephalgia::fhir {

enum class Severity { kError, kWarning, kInformation };

// OperationOutcome.issue.code (http://hl7.org/fhir/issue-type), the subset we emit.
enum class IssueCode {
  kStructure,      // wrong JSON type / shape ("structure")
  kValue,          // a primitive with an invalid value: bad date, bad code ("value")
  kRequired,       // a required element is missing, e.g. resourceType ("required")
  kNotFound,       // a reference that does not resolve ("not-found")
  kTooCostly,      // nesting or size limit hit ("too-costly")
  kProcessing,     // anything else, e.g. a server-side OperationOutcome ("processing")
  kInformational,  // "informational"
};

std::string_view SeverityName(Severity s);    // "error" | "warning" | "information"
std::string_view IssueCodeName(IssueCode c);  // FHIR issue-type code

struct Issue {
  Severity severity = Severity::kError;
  IssueCode code = IssueCode::kProcessing;
  // FHIR element path of the offending element, e.g. `Observation.valueQuantity.value` or
  // `Bundle.entry[3].resource.code`, or `<origin>.entry[3]...` when the index was given an
  // origin label (see ResourceIndex::Add).
  std::string location;
  std::string message;
};

// One step of an element's FHIR path, kept so that a view builds its path string only when it
// reports an issue: the parent's path plus `.key` or `.key[index]`. A root (no parent) holds its
// whole label in `key` ("Observation", "Bundle.entry[3].resource"). Nodes are made and owned by
// the IssueSink that will hear the issues (IssueSink::ExtendPath); a view without a sink has none.
struct PathNode {
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  const PathNode* parent = nullptr;
  std::string key;
  std::size_t index = kNoIndex;
};

// The path string of `node`: "" for nullptr; a child appends ".key" (just "key" after an empty
// path) and then "[index]" when it has one.
std::string PathString(const PathNode* node);
// PathString(parent) extended by key (and [index]), without making a node.
std::string ChildPathString(const PathNode* parent, std::string_view key,
                            std::size_t index = PathNode::kNoIndex);

// Collects issues. Not thread-safe: use one sink per request (or per thread).
// Stores at most `max_issues` (default 1000); further issues are only counted, so a huge
// garbage input cannot grow memory without bound.
class IssueSink {
 public:
  static constexpr std::size_t kDefaultMaxIssues = 1000;

  IssueSink() = default;
  explicit IssueSink(std::size_t max_issues) : max_issues_(max_issues) {}

  void Add(Severity severity, IssueCode code, std::string location, std::string message);
  void Error(IssueCode code, std::string location, std::string message) {
    Add(Severity::kError, code, std::move(location), std::move(message));
  }
  void Warning(IssueCode code, std::string location, std::string message) {
    Add(Severity::kWarning, code, std::move(location), std::move(message));
  }
  void Info(std::string location, std::string message) {
    Add(Severity::kInformation, IssueCode::kInformational, std::move(location), std::move(message));
  }

  // A path node `parent` + key (+ [index]), or a root labelled `key` when parent is null; null
  // when sink is null (nobody hears that view's issues, so it has no path). The node lives as
  // long as the sink (Clear keeps it), so a view, which must not outlive the sink it reports
  // into, never refers to a node that died before it, whatever happens to the view that made it.
  static const PathNode* ExtendPath(IssueSink* sink, const PathNode* parent, std::string_view key,
                                    std::size_t index = PathNode::kNoIndex) {
    // Inline, so that a view without a sink (the evaluation path) pays one test, no call.
    if (sink == nullptr) return nullptr;
    return sink->NewPathNode(parent, key, index);
  }

  const std::vector<Issue>& issues() const { return issues_; }
  std::size_t error_count() const { return error_count_; }
  std::size_t warning_count() const { return warning_count_; }
  bool has_errors() const { return error_count_ > 0; }
  bool empty() const { return issues_.empty() && dropped_ == 0; }
  std::size_t dropped() const { return dropped_; }  // issues counted but not stored
  void Clear();

  // A FHIR R4 OperationOutcome: one issue per stored issue, with severity, code, diagnostics
  // (the message) and expression [location]. With no issues it holds a single informational
  // "All OK" issue, since OperationOutcome.issue is 1..*.
  void WriteOperationOutcome(rapidjson::Value* out,
                             rapidjson::Document::AllocatorType& alloc) const;
  std::string ToOperationOutcomeJson() const;

 private:
  const PathNode* NewPathNode(const PathNode* parent, std::string_view key, std::size_t index);

  std::vector<Issue> issues_;
  // Nodes never move while more are added (views point at them), and an empty list allocates
  // nothing (a sink is made per evaluation, most never make a node).
  std::forward_list<PathNode> path_nodes_;
  std::size_t max_issues_ = kDefaultMaxIssues;
  std::size_t error_count_ = 0;
  std::size_t warning_count_ = 0;
  std::size_t dropped_ = 0;
};

}  // namespace cephalgia::fhir
