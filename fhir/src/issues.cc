#include "cephalgia/fhir/issues.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace cephalgia::fhir {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInformation:
      return "information";
  }
  return "error";
}

std::string_view IssueCodeName(IssueCode c) {
  switch (c) {
    case IssueCode::kStructure:
      return "structure";
    case IssueCode::kValue:
      return "value";
    case IssueCode::kRequired:
      return "required";
    case IssueCode::kNotFound:
      return "not-found";
    case IssueCode::kTooCostly:
      return "too-costly";
    case IssueCode::kProcessing:
      return "processing";
    case IssueCode::kInformational:
      return "informational";
  }
  return "processing";
}

std::string PathString(const PathNode* node) {
  if (node == nullptr) return {};
  // A root's key is its label; one made by a view with a sink and no path may have an index.
  return ChildPathString(node->parent, node->key, node->index);
}

std::string ChildPathString(const PathNode* parent, std::string_view key, std::size_t index) {
  std::string out = PathString(parent);
  if (!out.empty()) out.push_back('.');
  out.append(key);
  if (index != PathNode::kNoIndex) {
    out.push_back('[');
    out.append(std::to_string(index));
    out.push_back(']');
  }
  return out;
}

const PathNode* IssueSink::NewPathNode(const PathNode* parent, std::string_view key,
                                       std::size_t index) {
  return &path_nodes_.emplace_front(PathNode{parent, std::string(key), index});
}

void IssueSink::Add(Severity severity, IssueCode code, std::string location, std::string message) {
  if (severity == Severity::kError) ++error_count_;
  if (severity == Severity::kWarning) ++warning_count_;
  if (issues_.size() >= max_issues_) {
    ++dropped_;
    return;
  }
  issues_.push_back(Issue{severity, code, std::move(location), std::move(message)});
}

void IssueSink::Clear() {
  issues_.clear();
  error_count_ = warning_count_ = dropped_ = 0;
}

namespace {

rapidjson::Value Str(std::string_view s, rapidjson::Document::AllocatorType& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

rapidjson::Value OutcomeIssue(std::string_view severity, std::string_view code,
                              std::string_view diagnostics, std::string_view location,
                              rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value issue(rapidjson::kObjectType);
  issue.AddMember("severity", Str(severity, alloc), alloc);
  issue.AddMember("code", Str(code, alloc), alloc);
  issue.AddMember("diagnostics", Str(diagnostics, alloc), alloc);
  if (!location.empty()) {
    rapidjson::Value expr(rapidjson::kArrayType);
    expr.PushBack(Str(location, alloc), alloc);
    issue.AddMember("expression", expr, alloc);
  }
  return issue;
}

}  // namespace

void IssueSink::WriteOperationOutcome(rapidjson::Value* out,
                                      rapidjson::Document::AllocatorType& alloc) const {
  out->SetObject();
  out->AddMember("resourceType", "OperationOutcome", alloc);
  rapidjson::Value list(rapidjson::kArrayType);
  for (const Issue& i : issues_) {
    list.PushBack(
        OutcomeIssue(SeverityName(i.severity), IssueCodeName(i.code), i.message, i.location, alloc),
        alloc);
  }
  if (dropped_ > 0) {
    list.PushBack(
        OutcomeIssue("warning", "too-costly",
                     std::to_string(dropped_) + " more issues were not recorded", "", alloc),
        alloc);
  }
  if (list.Empty()) {
    // OperationOutcome.issue is 1..*: say explicitly that nothing was found.
    list.PushBack(OutcomeIssue("information", "informational", "All OK", "", alloc), alloc);
  }
  out->AddMember("issue", list, alloc);
}

std::string IssueSink::ToOperationOutcomeJson() const {
  rapidjson::Document doc;
  WriteOperationOutcome(&doc, doc.GetAllocator());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace cephalgia::fhir
